"""Capture v1: batches to ``POST {host}/i/v1/analytics/events``, answered per event.

The project key travels as ``Authorization: Bearer``; each request says who sends it
(``PostHog-Sdk-Info``), when (``PostHog-Request-Timestamp``, now on every attempt, for the
server's clock-skew correction) and which request it is (``PostHog-Request-Id``, and
``PostHog-Attempt`` from 1). The body is ``{"created_at", "historical_migration"?, "batch"}``,
events in v1's shape (``v1_events``).

A 2xx answers each event by uuid: ``ok`` and ``warning`` are accepted, ``drop`` is refused for
good (with the server's reason), ``retry`` is sent again later, after ``Retry-After`` if given; an
event the answer leaves out, or answers with a result this SDK does not know, is accepted (as
PostHog's own SDKs treat it). That becomes an ``EventResults``, so the pipeline sends only the
``retry`` events again and never the others. Other statuses mean what they mean on v0
(``HttpTransport._raise_for``): 408, 429 and 5xx are retried with ``Retry-After``, 413 splits the
batch, other 4xx are final. PostHog documents 429 as final on v1, but a queue that promises to
lose nothing does not drop events for being rate-limited. A 404 or 405 means the host has no v1
endpoint (an older self-hosted PostHog): a configuration problem, said once at ERROR while the
events wait, as for a redirect to another host.

**The request id across retries.** The pipeline retries by sending the same events again later,
in a new ``send``. A batch whose events were all part of the request that is waiting to be sent
again (a retryable failure: all of them; a per-event answer: its ``retry`` events) is that
request again: same ``PostHog-Request-Id`` and ``created_at``, the next ``PostHog-Attempt``. Any
other batch, including one that adds newly queued events to those, is a new request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final, NamedTuple

from .._events.runtime import LIB_NAME
from .._events.timestamps import now_timestamp
from .._events.uuid7 import uuid7
from .._exceptions import RejectedError, RetryableTransportError
from .._log import clip, clip_repr, error_once, logger
from .._version import __version__
from .backend import EventResults
from .http import PostHogTransport, parse_retry_after
from .v1_events import to_v1_event

if TYPE_CHECKING:
    import requests

__all__ = ["V1_PATH", "CaptureV1Backend"]

V1_PATH: Final = "/i/v1/analytics/events"
_SDK_INFO: Final = f"{LIB_NAME}/{__version__}"
_ACCEPTED: Final = frozenset({"ok", "warning"})
_NO_V1: Final = frozenset({404, 405})  # the route does not exist there


class _Request(NamedTuple):
    """One request as the server knows it: its id, attempt and creation time, and its events."""

    id: str
    attempt: int
    created_at: str
    uuids: frozenset[str]


class CaptureV1Backend(PostHogTransport):
    """Sends batches to PostHog's capture v1 endpoint; see the module docstring."""

    def __init__(
        self,
        api_key: str,
        host: str,
        *,
        encoding: str | None = "gzip",
        timeout_s: float = 10.0,
        historical_migration: bool = False,
    ) -> None:
        url = f"{host.rstrip('/')}{V1_PATH}"
        super().__init__(api_key, url, encoding=encoding, timeout_s=timeout_s)
        self._backfill = historical_migration
        self._waiting: _Request | None = None  # the request whose events are to be sent again

    def send(self, batch: Sequence[bytes]) -> EventResults | None:
        dropped: dict[int, str] = {}
        positions: dict[str, int] = {}  # uuid -> index in batch
        events: list[bytes] = []
        for index, line in enumerate(batch):
            event = to_v1_event(line)
            if isinstance(event, str):
                dropped[index] = f"{event}, which capture v1 refuses: not sent"
            elif event.uuid in positions:  # the server would refuse the whole request
                dropped[index] = "the same uuid twice, which capture v1 refuses: not sent"
            else:
                positions[event.uuid] = index
                events.append(event.data)
        if not events:
            return EventResults(dropped=dropped)
        request = self._request_for(frozenset(positions))
        posted = False

        def build() -> tuple[bytes, dict[str, str]]:
            nonlocal posted
            posted = True  # from here on the attempt counts, whatever becomes of it
            return self._body(request, events), self._headers(request)

        try:
            response = self._post(build)
        except RetryableTransportError:
            if posted:
                self._waiting = request
            raise
        except RejectedError as exc:
            self._waiting = None
            if exc.status_code in _NO_V1:
                raise self._not_served(exc) from exc
            raise
        retry, refused = _read_answer(response, positions)
        self._waiting = request._replace(uuids=frozenset(retry)) if retry else None
        dropped.update(refused)
        if not dropped and not retry:
            return None
        return EventResults(
            dropped=dropped,
            retry=frozenset(positions[uuid] for uuid in retry),
            retry_after_s=parse_retry_after(response.headers.get("Retry-After")),
        )

    def _not_served(self, exc: RejectedError) -> RetryableTransportError:
        """A host without capture v1 (an older self-hosted PostHog): the events wait."""
        error_once(
            "capture-v1-not-served",
            '%s: this host does not serve capture v1; set capture_api="v0" (or upgrade '
            "PostHog). Events stay queued.",
            exc,
        )
        return RetryableTransportError(str(exc), status_code=exc.status_code)

    def _request_for(self, uuids: frozenset[str]) -> _Request:
        waiting = self._waiting
        if waiting is not None and uuids <= waiting.uuids:
            return waiting._replace(attempt=waiting.attempt + 1, uuids=uuids)
        return _Request(uuid7(), 1, now_timestamp()[0], uuids)

    def _body(self, request: _Request, events: list[bytes]) -> bytes:
        head = b'{"created_at":"' + request.created_at.encode() + b'",'
        if self._backfill:
            head += b'"historical_migration":true,'
        return head + b'"batch":[' + b",".join(events) + b"]}"

    def _headers(self, request: _Request) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._api_key}",
            "PostHog-Sdk-Info": _SDK_INFO,
            "PostHog-Request-Id": request.id,
            "PostHog-Attempt": str(request.attempt),
            "PostHog-Request-Timestamp": now_timestamp()[0],
        }


def _read_answer(
    response: requests.Response, positions: Mapping[str, int]
) -> tuple[list[str], dict[int, str]]:
    """The uuids a 2xx asks to send again, and the events it refused, with the server's reason."""
    content = response.content
    if b'"retry"' not in content and b'"drop"' not in content:
        return [], {}  # every event accepted (the usual answer): no need to read it
    try:
        results = json.loads(content)["results"]
        if not isinstance(results, dict):
            raise TypeError(type(results).__name__)
    except (ValueError, KeyError, TypeError):
        logger.debug("capture v1: a 2xx without per-event results; all %d accepted", len(positions))
        return [], {}
    retry: list[str] = []
    refused: dict[int, str] = {}
    for uuid, answer in results.items():
        if uuid not in positions or not isinstance(answer, dict):
            continue
        result = answer.get("result")
        if result == "retry":
            retry.append(uuid)
        elif result == "drop":
            details = answer.get("details")
            refused[positions[uuid]] = clip(details, 100) if isinstance(details, str) else "drop"
        elif result not in _ACCEPTED:
            logger.debug("capture v1: result %s taken as accepted", clip_repr(result, 40))
    return retry, refused
