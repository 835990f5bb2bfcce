"""The local server's routing: a table of routes, and the request and response they exchange.

A route is a method, a path (``{name}`` segments are parameters; a trailing slash is optional),
a handler, and what the route needs: a body limit for POSTs, and whether it reads stored data
(``private``: Host check and, when configured, the personal API key).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

__all__ = ["Handler", "Request", "Response", "Route", "Router"]


@dataclass(frozen=True)
class Request:
    """One HTTP request as a handler sees it."""

    method: str
    path: str
    query: Mapping[str, Sequence[str]]
    headers: Message
    body: bytes = b""
    params: Mapping[str, str] = field(default_factory=dict)
    """The values of the route's ``{name}`` segments."""

    def first(self, name: str) -> str | None:
        """The first value of query parameter ``name``, or None."""
        values = self.query.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class Response:
    """What a handler answers; ``close`` ends the connection after it."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    close: bool = False

    @classmethod
    def json(cls, status: int, payload: object, **options: Any) -> Response:
        body = json.dumps(payload, ensure_ascii=False).encode()
        return cls(status, body, "application/json", **options)

    @classmethod
    def error(cls, status: int, code: str, message: str, *, close: bool = False) -> Response:
        """PostHog's error shape: ``{"status", "code", "error"}``."""
        return cls.json(status, {"status": status, "code": code, "error": message}, close=close)


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    """A method and path pattern served by ``handler``."""

    method: str
    path: str
    handler: Handler
    private: bool = False
    """Reads stored data: only for known Host headers, and with the key when one is set."""
    body_limit: int = 0
    """Largest body accepted (POST)."""
    html: bool = False
    """Answers a browser: refusals are pages, not JSON."""


class Router:
    """Finds the route for a method and path."""

    def __init__(self, routes: Iterable[Route] = ()) -> None:
        self._routes: list[tuple[Route, tuple[str, ...]]] = []
        for route in routes:
            self.add(route)

    def add(self, route: Route) -> None:
        """Serve ``route``; the first added wins when two patterns match."""
        self._routes.append((route, _segments(route.path)))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route for ``method path`` and its parameters, or None."""
        segments = _segments(path)
        for route, pattern in self._routes:
            if route.method == method:
                params = _bind(pattern, segments)
                if params is not None:
                    return route, params
        return None


def _segments(path: str) -> tuple[str, ...]:
    return tuple(part for part in path.split("/") if part)


def _bind(pattern: tuple[str, ...], segments: tuple[str, ...]) -> dict[str, str] | None:
    if len(pattern) != len(segments):
        return None
    params: dict[str, str] = {}
    for expected, actual in zip(pattern, segments, strict=True):
        if expected.startswith("{") and expected.endswith("}"):
            params[expected[1:-1]] = actual
        elif expected != actual:
            return None
    return params
