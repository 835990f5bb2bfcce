"""Decoding of Mixpanel ingestion request bodies into records (M-API MA4–MA6, M-SERVER MS1).

Accepted, on every route: a form ``data=<JSON>`` or ``data=<base64(JSON)>`` (mixpanel-python,
mixpanel-js, Android), a raw JSON array or object, the GET form ``?data=`` (empty body), and on
``/import`` also NDJSON. Gzip is read when ``Content-Encoding: gzip`` says so or the body starts
with gzip's magic bytes, except on ``/engage`` (Mixpanel refuses it there, MA6). Limits count
uncompressed bytes and are enforced while inflating, so a gzip bomb costs at most ``limit + 1``
bytes. Anything else raises ``MixpanelRequestError``, the only exception this module raises.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qs

from .._models import RequestRejectedError
from .._payload import _GZIP_MAGIC, _gunzip, _reject_constant, _unbase64

__all__ = [
    "BODY_LIMIT",
    "IMPORT_BODY_LIMIT",
    "MAX_RECORDS",
    "DecodedBody",
    "MixpanelRequestError",
    "decode_mixpanel_body",
]

MAX_RECORDS: Final = 2000
"""Records per request on every route (MA13)."""
IMPORT_BODY_LIMIT: Final = 2 * 1024 * 1024
"""``/import``'s uncompressed body limit: the figure Mixpanel's own 413 answer names (MA13)."""
BODY_LIMIT: Final = 10 * 1024 * 1024
"""The other routes' limit: Mixpanel documents none, the local server needs one."""

_FORM: Final = "application/x-www-form-urlencoded"
_NDJSON: Final = "application/x-ndjson"


class MixpanelRequestError(ValueError):
    """A whole request refused before any record is read: ``status`` is 400 or 413."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class DecodedBody:
    """The records of one request, as sent (each is checked on its own), and its parameters."""

    records: list[Any]
    fields: dict[str, str] = field(default_factory=dict)
    """The query parameters, overridden by the form's other fields (``verbose``, ``ip``…)."""
    form: bool = False
    """Whether the records came in a ``data=`` form (the legacy, non-strict ``/import``)."""


def decode_mixpanel_body(
    body: bytes,
    *,
    content_type: str = "",
    content_encoding: str = "",
    query: Mapping[str, Sequence[str]] | None = None,
    limit: int = BODY_LIMIT,
    gzip: bool = True,
    ndjson: bool = False,
) -> DecodedBody:
    """Decode one request body (MS1) or raise ``MixpanelRequestError``.

    ``query`` is the parsed query string; with an empty body its ``data`` is the payload (the
    GET form). ``gzip=False`` refuses compressed bodies; ``ndjson=True`` reads
    ``application/x-ndjson`` line by line.
    """
    fields = {name: values[0] for name, values in (query or {}).items() if values}
    media_type = content_type.split(";")[0].strip().lower()
    if not body and "data" in fields:
        return _from_form(fields, {})
    if content_encoding.strip().lower() == "gzip" or body.startswith(_GZIP_MAGIC):
        if not gzip:
            raise MixpanelRequestError("this endpoint does not accept gzip bodies")
        body = _translated(lambda: _gunzip(body, limit))
    elif len(body) > limit:
        raise MixpanelRequestError(f"request exceeds max limit of {limit} bytes", status=413)
    if media_type == _FORM or (media_type in ("", "text/plain") and body.startswith(b"data=")):
        return _from_form(fields, _parse_form(body))
    if ndjson and media_type == _NDJSON:
        lines = [line for line in _text(body).splitlines() if line.strip()]
        return DecodedBody(_counted([_json(line) for line in lines]), fields)
    return DecodedBody(_records(_json(_text(body))), fields)


def _from_form(fields: dict[str, str], form: dict[str, str]) -> DecodedBody:
    merged = {**fields, **form}
    data = merged.pop("data", None)
    if data is None:
        raise MixpanelRequestError("the form has no data field")
    if not data.lstrip().startswith(("[", "{")):
        # a client that did not percent-encode "+" sent it as a space; base64 has no spaces
        raw = data.replace(" ", "+").encode("ascii", errors="replace")
        data = _text(_translated(lambda: _unbase64(raw)))
    return DecodedBody(_records(_json(data)), merged, form=True)


def _parse_form(body: bytes) -> dict[str, str]:
    try:
        parsed = parse_qs(_text(body), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise MixpanelRequestError("the form is not valid UTF-8") from None
    return {name: values[0] for name, values in parsed.items()}


def _records(payload: object) -> list[Any]:
    if isinstance(payload, dict):
        return [payload]
    if not isinstance(payload, list):
        raise MixpanelRequestError("the body must be a JSON object or array")
    return _counted(payload)


def _counted(records: list[Any]) -> list[Any]:
    if not records:
        raise MixpanelRequestError("the request holds no record")
    if len(records) > MAX_RECORDS:
        raise MixpanelRequestError(f"more than {MAX_RECORDS} records in one request")
    return records


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise MixpanelRequestError("the body is not valid UTF-8") from None


def _json(text: str) -> Any:
    if not text.strip():
        raise MixpanelRequestError("the request holds no record")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise MixpanelRequestError(f"invalid JSON: {exc}") from None


def _translated(step: Callable[[], bytes]) -> bytes:
    """Run a decoding helper shared with the PostHog routes, with this module's error type."""
    try:
        return step()
    except RequestRejectedError as exc:
        raise MixpanelRequestError(str(exc), status=exc.status) from None
