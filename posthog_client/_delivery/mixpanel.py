"""The Mixpanel backend: queued events sent as Mixpanel records over the shared ``HttpTransport``.

The one pipeline queues every event in PostHog's wire shape whatever the backend, so its disk
queue, worker, retry policy and fault handling are the same for both. At send time this backend
maps each event (``_mixpanel.map_event``) to its records: events go to ``/import`` (gzipped,
``strict=1``; ``$merge`` with the service account), person updates to ``/engage`` and group
updates to ``/groups``, in that order, in requests of at most 2000 records and 2 MiB
(mixpanel-spec §4; D2, D11–D13).

Mixpanel answers per request and, on strict ``/import``, per event, so ``send`` answers per
event (``EventResults``): an event is accepted once all of its records were, dropped when one
was refused for good (a strict 400 listing it, a final 4xx, a record too large on its own), and
sent again when a request failed in a retryable way (network, 408, 429, 5xx), its records
included; the requests after that one wait for the retry. Resending is safe: ``/import``
deduplicates on ``$insert_id`` (the event's uuid, MA10) and person updates are idempotent
(``$set``, ``$set_once``, ``$unset``). A 413 halves the request, down to one record.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, Final, NamedTuple
from urllib.parse import urlencode

from .._config import Options
from .._exceptions import (
    InvalidEventError,
    PayloadTooLargeError,
    RejectedError,
    RetryableTransportError,
)
from .._log import error_once
from .._mixpanel import (
    MAX_BATCH_BYTES,
    MAX_RECORDS,
    MixpanelRecord,
    MixpanelSettings,
    RecordKind,
    WireRequest,
    check_import_answer,
    check_update_answer,
    import_request,
    map_event,
    update_request,
)
from .._types import MixpanelServiceAccount
from .backend import EventResults
from .http import USER_AGENT, HttpTransport, gzip_body, parse_retry_after

__all__ = ["MixpanelBackend", "mixpanel_backend", "records_of"]

_TOKEN_HINT: Final = (
    "check mixpanel_token (Project settings → Access keys → Project token) and mixpanel_region "
    "(an EU or India project takes data only at its own region's host)"
)
# Requests in the order they are sent: events before the person and group updates they explain.
_ROUTES: Final[tuple[tuple[RecordKind, bool], ...]] = (
    ("event", False), ("event", True), ("profile", False), ("group", False)
)  # fmt: skip


class _Record(NamedTuple):
    source: int  # the index of the queued event it comes from
    body: dict[str, Any]
    size: int  # bytes of its JSON


def mixpanel_backend(options: Options) -> MixpanelBackend:
    """The backend of a client with ``mixpanel_token`` (and no ``backend`` of its own)."""
    assert options.mixpanel_token is not None
    settings = MixpanelSettings(
        options.mixpanel_token,
        options.mixpanel_id_merge,
        service_account=options.mixpanel_service_account is not None,
    )
    return MixpanelBackend(
        settings,
        options.host,
        service_account=options.mixpanel_service_account,
        geolocate=not options.disable_geoip,
        gzip=options.gzip,
        timeout_s=options.timeout_s,
    )


class MixpanelBackend(HttpTransport):
    """Sends batches of queued events to a Mixpanel host (or the local server in a Mixpanel
    mode); see the module docstring."""

    def __init__(
        self,
        settings: MixpanelSettings,
        host: str,
        *,
        service_account: MixpanelServiceAccount | None = None,
        geolocate: bool = True,
        gzip: bool = True,
        timeout_s: float = 10.0,
    ) -> None:
        super().__init__(host.rstrip("/"), timeout_s=timeout_s)
        self.settings = settings
        self._service_account = service_account
        self._geolocate = geolocate
        self._gzip = gzip

    def send(self, batch: Sequence[bytes]) -> EventResults | None:
        routes: dict[tuple[RecordKind, bool], list[_Record]] = {route: [] for route in _ROUTES}
        results = _Results()
        for index, line in enumerate(batch):
            try:
                mapped = records_of(line, self.settings)
                sizes = [_size(record.body) for record in mapped]
            except Exception:  # never in a queue this SDK wrote; must not hold up its batch
                results.dropped[index] = "not an event"
                continue
            for record, size in zip(mapped, sizes, strict=True):
                routes[record.kind, record.privileged].append(_Record(index, record.body, size))
        for (kind, privileged), records in routes.items():
            for chunk in _chunks(records):
                self._deliver(kind, privileged, chunk, results)
        return results.answer(len(batch))

    def _deliver(
        self, kind: RecordKind, privileged: bool, chunk: Sequence[_Record], results: _Results
    ) -> bool:
        """Send one request's records; False when it failed in a retryable way: then they, and
        every record after them, wait for the retry."""
        if results.failure is not None:
            results.retry.update(record.source for record in chunk)
            return False
        try:
            refused = self._post(kind, privileged, chunk)
        except PayloadTooLargeError:
            if len(chunk) == 1:
                results.dropped.setdefault(chunk[0].source, "too large")
                return True
            middle = len(chunk) // 2
            return self._deliver(kind, privileged, chunk[:middle], results) and self._deliver(
                kind, privileged, chunk[middle:], results
            )
        except RejectedError as exc:
            if exc.status_code in (401, 403):
                error_once(f"mixpanel-{exc.status_code}", "%s: %s", exc, _TOKEN_HINT)
            for record in chunk:
                results.dropped.setdefault(record.source, str(exc))
            return True
        except RetryableTransportError as exc:
            results.failure = exc
            results.retry.update(record.source for record in chunk)
            return False
        for position, why in refused.items():
            if 0 <= position < len(chunk):
                results.dropped.setdefault(chunk[position].source, why)
        return True

    def _post(self, kind: RecordKind, privileged: bool, chunk: Sequence[_Record]) -> dict[int, str]:
        records = [record.body for record in chunk]
        request: WireRequest
        if kind == "event":
            account = self._service_account if privileged else None
            request = import_request(
                records,
                token=self.settings.token,
                service_account=account,
                geolocate=self._geolocate,
            )
        else:
            request = update_request(kind, records, geolocate=self._geolocate)
        headers = {**request.headers, "User-Agent": USER_AGENT}
        body = request.body
        if self._gzip and kind == "event":  # /engage takes no gzip (MA6)
            body = gzip_body(body)
            headers["Content-Encoding"] = "gzip"
        url = f"{self.url}{request.path}?{urlencode(request.query)}"
        response = self.post(url, body, headers)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if kind == "event":
            return check_import_answer(
                response.status_code, response.content, retry_after_s=retry_after
            )
        check_update_answer(response.status_code, response.content, retry_after_s=retry_after)
        return {}


class _Results:
    """What one ``send`` made of each event of its batch."""

    def __init__(self) -> None:
        self.dropped: dict[int, str] = {}
        self.retry: set[int] = set()
        self.failure: RetryableTransportError | None = None

    def answer(self, size: int) -> EventResults | None:
        retry = self.retry - set(self.dropped)
        if not retry and not self.dropped:
            return None
        failure = self.failure
        if failure is not None and len(retry) == size:
            raise failure  # nothing was taken: the whole batch waits, as for PostHog
        detail = None if failure is None else str(failure)
        retry_after = None if failure is None else failure.retry_after_s
        return EventResults(self.dropped, frozenset(retry), retry_after, detail)


def records_of(line: bytes, settings: MixpanelSettings) -> list[MixpanelRecord]:
    """The Mixpanel records of one queued line; raises for a line that is not an event."""
    event = json.loads(line)
    if not isinstance(event, dict):
        raise InvalidEventError("a queued line is not an event")
    return map_event(event, settings)


def _size(body: dict[str, Any]) -> int:
    """Bytes of ``body`` as JSON (also proves that it encodes)."""
    return len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())


def _chunks(records: Sequence[_Record]) -> Iterator[Sequence[_Record]]:
    """Requests of at most ``MAX_RECORDS`` records and ``MAX_BATCH_BYTES`` of JSON (D12)."""
    start, size = 0, 2  # the array's brackets
    for end, record in enumerate(records):
        grown = size + record.size + 1
        if end > start and (end - start >= MAX_RECORDS or grown > MAX_BATCH_BYTES):
            yield records[start:end]
            start, grown = end, 2 + record.size + 1
        size = grown
    if start < len(records):
        yield records[start:]
