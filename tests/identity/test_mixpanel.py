"""The identity operations of a Mixpanel-mode client (mixpanel-spec §4, decisions D3–D8), as the
events it queues show them (the transport maps them later, ``tests/delivery/test_mixpanel.py``)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posthog_client import Client, InvalidDistinctIdError, MixpanelServiceAccount
from posthog_client._types import MixpanelIdMerge

Sent = Callable[[Client], list[dict[str, Any]]]
MakeClient = Callable[..., Client]
TOKEN = "mp_test_token"


@pytest.fixture
def mixpanel(make_client: MakeClient) -> Callable[..., Client]:
    def make(id_merge: MixpanelIdMerge = "simplified", **options: Any) -> Client:
        return make_client(mixpanel_token=TOKEN, mixpanel_id_merge=id_merge, **options)

    return make


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_anonymous_ids_are_uuid4_devices_and_the_distinct_id_has_mixpanels_prefix(
    mixpanel: Callable[..., Client], sent: Sent
) -> None:
    client = mixpanel()
    device = client.get_device_id()
    assert uuid.UUID(device).version == 4  # D3: Original ID Merge refuses other forms (MI9)
    assert client.get_distinct_id() == "$device:" + device
    client.identify("sally")
    assert client.get_distinct_id() == "sally" and client.get_device_id() == device
    client.capture("Opened")
    identify, opened = sent(client)
    assert identify["properties"]["$anon_distinct_id"] == device  # the transport prefixes it
    assert opened["properties"]["$device_id"] == device


def test_identify_refuses_an_anonymous_mixpanel_id(
    mixpanel: Callable[..., Client], sent: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    client = mixpanel()
    assert client.identify("$device:" + str(uuid.uuid4())) is False
    assert "$device:" in warnings(caplog)[0]
    assert sent(client) == [] and not client.is_identified()
    strict = mixpanel(strict=True)
    with pytest.raises(InvalidDistinctIdError, match=r"\$device:"):
        strict.identify("$device:x")


def test_alias_is_refused_under_simplified(
    mixpanel: Callable[..., Client], sent: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    client = mixpanel("simplified")
    assert client.alias("sally") is False
    assert client.alias("sally", distinct_id="u1") is False  # a backend's too
    assert sent(client) == []
    assert len(warnings(caplog)) == 1 and "Simplified" in warnings(caplog)[0]


@pytest.mark.parametrize("id_merge", ["original", "legacy"])
def test_alias_is_sent_and_not_remembered_so_identify_switches_to_the_user(
    mixpanel: Callable[..., Client], sent: Sent, id_merge: MixpanelIdMerge
) -> None:
    client = mixpanel(id_merge)
    anonymous = client.get_distinct_id()
    assert client.alias("sally")
    assert client.get_distinct_id() == anonymous  # nothing can race ahead of the alias (MI5)
    client.identify("sally")  # Mixpanel may have refused the alias: this is the remedy
    assert client.get_distinct_id() == "sally"
    create_alias, identify = sent(client)
    assert create_alias["event"] == "$create_alias"
    assert create_alias["properties"]["alias"] == "sally"
    assert identify["event"] == "$identify" and identify["distinct_id"] == "sally"


def test_merge_dangerously_only_under_original_with_a_service_account(
    mixpanel: Callable[..., Client], sent: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    account = MixpanelServiceAccount("sa", "secret", "42")
    assert mixpanel("simplified").merge_dangerously("other") is False
    assert mixpanel("original").merge_dangerously("other") is False
    assert "service-account" in warnings(caplog)[-1]
    backend = mixpanel("original", mode="server", mixpanel_service_account=account)
    assert backend.merge_dangerously("other", distinct_id="u1")
    [merge] = sent(backend)
    assert merge["event"] == "$merge_dangerously" and merge["distinct_id"] == "u1"


def test_reset_always_draws_a_new_device_id_and_says_so_once(
    mixpanel: Callable[..., Client], caplog: pytest.LogCaptureFixture
) -> None:
    client = mixpanel()
    devices = {client.get_device_id()}
    for _ in range(2):
        client.identify("sally")
        client.reset()  # reset_device_id=False: Mixpanel has no way to keep it (D4)
        devices.add(client.get_device_id())
    assert len(devices) == 3
    assert client.get_distinct_id() == "$device:" + client.get_device_id()
    assert sum("new device id" in m or "draws a new" in m for m in warnings(caplog)) == 1


def test_register_refuses_the_properties_mixpanels_wire_sets(
    mixpanel: Callable[..., Client], sent: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    client = mixpanel()
    client.register({"token": "x", "time": 1, "$insert_id": "y", "plan": "pro"})
    client.capture("Opened")
    [opened] = sent(client)
    assert opened["properties"]["plan"] == "pro"
    assert not {"token", "time", "$insert_id"} & set(opened["properties"])
    assert "$insert_id, time, token" in warnings(caplog)[0]


@pytest.mark.parametrize(("id_merge", "replayed"), [("simplified", True), ("legacy", True),
                                                    ("original", False)])  # fmt: skip
def test_person_updates_made_while_anonymous_are_replayed_onto_the_user(
    make_client: MakeClient, sent: Sent, id_merge: MixpanelIdMerge, replayed: bool
) -> None:
    options = {"mixpanel_token": TOKEN, "mixpanel_id_merge": id_merge}
    first = make_client(**options)  # one run of the app, anonymous
    first.set_person_properties({"plan": "free", "seats": 1}, {"first_seen": "monday"})
    first.unset_person_properties(["trial"])
    first.set_person_properties({"plan": "pro"})
    first.shutdown()
    second = make_client(**options)  # the next run logs in
    second.identify("sally", {"email": "s@example.com"}, set_once={"first_seen": "tuesday"})
    *anonymous, identify = sent(second)
    assert [e["event"] for e in anonymous] == ["$set", "$set", "$set"]  # sent at once to the device
    props = identify["properties"]
    if replayed:  # MI17: Mixpanel leaves them on the device's profile
        assert props["$set"] == {"plan": "pro", "seats": 1, "email": "s@example.com"}
        assert props["$set_once"] == {"first_seen": "monday"}
        assert props["$unset"] == ["trial"]
    else:  # Original merges the device's profile into the user's
        assert props["$set"] == {"email": "s@example.com"} and "$unset" not in props
    second.reset()
    second.identify("bob")
    assert sent(second)[-1]["properties"]["$set"] == {}  # replayed once, for sally only


def test_an_explicit_id_on_a_desktop_carries_no_device_id(
    mixpanel: Callable[..., Client], sent: Sent
) -> None:
    client = mixpanel()
    client.capture("Own")
    client.capture("For someone else", distinct_id="other-user")  # would link the device (MI14)
    own, other = sent(client)
    assert own["properties"]["$device_id"] == client.get_device_id()
    assert "$device_id" not in other["properties"]


def test_posthog_mode_is_unchanged(make_client: MakeClient, sent: Sent) -> None:
    client = make_client()
    assert uuid.UUID(client.get_distinct_id()).version == 7
    client.alias("sally")
    client.identify("sally")  # R14: identifying as its own alias keeps the id
    assert client.get_distinct_id() != "sally"
    assert [e["event"] for e in sent(client)] == ["$create_alias", "$identify"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(user=st.text(max_size=40) | st.sampled_from(["$device:", "$device:x", "null", " "]))
def test_any_id_given_to_identify_is_taken_or_refused_never_raised(
    mixpanel: Callable[..., Client], user: str
) -> None:
    client = mixpanel(persist=False)
    try:
        taken = client.identify(user)
        if user.startswith("$device:"):
            assert taken is False
        if taken:
            assert client.get_distinct_id() == user.strip() or client.get_distinct_id() == user
    finally:
        client.shutdown(0)
