"""The client-side identity state machine, rule by rule (identity-spec §1, DESIGN.md §2)."""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import posthog_client
from posthog_client import Client, InvalidDistinctIdError

Sent = Callable[[Client], list[dict[str, Any]]]
MakeClient = Callable[..., Client]


def names(events: list[dict[str, Any]]) -> list[str]:
    return [e["event"] for e in events]


def state_file(storage_dir: Path) -> dict[str, Any]:
    (project,) = storage_dir.iterdir()
    data: dict[str, Any] = json.loads((project / "state.json").read_text())
    return data


def test_r1_first_start_creates_one_uuid7_for_distinct_and_device_id(
    client: Client, storage_dir: Path
) -> None:
    distinct_id = client.get_distinct_id()
    assert uuid.UUID(distinct_id).version == 7
    assert client.get_device_id() == distinct_id
    assert not client.is_identified()
    stored = state_file(storage_dir)
    assert stored["distinct_id"] == stored["anon_id"] == stored["device_id"] == distinct_id


def test_r2_restart_restores_identity_without_sending(make_client: MakeClient, sent: Sent) -> None:
    first = make_client()
    first.identify("user_1")
    first_device = first.get_device_id()
    first.shutdown()  # the first "process" ends
    second = make_client()
    assert second.get_distinct_id() == "user_1"
    assert second.is_identified()
    assert second.get_device_id() == first_device
    assert names(sent(second)) == ["$identify"]  # the first process's event, nothing more


def test_r4_identified_is_derived_for_state_without_the_flag(
    client: Client, storage_dir: Path
) -> None:
    client.get_distinct_id()
    (project,) = storage_dir.iterdir()
    stored = state_file(storage_dir)
    del stored["identified"]
    stored["distinct_id"] = "user_9"
    (project / "state.json").write_text(json.dumps(stored))
    again = Client("phc_test_key", storage_dir=storage_dir, backend=client.options.backend)
    assert again.is_identified()
    again.shutdown(0)


def test_r6_numbers_are_stringified_with_a_warning(
    client: Client, sent: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    assert client.identify(42)  # type: ignore[arg-type]
    assert client.get_distinct_id() == "42"
    assert sent(client)[0]["distinct_id"] == "42"
    assert "number 42" in caplog.text


@pytest.mark.parametrize("bad", ["", "   ", "null", "None", "undefined", "'guest'", "Anonymous"])
def test_r6_a8_refused_ids_send_nothing_and_change_nothing(
    client: Client, sent: Sent, caplog: pytest.LogCaptureFixture, bad: str
) -> None:
    before = client.get_distinct_id()
    with caplog.at_level(logging.WARNING, logger="posthog_client"):
        assert client.identify(bad) is False
        assert client.alias(bad) is False
        assert client.merge_dangerously(bad) is False
    assert client.get_distinct_id() == before
    assert not client.is_identified()
    assert sent(client) == []
    assert "refused" in caplog.text


def test_a8_strict_mode_raises(make_client: MakeClient) -> None:
    strict = make_client(strict=True)
    with pytest.raises(InvalidDistinctIdError, match="placeholder"):
        strict.identify("distinct_id")


def test_r7_identify_while_anonymous_sends_exactly_one_identify(client: Client, sent: Sent) -> None:
    anonymous = client.get_distinct_id()
    client.capture("pageview")
    assert client.identify("user_42", {"email": "a@b.c"}, set_once={"first": "2026-01-01"})
    identify = sent(client)[-1]
    assert identify["event"] == "$identify"
    assert identify["distinct_id"] == "user_42"
    props = identify["properties"]
    assert props["distinct_id"] == "user_42"
    assert props["$anon_distinct_id"] == anonymous
    assert props["$set"] == {"email": "a@b.c"}
    assert props["$set_once"] == {"first": "2026-01-01"}
    assert props["$process_person_profile"] is True
    assert client.get_distinct_id() == "user_42"
    assert client.is_identified()


def test_r7_identify_is_sent_even_without_earlier_events(client: Client, sent: Sent) -> None:
    client.identify("user_42")
    assert names(sent(client)) == ["$identify"]
    assert sent(client)[0]["properties"]["$set"] == {}


def test_r8_anon_id_and_device_id_survive_identify(client: Client, storage_dir: Path) -> None:
    anonymous = client.get_distinct_id()
    client.identify("user_42")
    stored = state_file(storage_dir)
    assert stored["anon_id"] == anonymous
    assert client.get_device_id() == anonymous


def test_r9_identify_with_the_current_id_sends_a_set_not_identify(
    client: Client, sent: Sent
) -> None:
    current = client.get_distinct_id()
    assert client.identify(current, {"plan": "pro"})
    (event,) = sent(client)
    assert event["event"] == "$set"
    assert event["properties"]["$set"] == {"plan": "pro"}
    assert client.is_identified()


def test_r10_identified_same_id_without_properties_sends_nothing(
    client: Client, sent: Sent
) -> None:
    client.identify("user_42")
    assert client.identify("user_42")
    assert names(sent(client)) == ["$identify"]


def test_r10_identified_same_id_with_new_properties_sends_set(client: Client, sent: Sent) -> None:
    client.identify("user_42", {"plan": "free"})
    client.identify("user_42", {"plan": "pro"})
    assert names(sent(client)) == ["$identify", "$set"]
    assert sent(client)[-1]["properties"]["$set"] == {"plan": "pro"}


def test_r11_identical_repeat_is_skipped(client: Client, sent: Sent) -> None:
    for _ in range(3):
        client.identify("user_42", {"plan": "pro"}, set_once={"a": 1})
    client.set_person_properties({"plan": "pro"}, {"a": 1})
    assert names(sent(client)) == ["$identify"]


def test_r11_key_order_does_not_defeat_dedup(client: Client, sent: Sent) -> None:
    client.identify("user_42", {"a": 1, "b": {"x": 1, "y": 2}})
    client.identify("user_42", {"b": {"y": 2, "x": 1}, "a": 1})
    assert names(sent(client)) == ["$identify"]


def test_a6_repeat_identify_from_another_process_sends_nothing(
    make_client: MakeClient, sent: Sent
) -> None:
    first = make_client()
    first.identify("user_42", {"plan": "pro"})
    first.shutdown()
    other = make_client()
    assert other.identify("user_42", {"plan": "pro"})
    assert names(sent(other)) == ["$identify"]


def test_a6_repeat_identify_in_a_new_session_sends_again(
    client: Client, sent: Sent, clock: Any
) -> None:
    client.identify("user_42", {"plan": "pro"})
    clock.advance(31 * 60)
    client.identify("user_42", {"plan": "pro"})
    assert names(sent(client)) == ["$identify", "$set"]


def test_r12_a1_identify_as_another_user_switches_without_merging(
    client: Client, sent: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    client.identify("alice")
    with caplog.at_level(logging.WARNING, logger="posthog_client"):
        assert client.identify("bob")
    assert client.get_distinct_id() == "bob"
    assert client.is_identified()
    assert names(sent(client)) == ["$identify"]
    assert "reset()" in caplog.text
    client.identify("carol", {"plan": "pro"})
    assert names(sent(client)) == ["$identify", "$set"]
    assert sent(client)[-1]["distinct_id"] == "carol"


def test_r13_never_person_profiles_ignores_identify(make_client: MakeClient, sent: Sent) -> None:
    client = make_client(person_profiles="never")
    anonymous = client.get_distinct_id()
    assert client.identify("user_42") is False
    assert client.alias("other") is False
    assert client.get_distinct_id() == anonymous
    assert sent(client) == []


def test_r14_identify_with_the_stored_alias_keeps_the_distinct_id(
    client: Client, sent: Sent
) -> None:
    anonymous = client.get_distinct_id()
    client.alias("backend-7")
    client.identify("backend-7")
    assert client.get_distinct_id() == anonymous
    identify = sent(client)[-1]
    assert identify["event"] == "$identify"
    assert identify["distinct_id"] == "backend-7"
    assert identify["properties"]["$anon_distinct_id"] == anonymous


def test_r15_r16_r17_reset_gives_a_new_anonymous_identity(client: Client, sent: Sent) -> None:
    device = client.get_device_id()
    client.register({"app_version": "2.1"})
    client.identify("user_42")
    old_session = client.get_session_id()
    client.reset()
    assert not client.is_identified()
    new_id = client.get_distinct_id()
    assert new_id not in ("user_42", device)
    assert uuid.UUID(new_id).version == 7
    assert client.get_device_id() == device
    client.capture("after_reset")
    event = sent(client)[-1]
    assert event["properties"]["$session_id"] != old_session
    assert "app_version" not in event["properties"]
    assert event["properties"]["$is_identified"] is False
    assert event["properties"]["$process_person_profile"] is False
    assert names(sent(client)) == ["$identify", "after_reset"]


def test_r16_reset_device_id_on_request(client: Client) -> None:
    device = client.get_device_id()
    client.reset(reset_device_id=True)
    assert client.get_device_id() == client.get_distinct_id() != device


def test_r18_reset_forgets_the_dedup_hash(client: Client, sent: Sent) -> None:
    client.identify("user_42", {"plan": "pro"})
    client.reset()
    client.identify("user_42", {"plan": "pro"})
    assert names(sent(client)) == ["$identify", "$identify"]


def test_r19_reset_keeps_queued_events_with_their_ids(client: Client, sent: Sent) -> None:
    client.identify("user_42")
    client.capture("before_logout")
    client.reset()
    assert sent(client)[-1]["distinct_id"] == "user_42"


def test_a3_reset_keeps_the_opt_out(client: Client, sent: Sent) -> None:
    client.opt_out()
    client.reset()
    assert client.has_opted_out()
    assert client.capture("x") is None
    assert sent(client) == []


def test_r21_a16_alias_links_a_new_id_to_the_current_person(client: Client, sent: Sent) -> None:
    client.identify("user_42")
    assert client.alias("backend-42")
    event = sent(client)[-1]
    assert event["event"] == "$create_alias"
    assert event["distinct_id"] == "user_42"
    assert event["properties"]["alias"] == "backend-42"
    assert event["properties"]["distinct_id"] == "user_42"
    assert client.get_distinct_id() == "user_42"


def test_r21_alias_of_the_current_id_identifies_instead(client: Client, sent: Sent) -> None:
    current = client.get_distinct_id()
    assert client.alias(current)
    assert names(sent(client)) == ["$set"]
    assert client.is_identified()


def test_r24_an_alias_turns_person_processing_on(client: Client, sent: Sent) -> None:
    client.alias("backend-1")
    client.capture("after_alias")
    assert sent(client)[-1]["properties"]["$process_person_profile"] is True


def test_a17_merge_dangerously_event_shape(client: Client, sent: Sent) -> None:
    client.identify("user_42")
    assert client.merge_dangerously("old-account-7")
    event = sent(client)[-1]
    assert event["event"] == "$merge_dangerously"
    assert event["distinct_id"] == "user_42"
    assert event["properties"]["alias"] == "old-account-7"


def test_r25_set_person_properties(client: Client, sent: Sent) -> None:
    client.set_person_properties()
    client.set_person_properties({}, {})
    assert sent(client) == []
    client.set_person_properties({"plan": "pro"}, {"signup": "2026"})
    (event,) = sent(client)
    assert event["event"] == "$set"
    assert event["properties"]["$set"] == {"plan": "pro"}
    assert event["properties"]["$set_once"] == {"signup": "2026"}
    assert event["properties"]["$process_person_profile"] is True


def test_r25_r26_never_ignores_person_properties(make_client: MakeClient, sent: Sent) -> None:
    client = make_client(person_profiles="never")
    client.set_person_properties({"plan": "pro"})
    client.unset_person_properties("plan")
    assert sent(client) == []


def test_r26_unset_person_properties(client: Client, sent: Sent) -> None:
    client.set_person_properties({"plan": "pro"})
    client.unset_person_properties(["plan", "", 3])  # type: ignore[list-item]
    client.unset_person_properties([])
    client.set_person_properties({"plan": "pro"})  # the unset forgot the dedup hash
    assert names(sent(client)) == ["$set", "$set", "$set"]
    assert sent(client)[1]["properties"]["$unset"] == ["plan"]


@pytest.mark.parametrize(
    ("profiles", "expected"), [("always", True), ("identified_only", False), ("never", False)]
)
def test_r29_r30_process_person_profile_follows_the_setting(
    make_client: MakeClient, sent: Sent, profiles: str, expected: bool
) -> None:
    client = make_client(person_profiles=profiles)
    client.capture("anonymous_event")
    assert sent(client)[0]["properties"]["$process_person_profile"] is expected


def test_r30_flags_cannot_be_overridden_by_callers(client: Client, sent: Sent) -> None:
    client.capture("x", {"$is_identified": True, "$process_person_profile": True})
    props = sent(client)[0]["properties"]
    assert props["$is_identified"] is False
    assert props["$process_person_profile"] is False


@pytest.mark.parametrize("mode", ["desktop", "server"])
@pytest.mark.parametrize("explicit", [False, True])
def test_r30_a_caller_may_only_turn_person_processing_off_for_one_event(
    make_client: MakeClient, sent: Sent, mode: str, explicit: bool
) -> None:
    client = make_client(person_profiles="always", mode=mode)
    distinct_id = "user_1" if explicit or mode == "server" else None
    with_context = posthog_client.new_context() if mode == "server" else contextlib.nullcontext()
    with with_context:
        if mode == "server":
            posthog_client.identify_context("user_1")
        client.capture("personless", {"$process_person_profile": False}, distinct_id=distinct_id)
        client.capture("next", distinct_id=distinct_id)
    first, then = (e["properties"]["$process_person_profile"] for e in sent(client))
    assert (first, then) == (False, True)  # one event only; the setting still decides the rest


def test_r31_capture_with_set_turns_person_processing_on_for_good(
    client: Client, sent: Sent
) -> None:
    client.capture("x", {"$set": {"plan": "pro"}})
    client.capture("y")
    assert [e["properties"]["$process_person_profile"] for e in sent(client)] == [True, True]


def test_r33_register_persists_super_properties(
    make_client: MakeClient, sent: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    client.register({"app_version": "2.1", "distinct_id": "nope"})
    assert "reserved" in caplog.text
    other = make_client()
    other.capture("x", {"app_version": "override"})
    other.capture("y")
    props = [e["properties"] for e in sent(other)]
    assert props[0]["app_version"] == "override"
    assert props[1]["app_version"] == "2.1"
    assert "distinct_id" not in props[1]
    other.unregister("app_version")
    other.capture("z")
    assert "app_version" not in sent(other)[-1]["properties"]


def test_r34_register_once_only_fills_missing_keys(client: Client, sent: Sent) -> None:
    client.register({"a": 1})
    client.register_once({"a": 2, "b": 3})
    client.register_once({"c": 4}, default_value=None)
    client.capture("x")
    props = sent(client)[0]["properties"]
    assert (props["a"], props["b"], props["c"]) == (1, 3, 4)


def test_r35_precedence_sdk_context_then_super_then_caller(client: Client, sent: Sent) -> None:
    client.register({"$os": "Plan9", "tier": "super"})
    client.capture("x", {"tier": "call"})
    props = sent(client)[0]["properties"]
    assert props["$os"] == "Plan9"
    assert props["tier"] == "call"
    assert props["$lib"] == "posthog-client-python"


def test_a22_identify_inside_a_context_identifies_the_request_not_the_device(
    client: Client, sent: Sent
) -> None:
    from posthog_client import new_context

    device_id = client.get_distinct_id()
    with new_context(client=client):
        assert client.identify("request_user", {"plan": "pro"})
        client.capture("order_paid")
        assert client.alias("backend-9")
        client.set_person_properties({"seen": True})
        client.unset_person_properties("plan")
        client.reset()  # the request's user logged out
        client.capture("after_logout")
    assert client.get_distinct_id() == device_id
    assert not client.is_identified()
    events = sent(client)
    assert names(events) == ["$set", "order_paid", "$create_alias", "$set", "$set", "after_logout"]
    assert {e["distinct_id"] for e in events[:5]} == {"request_user"}
    assert events[2]["properties"]["alias"] == "backend-9"
    assert events[-1]["properties"]["$process_person_profile"] is False
    assert all(e["properties"]["$is_server"] for e in events)


def test_a22_person_operations_need_a_context_user(
    client: Client, sent: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    from posthog_client import new_context

    with new_context(client=client):
        assert client.alias("backend-9") is False
        assert client.merge_dangerously("other") is False
        client.set_person_properties({"a": 1})
    assert sent(client) == []
    assert "identify_context() first" in caplog.text
