"""UUIDv7 (RFC 9562): time-ordered ids for events, sessions and anonymous identities."""

from __future__ import annotations

import random
import threading
import time

from .._fork_safety import renew_after_fork

__all__ = ["normalize_uuid", "uuid7", "uuid7_time_ms"]

_lock = threading.Lock()
_random_bits = random.getrandbits
_last_ms = 0
_counter = 0  # 12-bit sequence in rand_a keeps ids monotonic within one millisecond

renew_after_fork(globals(), "_lock")


def uuid7() -> str:
    """Return a new UUIDv7 as a lowercase string, monotonic within this process."""
    global _last_ms, _counter
    ms = time.time_ns() // 1_000_000
    with _lock:
        if ms > _last_ms:
            _last_ms = ms
            _counter = _random_bits(10)  # start low so the sequence has room to count up
        else:
            ms = _last_ms
            _counter += 1
            if _counter > 0xFFF:  # sequence exhausted: borrow the next millisecond
                _last_ms += 1
                ms = _last_ms
                _counter = 0
        counter = _counter
    # random is seeded from os.urandom and reseeded in forked children;
    # these ids need uniqueness, not secrecy
    value = ms << 80 | (0x7000 | counter) << 64 | 0x8000000000000000 | _random_bits(62)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


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
