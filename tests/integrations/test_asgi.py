"""The ASGI middleware on real Starlette and FastAPI apps (``TestClient`` and concurrent
requests through ``httpx.ASGITransport``)."""

from __future__ import annotations

import pytest

pytest.importorskip("starlette")
httpx = pytest.importorskip("httpx")

import asyncio  # noqa: E402
import logging  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from contextlib import asynccontextmanager  # noqa: E402
from typing import Any  # noqa: E402

from starlette.applications import Starlette  # noqa: E402
from starlette.authentication import (  # noqa: E402
    AuthCredentials,
    AuthenticationBackend,
    BaseUser,
    SimpleUser,
)
from starlette.exceptions import HTTPException  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.middleware.authentication import AuthenticationMiddleware  # noqa: E402
from starlette.requests import HTTPConnection, Request  # noqa: E402
from starlette.responses import PlainTextResponse  # noqa: E402
from starlette.routing import Route, WebSocketRoute  # noqa: E402
from starlette.websockets import WebSocket  # noqa: E402

import posthog_client  # noqa: E402
from posthog_client.integrations.asgi import PostHogMiddleware  # noqa: E402

with warnings.catch_warnings():
    # Starlette ≥ 1.x asks for the `httpx2` fork; `httpx` still works and is what we install.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

Events = Callable[[], list[dict[str, Any]]]
FRONTEND = {"X-POSTHOG-DISTINCT-ID": "web_user_1", "X-POSTHOG-SESSION-ID": "web_session_1"}


async def capture(request: Request) -> PlainTextResponse:
    await asyncio.sleep(0)  # let concurrent requests interleave
    posthog_client.capture("view_event", {"echo": request.headers.get("X-Echo")})
    return PlainTextResponse("ok")


async def boom(request: Request) -> PlainTextResponse:
    raise ZeroDivisionError("boom")


async def missing(request: Request) -> PlainTextResponse:
    raise HTTPException(404)


async def socket(websocket: WebSocket) -> None:
    await websocket.accept()
    posthog_client.capture("socket_event", {"message": await websocket.receive_text()})
    await websocket.close()


class HeaderAuth(AuthenticationBackend):
    """``X-Test-User: <name>`` logs that user in."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        name = conn.headers.get("X-Test-User")
        return (AuthCredentials(["authenticated"]), SimpleUser(name)) if name else None


def logged_in_user(scope: Any) -> object:
    user = scope["user"]
    return user.identity if user.is_authenticated else None


def starlette_app(**options: Any) -> Starlette:
    routes = [
        Route("/capture", capture),
        Route("/boom", boom),
        Route("/missing", missing),
        WebSocketRoute("/socket", socket),
    ]
    middleware = [
        Middleware(AuthenticationMiddleware, backend=HeaderAuth()),
        Middleware(PostHogMiddleware, user_id=logged_in_user, **options),
    ]
    return Starlette(routes=routes, middleware=middleware)


def only(events: list[dict[str, Any]], name: str) -> dict[str, Any]:
    (event,) = [e for e in events if e["event"] == name]
    return event


def test_frontend_headers_identify_the_request(events: Events) -> None:
    headers = {**FRONTEND, "User-Agent": "test-agent"}
    response = TestClient(starlette_app()).get("/capture?q=1", headers=headers)
    assert response.status_code == 200
    event = only(events(), "view_event")
    props = event["properties"]
    assert event["distinct_id"] == "web_user_1"
    assert props["$session_id"] == "web_session_1"
    assert props["$current_url"] == "http://testserver/capture?q=1"
    assert props["$request_method"] == "GET"
    assert props["$request_path"] == "/capture"
    assert props["$user_agent"] == "test-agent"
    assert props["$is_server"] is True
    assert "$ip" not in props


def test_ip_is_tagged_only_when_enabled(events: Events) -> None:
    TestClient(starlette_app(capture_ip=True)).get("/capture")
    assert only(events(), "view_event")["properties"]["$ip"] == "testclient"


def test_authenticated_user_is_the_fallback_and_the_header_wins(events: Events) -> None:
    client = TestClient(starlette_app())
    client.get("/capture", headers={"X-Test-User": "ada", "X-Echo": "user"})
    client.get("/capture", headers={"X-Test-User": "ada", "X-Echo": "header", **FRONTEND})
    client.get("/capture", headers={"X-Echo": "anonymous"})
    by_echo = {e["properties"]["echo"]: e for e in events()}
    assert by_echo["user"]["distinct_id"] == "ada"
    assert by_echo["header"]["distinct_id"] == "web_user_1"
    assert by_echo["anonymous"]["properties"]["$process_person_profile"] is False


def test_async_and_failing_user_id_callables(
    events: Events, caplog: pytest.LogCaptureFixture
) -> None:
    async def from_token(scope: Any) -> object:
        await asyncio.sleep(0)
        return "token-user"

    def broken(scope: Any) -> object:
        raise RuntimeError("auth service down")

    plain = Starlette(routes=[Route("/capture", capture)])  # any ASGI app, wrapped directly
    TestClient(PostHogMiddleware(plain, user_id=from_token)).get("/capture")
    assert TestClient(PostHogMiddleware(plain, user_id=broken)).get("/capture").status_code == 200
    first, second = events()
    assert first["distinct_id"] == "token-user"
    assert second["properties"]["$process_person_profile"] is False
    assert "user_id callable raised RuntimeError" in caplog.text


@pytest.mark.parametrize("bad", ["null", "[object Object]", "x" * 201, "a\x00b", "\x1b[31m"])
def test_bad_headers_are_ignored_with_a_rate_limited_warning(
    events: Events, caplog: pytest.LogCaptureFixture, bad: str
) -> None:
    client = TestClient(starlette_app())
    headers = {"X-POSTHOG-DISTINCT-ID": bad, "X-POSTHOG-SESSION-ID": bad, "X-Test-User": "ada"}
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            assert client.get("/capture", headers=headers).status_code == 200
    sent = events()
    assert [e["distinct_id"] for e in sent] == ["ada"] * 3
    assert all("$session_id" not in e["properties"] for e in sent)
    assert caplog.text.count("ignored the id from X-POSTHOG-SESSION-ID") == 1


def test_unhandled_exception_is_captured_and_reraised(events: Events) -> None:
    with pytest.raises(ZeroDivisionError, match="boom"):
        TestClient(starlette_app()).get("/boom", headers=FRONTEND)
    event = only(events(), "$exception")
    assert event["distinct_id"] == "web_user_1"
    assert event["properties"]["$request_path"] == "/boom"
    assert event["properties"]["$exception_type"] == "ZeroDivisionError"


def test_exception_becomes_a_500_as_usual(events: Events) -> None:
    client = TestClient(starlette_app(), raise_server_exceptions=False)
    assert client.get("/boom").status_code == 500
    assert [e["event"] for e in events()] == ["$exception"]


def test_http_errors_and_disabled_capture_send_no_exception(events: Events) -> None:
    assert TestClient(starlette_app()).get("/missing").status_code == 404
    with pytest.raises(ZeroDivisionError):
        TestClient(starlette_app(capture_exceptions=False)).get("/boom")
    assert events() == []


def test_exceptions_go_to_the_configured_client(
    events: Events, make_client: Callable[..., posthog_client.Client]
) -> None:
    own = make_client(mode="server")
    with pytest.raises(ZeroDivisionError):
        TestClient(starlette_app(client=own)).get("/boom", headers=FRONTEND)
    own.flush(5)
    assert only(events(), "$exception")["distinct_id"] == "web_user_1"


def test_websocket_connections_run_in_a_context(events: Events) -> None:
    with TestClient(starlette_app()).websocket_connect("/socket", headers=FRONTEND) as ws:
        ws.send_text("hello")
    event = only(events(), "socket_event")
    assert event["distinct_id"] == "web_user_1"
    assert event["properties"]["$current_url"] == "ws://testserver/socket"
    assert "$request_method" not in event["properties"]


def test_lifespan_passes_through_untouched(events: Events) -> None:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        posthog_client.capture("startup")
        yield

    app = Starlette(routes=[], lifespan=lifespan, middleware=[Middleware(PostHogMiddleware)])
    with TestClient(app):
        pass
    (event,) = events()
    props = event["properties"]  # no request, no context: a personless server event
    assert "$current_url" not in props and "$session_id" not in props
    assert props["$is_server"] is True and props["$process_person_profile"] is False


def test_concurrent_requests_keep_their_own_ids(events: Events) -> None:
    app = starlette_app()

    async def main() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            responses = await asyncio.gather(
                *(
                    client.get(
                        "/capture",
                        headers={"X-POSTHOG-DISTINCT-ID": f"web_{n}", "X-Echo": f"web_{n}"},
                    )
                    for n in range(20)
                )
            )
        return [r.status_code for r in responses]

    assert asyncio.run(main()) == [200] * 20
    sent = events()
    assert len(sent) == 20
    assert all(e["distinct_id"] == e["properties"]["echo"] for e in sent)


# -- FastAPI -----------------------------------------------------------------------------------


def test_fastapi_sync_and_async_endpoints_and_dependencies(events: Events) -> None:
    fastapi = pytest.importorskip("fastapi")

    def current_user(x_api_key: str | None = fastapi.Header(default=None)) -> str | None:
        # A sync dependency runs in a worker thread; what it identifies still applies.
        if x_api_key:
            posthog_client.identify_context(f"key-{x_api_key}")
        return x_api_key

    app = fastapi.FastAPI()
    app.add_middleware(PostHogMiddleware)

    @app.get("/sync")
    def sync_endpoint(user: str | None = fastapi.Depends(current_user)) -> dict[str, str]:
        posthog_client.capture("sync_event")
        return {"ok": "yes"}

    @app.get("/async")
    async def async_endpoint(user: str | None = fastapi.Depends(current_user)) -> dict[str, str]:
        posthog_client.capture("async_event")
        return {"ok": "yes"}

    client = TestClient(app)
    assert client.get("/sync", headers=FRONTEND).status_code == 200
    assert client.get("/async", headers={"X-Api-Key": "k1"}).status_code == 200
    sent = events()
    assert only(sent, "sync_event")["distinct_id"] == "web_user_1"
    assert only(sent, "sync_event")["properties"]["$session_id"] == "web_session_1"
    assert only(sent, "async_event")["distinct_id"] == "key-k1"


def test_fastapi_concurrent_requests(events: Events) -> None:
    fastapi = pytest.importorskip("fastapi")
    app = fastapi.FastAPI()
    app.add_middleware(PostHogMiddleware)

    @app.get("/")
    async def endpoint(request: Request) -> dict[str, str]:
        await asyncio.sleep(0)
        posthog_client.capture("view_event", {"echo": request.headers["X-Echo"]})
        return {}

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            await asyncio.gather(
                *(
                    client.get(
                        "/",
                        headers={
                            "X-POSTHOG-DISTINCT-ID": f"web_{n}",
                            "X-POSTHOG-SESSION-ID": f"session_{n}",
                            "X-Echo": str(n),
                        },
                    )
                    for n in range(20)
                )
            )

    asyncio.run(main())
    sent = events()
    assert len(sent) == 20
    for event in sent:
        n = event["properties"]["echo"]
        assert event["distinct_id"] == f"web_{n}"
        assert event["properties"]["$session_id"] == f"session_{n}"
