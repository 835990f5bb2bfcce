"""``Recorder``: the test double's backend, published by ``posthog_client.testing``.

It keeps every delivered event and feeds it to the local server's ``PersonEngine``, which
resolves persons the way PostHog's ingestion does; queries and assertions read both.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

from ._exceptions import ConfigurationError, RejectedError
from ._log import logger

if TYPE_CHECKING:
    from ._client import Client
    from ._mixpanel_recorder import MixpanelFeed
    from .server import FlagSource, FlagsSpec, IngestionWarning, PersonEngine

__all__ = ["RecordedPerson", "Recorder"]

_LISTED_EVENTS: Final = 30  # failure messages list at most this many events
_T = TypeVar("_T")
_ANY: Final = object()


@dataclass(frozen=True)
class RecordedPerson:
    """A person as PostHog sees it now; ``events``: all of its events in delivery order,
    including the anonymous ones sent before ``identify`` and those sent under an alias."""

    uuid: str
    distinct_ids: tuple[str, ...]
    properties: dict[str, Any]
    is_identified: bool
    events: tuple[dict[str, Any], ...]


class Recorder:
    """A backend that records every delivered event and resolves persons like PostHog.

    Each query and assertion first flushes the clients feeding it. Failing assertions raise
    ``AssertionError`` listing what was captured. Events are decoded wire events (``event``,
    ``distinct_id``, ``properties``, ``uuid``, ``timestamp``), compared after JSON decoding.

    Example::

        recorder = Recorder()
        client = posthog_client.Client("phc_test", backend=recorder, persist=False, strict=True)
        client.capture("signed_up", {"plan": "pro"})
        recorder.assert_captured("signed_up", properties={"plan": "pro"})
    """

    def __init__(self, *, flush_timeout_s: float = 10.0) -> None:
        self.flush_timeout_s = flush_timeout_s
        self._lock = threading.Lock()
        self._events: list[dict[str, Any]] = []
        self._position: dict[str, int] = {}  # uuid → index in _events
        # Keyed by id(): a Client is not hashable by value; an entry leaves with its client.
        self._clients: weakref.WeakValueDictionary[int, Client] = weakref.WeakValueDictionary()
        self._engine = self._new_engine()
        self._flags: FlagSource | None = None
        self._mixpanel: MixpanelFeed | None = None  # Mixpanel-mode clients' events go there

    def _new_engine(self) -> PersonEngine:
        from .server import PersonEngine  # deferred: the server package costs import time

        engine = PersonEngine(":memory:")
        # Closes the SQLite connection once the recorder is gone, with no explicit close needed.
        self._finalizer = weakref.finalize(self, engine.close)
        return engine

    # -- Backend -------------------------------------------------------------------------------

    def send(self, batch: Sequence[bytes]) -> None:
        """Record ``batch``; a batch PostHog's capture would refuse raises ``RejectedError``."""
        from .server import RequestRejectedError

        events = [json.loads(item) for item in batch]
        with self._lock:
            try:
                self._engine.ingest(events)
            except RequestRejectedError as exc:  # as PostHog: the whole batch is refused
                raise RejectedError(str(exc), status_code=exc.status) from exc
            self._keep(events)

    def _keep(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            uuid = str(event.get("uuid"))
            if uuid not in self._position:  # a retried event is stored once, as PostHog does
                self._position[uuid] = len(self._events)
                self._events.append(event)

    def _keep_mixpanel(self, events: list[dict[str, Any]]) -> None:
        with self._lock:
            self._keep(events)

    def close(self) -> None:
        """Nothing to release: the recorder outlives the clients that close it at shutdown."""

    def flags(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Answer a client's ``/flags`` request from the flags ``set_flags`` gave, for the
        persons recorded so far (none set: every flag is unknown)."""
        from .server import FlagSource

        with self._lock:
            if self._flags is None:
                self._flags = FlagSource()
            status, answer = self._flags.answer(self._engine, body, api_key=None, headers={})
        if status != 200:
            raise RejectedError(f"/flags answered {status}: {answer}", status_code=status)
        return answer

    def set_flags(self, flags: FlagsSpec, *, payloads: Mapping[str, Any] | None = None) -> None:
        """Serve ``flags`` to the clients recording here: ``{key: True | False | "variant"}``
        for everyone (``payloads``: ``{key: JSON value}``), or flag definitions in PostHog's
        shape (a dict with ``"flags"``, or a ``flags.json`` path) evaluated for each person.
        Apps that already hold flags get these at their next load (``reload_feature_flags()``
        or ``wait_for_flags()``)."""
        from .server import FlagSource

        with self._lock:
            if self._flags is None:
                self._flags = FlagSource()
            self._flags.set(flags, payloads)

    # -- queries -------------------------------------------------------------------------------

    def flush(self) -> None:
        """Deliver what every client feeding this recorder has queued (done before each read)."""
        for client in self._feeding_clients():
            result = client.flush(self.flush_timeout_s)
            if result.pending:
                logger.warning("recorder: %d events still queued after flush", result.pending)

    def events(
        self,
        name: str | None = None,
        *,
        distinct_id: str | None = None,
        person: str | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Recorded events in delivery order, filtered by ``name``, the event's own
        ``distinct_id``, ``person`` (any distinct id of the person the event belongs to now),
        and ``properties`` (a subset the event's properties must contain)."""
        self.flush()
        with self._lock:
            recorded = list(self._events)
            owned = None if person is None else {e.uuid for e in self._engine.events(person)}
            user = None if person is None or self._mixpanel is None else self._mixpanel.user(person)
            if owned is not None and user is not None:
                owned |= user.owned
        return [
            event
            for event in recorded
            if (name is None or event.get("event") == name)
            and (distinct_id is None or event.get("distinct_id") == distinct_id)
            and (owned is None or event.get("uuid") in owned)
            and _contains(event.get("properties") or {}, properties or {})
        ]

    def person(self, distinct_id: str) -> RecordedPerson:
        """The person ``distinct_id`` belongs to now, with all its events; ``AssertionError``
        (listing what was captured) if no event used that id."""
        __tracebackhide__ = True
        self.flush()
        with self._lock:
            found = self._person(distinct_id)
        if found is None:
            raise AssertionError(f"no event used distinct id {distinct_id!r}.\n{self._report()}")
        return found

    def warnings(self) -> list[IngestionWarning]:
        """PostHog's ingestion warnings so far (a refused merge, an illegal id…), oldest first."""
        self.flush()
        with self._lock:
            return self._engine.warnings()

    def clear(self) -> None:
        """Forget every event and person (after flushing what clients still hold)."""
        self.flush()
        with self._lock:
            self._finalizer()
            self._events.clear()
            self._position.clear()
            self._engine = self._new_engine()
            if self._mixpanel is not None:
                self._mixpanel.clear()

    # -- assertions ----------------------------------------------------------------------------

    def assert_captured(
        self,
        event: str,
        *,
        distinct_id: str | None = None,
        person: str | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Assert an ``event`` matching the filters (see ``events``) was captured; returns the
        first match."""
        __tracebackhide__ = True
        matches = self.events(event, distinct_id=distinct_id, person=person, properties=properties)
        if not matches:
            wanted = _describe(event, distinct_id, person, properties)
            raise AssertionError(f"no {wanted} was captured.\n{self._report(properties)}")
        return matches[0]

    def assert_not_captured(
        self,
        event: str,
        *,
        distinct_id: str | None = None,
        person: str | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> None:
        """Assert no ``event`` matching the filters (see ``events``) was captured."""
        __tracebackhide__ = True
        matches = self.events(event, distinct_id=distinct_id, person=person, properties=properties)
        if matches:
            wanted = _describe(event, distinct_id, person, properties)
            listing = _list_events(matches, properties)
            raise AssertionError(f"expected no {wanted}, but {len(matches)} captured:\n{listing}")

    def assert_flag_called(
        self,
        key: str,
        *,
        value: Any = _ANY,
        distinct_id: str | None = None,
        person: str | None = None,
    ) -> dict[str, Any]:
        """Assert ``$feature_flag_called`` was captured for flag ``key`` (read as ``value``, if
        given); returns the first such event."""
        __tracebackhide__ = True
        properties = {"$feature_flag": key}
        if value is not _ANY:
            properties["$feature_flag_response"] = value
        return self.assert_captured(
            "$feature_flag_called", distinct_id=distinct_id, person=person, properties=properties
        )

    def assert_identified(
        self, distinct_id: str, anonymous_id: str | None = None
    ) -> RecordedPerson:
        """Assert the person owning ``distinct_id`` is identified and, if given, also owns
        ``anonymous_id`` (the anonymous history was merged into it); returns that person."""
        __tracebackhide__ = True
        self.flush()
        with self._lock:
            found = self._person(distinct_id)
            other = None if anonymous_id is None else self._person(anonymous_id)
        if found is None:
            raise AssertionError(f"no event used distinct id {distinct_id!r}.\n{self._report()}")
        whose = f"the person of {distinct_id!r} (ids {list(found.distinct_ids)})"
        if not found.is_identified:
            problem = f"{whose} is not identified"
        elif anonymous_id is not None and anonymous_id not in found.distinct_ids:
            owner = "no event used"
            if other is not None:
                owner = f"belongs to another person (ids {list(other.distinct_ids)})"
            problem = f"{whose} does not own {anonymous_id!r}, which {owner}"
        else:
            return found
        raise AssertionError(f"{problem}.\n{self._report()}")

    # -- internals -----------------------------------------------------------------------------

    def _person(self, distinct_id: str) -> RecordedPerson | None:
        user = None if self._mixpanel is None else self._mixpanel.user(distinct_id)
        if user is not None:  # a Mixpanel-mode client's
            events = tuple(e for e in self._events if e.get("uuid") in user.owned)
            return RecordedPerson(*user[:4], events)
        stored = self._engine.events(distinct_id)
        if not stored:
            return None
        positions = sorted(self._position[e.uuid] for e in stored if e.uuid in self._position)
        events = tuple(self._events[i] for i in positions)
        found = self._engine.person(distinct_id)
        if found is None:  # personless events only: PostHog shows them under a virtual person
            return RecordedPerson(stored[0].person_uuid, (distinct_id,), {}, False, events)
        return RecordedPerson(
            found.uuid, found.distinct_ids, found.properties, found.is_identified, events
        )

    def _report(self, properties: Mapping[str, Any] | None = None) -> str:
        """What was captured, for a failure message: persons, ingestion warnings, events."""
        with self._lock:
            events = list(self._events)
            persons = self._engine.persons()
            warnings = self._engine.warnings()
        if not events:
            return "Nothing was captured."
        lines = [f"Persons ({len(persons)}):"]
        lines += [
            f"  {p.uuid} ids={list(p.distinct_ids)} identified={p.is_identified}" for p in persons
        ]
        if warnings:
            lines.append(f"Ingestion warnings ({len(warnings)}):")
            lines += [f"  {w.type}: {w.details}" for w in warnings]
        if self._mixpanel is not None:
            lines += self._mixpanel.describe()
        lines.append(f"Captured events ({len(events)}):")
        lines.append(_list_events(events, properties))
        return "\n".join(lines)

    def attach(self, client: Client) -> MixpanelFeed | None:
        """Called by each ``Client`` built with this recorder as its backend, so reads can
        flush it first; a Mixpanel-mode client gets the backend it records through."""
        self._clients[id(client)] = client
        if client.options.mixpanel_token is None:
            return None
        from ._mixpanel_recorder import MixpanelFeed

        with self._lock:
            if self._mixpanel is None:
                self._mixpanel = MixpanelFeed(client.options, self._keep_mixpanel)
            elif not self._mixpanel.serves(client.options):
                raise ConfigurationError(
                    "a Recorder resolves one Mixpanel project with one ID-merge model: give "
                    "clients of another project or model a Recorder of their own"
                )
            return self._mixpanel

    def _feeding_clients(self) -> list[Client]:
        return list(self._clients.values())


def _contains(actual: Mapping[str, Any], expected: Mapping[str, Any]) -> bool:
    return all(key in actual and actual[key] == value for key, value in expected.items())


def _describe(event: str, distinct_id: str | None, person: str | None, properties: Any) -> str:
    labels = (
        ("distinct_id=", distinct_id),
        ("person of ", person),
        ("properties including ", properties),
    )
    conditions = [f"{label}{value!r}" for label, value in labels if value]
    return f"event {event!r}" + (f" ({', '.join(conditions)})" if conditions else "")


def _list_events(events: Sequence[Mapping[str, Any]], properties: Mapping[str, Any] | None) -> str:
    """One line per event: name, distinct id, and the app's own properties (not the SDK's
    ``$`` ones, unless the assertion asked about them)."""
    asked = set(properties or ())
    lines = []
    for number, event in enumerate(events[:_LISTED_EVENTS], 1):
        props = event.get("properties") or {}
        shown = {k: v for k, v in props.items() if not k.startswith("$") or k in asked}
        text = f"  {number}. {event.get('event')!r} distinct_id={event.get('distinct_id')!r}"
        shown_text = repr(shown)
        lines.append(f"{text} {shown_text[:200]}{'…' if len(shown_text) > 200 else ''}")
    if len(events) > _LISTED_EVENTS:
        lines.append(f"  … and {len(events) - _LISTED_EVENTS} more")
    return "\n".join(lines)
