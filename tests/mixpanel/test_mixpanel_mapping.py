"""``map_event``: queued events (PostHog's wire shape) → Mixpanel records, per ID-merge model."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posthog_client._exceptions import InvalidEventError
from posthog_client._mixpanel import (
    LINK_EVENT,
    IdMerge,
    MixpanelRecord,
    MixpanelSettings,
    map_event,
)
from posthog_client.server.mixpanel import MixpanelEngine

TOKEN = "mp_token"
D = "0b7c0c54-6f0c-4f5e-9f59-0c5b6a7d8e9f"
STAMP = "2026-01-02T03:04:05.678000+00:00"
MS = 1_767_323_045_678
NOW = datetime(2026, 1, 2, 4, tzinfo=timezone.utc)
UUID = "01890f3a-1111-7222-8333-444455556666"


def queued(name: str, distinct_id: str = D, /, **properties: Any) -> dict[str, Any]:
    """An event as a desktop client queues it (``EventProperties.for_device``)."""
    props = {
        "$lib": "posthog-client-python",
        "$lib_version": "0.1.0",
        "$os": "Linux",
        "$device_id": D,
        "$session_id": "s-1",
        "$is_identified": distinct_id != D,
        "$process_person_profile": True,
        **properties,
    }
    return {
        "event": name,
        "distinct_id": distinct_id,
        "properties": props,
        "timestamp": STAMP,
        "uuid": UUID,
    }


def mapped(
    event: dict[str, Any], model: IdMerge = "simplified", **options: Any
) -> list[MixpanelRecord]:
    return map_event(event, MixpanelSettings(TOKEN, model, **options))


@pytest.mark.parametrize("model", ["legacy", "original", "simplified"])
def test_anonymous_event(model: IdMerge) -> None:
    [record] = mapped(queued("Opened", size=3), model)
    assert record == MixpanelRecord(
        "event",
        {
            "event": "Opened",
            "properties": {
                "mp_lib": "posthog-client-python",
                "$lib_version": "0.1.0",
                "$os": "Linux",
                "size": 3,
                "session_id": "s-1",
                "token": TOKEN,
                "distinct_id": "$device:" + D,
                "time": MS,
                "$insert_id": UUID,
                "$device_id": D,
            },
        },
    )


def test_identified_event_carries_both_ids() -> None:
    [record] = mapped(queued("Opened", "user-1"))
    props = record.body["properties"]
    assert (props["distinct_id"], props["$device_id"], props["$user_id"]) == ("user-1", D, "user-1")


def test_an_anonymous_id_that_is_not_the_device_id_still_goes_out_as_a_device() -> None:
    other = str(uuid.uuid4())
    [record] = mapped(queued("Opened", other, **{"$is_identified": False}))
    props = record.body["properties"]
    assert (props["distinct_id"], props["$device_id"]) == ("$device:" + other, other)
    assert "$user_id" not in props


@pytest.mark.parametrize("model", ["legacy", "original", "simplified"])
def test_identify(model: IdMerge) -> None:
    event = queued(
        "$identify",
        "user-1",
        distinct_id="user-1",
        **{"$anon_distinct_id": D, "$set": {"plan": "pro"}, "$set_once": {"first": 1}},
    )
    records = mapped(event, model)
    identify = records[0].body
    assert identify["event"] == "$identify"
    assert identify["properties"]["$anon_distinct_id"] == "$device:" + D
    assert identify["properties"]["distinct_id"] == "user-1"
    profiles = [r.body for r in records if r.kind == "profile"]
    assert profiles == [
        {"$token": TOKEN, "$distinct_id": "user-1", "$time": MS / 1000, "$set": {"plan": "pro"}},
        {"$token": TOKEN, "$distinct_id": "user-1", "$time": MS / 1000, "$set_once": {"first": 1}},
    ]
    links = [r.body for r in records if r.kind == "event" and r.body["event"] == LINK_EVENT]
    if model != "simplified":
        assert links == []
        return
    [link] = links  # D6: both ids on an event that links
    assert link["properties"]["$device_id"] == D and link["properties"]["$user_id"] == "user-1"
    assert link["properties"]["$insert_id"] != UUID
    assert "$anon_distinct_id" not in link["properties"]
    assert mapped(event, model) == records  # deterministic: a retry deduplicates


@pytest.mark.parametrize("model", ["legacy", "original"])
def test_alias_keeps_the_current_id(model: IdMerge) -> None:
    [record] = mapped(queued("$create_alias", D, alias="user@x.io", distinct_id=D), model)
    props = record.body["properties"]
    assert record.body["event"] == "$create_alias"
    assert (props["distinct_id"], props["alias"]) == ("$device:" + D, "user@x.io")


def test_alias_is_not_sent_under_simplified(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "posthog_client"):
        assert mapped(queued("$create_alias", D, alias="a", distinct_id=D)) == []
    assert "Simplified" in caplog.text


def test_merge_only_under_original_with_a_service_account(caplog: pytest.LogCaptureFixture) -> None:
    event = queued("$merge_dangerously", "user-1", alias="old")
    [record] = mapped(event, "original", service_account=True)
    assert record.privileged and record.body["event"] == "$merge"
    assert record.body["properties"]["$distinct_ids"] == ["user-1", "old"]
    with caplog.at_level(logging.WARNING, "posthog_client"):
        assert mapped(event, "original") == []
        assert mapped(event, "simplified", service_account=True) == []
    assert "merge" in caplog.text


def test_person_properties_become_one_profile_record_per_operation() -> None:
    event = queued("$set", D, **{"$set": {"a": 1}, "$unset": ["b"]})
    assert [r.body for r in mapped(event)] == [
        {"$token": TOKEN, "$distinct_id": "$device:" + D, "$time": MS / 1000, "$set": {"a": 1}},
        {"$token": TOKEN, "$distinct_id": "$device:" + D, "$time": MS / 1000, "$unset": ["b"]},
    ]
    records = mapped(queued("Bought", "u", **{"$set": {"a": 1}}))
    assert [r.kind for r in records] == ["event", "profile"]
    assert "$set" not in records[0].body["properties"]


def test_groups() -> None:
    group = {"$group_type": "company", "$group_key": "acme", "$group_set": {"name": "Acme"}}
    [record] = mapped(queued("$groupidentify", "u", **group))
    assert record == MixpanelRecord(
        "group",
        {
            "$token": TOKEN,
            "$group_key": "company",
            "$group_id": "acme",
            "$time": MS / 1000,
            "$set": {"name": "Acme"},
        },
    )
    [event] = mapped(queued("Bought", "u", company="mine", **{"$groups": {"company": "acme"}}))
    assert event.body["properties"]["company"] == "mine"  # the caller's property wins
    [event] = mapped(queued("Bought", "u", **{"$groups": {"company": "acme"}}))
    assert event.body["properties"]["company"] == "acme"


def server(name: str, distinct_id: str, identified: bool = True) -> dict[str, Any]:
    props = {
        "$is_server": True,
        "$is_identified": identified,
        "$process_person_profile": identified,
    }
    return {
        "event": name,
        "distinct_id": distinct_id,
        "properties": props,
        "timestamp": STAMP,
        "uuid": UUID,
    }


def test_backend_events() -> None:
    [user] = mapped(server("Paid", "u1"))
    assert (user.body["properties"]["distinct_id"], user.body["properties"]["$user_id"]) == (
        "u1",
        "u1",
    )
    [device] = mapped(server("Seen", "$device:" + D))
    assert device.body["properties"]["$device_id"] == D
    assert "$user_id" not in device.body["properties"]
    [personless] = mapped(server("Ping", str(uuid.uuid4()), identified=False))
    assert personless.body["properties"]["distinct_id"] == ""  # MA9: no user
    assert "$user_id" not in personless.body["properties"]


def test_geoip_and_ip() -> None:
    [record] = mapped(queued("Opened", **{"$ip": "1.2.3.4", "$geoip_disable": True}))
    props = record.body["properties"]
    assert props["ip"] == "1.2.3.4" and "$geoip_disable" not in props and "$ip" not in props


def test_events_the_queue_never_holds_are_refused() -> None:
    with pytest.raises(InvalidEventError, match="uuid"):
        mapped({**queued("x"), "uuid": None})
    with pytest.raises(InvalidEventError, match="timestamp"):
        mapped({**queued("x"), "timestamp": "2026-01-02T03:04:05"})
    [record] = mapped({**queued("x"), "uuid": "not a uuid!"})
    assert len(record.body["properties"]["$insert_id"]) == 36


def test_shape_limits_are_fitted(caplog: pytest.LogCaptureFixture) -> None:
    many = {f"p{i}": i for i in range(300)}
    deep = {"a": {"b": {"c": {"d": [1]}}}}
    with caplog.at_level(logging.WARNING, "posthog_client"):
        [record] = mapped(queued("x", deep=deep, items=list(range(300)), **many))
    props = record.body["properties"]
    assert len(props) == 254 and props["distinct_id"] == "$device:" + D
    assert props["deep"] == {"a": {"b": {"c": '{"d":[1]}'}}}
    assert len(props["items"]) == 254
    assert "at most 254" in caplog.text


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=300),
    lambda children: (
        st.lists(children, max_size=300)
        | st.dictionaries(st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=40,
)


@settings(max_examples=40, deadline=None, database=None)
@given(properties=st.dictionaries(st.text(min_size=1, max_size=12), JSON, max_size=30))
def test_any_properties_map_to_events_strict_import_accepts(properties: dict[str, Any]) -> None:
    properties.pop("$ignore", None)  # Mixpanel drops such an event on purpose (MA11)
    records = mapped(queued("Anything", "u1", **properties))
    bodies = [r.body for r in records if r.kind == "event"]
    with MixpanelEngine(token=TOKEN) as engine:
        report = engine.ingest("import", bodies, strict=True, now=NOW)
    assert report.failed == ()
