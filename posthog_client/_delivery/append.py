"""``write(2)`` for the capture hot path, without releasing the GIL.

``os.write`` releases the GIL around the system call. On the capture path that is a loss: the
append to the page cache takes about a microsecond, but each release lets the delivery worker
take the GIL, which costs the capturing thread two context switches and a wait. Keeping the GIL
through the call halved the SDK's CPU time and doubled end-to-end throughput in
``tests/benchmarks/bench_delivery.py`` (50k events: 0.95 s instead of 1.2-2.0 s). POSIX only,
through ``ctypes.PyDLL`` (whose calls keep the GIL); elsewhere plain ``os.write``.
"""

from __future__ import annotations

import errno
import functools
import os
from collections.abc import Callable

from .._fork_safety import lazy_imports

__all__ = ["load_append"]

Append = Callable[[int, bytes], int]


@functools.cache
def load_append() -> Append:
    """A ``write(fd, data) -> int`` that raises ``OSError`` like ``os.write`` does."""
    if os.name != "posix":
        return os.write
    try:
        with lazy_imports():
            import ctypes  # deferred: only persisted mode needs it

        write = ctypes.PyDLL(None, use_errno=True).write
    except (ImportError, OSError, AttributeError):  # a build without ctypes, or a static libc
        return os.write
    # No argtypes: converting through them costs 0.3 µs a call. Without, a Python int goes as a
    # C int, which libffi widens to the register: right for a descriptor and for a length
    # under 2 GiB (an event is at most 900 KiB).
    write.restype = ctypes.c_ssize_t
    get_errno = ctypes.get_errno

    def append(fd: int, data: bytes) -> int:
        while True:
            written: int = write(fd, data, len(data))
            if written >= 0:
                return written
            code = get_errno()
            if code != errno.EINTR:  # retried like os.write does (PEP 475)
                raise OSError(code, os.strerror(code))

    return append
