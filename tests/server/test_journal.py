"""What the engine remembers about how a person came to be: merges, warnings, property sources."""

from __future__ import annotations

from datetime import timedelta

from posthog_client.server import PersonEngine

from . import T0, alias, event, identify, merge_dangerously


def outcomes(engine: PersonEngine, distinct_id: str) -> list[tuple[str, str, str, str | None]]:
    person = engine.person(distinct_id)
    assert person is not None
    return [
        (m.event, m.other_distinct_id, m.outcome, m.warning)
        for m in reversed(engine.merges(person.uuid))
    ]


def test_every_merge_request_is_recorded_with_its_outcome(engine: PersonEngine) -> None:
    engine.ingest([identify("alice", "anon-1")])  # S7: neither id known
    engine.ingest([alias("alice", "backend-7")])  # S8: backend-7 joins
    engine.ingest([identify("alice", "anon-1")])  # S9: already one person
    engine.ingest([event("$pageview", "anon-2"), merge_dangerously("alice", "anon-2")])  # S11
    engine.ingest([identify("alice", "alice")])  # S4: not a merge at all
    assert outcomes(engine, "alice") == [
        ("$identify", "anon-1", "created", None),
        ("$create_alias", "backend-7", "attached", None),
        ("$identify", "anon-1", "already_merged", None),
        ("$merge_dangerously", "anon-2", "merged", None),
    ]


def test_a_merge_names_the_persons_it_joined(engine: PersonEngine) -> None:
    engine.ingest([event("$pageview", "anon"), event("$pageview", "user")])
    anon = engine.person("anon")
    assert anon is not None
    engine.ingest([identify("user", "anon")])
    user = engine.person("user")
    assert user is not None
    [merge] = engine.merges(user.uuid)
    assert (merge.target_person_uuid, merge.source_person_uuid) == (user.uuid, anon.uuid)
    assert engine.merged_into(anon.uuid) == user.uuid
    assert engine.merged_into(user.uuid) is None


def test_refusals_are_recorded_on_both_persons_with_their_warning(engine: PersonEngine) -> None:
    engine.ingest([identify("alice", "a-anon"), identify("bob", "b-anon")])
    engine.ingest([identify("alice", "bob")])  # bob is identified: refused (S10)
    refused = ("$identify", "bob", "refused", "cannot_merge_already_identified")
    assert outcomes(engine, "alice")[-1] == refused
    assert outcomes(engine, "bob")[-1] == refused
    alice = engine.person("alice")
    assert alice is not None
    [warning] = engine.person_warnings(alice.uuid)
    assert warning.type == "cannot_merge_already_identified"
    assert warning.details["sourcePersonDistinctId"] == "bob"


def test_illegal_id_refusal_is_recorded(engine: PersonEngine) -> None:
    engine.ingest([identify("user", "undefined")])
    assert outcomes(engine, "user") == [
        ("$identify", "undefined", "refused", "cannot_merge_with_illegal_distinct_id")
    ]


def test_person_warnings_follow_the_ids_a_person_has_now(engine: PersonEngine) -> None:
    engine.ingest([event("$pageview", "anon", {"$process_person_profile": "yes"})])
    engine.ingest([identify("user", "anon")])
    user = engine.person("user")
    assert user is not None
    assert [w.type for w in engine.person_warnings(user.uuid)] == ["invalid_process_person_profile"]
    assert engine.person_warnings("no-such-person") == []
    assert engine.merges("no-such-person") == []


def test_property_sources_name_the_operation_and_event(engine: PersonEngine) -> None:
    first = event("$pageview", "u1", {"$set_once": {"plan": "free"}, "$set": {"email": "a@b"}})
    engine.ingest([first])
    later = event("$set", "u1", {"$set": {"plan": "pro"}}, at=T0 + timedelta(minutes=5))
    engine.ingest([later, event("$pageview", "u1", {"$set_once": {"plan": "x", "email": "y"}})])
    person = engine.person("u1")
    assert person is not None
    sources = person.property_sources
    assert (sources["email"].operation, sources["email"].event_uuid) == ("$set", first["uuid"])
    plan = sources["plan"]
    assert (plan.operation, plan.event, plan.event_uuid) == ("$set", "$set", later["uuid"])
    assert plan.timestamp == T0 + timedelta(minutes=5)
    assert sources["$creator_event_uuid"].operation == "created"
    assert person.to_json()["property_sources"]["plan"]["event"] == "$set"


def test_property_sources_follow_set_once_unset_and_merges(engine: PersonEngine) -> None:
    engine.ingest([event("$pageview", "anon", {"$set_once": {"first": 1, "gone": 1}})])
    engine.ingest([event("$pageview", "user", {"$set": {"first": 2}})])
    merge = identify("user", "anon", {"$unset": ["gone"], "$set_once": {"new": 1}})
    engine.ingest([merge])
    person = engine.person("user")
    assert person is not None
    sources = person.property_sources
    assert set(sources) == {"first", "new", "$creator_event_uuid"}
    assert sources["first"].operation == "$set"  # the target's value wins the merge
    assert (sources["new"].operation, sources["new"].event_uuid) == ("$set_once", merge["uuid"])


def test_revision_moves_when_something_is_stored(engine: PersonEngine) -> None:
    start = engine.revision
    sent = event("$pageview", "u1")
    engine.ingest([sent])
    assert engine.revision == start + 1
    engine.ingest([sent])  # a duplicate changes nothing
    assert engine.revision == start + 1
