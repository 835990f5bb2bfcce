"""Every server-side rule of identity-spec §3 (S1–S27), each tested on the engine by number."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from posthog_client.server import PersonEngine, RequestRejectedError

from . import T0, alias, event, identify, merge_dangerously

NAMESPACE = uuid.UUID("932979b4-65c3-4424-8467-0b66ec27bc22")
S24_VOCABULARY = {
    "cannot_merge_already_identified",
    "cannot_merge_with_illegal_distinct_id",
    "merge_race_condition",
    "invalid_event_when_process_person_profile_is_false",
    "invalid_process_person_profile",
    "skipping_event_invalid_distinct_id",
    "ignored_invalid_timestamp",
}
MERGE_EVENTS: list[Callable[..., dict[str, Any]]] = [identify, alias, merge_dangerously]


def uuid5(distinct_id: str, team_id: int = 1) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{team_id}:{distinct_id}"))


def props(engine: PersonEngine, distinct_id: str) -> dict[str, Any]:
    person = engine.person(distinct_id)
    assert person is not None
    return {k: v for k, v in person.properties.items() if k != "$creator_event_uuid"}


def warning_types(engine: PersonEngine) -> list[str]:
    return [w.type for w in engine.warnings()]


def identified(engine: PersonEngine, distinct_id: str) -> bool:
    person = engine.person(distinct_id)
    assert person is not None
    return person.is_identified


# S1 — person UUIDs


def test_s1_person_uuid_is_uuid5_of_team_and_first_distinct_id() -> None:
    for team_id in (1, 2):
        with PersonEngine(team_id=team_id) as engine:
            engine.ingest([event("$pageview", "u1")])
            person = engine.person("u1")
            assert person is not None and person.uuid == uuid5("u1", team_id)


def test_s1_person_created_by_merge_of_two_new_ids_takes_target_uuid(engine: PersonEngine) -> None:
    engine.ingest([identify("user", "anon")])
    person = engine.person("anon")
    assert person is not None and person.uuid == uuid5("user")


def test_s1_merge_keeps_uuid_already_used_by_personless_events(engine: PersonEngine) -> None:
    engine.ingest([event("$pageview", "anon", {"$process_person_profile": False})])
    assert engine.events("anon")[0].person_uuid == uuid5("anon")
    engine.ingest([identify("user", "anon")])
    person = engine.person("user")
    assert person is not None and person.uuid == uuid5("anon")
    assert {e.person_uuid for e in engine.events("user")} == {uuid5("anon")}


def test_s1_a_distinct_id_maps_to_at_most_one_person(engine: PersonEngine) -> None:
    engine.ingest([event("$pageview", i) for i in ("a", "b", "c", "d")])
    engine.ingest([identify("a", "b"), alias("c", "d"), merge_dangerously("a", "c")])
    ids = [i for person in engine.persons() for i in person.distinct_ids]
    assert sorted(ids) == ["a", "b", "c", "d"]
    assert engine.count_persons() == 1


# S2 — ordinary events


@pytest.mark.parametrize(
    ("event_properties", "expected"),
    [
        ({}, {}),
        ({"$set": {"a": 1}}, {"a": 1}),
        ({"$set_once": {"a": 1}}, {"a": 1}),
        ({"$set": {"a": 1}, "$set_once": {"a": 2, "b": 2}}, {"a": 1, "b": 2}),
    ],
)
def test_s2_event_creates_person_from_set_once_then_set(
    engine: PersonEngine, event_properties: dict[str, Any], expected: dict[str, Any]
) -> None:
    first = event("$pageview", "u1", event_properties, at=T0 + timedelta(minutes=5))
    engine.ingest([first])
    person = engine.person("u1")
    assert person is not None
    assert person.properties == {**expected, "$creator_event_uuid": first["uuid"]}
    assert person.is_identified is False
    assert person.created_at == T0 + timedelta(minutes=5)
    assert person.distinct_ids == ("u1",)


def test_s2_later_event_updates_the_existing_person(engine: PersonEngine) -> None:
    engine.ingest([event("$pageview", "u1", {"$set": {"a": 1}})])
    engine.ingest([event("$pageview", "u1", {"$set": {"a": 2}})])
    assert props(engine, "u1") == {"a": 2}
    assert engine.count_persons() == 1


# S3 — what triggers a merge


@pytest.mark.parametrize(
    ("name", "properties", "other", "merges"),
    [
        ("$identify", {"$anon_distinct_id": "b"}, "b", True),
        ("$identify", {}, "b", False),
        ("$identify", {"alias": "b"}, "b", False),
        ("$identify", {"$anon_distinct_id": 42}, "42", True),  # read as String(42)
        ("$create_alias", {"alias": "b"}, "b", True),
        ("$create_alias", {"alias": ""}, "b", False),  # alias must be truthy
        ("$create_alias", {"alias": 0}, "0", False),
        ("$create_alias", {"$anon_distinct_id": "b"}, "b", False),
        ("$merge_dangerously", {"alias": "b"}, "b", True),
        ("$set", {"alias": "b", "$anon_distinct_id": "b"}, "b", False),
        ("$pageview", {"alias": "b", "$anon_distinct_id": "b"}, "b", False),
    ],
)
def test_s3_only_identify_alias_and_merge_dangerously_merge(
    engine: PersonEngine, name: str, properties: dict[str, Any], other: str, merges: bool
) -> None:
    engine.ingest([event("$pageview", other)])
    engine.ingest([event(name, "a", properties)])
    a, b = engine.person("a"), engine.person(other)
    assert a is not None and b is not None
    assert (a.uuid == b.uuid) is merges


def test_s3_merge_runs_before_the_events_property_updates(engine: PersonEngine) -> None:
    engine.ingest([event("$pageview", "anon", {"$set": {"plan": "free", "seen": 1}})])
    engine.ingest([identify("user", "anon", {"$set": {"plan": "pro"}, "$set_once": {"seen": 2}})])
    assert props(engine, "user") == {"plan": "pro", "seen": 1}


# S4 — merging an id with itself


def test_s4_merge_with_itself_is_an_ordinary_event(engine: PersonEngine) -> None:
    engine.ingest([event("$pageview", "u1")])
    result = engine.ingest([identify("u1", "u1", {"$set": {"a": 1}})])
    assert result.warnings == ()
    assert identified(engine, "u1") is False
    assert props(engine, "u1") == {"a": 1}
    engine.ingest([identify("u2", "u2")])
    assert identified(engine, "u2") is False


# S5 — illegal and unmergeable ids refuse the merge but the event is kept


@pytest.mark.parametrize("make", MERGE_EVENTS)
@pytest.mark.parametrize(
    ("target", "other", "refused"),
    [
        ("user", "anonymous", "anonymous"),
        ("user", "'guest'", "'guest'"),
        ("user", "None", "None"),
        ("user", "   ", "   "),
        ("user", "x" * 401, "x" * 401),  # V5: longer than 400 characters
        ("user", "a\x00b", "a\x00b"),  # V5: NUL
        ("anonymous", "anon-1", "anonymous"),
        ("null", "undefined", "null"),  # the target is checked first
    ],
)
def test_s5_illegal_id_refuses_merge_with_warning_and_event_is_ingested(
    engine: PersonEngine, make: Any, target: str, other: str, refused: str
) -> None:
    merge = make(target, other)
    result = engine.ingest([merge])
    assert [(w.type, w.details) for w in result.warnings] == [
        (
            "cannot_merge_with_illegal_distinct_id",
            {
                "illegalDistinctId": refused,
                "otherDistinctId": other if refused == target else target,
                "eventUuid": merge["uuid"],
            },
        )
    ]
    person = engine.person(target)  # a person literally called e.g. "anonymous" may exist
    assert person is not None and person.distinct_ids == (target,) and not person.is_identified
    assert [e.uuid for e in engine.events(target)] == [merge["uuid"]]


def test_s5_identify_with_null_anon_id_is_refused_as_illegal_string_null(
    engine: PersonEngine,
) -> None:
    result = engine.ingest([identify("user", None)])
    assert result.warnings[0].details["illegalDistinctId"] == "null"
    assert engine.count_persons() == 1


# S6 — a merge marks the person identified


@pytest.mark.parametrize("make", MERGE_EVENTS)
@pytest.mark.parametrize("existing", [(), ("anon",), ("user",), ("anon", "user")])
def test_s6_every_merge_marks_the_person_identified(
    engine: PersonEngine, make: Any, existing: tuple[str, ...]
) -> None:
    engine.ingest([event("$pageview", i) for i in existing] or [event("$pageview", "other")])
    engine.ingest([make("user", "anon")])
    assert identified(engine, "user") and identified(engine, "anon")


# S7–S11 — the merge branches


@pytest.mark.parametrize("make", MERGE_EVENTS)
def test_s7_neither_id_has_a_person_creates_one_identified_person(
    engine: PersonEngine, make: Any
) -> None:
    engine.ingest([make("user", "anon", {"$set": {"a": 1}, "$set_once": {"b": 2}})])
    person = engine.person("anon")
    assert person is not None
    assert person.distinct_ids == ("user", "anon")
    assert person.is_identified
    assert props(engine, "user") == {"a": 1, "b": 2}
    assert engine.count_persons() == 1


@pytest.mark.parametrize("make", MERGE_EVENTS)
@pytest.mark.parametrize("owner", ["anon", "user"])
def test_s8_id_without_person_joins_the_existing_person(
    engine: PersonEngine, make: Any, owner: str
) -> None:
    engine.ingest([event("$pageview", owner, {"$set": {"a": 1}})])
    engine.ingest([make("user", "anon", {"$set": {"b": 2}})])
    person = engine.person("user")
    assert person is not None
    assert person.uuid == uuid5(owner)
    assert set(person.distinct_ids) == {"anon", "user"}
    assert person.is_identified
    assert props(engine, "anon") == {"a": 1, "b": 2}


def test_s8_identify_attaches_new_id_even_to_an_identified_person(engine: PersonEngine) -> None:
    engine.ingest([identify("alice", "device")])
    engine.ingest([identify("bob", "device")])  # the client should never send this (R12)
    person = engine.person("bob")
    assert person is not None and set(person.distinct_ids) == {"alice", "device", "bob"}
    assert engine.warnings() == []


@pytest.mark.parametrize("make", MERGE_EVENTS)
def test_s9_both_ids_on_the_same_person_only_apply_properties(
    engine: PersonEngine, make: Any
) -> None:
    engine.ingest([event("$pageview", "anon"), alias("user", "anon")])
    before = engine.person("user")
    engine.ingest([make("user", "anon", {"$set": {"a": 1}})])
    after = engine.person("user")
    assert before is not None and after is not None
    assert after.uuid == before.uuid and after.distinct_ids == before.distinct_ids
    assert after.version == before.version + 1  # the $set is written; nothing was merged
    assert after.is_identified
    assert props(engine, "user") == {"a": 1}


@pytest.mark.parametrize("make", [identify, alias])
def test_s10_refuses_merge_when_source_identified(engine: PersonEngine, make: Any) -> None:
    engine.ingest([identify("alice", "device-a"), event("$pageview", "bob", {"$set": {"x": 1}})])
    merge = make("bob", "alice", {"$set": {"y": 2}})
    result = engine.ingest([merge])
    assert [(w.type, w.details) for w in result.warnings] == [
        (
            "cannot_merge_already_identified",
            {
                "sourcePersonDistinctId": "alice",
                "targetPersonDistinctId": "bob",
                "eventUuid": merge["uuid"],
            },
        )
    ]
    alice, bob = engine.person("alice"), engine.person("bob")
    assert alice is not None and bob is not None and alice.uuid != bob.uuid
    assert props(engine, "bob") == {"x": 1, "y": 2} and bob.is_identified
    assert merge["uuid"] in [e.uuid for e in engine.events("bob")]
    assert merge["uuid"] not in [e.uuid for e in engine.events("alice")]


def test_s10_merge_dangerously_skips_the_identified_check(engine: PersonEngine) -> None:
    engine.ingest([identify("alice", "device-a"), identify("bob", "device-b")])
    result = engine.ingest([merge_dangerously("bob", "alice")])
    assert result.warnings == ()
    person = engine.person("alice")
    assert person is not None
    assert set(person.distinct_ids) == {"alice", "device-a", "bob", "device-b"}


@pytest.mark.parametrize("make", [identify, alias])
def test_s10_identified_target_does_not_block(engine: PersonEngine, make: Any) -> None:
    engine.ingest([identify("alice", "device-a"), event("$pageview", "anon")])
    assert engine.ingest([make("alice", "anon")]).warnings == ()
    person = engine.person("anon")
    assert person is not None and person.uuid == uuid5("alice")


@pytest.mark.parametrize("make", MERGE_EVENTS)
def test_s11_allowed_merge_keeps_target_and_merges_properties(
    engine: PersonEngine, make: Any
) -> None:
    early, late = T0, T0 + timedelta(hours=1)
    engine.ingest(
        [
            event("$pageview", "anon", {"$set": {"shared": "src", "only_src": 1}}, at=early),
            event("$pageview", "user", {"$set": {"shared": "tgt", "only_tgt": 1}}, at=late),
        ]
    )
    source = engine.person("anon")
    assert source is not None
    engine.ingest([make("user", "anon", {"$set": {"by_event": 1}, "$unset": ["only_src"]})])
    person = engine.person("anon")
    assert person is not None
    assert person.uuid == uuid5("user") and person.distinct_ids == ("anon", "user")
    assert props(engine, "user") == {"shared": "tgt", "only_tgt": 1, "by_event": 1}
    assert person.created_at == early  # the older of the two
    assert person.version == 2  # max(0, 0) + 1 for the merge, + 1 for the event's own updates
    assert person.is_identified
    assert engine.person_by_uuid(source.uuid) is None  # the source person is deleted
    assert len(engine.events("anon")) == 3  # the full history of both ids


def test_s11_merge_moves_every_distinct_id_of_the_source(engine: PersonEngine) -> None:
    engine.ingest([identify("alice", "device-a"), event("$pageview", "bob")])
    engine.ingest([alias("alice", "laptop-a")])
    engine.ingest([merge_dangerously("alice", "device-b"), merge_dangerously("bob", "alice")])
    person = engine.person("device-a")
    assert person is not None and person.uuid == uuid5("bob")
    assert set(person.distinct_ids) == {"alice", "device-a", "laptop-a", "device-b", "bob"}
    assert person.version == 1 and engine.count_persons() == 1
    assert len(engine.events("laptop-a")) == 5


# S12/S13 — property algebra


@pytest.mark.parametrize(
    ("before", "update", "after"),
    [
        ({}, {"$set_once": {"a": 1}}, {"a": 1}),
        ({"a": 0}, {"$set_once": {"a": 1}}, {"a": 0}),
        ({"a": 0}, {"$set": {"a": 1}}, {"a": 1}),
        ({"a": 1}, {"$set": {"a": True}}, {"a": True}),  # JSON true is not 1
        ({}, {"$set": {"a": 1}, "$set_once": {"a": 2}}, {"a": 1}),  # $set beats $set_once
        ({"a": 0, "b": 0}, {"$unset": ["a"]}, {"b": 0}),
        ({"a": 0}, {"$unset": ["missing"]}, {"a": 0}),
        ({"a": 0}, {"$set": {"a": 1}, "$unset": ["a"]}, {}),  # existed before: deleted
        ({}, {"$set": {"a": 1}, "$unset": ["a"]}, {"a": 1}),  # did not exist before: kept
        ({}, {"$set_once": {"a": 1}, "$unset": ["a"]}, {"a": 1}),
        ({"a": 0}, {"$set": "not an object", "$set_once": ["x"]}, {"a": 0}),
    ],
)
def test_s12_property_updates_against_the_pre_event_snapshot(
    engine: PersonEngine, before: dict[str, Any], update: dict[str, Any], after: dict[str, Any]
) -> None:
    engine.ingest([event("$pageview", "u1", {"$set": before})])
    engine.ingest([event("$set", "u1", update)])
    assert props(engine, "u1") == after


@pytest.mark.parametrize(
    ("before", "update", "after"),
    [
        ({"a": None}, {"$set_once": {"a": 1}}, {"a": None}),  # a stored null counts as set
        ({"a": 0}, {"$set": {"a": None}}, {"a": None}),  # $set may set null
        ({"a": 0, "b": 0}, {"$unset": {"a": None}}, {"b": 0}),  # $unset as an object: its keys
        ({"a": 0, "b": 0}, {"$unset": "a"}, {"a": 0, "b": 0}),  # neither list nor object: ignored
    ],
)
def test_s13_set_once_fills_only_undefined_and_unset_takes_list_or_object(
    engine: PersonEngine, before: dict[str, Any], update: dict[str, Any], after: dict[str, Any]
) -> None:
    engine.ingest([event("$pageview", "u1", {"$set": before})])
    engine.ingest([event("$set", "u1", update)])
    assert props(engine, "u1") == after


def test_s12_top_level_set_is_merged_into_properties_and_wins(engine: PersonEngine) -> None:
    engine.ingest(
        [
            event(
                "$set",
                "u1",
                {"$set": {"a": 1, "b": 1}},
                fields={"$set": {"b": 2}, "$set_once": {"c": 3}},
            )
        ]
    )
    assert props(engine, "u1") == {"a": 1, "b": 2, "c": 3}


# S14 — processing order wins, not event time


def test_s14_last_processed_event_wins_whatever_its_timestamp(engine: PersonEngine) -> None:
    engine.ingest([event("$set", "u1", {"$set": {"plan": "new"}}, at=T0 + timedelta(hours=2))])
    engine.ingest([event("$set", "u1", {"$set": {"plan": "old"}}, at=T0)])
    assert props(engine, "u1") == {"plan": "old"}


# S15/S16/S17 — person processing off


@pytest.mark.parametrize(
    ("value", "personless", "warns"),
    [
        (False, True, False),
        (True, False, False),
        ("false", False, True),
        (0, False, True),
        (None, False, True),
    ],
)
def test_s15_only_json_false_disables_person_processing(
    engine: PersonEngine, value: object, personless: bool, warns: bool
) -> None:
    engine.ingest([event("$pageview", "u1", {"$process_person_profile": value})])
    assert (engine.person("u1") is None) is personless
    assert warning_types(engine) == (["invalid_process_person_profile"] if warns else [])


def test_s15_absent_flag_means_person_processing(engine: PersonEngine) -> None:
    engine.ingest([event("$pageview", "u1")])
    assert engine.person("u1") is not None and engine.warnings() == []


@pytest.mark.parametrize(
    "name", ["$identify", "$create_alias", "$merge_dangerously", "$groupidentify"]
)
def test_s16_person_events_sent_personless_are_dropped_with_warning(
    engine: PersonEngine, name: str
) -> None:
    dropped = event(name, "user", {"$process_person_profile": False, "alias": "anon"})
    result = engine.ingest([event("$pageview", "anon"), dropped])
    assert (result.stored, result.dropped) == (1, 1)
    assert [(w.type, w.details) for w in result.warnings] == [
        (
            "invalid_event_when_process_person_profile_is_false",
            {"eventUuid": dropped["uuid"], "event": name, "distinctId": "user"},
        )
    ]
    assert engine.count_events() == 1 and engine.person("user") is None


def test_s17_personless_event_creates_no_person_and_strips_person_updates(
    engine: PersonEngine,
) -> None:
    engine.ingest(
        [
            event(
                "$pageview",
                "anon",
                {"$process_person_profile": False, "$set": {"a": 1}, "$unset": ["b"]},
                fields={"$set_once": {"c": 1}},
            )
        ]
    )
    assert engine.person("anon") is None and engine.count_persons() == 0
    [stored] = engine.events("anon")
    assert stored.properties == {"$process_person_profile": False}
    assert stored.person_mode == "propertyless"
    assert stored.person_uuid == uuid5("anon")  # a virtual person


@pytest.mark.parametrize(
    ("delay", "mode"),
    [(timedelta(seconds=30), "propertyless"), (timedelta(hours=3), "force_upgrade")],
)
def test_s17_personless_event_of_existing_person_is_attributed_and_maybe_upgraded(
    engine: PersonEngine, delay: timedelta, mode: str
) -> None:
    engine.ingest([event("$pageview", "u1", {"$set": {"a": 1}})])
    personless = {"$process_person_profile": False, "$set": {"a": 2}}
    engine.ingest([event("$pageview", "u1", personless, at=T0 + delay)])
    person = engine.person("u1")
    assert person is not None
    assert props(engine, "u1") == {"a": 1}
    [stored, _] = engine.events("u1")
    assert stored.person_mode == mode and stored.person_uuid == person.uuid
    # created more than a minute before the event: processed with the person (last_seen_at)
    assert person.last_seen_at == (T0 + delay if mode == "force_upgrade" else T0)


# S18 — personless history follows a later merge


def test_s18_personless_events_are_reattributed_after_merge(engine: PersonEngine) -> None:
    anon_events = [event("$pageview", "anon", {"$process_person_profile": False}) for _ in range(3)]
    engine.ingest(anon_events)
    engine.ingest([event("$pageview", "user"), identify("user", "anon")])
    person = engine.person("user")
    assert person is not None
    history = engine.events("user")
    assert {e["uuid"] for e in anon_events} <= {e.uuid for e in history}
    assert {e.person_uuid for e in history} == {person.uuid}
    assert [e.uuid for e in engine.events("anon")] == [e.uuid for e in history]


# S19 — groups


def test_s19_groupidentify_sets_group_properties_never_the_person(engine: PersonEngine) -> None:
    engine.ingest([event("$pageview", "u1", {"$set": {"a": 1}})])
    engine.ingest(
        [
            event(
                "$groupidentify",
                "u1",
                {
                    "$group_type": "company",
                    "$group_key": "acme",
                    "$group_set": {"plan": "team"},
                    "$set": {"a": 2},
                },
            )
        ]
    )
    assert props(engine, "u1") == {"a": 1}
    [group] = engine.groups()
    assert (group.group_type, group.group_type_index, group.group_key) == ("company", 0, "acme")
    assert group.properties == {"plan": "team"}
    assert "$set" not in engine.events("u1")[0].properties


def test_s19_groups_become_group_columns_for_at_most_five_types(engine: PersonEngine) -> None:
    groups = {f"type{i}": f"key{i}" for i in range(6)}
    engine.ingest([event("$pageview", "u1", {"$groups": groups})])
    stored = engine.events("u1")[0].properties
    assert {k: v for k, v in stored.items() if k.startswith("$group_")} == {
        f"$group_{i}": f"key{i}" for i in range(5)
    }


# S20 — every property change is written (A14)


def test_s20_high_churn_property_changes_are_applied_on_ordinary_events(
    engine: PersonEngine,
) -> None:
    # PostHog may skip writing a change that touches only keys like $current_url on an
    # ordinary event; the reference server applies every change (decision A14)
    engine.ingest([event("$pageview", "u1", {"$current_url": "https://a"})])
    engine.ingest([event("$pageview", "u1", {"$current_url": "https://b"})])
    assert props(engine, "u1")["$current_url"] == "https://b"


# S21 — automatic person properties


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (
            {"$current_url": "https://a"},
            {"$current_url": "https://b"},
            {"$current_url": "https://b", "$initial_current_url": "https://a"},
        ),
        (
            {"utm_source": "news"},
            {"utm_source": None},  # an empty campaign parameter is not lifted
            {"utm_source": "news", "$initial_utm_source": "news"},
        ),
        ({"gclid": None}, {"gclid": "g1"}, {"gclid": "g1", "$initial_gclid": "g1"}),
        ({"$os_name": "iOS"}, {}, {"$os": "iOS", "$initial_os": "iOS"}),
        ({"$os": "Linux", "$os_name": "iOS"}, {}, {"$os": "Linux", "$initial_os": "Linux"}),
        ({"$os": "Linux", "$os_version": "6", "$is_server": True}, {}, {}),
        (
            {"$browser": "Firefox", "$set": {"$browser": "mine"}},
            {},
            {"$browser": "mine", "$initial_browser": "Firefox"},
        ),
        ({"custom": 1}, {}, {}),
    ],
)
def test_s21_initial_and_latest_touch_person_properties(
    engine: PersonEngine, first: dict[str, Any], second: dict[str, Any], expected: dict[str, Any]
) -> None:
    engine.ingest([event("$pageview", "u1", first)])
    engine.ingest([event("$pageview", "u1", second)])
    assert props(engine, "u1") == expected


# S22 — last_seen_at


def test_s22_last_seen_at_is_the_hour_of_the_latest_event(engine: PersonEngine) -> None:
    at = T0 + timedelta(minutes=42, seconds=7)
    engine.ingest([event("$pageview", "u1", at=at)])
    person = engine.person("u1")
    assert person is not None and person.last_seen_at == T0
    engine.ingest([event("$pageview", "u1", at=T0 + timedelta(hours=2, minutes=5))])
    engine.ingest([event("$pageview", "u1", at=T0 + timedelta(hours=1))])  # never moves back
    person = engine.person("u1")
    assert person is not None and person.last_seen_at == T0 + timedelta(hours=2)


def test_s22_update_person_last_seen_at_false_skips_it(engine: PersonEngine) -> None:
    engine.ingest([event("$pageview", "u1", {"$update_person_last_seen_at": False})])
    person = engine.person("u1")
    assert person is not None and person.last_seen_at is None
    later = T0 + timedelta(hours=5)
    engine.ingest([event("$pageview", "u1", {"$update_person_last_seen_at": False}, at=later)])
    person = engine.person("u1")
    assert person is not None and person.last_seen_at is None


# S23 — merge races


def test_s23_concurrent_merges_serialise_without_race_warnings(engine: PersonEngine) -> None:
    # PostHog warns `merge_race_condition` when concurrent merges keep colliding; the
    # reference server has one writer (one lock, one transaction per request), so merges
    # sent concurrently always complete and the warning never appears
    def merge_chain(n: int) -> None:
        engine.ingest([event("$pageview", f"anon-{n}"), identify("shared", f"anon-{n}")])

    threads = [threading.Thread(target=merge_chain, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    person = engine.person("shared")
    assert person is not None
    assert set(person.distinct_ids) == {"shared", *(f"anon-{n}" for n in range(8))}
    assert engine.count_persons() == 1 and engine.warnings() == []


# S24 — warning vocabulary


def test_s24_every_warning_raised_is_in_the_spec_vocabulary(engine: PersonEngine) -> None:
    engine.ingest(
        [
            identify("alice", "device-a"),
            identify("bob", "device-b"),
            identify("bob", "alice"),
            identify("user", "anonymous"),
            event("$identify", "x", {"$process_person_profile": False}),
            event("$pageview", "x", {"$process_person_profile": "yes"}),
            event("$pageview", "x", fields={"timestamp": "not a time"}),
        ]
    )
    types = set(warning_types(engine))
    assert types <= S24_VOCABULARY
    assert len(types) == 5


# S25 — distinct id normalisation


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ({"distinct_id": 123}, "123"),
        ({"distinct_id": 1.5}, "1.5"),
        ({"distinct_id": True}, "true"),
        ({"distinct_id": {"b": 1, "a": "é"}}, '{"b":1,"a":"é"}'),
        ({"distinct_id": ["x", 1]}, '["x",1]'),
        ({"distinct_id": "  padded  "}, "  padded  "),
        ({"distinct_id": "a\x00b"}, "a\ufffdb"),
        ({"distinct_id": "é" * 250}, "é" * 200),
        ({"$distinct_id": "dollar"}, "dollar"),
        ({"properties": {"distinct_id": "in-properties"}}, "in-properties"),
        ({"distinct_id": None, "properties": {"distinct_id": "fallback"}}, "fallback"),
        ({"distinct_id": "root", "properties": {"distinct_id": "ignored"}}, "root"),
    ],
)
def test_s25_distinct_id_normalisation(
    engine: PersonEngine, raw: dict[str, Any], stored: str
) -> None:
    engine.ingest([{"event": "$pageview", **raw}])
    [only] = engine.events()
    assert only.distinct_id == stored
    assert engine.person(stored) is not None


def test_s25_ids_over_400_chars_cannot_reach_ingestion(engine: PersonEngine) -> None:
    # ingestion drops ids over 400 characters (skipping_event_invalid_distinct_id), but
    # capture has already cut every id to 200, so a 450-character id is stored truncated
    engine.ingest([event("$pageview", "x" * 450)])
    assert engine.events()[0].distinct_id == "x" * 200
    assert engine.warnings() == []


@pytest.mark.parametrize("raw_id", [None, "", "   ", "\t\n"])
def test_s25_missing_or_blank_distinct_id_rejects_the_whole_request(
    engine: PersonEngine, raw_id: object
) -> None:
    with pytest.raises(RequestRejectedError) as caught:
        engine.ingest([event("$pageview", "fine"), event("$pageview", raw_id)])
    assert (caught.value.code, caught.value.index, caught.value.status) == (
        "missing_distinct_id",
        1,
        400,
    )
    assert engine.count_events() == 0 and engine.count_persons() == 0


# S26 — event time


NOW = datetime(2024, 5, 2, 12, 0, tzinfo=T0.tzinfo)
AN_HOUR_AGO = "2024-05-02T11:00:00Z"
H, S = timedelta(hours=1), timedelta(seconds=1)


@pytest.mark.parametrize(
    ("fields", "properties", "sent_at", "expected"),
    [
        ({"timestamp": AN_HOUR_AGO}, {}, NOW + 10 * S, NOW - H - 10 * S),  # client 10 s ahead
        ({"timestamp": AN_HOUR_AGO}, {}, NOW - 10 * S, NOW - H + 10 * S),  # client 10 s behind
        ({"timestamp": AN_HOUR_AGO}, {}, None, NOW - H),
        ({"timestamp": AN_HOUR_AGO}, {"$ignore_sent_at": True}, NOW + 10 * S, NOW - H),
        ({"timestamp": "2024-05-02T13:00:00+02:00"}, {}, None, NOW - H),
        ({"timestamp": "2024-05-02 11:00:00"}, {}, None, NOW - H),  # no zone: UTC
        ({"timestamp": "2024-05-02T11:00:00.5Z"}, {}, None, NOW - H + S / 2),
        ({"offset": 5000}, {}, NOW + H, NOW - 5 * S),
        ({"offset": 5000, "timestamp": AN_HOUR_AGO}, {}, None, NOW - 5 * S),
        ({}, {}, NOW + H, NOW),
        ({"timestamp": "2024-05-04T12:00:00Z"}, {}, None, NOW),  # more than 23 h ahead
        ({"timestamp": "2024-05-03T10:00:00Z"}, {}, None, NOW + 22 * H),
        ({"timestamp": "1714651200"}, {}, None, NOW),  # Unix seconds
        ({"timestamp": "1714651200000"}, {}, None, NOW),  # Unix milliseconds
    ],
)
def test_s26_event_time_with_clock_skew_correction(
    engine: PersonEngine,
    fields: dict[str, Any],
    properties: dict[str, Any],
    sent_at: datetime | None,
    expected: datetime,
) -> None:
    raw = {"event": "$pageview", "distinct_id": "u1", "properties": properties, **fields}
    engine.ingest([raw], sent_at=sent_at, now=NOW)
    assert engine.events()[0].timestamp == expected


def test_s26_unparseable_timestamp_uses_now_and_warns(engine: PersonEngine) -> None:
    bad = event("$pageview", "u1", fields={"timestamp": "yesterday-ish"})
    result = engine.ingest([bad], now=NOW)
    assert engine.events()[0].timestamp == NOW
    assert [(w.type, w.details["eventUuid"]) for w in result.warnings] == [
        ("ignored_invalid_timestamp", bad["uuid"])
    ]


def test_s26_sent_at_is_read_from_iso_text(engine: PersonEngine) -> None:
    engine.ingest(
        [event("$pageview", "u1", fields={"timestamp": "2024-05-02T11:00:00Z"})],
        sent_at="2024-05-02T12:00:30+00:00",
        now=NOW,
    )
    assert engine.events()[0].timestamp == NOW - timedelta(hours=1, seconds=30)


# S27 — server uuids and ordering


def test_s27_events_without_uuid_get_a_uuid7(engine: PersonEngine) -> None:
    engine.ingest(
        [{"event": "a", "distinct_id": "u1"}, {"event": "b", "distinct_id": "u1", "uuid": ""}]
    )
    assert [uuid.UUID(e.uuid).version for e in engine.events()] == [7, 7]


def test_s27_arrival_order_by_default(engine: PersonEngine) -> None:
    batch = [event(f"e{i}", f"id{i % 3}") for i in range(12)]
    engine.ingest(batch)
    assert [e.event for e in reversed(engine.events())] == [e["event"] for e in batch]


def test_s27_shuffle_interleaves_distinct_ids_but_keeps_each_ids_order() -> None:
    batch = [event(f"e{i}", f"id{i % 4}") for i in range(40)]
    orders = set()
    for seed in range(5):
        with PersonEngine(shuffle=True, seed=seed) as engine:
            engine.ingest(batch)
            processed = [e.event for e in reversed(engine.events())]  # same timestamps: by arrival
        for distinct_id in ("id0", "id1", "id2", "id3"):
            expected = [e["event"] for e in batch if e["distinct_id"] == distinct_id]
            assert [name for name in processed if name in expected] == expected
        orders.add(tuple(processed))
    assert len(orders) > 1 and tuple(e["event"] for e in batch) not in orders


@pytest.mark.parametrize("seed", range(10))
def test_s27_identify_processed_first_still_yields_the_full_history(seed: int) -> None:
    batch = [event("$pageview", "anon") for _ in range(3)] + [identify("user", "anon")]
    with PersonEngine(shuffle=True, seed=seed) as engine:
        engine.ingest(batch)
        person = engine.person("user")
        assert person is not None and set(person.distinct_ids) == {"anon", "user"}
        assert len(engine.events("user")) == 4


# request atomicity and deduplication (capture)


def test_retried_batch_is_deduplicated_by_uuid(engine: PersonEngine) -> None:
    batch = [event("$pageview", "u1", {"$set": {"n": 1}}), identify("user", "u1")]
    first, again = engine.ingest(batch), engine.ingest(batch)
    assert (first.stored, first.duplicates) == (2, 0)
    assert (again.stored, again.duplicates) == (0, 2)
    assert engine.count_events() == 2


def test_a_bad_event_rejects_the_whole_request(engine: PersonEngine) -> None:
    with pytest.raises(RequestRejectedError) as caught:
        engine.ingest([identify("user", "anon"), {"event": "", "distinct_id": "u1"}])
    assert caught.value.code == "missing_event_name"
    assert engine.count_events() == 0 and engine.count_persons() == 0 and engine.warnings() == []


# V4/V5 — which ids refuse a merge (the server's side of identity-spec §4)

V4_ILLEGAL = [
    "",
    " ",
    "\t",
    "anonymous",
    "ANONYMOUS",
    "Guest",
    "distinctid",
    "distinct_id",
    "id",
    "not_authenticated",
    "email",
    "undefined",
    "UNDEFINED",
    "true",
    "False",
    "'guest'",
    '"email"',
    "'GUEST'",
    "[object Object]",
    "NaN",
    "None",
    "none",
    "null",
    "0",
    "'None'",
    '"null"',
    "'0'",
]
V4_LEGAL = [
    "NULL",
    "nan",
    "NONE",
    " anonymous",
    "anonymous ",
    "guest-1",
    "00",
    "'guest",
    "user@x.io",
]
V5_UNMERGEABLE = ["x" * 401, "a\x00b"]
V5_MERGEABLE = ["x" * 400, "é" * 400]


@pytest.mark.parametrize("other", V4_ILLEGAL + V5_UNMERGEABLE)
def test_v4_v5_ids_that_refuse_a_merge(engine: PersonEngine, other: str) -> None:
    result = engine.ingest([identify("user", other)])  # $identify merges even a falsy id
    assert [w.type for w in result.warnings] == ["cannot_merge_with_illegal_distinct_id"]
    person = engine.person("user")
    assert person is not None and person.distinct_ids == ("user",)


@pytest.mark.parametrize("other", V4_LEGAL + V5_MERGEABLE)
def test_v4_v5_ids_that_merge(engine: PersonEngine, other: str) -> None:
    result = engine.ingest([identify("user", other)])
    assert result.warnings == ()
    person = engine.person("user")
    assert person is not None and person.distinct_ids == ("user", other)


@pytest.mark.parametrize("illegal", ["anonymous", "None", "0"])
def test_v6_illegal_ids_are_not_rejected_for_ordinary_events(
    engine: PersonEngine, illegal: str
) -> None:
    assert engine.ingest([event("$pageview", illegal, {"$set": {"a": 1}})]).warnings == ()
    assert props(engine, illegal) == {"a": 1}
