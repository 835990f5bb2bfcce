"""Queued events in capture v1's shape: root fields, typed options, strict timestamps, and what
is refused before sending; any event the client can encode becomes one PostHog's v1 accepts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posthog_client._delivery.v1_events import V1Event, to_v1_event
from posthog_client._events.encoding import encode_event
from posthog_client._events.v1_options import OPTIONS
from posthog_client.server._ingest_v1 import _check_events

UUID = "0194d7c2-5d0a-7c1e-8a1b-3c4d5e6f7a8b"
STAMP = "2026-01-01T00:00:00.000000+00:00"
OPTION_PROPERTIES = {name for name, *_ in OPTIONS}


def queued(**fields: Any) -> bytes:
    """An event as the client queues it, with ``fields`` replacing or adding root fields."""
    base: dict[str, Any] = {
        "event": "e",
        "distinct_id": "user",
        "properties": {"$lib": "posthog-client-python", "$lib_version": "1.0", "plan": "pro"},
        "timestamp": STAMP,
        "uuid": UUID,
    }
    return encode_event({**base, **fields})


def converted(line: bytes) -> dict[str, Any]:
    result = to_v1_event(line)
    assert isinstance(result, V1Event), result
    event = json.loads(result.data)
    assert event["uuid"] == result.uuid
    return dict(event)


def test_an_event_has_its_fields_at_the_root_and_no_lib_properties() -> None:
    event = converted(queued())
    assert event == {
        "event": "e",
        "uuid": UUID,
        "distinct_id": "user",
        "timestamp": STAMP,
        "options": {},
        "properties": {"plan": "pro"},  # $lib comes from the PostHog-Sdk-Info header
    }


def test_session_and_window_ids_move_to_the_root() -> None:
    properties = {"$session_id": "s1", "$window_id": "w1", "n": 1}
    event = converted(queued(properties=properties))
    assert (event["session_id"], event["window_id"]) == ("s1", "w1")
    assert event["properties"] == {"n": 1}
    kept = converted(queued(properties={"$session_id": 42}))  # not text: left where it was
    assert "session_id" not in kept and kept["properties"] == {"$session_id": 42}


def test_root_set_and_set_once_move_into_properties_the_root_winning() -> None:
    line = queued(
        properties={"$set": {"a": 1, "b": 1}}, **{"$set": {"b": 2}, "$set_once": {"c": 3}}
    )
    event = converted(line)
    assert event["properties"]["$set"] == {"a": 1, "b": 2}
    assert event["properties"]["$set_once"] == {"c": 3}
    assert "$set" not in event


@pytest.mark.parametrize(
    ("properties", "options", "left"),
    [
        ({"$process_person_profile": False}, {"process_person_profile": False}, {}),
        ({"$process_person_profile": True}, {}, {}),  # PostHog's default: left out
        ({"$cookieless_mode": "true"}, {"cookieless_mode": True}, {}),
        ({"$cookieless_mode": 0}, {}, {}),
        ({"$ignore_sent_at": 1}, {"disable_skew_correction": True}, {}),
        ({"$product_tour_id": 12}, {"product_tour_id": "12"}, {}),
        ({"$product_tour_id": "tour"}, {"product_tour_id": "tour"}, {}),
        # a value that does not read as the option's type stays a property, as on v0
        ({"$process_person_profile": "maybe"}, {}, {"$process_person_profile": "maybe"}),
        ({"$product_tour_id": [1]}, {}, {"$product_tour_id": [1]}),
    ],
)
def test_options_are_lifted_typed_and_left_out_at_their_default(
    properties: dict[str, Any], options: dict[str, Any], left: dict[str, Any]
) -> None:
    event = converted(queued(properties=properties))
    assert event["options"] == options
    assert event["properties"] == left


@pytest.mark.parametrize(
    ("given", "sent"),
    [
        ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05Z"),
        ("2025-01-02T08:34:05+05:30", "2025-01-02T03:04:05.000000+00:00"),
        ("2026-01-02T03:04:05", "2026-01-02T03:04:05.000000+00:00"),  # no offset: UTC
        ("2026-01-02 03:04:05.500+00:00", "2026-01-02T03:04:05.500000+00:00"),
    ],
)
def test_timestamps_are_sent_as_rfc3339_in_utc(given: str, sent: str) -> None:
    assert converted(queued(timestamp=given))["timestamp"] == sent


def test_a_number_as_distinct_id_is_sent_as_its_text() -> None:
    assert converted(queued(distinct_id=42))["distinct_id"] == "42"


def test_an_uppercase_uuid_is_sent_in_canonical_form() -> None:
    assert converted(queued(uuid=UUID.upper()))["uuid"] == UUID


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"{", "not a JSON event"),
        (b"[1]", "not a JSON event"),
        (queued(event=None), "the event name is not text"),
        (queued(uuid="nope"), "no valid uuid"),
        (queued(uuid=None), "no valid uuid"),
        (queued(distinct_id={"id": 1}), "the distinct id is not text"),
        (queued(distinct_id=True), "the distinct id is not text"),
        (queued(timestamp="tomorrow"), "no valid timestamp"),
        (queued(timestamp=1700000000), "no valid timestamp"),
    ],
)
def test_what_v1_would_refuse_the_whole_request_for_is_refused_here(
    line: bytes, reason: str
) -> None:
    assert to_v1_event(line) == reason


@pytest.mark.parametrize(("value", "sent"), [(b'"\\ud800"', "\ufffd"), (b"NaN", None)])
def test_what_json_cannot_hold_in_a_foreign_line_is_sent_as_posthog_reads_it(
    value: bytes, sent: object
) -> None:
    line = queued().replace(b'"pro"', value)
    result = to_v1_event(line)
    assert isinstance(result, V1Event)
    assert json.loads(result.data.decode("utf-8"))["properties"]["plan"] == sent


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(
    name=st.text(min_size=1, max_size=50),
    distinct_id=st.text(min_size=1, max_size=50).filter(str.strip),
    properties=st.dictionaries(st.text(max_size=20), _JSON, max_size=6),
)
def test_any_event_the_client_encodes_is_one_posthogs_v1_accepts(
    name: str, distinct_id: str, properties: dict[str, Any]
) -> None:
    line = queued(event=name, distinct_id=distinct_id, properties=properties)
    result = to_v1_event(line)
    assert isinstance(result, V1Event)
    event = json.loads(result.data.decode("utf-8"))
    results, kept = _check_events({"batch": [event]}, "posthog-client-python/1.0")
    assert results[UUID] == {"result": "ok"}
    stored = kept[UUID]["properties"]
    sent = json.loads(line)["properties"]
    for key in ("$lib", "$lib_version"):
        sent.pop(key, None)
    for key, value in sent.items():  # every property arrives as v0 carries it (options: above)
        if key not in OPTION_PROPERTIES:
            assert stored[key] == value, key
