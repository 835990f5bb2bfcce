"""The local server's JSON query API: persons, event histories, ingestion warnings.

``GET /api/persons``                every person (paginated)
``GET /api/persons?distinct_id=X``  the person X resolves to, with all its ids and properties
``GET /api/persons/{uuid}``         one person by UUID
``GET /api/events?distinct_id=X``   the full history of X's person, newest first (no X: all)
``GET /api/ingestion_warnings``     PostHog's ingestion warnings, oldest first

Lists take ``limit`` (default 100, at most 10 000) and ``offset`` and answer
``{"results": [...], "count": <total>, "limit": ..., "offset": ...}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ._engine import PersonEngine

__all__ = ["answer_query"]

_DEFAULT_LIMIT: Final = 100
_MAX_LIMIT: Final = 10_000

_Response = tuple[int, dict[str, Any]]


class _BadParameter(Exception):
    pass


def answer_query(engine: PersonEngine, path: str, query: Mapping[str, Sequence[str]]) -> _Response:
    """The status and JSON body answering ``GET path?query``."""
    parts = [part for part in path.split("/") if part]
    try:
        if parts == ["api", "persons"]:
            return _persons(engine, query)
        if len(parts) == 3 and parts[:2] == ["api", "persons"]:
            person = engine.person_by_uuid(parts[2])
            if person is None:
                return _error(404, "person_not_found", "no person has this uuid")
            return 200, person.to_json()
        if parts == ["api", "events"]:
            distinct_id = _first(query, "distinct_id")
            limit, offset = _page(query)
            events = engine.events(distinct_id, limit=limit, offset=offset)
            return 200, _list(
                [e.to_json() for e in events], engine.count_events(distinct_id), limit, offset
            )
        if parts == ["api", "ingestion_warnings"]:
            warnings = [w.to_json() for w in engine.warnings()]
            return 200, {"results": warnings, "count": len(warnings)}
    except _BadParameter as exc:
        return _error(400, "invalid_parameter", str(exc))
    return _error(404, "not_found", f"no such route: GET {path}")


def _persons(engine: PersonEngine, query: Mapping[str, Sequence[str]]) -> _Response:
    distinct_id = _first(query, "distinct_id")
    if distinct_id is not None:
        person = engine.person(distinct_id)
        if person is None:
            return _error(404, "person_not_found", "no person has this distinct_id")
        return 200, person.to_json()
    limit, offset = _page(query)
    persons = engine.persons(limit=limit, offset=offset)
    return 200, _list([p.to_json() for p in persons], engine.count_persons(), limit, offset)


def _list(results: list[dict[str, Any]], count: int, limit: int, offset: int) -> dict[str, Any]:
    return {"results": results, "count": count, "limit": limit, "offset": offset}


def _page(query: Mapping[str, Sequence[str]]) -> tuple[int, int]:
    return _int(query, "limit", _DEFAULT_LIMIT, _MAX_LIMIT), _int(query, "offset", 0, None)


def _int(query: Mapping[str, Sequence[str]], name: str, default: int, maximum: int | None) -> int:
    text = _first(query, name)
    if text is None or text == "":
        return default
    if not (text.isascii() and text.isdigit()):
        raise _BadParameter(f"{name} must be a non-negative integer")
    value = int(text)
    if maximum is not None and value > maximum:
        raise _BadParameter(f"{name} must be at most {maximum}")
    return value


def _first(query: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _error(status: int, code: str, message: str) -> _Response:
    return status, {"status": status, "code": code, "error": message}
