"""What every event says about its sender: the library, the OS and the Python runtime (W10)."""

from __future__ import annotations

import functools
import sys
from typing import Final

from .._version import __version__

__all__ = ["LIB_NAME", "system_context"]

LIB_NAME: Final = "posthog-client-python"


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
