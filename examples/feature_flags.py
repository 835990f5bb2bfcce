"""A CLI that gates a feature on a flag, run as real processes against the local server.

    python examples/feature_flags.py

It starts the local reference server in-process with two flags (``new-editor`` for users on the
pro plan, and ``tips`` for everyone), then runs the "app" as separate processes sharing one
on-disk identity, as the runs of a desktop or CLI tool would:

1. an anonymous first run       (no flags on disk yet: it waits for them, once)
2. the next run                 (flags from disk at once; no waiting)
3. login as a pro user          (identify reloads the flags with the anonymous id)
4. a run with the network down  (the last known flags still gate the feature)
5. a kill switch                (the flag is turned off on the server; the next run obeys)

Finally it lists the ``$feature_flag_called`` events the server received: one per flag and
value per user and session, whatever the number of runs.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile

import posthog_client as posthog
from posthog_client.server import DEFAULT_API_KEY, LocalServer

PRO_ONLY = {"key": "plan", "value": "pro", "type": "person"}
FLAGS = {
    "flags": [
        {"id": 1, "key": "new-editor", "active": True,
         "filters": {"groups": [{"properties": [PRO_ONLY], "rollout_percentage": 100}]}},
        {"id": 2, "key": "tips", "active": True,
         "filters": {"groups": [{"properties": [], "rollout_percentage": 100}],
                     "payloads": {"true": '{"tip": "Press Ctrl-K to search"}'}}},
    ]
}  # fmt: skip
STEPS = ["first_run", "next_run", "login", "offline", "after_kill_switch"]


def run_step(step: str) -> None:
    """One run of the CLI: a separate process with the persisted identity and flags."""
    posthog.init(DEFAULT_API_KEY)
    if step == "first_run":
        posthog.wait_for_flags(timeout_s=5)  # no flags on disk yet: worth a short wait, once
    elif step == "login":
        posthog.identify("alice", {"plan": "pro"})
        posthog.wait_for_flags(timeout_s=5)  # alice's flags before deciding
    elif step == "after_kill_switch":
        posthog.reload_feature_flags()
        posthog.wait_for_flags(timeout_s=5)
    editor = "new editor" if posthog.feature_enabled("new-editor") else "classic editor"
    tip = (posthog.get_feature_flag_payload("tips") or {}).get("tip", "-")
    posthog.capture("file_opened", {"editor": editor})
    posthog.shutdown(timeout_s=5)
    print(f"  {step:<18} as {posthog.get_distinct_id():<38} {editor:<15} tip: {tip}")


def unreachable() -> str:
    with socket.socket() as sock:  # a free port nothing listens on once it is closed
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def main() -> int:
    with LocalServer(flags=FLAGS) as server, tempfile.TemporaryDirectory() as storage:
        print(f"local reference server on {server.url}, serving 2 feature flags")
        print(f"app identity and flags stored in {storage}\n")
        for step in STEPS:
            host = unreachable() if step == "offline" else server.url
            if step == "after_kill_switch":
                switched_off = {**FLAGS["flags"][0], "active": False}
                server.set_flags({"flags": [switched_off, FLAGS["flags"][1]]})
                print("  (new-editor switched off on the server)")
            env = {**os.environ, "POSTHOG_HOST": host, "POSTHOG_CLIENT_DIR": storage}
            subprocess.run([sys.executable, __file__, step], env=env, check=True, timeout=60)
        print("\n$feature_flag_called events received:")
        for event in server.engine.events(oldest_first=True):
            if event.event == "$feature_flag_called":
                props = event.properties
                print(
                    f"  {event.distinct_id:<38} {props['$feature_flag']:<11} "
                    f"-> {props['$feature_flag_response']}"
                )
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] in STEPS:
        run_step(sys.argv[1])
    else:
        raise SystemExit(main())
