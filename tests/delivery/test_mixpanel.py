"""The Mixpanel transport: requests per record kind, per-event answers, limits, status codes."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from delivery_support import make_pipeline

from posthog_client._config import Options
from posthog_client._delivery.backend import EventResults
from posthog_client._delivery.build import build_delivery
from posthog_client._delivery.mixpanel import MixpanelBackend, mixpanel_backend
from posthog_client._exceptions import RetryableTransportError
from posthog_client._mixpanel import MAX_RECORDS, MixpanelSettings
from posthog_client._types import MixpanelServiceAccount
from posthog_client.server import LocalServer
from posthog_client.server.mixpanel import DEFAULT_TOKEN
from posthog_client.testing import MemoryBackend

HOST = "https://mp.example"
TOKEN = "mp_token"
DEVICE = str(uuid.uuid4())


def queued(
    name: str = "Opened",
    distinct_id: str = "u1",
    timestamp: str = "2026-01-01T00:00:00.000000+00:00",
    **properties: Any,
) -> bytes:
    """An event as the client queues it (PostHog's wire shape)."""
    props = {"$lib": "posthog-client-python", "$is_identified": True, **properties}
    return json.dumps(
        {
            "event": name,
            "distinct_id": distinct_id,
            "properties": props,
            "timestamp": timestamp,
            "uuid": str(uuid.uuid4()),
        }
    ).encode()


def backend(**options: Any) -> MixpanelBackend:
    settings = MixpanelSettings(TOKEN, options.pop("id_merge", "simplified"))
    return MixpanelBackend(settings, HOST, **options)


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def requests_of(mock: responses.RequestsMock) -> list[tuple[str, dict[str, list[str]], Any]]:
    """(path, query, records) of each request sent."""
    sent = []
    for call in mock.calls:
        request = call.request
        url = urlsplit(str(request.url))
        body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if url.path == "/import":
            records = json.loads(body)
        else:
            records = json.loads(parse_qs(body.decode())["data"][0])
        sent.append((url.path, parse_qs(url.query), records))
    return sent


def test_events_go_to_import_and_person_updates_to_engage_after_them(
    mocked: responses.RequestsMock,
) -> None:
    mocked.post(f"{HOST}/import", json={"code": 200, "status": "OK"})
    mocked.post(f"{HOST}/engage", json={"status": 1, "error": None})
    mocked.post(f"{HOST}/groups", json={"status": 1, "error": None})
    group = {"$group_type": "company", "$group_key": "acme", "$group_set": {"name": "Acme"}}
    batch = [
        queued("$set", **{"$set": {"plan": "pro"}}),
        queued("Opened"),
        queued("$groupidentify", **group),
    ]
    assert backend(geolocate=False).send(batch) is None
    (path, query, events), (engage, _, profiles), (groups, _, group_records) = requests_of(mocked)
    assert (path, engage, groups) == ("/import", "/engage", "/groups")
    assert query == {"strict": ["1"], "ip": ["0"]}
    assert [e["event"] for e in events] == ["Opened"]
    assert profiles == [{"$token": TOKEN, "$distinct_id": "u1", "$time": 1767225600.0,
                         "$set": {"plan": "pro"}}]  # fmt: skip
    assert group_records[0]["$group_id"] == "acme"
    first = mocked.calls[0].request
    assert first.headers["Content-Encoding"] == "gzip"
    assert first.headers["Authorization"] == "Basic " + base64.b64encode(b"mp_token:").decode()
    assert first.headers["User-Agent"].startswith("posthog-client-python/")
    assert "Content-Encoding" not in mocked.calls[1].request.headers  # /engage takes no gzip


def test_a_strict_400_drops_only_the_events_it_lists(mocked: responses.RequestsMock) -> None:
    answer = {"code": 400, "num_records_imported": 2, "failed_records": [
        {"index": 1, "insert_id": "x", "field": "properties.time", "message": "too old: 1960"}
    ]}  # fmt: skip
    mocked.post(f"{HOST}/import", status=400, json=answer)
    results = backend().send([queued(), queued(), queued()])
    assert results == EventResults({1: "invalid properties.time"}, frozenset(), None, None)


def test_a_retryable_failure_after_a_success_resends_only_what_was_not_taken(
    mocked: responses.RequestsMock,
) -> None:
    mocked.post(f"{HOST}/import", json={"code": 200, "status": "OK"})
    mocked.post(f"{HOST}/engage", status=503, headers={"Retry-After": "7"})
    batch = [queued(), queued("$set", **{"$set": {"a": 1}}), queued()]
    results = backend().send(batch)
    assert results is not None
    assert results.retry == {1} and not results.dropped
    assert results.retry_after_s == 7.0 and "503" in (results.detail or "")


def test_when_nothing_was_taken_the_whole_batch_waits_as_for_posthog(
    mocked: responses.RequestsMock,
) -> None:
    mocked.post(f"{HOST}/import", status=429, json={"code": 429, "error": "rate limited"})
    with pytest.raises(RetryableTransportError) as raised:
        backend().send([queued(), queued()])
    assert raised.value.status_code == 429


def test_413_halves_the_request_and_drops_a_record_too_large_alone(
    mocked: responses.RequestsMock,
) -> None:
    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        records = json.loads(gzip.decompress(request.body))
        big = any("blob" in r["properties"] for r in records)
        return (413, {}, "{}") if big else (200, {}, '{"code":200}')

    mocked.add_callback(responses.POST, f"{HOST}/import", callback=answer)
    batch = [queued(), queued(blob="x"), queued(), queued()]
    results = backend().send(batch)
    assert results == EventResults({1: "too large"}, frozenset(), None, None)
    sizes = [len(records) for _, _, records in requests_of(mocked)]
    assert sizes == [4, 2, 1, 1, 2]


def test_a_refused_token_drops_the_events_with_one_error_that_says_what_to_check(
    mocked: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    mocked.post(f"{HOST}/import", status=401, json={"error": "Invalid credentials"})
    sender = backend()
    for _ in range(2):
        results = sender.send([queued()])
        assert results is not None and list(results.dropped) == [0]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "mixpanel_region" in errors[0] and TOKEN not in errors[0]


def test_requests_hold_at_most_2000_records(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{HOST}/import", json={"code": 200})
    assert backend().send([queued() for _ in range(MAX_RECORDS + 5)]) is None
    assert [len(records) for _, _, records in requests_of(mocked)] == [MAX_RECORDS, 5]


def test_merge_goes_to_import_with_the_service_account(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{HOST}/import", json={"code": 200})
    account = MixpanelServiceAccount("sa", "secret", "42")
    settings = MixpanelSettings(TOKEN, "original", service_account=True)
    sender = MixpanelBackend(settings, HOST, service_account=account)
    merge = queued("$merge_dangerously", **{"alias": "u2", "$is_server": True})
    assert sender.send([queued(), merge]) is None
    (_, plain, _), (_, privileged, records) = requests_of(mocked)
    assert "project_id" not in plain and privileged["project_id"] == ["42"]
    assert records[0]["properties"]["$distinct_ids"] == ["u1", "u2"]
    auth = mocked.calls[1].request.headers["Authorization"]
    assert base64.b64decode(auth.split()[1]) == b"sa:secret"


def test_a_line_that_is_not_an_event_is_dropped_alone(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{HOST}/import", json={"code": 200})
    odd = json.loads(queued())
    odd["properties"] = 5
    lines = [b"{not json", b"[1]", json.dumps(odd).encode(), queued()]
    results = backend().send(lines)  # never in a queue the SDK wrote; must not block it
    assert results == EventResults(dict.fromkeys(range(3), "not an event"), frozenset())
    [(_, _, records)] = requests_of(mocked)
    assert len(records) == 1


def test_the_pipeline_never_resends_what_mixpanel_took(
    mocked: responses.RequestsMock, tmp_path: Path
) -> None:
    mocked.post(f"{HOST}/import", json={"code": 200})
    mocked.post(f"{HOST}/engage", status=500)
    mocked.post(f"{HOST}/engage", json={"status": 1})
    pipeline = make_pipeline(tmp_path, backend())
    try:
        pipeline.submit(queued("Opened"))
        pipeline.submit(queued("$set", **{"$set": {"a": 1}}))
        assert pipeline.flush(5).pending == 0
    finally:
        pipeline.shutdown(0)
    sent = [(path, len(records)) for path, _, records in requests_of(mocked)]
    assert sent == [("/import", 1), ("/engage", 1), ("/engage", 1)]  # "Opened" went once


def test_build_delivery_picks_mixpanel_unless_a_backend_is_given(tmp_path: Path) -> None:
    options = Options.resolve(
        mixpanel_token=TOKEN, mixpanel_region="eu", storage_dir=tmp_path, persist=False
    )
    assert options.api_key == TOKEN and options.host == "https://api-eu.mixpanel.com"
    made = mixpanel_backend(options)
    assert made.url == "https://api-eu.mixpanel.com" and made.settings.id_merge == "simplified"
    delivery = build_delivery(options)
    assert isinstance(delivery._backend, MixpanelBackend)  # type: ignore[attr-defined]
    delivery.shutdown(0)
    memory = MemoryBackend()
    delivery = build_delivery(options._replace(backend=memory))
    assert delivery._backend is memory  # type: ignore[attr-defined]
    delivery.shutdown(0)


def test_an_event_from_weeks_ago_is_ingested_and_a_resent_one_is_stored_once() -> None:
    weeks_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=30)  # /track keeps 5 days
    with LocalServer(identity="mixpanel-simplified") as server:
        sender = MixpanelBackend(MixpanelSettings(DEFAULT_TOKEN), server.url)
        old = queued(timestamp=weeks_ago.isoformat())
        assert sender.send([old]) is None
        assert sender.send([old]) is None  # resent after an answer was lost: deduplicated
        sender.close()
        [stored] = server.mixpanel.events()
    assert stored.insert_id == json.loads(old)["uuid"]
    assert abs((stored.time - weeks_ago).total_seconds()) < 1
