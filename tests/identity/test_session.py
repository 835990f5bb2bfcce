"""Sessions shared by an app's processes (SE1–SE6, A6), as posthog-js shares them between tabs.

The cases follow posthog-js's own cross-tab tests (``packages/browser/src/__tests__/
sessionid.test.ts``: "activity timestamp persistence granularity", the cross-tab refresh and
flush cases), with clients sharing one storage dir as the tabs and a fake clock, never sleeps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from posthog_client import Client
from posthog_client._identity.session import ACTIVITY_PERSIST_MS

MakeClient = Callable[..., Client]
MINUTE = 60.0


def session_of(client: Client) -> str:
    """The session id of the last event ``client`` sent."""
    client.flush(5)
    events: list[dict[str, Any]] = client.options.backend.events  # type: ignore[union-attr]
    session: str = events[-1]["properties"]["$session_id"]
    return session


def siblings(make_client: MakeClient) -> tuple[Client, Client]:
    """Two processes of one app, both active at the start."""
    a, b = make_client(), make_client()
    a.capture("start")
    b.capture("start")
    return a, b


def activity_ms(storage_dir: Path) -> int:
    """The session's last activity as the other processes see it."""
    (project,) = storage_dir.iterdir()
    return os.stat(project / "session.activity").st_mtime_ns // 1_000_000


# -- what another process sees ----------------------------------------------------------------


def test_an_idle_process_continues_the_session_a_sibling_kept_alive(
    make_client: MakeClient, clock: Any
) -> None:
    a, b = siblings(make_client)
    shared = session_of(a)
    for _ in range(4):  # A is used for 40 minutes while B sits idle
        clock.advance(10 * MINUTE)
        a.capture("work")
    clock.advance(10)
    b.capture("back")  # idle for 40 min, but A was active 10 s ago
    assert session_of(b) == session_of(a) == shared


def test_a_siblings_activity_is_seen_within_five_seconds(
    make_client: MakeClient, clock: Any
) -> None:
    a, b = siblings(make_client)
    clock.advance(30)
    a.capture("work")  # 30 s after A's first write: written for B
    clock.advance(30 * MINUTE - 20)
    b.capture("back")  # 30 min 10 s after B's own event, 29 min 40 s after A's
    assert session_of(b) == session_of(a)


def test_a_sibling_active_within_the_last_five_seconds_still_counts(
    make_client: MakeClient, clock: Any
) -> None:
    a, b = siblings(make_client)
    clock.advance(29 * MINUTE)
    a.capture("work")  # written: the last write is 29 min old
    clock.advance(4)
    a.capture("work")  # within 5 s of the last write: kept in memory
    clock.advance(MINUTE + 10)
    b.capture("back")  # 30 min 14 s after its own event, 1 min 14 s after A's last write
    assert session_of(b) == session_of(a)


def test_when_every_process_was_idle_the_first_event_starts_one_new_session(
    make_client: MakeClient, clock: Any
) -> None:
    a, b = siblings(make_client)
    old = session_of(a)
    clock.advance(30 * MINUTE + 1)
    b.capture("back")
    clock.advance(1)
    a.capture("back")  # adopts B's new session rather than starting a third one
    assert session_of(a) == session_of(b) != old


def test_a_process_adopts_the_session_a_sibling_started_after_reset(
    make_client: MakeClient, clock: Any
) -> None:
    a, b = siblings(make_client)
    old = session_of(b)
    a.reset()
    a.capture("new_user")
    clock.advance(2)  # another process's change is seen within a second
    b.capture("next")
    assert session_of(b) == session_of(a) != old


def test_se4_reading_in_another_process_does_not_extend_the_session(
    make_client: MakeClient, clock: Any
) -> None:
    a, b = make_client(), make_client()
    a.capture("start")
    old = session_of(a)
    clock.advance(20 * MINUTE)
    assert b.get_session_id() == old
    clock.advance(11 * MINUTE)
    a.capture("later")  # 31 min after the last event: B's read did not count
    assert session_of(a) != old


def test_after_the_idle_timeout_reading_gives_the_id_the_next_event_carries(
    make_client: MakeClient, clock: Any
) -> None:
    a, b = make_client(), make_client()
    a.capture("start")
    old = session_of(a)
    clock.advance(31 * MINUTE)
    read = a.get_session_id()
    assert read != old  # never an expired id, e.g. in tracing headers
    assert b.get_session_id() == read  # the new session is shared at once
    a.capture("next")
    assert session_of(a) == read


# -- writing activity: at most every 5 s, and at shutdown ---------------------------------------


def test_activity_is_written_at_first_then_at_most_every_five_seconds(
    client: Client, storage_dir: Path, clock: Any
) -> None:
    client.capture("first")
    start = clock.ms
    assert activity_ms(storage_dir) == start
    for _ in range(4):  # +1 s each: none crosses 5 s on its own, nor in total yet
        clock.advance(1)
        client.capture("tick")
    assert activity_ms(storage_dir) == start
    clock.advance(1)  # 5 s since the last write, not since the last event
    client.capture("tick")
    assert activity_ms(storage_dir) == start + ACTIVITY_PERSIST_MS


def test_own_unwritten_activity_keeps_the_session_alive(client: Client, clock: Any) -> None:
    client.capture("first")
    old = session_of(client)
    clock.advance(4.999)
    client.capture("unwritten")  # kept in memory only
    clock.advance(30 * MINUTE - 0.001)
    client.capture("last")  # 30 min after the unwritten event: still the same session
    assert session_of(client) == old


def test_a_short_idle_timeout_ends_the_session_between_writes_of_activity(
    make_client: MakeClient, clock: Any
) -> None:
    client = make_client(session_idle_timeout_s=2)  # shorter than the 5 s between writes
    client.capture("first")
    clock.advance(1.5)
    client.capture("tick")  # within 2 s: the same session
    first = session_of(client)
    clock.advance(2.5)  # a pause longer than the timeout, 4 s after the last write
    client.capture("after a pause")
    assert session_of(client) != first


def test_shutdown_writes_the_last_activity(client: Client, storage_dir: Path, clock: Any) -> None:
    client.capture("first")
    clock.advance(4)
    client.capture("last")
    client.shutdown(0)
    assert activity_ms(storage_dir) == clock.ms


def test_shutdown_never_clobbers_a_session_a_sibling_started(
    make_client: MakeClient, storage_dir: Path, clock: Any
) -> None:
    a, b = make_client(), make_client()
    a.capture("first")
    clock.advance(0.2)
    b.reset()
    b.capture("new_session")  # B starts another session
    sibling_activity = clock.ms
    clock.advance(0.3)
    a.capture("unwritten")  # A has not looked at the disk again yet: still the old session
    a.shutdown(0)
    assert activity_ms(storage_dir) == sibling_activity


def test_a_run_that_exits_at_t_and_one_started_at_t_plus_29_min_share_the_session(
    make_client: MakeClient, clock: Any
) -> None:
    first_run = make_client()
    first_run.capture("start")
    clock.advance(3)
    first_run.capture("last")  # within 5 s of the first write: only shutdown writes it
    session = session_of(first_run)
    first_run.shutdown()
    clock.advance(29 * MINUTE + 58)  # 30 min 1 s after "start", 29 min 58 s after "last"
    second_run = make_client()
    second_run.capture("next")
    assert session_of(second_run) == session


_RUN = textwrap.dedent(
    """
    import datetime as dt, json, sys
    import posthog_client._client
    from posthog_client import Client
    from posthog_client.testing import MemoryBackend

    def now():  # this run's clock: the time it is given
        ms = int(sys.argv[2])
        return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).isoformat(), ms

    posthog_client._client.now_timestamp = now
    backend = MemoryBackend()
    client = Client("phc_test_key", storage_dir=sys.argv[1], backend=backend)
    client.capture("run")
    client.flush(5)
    print(json.dumps(backend.events[-1]["properties"]["$session_id"]))
    # no shutdown(): the interpreter's exit must write the last activity
    """
)


def test_a_real_process_writes_its_last_activity_when_it_exits(
    storage_dir: Path, clock: Any, make_client: MakeClient
) -> None:
    def run(at_ms: int) -> str:
        done = subprocess.run(
            [sys.executable, "-c", _RUN, str(storage_dir), str(at_ms)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        session: str = json.loads(done.stdout)
        return session

    first = run(clock.ms)
    last = run(clock.ms + 3_000)  # written only at exit (within 5 s of the first write)
    assert last == first
    clock.advance(3 + 29 * MINUTE + 58)  # 29 min 58 s after the last run exited
    later = make_client()
    later.capture("next")
    assert session_of(later) == first
