"""HTML of the person explorer: the layout, shared pieces, and the list pages.

Every value from stored data goes through ``esc`` (text and attribute escaping). Pages carry no
inline script or style, so the Content-Security-Policy forbids both.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote, urlencode

from ._models import IngestionWarning, Person, StoredEvent

__all__ = [
    "CSP",
    "EVENT_HEADERS",
    "WARNING_HEADERS",
    "chip",
    "counted",
    "esc",
    "event_rows",
    "events_page",
    "json_block",
    "layout",
    "pager",
    "person_link",
    "person_name",
    "persons_page",
    "table",
    "time_text",
    "warning_rows",
    "warnings_page",
]

CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_NAME_KEYS: Final = ("email", "name", "username", "$email", "$name")
_HUES: Final = 6
_UUID: Final = re.compile(r"[0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}")
_TOTALS: Final = ("person", "event", "ingestion warning")
EVENT_HEADERS: Final = ("Time (UTC)", "Event", "Distinct ID", "Properties")
WARNING_HEADERS: Final = ("Received (UTC)", "Warning", "Details")
# how ingestion treated an event's person, when not in full (S17)
_MODES: Final = {
    "propertyless": ' <span class="badge" title="person_mode: propertyless">personless</span>',
    "force_upgrade": ' <span class="badge" title="person_mode: force_upgrade">force upgrade</span>',
}
_TABS: Final = (("/", "Persons"), ("/events", "Events"), ("/warnings", "Ingestion warnings"))


def esc(value: object) -> str:
    """``value`` as text safe in HTML content and in double-quoted attributes."""
    return html.escape(str(value), quote=True)


def counted(number: int, noun: str, plural: str = "") -> str:
    """``1 event``, ``2 events`` (``plural`` when adding an s will not do)."""
    return f"{number} {noun}" if number == 1 else f"{number} {plural or noun + 's'}"


def time_text(value: datetime | None) -> str:
    """A UTC time to the millisecond, e.g. ``2024-05-01 12:00:05.123``."""
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def person_name(person: Person) -> str:
    """What a person is called on screen: an email or name property, else its first distinct id
    that is not a UUID (SDKs make anonymous ids UUIDs), else its first distinct id."""
    for key in _NAME_KEYS:
        value = person.properties.get(key)
        if isinstance(value, str) and value.strip():
            return value
    named = [i for i in person.distinct_ids if not _UUID.fullmatch(i)]
    return (named or list(person.distinct_ids) or [person.uuid])[0]


def person_link(person_uuid: str, text: str) -> str:
    return f'<a href="/persons/{quote(person_uuid, safe="")}">{esc(text)}</a>'


def chip(distinct_id: str, *, search: bool = True) -> str:
    """A distinct id as a coloured chip (the same id, the same colour), linking to a search."""
    hue = hashlib.blake2s(distinct_id.encode("utf-8", "replace")).digest()[0] % _HUES
    label = f'<span class="chip hue-{hue}" title="{esc(distinct_id)}">{esc(distinct_id)}</span>'
    if not search:
        return label
    return f'<a href="/?{urlencode({"q": distinct_id})}">{label}</a>'


def _compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def table(table_id: str, headers: Sequence[str], rows: str) -> str:
    """A table with a header row; ``rows`` is the body's HTML. A ``#`` header is right-aligned."""
    cells = "".join(
        f'<th class="num">{h[1:]}</th>' if h.startswith("#") else f"<th>{h}</th>" for h in headers
    )
    return f'<table id="{table_id}"><thead><tr>{cells}</tr></thead><tbody>{rows}</tbody></table>'


def json_block(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str)
    return f"<pre>{esc(text)}</pre>"


def layout(title: str, active: str, body: str, *, revision: int) -> bytes:
    """A whole page: header with tabs, then ``body`` inside ``<main>``."""
    tabs = "".join(
        f'<a href="{href}" class="active">{label}</a>' if href == active
        else f'<a href="{href}">{label}</a>'
        for href, label in _TABS
    )  # fmt: skip
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="explorer-revision" content="{revision}">
<title>{esc(title)} · PostHog local server</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="/explorer/app.css">
<script src="/explorer/app.js" defer></script></head>
<body><header><span class="brand">PostHog local server</span><nav>{tabs}</nav>
<span class="live" title="This page updates as events arrive">live</span></header>
<main>{body}</main></body></html>""".encode()


def pager(path: str, query: Mapping[str, str], offset: int, limit: int, total: int) -> str:
    """ "1–50 of 120" with links to the previous and next pages."""
    if total <= limit and offset == 0:
        return ""

    def link(to: int, text: str) -> str:
        return f'<a href="{path}?{urlencode({**query, "offset": str(to)})}">{text}</a>'

    shown = f"{min(offset + 1, total)}–{min(offset + limit, total)} of {total}"
    newer = link(max(offset - limit, 0), "‹ previous") if offset > 0 else ""
    older = link(offset + limit, "next ›") if offset + limit < total else ""
    return f'<div class="pager">{newer}<span>{shown}</span>{older}</div>'


def persons_page(
    persons: Sequence[Person],
    event_counts: Sequence[int],
    total: int,
    search: str,
    offset: int,
    limit: int,
    totals: tuple[int, int, int],
) -> str:
    """The persons list, newest first, with the search box."""
    people, events, warnings = (counted(n, w) for n, w in zip(totals, _TOTALS, strict=True))
    rows = "".join(_person_row(p, n) for p, n in zip(persons, event_counts, strict=True))
    found = counted(total, "person")
    heading = f"{found} matching <code>{esc(search)}</code>" if search else f"{found}, newest first"
    empty = "No person matches." if search else "No person yet: send some events."
    listing = (
        table("persons", ("Person", "Distinct IDs", "#Events", "Last seen", "Created"), rows)
        if rows
        else f'<p class="empty">{empty}</p>'
    )
    query = {"q": search} if search else {}
    return (
        f'<h1>Persons</h1><p class="sub">{people} · {events} · '
        f'<a href="/warnings">{warnings}</a></p>'
        '<form class="search" method="get" action="/"><input type="search" name="q" '
        f'value="{esc(search)}" placeholder="A distinct id, a property value, or key=value" '
        'aria-label="Search persons"><button type="submit">Search</button></form>'
        f'<div class="card"><h2>{heading}</h2>'
        f"{listing}{pager('/', query, offset, limit, total)}</div>"
    )


def _person_row(person: Person, events: int) -> str:
    ids = "".join(chip(i) for i in person.distinct_ids[:6])
    if len(person.distinct_ids) > 6:
        ids += f'<span class="muted">+{len(person.distinct_ids) - 6} more</span>'
    status = (
        '<span class="badge ok">identified</span>'
        if person.is_identified
        else '<span class="badge">anonymous</span>'
    )
    return (
        f"<tr><td>{person_link(person.uuid, person_name(person))} {status}"
        f'<div class="uuid mono">{esc(person.uuid)}</div></td><td>{ids}</td>'
        f'<td class="num">{events}</td><td class="time">{time_text(person.last_seen_at)}</td>'
        f'<td class="time">{time_text(person.created_at)}</td></tr>'
    )


def event_rows(events: Iterable[StoredEvent], names: Mapping[str, str] | None = None) -> str:
    """Table rows of events: time, name, distinct id, the person when ``names`` (person uuid →
    name) is given, and foldable properties."""
    rows = []
    for event in events:
        mode = _MODES.get(event.person_mode, "")
        person = ""
        if names is not None:
            name = names.get(event.person_uuid)
            person = (
                f"<td>{person_link(event.person_uuid, name)}</td>"
                if name is not None
                else '<td class="muted">none</td>'
            )
        rows.append(
            f'<tr id="event-{esc(event.uuid)}"><td class="time">{time_text(event.timestamp)}</td>'
            f'<td><code class="event-name">{esc(event.event)}</code>{mode}</td>'
            f"<td>{chip(event.distinct_id)}</td>{person}"
            f'<td><details id="props-{esc(event.uuid)}"><summary>'
            f"{counted(len(event.properties), 'property', 'properties')}"
            f"</summary>{json_block(event.properties)}</details></td></tr>"
        )
    return "".join(rows)


def events_page(
    events: Sequence[StoredEvent], names: Mapping[str, str], total: int, offset: int, limit: int
) -> str:
    """Every event, newest first, with the name of the person each belongs to now."""
    headers = (*EVENT_HEADERS[:3], "Person", EVENT_HEADERS[3])
    body = (
        table("events", headers, event_rows(events, names))
        if events
        else '<p class="empty">No event yet.</p>'
    )
    return (
        f'<h1>Events</h1><p class="sub">{counted(total, "event")}, newest first</p>'
        f'<div class="card">{body}{pager("/events", {}, offset, limit, total)}</div>'
    )


def warning_rows(warnings: Iterable[IngestionWarning]) -> str:
    return "".join(
        f'<tr><td class="time">{time_text(w.timestamp)}</td>'
        f'<td><span class="badge warn">{esc(w.type)}</span></td>'
        f"<td>{_details_text(w.details)}</td></tr>"
        for w in warnings
    )


def _details_text(details: Mapping[str, Any]) -> str:
    return "<br>".join(
        f'<span class="muted">{esc(key)}:</span> <code>{esc(_compact(value))}</code>'
        for key, value in details.items()
    )


def warnings_page(warnings: Sequence[IngestionWarning], total: int, offset: int, limit: int) -> str:
    """Every ingestion warning, newest first."""
    body = (
        table("warnings", WARNING_HEADERS, warning_rows(warnings))
        if warnings
        else '<p class="empty">No ingestion warning: PostHog would have accepted everything.</p>'
    )
    return (
        f'<h1>Ingestion warnings</h1><p class="sub">{counted(total, "warning")}, newest first</p>'
        f'<div class="card">{body}{pager("/warnings", {}, offset, limit, total)}</div>'
    )
