"""The flags of a desktop or CLI app on disk, beside its identity, shared by its processes (D1).

``flags.json`` holds the last answer of ``/flags``, whom it was for (a key of the identity and
inputs, see ``app``) and when it came, plus the properties the app set for flag evaluation
(C6). ``flag_calls.json`` holds the (flag, value) pairs already reported as
``$feature_flag_called`` in the current session of the current user (D4). Both are replaced
atomically under ``flags.lock``; readers never lock and re-read only when a file's stamp
changes. ``directory=None`` keeps everything in memory; a storage failure degrades to memory
with one WARNING, and a damaged file reads as empty (the next write replaces it).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from .._log import warn_once
from .._storage_files import file_lock, make_dirs, read_file, write_atomically
from .values import FlagSet

if TYPE_CHECKING:
    from pathlib import Path

    from filelock import BaseFileLock

__all__ = [
    "CachedFlags",
    "FlagFile",
    "FlagInputs",
    "FlagStore",
    "merge_group_properties",
    "merge_person_properties",
]

_LOCK_TIMEOUT_S: Final = 5.0
_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})


class FlagInputs(NamedTuple):
    """Properties the app gave for flags, sent with each ``/flags`` request (C2, C6)."""

    person_properties: Mapping[str, Any] = _EMPTY
    group_properties: Mapping[str, Mapping[str, Any]] = _EMPTY


class CachedFlags(NamedTuple):
    """The flags of one answer, whom they were evaluated for, and when they came (ms)."""

    flags: FlagSet
    key: str
    fetched_at_ms: int


class FlagFile(NamedTuple):
    inputs: FlagInputs = FlagInputs()
    cached: CachedFlags | None = None

    def to_json(self) -> dict[str, Any]:
        inputs = self.inputs
        person = dict(inputs.person_properties)
        groups = {name: dict(props) for name, props in inputs.group_properties.items()}
        data: dict[str, Any] = {
            "version": 1,
            "inputs": {"person_properties": person, "group_properties": groups},
        }
        if self.cached is not None:
            data["cached"] = {**self.cached._asdict(), "flags": self.cached.flags.to_json()}
        return data

    @classmethod
    def from_json(cls, data: object) -> FlagFile:
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        inputs = data.get("inputs") or {}
        person, groups = inputs.get("person_properties"), inputs.get("group_properties")
        if not isinstance(person, dict) or not isinstance(groups, dict):
            raise ValueError("inputs are not objects")
        cached = data.get("cached")
        found = None
        if cached is not None:
            key, fetched = cached.get("key"), cached.get("fetched_at_ms")
            if not isinstance(key, str) or not isinstance(fetched, int):
                raise ValueError("cached flags lack their key or time")
            found = CachedFlags(FlagSet.from_json(cached.get("flags")), key, fetched)
        return cls(FlagInputs(person, groups), found)


def merge_person_properties(
    file: FlagFile,
    to_set: Mapping[str, Any] | None,
    to_set_once: Mapping[str, Any] | None,
    unset: Iterable[str] = (),
) -> FlagFile:
    """C6: ``$set`` overwrites, ``$set_once`` fills what is absent, ``$unset`` removes."""
    person = dict(file.inputs.person_properties)
    person.update(to_set or {})
    for key, value in (to_set_once or {}).items():
        person.setdefault(key, value)
    for key in unset:
        person.pop(key, None)
    return file._replace(inputs=file.inputs._replace(person_properties=person))


def merge_group_properties(
    file: FlagFile, group_type: str, properties: Mapping[str, Any], *, new_key: bool
) -> FlagFile:
    """G1: a group's properties for flags; a new key for the type starts from none."""
    by_type = dict(file.inputs.group_properties)
    kept = {} if new_key else dict(by_type.get(group_type, {}))
    by_type[group_type] = {**kept, **properties}
    return file._replace(inputs=file.inputs._replace(group_properties=by_type))


class FlagStore:
    """Loads, caches and atomically replaces one app's flag files."""

    def __init__(self, directory: Path | None) -> None:
        self._dir = directory
        self._lock = threading.RLock()
        self._file_lock: BaseFileLock | None = None
        self._file = FlagFile()
        self._stamp: tuple[int, int, int] | None = None
        self._calls: tuple[tuple[str, str], set[tuple[str, str]]] = (("", ""), set())
        self._pid = os.getpid()
        self.refresh()

    def current(self) -> FlagFile:
        return self._file

    def refresh(self) -> bool:
        """Re-read ``flags.json`` if another process replaced it; True when it changed."""
        if self._dir is None:
            return False
        path = self._dir / "flags.json"
        try:
            stamp = _stamp_of(path)
        except OSError:
            stamp = None
        if stamp == self._stamp:
            return False
        with self._lock:
            self._file, self._stamp = self._read(path), stamp
        return True

    def update(self, change: Callable[[FlagFile], FlagFile]) -> FlagFile:
        """Apply ``change`` to the freshest file under the lock and persist the result."""
        with self._lock, self._locked():
            self.refresh()
            new = change(self._file)
            if new != self._file and self._dir is not None:
                try:
                    path = self._dir / "flags.json"
                    write_atomically(path, json.dumps(new.to_json()).encode())
                    self._stamp = _stamp_of(path)
                except (OSError, TypeError, ValueError) as exc:
                    self._degrade(f"cannot write the flag cache in {self._dir}: {exc}")
            self._file = new
            return new

    def clear(self) -> None:
        """``reset()``: forget the flags, the properties for flags and the reported calls."""
        with self._lock, self._locked():
            self._file, self._calls = FlagFile(), (("", ""), set())
            if self._dir is not None:
                for name in ("flags.json", "flag_calls.json"):
                    try:
                        os.unlink(self._dir / name)
                    except FileNotFoundError:
                        pass
                    except OSError as exc:
                        self._degrade(f"cannot delete {self._dir / name}: {exc}")
                self._stamp = None

    def claim_call(self, scope: tuple[str, str], pair: tuple[str, str]) -> bool:
        """Whether ``pair`` (flag, value) is reported for the first time in ``scope`` (user,
        session) by any process of the app; records it if so."""
        with self._lock, self._locked():
            known_scope, reported = self._calls
            if self._dir is not None:
                known_scope, reported = self._read_calls()
            if known_scope != scope:
                reported = set()
            first = pair not in reported
            if first:
                reported.add(pair)
                self._calls = (scope, reported)
                self._write_calls(scope, reported)
            return first

    def after_fork(self) -> None:
        """In a forked child: fresh locks (another thread may have held the parent's)."""
        self._lock = threading.RLock()
        self._pid, self._file_lock = os.getpid(), None

    def _read(self, path: Path) -> FlagFile:
        try:
            return FlagFile.from_json(json.loads(read_file(path)))
        except FileNotFoundError:
            return FlagFile()
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            warn_once("flag-cache-damaged", "flag cache %s ignored: %s", path, exc)
            return FlagFile()

    def _read_calls(self) -> tuple[tuple[str, str], set[tuple[str, str]]]:
        assert self._dir is not None
        try:
            data = json.loads(read_file(self._dir / "flag_calls.json"))
            scope = (str(data["scope"][0]), str(data["scope"][1]))
            return scope, {(str(k), str(v)) for k, v in data["reported"]}
        except (OSError, ValueError, TypeError, KeyError, IndexError):
            return ("", ""), set()

    def _write_calls(self, scope: tuple[str, str], reported: set[tuple[str, str]]) -> None:
        if self._dir is None:
            return
        record = {"scope": list(scope), "reported": sorted(reported)}
        try:
            write_atomically(self._dir / "flag_calls.json", json.dumps(record).encode())
        except OSError as exc:
            self._degrade(f"cannot write {self._dir / 'flag_calls.json'}: {exc}")

    def _locked(self) -> BaseFileLock | _NoLock:
        if self._pid != os.getpid():  # forked: the parent's lock object is not ours
            self._pid, self._file_lock = os.getpid(), None
        if self._dir is None:
            return _NoLock()
        if self._file_lock is None:
            try:
                make_dirs(self._dir)
            except OSError as exc:
                self._degrade(f"cannot create {self._dir}: {exc}")
                return _NoLock()
            self._file_lock = file_lock(self._dir / "flags.lock", timeout=_LOCK_TIMEOUT_S)
        return self._file_lock

    def _degrade(self, reason: str) -> None:
        self._dir = None
        self._file_lock = None
        warn_once("flags-degraded", "%s; keeping flags in memory for this process", reason)


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _stamp_of(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return (st.st_mtime_ns, st.st_size, st.st_ino)
