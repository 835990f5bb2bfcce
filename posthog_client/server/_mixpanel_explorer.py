"""The explorer of a server in a Mixpanel mode: Mixpanel's users as the ID-merge model resolves
them, with the same layout, script and live refresh as the PostHog explorer.

``/``                users, in the order their first id was seen; ``?q=`` opens a distinct id's
``/persons/{id}``    one user, by any of its distinct ids: ids, profile, events, refusals
``/events``          every event, newest first, with the user it belongs to now
``/warnings``        every identity event that changed nothing, and why
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final
from urllib.parse import quote, unquote

from ._explorer import Pages, page_routes
from ._explorer_html import chip, counted, esc, json_block, pager, table, time_text
from ._query import BadParameterError, page
from ._router import Request, Response, Route
from .mixpanel import MixpanelEngine, MixpanelEvent, MixpanelPerson, Refusal

__all__ = ["mixpanel_explorer_routes"]

_PER_PAGE: Final = 50


def mixpanel_explorer_routes(engine: MixpanelEngine) -> list[Route]:
    """The explorer's pages over ``engine``."""
    return page_routes(_Explorer(engine))


def _user_link(person: MixpanelPerson) -> str:
    return f'<a href="/persons/{quote(person.distinct_id, safe="")}">{esc(person.distinct_id)}</a>'


def _event_rows(events: Sequence[MixpanelEvent], owners: dict[str, MixpanelPerson]) -> str:
    rows = []
    for event in events:
        owner = owners.get(event.distinct_id)
        failure = f' <span class="badge bad">{esc(event.failure)}</span>' if event.failure else ""
        rows.append(
            f'<tr><td class="time">{time_text(event.time)}</td>'
            f'<td><code class="event-name">{esc(event.event)}</code>{failure}</td>'
            f"<td>{chip(event.sent_distinct_id, search=False)}</td>"
            f"<td>{_user_link(owner) if owner else esc(event.distinct_id)}</td>"
            f"<td><details><summary>{counted(len(event.properties), 'property', 'properties')}"
            f"</summary>{json_block(event.properties)}</details></td></tr>"
        )
    return "".join(rows)


def _refusal_rows(refusals: Sequence[Refusal]) -> str:
    return "".join(
        f'<tr><td class="time">{time_text(r.time)}</td><td><code>{esc(r.event)}</code></td>'
        f"<td>{chip(r.distinct_id, search=False)}</td>"
        f'<td><span class="badge warn">{esc(r.reason)}</span> {esc(r.description)}</td></tr>'
        for r in refusals
    )


_EVENT_HEADERS: Final = ("Time (UTC)", "Event", "Sent as", "User", "Properties")
_REFUSAL_HEADERS: Final = ("Time (UTC)", "Event", "Distinct ID", "Refused")


class _Explorer(Pages[MixpanelEngine]):
    def persons(self, request: Request) -> Response:
        search = (request.first("q") or "").strip()
        if search:
            found = self._engine.person(search)
            if found is not None:
                return Response(303, headers=(("Location", f"/persons/{quote(search, safe='')}"),))
        try:
            limit, offset = page(request, _PER_PAGE)
        except BadParameterError as exc:
            return self._bad(str(exc))
        users = self._engine.persons()
        rows = "".join(
            f"<tr><td>{_user_link(p)}</td><td>{''.join(map(chip, p.distinct_ids))}</td>"
            f'<td class="num">{len(self._engine.events(p))}</td>'
            f"<td>{json_block(p.properties) if p.has_profile else ''}</td></tr>"
            for p in users[offset : offset + limit]
        )
        missing = (
            f"<p>No user has the distinct id <code>{esc(search)}</code>.</p>" if search else ""
        )
        body = (
            f'<h1>Users</h1><p class="sub">{counted(len(users), "user")}, resolved under '
            f"{esc(self._engine.model_name)} ID merge</p>{missing}"
            '<form class="search" method="get" action="/"><input type="search" name="q" '
            'placeholder="A distinct id" aria-label="Find a user"><button type="submit">Find'
            f'</button></form><div class="card">'
            f"{table('persons', ('User', 'Distinct IDs', '#Events', 'Profile'), rows)}"
            f"{pager('/', {}, offset, limit, len(users))}</div>"
        )
        return self._page("Users", "/", body)

    def person(self, request: Request) -> Response:
        distinct_id = unquote(request.params["id"])
        person = self._engine.person(distinct_id)
        if person is None:
            body = f"<h1>No such user</h1><p>No event used <code>{esc(distinct_id)}</code>.</p>"
            return self._page("No such user", "/", body, status=404)
        events = self._engine.events(person)[::-1]
        ids = set(person.distinct_ids)
        refusals = [r for r in self._engine.refusals() if r.distinct_id in ids]
        owners = dict.fromkeys(person.stored_under, person)
        body = (
            f"<h1>{esc(person.distinct_id)}</h1>"
            f"<p>{''.join(chip(i) for i in person.distinct_ids)}</p>"
            f'<div class="card"><h2>Profile</h2>{json_block(person.properties)}</div>'
            f'<div class="card"><h2>{counted(len(events), "event")}, newest first</h2>'
            f"{table('timeline', _EVENT_HEADERS, _event_rows(events, owners))}</div>"
            f'<div class="card"><h2>{counted(len(refusals), "refusal")}</h2>'
            f"{table('refusals', _REFUSAL_HEADERS, _refusal_rows(refusals))}</div>"
        )
        return self._page(person.distinct_id, "/", body)

    def events(self, request: Request) -> Response:
        try:
            limit, offset = page(request, _PER_PAGE)
        except BadParameterError as exc:
            return self._bad(str(exc))
        events = self._engine.events()[::-1]
        shown = events[offset : offset + limit]
        owners = {}
        for key in {event.distinct_id for event in shown}:
            owner = self._engine.person(key)
            if owner is not None:
                owners[key] = owner
        body = (
            f'<h1>Events</h1><p class="sub">{counted(len(events), "event")}, newest first</p>'
            f'<div class="card">{table("events", _EVENT_HEADERS, _event_rows(shown, owners))}'
            f"{pager('/events', {}, offset, limit, len(events))}</div>"
        )
        return self._page("Events", "/events", body)

    def warnings(self, request: Request) -> Response:
        refusals = self._engine.refusals()[::-1]
        body = (
            f'<h1>Refused identity events</h1><p class="sub">{counted(len(refusals), "refusal")}'
            f'</p><div class="card">{table("warnings", _REFUSAL_HEADERS, _refusal_rows(refusals))}'
            "</div>"
        )
        return self._page("Refusals", "/warnings", body)
