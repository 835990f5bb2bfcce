"""The local server's JSON query API: persons, event histories, merges, ingestion warnings.

``GET /api/persons``                every person (paginated)
``GET /api/persons?distinct_id=X``  the person X resolves to, with all its ids and properties
``GET /api/persons/{uuid}``         one person by UUID
``GET /api/persons/{uuid}/merges``  the merge requests that made the person (refusals too)
``GET /api/events?distinct_id=X``   the full history of X's person, newest first (no X: all)
``GET /api/ingestion_warnings``     PostHog's ingestion warnings, oldest first

Lists take ``limit`` (default 100, at most 10 000) and ``offset`` and answer
``{"results": [...], "count": <total>, "limit": ..., "offset": ...}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Protocol

from ._engine import PersonEngine
from ._router import Request, Response, Route

__all__ = ["BadParameterError", "Fetch", "listed", "page", "persons_answer", "query_routes"]

Fetch = Callable[[int, int], tuple[list[dict[str, Any]], int]]
"""``(limit, offset)`` → one page of results and the total."""

_DEFAULT_LIMIT: Final = 100
_MAX_LIMIT: Final = 10_000
_MAX_OFFSET: Final = 2**62  # SQLite integers are 64-bit
_MAX_DIGITS: Final = 19


class BadParameterError(ValueError):
    """A query parameter out of its range: answered with 400."""


def page(request: Request, default_limit: int = _DEFAULT_LIMIT) -> tuple[int, int]:
    """``limit`` and ``offset`` of a list request; ``BadParameterError`` when out of range."""
    return (
        _int(request, "limit", default_limit, _MAX_LIMIT),
        _int(request, "offset", 0, _MAX_OFFSET),
    )


def query_routes(engine: PersonEngine) -> list[Route]:
    """The API's routes, all private (they read stored data)."""
    api = _QueryAPI(engine)
    return [
        Route("GET", "/api/persons", api.persons, private=True),
        Route("GET", "/api/persons/{uuid}", api.person, private=True),
        Route("GET", "/api/persons/{uuid}/merges", api.merges, private=True),
        Route("GET", "/api/events", api.events, private=True),
        Route("GET", "/api/ingestion_warnings", api.warnings, private=True),
    ]


class _QueryAPI:
    def __init__(self, engine: PersonEngine) -> None:
        self._engine = engine

    def persons(self, request: Request) -> Response:
        return persons_answer(request, self._engine.person, self._persons)

    def _persons(self, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        persons = self._engine.persons(limit=limit, offset=offset)
        return [p.to_json() for p in persons], self._engine.count_persons()

    def person(self, request: Request) -> Response:
        person = self._engine.person_by_uuid(request.params["uuid"])
        if person is None:
            return Response.error(404, "person_not_found", "no person has this uuid")
        return Response.json(200, person.to_json())

    def merges(self, request: Request) -> Response:
        uuid = request.params["uuid"]
        if self._engine.person_by_uuid(uuid) is None:
            return Response.error(404, "person_not_found", "no person has this uuid")
        merges = [m.to_json() for m in reversed(self._engine.merges(uuid, limit=_MAX_LIMIT))]
        return Response.json(200, {"results": merges, "count": len(merges)})

    def events(self, request: Request) -> Response:
        distinct_id = request.first("distinct_id")

        def fetch(limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
            events = self._engine.events(distinct_id, limit=limit, offset=offset)
            return [e.to_json() for e in events], self._engine.count_events(distinct_id)

        return listed(request, fetch)

    def warnings(self, request: Request) -> Response:
        warnings = [w.to_json() for w in self._engine.warnings()]
        return Response.json(200, {"results": warnings, "count": len(warnings)})


class _Found(Protocol):
    def to_json(self) -> dict[str, Any]: ...


def persons_answer(
    request: Request, find: Callable[[str], _Found | None], fetch: Fetch
) -> Response:
    """``?distinct_id=X``: the person X belongs to (``find``; 404 if none); else a page of all."""
    distinct_id = request.first("distinct_id")
    if distinct_id is None:
        return listed(request, fetch)
    person = find(distinct_id)
    if person is None:
        return Response.error(404, "person_not_found", "no person has this distinct_id")
    return Response.json(200, person.to_json())


def listed(request: Request, fetch: Fetch) -> Response:
    """One page of a list, as ``{"results", "count", "limit", "offset"}`` (400 out of range)."""
    try:
        limit, offset = page(request)
    except BadParameterError as exc:
        return Response.error(400, "invalid_parameter", str(exc))
    results, count = fetch(limit, offset)
    return Response.json(
        200, {"results": results, "count": count, "limit": limit, "offset": offset}
    )


def _int(request: Request, name: str, default: int, maximum: int) -> int:
    text = request.first(name)
    if text is None or text == "":
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > _MAX_DIGITS:
        raise BadParameterError(f"{name} must be an integer from 0 to {maximum}")
    value = int(text)
    if value > maximum:
        raise BadParameterError(f"{name} must be at most {maximum}")
    return value
