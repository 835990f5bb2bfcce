"""The Django middleware on a real Django (sync test client and ASGI ``AsyncClient``)."""

from __future__ import annotations

import pytest

django = pytest.importorskip("django")

import asyncio  # noqa: E402
import logging  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from typing import Any  # noqa: E402

from django.conf import settings  # noqa: E402

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="posthog-client-tests",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
        DATABASES={},
        MIDDLEWARE=[
            f"{__name__}.fake_login_middleware",
            "posthog_client.integrations.django.PostHogMiddleware",
        ],
    )
    django.setup()

from django.contrib.auth.models import AnonymousUser, User  # noqa: E402
from django.core.exceptions import ImproperlyConfigured  # noqa: E402
from django.http import Http404, HttpRequest, HttpResponse  # noqa: E402
from django.test import AsyncClient, Client, override_settings  # noqa: E402
from django.urls import path  # noqa: E402
from django.utils.decorators import sync_and_async_middleware  # noqa: E402

import posthog_client  # noqa: E402
from posthog_client.integrations.django import PostHogMiddleware  # noqa: E402

Events = Callable[[], list[dict[str, Any]]]
FRONTEND = {"X-POSTHOG-DISTINCT-ID": "web_user_1", "X-POSTHOG-SESSION-ID": "web_session_1"}


@sync_and_async_middleware
def fake_login_middleware(get_response: Any) -> Any:
    """Stands in for AuthenticationMiddleware: ``X-Test-User: <pk>`` logs that user in."""

    def login(request: HttpRequest) -> None:
        pk = request.headers.get("X-Test-User")
        request.user = User(pk=int(pk), username="ada") if pk else AnonymousUser()

    if asyncio.iscoroutinefunction(get_response):

        async def middleware_async(request: HttpRequest) -> Any:
            login(request)
            return await get_response(request)

        return middleware_async

    def middleware(request: HttpRequest) -> Any:
        login(request)
        return get_response(request)

    return middleware


def capture_view(request: HttpRequest) -> HttpResponse:
    posthog_client.capture("view_event", {"echo": request.headers.get("X-Echo")})
    return HttpResponse("ok")


async def async_view(request: HttpRequest) -> HttpResponse:
    await asyncio.sleep(0)  # let concurrent requests interleave
    posthog_client.capture("async_view_event", {"echo": request.headers.get("X-Echo")})
    return HttpResponse("ok")


def boom_view(request: HttpRequest) -> HttpResponse:
    raise ZeroDivisionError("boom")


async def async_boom_view(request: HttpRequest) -> HttpResponse:
    await asyncio.sleep(0)
    raise ZeroDivisionError("async boom")


def missing_view(request: HttpRequest) -> HttpResponse:
    raise Http404("no such order")


urlpatterns = [
    path("capture/", capture_view),
    path("async/", async_view),
    path("boom/", boom_view),
    path("async-boom/", async_boom_view),
    path("missing/", missing_view),
]


@pytest.fixture(autouse=True)
def _settings(posthog: posthog_client.Client) -> Iterator[None]:
    with override_settings(POSTHOG_MIDDLEWARE={}):
        yield


def user_id_from_header(request: HttpRequest) -> object:
    return request.headers.get("X-Other-Id")


def test_frontend_headers_identify_the_request(events: Events) -> None:
    response = Client().get("/capture/?q=1", headers={**FRONTEND, "User-Agent": "test-agent"})
    assert response.status_code == 200
    (event,) = events()
    props = event["properties"]
    assert event["distinct_id"] == "web_user_1"
    assert props["$session_id"] == "web_session_1"
    assert props["$current_url"] == "http://testserver/capture/?q=1"
    assert props["$request_method"] == "GET"
    assert props["$request_path"] == "/capture/"
    assert props["$user_agent"] == "test-agent"
    assert props["$is_server"] is True
    assert props["$process_person_profile"] is True
    assert "$ip" not in props
    assert "$device_id" not in props


def test_ip_is_tagged_only_when_enabled(events: Events) -> None:
    with override_settings(POSTHOG_MIDDLEWARE={"capture_ip": True}):
        Client().get("/capture/")
    assert events()[0]["properties"]["$ip"] == "127.0.0.1"


def test_logged_in_user_is_the_fallback_and_the_header_wins(events: Events) -> None:
    Client().get("/capture/", headers={"X-Test-User": "7", "X-Echo": "user"})
    Client().get("/capture/", headers={"X-Test-User": "7", "X-Echo": "header", **FRONTEND})
    Client().get("/capture/", headers={"X-Echo": "anonymous"})
    by_echo = {e["properties"]["echo"]: e for e in events()}
    assert by_echo["user"]["distinct_id"] == "7"
    assert by_echo["header"]["distinct_id"] == "web_user_1"
    assert by_echo["anonymous"]["properties"]["$process_person_profile"] is False


def test_user_id_fallback_is_configurable(events: Events) -> None:
    with override_settings(POSTHOG_MIDDLEWARE={"user_id": f"{__name__}.user_id_from_header"}):
        Client().get("/capture/", headers={"X-Other-Id": "crm-9", "X-Test-User": "7"})
    with override_settings(POSTHOG_MIDDLEWARE={"user_id": None}):
        Client().get("/capture/", headers={"X-Test-User": "7"})
    custom, off = events()
    assert custom["distinct_id"] == "crm-9"
    assert off["properties"]["$process_person_profile"] is False


def test_failing_user_id_callable_never_breaks_the_request(
    events: Events, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(request: HttpRequest) -> object:
        raise LookupError("session store down")

    with override_settings(POSTHOG_MIDDLEWARE={"user_id": broken}):
        assert Client().get("/capture/").status_code == 200
    assert events()[0]["properties"]["$process_person_profile"] is False
    assert "user_id callable raised LookupError" in caplog.text


@pytest.mark.parametrize(
    "bad",
    ["null", "undefined", " ", "x" * 201, "evil\nline", "tab\there", "\x7fdel"],
)
def test_bad_headers_are_ignored_and_the_request_succeeds(
    events: Events, caplog: pytest.LogCaptureFixture, bad: str
) -> None:
    headers = {"X-POSTHOG-DISTINCT-ID": bad, "X-POSTHOG-SESSION-ID": bad, "X-Test-User": "7"}
    with caplog.at_level(logging.WARNING):
        assert Client().get("/capture/", headers=headers).status_code == 200
    (event,) = events()
    assert event["distinct_id"] == "7"  # fell back to the logged-in user
    assert "$session_id" not in event["properties"]
    if bad.strip():  # an empty header is no mistake: nothing to warn about
        assert "ignored the id from X-POSTHOG-DISTINCT-ID" in caplog.text
        assert "ignored the id from X-POSTHOG-SESSION-ID" in caplog.text
    if bad.strip() not in ("", "null", "undefined"):  # placeholders named, others never logged
        assert bad.strip() not in caplog.text


def test_bad_header_warnings_are_rate_limited(
    events: Events, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(5):
        Client().get("/capture/", headers={"X-POSTHOG-DISTINCT-ID": "x" * 500})
    assert len(events()) == 5
    assert caplog.text.count("ignored the id from X-POSTHOG-DISTINCT-ID") == 1


def test_unhandled_exception_is_captured_and_reraised(events: Events) -> None:
    with pytest.raises(ZeroDivisionError, match="boom"):
        Client().get("/boom/", headers=FRONTEND)
    (event,) = events()
    assert event["event"] == "$exception"
    assert event["distinct_id"] == "web_user_1"
    assert event["properties"]["$request_path"] == "/boom/"
    assert event["properties"]["$exception_type"] == "ZeroDivisionError"


def test_exception_becomes_a_500_as_usual(events: Events) -> None:
    response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    assert [e["event"] for e in events()] == ["$exception"]


def test_client_errors_and_disabled_capture_send_nothing(events: Events) -> None:
    assert Client().get("/missing/").status_code == 404
    with (
        override_settings(POSTHOG_MIDDLEWARE={"capture_exceptions": False}),
        pytest.raises(ZeroDivisionError),
    ):
        Client().get("/boom/")
    assert events() == []


def test_exceptions_go_to_the_configured_client(
    events: Events, make_client: Callable[..., posthog_client.Client]
) -> None:
    own = make_client(mode="server")
    with (
        override_settings(POSTHOG_MIDDLEWARE={"client": own}),
        pytest.raises(ZeroDivisionError),
    ):
        Client().get("/boom/", headers=FRONTEND)
    own.flush(5)
    assert [e["distinct_id"] for e in events()] == ["web_user_1"]  # both record into `backend`


def test_concurrent_async_requests_keep_their_own_ids(events: Events) -> None:
    async def request(n: int) -> int:
        response = await AsyncClient().get(
            "/async/",
            headers={"X-POSTHOG-DISTINCT-ID": f"web_{n}", "X-Echo": f"web_{n}"},
        )
        return int(response.status_code)

    async def main() -> list[int]:
        return await asyncio.gather(*(request(n) for n in range(10)))

    assert asyncio.run(main()) == [200] * 10
    sent = events()
    assert len(sent) == 10
    assert all(e["distinct_id"] == e["properties"]["echo"] for e in sent)


def test_async_fallback_reads_the_user_off_the_event_loop(events: Events) -> None:
    async def main() -> int:
        response = await AsyncClient().get("/async/", headers={"X-Test-User": "7"})
        return int(response.status_code)

    assert asyncio.run(main()) == 200
    assert events()[0]["distinct_id"] == "7"


def test_async_view_exception_is_captured_in_the_request_context(events: Events) -> None:
    async def main() -> None:
        await AsyncClient().get("/async-boom/", headers=FRONTEND)

    with pytest.raises(ZeroDivisionError, match="async boom"):
        asyncio.run(main())
    (event,) = events()
    assert (event["event"], event["distinct_id"]) == ("$exception", "web_user_1")
    assert event["properties"]["$session_id"] == "web_session_1"


def test_unknown_options_are_refused() -> None:
    with (
        override_settings(POSTHOG_MIDDLEWARE={"capture_ips": True}),
        pytest.raises(ImproperlyConfigured, match="capture_ips"),
    ):
        PostHogMiddleware(lambda request: HttpResponse())
