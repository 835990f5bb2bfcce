"""The identity story of PostHog's docs, played by real processes against a real server.

    python examples/quickstart.py

It starts the local reference server in-process (or uses POSTHOG_HOST when set), then runs
each step of the story as its own Python process sharing one on-disk identity, as the runs of a
desktop or CLI app would:

1. anonymous pageviews           (a device nobody has logged in on yet)
2. signup: identify + properties (merges the anonymous history into the user)
3. alias a backend id            (events the backend sends under that id join the user)
4. logout: reset()               (the device goes back to anonymous)
5. a second user on the device   (anonymous again, then identifies as someone else)

Finally it asks the server's query API for every person, and shows that looking a person up by
ANY of its distinct ids returns the same person with the whole history. It prints the address
of the server's person explorer; with --serve it keeps the server up so you can open it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from contextlib import ExitStack
from typing import Any

import posthog_client as posthog
from posthog_client.server import DEFAULT_API_KEY, LocalServer

STEPS = ["browse", "signup", "backend", "logout", "second_user"]


def run_step(step: str) -> None:
    """One run of the 'app': a separate process with the persisted identity."""
    posthog.init(os.environ.get("POSTHOG_API_KEY", DEFAULT_API_KEY), flush_at=1)
    if step == "browse":
        for page in ("/", "/pricing", "/signup"):
            posthog.capture("$pageview", {"$current_url": f"https://example.com{page}"})
    elif step == "signup":
        posthog.identify("alice", {"email": "alice@example.com", "plan": "free"})
        posthog.capture("signed_up")
    elif step == "backend":
        posthog.alias("backend-7f3a")  # the id a backend service knows alice by
        posthog.capture("invoice_paid", {"amount": 42}, distinct_id="backend-7f3a")
    elif step == "logout":
        posthog.capture("logged_out")
        posthog.reset()
    elif step == "second_user":
        posthog.capture("$pageview", {"$current_url": "https://example.com/"})
        posthog.identify("bob", {"email": "bob@example.com"})
        posthog.capture("signed_up")
    result = posthog.shutdown(timeout_s=5)
    print(f"  {step:<12} as {posthog.get_distinct_id():<38} sent {result.sent} event(s)")


def get(host: str, path: str, **query: str) -> Any:
    url = f"{host}{path}?{urllib.parse.urlencode(query)}"
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def show(host: str) -> None:
    persons = get(host, "/api/persons")["results"]
    print(f"\n{len(persons)} persons on the server:")
    for person in persons:
        props = {k: v for k, v in person["properties"].items() if not k.startswith("$")}
        print(f"\n  person {person['uuid']}  identified={person['is_identified']}")
        print(f"    distinct ids: {', '.join(person['distinct_ids'])}")
        print(f"    properties:   {props}")
        history = get(host, "/api/events", distinct_id=person["distinct_ids"][0], limit="100")
        print("    timeline (oldest first):")
        for event in reversed(history["results"]):
            print(f"      {event['timestamp'][11:23]}  {event['event']:<14} {event['distinct_id']}")
        for distinct_id in person["distinct_ids"]:  # every id leads to the same person and history
            same = get(host, "/api/persons", distinct_id=distinct_id)["uuid"] == person["uuid"]
            count = get(host, "/api/events", distinct_id=distinct_id)["count"]
            assert same and count == history["count"], f"lookup by {distinct_id} disagrees"
        print(
            f"    looked up by each of its {len(person['distinct_ids'])} ids: same person, "
            f"same {history['count']} events"
        )


def main(keep_serving: bool) -> int:
    with ExitStack() as stack:
        host = os.environ.get("POSTHOG_HOST")
        server = None
        if not host:
            server = stack.enter_context(LocalServer())
            host = server.url
            print(f"local reference server on {host} (in memory)")
        storage = stack.enter_context(tempfile.TemporaryDirectory(prefix="posthog-quickstart-"))
        env = {**os.environ, "POSTHOG_HOST": host, "POSTHOG_CLIENT_DIR": storage}
        print(f"app identity stored in {storage}\n")
        for step in STEPS:
            subprocess.run([sys.executable, __file__, step], env=env, check=True, timeout=60)
        show(host)
        print(f"\nperson explorer: {server.explorer_url if server else host + '/'}")
        if server is not None and keep_serving:
            print("serving until Ctrl-C")
            try:
                server.wait()
            except KeyboardInterrupt:
                pass
        elif server is not None:
            print("(it stops with this script: run it with --serve to keep it up)")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] in STEPS:
        run_step(sys.argv[1])
    else:
        raise SystemExit(main(keep_serving=sys.argv[1:] == ["--serve"]))
