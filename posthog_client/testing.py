"""Test doubles: record what an app sends instead of sending it, and check who it belongs to.

``Recorder`` is a backend that keeps every delivered event and resolves persons in memory with
the local server's ``PersonEngine``, so a test can check that the events sent before login
belong to the user. ``recording()`` installs one for every client of the process (the global
client and any ``Client`` the app creates) with a throwaway storage dir, and restores everything
afterwards; the pytest plugin's ``posthog_recorder`` fixture wraps it. With
``POSTHOG_CLIENT_BACKEND=memory`` every client records into ``process_recorder()`` instead of
sending, without code changes.

Example (unittest; with pytest, use the ``posthog_recorder`` fixture)::

    with posthog_client.testing.recording() as recorder:
        posthog_client.init("phc_test")
        posthog_client.capture("file_opened")
        posthog_client.identify("user_42")
        recorder.assert_identified("user_42")
        events = recorder.person("user_42").events
        assert [e["event"] for e in events] == ["file_opened", "$identify"]
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import tempfile
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

from . import _api
from ._client import Client
from ._config import Options
from ._exceptions import RejectedError
from ._log import logger

if TYPE_CHECKING:
    from .server import IngestionWarning, PersonEngine

__all__ = ["MemoryBackend", "RecordedPerson", "Recorder", "process_recorder", "recording"]

_LISTED_EVENTS: Final = 30  # failure messages list at most this many events
_T = TypeVar("_T")


class MemoryBackend:
    """A backend that keeps every delivered event (decoded) in memory, in delivery order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[dict[str, Any]] = []
        self._batches = 0
        self.closed = False

    def send(self, batch: Sequence[bytes]) -> None:
        decoded = [json.loads(item) for item in batch]
        with self._lock:
            self._events.extend(decoded)
            self._batches += 1

    def close(self) -> None:
        self.closed = True

    @property
    def events(self) -> list[dict[str, Any]]:
        """A copy of the events received so far."""
        with self._lock:
            return list(self._events)

    @property
    def batch_count(self) -> int:
        return self._batches

    def clear(self) -> None:
        with self._lock:
            self._events.clear()
            self._batches = 0


@dataclass(frozen=True)
class RecordedPerson:
    """A person as PostHog would see it now, with every event of every id it has.

    ``events`` are the decoded events in delivery order, including the anonymous ones sent
    before ``identify`` and those sent under an alias.
    """

    uuid: str
    distinct_ids: tuple[str, ...]
    properties: dict[str, Any]
    is_identified: bool
    events: tuple[dict[str, Any], ...]


class Recorder:
    """A backend that records every delivered event and resolves persons like PostHog.

    Every query and assertion first flushes the clients that feed this recorder, so what a test
    reads is everything captured so far. Failing assertions raise ``AssertionError`` listing
    what was captured. Events are the decoded wire events (``event``, ``distinct_id``,
    ``properties``, ``uuid``, ``timestamp``); property values are compared after JSON decoding.

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
        # Keyed by id(): Options is unhashable; an entry leaves with its object, so ids stay unique.
        self._clients: weakref.WeakValueDictionary[int, Client] = weakref.WeakValueDictionary()
        self._seen: weakref.WeakValueDictionary[int, Options] = weakref.WeakValueDictionary()
        self._engine = self._new_engine()

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
            for event in events:
                uuid = str(event.get("uuid"))
                if uuid not in self._position:  # a retried event is stored once, as PostHog does
                    self._position[uuid] = len(self._events)
                    self._events.append(event)

    def close(self) -> None:
        """Nothing to release: each client closes its backend at shutdown, and the recorder
        serves several clients and outlives them."""

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
        """Recorded events in delivery order, filtered.

        ``name``: the event name; ``distinct_id``: the event's own distinct id; ``person``: any
        distinct id of the person the event belongs to now; ``properties``: a subset the
        event's properties must contain.
        """
        self.flush()
        with self._lock:
            recorded = list(self._events)
            owned = None if person is None else {e.uuid for e in self._engine.events(person)}
        return [
            event
            for event in recorded
            if (name is None or event.get("event") == name)
            and (distinct_id is None or event.get("distinct_id") == distinct_id)
            and (owned is None or event.get("uuid") in owned)
            and _contains(event.get("properties") or {}, properties or {})
        ]

    def person(self, distinct_id: str) -> RecordedPerson:
        """The person ``distinct_id`` belongs to now, with all its events (see ``RecordedPerson``).

        Raises ``AssertionError``, listing what was captured, if no event ever used that id.
        """
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
            wanted = _describe_filters(event, distinct_id, person, properties)
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
            wanted = _describe_filters(event, distinct_id, person, properties)
            listing = _list_events(matches, properties)
            raise AssertionError(f"expected no {wanted}, but {len(matches)} captured:\n{listing}")

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
            problem = f"no event used distinct id {distinct_id!r}"
        elif not found.is_identified:
            problem = f"the person of {distinct_id!r} {_ids(found)} is not identified"
        elif anonymous_id is not None and anonymous_id not in found.distinct_ids:
            owner = "no event used" if other is None else f"belongs to another person {_ids(other)}"
            problem = (
                f"the person of {distinct_id!r} {_ids(found)} does not own {anonymous_id!r}, "
                f"which {owner}"
            )
        else:
            return found
        raise AssertionError(f"{problem}.\n{self._report()}")

    # -- internals -----------------------------------------------------------------------------

    def _person(self, distinct_id: str) -> RecordedPerson | None:
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
        lines.append(f"Captured events ({len(events)}):")
        lines.append(_list_events(events, properties))
        return "\n".join(lines)

    def _feeding_clients(self) -> list[Client]:
        """The live clients whose backend is this recorder.

        A client gives its backend no way to know it, so they are found through the garbage
        collector's referrers: the recorder's ``Options`` objects, then their clients. Only
        options not seen before cost a second search.
        """
        found = [o for o in _holders([self], Options) if o.backend is self]
        new = [o for o in found if id(o) not in self._seen]
        if new:
            self._seen.update((id(o), o) for o in new)
            for client in _holders(new, Client):
                if any(client.options is o for o in new):
                    self._clients[id(client)] = client
        return list(self._clients.values())


def _holders(targets: list[Any], kind: type[_T]) -> list[_T]:
    """Instances of ``kind`` that refer to one of ``targets`` (directly or via their __dict__)."""
    found: list[_T] = []
    dicts: list[dict[str, Any]] = []
    for ref in gc.get_referrers(*targets):
        if isinstance(ref, kind):
            found.append(ref)
        elif type(ref) is dict:
            dicts.append(ref)
    if dicts:  # an instance whose __dict__ exists (always before 3.11) refers through it
        ids = {id(d) for d in dicts}
        found += [
            o
            for o in gc.get_referrers(*dicts)
            if isinstance(o, kind) and id(getattr(o, "__dict__", None)) in ids
        ]
    return found


def _contains(actual: Mapping[str, Any], expected: Mapping[str, Any]) -> bool:
    return all(key in actual and actual[key] == value for key, value in expected.items())


def _ids(person: RecordedPerson) -> str:
    return f"(ids {list(person.distinct_ids)})"


def _describe_filters(
    event: str,
    distinct_id: str | None,
    person: str | None,
    properties: Mapping[str, Any] | None,
) -> str:
    conditions = []
    if distinct_id is not None:
        conditions.append(f"distinct_id={distinct_id!r}")
    if person is not None:
        conditions.append(f"person of {person!r}")
    if properties:
        conditions.append(f"properties including {dict(properties)!r}")
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
        lines.append(f"{text} {_shorten(repr(shown))}")
    if len(events) > _LISTED_EVENTS:
        lines.append(f"  … and {len(events) - _LISTED_EVENTS} more")
    return "\n".join(lines)


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_process: Recorder | None = None
_process_lock = threading.Lock()


def process_recorder() -> Recorder:
    """The recorder clients use when ``POSTHOG_CLIENT_BACKEND=memory`` (the one ``recording()``
    installed, while it is active)."""
    global _process
    with _process_lock:
        if _process is None:
            _process = Recorder()
        return _process


@contextlib.contextmanager
def recording(
    *, strict: bool = True, storage_dir: str | os.PathLike[str] | None = None
) -> Iterator[Recorder]:
    """Record every client of the process in memory for the duration of the block.

    The global client is set aside (``init()`` inside the block creates a new one) and every
    ``Client`` created inside the block records into the yielded recorder, with its storage in
    ``storage_dir`` (default: a temporary directory, deleted afterwards) and ``strict`` mode,
    unless the app passes those options explicitly. ``DO_NOT_TRACK`` and
    ``POSTHOG_CLIENT_DISABLED`` are lifted, and ``POSTHOG_API_KEY`` defaults to ``phc_test``.
    On exit the clients created inside are shut down and the previous global client,
    environment and process recorder are restored. Nothing is sent over the network.

    Example (unittest)::

        def setUp(self) -> None:
            self.recorder = self.enterContext(posthog_client.testing.recording())
    """
    global _process
    recorder = Recorder()
    with contextlib.ExitStack() as stack:
        if storage_dir is None:
            storage_dir = stack.enter_context(
                tempfile.TemporaryDirectory(prefix="posthog_client-", ignore_cleanup_errors=True)
            )
        environ: dict[str, str | None] = {
            "POSTHOG_CLIENT_BACKEND": "memory",
            "POSTHOG_CLIENT_DIR": os.fspath(storage_dir),
            "POSTHOG_CLIENT_STRICT": "1" if strict else "0",
            "DO_NOT_TRACK": None,  # a developer's machine-wide opt-out must not empty the tests
            "POSTHOG_CLIENT_DISABLED": None,
        }
        if not os.environ.get("POSTHOG_API_KEY"):
            environ["POSTHOG_API_KEY"] = "phc_test"
        stack.enter_context(_environ(environ))
        with _process_lock:
            previous_recorder, _process = _process, recorder
        with _api._lock:
            previous_client, _api._client = _api._client, None
        try:
            yield recorder
        finally:
            with _api._lock:
                current, _api._client = _api._client, previous_client
            clients = {id(c): c for c in recorder._feeding_clients()}
            if current is not None and current is not previous_client:
                clients[id(current)] = current
            for client in clients.values():
                client.shutdown(recorder.flush_timeout_s)
            with _process_lock:
                _process = previous_recorder


@contextlib.contextmanager
def _environ(changes: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, remove) environment variables, restoring their values afterwards."""
    saved = {name: os.environ.get(name) for name in changes}
    try:
        for name, value in changes.items():
            _set_env(name, value)
        yield
    finally:
        for name, value in saved.items():
            _set_env(name, value)


def _set_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
