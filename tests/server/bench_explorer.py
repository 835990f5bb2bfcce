"""How fast the person explorer's pages answer with a large store.

    python tests/server/bench_explorer.py [--events 100000]

Fills an in-memory local server with ``--events`` events from 20 000 users (anonymous
pageviews, an ``$identify`` each, then clicks under either id) plus one person with 20 000
events, then times one GET of each page. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import http.client
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from posthog_client.server import LocalServer

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
USERS = 20_000
HEAVY = 20_000


def event(name: str, distinct_id: str, properties: dict[str, Any], second: int) -> dict[str, Any]:
    return {
        "event": name,
        "distinct_id": distinct_id,
        "properties": properties,
        "uuid": str(uuid.uuid4()),
        "timestamp": (T0 + timedelta(seconds=second)).isoformat(),
    }


def story(count: int) -> list[dict[str, Any]]:
    events = []
    for n in range(count):
        user = n % USERS
        if n < USERS:
            events.append(event("$pageview", f"anon-{user}", {"$current_url": f"/{n}"}, n))
        elif n < 2 * USERS:
            identify = {"$anon_distinct_id": f"anon-{user}", "$set": {"email": f"u{user}@x.io"}}
            events.append(event("$identify", f"user-{user}", identify, n))
        else:
            who = f"user-{user}" if n % 3 else f"anon-{user}"
            events.append(event("click", who, {"n": n}, n))
    return events + [event("tick", "heavy", {"n": n}, n) for n in range(HEAVY)]


def timed_get(server: LocalServer, path: str) -> tuple[int, float]:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=60)
    try:
        started = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status, (time.perf_counter() - started) * 1000
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    with LocalServer() as server:
        events = story(args.events)
        started = time.perf_counter()
        for start in range(0, len(events), 1000):
            server.engine.ingest(events[start : start + 1000])
        print(f"ingested {len(events)} events in {time.perf_counter() - started:.1f} s\n")
        heavy = server.engine.person("heavy")
        user = server.engine.person("user-7")
        assert heavy is not None and user is not None
        pages = [
            "/",
            "/?offset=19000",
            "/?q=user-7",
            "/?q=email%3Du7%40x.io",
            f"/persons/{user.uuid}",
            f"/persons/{heavy.uuid}",
            f"/persons/{heavy.uuid}?offset=19900",
            "/events",
            f"/events?offset={len(events) - 100}",
            "/warnings",
            "/explorer/revision",
        ]
        print("| page | status | ms |\n|---|---|---|")
        for path in pages:
            status, ms = timed_get(server, path)
            print(f"| `{path[:60]}` | {status} | {ms:.1f} |")


if __name__ == "__main__":
    main()
