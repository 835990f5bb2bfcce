"""Mixpanel requests as the transport will build them, read back by the reference server, and
Mixpanel's answers mapped onto the pipeline's ``TransportError`` tree (D2, D11–D13)."""

from __future__ import annotations

import base64
import json

import pytest

from posthog_client._exceptions import PayloadTooLargeError, RejectedError, RetryableTransportError
from posthog_client._mixpanel import (
    HOSTS,
    check_import_answer,
    check_update_answer,
    import_request,
    update_request,
)
from posthog_client._types import MixpanelServiceAccount
from posthog_client.server.mixpanel import ServiceAccount, decode_mixpanel_body, import_access

RECORDS = [{"event": "Opened", "properties": {"distinct_id": "ü", "time": 1}}]


def test_import_request_with_the_token() -> None:
    request = import_request(RECORDS, token="tok", geolocate=False)
    assert request.path == "/import"
    assert request.query == {"strict": "1", "ip": "0"}
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"tok:").decode()
    assert "Content-Encoding" not in request.headers  # the transport compresses every body
    assert json.loads(request.body) == RECORDS
    decoded = decode_mixpanel_body(
        request.body,
        content_type=request.headers["Content-Type"],
        query={k: [v] for k, v in request.query.items()},
    )
    assert decoded.records == RECORDS and not decoded.form
    auth = request.headers["Authorization"]
    assert import_access(auth, None, token="tok") == "token"


def test_import_request_with_a_service_account() -> None:
    account = MixpanelServiceAccount("user", "secret", "12")
    request = import_request(RECORDS, token="tok", service_account=account)
    assert request.query == {"strict": "1", "ip": "1", "project_id": "12"}
    assert json.loads(request.body) == RECORDS
    access = import_access(
        request.headers["Authorization"],
        "12",
        token="tok",
        service_account=ServiceAccount(*account),
    )
    assert access == "privileged"


@pytest.mark.parametrize("kind", ["profile", "group"])
def test_update_requests_are_forms_the_server_reads(kind: str) -> None:
    request = update_request(kind, RECORDS, geolocate=True)  # type: ignore[arg-type]
    assert request.path == ("/engage" if kind == "profile" else "/groups")
    decoded = decode_mixpanel_body(request.body, content_type=request.headers["Content-Type"])
    assert decoded.records == RECORDS and decoded.fields == {"verbose": "1", "ip": "1"}


def test_hosts() -> None:
    assert HOSTS == {
        "us": "https://api.mixpanel.com",
        "eu": "https://api-eu.mixpanel.com",
        "in": "https://api-in.mixpanel.com",
    }


def test_import_answers() -> None:
    assert check_import_answer(200, b'{"code":200,"num_records_imported":3,"status":"OK"}') == {}
    partial = {
        "code": 400,
        "num_records_imported": 1,
        "failed_records": [{"index": 2, "field": "time"}, {"index": 0}, {"index": 2}],
    }
    assert check_import_answer(400, json.dumps(partial).encode()) == {
        0: "invalid",
        2: "invalid time",
    }
    with pytest.raises(RejectedError) as rejected:
        check_import_answer(400, b'{"code":400,"error":"bad"}')
    assert rejected.value.status_code == 400 and "bad" in str(rejected.value)
    with pytest.raises(PayloadTooLargeError):
        check_import_answer(413, b'{"code":413,"error":"request exceeds max limit"}')
    with pytest.raises(RetryableTransportError) as retry:
        check_import_answer(429, b"", retry_after_s=3.0)
    assert retry.value.retry_after_s == 3.0 and retry.value.status_code == 429
    for status in (500, 502, 503, 408):
        with pytest.raises(RetryableTransportError):
            check_import_answer(status, b"<html>")
    with pytest.raises(RejectedError):
        check_import_answer(401, b'{"error":"Invalid credentials"}')


def test_update_answers() -> None:
    check_update_answer(200, b"1")
    check_update_answer(200, b'{"status":1,"error":null}')
    with pytest.raises(RejectedError, match="token"):
        check_update_answer(200, b'{"status":0,"error":"token, missing or empty"}')
    with pytest.raises(RejectedError):
        check_update_answer(200, b"0")
    with pytest.raises(RetryableTransportError):
        check_update_answer(503, b"")
