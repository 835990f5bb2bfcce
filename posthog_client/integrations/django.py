"""Django middleware: every request runs in its own ``new_context()``.

Add it after ``AuthenticationMiddleware`` (so ``request.user`` exists)::

    MIDDLEWARE = [
        ...,
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "posthog_client.integrations.django.PostHogMiddleware",
    ]

Events captured during a request get the frontend's distinct id (``X-POSTHOG-DISTINCT-ID``),
else the logged-in user's primary key, and the frontend's ``X-POSTHOG-SESSION-ID``; they are
tagged with the URL, method, path and user agent. Options, all optional, in settings::

    POSTHOG_MIDDLEWARE = {
        "client": None,               # a posthog_client.Client; default: the one init() made
        "capture_exceptions": True,   # send unhandled view exceptions as $exception
        "capture_ip": False,          # tag $ip with REMOTE_ADDR (make it proxy-aware first)
        "user_id": "myapp.analytics.user_id",  # callable or dotted path: request -> id or None;
                                      # None turns the fallback off
    }
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from .._exceptions import IntegrationUnavailable

try:
    from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
    from django.conf import settings
    from django.core.exceptions import (
        BadRequest,
        DisallowedHost,
        ImproperlyConfigured,
        PermissionDenied,
        SuspiciousOperation,
    )
    from django.http import Http404, HttpRequest, HttpResponseBase
    from django.utils.module_loading import import_string
except ImportError as exc:  # pragma: no cover - exercised only without Django
    raise IntegrationUnavailable("pip install 'posthog-client[django]'") from exc

from .._context import capture_unhandled, new_context
from ._common import (
    DISTINCT_ID_HEADER,
    SESSION_ID_HEADER,
    RequestInfo,
    begin_request,
    identify_user,
)

__all__ = ["PostHogMiddleware", "authenticated_user_id"]

_OPTIONS: Final = frozenset({"client", "capture_exceptions", "capture_ip", "user_id"})
# Django answers these with a 4xx response: the client's mistake, not an error of the app.
_CLIENT_ERRORS: Final = (Http404, PermissionDenied, BadRequest, SuspiciousOperation)


def authenticated_user_id(request: HttpRequest) -> object:
    """The primary key of ``request.user`` when logged in (the default ``user_id``)."""
    user = getattr(request, "user", None)
    return user.pk if user is not None and user.is_authenticated else None


class PostHogMiddleware:
    """Runs each request in a context identified from its headers or its user (sync or async)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        options: dict[str, Any] = dict(getattr(settings, "POSTHOG_MIDDLEWARE", {}))
        unknown = set(options) - _OPTIONS
        if unknown:
            raise ImproperlyConfigured(
                f"POSTHOG_MIDDLEWARE: unknown option(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(_OPTIONS))}"
            )
        self.client = options.get("client")
        self.capture_exceptions = bool(options.get("capture_exceptions", True))
        self.capture_ip = bool(options.get("capture_ip", False))
        user_id = options.get("user_id", authenticated_user_id)
        self.user_id: Callable[[HttpRequest], object] | None = (
            import_string(user_id) if isinstance(user_id, str) else user_id
        )
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self._async:
            return self._call_async(request)
        with self._context():
            if not begin_request(_describe(request), capture_ip=self.capture_ip) and self.user_id:
                identify_user(self.user_id, request)
            response: HttpResponseBase = self.get_response(request)
            return response

    async def _call_async(self, request: HttpRequest) -> HttpResponseBase:
        with self._context():
            if not begin_request(_describe(request), capture_ip=self.capture_ip) and self.user_id:
                # request.user may query the database, which Django forbids on the event loop.
                await sync_to_async(identify_user)(self.user_id, request)
            response: HttpResponseBase = await self.get_response(request)
            return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        # Django turns a view's exception into a response before it reaches __call__, so it is
        # captured here, inside the request's context; returning None lets Django go on.
        if self.capture_exceptions and not isinstance(exception, _CLIENT_ERRORS):
            capture_unhandled(exception, self.client)

    def _context(self) -> new_context:
        return new_context(
            fresh=True, capture_exceptions=self.capture_exceptions, client=self.client
        )


def _describe(request: HttpRequest) -> RequestInfo:
    try:
        url = request.build_absolute_uri()
    except DisallowedHost:  # Django answers 400 later; the request must not fail here
        url = request.get_full_path()
    return RequestInfo(
        url=url,
        path=request.path,
        method=request.method,
        user_agent=request.headers.get("User-Agent"),
        ip=request.META.get("REMOTE_ADDR"),
        distinct_id_header=request.headers.get(DISTINCT_ID_HEADER),
        session_id_header=request.headers.get(SESSION_ID_HEADER),
    )
