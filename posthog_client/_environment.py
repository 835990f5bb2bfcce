"""What the environment and a host URL tell a client's options: the ``POSTHOG_*`` fallbacks,
the opt-out variables, the backends ``POSTHOG_CLIENT_BACKEND`` names, and whether a host URL is
usable (``_config`` builds the options from these)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Final

from ._log import logger

if TYPE_CHECKING:
    from ._delivery.backend import Backend

__all__ = [
    "DEFAULT_HOST",
    "env_bool",
    "env_host",
    "env_opt_out_reason",
    "host_problem",
    "named_backend",
    "normalize_host",
    "register_backend",
]

DEFAULT_HOST: Final = "https://us.i.posthog.com"
_INGESTION_HOSTS: Final = {
    "https://app.posthog.com": "https://us.i.posthog.com",
    "https://us.posthog.com": "https://us.i.posthog.com",
    "https://eu.posthog.com": "https://eu.i.posthog.com",
}
_FALSY: Final = frozenset({"", "0", "false", "no", "off"})


def env_opt_out_reason(
    environ: Mapping[str, str] | None = None, names: tuple[str, ...] | None = None
) -> str | None:
    """The first of the environment variables ``names`` that opts this process out (A19), or
    None.

    By default ``DO_NOT_TRACK`` (consoledonottrack.com) and ``POSTHOG_CLIENT_DISABLED``; an app's
    telemetry passes its own names. Each counts when set to anything but "", "0" or "false".
    """
    env = os.environ if environ is None else environ
    for name in names or ("DO_NOT_TRACK", "POSTHOG_CLIENT_DISABLED"):
        if env.get(name, "").strip().lower() not in _FALSY:
            return name
    return None


def env_bool(env: Mapping[str, str], name: str) -> bool | None:
    value = env.get(name)
    return None if value is None else value.strip().lower() not in _FALSY


def host_problem(url: str) -> str | None:
    """Why ``url`` cannot be where events are sent, or None. Checked when the client is built:
    a URL the HTTP stack cannot use would otherwise fail on every send, events waiting forever."""
    scheme, separator, rest = url.strip().partition("://")
    if not separator or scheme not in ("http", "https"):
        return "it must start with http:// or https://"
    netloc = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
    if netloc.startswith("["):  # an IPv6 literal, e.g. [::1]:8010
        host, _, port = netloc[1:].partition("]")
        if port and not port.startswith(":"):
            return "it is not a valid URL"
        port = port[1:]
    else:
        host, _, port = netloc.partition(":")
    if not host or any(c.isspace() or ord(c) < 32 for c in netloc):
        return "it has no valid host name"
    if port and not (port.isascii() and port.isdigit() and int(port) <= 65535):
        return "its port is not a number from 0 to 65535"
    return None


def env_host(value: str | None) -> str:
    """``POSTHOG_HOST``, or the default host when it is unset or unusable (with a WARNING: a
    stray variable must not crash the app at start-up)."""
    if not value:
        return DEFAULT_HOST
    problem = host_problem(value)
    if problem is not None:
        logger.warning("POSTHOG_HOST=%r ignored: %s; using %s", value[:100], problem, DEFAULT_HOST)
        return DEFAULT_HOST
    return value


# Backends chosen by name with POSTHOG_CLIENT_BACKEND. A module providing one registers its
# factory when imported; config names the module instead of importing it, so the dependency
# points from the provider (the test double) to config, never back.
_backend_factories: dict[str, Callable[[], Backend]] = {}
_BACKEND_PROVIDERS: Final = {"memory": "posthog_client.testing"}


def register_backend(name: str, factory: Callable[[], Backend]) -> None:
    """Make ``POSTHOG_CLIENT_BACKEND=<name>`` use the backend ``factory`` returns."""
    _backend_factories[name] = factory


def named_backend(name: str) -> Backend | None:
    """The backend ``POSTHOG_CLIENT_BACKEND`` names, or None (with a WARNING) if none has that
    name."""
    key = name.strip().lower()
    if key not in _backend_factories and key in _BACKEND_PROVIDERS:
        import importlib

        importlib.import_module(_BACKEND_PROVIDERS[key])
    factory = _backend_factories.get(key)
    if factory is None:
        names = sorted({*_BACKEND_PROVIDERS, *_backend_factories})
        logger.warning(
            "POSTHOG_CLIENT_BACKEND=%r is not a backend (expected %s or unset): nothing is sent",
            name[:100],
            " or ".join(map(repr, names)),
        )
        return None
    return factory()


def normalize_host(host: str) -> str:
    """Strip trailing slashes and map PostHog app hosts to ingestion hosts."""
    host = host.strip().rstrip("/")
    return _INGESTION_HOSTS.get(host, host)
