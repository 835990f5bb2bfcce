"""Decoding of ingestion request bodies into events, as PostHog's capture service accepts them.

Bodies may be gzip (detected by magic bytes or announced by ``Content-Encoding`` or
``?compression=gzip|gzip-js``), base64 (``?compression=base64|b64``), or a form with a
``data`` field; the size limit applies after decompression, so a gzip bomb is cut off as soon
as it exceeds the limit, and a body of many gzip members is read in linear time. The JSON is a
batch object ``{"api_key", "batch", "sent_at"}``, an array of events, or one event; a lone
UTF-16 surrogate escape in it becomes U+FFFD, as PostHog's capture does.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs

from ._capture import event_token
from ._models import RequestRejectedError
from ._strings import replace_lone_surrogates

if TYPE_CHECKING:
    from ._router import Request

__all__ = [
    "BATCH_BODY_LIMIT",
    "EVENT_BODY_LIMIT",
    "IngestRequest",
    "check_token",
    "decode_body",
    "decode_v1_body",
    "parse_ingest_request",
]

BATCH_BODY_LIMIT: Final = 20 * 1024 * 1024
"""Largest decompressed body of ``/batch/``."""
EVENT_BODY_LIMIT: Final = 2 * 1024 * 1024
"""Largest decompressed body of the other ingestion routes."""

_GZIP_MAGIC: Final = b"\x1f\x8b"
_GZIP_HINTS: Final = frozenset({"gzip", "gzip-js"})
_BASE64_HINTS: Final = frozenset({"base64", "b64"})
_UNSUPPORTED_HINTS: Final = frozenset({"lz64", "lz-string"})
# a JSON escape of a UTF-16 surrogate: only then can a decoded string hold a lone one
_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")
# gzip input is fed in windows that start small and double, so that the copy zlib makes of
# the rest of the input at the end of each member costs at most about the member's own size
_FIRST_WINDOW: Final = 256
_MAX_WINDOW: Final = 1 << 16


@dataclass(frozen=True)
class IngestRequest:
    """The events of one request, with its project token and send time (if any)."""

    events: list[Any]
    """As sent: capture checks each one."""
    tokens: frozenset[str]
    sent_at: str | None


def parse_ingest_request(request: Request, *, limit: int) -> IngestRequest:
    """Decode ``request``'s body (compression, form, JSON, shape) or raise
    ``RequestRejectedError``."""
    text = decode_body(request, limit=limit)
    try:
        decoded = text.decode("utf-8-sig")  # JSON bodies are UTF-8, as capture requires
        payload = json.loads(decoded, parse_constant=_reject_constant, parse_float=_finite)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise RequestRejectedError("request_parsing_error", f"invalid JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(decoded):
        payload = replace_lone_surrogates(payload)
    events, batch_token, sent_at = _shape(payload)
    if not events:
        raise RequestRejectedError("empty_batch", "request holds no event")
    if sent_at is None:  # /e/ sends it in the query string, in milliseconds
        millis = request.first("_") or request.first("sent_at")
        sent_at = (
            millis
            if millis and millis.isascii() and millis.isdigit() and len(millis) > 10
            else None
        )
    tokens = {batch_token} if batch_token else set()
    tokens.update(token for e in events if isinstance(e, Mapping) and (token := event_token(e)))
    return IngestRequest(events, frozenset(tokens), sent_at)


def decode_body(
    request: Request, *, limit: int, query: Mapping[str, Sequence[str]] | None = None
) -> bytes:
    """The bytes of ``request``'s body once its form, base64 and gzip layers are removed;
    ``query`` stands for the request's query string."""
    body = request.body
    hint = _first(request.query if query is None else query, "compression")
    content_type = request.headers.get("Content-Type", "")
    if content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        form = parse_qs(body.decode("latin-1"), keep_blank_values=True)
        hint = _first(form, "compression") or hint
        body = (_first(form, "data") or "").encode("latin-1")
    content_encoding = request.headers.get("Content-Encoding", "").strip().lower()
    return _decompress(body, (hint or "").lower(), content_encoding, limit)


def check_token(request: IngestRequest, api_key: str) -> None:
    """401 without a project token, 400 with several, 403 with another project's token."""
    if not request.tokens:
        raise RequestRejectedError(
            "ingest_key_required", "event submitted without an api_key", status=401
        )
    if len(request.tokens) > 1:
        raise RequestRejectedError(
            "unroutable_events", "batch submitted with inconsistent api_key values"
        )
    if api_key not in request.tokens:
        raise RequestRejectedError(
            "ingest_key_unknown", "API key is not valid for this server", status=403
        )


def _shape(payload: object) -> tuple[list[Any], str | None, str | None]:
    if isinstance(payload, list):
        return payload, None, None
    if not isinstance(payload, dict):
        raise RequestRejectedError("request_parsing_error", "body must be a JSON object or array")
    if "batch" not in payload:
        return [payload], None, None
    batch = payload["batch"]
    if not isinstance(batch, list):
        raise RequestRejectedError("request_parsing_error", "batch must be a JSON array")
    token = payload.get("api_key") or payload.get("token")
    sent_at = payload.get("sent_at")
    return (
        batch,
        token if isinstance(token, str) else None,
        sent_at if isinstance(sent_at, str) else None,
    )


def _decompress(body: bytes, hint: str, content_encoding: str, limit: int) -> bytes:
    if hint in _UNSUPPORTED_HINTS:
        raise RequestRejectedError(
            "request_decoding_error",
            f"compression={hint} is not supported by the local server",
        )
    if hint in _BASE64_HINTS:
        body = _unbase64(body)
    if body.startswith(_GZIP_MAGIC) or hint in _GZIP_HINTS or content_encoding == "gzip":
        return _gunzip(body, limit)
    if len(body) > limit:
        raise RequestRejectedError("event_too_big", f"payload exceeds {limit} bytes", status=413)
    return body


def decode_v1_body(body: bytes, content_encoding: str, limit: int) -> bytes:
    """A capture v1 body in ``Content-Encoding`` ``content_encoding`` (gzip, zlib ``deflate``
    or none), decompressed within ``limit`` bytes; 415 for another encoding (v1's rule)."""
    encoding = content_encoding.strip().lower()
    if encoding == "deflate":
        inflater = zlib.decompressobj(zlib.MAX_WBITS)
        out = bytearray()
        try:
            _inflate(inflater, memoryview(body), out, limit)
        except RequestRejectedError as exc:
            if exc.status == 413:
                raise
            raise RequestRejectedError("request_decoding_error", "invalid deflate data") from None
        if not inflater.eof:
            raise RequestRejectedError("request_decoding_error", "truncated deflate data")
        return bytes(out)
    if encoding not in ("", "identity", "gzip"):
        raise RequestRejectedError(
            "unsupported_encoding", f"Content-Encoding {encoding!r} is not supported", status=415
        )
    return _decompress(body, "", encoding, limit)


def _unbase64(body: bytes) -> bytes:
    compact = b"".join(body.split()).translate(bytes.maketrans(b"-_", b"+/"))
    try:
        return base64.b64decode(compact + b"=" * (-len(compact) % 4), validate=True)
    except binascii.Error:
        raise RequestRejectedError("request_decoding_error", "invalid base64 body") from None


def _gunzip(data: bytes, limit: int) -> bytes:
    """Inflate every gzip member, never holding more than ``limit + 1`` bytes of output."""
    view = memoryview(data)
    out = bytearray()
    position = 0
    while True:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        window = _FIRST_WINDOW
        while not inflater.eof:
            if position >= len(view):
                raise RequestRejectedError("request_decoding_error", "truncated gzip data")
            chunk = view[position : position + window]
            position += len(chunk)
            window = min(window * 2, _MAX_WINDOW)
            _inflate(inflater, chunk, out, limit)
        position -= len(inflater.unused_data)
        if bytes(view[position : position + 2]) != _GZIP_MAGIC:
            return bytes(out)


def _inflate(inflater: Any, chunk: memoryview, out: bytearray, limit: int) -> None:
    try:
        # max_length bounds each step, so a bomb costs at most limit + 1 bytes of memory
        out += inflater.decompress(chunk, limit + 1 - len(out))
        while inflater.unconsumed_tail and len(out) <= limit:
            out += inflater.decompress(inflater.unconsumed_tail, limit + 1 - len(out))
    except zlib.error:
        raise RequestRejectedError("request_decoding_error", "invalid gzip data") from None
    if len(out) > limit:
        raise RequestRejectedError(
            "event_too_big", f"decompressed payload exceeds {limit} bytes", status=413
        )


def _first(fields: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = fields.get(name)
    return values[0] if values else None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: JSON has no infinity, PostHog refuses it
        raise ValueError(f"{text} is out of range")
    return value
