"""ASGI middleware (Starlette, FastAPI, any ASGI app): every request runs in its own context.

Example::

    from posthog_client.integrations.asgi import PostHogMiddleware

    app = FastAPI()
    app.add_middleware(PostHogMiddleware, user_id=user_id_of)  # your scope -> id or None
    # any other ASGI app: app = PostHogMiddleware(app)

Events captured during a request (HTTP or WebSocket), also in tasks it starts, get the
frontend's distinct id (``X-POSTHOG-DISTINCT-ID``), else what ``user_id(scope)`` returns (sync
or async; None: not logged in), and the frontend's ``X-POSTHOG-SESSION-ID``; they are tagged
with the URL, method, path and user agent. An exception escaping the app is sent as
``$exception`` (``capture_exceptions=False`` to turn off) and re-raised unchanged.
``capture_ip=True`` tags ``$ip`` with the ASGI client address (behind a proxy, run the server
with its proxy-headers option). ``user_id`` sees ``scope["user"]`` only when this middleware
runs inside Starlette's ``AuthenticationMiddleware``. ``client`` defaults to ``init()``'s.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, TypeAlias

from .._exceptions import IntegrationUnavailable

try:
    from starlette.datastructures import URL, Headers
except ImportError as exc:  # pragma: no cover - exercised only without Starlette
    raise IntegrationUnavailable("pip install 'posthog-client[asgi]'") from exc

from .._context import new_context
from ._common import (
    DISTINCT_ID_HEADER,
    SESSION_ID_HEADER,
    RequestInfo,
    begin_request,
    identify_value,
    user_id_failed,
)

if TYPE_CHECKING:
    from .._client import Client

__all__ = ["PostHogMiddleware"]

Scope: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send: TypeAlias = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]


class PostHogMiddleware:
    """Wraps an ASGI app; lifespan and other scope types pass through untouched."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        client: Client | None = None,
        capture_exceptions: bool = True,
        capture_ip: bool = False,
        user_id: Callable[[Scope], object] | None = None,
    ) -> None:
        self.app = app
        self.client = client
        self.capture_exceptions = capture_exceptions
        self.capture_ip = capture_ip
        self.user_id = user_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        with new_context(
            fresh=True, capture_exceptions=self.capture_exceptions, client=self.client
        ):
            if not begin_request(_describe(scope), capture_ip=self.capture_ip) and self.user_id:
                await self._identify_user(scope)
            await self.app(scope, receive, send)

    async def _identify_user(self, scope: Scope) -> None:
        assert self.user_id is not None
        try:
            value = self.user_id(scope)
            if inspect.isawaitable(value):
                value = await value
        except Exception as exc:
            user_id_failed(exc)
            return
        identify_value(value)


def _describe(scope: Scope) -> RequestInfo:
    headers = Headers(scope=scope)
    client = scope.get("client")
    url = URL(scope=scope)
    return RequestInfo(
        url=str(url),
        path=url.path,
        method=scope.get("method"),
        user_agent=headers.get("user-agent"),
        ip=client[0] if client else None,
        distinct_id_header=headers.get(DISTINCT_ID_HEADER),
        session_id_header=headers.get(SESSION_ID_HEADER),
    )
