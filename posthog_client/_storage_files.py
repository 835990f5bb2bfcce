"""Files and folders in the storage dir, opened so that no one else's file is ever touched.

Every file is opened with ``O_NOFOLLOW``: a symlink planted where the SDK keeps a file (by
another local user, or a buggy tool) makes the open fail instead of sending the SDK's writes to
the file it points to. Folders are created 0700 and files 0600, lock files included: the queue
holds events that may carry personal data.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Final

from ._fork_safety import lazy_imports

if TYPE_CHECKING:
    from pathlib import Path

    from filelock import BaseFileLock

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "O_BINARY",
    "file_lock",
    "make_dirs",
    "open_file",
    "read_file",
    "write_atomically",
]

O_BINARY: Final[int] = getattr(os, "O_BINARY", 0)  # Windows would otherwise translate newlines
O_NOFOLLOW: Final[int] = getattr(os, "O_NOFOLLOW", 0)
FILE_MODE: Final = 0o600
DIR_MODE: Final = 0o700
_READ_LIMIT: Final = 16 << 20  # state files are small; never read a huge planted one whole


def open_file(path: Path, flags: int, mode: int = FILE_MODE) -> int:
    """``os.open`` that never follows a symlink at ``path`` (``OSError`` instead)."""
    return os.open(path, flags | O_NOFOLLOW | O_BINARY, mode)


def read_file(path: Path) -> bytes:
    """The content of a small file (at most 16 MiB is read), without following symlinks."""
    fd = open_file(path, os.O_RDONLY)
    try:
        chunks: list[bytes] = []
        size = 0
        while size < _READ_LIMIT and (chunk := os.read(fd, _READ_LIMIT - size)):
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def make_dirs(path: Path) -> None:
    """Create ``path`` and its missing parents with mode 0700, and make ``path`` itself 0700."""
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, DIR_MODE)
        except FileExistsError:  # created meanwhile by another process of the app
            pass
    if os.stat(path).st_mode & 0o077:
        os.chmod(path, DIR_MODE)  # left by an older version or created by a tool with a wide umask


def file_lock(path: Path, timeout: float = -1) -> BaseFileLock:
    """A process-wide (not per-thread) ``FileLock`` whose file is created 0600."""
    with lazy_imports():
        from filelock import FileLock  # deferred: filelock costs tens of ms to import

    return FileLock(path, timeout=timeout, mode=FILE_MODE, thread_local=False)


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old or the new content, never a mix."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = open_file(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)  # replaces a symlink at path itself, never its target
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
