"""The routes of a server started in a Mixpanel mode (``--identity mixpanel-*``).

Ingestion, public, answered as Mixpanel answers (``MixpanelEngine.handle``; mixpanel-spec MS1):

``POST /track``   events (form ``data=``, base64 or JSON; raw JSON; gzip)
``POST /import``  events, Basic auth with the token or the service account; strict by default
``POST /engage``  profile updates
``POST /groups``  group profile updates

Query API, private (JSON, lists paged like PostHog's: ``limit``, ``offset``):

``GET /api/persons``                 every user (canonical id, ids, profile)
``GET /api/persons?distinct_id=X``   the user X resolves to now (404 if X was never seen)
``GET /api/events?distinct_id=X``    the events of X's user, newest first (no X: all)
``GET /api/refusals``                identity events that changed nothing, and why
``GET /api/groups``                  group profiles
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from ._query import Fetch, listed, persons_answer
from ._router import Handler, Request, Response, Route
from .mixpanel import BODY_LIMIT, IMPORT_BODY_LIMIT, Endpoint, MixpanelEngine

__all__ = ["mixpanel_routes"]

_ENDPOINTS: Final[tuple[Endpoint, ...]] = ("track", "import", "engage", "groups")


def mixpanel_routes(engine: MixpanelEngine) -> list[Route]:
    """Mixpanel's ingestion routes and the query API over ``engine``."""
    ingestion = [
        Route(
            "POST",
            f"/{endpoint}",
            _ingest_handler(engine, endpoint),
            body_limit=IMPORT_BODY_LIMIT if endpoint == "import" else BODY_LIMIT,
        )
        for endpoint in _ENDPOINTS
    ]
    api = _QueryAPI(engine)
    return [
        *ingestion,
        Route("GET", "/api/persons", api.persons, private=True),
        Route("GET", "/api/events", api.events, private=True),
        Route("GET", "/api/refusals", api.refusals, private=True),
        Route("GET", "/api/groups", api.groups, private=True),
    ]


def _ingest_handler(engine: MixpanelEngine, endpoint: Endpoint) -> Handler:
    def ingest(request: Request) -> Response:
        answer = engine.handle(
            endpoint,
            request.body,
            query=request.query,
            content_type=request.headers.get("Content-Type", ""),
            content_encoding=request.headers.get("Content-Encoding", ""),
            authorization=request.headers.get("Authorization"),
        )
        return Response(answer.status, answer.body, answer.content_type)

    return ingest


def _fetch(items: Callable[[], Sequence[Any]]) -> Fetch:
    """Pages of ``items()``, read when the request is valid."""

    def fetch(limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        found = items()
        return [item.to_json() for item in found[offset : offset + limit]], len(found)

    return fetch


class _QueryAPI:
    def __init__(self, engine: MixpanelEngine) -> None:
        self._engine = engine

    def persons(self, request: Request) -> Response:
        return persons_answer(request, self._engine.person, _fetch(self._engine.persons))

    def events(self, request: Request) -> Response:
        distinct_id = request.first("distinct_id")
        return listed(request, _fetch(lambda: self._engine.events(distinct_id)[::-1]))

    def refusals(self, request: Request) -> Response:
        return listed(request, _fetch(self._engine.refusals))

    def groups(self, request: Request) -> Response:
        return listed(request, _fetch(self._engine.groups))
