"""The persisted identity of one project on this machine, shared by all its processes.

``state.json`` holds the identity, super properties and the analytics session; ``consent.json``
holds the opt-out choice (kept apart so ``reset()`` never touches it); the mtime of
``session.activity`` is the session's last activity, bumped without a lock. Writes are atomic
(temp file + ``os.replace``) and read-modify-write cycles hold a ``filelock`` for a few
milliseconds; readers never lock. Any storage failure degrades to an in-memory identity with one
WARNING: the host app keeps working.
"""

from __future__ import annotations

import errno
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, NamedTuple, TypeVar

from .._events.uuid7 import uuid7
from .._log import clip, logger, warn_once
from .._storage_files import file_lock, make_dirs, open_file, read_file, write_atomically

if TYPE_CHECKING:
    from pathlib import Path

    from filelock import BaseFileLock

__all__ = ["IdentityState", "StateStore"]

T = TypeVar("T")
_LOCK_TIMEOUT_S: Final = 5.0
# Bump the mtime of a symlink itself, never of the file it points to, where the OS can.
_UTIME_NOFOLLOW: Final = os.utime in os.supports_follow_symlinks


_MISSING: Final = object()
_FROM_IDS: Final = object()  # default of an id: the distinct id, or the anonymous id


def _is_id(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _is_optional_str(value: object) -> bool:
    return value is None or isinstance(value, str)


def _is_ms(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_bool(value: object) -> bool:
    return isinstance(value, bool)


def _is_properties(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) for k in value)


# Every stored field but distinct_id: (name, check, default when missing or invalid).
_FIELD_CHECKS: Final[tuple[tuple[str, Callable[[object], bool], object], ...]] = (
    ("anon_id", _is_id, _FROM_IDS),
    ("device_id", _is_id, _FROM_IDS),
    ("identified", _is_bool, False),
    ("person_processing", _is_bool, False),
    ("alias", _is_optional_str, None),
    ("super_properties", _is_properties, MappingProxyType({})),
    ("session_id", _is_optional_str, None),
    ("session_start_ms", _is_ms, 0),
    ("session_last_ms", _is_ms, 0),
    ("person_props_hash", _is_optional_str, None),
    ("person_props_session", _is_optional_str, None),
    ("pending_person_ops", _is_properties, MappingProxyType({})),
)


class IdentityState(NamedTuple):
    """Everything identity-related that survives the process (identity-spec glossary)."""

    distinct_id: str
    anon_id: str
    device_id: str
    identified: bool = False
    person_processing: bool = False  # posthog-js "$epp": sticky once a person profile exists
    alias: str | None = None
    super_properties: Mapping[str, Any] = MappingProxyType({})
    session_id: str | None = None
    session_start_ms: int = 0
    session_last_ms: int = 0
    # The last $identify/$set sent (R11), kept per session so that repeats from any process
    # are skipped (A6).
    person_props_hash: str | None = None
    person_props_session: str | None = None
    # Mixpanel mode (D7): person updates sent while anonymous, folded, for the next identify
    # to replay onto the user (Mixpanel does not carry a device's profile over, MI17).
    pending_person_ops: Mapping[str, Any] = MappingProxyType({})

    @classmethod
    def fresh(
        cls, device_id: str | None = None, *, new_id: Callable[[], str] = uuid7
    ) -> IdentityState:
        """A new anonymous identity (R1): one id for distinct id, anon id and device id, a
        UUIDv7 (Mixpanel mode: a UUID v4, D3)."""
        fresh_id = new_id()
        return cls(distinct_id=fresh_id, anon_id=fresh_id, device_id=device_id or fresh_id)

    @classmethod
    def from_json(cls, data: object) -> tuple[IdentityState, list[str]]:
        """Parse a stored state, repairing each field of the wrong type; returns the state and
        the names of the fields it repaired. ValueError if the identity itself is unusable."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        distinct_id = data.get("distinct_id")
        if not isinstance(distinct_id, str) or not distinct_id:
            raise ValueError("distinct_id is missing")
        repaired: list[str] = []
        values: dict[str, Any] = {"distinct_id": distinct_id}
        fallbacks = {"anon_id": distinct_id}
        for name, check, default in _FIELD_CHECKS:
            value = data.get(name, _MISSING)
            if value is _MISSING:
                value = default
            elif not check(value):
                repaired.append(name)
                value = default
            if value is _FROM_IDS:
                value = fallbacks.get(name) or values["anon_id"]
            values[name] = value
        if "identified" not in data or "identified" in repaired:  # derive it (R4)
            values["identified"] = values["distinct_id"] != values["anon_id"]
        if values["session_id"] is None:
            values["session_start_ms"] = values["session_last_ms"] = 0
        return cls(**values), repaired

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            **self._asdict(),
            "super_properties": dict(self.super_properties),
            "pending_person_ops": dict(self.pending_person_ops),
        }


class StateStore:
    """Loads, caches and atomically updates the ``IdentityState`` of one storage folder.

    ``directory=None`` keeps everything in memory (``persist=False``, opted out by environment,
    or after a storage failure). ``new_id`` draws the ids of a new identity.
    """

    def __init__(self, directory: Path | None, *, new_id: Callable[[], str] = uuid7) -> None:
        self._dir = directory
        self.new_id = new_id
        self._lock = threading.RLock()
        self._file_lock: BaseFileLock | None = None
        self._state: IdentityState | None = None
        self._stamp: tuple[int, int, int] | None = None
        # the choice itself (and when it was made) when nothing is persisted
        self._consent: tuple[bool, str | None] | None = None
        self._repaired = False  # the file on disk had fields of the wrong type
        self._pid = os.getpid()

    def current(self) -> IdentityState:
        """The cached state, loading (or creating) it on first use."""
        state = self._state
        if state is not None:
            return state
        with self._lock:
            if self._state is None and self._dir is not None:
                try:  # the common case, an existing file, needs no file lock
                    self._state = self._read()
                except OSError:
                    pass  # transact() below degrades with a warning
            if self._state is not None and not self._repaired:
                return self._state
            return self.transact(lambda s: (s, s))  # creates, or persists a repair

    def refresh(self) -> None:
        """Pick up another process's changes (one ``stat`` when nothing changed)."""
        if self._dir is None:
            return
        try:
            stamp = _stamp_of(self._dir / "state.json")
        except OSError:
            return
        if stamp != self._stamp:
            with self._lock:
                state = self._read()
                if state is not None:
                    self._state = state

    def transact(self, change: Callable[[IdentityState], tuple[IdentityState, T]]) -> T:
        """Apply ``change`` to the freshest state under the locks, persist it, return its result."""
        if self._pid != os.getpid():  # forked without Python's hooks: the lock may be held
            self.after_fork()
        with self._lock:
            if self._dir is not None:
                try:
                    with self._locked():
                        return self._apply(change, self._read())
                except OSError as exc:
                    # A readable but unwritable file still tells us who we are.
                    self._state = self._state or self._parse_quietly()
                    self._degrade(f"cannot use {self._dir}: {exc}")
            return self._apply(change, None)

    def _apply(
        self,
        change: Callable[[IdentityState], tuple[IdentityState, T]],
        loaded: IdentityState | None,
    ) -> T:
        base = loaded or self._state or IdentityState.fresh(new_id=self.new_id)
        new, result = change(base)
        if self._dir is not None and (new != loaded or self._repaired):
            try:
                self._write(new)
                self._repaired = False
            except OSError as exc:
                self._degrade(f"cannot write {self._dir / 'state.json'}: {exc}")
        self._state = new
        return result

    def _locked(self) -> BaseFileLock:
        if self._file_lock is None:
            assert self._dir is not None
            make_dirs(self._dir)
            self._file_lock = file_lock(self._dir / "state.lock", timeout=_LOCK_TIMEOUT_S)
        return self._file_lock

    def _read(self) -> IdentityState | None:
        """The state on disk; None if there is none (a corrupt file is moved aside)."""
        assert self._dir is not None
        path = self._dir / "state.json"
        try:
            stamp = _stamp_of(path)
            state, repaired = _parse(read_file(path))
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno not in (errno.EISDIR, errno.ELOOP):
                raise
            self._set_aside(path, "not a regular file")  # a folder, or a symlink
            return None
        except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, or not a state
            self._set_aside(path, str(exc) or type(exc).__name__)
            return None
        if repaired:
            self._repaired = True
            warn_once(
                "state-repaired",
                "identity file %s had fields of the wrong type (%s); repaired them",
                path,
                ", ".join(repaired),
            )
        self._stamp = stamp
        return state

    def peek(self) -> IdentityState | None:
        """The state as stored, or None if there is none; creates, locks and repairs nothing (for
        status reports)."""
        return self._state if self._dir is None else self._parse_quietly()

    def _set_aside(self, path: Path, why: str) -> None:
        aside = path.with_name(f"state.json.corrupt-{time.time_ns()}")
        logger.warning(
            "identity file %s is unusable (%s); moved to %s, starting a new identity",
            path,
            clip(why),
            aside.name,
        )
        os.replace(path, aside)  # moves a folder or a symlink itself, never what it points to

    def _parse_quietly(self) -> IdentityState | None:
        assert self._dir is not None
        try:
            return _parse(read_file(self._dir / "state.json"))[0]
        except (OSError, ValueError, RecursionError):
            return None

    def _write(self, state: IdentityState) -> None:
        assert self._dir is not None
        path = self._dir / "state.json"
        write_atomically(path, json.dumps(state.to_json(), separators=(",", ":")).encode())
        self._stamp = _stamp_of(path)

    def _degrade(self, reason: str) -> None:
        self._dir = None
        self._file_lock = None
        warn_once("state-degraded", "%s; keeping the identity in memory for this process", reason)

    def opted_out(self) -> bool | None:
        """The persisted consent choice, or None if none was made (or nothing is persisted)."""
        choice = self.consent()
        return None if choice is None else choice[0]

    def consent(self) -> tuple[bool, str | None] | None:
        """The user's consent choice (opted out?, when, as ISO 8601 UTC), or None if none."""
        if self._dir is None:
            return self._consent
        try:
            data = json.loads(read_file(self._dir / "consent.json"))
            opted_out, changed_at = data.get("opted_out"), data.get("changed_at")
        except (OSError, ValueError, AttributeError, RecursionError):
            return None
        if not isinstance(opted_out, bool):
            return None
        return opted_out, changed_at if isinstance(changed_at, str) else None

    def set_opted_out(self, opted_out: bool) -> None:
        changed_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self._consent = (opted_out, changed_at)
        if self._dir is None:
            return
        try:
            make_dirs(self._dir)
            record = {"opted_out": opted_out, "changed_at": changed_at}
            write_atomically(self._dir / "consent.json", json.dumps(record).encode())
        except OSError as exc:
            warn_once(
                "consent-write", "cannot persist the consent choice in %s: %s", self._dir, exc
            )

    def activity_ms(self) -> int:
        """Last session activity recorded by any process (0 if unknown)."""
        if self._dir is None:
            return 0
        try:
            return os.lstat(self._dir / "session.activity").st_mtime_ns // 1_000_000
        except OSError:
            return 0

    def record_activity(self, now_ms: int) -> None:
        """Mark the session active at ``now_ms`` for every process (a lock-free mtime bump)."""
        if self._dir is None:
            return
        path = self._dir / "session.activity"
        ns = now_ms * 1_000_000
        try:
            try:
                os.utime(path, ns=(ns, ns), follow_symlinks=_UTIME_NOFOLLOW)
            except FileNotFoundError:
                os.close(open_file(path, os.O_WRONLY | os.O_CREAT))
                os.utime(path, ns=(ns, ns), follow_symlinks=_UTIME_NOFOLLOW)
        except OSError:
            pass  # the session then ends 30 min after its last persisted activity: harmless

    def after_fork(self) -> None:
        """In a forked child: fresh locks; the parent's file lock object must not be touched."""
        self._pid = os.getpid()
        self._lock = threading.RLock()
        self._file_lock = None


def _stamp_of(path: Path) -> tuple[int, int, int]:
    st = os.lstat(path)
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _parse(raw: bytes) -> tuple[IdentityState, list[str]]:
    return IdentityState.from_json(json.loads(raw))
