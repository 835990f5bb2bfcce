"""Cases from PostHog's own ingestion tests, translated to the engine, one rule per test.

Sources (PostHog/posthog, Node ingestion): ``nodejs/tests/ingestion/person-state-batch.test.ts``,
``nodejs/src/ingestion/common/persons/person-update.test.ts``,
``…/persons/person-property-service.test.ts``,
``…/event-processing/normalize-process-person-flag-step.test.ts``,
``…/event-processing/normalize-event-step.test.ts`` and ``nodejs/tests/utils/db/utils.test.ts``
(``personInitialAndUTMProperties``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from posthog_client.server import Person, PersonEngine

from . import T0, alias, event, identify, merge_dangerously


def person_of(engine: PersonEngine, distinct_id: str) -> Person:
    person = engine.person(distinct_id)
    assert person is not None
    return person


def props(engine: PersonEngine, distinct_id: str) -> dict[str, Any]:
    properties = dict(person_of(engine, distinct_id).properties)
    properties.pop("$creator_event_uuid")
    return properties


def stored_properties(engine: PersonEngine, distinct_id: str) -> dict[str, Any]:
    return engine.events(distinct_id, limit=1)[0].properties


# A person's version moves by one on every write (person-state-batch: "updates person
# properties", "marks user as is_identified", merges: max(versions) + 1)


def test_version_is_zero_for_a_new_person_and_moves_by_one_per_write(engine: PersonEngine) -> None:
    engine.ingest([event("$pageview", "u1", {"$set_once": {"a": 1, "b": 2}, "$set": {"b": 3}})])
    assert person_of(engine, "u1").version == 0
    engine.ingest([event("$pageview", "u1", {"$set_once": {"c": 3, "e": 4}, "$set": {"b": 4}})])
    assert person_of(engine, "u1").version == 1
    engine.ingest([event("$pageview", "u1", {"$unset": ["e"]})])
    assert person_of(engine, "u1").version == 2


def test_version_does_not_move_when_nothing_changes(engine: PersonEngine) -> None:
    engine.ingest([event("$pageview", "u1", {"$set": {"b": 3, "c": 4}})])
    engine.ingest([event("$pageview", "u1", {"$set_once": {"c": 3}, "$set": {"b": 3}})])
    assert person_of(engine, "u1").version == 0


def test_version_moves_when_only_is_identified_or_last_seen_changes(engine: PersonEngine) -> None:
    engine.ingest([event("$pageview", "user")])
    engine.ingest([identify("user", "anon")])  # S8: anon joins, the person becomes identified
    assert person_of(engine, "user").version == 1
    engine.ingest([event("$pageview", "user", at=T0 + timedelta(hours=2))])
    assert person_of(engine, "user").version == 2


@pytest.mark.parametrize("make", [identify, alias, merge_dangerously])
def test_version_of_merged_persons_is_the_highest_plus_one(engine: PersonEngine, make: Any) -> None:
    engine.ingest([event("$pageview", "anon")])
    engine.ingest([event("$pageview", "user", {"$set": {"n": n}}) for n in range(3)])
    assert person_of(engine, "user").version == 2
    engine.ingest([make("user", "anon")])
    assert person_of(engine, "user").version == 3
    # the merge is one write and the event's own property changes another
    engine.ingest([event("$pageview", "other"), make("user", "other", {"$set": {"n": 9}})])
    assert person_of(engine, "user").version == 5


# NUL in person properties is stored as U+FFFD (sanitizeJsonbValue; person-state-batch
# "creates person if they are new", "updates person properties")


def test_nul_in_person_property_values_is_stored_as_replacement_character(
    engine: PersonEngine,
) -> None:
    engine.ingest([event("$pageview", "u1", {"$set": {"null_byte": "\u0000"}})])
    assert props(engine, "u1") == {"null_byte": "\ufffd"}
    engine.ingest([event("$pageview", "u2", {"$set": {"b": 3}})])
    nested = {"$set": {"b": 4, "n": {"x": ["a\u0000b"]}}, "$set_once": {"k\u0000": "\u0000"}}
    engine.ingest([event("$pageview", "u2", nested)])
    assert props(engine, "u2") == {"b": 4, "n": {"x": ["a\ufffdb"]}, "k\ufffd": "\ufffd"}


def test_nul_is_kept_in_the_stored_event(engine: PersonEngine) -> None:
    engine.ingest([event("$pageview", "u1", {"$set": {"null_byte": "\u0000"}, "p": "\u0000"})])
    stored = stored_properties(engine, "u1")
    assert stored["p"] == "\u0000" and stored["$set"] == {"null_byte": "\u0000"}


# $exception and $$heatmap never update person properties (NO_PERSON_UPDATE_EVENTS), but
# their last_seen_at still counts ("denied ops still contribute their scalars")


@pytest.mark.parametrize("name", ["$exception", "$$heatmap"])
def test_exception_and_heatmap_events_do_not_update_person_properties(
    engine: PersonEngine, name: str
) -> None:
    engine.ingest([event("$pageview", "u1", {"$set": {"b": 3, "c": 4}})])
    updates = {"$set_once": {"c": 3, "e": 4}, "$set": {"b": 4}, "$unset": ["c"]}
    engine.ingest([event(name, "u1", updates)])
    assert props(engine, "u1") == {"b": 3, "c": 4}
    assert person_of(engine, "u1").version == 0
    assert stored_properties(engine, "u1")["$set"] == {"b": 4}  # the event itself keeps them


@pytest.mark.parametrize("name", ["$exception", "$$heatmap"])
def test_exception_and_heatmap_events_still_move_last_seen_at(
    engine: PersonEngine, name: str
) -> None:
    engine.ingest([event("$pageview", "u1")])
    engine.ingest([event(name, "u1", {"$set": {"b": 4}}, at=T0 + timedelta(hours=3))])
    person = person_of(engine, "u1")
    assert person.last_seen_at == T0 + timedelta(hours=3)
    assert props(engine, "u1") == {}


def test_exception_event_creating_a_person_uses_its_sets(engine: PersonEngine) -> None:
    # createOrGetPerson reads $set/$set_once whatever the event; only updates are refused
    engine.ingest([event("$exception", "u1", {"$set": {"b": 1}})])
    assert props(engine, "u1") == {"b": 1}


# distinct_id_case_collision (person-property-service.test.ts)


def test_new_mixed_case_id_colliding_with_a_lowercase_twin_warns(engine: PersonEngine) -> None:
    engine.ingest([event("$pageview", "intaldarryl@gmail.com")])
    twin = person_of(engine, "intaldarryl@gmail.com")
    fresh = event("$pageview", "Intaldarryl@gmail.com")
    result = engine.ingest([fresh])
    assert [(w.type, w.details) for w in result.warnings] == [
        (
            "distinct_id_case_collision",
            {
                "distinctId": "Intaldarryl@gmail.com",
                "existingDistinctId": "intaldarryl@gmail.com",
                "personId": twin.uuid,
                "eventUuid": fresh["uuid"],
            },
        )
    ]
    assert engine.count_persons() == 2  # a warning only: ids stay case-sensitive


@pytest.mark.parametrize(
    ("existing", "fresh"),
    [
        ((), "Intaldarryl@gmail.com"),  # no lowercase twin
        (("Intaldarryl@gmail.com",), "intaldarryl@gmail.com"),  # the fresh id is lowercase
        (("intaldarryl@gmail.com", "Intaldarryl@gmail.com"), "Intaldarryl@gmail.com"),  # exists
        (("INTALDARRYL@gmail.com",), "Intaldarryl@gmail.com"),  # twin not in lowercase
    ],
)
def test_no_case_collision_warning_without_a_fresh_person_and_a_lowercase_twin(
    engine: PersonEngine, existing: tuple[str, ...], fresh: str
) -> None:
    engine.ingest([event("$pageview", distinct_id) for distinct_id in existing])
    assert engine.ingest([event("$pageview", fresh)]).warnings == ()


def test_no_case_collision_warning_for_personless_events(engine: PersonEngine) -> None:
    engine.ingest([event("$pageview", "alice")])
    personless = event("$pageview", "Alice", {"$process_person_profile": False})
    assert engine.ingest([personless]).warnings == ()


# invalid_process_person_profile carries PostHog's message (normalize-process-person-flag-step)


def test_invalid_process_person_profile_warning_text(engine: PersonEngine) -> None:
    sent = event("$pageview", "my_id", {"$process_person_profile": "invalid"})
    [warning] = engine.ingest([sent]).warnings
    assert warning.type == "invalid_process_person_profile"
    assert warning.details == {
        "eventUuid": sent["uuid"],
        "event": "$pageview",
        "distinctId": "my_id",
        "$process_person_profile": "invalid",
        "message": "Only a boolean value is valid for the $process_person_profile property",
    }


# $process_person_profile is removed from events processed with a person, kept (false) on
# personless ones (normalizeProcessPerson; normalize-event-step.test.ts)


@pytest.mark.parametrize(
    ("name", "value"),
    [("$pageview", True), ("$pageview", "invalid"), ("$identify", True), ("$groupidentify", 1)],
)
def test_process_person_profile_is_removed_when_processed_with_a_person(
    engine: PersonEngine, name: str, value: object
) -> None:
    engine.ingest([event(name, "u1", {"$process_person_profile": value, "other": "value"})])
    stored = stored_properties(engine, "u1")
    assert "$process_person_profile" not in stored and stored["other"] == "value"


def test_process_person_profile_false_is_kept_on_personless_events(engine: PersonEngine) -> None:
    engine.ingest([event("$pageview", "u1", {"$process_person_profile": False})])
    assert stored_properties(engine, "u1") == {"$process_person_profile": False}


# $os_name is a fallback for $os: on the event, in $set and in $initial_os (utils.test.ts)


def test_os_name_fills_os_on_the_event_and_the_person(engine: PersonEngine) -> None:
    engine.ingest([event("$screen", "u1", {"$os_name": "Android"})])
    stored = stored_properties(engine, "u1")
    assert stored["$os"] == "Android" and stored["$os_name"] == "Android"
    assert stored["$set"] == {"$os": "Android"}
    assert stored["$set_once"] == {"$initial_os": "Android"}
    assert props(engine, "u1") == {"$os": "Android", "$initial_os": "Android"}


def test_os_takes_precedence_over_os_name(engine: PersonEngine) -> None:
    engine.ingest([event("$screen", "u1", {"$os": "Windows", "$os_name": "Android"})])
    stored = stored_properties(engine, "u1")
    assert (stored["$os"], stored["$os_name"]) == ("Windows", "Android")
    assert props(engine, "u1") == {"$os": "Windows", "$initial_os": "Windows"}


def test_os_name_fills_os_on_personless_events_too(engine: PersonEngine) -> None:
    engine.ingest([event("$screen", "u1", {"$os_name": "iOS", "$process_person_profile": False})])
    assert stored_properties(engine, "u1")["$os"] == "iOS"


def test_server_os_name_is_not_an_alias_of_os(engine: PersonEngine) -> None:
    engine.ingest([event("$pageview", "u1", {"$is_server": True, "$os_name": "Linux"})])
    assert "$os" not in stored_properties(engine, "u1")
    # the host OS still reaches the person under its own keys, never as $os/$initial_os
    assert props(engine, "u1") == {"$os_name": "Linux", "$initial_os_name": "Linux"}


@pytest.mark.parametrize("name", ["$snapshot", "$performance_event"])
def test_recording_events_get_no_automatic_person_properties(
    engine: PersonEngine, name: str
) -> None:
    engine.ingest([event(name, "u1", {"$os_name": "iOS", "$current_url": "https://a"})])
    stored = stored_properties(engine, "u1")
    assert "$set" not in stored and "$os" not in stored
    assert props(engine, "u1") == {}


# Empty campaign parameters (null or "") are not lifted onto the person (utils.test.ts)


def test_empty_campaign_params_are_not_lifted(engine: PersonEngine) -> None:
    sent = {"gclid": None, "fbclid": "", "utm_source": "newsletter", "$current_url": "https://t"}
    engine.ingest([event("$pageview", "u1", sent)])
    stored = stored_properties(engine, "u1")
    assert stored["$set"] == {"utm_source": "newsletter", "$current_url": "https://t"}
    assert stored["$set_once"] == {
        "$initial_utm_source": "newsletter",
        "$initial_current_url": "https://t",
    }
    assert (stored["gclid"], stored["fbclid"]) == (None, "")  # the event keeps them


def test_only_empty_campaign_params_leave_the_event_untouched(engine: PersonEngine) -> None:
    engine.ingest([event("$pageview", "u1", {"gclid": None, "utm_medium": ""})])
    assert stored_properties(engine, "u1") == {"gclid": None, "utm_medium": ""}


def test_a_real_campaign_value_still_lands_after_empty_ones(engine: PersonEngine) -> None:
    engine.ingest([event("$pageview", "u1", {"utm_source": "news"})])
    engine.ingest([event("$pageview", "u1", {"utm_source": None, "gclid": ""})])
    engine.ingest([event("$pageview", "u1", {"gclid": "g1"})])
    assert props(engine, "u1") == {
        "utm_source": "news",
        "$initial_utm_source": "news",
        "gclid": "g1",
        "$initial_gclid": "g1",
    }
