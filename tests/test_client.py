"""Events as ``Client.capture`` builds them: shape, context, sessions, refusals, consent."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import logging
import math
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from posthog_client import Client, InvalidDistinctIdError, InvalidEventError

MakeClient = Callable[..., Client]
Sent = Callable[[Client], list[dict[str, Any]]]


def test_w2_w10_every_event_carries_the_documented_fields(client: Client, sent: Sent) -> None:
    event_uuid = client.capture("file_opened", {"size_kb": 12})
    (event,) = sent(client)
    assert set(event) == {"event", "distinct_id", "properties", "timestamp", "uuid"}
    assert event["uuid"] == event_uuid
    assert uuid.UUID(event_uuid).version == 7
    assert event["distinct_id"] == client.get_distinct_id()
    stamp = dt.datetime.fromisoformat(event["timestamp"])
    assert stamp.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.timezone.utc) - stamp).total_seconds()) < 60
    props = event["properties"]
    assert props["size_kb"] == 12
    assert props["$lib"] == "posthog-client-python"
    assert props["$lib_version"]
    assert props["$session_id"] == client.get_session_id()
    assert props["$device_id"] == client.get_device_id()
    assert props["$is_identified"] is False
    assert props["$process_person_profile"] is False
    assert props["$os"] and props["$python_version"] and props["$python_runtime"]
    assert "$is_server" not in props  # W11: desktop events never claim to be server-side
    assert "$geoip_disable" not in props  # W12: geoip stays on for client SDKs


def test_w3_caller_uuid_is_kept_when_valid_and_replaced_when_not(
    client: Client, sent: Sent
) -> None:
    given = uuid.uuid4()
    assert client.capture("a", uuid=given) == str(given)
    replaced = client.capture("b", uuid="not-a-uuid")
    assert replaced and uuid.UUID(replaced).version == 7
    assert [e["uuid"] for e in sent(client)] == [str(given), replaced]


def test_w4_caller_timestamp_is_converted_to_utc(client: Client, sent: Sent) -> None:
    tz = dt.timezone(dt.timedelta(hours=5, minutes=30))
    client.capture("a", timestamp=dt.datetime(2026, 1, 1, 12, 0, tzinfo=tz))
    assert sent(client)[0]["timestamp"] == "2026-01-01T06:30:00.000000+00:00"


def test_explicit_distinct_id_wins(client: Client, sent: Sent) -> None:
    client.capture("job_done", distinct_id="user_7")
    event = sent(client)[0]
    assert event["distinct_id"] == "user_7"
    assert event["properties"]["$process_person_profile"] is True
    assert client.get_distinct_id() != "user_7"


@pytest.mark.parametrize("bad_id", ["", "  ", "\t"])
def test_w14_explicit_empty_distinct_id_refuses_the_event(
    client: Client, sent: Sent, caplog: pytest.LogCaptureFixture, bad_id: str
) -> None:
    assert client.capture("x", distinct_id=bad_id) is None
    assert sent(client) == []
    assert "no distinct id" in caplog.text
    assert client.stats()["dropped_invalid_distinct_id"] == 1


@pytest.mark.parametrize("name", ["", "   ", None, 3])
def test_w14_empty_event_name_is_refused(
    client: Client, sent: Sent, caplog: pytest.LogCaptureFixture, name: Any
) -> None:
    assert client.capture(name) is None
    assert sent(client) == []
    assert "event name" in caplog.text


def test_strict_mode_raises_on_bad_events(make_client: MakeClient) -> None:
    strict = make_client(strict=True)
    with pytest.raises(InvalidEventError):
        strict.capture("")
    with pytest.raises(InvalidDistinctIdError):
        strict.capture("x", distinct_id=" ")
    with pytest.raises(InvalidEventError, match="sent as its repr"):
        strict.capture("x", {"bad": object()})


def test_v6_illegal_ids_are_sent_for_plain_capture_with_a_warning(
    client: Client, sent: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    client.capture("x", distinct_id="anonymous")
    assert sent(client)[0]["distinct_id"] == "anonymous"
    assert "never merge" in caplog.text


def test_oversized_event_is_refused_not_queued(
    client: Client, sent: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    assert client.capture("huge", {"blob": "x" * (1024 * 1024)}) is None
    assert client.capture("small") is not None
    assert [e["event"] for e in sent(client)] == ["small"]
    assert client.stats()["dropped_oversize"] == 1
    assert "over" in caplog.text


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    y: int


def test_non_json_values_are_converted_predictably(client: Client, sent: Sent) -> None:
    client.capture(
        "x",
        {
            "when": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
            "day": dt.date(2026, 1, 2),
            "price": decimal.Decimal("1.50"),
            "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
            "tags": {"b", "a"},
            "pair": (1, 2),
            "raw": b"bytes",
            "color": Color.RED,
            "point": Point(1, 2),
            "path": Path("/tmp/x"),
        },
    )
    props = sent(client)[0]["properties"]
    assert props["when"] == "2026-01-02T03:04:05+00:00"
    assert props["day"] == "2026-01-02"
    assert props["price"] == 1.5
    assert props["id"] == "12345678-1234-5678-1234-567812345678"
    assert props["tags"] == ["a", "b"]
    assert props["pair"] == [1, 2]
    assert props["raw"] == "bytes"
    assert props["color"] == "red"
    assert props["point"] == {"x": 1, "y": 2}
    assert props["path"] == "/tmp/x"


def test_a_bad_property_never_drops_the_event(
    client: Client, sent: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    client.capture("x", {"obj": object(), "nan": math.nan, "loop": loop, (1, 2): "tuple key"})
    props = sent(client)[0]["properties"]
    assert props["obj"].startswith("<object object")
    assert props["nan"] is None
    assert props["loop"] == {"self": "<circular reference>"}
    assert props["(1, 2)"] == "tuple key"
    assert "obj has type object" in caplog.text


def test_se1_session_id_is_a_uuid7_and_a_callers_one_is_kept(client: Client, sent: Sent) -> None:
    session = client.get_session_id()
    assert uuid.UUID(session).version == 7
    client.capture("a", {"$session_id": "custom"})
    client.capture("b", {"$session_id": ""})
    assert [e["properties"]["$session_id"] for e in sent(client)] == ["custom", session]


def test_se2_session_rotates_after_30_idle_minutes(client: Client, sent: Sent, clock: Any) -> None:
    client.capture("a")
    clock.advance(29 * 60)
    client.capture("b")
    clock.advance(29 * 60)  # activity in between kept it alive
    client.capture("c")
    clock.advance(30 * 60 + 1)
    client.capture("d")
    sessions = [e["properties"]["$session_id"] for e in sent(client)]
    assert sessions[0] == sessions[1] == sessions[2] != sessions[3]


def test_se2_idle_timeout_is_configurable(make_client: MakeClient, sent: Sent, clock: Any) -> None:
    client = make_client(session_idle_timeout_s=60)
    client.capture("a")
    clock.advance(61)
    client.capture("b")
    first, second = (e["properties"]["$session_id"] for e in sent(client))
    assert first != second


def test_se3_session_ends_after_24_hours_even_if_active(
    client: Client, sent: Sent, clock: Any
) -> None:
    client.capture("start")
    for _ in range(50):
        clock.advance(29 * 60)
        client.capture("tick")
    sessions = [e["properties"]["$session_id"] for e in sent(client)]
    assert len(set(sessions)) == 2
    assert sessions.index(sessions[-1]) == 50  # 49 × 29 min ≤ 24 h < 50 × 29 min


def test_se4_reading_the_session_id_does_not_extend_it(client: Client, clock: Any) -> None:
    session = client.get_session_id()
    client.capture("a")
    clock.advance(20 * 60)
    assert client.get_session_id() == session
    clock.advance(11 * 60)
    assert client.get_session_id() != session


def test_se6_session_is_shared_across_processes_through_disk(
    make_client: MakeClient, clock: Any
) -> None:
    first = make_client()
    first.capture("a")
    clock.advance(20 * 60)
    first.capture("b")  # activity older than a minute is written for other processes
    clock.advance(20 * 60)
    assert make_client().get_session_id() == first.get_session_id()


def test_opt_out_stops_sending_and_persists(make_client: MakeClient, sent: Sent) -> None:
    client = make_client()
    client.capture("before")
    client.flush()
    client.opt_out()
    assert client.capture("after") is None
    assert client.identify("user_1")  # local identity still follows the app (R36)
    assert [e["event"] for e in sent(client)] == ["before"]
    again = make_client()
    assert again.has_opted_out()
    again.opt_in()
    assert make_client().has_opted_out() is False
    assert again.capture("back") is not None


def test_opt_out_by_another_process_applies_within_a_second(
    make_client: MakeClient, sent: Sent
) -> None:
    running = make_client()
    running.capture("before")
    running.flush()
    make_client().opt_out()
    running._next_check_ms = 0  # the recheck interval has passed
    assert running.capture("after") is None
    assert [e["event"] for e in sent(running)] == ["before"]


@pytest.mark.parametrize("variable", ["DO_NOT_TRACK", "POSTHOG_CLIENT_DISABLED"])
@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_a19_environment_opt_out_writes_nothing(
    make_client: MakeClient,
    storage_dir: Path,
    sent: Sent,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    variable: str,
    value: str,
) -> None:
    monkeypatch.setenv(variable, value)
    client = make_client()
    assert client.has_opted_out()
    assert client.capture("x") is None
    client.identify("user_1")
    client.register({"a": 1})
    client.opt_in()
    assert client.has_opted_out()
    assert variable in caplog.text
    client.opt_out()
    assert sent(client) == []
    assert not storage_dir.exists()


@pytest.mark.parametrize("value", ["", "0", "false", "FALSE"])
def test_a19_falsy_do_not_track_values_do_not_opt_out(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("DO_NOT_TRACK", value)
    assert not make_client().has_opted_out()


def test_disabled_option_sends_nothing(make_client: MakeClient, storage_dir: Path) -> None:
    client = make_client(disabled=True)
    assert client.capture("x") is None
    assert not storage_dir.exists()


def test_capture_after_shutdown_is_dropped(client: Client, sent: Sent) -> None:
    client.capture("a")
    client.shutdown()
    client.shutdown()  # idempotent
    assert client.capture("b") is None


def test_client_is_a_context_manager(make_client: MakeClient, backend: Any) -> None:
    with make_client() as client:
        client.capture("inside")
    assert [e["event"] for e in backend.events] == ["inside"]
    assert backend.closed


def test_internal_errors_never_reach_the_host(
    client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("posthog_client._client.encode_event", explode)
    with caplog.at_level(logging.ERROR, logger="posthog_client"):
        assert client.capture("x") is None
    assert "internal error in capture" in caplog.text


def test_system_context_is_computed_once(client: Client) -> None:
    from posthog_client._events.runtime import system_context

    assert system_context() is system_context()


def test_capture_exception_describes_the_error(client: Client, sent: Sent) -> None:
    try:
        raise ValueError("bad value")
    except ValueError:
        client.capture_exception()
    props = sent(client)[0]["properties"]
    assert sent(client)[0]["event"] == "$exception"
    assert props["$exception_type"] == "ValueError"
    (entry,) = props["$exception_list"]
    assert entry["value"] == "bad value"
    assert entry["mechanism"]["handled"] is True
    assert entry["stacktrace"]["frames"][-1]["function"] == (
        "test_capture_exception_describes_the_error"
    )
