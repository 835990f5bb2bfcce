"""Fork safety for module-level state, shared by every module that has some.

A forked child has only the thread that called ``fork()``. A lock another thread held at that
moment stays locked forever in the child, and a module another thread was importing stays
half-initialised, its import lock held (the ``gunicorn --preload`` case: the master's delivery
worker importing ``requests`` while the master forks). So:

- ``reinit_after_fork(callback)``: run ``callback`` in every forked child.
- ``renew_after_fork(namespace, name)``: give a module-level lock a fresh one in every child.
- ``lazy_imports()``: hold it around the SDK's deferred imports (they may run on any thread);
  ``fork()`` waits (at most ``IMPORT_WAIT_S``) until none is in progress, so children get whole
  modules. Reentrant: deferred imports nest.
- ``fork_flag()``: a flag for hot paths that must notice a fork even without Python's hooks
  (uwsgi and C extensions fork from C), for less than ``os.getpid()`` costs.
"""

from __future__ import annotations

# logging takes its module lock in a before-fork hook; hooks run in the reverse order of their
# registration, so logging must register first: then the fork waits for our deferred imports
# (which may log, e.g. urllib3 adding its handler) before logging's lock is taken.
import logging  # noqa: F401
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final, Protocol

__all__ = [
    "IMPORT_WAIT_S",
    "ForkFlag",
    "PidFlag",
    "fork_flag",
    "lazy_imports",
    "reinit_after_fork",
    "renew_after_fork",
]

IMPORT_WAIT_S: Final = 10.0  # an import takes ~0.1 s; never block a fork for longer than this

# <linux/mman.h>: the same value on every architecture.
_MADV_WIPEONFORK_LINUX: Final = 18 if sys.platform == "linux" else None

_import_lock = threading.RLock()
_held_for_fork = False


def reinit_after_fork(callback: Callable[[], None]) -> None:
    """Run ``callback`` in the child after every ``os.fork()`` (where the platform has one).

    Callbacks must not log: a logging lock may be held by a thread the child does not have.
    """
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=callback)


def renew_after_fork(
    namespace: dict[str, Any], name: str, factory: Callable[[], object] = threading.Lock
) -> None:
    """In every forked child, replace ``namespace[name]`` (a module's lock, given as
    ``globals()``) by ``factory()``: another thread may have held it at the fork."""

    def renew() -> None:
        namespace[name] = factory()

    reinit_after_fork(renew)


class ForkFlag(Protocol):
    """``flag[0]`` is 1 once set with ``flag[0] = 1``, in this process only (see ``fork_flag``)."""

    def __getitem__(self, index: int, /) -> int: ...

    def __setitem__(self, index: int, value: int, /) -> None: ...


class PidFlag:
    """A ``ForkFlag`` that compares the pid: ``fork_flag`` where the kernel cannot wipe a page in
    a child, and a placeholder that reads 0 until it is set."""

    __slots__ = ("_pid",)

    def __init__(self) -> None:
        self._pid = -1

    def __getitem__(self, index: int, /) -> int:
        return int(self._pid == os.getpid())

    def __setitem__(self, index: int, value: int, /) -> None:
        self._pid = os.getpid() if value else -1


def fork_flag() -> ForkFlag:
    """A new, unset flag that reads 0 again in any child forked after it was set, whether the
    fork ran Python's hooks or not (uwsgi, C extensions).

    On Linux it is the first byte of a private page that the kernel zeroes in every child
    (``MADV_WIPEONFORK``, Linux 4.14): reading it costs an index, about a fifth of the
    ``os.getpid()`` system call, which matters on ``capture()``'s path. Elsewhere it compares
    the pid.
    """
    with lazy_imports():
        import mmap  # deferred: nothing at import time

    # Linux only; some Python builds lack the constant (built against older headers).
    wipe_on_fork = getattr(mmap, "MADV_WIPEONFORK", _MADV_WIPEONFORK_LINUX)
    if wipe_on_fork is None:
        return PidFlag()
    try:
        page = mmap.mmap(-1, mmap.PAGESIZE, flags=mmap.MAP_PRIVATE)
        page.madvise(wipe_on_fork)
    except (OSError, ValueError):  # a kernel before 4.14
        return PidFlag()
    return page


@contextmanager
def lazy_imports() -> Iterator[None]:
    """Import modules inside this block so that a concurrent ``fork()`` waits for them."""
    with _import_lock:
        yield


def _before_fork() -> None:
    global _held_for_fork
    _held_for_fork = _import_lock.acquire(timeout=IMPORT_WAIT_S)


def _after_fork_in_parent() -> None:
    global _held_for_fork
    if _held_for_fork:
        _held_for_fork = False
        _import_lock.release()


def _after_fork_in_child() -> None:
    global _import_lock, _held_for_fork
    _import_lock, _held_for_fork = threading.RLock(), False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )
