"""UUIDv7 (RFC 9562): time-ordered ids for events, sessions and anonymous identities.

Layout (RFC 9562 §6.2, method 1: a dedicated counter): 48 bits of Unix milliseconds, the
version, 26 random bits drawn for each millisecond (``rand_a`` and the top of ``rand_b``), then
a 48-bit counter. The counter is one process-wide ``itertools.count``, started at a random
value: taking the next value is a single C call, so threads never wait for one another (no lock
on the hot path) and ids stay unique and ordered within a millisecond; the text of everything
but the counter is made once per millisecond. Only that change of millisecond takes a lock.
Ids are monotonic within the process: a clock set back keeps the last millisecond seen until it
catches up.

A forked child, even one forked from C without Python's hooks (uwsgi), draws a new counter start
and new random bits on its first call (``fork_flag``): parent and child never share a sequence.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from typing import Final

from .._fork_safety import ForkFlag, PidFlag, fork_flag, renew_after_fork

__all__ = ["normalize_uuid", "uuid7", "uuid7_time_ms"]

_COUNTER_BITS: Final = 48
_GUARD: Final = 1 << _COUNTER_BITS  # a leading digit, so that hex() has a fixed width
_MASK: Final = _GUARD - 1

_lock = threading.Lock()  # taken only when the millisecond changes
_rng = random.Random()  # private: reseeding it never touches the app's global random
_random_bits = _rng.getrandbits
_counter = itertools.count()
_current: tuple[int, str] = (-1, "")  # (millisecond, the text of the id up to the counter)
_armed: ForkFlag = PidFlag()  # reads 0 until the first call seeds (no work at import)

renew_after_fork(globals(), "_lock")


def uuid7(ms: int | None = None) -> str:
    """A new UUIDv7 as a lowercase string; ``ms``: the Unix time in milliseconds, if the caller
    has already read the clock."""
    if not _armed[0]:
        _seed()
    if ms is None:
        ms = time.time_ns() // 1_000_000
    current = _current
    if ms != current[0]:
        current = _advance(ms)
    return current[1] + hex(_GUARD | next(_counter) & _MASK)[3:]


def _advance(ms: int) -> tuple[int, str]:
    global _current
    with _lock:
        if ms > _current[0]:  # never back: a clock set back keeps the last millisecond
            bits = _random_bits(26)
            variant = 0x8000 | bits & 0x3FFF  # RFC 9562 variant (0b10), then 14 random bits
            _current = (ms, f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7{bits >> 14:03x}-{variant:04x}-")
        return _current


def _seed() -> None:
    """In a new process (first call, or first call after a fork): fresh randomness."""
    global _armed, _counter, _current
    with _lock:
        if _armed[0]:  # another thread was first
            return
        _rng.seed()  # from os.urandom
        _counter = itertools.count(_random_bits(_COUNTER_BITS - 1))  # half: no wrap in practice
        _current = (-1, "")  # new random bits for the millisecond too
        flag = fork_flag()
        flag[0] = 1
        _armed = flag


def uuid7_time_ms(value: str) -> int | None:
    """The Unix time in milliseconds embedded in a UUIDv7 string, or None if it is not one."""
    import uuid  # deferred: only parsing needs the module

    try:
        parsed = uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None
    if parsed.version != 7:
        return None
    return parsed.int >> 80


def normalize_uuid(value: object) -> str | None:
    """A caller-supplied uuid in canonical lowercase form, or None if it does not parse (V7)."""
    import uuid

    if isinstance(value, uuid.UUID):
        return str(value)
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
