"""Backend events joined to the frontend's user: a one-file Django site with the middleware.

    python -m pip install -e ".[examples]"   # FastAPI, httpx and Django
    python examples/django_app.py

It starts the local reference server in-process (or uses POSTHOG_HOST when set), then plays a
shop: a frontend with its own persisted identity (what posthog-js or a desktop app would be)
browses anonymously and calls the site with ``tracing_headers()``, then the user logs in, and
later requests carry only the Django session cookie (a form post, a mobile app using the same
login): the middleware falls back to ``request.user``. Finally it asks the server who "alice"
is: one person holding the frontend's and the backend's events.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import urllib.parse
import urllib.request
from contextlib import ExitStack
from typing import Any

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="posthog-client-example",
    ALLOWED_HOSTS=["testserver"],
    ROOT_URLCONF=__name__,
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
    ],
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "posthog_client.integrations.django.PostHogMiddleware",  # after authentication
    ],
    # The frontend identifies users by username, so the fallback does too (default: the pk).
    POSTHOG_MIDDLEWARE={
        "user_id": lambda request: request.user.get_username() or None,
    },
)
django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import path  # noqa: E402

import posthog_client as posthog  # noqa: E402
from posthog_client.server import DEFAULT_API_KEY, LocalServer  # noqa: E402


def products(request: HttpRequest) -> JsonResponse:
    posthog.capture("products_listed", {"count": 3})  # the frontend's user and session
    return JsonResponse({"products": ["plush", "mug", "socks"]})


def checkout(request: HttpRequest) -> JsonResponse:
    posthog.capture("order_paid", {"amount": 42})  # no headers: request.user is the fallback
    return JsonResponse({"order": 1001})


def receipt(request: HttpRequest) -> HttpResponse:
    raise TimeoutError("the PDF service timed out")  # becomes a $exception event, then a 500


urlpatterns = [path("products/", products), path("checkout/", checkout), path("receipt/", receipt)]


def play(frontend: posthog.Client) -> None:
    call_command("migrate", verbosity=0)
    alice = User.objects.create_user("alice")
    browser = Client(raise_request_exception=False)
    frontend.capture("$pageview", {"$current_url": "https://shop.example/"})
    browser.get("/products/", headers=posthog.tracing_headers(frontend))
    browser.force_login(alice)
    frontend.identify("alice", {"email": "alice@example.com"})
    browser.post("/checkout/")
    print(f"  GET /receipt/ answered {browser.get('/receipt/').status_code}")


def get(host: str, path: str, **query: str) -> Any:
    with urllib.request.urlopen(f"{host}{path}?{urllib.parse.urlencode(query)}", timeout=10) as r:
        return json.load(r)


def show(host: str, distinct_id: str) -> bool:
    """Print the person ``distinct_id`` resolves to and its events; True if all joined up."""
    person = get(host, "/api/persons", distinct_id=distinct_id)
    print(f"\nperson {person['uuid']}, distinct ids: {', '.join(person['distinct_ids'])}")
    events = get(host, "/api/events", distinct_id=distinct_id)["results"]
    events.sort(key=lambda e: (bool(e["properties"].get("$is_server")), str(e["timestamp"])))
    for event in events:
        props = event["properties"]
        print(
            f"  {'backend ' if props.get('$is_server') else 'frontend'}  {event['event']:<16}"
            f" as {event['distinct_id']:<38} {props.get('$request_path', '')}"
        )
    backend = {e["event"] for e in events if e["properties"].get("$is_server")}
    print(f"backend events in the frontend's person: {sorted(backend)}")
    return backend == {"products_listed", "order_paid", "$exception"}


def main() -> int:
    logging.getLogger("django.request").setLevel(logging.CRITICAL)  # the 500 is on purpose
    api_key = os.environ.get("POSTHOG_API_KEY", DEFAULT_API_KEY)
    with ExitStack() as stack:
        host = os.environ.get("POSTHOG_HOST")
        if not host:
            host = stack.enter_context(LocalServer(api_key)).url
            print(f"local reference server on {host} (in memory)")
        storage = stack.enter_context(tempfile.TemporaryDirectory(prefix="posthog-frontend-"))
        frontend = posthog.Client(api_key, host=host, storage_dir=storage)
        posthog.init(api_key, host=host, mode="server")  # the site's client
        play(frontend)
        frontend.shutdown(5)
        posthog.shutdown(5)
        return 0 if show(host, "alice") else 1


if __name__ == "__main__":
    sys.exit(main())
