"""HTML of the explorer's person page: ids, properties and where each came from, merges,
warnings, and the timeline of every event of every id."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, urlencode

from ._explorer_html import (
    EVENT_HEADERS,
    WARNING_HEADERS,
    chip,
    esc,
    event_rows,
    pager,
    person_link,
    person_name,
    table,
    time_text,
    warning_rows,
)
from ._models import IngestionWarning, MergeRecord, Person, StoredEvent

__all__ = ["PersonView", "person_page"]

_OUTCOMES: Final = {
    "created": ("ok", "new person for both ids"),
    "attached": ("ok", "joined"),
    "already_merged": ("", "already the same person"),
    "merged": ("ok", "merged two persons"),
    "refused": ("bad", "refused"),
}


@dataclass(frozen=True)
class PersonView:
    """Everything the person page shows, read from the engine."""

    person: Person
    events: Sequence[StoredEvent]
    event_count: int
    merges: Sequence[MergeRecord]
    warnings: Sequence[IngestionWarning]
    offset: int
    limit: int
    oldest_first: bool


def person_page(view: PersonView) -> str:
    person = view.person
    status = (
        '<span class="badge ok">identified</span>'
        if person.is_identified
        else '<span class="badge">anonymous</span>'
    )
    facts = "".join(
        f"<div><span>{label}</span>{value}</div>"
        for label, value in (
            ("Person UUID", f'<code id="person-uuid">{esc(person.uuid)}</code>'),
            ("Created", f'<span class="time">{time_text(person.created_at)}</span>'),
            ("Last seen", f'<span class="time">{time_text(person.last_seen_at)}</span>'),
            ("Distinct IDs", str(len(person.distinct_ids))),
            ("Events", str(view.event_count)),
            ("Version", str(person.version)),
        )
    )
    ids = "".join(chip(i) for i in person.distinct_ids)
    return (
        f'<p class="sub"><a href="/">Persons</a> / {esc(person_name(person))}</p>'
        f'<h1 id="person-name">{esc(person_name(person))} {status}</h1>'
        f'<div class="card"><div class="facts">{facts}</div></div>'
        f'<div class="card"><h2>Distinct IDs ({len(person.distinct_ids)})</h2>'
        f'<div id="distinct-ids">{ids}</div>'
        '<p class="muted">Oldest first. Every one of them leads to this person and its whole '
        "history.</p></div>"
        f'<div class="card"><h2>How this person was made</h2>{_merges(view)}</div>'
        f"{_warnings(view)}"
        f'<div class="card"><h2>Properties</h2>{_properties(person)}</div>'
        f"{_timeline(view)}"
    )


def _properties(person: Person) -> str:
    if not person.properties:
        return '<p class="empty">No properties.</p>'
    rows = []
    for key in sorted(person.properties, key=lambda k: (k.startswith("$"), k)):
        value = json.dumps(person.properties[key], ensure_ascii=False, default=str)
        source = person.property_sources.get(key)
        origin = (
            f'<code>{esc(source.operation)}</code> on <a href="#event-{esc(source.event_uuid)}">'
            f"<code>{esc(source.event)}</code></a>"
            f'<div class="time">{time_text(source.timestamp)}</div>'
            if source is not None
            else '<span class="muted">not recorded</span>'
        )
        rows.append(
            f'<tr data-key="{esc(key)}"><td><code>{esc(key)}</code></td>'
            f'<td class="mono">{esc(value)}</td><td class="source">{origin}</td></tr>'
        )
    return table("properties", ("Key", "Value", "Set by"), "".join(rows))


def _merges(view: PersonView) -> str:
    if not view.merges:
        return (
            '<p class="empty">No merge request: one distinct id, never identified or aliased.</p>'
        )
    rows = []
    for merge in reversed(view.merges):  # oldest first: the order the person was built in
        tone, label = _OUTCOMES.get(merge.outcome, ("", merge.outcome))
        outcome = f'<span class="badge {tone}">{esc(label)}</span>'
        if merge.warning:
            outcome += f'<div><span class="badge warn">{esc(merge.warning)}</span></div>'
        if merge.outcome == "refused":
            sides = (
                (merge.target_person_uuid, merge.distinct_id),
                (merge.source_person_uuid, merge.other_distinct_id),
            )
            for uuid, distinct_id in sides:
                if uuid is not None and uuid != view.person.uuid:
                    outcome += f"<div>{person_link(uuid, f'the person of {distinct_id}')}</div>"
        rows.append(
            f'<tr class="merge outcome-{esc(merge.outcome)}">'
            f'<td class="time">{time_text(merge.timestamp)}</td>'
            f'<td><a href="#event-{esc(merge.event_uuid)}"><code>{esc(merge.event)}</code></a>'
            f"<div>{chip(merge.other_distinct_id)} → {chip(merge.distinct_id)}</div></td>"
            f"<td>{outcome}</td></tr>"
        )
    return table("merges", ("When", "Request", "Outcome"), "".join(rows))


def _warnings(view: PersonView) -> str:
    if not view.warnings:
        return ""
    return (
        f'<div class="card notice"><h2>Ingestion warnings ({len(view.warnings)})</h2>'
        f"{table('person-warnings', WARNING_HEADERS, warning_rows(view.warnings))}</div>"
    )


def _timeline(view: PersonView) -> str:
    path = f"/persons/{quote(view.person.uuid, safe='')}"
    order = "oldest first" if view.oldest_first else "newest first"
    flip = {"order": "newest" if view.oldest_first else "oldest"}
    toggle = f'<a href="{path}?{urlencode(flip)}">show {flip["order"]} first</a>'
    query = {"order": "oldest"} if view.oldest_first else {}
    body = (
        table("timeline", EVENT_HEADERS, event_rows(view.events))
        if view.events
        else '<p class="empty">No events.</p>'
    )
    return (
        f'<div class="card"><h2>Timeline: {view.event_count} events of every id, {order} '
        f'<span class="muted">· {toggle}</span></h2>{body}'
        f"{pager(path, query, view.offset, view.limit, view.event_count)}</div>"
    )
