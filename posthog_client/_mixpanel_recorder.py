"""The test double's Mixpanel half: what a Mixpanel-mode client sends, resolved as Mixpanel would.

``Recorder.attach`` hands each Mixpanel-mode client a ``MixpanelFeed``: its events are mapped as
the Mixpanel transport maps them (``_mixpanel.map_event``) and ingested by the local server's
``MixpanelEngine`` under the client's ID-merge model, so a test asks who an event belongs to and
gets Mixpanel's answer (``alias`` refused under Simplified, ``$device:`` ids, links made by the
first event carrying both ids…). Events are recorded as Mixpanel receives them: ``distinct_id``
is the one on the wire, ``uuid`` the ``$insert_id``, ``properties`` Mixpanel's.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NamedTuple

from ._mixpanel import MixpanelRecord, MixpanelSettings

if TYPE_CHECKING:
    from ._config import Options
    from ._delivery.backend import EventResults
    from .server.mixpanel import MixpanelEngine

__all__ = ["FeedUser", "MixpanelFeed"]

_ENDPOINTS = {"event": "import", "profile": "engage", "group": "groups"}


class FeedUser(NamedTuple):
    """A user as the recorder reports it; ``owned``: the uuids of its events."""

    distinct_id: str
    distinct_ids: tuple[str, ...]
    properties: dict[str, Any]
    is_identified: bool  # it has a user id, not only device ids
    owned: frozenset[str]


class MixpanelFeed:
    """The backend of one Mixpanel project's clients feeding a ``Recorder``; ``keep`` stores the
    recorded events (deduplicated by the recorder)."""

    def __init__(self, options: Options, keep: Callable[[list[dict[str, Any]]], None]) -> None:
        assert options.mixpanel_token is not None
        account = options.mixpanel_service_account
        self.settings = MixpanelSettings(
            options.mixpanel_token, options.mixpanel_id_merge, service_account=account is not None
        )
        self._account = account
        self._keep = keep
        self.engine = self._new_engine()

    def _new_engine(self) -> MixpanelEngine:
        from .server.mixpanel import MixpanelEngine, ServiceAccount  # deferred, as the recorder's

        engine = MixpanelEngine(
            ":memory:",
            model=self.settings.id_merge,
            token=self.settings.token,
            service_account=None if self._account is None else ServiceAccount(*self._account),
        )
        self._finalizer = weakref.finalize(self, engine.close)
        return engine

    def clear(self) -> None:
        """Forget every user (the clients keep sending here)."""
        self._finalizer()
        self.engine = self._new_engine()

    def serves(self, options: Options) -> bool:
        """Whether a client with ``options`` sends to this feed's project and model."""
        return (options.mixpanel_token, options.mixpanel_id_merge) == (
            self.settings.token,
            self.settings.id_merge,
        )

    def send(self, batch: Sequence[bytes]) -> EventResults | None:
        """Ingest ``batch`` as Mixpanel would; the events it refuses are dropped, as over HTTP."""
        from ._delivery.backend import EventResults
        from ._delivery.mixpanel import records_of

        dropped: dict[int, str] = {}
        kept: list[dict[str, Any]] = []
        for index, line in enumerate(batch):
            try:
                records = records_of(line, self.settings)
            except Exception:  # as the transport: one bad line never holds up its batch
                dropped[index] = "not an event"
                continue
            for record in records:
                failure = self._ingest(record)
                if failure is not None:
                    dropped.setdefault(index, failure)
                elif record.kind == "event":
                    kept.append(_recorded(record.body))
        self._keep(kept)
        return EventResults(dropped) if dropped else None

    def _ingest(self, record: MixpanelRecord) -> str | None:
        report = self.engine.ingest(
            _ENDPOINTS[record.kind],  # type: ignore[arg-type]
            [record.body],
            strict=record.kind == "event",
            privileged=record.privileged,
        )
        return report.failed[0].message if report.failed else None

    def close(self) -> None:
        """Nothing to release: the feed lives as long as its recorder."""

    def user(self, distinct_id: str) -> FeedUser | None:
        """The user ``distinct_id`` resolves to now, or None."""
        found = self.engine.person(distinct_id)
        if found is None:
            return None
        identified = any(not i.startswith("$device:") for i in found.distinct_ids)
        owned = frozenset(event.insert_id for event in self.engine.events(found))
        return FeedUser(found.distinct_id, found.distinct_ids, found.properties, identified, owned)

    def describe(self) -> list[str]:
        """Lines for a failure message: the users and the refused identity events."""
        users = self.engine.persons()
        lines = [f"Mixpanel users ({self.settings.id_merge} ID merge, {len(users)}):"]
        lines += [f"  {user.distinct_id} ids={list(user.distinct_ids)}" for user in users]
        refusals = self.engine.refusals()
        if refusals:
            lines.append(f"Refused identity events ({len(refusals)}):")
            lines += [f"  {r.event} {r.distinct_id!r}: {r.reason}" for r in refusals]
        return lines


def _recorded(body: dict[str, Any]) -> dict[str, Any]:
    """A Mixpanel event record in the recorder's event shape."""
    properties = body["properties"]
    moment = datetime.fromtimestamp(properties["time"] / 1000, timezone.utc)
    return {
        "event": body["event"],
        "distinct_id": properties.get("distinct_id"),
        "properties": properties,
        "uuid": properties.get("$insert_id"),
        "timestamp": moment.isoformat(),
    }
