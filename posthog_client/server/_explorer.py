"""The person explorer: server-rendered pages at ``/`` that show what the engine resolved.

``/``                  persons, newest first; ``?q=`` searches ids and property values
``/persons/{uuid}``    one person: ids, properties and their sources, merges, warnings, timeline
``/events``            every event, newest first
``/warnings``          every ingestion warning, newest first
``/explorer/revision`` ``{"revision": n}``: the pages poll it to refresh as events arrive
"""

from __future__ import annotations

from typing import Final, Generic, Protocol, TypeVar
from urllib.parse import quote

from ._engine import PersonEngine
from ._explorer_assets import CSS, JS
from ._explorer_html import (
    CSP,
    esc,
    events_page,
    layout,
    person_name,
    persons_page,
    warnings_page,
)
from ._explorer_person import PersonView, person_page
from ._query import BadParameterError, page
from ._router import Handler, Request, Response, Route

__all__ = ["ExplorerPages", "Pages", "explorer_routes", "page_routes"]

_PERSONS_PER_PAGE: Final = 50
_EVENTS_PER_PAGE: Final = 100
_TIMELINE_PER_PAGE: Final = 50
_SHOWN_MERGES: Final = 200
_MAX_SEARCH: Final = 500
_PAGE_HEADERS: Final = (("Content-Security-Policy", CSP), ("Cache-Control", "no-store"))


def explorer_routes(engine: PersonEngine) -> list[Route]:
    """The explorer's pages over ``engine``."""
    return page_routes(_Explorer(engine))


class ExplorerPages(Protocol):
    """The handlers of an explorer's pages (PostHog's persons, or Mixpanel's users)."""

    def persons(self, request: Request) -> Response: ...
    def person(self, request: Request) -> Response: ...
    def events(self, request: Request) -> Response: ...
    def warnings(self, request: Request) -> Response: ...
    def revision(self, request: Request) -> Response: ...


def page_routes(pages: ExplorerPages) -> list[Route]:
    """The explorer's pages (private: they show stored data) and its two static files."""
    return [
        Route("GET", "/", pages.persons, private=True, html=True),
        Route("GET", "/persons/{id}", pages.person, private=True, html=True),
        Route("GET", "/events", pages.events, private=True, html=True),
        Route("GET", "/warnings", pages.warnings, private=True, html=True),
        Route("GET", "/explorer/revision", pages.revision, private=True),
        Route("GET", "/explorer/app.css", _static(CSS, "text/css")),
        Route("GET", "/explorer/app.js", _static(JS, "text/javascript")),
    ]


class _Revisioned(Protocol):
    @property
    def revision(self) -> int: ...


E = TypeVar("E", bound=_Revisioned)


class Pages(Generic[E]):
    """What every explorer's pages share: the layout, carrying the revision its script polls to
    refresh as data arrives, and the answer to a bad request."""

    def __init__(self, engine: E) -> None:
        self._engine = engine

    def revision(self, request: Request) -> Response:
        headers = (("Cache-Control", "no-store"),)
        return Response.json(200, {"revision": self._engine.revision}, headers=headers)

    def _page(self, title: str, tab: str, body: str, *, status: int = 200) -> Response:
        content = layout(title, tab, body, revision=self._engine.revision)
        return Response(status, content, "text/html; charset=utf-8", _PAGE_HEADERS)

    def _bad(self, message: str) -> Response:
        return self._page(
            "Bad request", "/", f"<h1>Bad request</h1><p>{esc(message)}</p>", status=400
        )


class _Explorer(Pages[PersonEngine]):
    def persons(self, request: Request) -> Response:
        search = (request.first("q") or "").strip()[:_MAX_SEARCH]
        try:
            limit, offset = page(request, _PERSONS_PER_PAGE)
        except BadParameterError as exc:
            return self._bad(str(exc))
        engine = self._engine
        if search:
            persons, total = engine.search_persons(search, limit=limit, offset=offset)
        else:
            persons = engine.persons(limit=limit, offset=offset, newest_first=True)
            total = engine.count_persons()
        counts = [engine.count_events(p.distinct_ids[0]) for p in persons]
        totals = (engine.count_persons(), engine.count_events(), engine.count_warnings())
        body = persons_page(persons, counts, total, search, offset, limit, totals)
        return self._page("Persons", "/", body)

    def person(self, request: Request) -> Response:
        uuid = request.params["id"]
        engine = self._engine
        person = engine.person_by_uuid(uuid)
        if person is None:
            target = engine.merged_into(uuid)
            if target is not None:  # merged away: its history lives on in the target
                return Response(303, headers=(("Location", f"/persons/{quote(target)}"),))
            message = (
                f"<h1>No such person</h1><p>No person has the uuid <code>{esc(uuid)}</code>.</p>"
            )
            return self._page("No such person", "/", message, status=404)
        try:
            limit, offset = page(request, _TIMELINE_PER_PAGE)
        except BadParameterError as exc:
            return self._bad(str(exc))
        oldest_first = request.first("order") == "oldest"
        first_id = person.distinct_ids[0]
        view = PersonView(
            person=person,
            events=engine.events(first_id, limit=limit, offset=offset, oldest_first=oldest_first),
            event_count=engine.count_events(first_id),
            merges=engine.merges(uuid, limit=_SHOWN_MERGES),
            warnings=engine.person_warnings(uuid, limit=_SHOWN_MERGES),
            offset=offset,
            limit=limit,
            oldest_first=oldest_first,
        )
        return self._page(person_name(person), "/", person_page(view))

    def events(self, request: Request) -> Response:
        try:
            limit, offset = page(request, _EVENTS_PER_PAGE)
        except BadParameterError as exc:
            return self._bad(str(exc))
        events = self._engine.events(limit=limit, offset=offset)
        names = {}
        for uuid in {e.person_uuid for e in events}:
            person = self._engine.person_by_uuid(uuid)
            if person is not None:  # else a personless id's virtual person (S17)
                names[uuid] = person_name(person)
        body = events_page(events, names, self._engine.count_events(), offset, limit)
        return self._page("Events", "/events", body)

    def warnings(self, request: Request) -> Response:
        try:
            limit, offset = page(request, _EVENTS_PER_PAGE)
        except BadParameterError as exc:
            return self._bad(str(exc))
        warnings = self._engine.warnings(limit=limit, offset=offset, newest_first=True)
        body = warnings_page(warnings, self._engine.count_warnings(), offset, limit)
        return self._page("Ingestion warnings", "/warnings", body)


def _static(text: str, content_type: str) -> Handler:
    body = text.encode()

    def serve(request: Request) -> Response:
        headers = (("Cache-Control", "max-age=300"),)
        return Response(200, body, f"{content_type}; charset=utf-8", headers)

    return serve
