"""Flask extension: every request runs in its own ``new_context()``.

Example::

    from posthog_client.integrations.flask import PostHog

    app = Flask(__name__)
    PostHog(app, user_id=lambda request: g.user.id if g.user else None)  # or .init_app(app)

Events captured during a request get the frontend's distinct id (``X-POSTHOG-DISTINCT-ID``),
else what ``user_id(request)`` returns (None: not logged in), and the frontend's
``X-POSTHOG-SESSION-ID``; they are tagged with the URL, method, path and user agent.
``user_id`` runs after the ``before_request`` hooks registered before ``init_app`` (register
the one that loads the user first), and may read ``g``, ``session`` or a lazy user such as
Flask-Login's ``current_user``. Unhandled
exceptions are sent as ``$exception`` (``capture_exceptions=False`` to turn off); Flask then
answers 500 as usual. ``capture_ip=True`` tags ``$ip`` with ``request.remote_addr`` (behind a
proxy, apply werkzeug's ``ProxyFix`` first). ``client`` defaults to the one ``init()`` made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from .._exceptions import IntegrationUnavailable

try:
    from flask import Flask, Request, g, got_request_exception, request
except ImportError as exc:  # pragma: no cover - exercised only without Flask
    raise IntegrationUnavailable("pip install 'posthog-client[flask]'") from exc

from .._context import capture_unhandled, new_context
from .._identity.context import current_context
from ._common import (
    DISTINCT_ID_HEADER,
    SESSION_ID_HEADER,
    RequestInfo,
    begin_request,
    identify_user,
)

if TYPE_CHECKING:
    from .._client import Client

__all__ = ["PostHog"]

_G_KEY: Final = "_posthog_client_context"


class PostHog:
    """Opens a context before each request (ahead of the app's own hooks), closes it on
    teardown, and captures the exceptions Flask reports with ``got_request_exception``."""

    def __init__(
        self,
        app: Flask | None = None,
        *,
        client: Client | None = None,
        capture_exceptions: bool = True,
        capture_ip: bool = False,
        user_id: Callable[[Request], object] | None = None,
    ) -> None:
        self.client = client
        self.capture_exceptions = capture_exceptions
        self.capture_ip = capture_ip
        self.user_id = user_id
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Install the hooks on ``app`` (once per app)."""
        app.extensions["posthog_client"] = self
        # First, so events of the app's own before_request hooks are in the context too.
        app.before_request_funcs.setdefault(None, []).insert(0, self._open)
        if self.user_id is not None:
            app.before_request(self._identify_user)
        app.teardown_request(self._close)
        if self.capture_exceptions:
            got_request_exception.connect(self._on_exception, app, weak=False)

    def _open(self) -> None:
        context = new_context(fresh=True, capture_exceptions=False, client=self.client)
        context.__enter__()
        setattr(g, _G_KEY, context)
        begin_request(_describe(request), capture_ip=self.capture_ip)

    def _identify_user(self) -> None:
        context = current_context()
        if self.user_id is not None and context is not None and context.distinct_id is None:
            identify_user(self.user_id, request)

    def _close(self, exc: BaseException | None) -> None:
        context = g.pop(_G_KEY, None)
        if context is not None:
            context.__exit__(None, None, None)

    def _on_exception(self, sender: Flask, exception: Exception, **extra: Any) -> None:
        capture_unhandled(exception, self.client)


def _describe(current: Request) -> RequestInfo:
    return RequestInfo(
        url=current.url,
        path=current.path,
        method=current.method,
        user_agent=current.headers.get("User-Agent"),
        ip=current.remote_addr,
        distinct_id_header=current.headers.get(DISTINCT_ID_HEADER),
        session_id_header=current.headers.get(SESSION_ID_HEADER),
    )
