"""``decode_mixpanel_body``: every form Mixpanel's SDKs send, and nothing else (MA4–MA6, MS1)."""

from __future__ import annotations

import base64
import gzip
import json
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posthog_client.server.mixpanel import (
    MAX_RECORDS,
    MixpanelEngine,
    MixpanelRequestError,
    decode_mixpanel_body,
)

from . import TOKEN

FORM = "application/x-www-form-urlencoded"
RECORDS = [{"event": "Opened", "properties": {"token": TOKEN, "distinct_id": "u1"}}]
TEXT = json.dumps(RECORDS)


def test_form_with_json_as_mixpanel_python_posts_it() -> None:
    body = urlencode({"data": TEXT, "verbose": 1, "ip": 0}).encode()
    decoded = decode_mixpanel_body(body, content_type=FORM)
    assert decoded.records == RECORDS
    assert decoded.fields == {"verbose": "1", "ip": "0"}
    assert decoded.form


def test_form_with_base64_as_mixpanel_js_on_a_proxy_and_android_post_it() -> None:
    encoded = base64.b64encode(TEXT.encode()).decode()
    body = f"data={quote(encoded, safe='')}".encode()
    assert decode_mixpanel_body(body, content_type=FORM).records == RECORDS


def test_base64_with_unencoded_plus_signs_still_decodes() -> None:
    text = json.dumps([{"event": "x>?~", "properties": {"k": "ÿÿÿ>>>"}}])
    encoded = base64.b64encode(text.encode()).decode()
    assert "+" in encoded or "/" in encoded
    body = f"data={encoded}".encode()  # "+" sent raw: a form reads it as a space
    assert decode_mixpanel_body(body, content_type=FORM).records == json.loads(text)


def test_one_record_raw_json_and_ndjson() -> None:
    single = json.dumps(RECORDS[0]).encode()
    assert decode_mixpanel_body(single, content_type="application/json").records == RECORDS
    lines = b"\n".join([single, b"", single]) + b"\n"
    decoded = decode_mixpanel_body(lines, content_type="application/x-ndjson", ndjson=True)
    assert decoded.records == RECORDS * 2
    assert not decoded.form


def test_get_form_reads_data_from_the_query() -> None:
    decoded = decode_mixpanel_body(b"", query={"data": [TEXT], "ip": ["1"]})
    assert decoded.records == RECORDS
    assert decoded.fields == {"ip": "1"}


def test_form_fields_override_query_parameters() -> None:
    body = urlencode({"data": TEXT, "verbose": "1"}).encode()
    decoded = decode_mixpanel_body(body, content_type=FORM, query={"verbose": ["0"], "x": ["y"]})
    assert decoded.fields == {"verbose": "1", "x": "y"}


def test_gzip_by_header_or_magic_bytes_and_refused_where_not_accepted() -> None:
    compressed = gzip.compress(TEXT.encode())
    assert decode_mixpanel_body(compressed, content_encoding="gzip").records == RECORDS
    assert decode_mixpanel_body(compressed).records == RECORDS
    with pytest.raises(MixpanelRequestError, match="gzip"):
        decode_mixpanel_body(compressed, gzip=False)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"", 400, "holds no record"),
        (b"[]", 400, "holds no record"),
        (b"42", 400, "JSON object or array"),
        (b"[1, NaN]", 400, "invalid JSON"),
        (b"{", 400, "invalid JSON"),
        (b"\xff", 400, "UTF-8"),
        (b"data=%%%", 400, "invalid base64"),
        (b"verbose=1", 400, "no data field"),
        (b"\x1f\x8bnot gzip", 400, "gzip"),
        (b"[" * 100_000, 400, "invalid JSON"),
    ],
)
def test_refusals(body: bytes, status: int, message: str) -> None:
    content_type = FORM if body.startswith((b"data", b"verbose")) else ""
    with pytest.raises(MixpanelRequestError, match=message) as caught:
        decode_mixpanel_body(body, content_type=content_type)
    assert caught.value.status == status


def test_more_than_2000_records_are_refused() -> None:
    body = json.dumps([{}] * (MAX_RECORDS + 1)).encode()
    with pytest.raises(MixpanelRequestError, match="2000"):
        decode_mixpanel_body(body)
    assert len(decode_mixpanel_body(json.dumps([{}] * MAX_RECORDS).encode()).records) == 2000


def test_limits_count_uncompressed_bytes_and_stop_a_gzip_bomb() -> None:
    with pytest.raises(MixpanelRequestError) as caught:
        decode_mixpanel_body(b"[" + b" " * 2000 + b"]", limit=1000)
    assert caught.value.status == 413
    bomb = gzip.compress(b" " * 5_000_000)
    with pytest.raises(MixpanelRequestError) as caught:
        decode_mixpanel_body(bomb, limit=1_000_000)
    assert caught.value.status == 413


CONTENT_TYPES = st.sampled_from(
    ["", FORM, "application/json", "application/x-ndjson", "text/plain; charset=utf-8"]
)


@settings(max_examples=300, deadline=None, database=None)
@given(body=st.binary(max_size=400), content_type=CONTENT_TYPES, gzipped=st.booleans())
def test_arbitrary_bytes_only_ever_raise_the_documented_rejection(
    body: bytes, content_type: str, gzipped: bool
) -> None:
    try:
        decode_mixpanel_body(
            body,
            content_type=content_type,
            content_encoding="gzip" if gzipped else "",
            ndjson=True,
            limit=10_000,
        )
    except MixpanelRequestError as exc:
        assert exc.status in (400, 413)


@settings(max_examples=200, deadline=None, database=None)
@given(text=st.text(max_size=200), content_type=CONTENT_TYPES)
def test_arbitrary_form_payloads_only_ever_raise_the_documented_rejection(
    text: str, content_type: str
) -> None:
    body = ("data=" + quote(text, safe="")).encode()
    try:
        decode_mixpanel_body(body, content_type=content_type)
    except MixpanelRequestError as exc:
        assert exc.status == 400


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None, database=None)
@given(payload=JSON, endpoint=st.sampled_from(["track", "import", "engage", "groups"]))
def test_any_json_body_gets_an_answer_never_an_exception(payload: object, endpoint: str) -> None:
    with MixpanelEngine(token=TOKEN) as engine:
        answer = engine.handle(
            endpoint,  # type: ignore[arg-type]
            json.dumps(payload).encode(),
            content_type="application/json",
            authorization="Basic " + base64.b64encode(f"{TOKEN}:".encode()).decode(),
        )
    assert answer.status in (200, 400, 413)
