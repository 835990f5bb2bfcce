"""group(): kept with a desktop identity, set on a request context, sent by a backend."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import posthog_client
from posthog_client import Client

from .conftest import FlagsBackend, an_earlier_run, v2

MakeClient = Callable[..., Client]
Sent = Callable[[Client], list[dict[str, Any]]]


def named(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == name]


def test_an_apps_group_is_kept_with_its_identity_and_on_every_event(
    make_client: MakeClient, sent: Sent
) -> None:
    client = make_client()
    client.group("company", "acme", {"name": "Acme"})
    client.group("company", "acme")  # the same key again: nothing to send
    other = make_client()
    other.capture("in_another_process")
    other.flush(5)
    (identify,) = named(sent(client), "$groupidentify")
    props = identify["properties"]
    assert props["$group_type"] == "company" and props["$group_key"] == "acme"
    assert props["$group_set"] == {"name": "Acme"} and props["$process_person_profile"] is True
    (later,) = named(sent(client), "in_another_process")
    assert later["properties"]["$groups"] == {"company": "acme"}
    assert later["properties"]["$process_person_profile"] is True  # groups need a person (G2)


def test_reset_forgets_the_groups(make_client: MakeClient, sent: Sent) -> None:
    client = make_client()
    client.group("company", "acme")
    client.reset()
    client.capture("after_logout")
    (event,) = named(sent(client), "after_logout")
    assert "$groups" not in event["properties"]


def test_a_new_key_or_new_properties_reload_the_flags_with_the_group(
    make_client: MakeClient, backend: FlagsBackend
) -> None:
    backend.answer = v2({"b2b": True})
    client = make_client()
    client.feature_enabled("b2b")
    assert client.wait_for_flags(5)
    client.group("company", "acme", {"plan": "enterprise"})
    assert client.wait_for_flags(5)
    body = backend.bodies[-1]
    assert body["groups"] == {"company": "acme"}
    assert body["group_properties"] == {"company": {"plan": "enterprise"}}
    client.group("company", "globex")  # another key: the old group's properties go
    assert client.wait_for_flags(5)
    assert backend.bodies[-1]["group_properties"] == {"company": {}}


def test_at_most_five_group_types(
    make_client: MakeClient, sent: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    for number in range(6):
        client.group(f"type{number}", "k")
    client.capture("grouped")
    (event,) = named(sent(client), "grouped")
    assert sorted(event["properties"]["$groups"]) == [f"type{n}" for n in range(5)]
    assert "at most 5 group types" in caplog.text


@pytest.mark.parametrize(("group_type", "key"), [("", "k"), ("company", ""), ("company", "  ")])
def test_an_empty_type_or_key_is_ignored(
    make_client: MakeClient, sent: Sent, group_type: str, key: str
) -> None:
    client = make_client()
    client.group(group_type, key)
    assert named(sent(client), "$groupidentify") == []


def test_a_backend_sends_group_properties_outside_a_context(
    make_client: MakeClient, sent: Sent
) -> None:
    client = make_client(mode="server")
    client.group("company", "acme", {"employees": 12})
    (event,) = named(sent(client), "$groupidentify")
    assert event["distinct_id"] == "$company_acme"
    assert event["properties"]["$group_set"] == {"employees": 12}


def test_a_context_carries_its_groups_to_its_events_only(
    make_client: MakeClient, sent: Sent
) -> None:
    client = make_client(mode="server")
    posthog_client._default.client = client
    with posthog_client.new_context():
        posthog_client.identify_context("u1")
        posthog_client.group("company", "acme")
        with posthog_client.new_context():
            posthog_client.capture("nested")
        posthog_client.capture("inside", groups={"team": "red"})
    posthog_client.capture("outside", distinct_id="u1")
    events = {e["event"]: e["properties"] for e in sent(client)}
    assert events["nested"]["$groups"] == {"company": "acme"}
    assert events["inside"]["$groups"] == {"company": "acme", "team": "red"}
    assert "$groups" not in events["outside"]
    assert "$groupidentify" not in events  # no properties given: nothing to send


def test_person_profiles_never_ignores_groups(make_client: MakeClient, sent: Sent) -> None:
    client = make_client(person_profiles="never")
    client.group("company", "acme")
    client.capture("e")
    assert all("$groups" not in e["properties"] for e in sent(client))


def test_a_group_set_by_a_run_that_reads_no_flag_reaches_the_next_runs_flags(
    make_client: MakeClient, backend: FlagsBackend
) -> None:
    an_earlier_run(make_client, backend)
    make_client().group("company", "acme", {"plan": "enterprise"})  # e.g. a `join-team` command
    later = make_client()
    later.reload_feature_flags()
    assert later.wait_for_flags(5)
    body = backend.bodies[-1]
    assert body["groups"] == {"company": "acme"}
    assert body["group_properties"] == {"company": {"plan": "enterprise"}}
