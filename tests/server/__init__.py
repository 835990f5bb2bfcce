"""Tests of the local reference server (``posthog_client.server``), and their helpers."""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

KEY = "phc_server_tests"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def event(
    name: str,
    distinct_id: object,
    properties: Mapping[str, Any] | None = None,
    *,
    at: datetime = T0,
    fields: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A wire-shape event with a fresh uuid, sent at ``at``; ``fields`` go at the top level."""
    return {
        "event": name,
        "distinct_id": distinct_id,
        "properties": dict(properties or {}),
        "timestamp": at.isoformat(),
        "uuid": str(uuid.uuid4()),
        **(fields or {}),
    }


def identify(
    new_id: str, anon_id: object, properties: Mapping[str, Any] | None = None, *, at: datetime = T0
) -> dict[str, Any]:
    return event("$identify", new_id, {"$anon_distinct_id": anon_id, **(properties or {})}, at=at)


def alias(
    target: str, other: object, properties: Mapping[str, Any] | None = None, *, at: datetime = T0
) -> dict[str, Any]:
    return event("$create_alias", target, {"alias": other, **(properties or {})}, at=at)


def merge_dangerously(
    target: str, other: object, properties: Mapping[str, Any] | None = None, *, at: datetime = T0
) -> dict[str, Any]:
    return event("$merge_dangerously", target, {"alias": other, **(properties or {})}, at=at)


def request(
    base_url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, Any]:
    """One HTTP request on its own connection: the status and the decoded JSON body (or None)."""
    url = urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    return response.status, json.loads(data) if data else None


def post_json(base_url: str, path: str, payload: object, **headers: str) -> tuple[int, Any]:
    body = json.dumps(payload).encode()
    return request(base_url, "POST", path, body, {"Content-Type": "application/json", **headers})


def get_json(base_url: str, path: str) -> tuple[int, Any]:
    return request(base_url, "GET", path)
