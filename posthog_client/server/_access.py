"""Who may read the local server's data: the query API and the explorer.

Ingestion routes are public, like PostHog's capture endpoints. Routes that read stored data
answer only requests whose ``Host`` header names this server: a web page cannot read them
through DNS rebinding (its requests carry the attacker's host name). When a personal API key is
set (always when bound beyond loopback) they also need it: ``Authorization: Bearer <key>``, a
``?key=`` parameter, or the cookie the explorer sets once opened with ``?key=``.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
from collections.abc import Iterable, Mapping, Sequence
from email.message import Message
from http.cookies import CookieError, SimpleCookie
from typing import Final

__all__ = ["KEY_COOKIE", "AccessPolicy", "is_loopback", "new_personal_api_key"]

KEY_COOKIE: Final = "posthog_local_key"
_LOOPBACK_NAMES: Final = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARDS: Final = frozenset({"", "0.0.0.0", "::"})


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server reachable from this machine only."""
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def new_personal_api_key() -> str:
    """A fresh random key in the shape of PostHog's personal API keys."""
    return f"phx_{secrets.token_urlsafe(24)}"


class AccessPolicy:
    """The Host names a server answers to and the key its private routes need (or None)."""

    def __init__(
        self, bound_host: str, personal_api_key: str | None, allowed_hosts: Iterable[str] = ()
    ) -> None:
        self.personal_api_key = personal_api_key
        extra = {host.lower().strip("[]") for host in allowed_hosts}
        self._any_host = "*" in extra
        self._hosts = _LOOPBACK_NAMES | extra | _names_of(bound_host)

    def host_allowed(self, headers: Message) -> bool:
        """Whether the request's ``Host`` names this server (a request without one does)."""
        value = headers.get("Host")
        if value is None or self._any_host:
            return True
        name = _host_name(value.strip().lower())
        return name in self._hosts or name.endswith(".localhost")

    def key_given(self, headers: Message, query: Mapping[str, Sequence[str]]) -> bool:
        """Whether the request carries the personal API key (always True when none is set)."""
        expected = self.personal_api_key
        if expected is None:
            return True
        candidates = list(query.get("key", ()))
        auth = headers.get("Authorization", "")
        if auth[:7].lower() == "bearer ":
            candidates.append(auth[7:].strip())
        cookie = _cookie(headers.get("Cookie", ""))
        if cookie is not None:
            candidates.append(cookie)
        return any(hmac.compare_digest(c.encode(), expected.encode()) for c in candidates)


def _names_of(bound_host: str) -> set[str]:
    """The names a client may use for a server bound to ``bound_host``."""
    host = bound_host.lower().strip("[]")
    if is_loopback(host):
        return {host}
    # reachable from other machines: by this machine's names, and addresses when bound to all
    names = {host, socket.gethostname().lower(), socket.getfqdn().lower()}
    if host not in _WILDCARDS:
        return names
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None)
    except OSError:
        infos = []
    names.update(str(info[4][0]).lower() for info in infos)
    return names


def _host_name(value: str) -> str:
    """``host`` out of ``host``, ``host:port``, ``[v6]`` or ``[v6]:port``."""
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


def _cookie(header: str) -> str | None:
    try:
        morsel = SimpleCookie(header).get(KEY_COOKIE)
    except CookieError:
        return None
    return None if morsel is None else morsel.value
