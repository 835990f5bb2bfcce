"""What every event carries: SDK and runtime context, UTC timestamps."""

from __future__ import annotations

import functools
import sys
import time
from typing import TYPE_CHECKING, Final

from ._version import __version__

if TYPE_CHECKING:
    import datetime as dt

__all__ = ["LIB_NAME", "format_timestamp", "now_timestamp", "system_context"]

LIB_NAME: Final = "posthog-client-python"
_second_prefix: tuple[int, str] = (-1, "")


def now_timestamp() -> tuple[str, int]:
    """The current time as RFC 3339 UTC text, and in Unix milliseconds."""
    global _second_prefix
    now = time.time()
    second = int(now)
    cached_second, prefix = _second_prefix
    if second != cached_second:  # formatting the date costs more than the whole rest
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second_prefix = (second, prefix)
    micros = int((now - second) * 1_000_000)
    return f"{prefix}.{micros:06d}+00:00", int(now * 1000)


def format_timestamp(value: dt.datetime | dt.date) -> str:
    """A caller's timestamp in UTC; naive datetimes are local time, as Python treats them."""
    import datetime as dt  # deferred: only callers passing a timestamp need it

    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")


@functools.cache
def system_context() -> dict[str, str]:
    """Computed once per process (W10): the library, the OS and the Python runtime."""
    import platform  # deferred to the first event: importing it costs more than calling it

    context = {
        "$lib": LIB_NAME,
        "$lib_version": __version__,
        "$python_runtime": platform.python_implementation(),
        "$python_version": "{}.{}.{}".format(*sys.version_info[:3]),
    }
    context.update(_os_info())
    return context


def _os_info() -> dict[str, str]:
    import platform

    system = platform.system()
    if system == "Darwin":
        return {"$os": "Mac OS X", "$os_version": platform.mac_ver()[0]}
    if system == "Windows":
        return {"$os": "Windows", "$os_version": platform.win32_ver()[1] or platform.release()}
    if system == "Linux":
        info = {"$os": "Linux", "$os_version": platform.release()}
        try:
            release = platform.freedesktop_os_release()
        except OSError:
            return info
        info["$os_distro"] = release.get("ID", "")
        info["$os_version"] = release.get("VERSION_ID", "") or platform.release()
        return info
    return {"$os": system or sys.platform, "$os_version": platform.release()}
