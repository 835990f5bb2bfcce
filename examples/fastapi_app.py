"""Backend events joined to the frontend's user: a FastAPI app with the ASGI middleware.

    python -m pip install -e ".[examples]"   # FastAPI, httpx and Django
    python examples/fastapi_app.py

It starts the local reference server in-process (or uses POSTHOG_HOST when set), then plays a
shop: a frontend with its own persisted identity (what posthog-js or a desktop app would be)
browses anonymously, calls the API with ``tracing_headers()``, signs up, checks out, and hits a
failing endpoint. The API captures its own events; the middleware gives each request the
frontend's distinct id and session id. Finally it asks the server who "alice" is: one person
whose timeline holds the frontend's and the backend's events, in one session.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import urllib.parse
import urllib.request
from contextlib import ExitStack
from typing import Any

import httpx
from fastapi import FastAPI

import posthog_client as posthog
from posthog_client.integrations.asgi import PostHogMiddleware
from posthog_client.server import DEFAULT_API_KEY, LocalServer

app = FastAPI()
app.add_middleware(PostHogMiddleware)


@app.post("/cart")
async def add_to_cart(item: dict[str, str]) -> dict[str, str]:
    posthog.capture("cart_updated", {"item": item["name"]})  # the frontend's user and session
    return {"status": "added"}


@app.post("/checkout")
def checkout() -> dict[str, int]:  # sync endpoints run in a thread: still the request's context
    posthog.capture("order_paid", {"amount": 42})
    return {"order": 1001}


@app.get("/receipt")
async def receipt() -> None:
    raise TimeoutError("the PDF service timed out")  # becomes a $exception event, then a 500


async def play_frontend(frontend: posthog.Client) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.example") as api:
        frontend.capture("$pageview", {"$current_url": "https://shop.example/plush"})
        headers = posthog.tracing_headers(frontend)
        await api.post("/cart", json={"name": "hedgehog plush"}, headers=headers)
        frontend.identify("alice", {"email": "alice@example.com"})
        headers = posthog.tracing_headers(frontend)
        await api.post("/checkout", headers=headers)
        response = await api.get("/receipt", headers=headers)
        print(f"  GET /receipt answered {response.status_code}")


def get(host: str, path: str, **query: str) -> Any:
    with urllib.request.urlopen(f"{host}{path}?{urllib.parse.urlencode(query)}", timeout=10) as r:
        return json.load(r)


def show(host: str, distinct_id: str, session_id: str) -> bool:
    """Print the person ``distinct_id`` resolves to and its events; True if all joined up."""
    person = get(host, "/api/persons", distinct_id=distinct_id)
    print(f"\nperson {person['uuid']}, distinct ids: {', '.join(person['distinct_ids'])}")
    events = get(host, "/api/events", distinct_id=distinct_id)["results"]
    events.sort(key=lambda e: (bool(e["properties"].get("$is_server")), str(e["timestamp"])))
    for event in events:
        props = event["properties"]
        print(
            f"  {'backend ' if props.get('$is_server') else 'frontend'}  {event['event']:<14}"
            f" as {event['distinct_id']:<38} session {props.get('$session_id')}"
        )
    backend = {e["event"] for e in events if e["properties"].get("$is_server")}
    same_session = all(e["properties"].get("$session_id") == session_id for e in events)
    print(
        f"backend events in the frontend's person: {sorted(backend)}; one session: {same_session}"
    )
    return same_session and backend == {"cart_updated", "order_paid", "$exception"}


def main() -> int:
    api_key = os.environ.get("POSTHOG_API_KEY", DEFAULT_API_KEY)
    with ExitStack() as stack:
        host = os.environ.get("POSTHOG_HOST")
        if not host:
            host = stack.enter_context(LocalServer(api_key)).url
            print(f"local reference server on {host} (in memory)")
        storage = stack.enter_context(tempfile.TemporaryDirectory(prefix="posthog-frontend-"))
        frontend = posthog.Client(api_key, host=host, storage_dir=storage)
        posthog.init(api_key, host=host, mode="server")  # the API's client
        asyncio.run(play_frontend(frontend))
        session_id = frontend.get_session_id()
        frontend.shutdown(5)
        posthog.shutdown(5)
        return 0 if show(host, "alice", session_id) else 1


if __name__ == "__main__":
    sys.exit(main())
