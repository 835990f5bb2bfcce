"""PostHog's capture v1 route, ``POST /i/v1/analytics/events``: a batch answered per event.

As PostHog's ``rust/capture/src/v1`` reads a request: the project key comes as ``Authorization:
Bearer`` (401 without it or with another key); ``PostHog-Sdk-Info``, ``PostHog-Attempt``,
``PostHog-Request-Id`` and ``PostHog-Request-Timestamp`` are required (400), the body is
``application/json`` (415 otherwise), plain, gzip or zlib ``deflate`` (415 for another
encoding). The whole request is refused (400) for what fails its typed parse: a body that is not
``{"created_at", "batch", "historical_migration"?}``, an empty batch, an event whose ``event``,
``uuid``, ``distinct_id`` or ``timestamp`` is missing or not text, or a uuid that is invalid or
twice in the batch. Anything else wrong with one event drops that event alone, the others being
stored: ``missing_event_name``, ``event_name_too_long``, ``missing_distinct_id``,
``distinct_id_too_large``, ``invalid_event_timestamp`` (not RFC 3339),
``malformed_event_properties`` and ``invalid_options``.

The answer is ``200 {"results": {uuid: {"result": "ok" | "drop", "details"?}}}``, with the
request id echoed; errors are ``{"error", "error_description", "error_uri"}``. Kept events are
stored as ``/batch/`` stores them: ``options`` and the root ``session_id``/``window_id`` become
the properties v0 carries them in, ``$lib``/``$lib_version`` come from ``PostHog-Sdk-Info``, and
``PostHog-Request-Timestamp`` corrects the client's clock skew as ``sent_at`` does.
"""

from __future__ import annotations

import json
import re
from email.message import Message
from typing import Any, Final

from .._events.uuid7 import normalize_uuid
from .._events.v1_options import OPTIONS
from .._log import logger
from ._engine import PersonEngine
from ._models import RequestRejectedError
from ._payload import BATCH_BODY_LIMIT, decode_v1_body
from ._router import Handler, Request, Response, Route
from ._time import parse_timestamp

__all__ = ["V1_PATH", "ingest_v1_routes"]

V1_PATH: Final = "/i/v1/analytics/events"
_REQUIRED_HEADERS: Final = (
    "PostHog-Sdk-Info", "PostHog-Attempt", "PostHog-Request-Id", "PostHog-Request-Timestamp",
    "Content-Type", "User-Agent",
)  # fmt: skip
_MAX_LENGTH: Final = 200  # of an event name and of a distinct id
_RFC3339: Final = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)")
_ERROR_URI: Final = "https://posthog.com/docs/api"


def ingest_v1_routes(engine: PersonEngine, api_key: str) -> list[Route]:
    """The capture v1 route for the project key ``api_key``."""
    return [Route("POST", V1_PATH, _handler(engine, api_key), body_limit=BATCH_BODY_LIMIT)]


def _handler(engine: PersonEngine, api_key: str) -> Handler:
    def ingest(request: Request) -> Response:
        request_id = request.headers.get("PostHog-Request-Id") or ""
        try:
            sdk_info, sent_at = _check_headers(request.headers, api_key)
            payload = _read_body(request)
            results, kept = _check_events(payload, sdk_info)
            _store(engine, kept, results, sent_at)
        except RequestRejectedError as exc:
            return _error(exc.status, exc.code, str(exc), request_id)
        except Exception:
            logger.exception("local server: failed to ingest a capture v1 request")
            return _error(500, "internal_error", "Internal Server Error", request_id)
        headers = (("PostHog-Request-Id", request_id),) if request_id else ()
        return Response.json(200, {"results": results}, headers=headers)

    return ingest


def _check_headers(headers: Message, api_key: str) -> tuple[str, str]:
    """The ``PostHog-Sdk-Info`` and ``PostHog-Request-Timestamp`` of a well-formed request."""
    authorization = headers.get("Authorization")
    if authorization is None:
        raise RequestRejectedError("missing_authorization", "no Authorization header", status=401)
    missing = [name for name in _REQUIRED_HEADERS if headers.get(name) is None]
    if missing:
        raise RequestRejectedError("missing_required_headers", f"missing {', '.join(missing)}")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        raise RequestRejectedError("invalid_header_value", "Authorization must be Bearer")
    if token.strip() != api_key:
        raise RequestRejectedError("invalid_api_token", "API token is not valid", status=401)
    content_type = headers["Content-Type"].split(";")[0].strip().lower()
    if content_type != "application/json":
        raise RequestRejectedError(
            "unsupported_content_type", f"unsupported content type {content_type!r}", status=415
        )
    if normalize_uuid(headers["PostHog-Request-Id"]) is None:
        raise RequestRejectedError("invalid_header_value", "PostHog-Request-Id is not a UUID")
    attempt = headers["PostHog-Attempt"].strip()
    if not (attempt.isascii() and attempt.isdigit() and int(attempt) >= 1):
        raise RequestRejectedError("invalid_header_value", "PostHog-Attempt must be 1 or more")
    sent_at = headers["PostHog-Request-Timestamp"]
    if _rfc3339(sent_at) is None:
        raise RequestRejectedError(
            "invalid_header_value", "PostHog-Request-Timestamp is not RFC 3339"
        )
    return headers["PostHog-Sdk-Info"], sent_at


def _read_body(request: Request) -> dict[str, Any]:
    encoding = request.headers.get("Content-Encoding", "")
    try:
        text = decode_v1_body(request.body, encoding, BATCH_BODY_LIMIT)
    except RequestRejectedError as exc:
        if exc.status == 413:
            raise RequestRejectedError("payload_too_large", str(exc), status=413) from None
        raise
    try:
        payload = json.loads(text.decode("utf-8"), parse_constant=_reject)
    except (ValueError, RecursionError) as exc:
        raise RequestRejectedError("request_parsing_error", f"invalid JSON: {exc}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("batch"), list):
        raise RequestRejectedError("request_parsing_error", 'the body must hold a "batch" array')
    if not isinstance(payload.get("created_at"), str) or _rfc3339(payload["created_at"]) is None:
        raise RequestRejectedError("invalid_batch", "created_at is not RFC 3339")
    if not isinstance(payload.get("historical_migration", False), bool):
        raise RequestRejectedError("request_parsing_error", "historical_migration is not a bool")
    if not payload["batch"]:
        raise RequestRejectedError("empty_batch", "request batch is empty")
    return payload


def _check_events(
    payload: dict[str, Any], sdk_info: str
) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, Any]]]:
    """Each event's result by uuid, and the events to store (in ``/batch/``'s shape) by uuid."""
    results: dict[str, dict[str, str]] = {}
    kept: dict[str, dict[str, Any]] = {}
    lib, _, version = sdk_info.rpartition("/")
    for index, raw in enumerate(payload["batch"]):
        uuid = _typed_uuid(raw, index)
        if uuid in results:
            raise RequestRejectedError("duplicate_event_uuid", f"duplicate event uuid {uuid}")
        problem, event = _v0_event(raw, uuid)
        if problem is not None:
            results[uuid] = {"result": "drop", "details": problem}
            continue
        if lib.strip() and version.strip():
            event["properties"].setdefault("$lib", lib.strip())
            event["properties"].setdefault("$lib_version", version.strip())
        results[uuid] = {"result": "ok"}
        kept[uuid] = event
    return results, kept


def _typed_uuid(raw: object, index: int) -> str:
    """The event's uuid, once its fields have the types v1 parses; else the request fails."""
    if not isinstance(raw, dict):
        raise RequestRejectedError("request_parsing_error", f"event {index} is not an object")
    for name in ("event", "uuid", "distinct_id", "timestamp"):
        if not isinstance(raw.get(name), str):
            raise RequestRejectedError(
                "request_parsing_error", f"event {index}: {name} is missing or not a string"
            )
    for name in ("session_id", "window_id"):
        if raw.get(name) is not None and not isinstance(raw[name], str):
            raise RequestRejectedError(
                "request_parsing_error", f"event {index}: {name} is not a string"
            )
    uuid = raw["uuid"].strip()
    if not uuid:
        raise RequestRejectedError("missing_event_uuid", f"event {index} has no uuid")
    normalized = normalize_uuid(uuid)
    if normalized is None:
        raise RequestRejectedError("invalid_event_uuid", f"event {index}: invalid uuid {uuid!r}")
    return normalized


def _v0_event(raw: dict[str, Any], uuid: str) -> tuple[str | None, dict[str, Any]]:
    """Why the event is dropped, or None and the event as ``/batch/`` would carry it."""
    name, distinct_id = raw["event"], raw["distinct_id"].strip()
    if not name:
        return "missing_event_name", {}
    if len(name) > _MAX_LENGTH:
        return "event_name_too_long", {}
    if not distinct_id:
        return "missing_distinct_id", {}
    if len(distinct_id) > _MAX_LENGTH:
        return "distinct_id_too_large", {}
    if _rfc3339(raw["timestamp"]) is None:
        return "invalid_event_timestamp", {}
    properties = raw.get("properties", {})
    if not isinstance(properties, dict):
        return "malformed_event_properties", {}
    properties = dict(properties)
    options = raw.get("options")
    if options is not None:
        if not isinstance(options, dict):
            return "invalid_options", {}
        for key, option, coerce, _ in OPTIONS:
            if options.get(option) is not None:
                value = coerce(options[option])
                if value is None:
                    return "invalid_options", {}
                properties[key] = value
    for field in ("session_id", "window_id"):
        if raw.get(field) is not None:
            properties[f"${field}"] = raw[field]
    event = {"event": name, "uuid": uuid, "distinct_id": distinct_id, "properties": properties}
    return None, {**event, "timestamp": raw["timestamp"]}


def _store(
    engine: PersonEngine,
    kept: dict[str, dict[str, Any]],
    results: dict[str, dict[str, str]],
    sent_at: str,
) -> None:
    """Ingest the kept events; one the engine still refuses is dropped, the others stored."""
    events = list(kept.values())
    while events:
        try:
            engine.ingest(events, sent_at=sent_at)
            return
        except RequestRejectedError as exc:
            if exc.index is None:
                raise
            refused = events.pop(exc.index)
            results[refused["uuid"]] = {"result": "drop", "details": exc.code}


def _rfc3339(text: str) -> str | None:
    return text if _RFC3339.fullmatch(text) and parse_timestamp(text) is not None else None


def _error(status: int, code: str, message: str, request_id: str) -> Response:
    headers: list[tuple[str, str]] = [("PostHog-Request-Id", request_id)] if request_id else []
    if status >= 500 or status in (408, 429):
        headers.append(("Retry-After", "1"))
    body = {"error": code, "error_description": message, "error_uri": _ERROR_URI}
    return Response.json(status, body, headers=tuple(headers))


def _reject(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
