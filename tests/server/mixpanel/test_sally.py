"""The seed's Sally story (mixpanel-spec §6) in each identity model, as mixpanel-js sends it.

Steps: 1 two web page views; 2 web sign-up ``alias(S)``; 3 web "Signed Up"; 4 the backend's
"Plan Purchased" for S; 5 two "App Opened" on the phone; 6 the phone's login, one of (i)
``identify(S)``, (ii) the seed's remedy ``identify(<web id>)``, (iii) mixpanel-js ``alias(S)``,
(iv) Android ``alias(S)``; 7 the phone's "Item Viewed". Then ``reset`` on logout.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from posthog_client.server.mixpanel import IdMerge, MixpanelEngine

from . import NOW, TOKEN, Clock, JsDevice, S, backend_track, ingest, new_device, users

WEB_EVENTS = ["Page Viewed", "Page Viewed", "Signed Up", "Plan Purchased"]
PHONE_EVENTS = ["App Opened", "App Opened"]


def story(
    web: JsDevice, phone: JsDevice, login: str, *, race: bool = False
) -> list[dict[str, Any]]:
    """The records of steps 1–7 in arrival order; ``race`` delivers step 4 before step 2."""
    records = [web.track("Page Viewed"), web.track("Page Viewed")]
    signup = [*web.alias(S), web.track("Signed Up")]
    purchase = backend_track(web.clock, S, "Plan Purchased")
    records += [purchase, *signup] if race else [*signup, purchase]
    records += [phone.track("App Opened"), phone.track("App Opened")]
    if login == "identify":
        records += phone.identify(S)
    elif login == "identify-web-id":
        records += phone.identify(web.distinct_id)
    elif login == "js-alias":
        records += phone.alias(S)
    else:
        records += phone.android_alias(S)
    return [*records, phone.track("Item Viewed")]


@pytest.fixture(params=["legacy", "original", "simplified"])
def engine(request: pytest.FixtureRequest) -> Iterator[MixpanelEngine]:
    model: IdMerge = request.param
    with MixpanelEngine(model=model, token=TOKEN) as engine:
        yield engine


def seed_devices() -> tuple[JsDevice, JsDevice]:
    """The seed's own ids: a pre-2020 SDK, the distinct id doubling as device id."""
    clock = Clock()
    return JsDevice(clock, "12345", "12345"), JsDevice(clock, "67890", "67890")


def modern_devices() -> tuple[JsDevice, JsDevice]:
    clock = Clock()
    return JsDevice(clock, *new_device()), JsDevice(clock, *new_device())


def refusal_reasons(engine: MixpanelEngine) -> list[str]:
    return [refusal.reason for refusal in engine.refusals()]


# legacy: the alias lookup table (MI2–MI6)


@pytest.mark.parametrize("login", ["identify", "identify-web-id"])
def test_legacy_identify_on_the_phone_joins_sally_and_orphans_its_anonymous_events(
    login: str,
) -> None:
    web, phone = seed_devices()
    with MixpanelEngine(model="legacy", token=TOKEN) as engine:
        ingest(engine, story(web, phone, login))
        assert users(engine) == {"12345": [*WEB_EVENTS, "Item Viewed"], "67890": PHONE_EVENTS}
        person = engine.person(S)
        assert person is not None and person.distinct_ids == ("12345", S)
        assert refusal_reasons(engine) == []


@pytest.mark.parametrize("login", ["js-alias", "android-alias"])
def test_legacy_second_alias_fails_and_the_phone_stays_a_second_user(login: str) -> None:
    web, phone = seed_devices()
    with MixpanelEngine(model="legacy", token=TOKEN) as engine:
        ingest(engine, story(web, phone, login))
        assert users(engine) == {"12345": WEB_EVENTS, "67890": [*PHONE_EVENTS, "Item Viewed"]}
        assert refusal_reasons(engine) == ["errAliasAlreadyExists"]
        assert engine.person(S).distinct_ids == ("12345", S)  # type: ignore[union-attr]


def test_legacy_event_processed_before_its_alias_stays_on_a_third_person() -> None:
    web, phone = seed_devices()
    with MixpanelEngine(model="legacy", token=TOKEN) as engine:
        ingest(engine, story(web, phone, "identify", race=True))
        assert users(engine) == {
            "12345": ["Page Viewed", "Page Viewed", "Signed Up", "Item Viewed"],
            S: ["Plan Purchased"],  # MI5: split by the race
            "67890": PHONE_EVENTS,
        }
        assert engine.person(S).distinct_id == "12345"  # type: ignore[union-attr]
        purchase = next(e for e in engine.events() if e.event == "Plan Purchased")
        assert (
            purchase.distinct_id == S and "$distinct_id_before_identity" not in purchase.properties
        )


# original: clusters from identity events (MI7–MI12)


@pytest.mark.parametrize("login", ["identify", "js-alias"])
def test_original_phone_login_merges_everything_into_one_user(login: str) -> None:
    web, phone = modern_devices()
    phone_id = phone.distinct_id
    with MixpanelEngine(model="original", token=TOKEN) as engine:
        ingest(engine, story(web, phone, login))
        assert users(engine) == {S: [*WEB_EVENTS, *PHONE_EVENTS, "Item Viewed"]}
        person = engine.person(phone_id)
        assert person is not None
        assert person.distinct_ids == (web.distinct_id, S, phone_id)
        assert person.distinct_id == S  # the identified id is canonical (MS14)
        expected = [] if login == "identify" else ["errAliasAlreadyExists"]
        assert refusal_reasons(engine) == expected


def test_original_android_alias_is_refused_and_the_phone_stays_apart() -> None:
    web, phone = modern_devices()
    with MixpanelEngine(model="original", token=TOKEN) as engine:
        ingest(engine, story(web, phone, "android-alias"))
        assert users(engine) == {S: WEB_EVENTS, phone.distinct_id: [*PHONE_EVENTS, "Item Viewed"]}
        assert refusal_reasons(engine) == ["errAliasAlreadyExists"]


def test_original_with_the_seeds_non_guid_ids_every_identify_fails() -> None:
    web, phone = seed_devices()
    with MixpanelEngine(model="original", token=TOKEN) as engine:
        ingest(engine, story(web, phone, "identify"))
        # step 2's $create_alias still merged {12345, S}; the phone's $identify merged nothing
        assert users(engine) == {"12345": [*WEB_EVENTS, "Item Viewed"], "67890": PHONE_EVENTS}
        assert refusal_reasons(engine) == ["errAnonDistinctIdNonGUIDForm"] * 2


# simplified: $device_id / $user_id on events (MI13–MI18)


@pytest.mark.parametrize("login", ["identify", "js-alias"])
def test_simplified_the_phones_next_event_links_it_to_sally(login: str) -> None:
    web, phone = modern_devices()
    with MixpanelEngine(model="simplified", token=TOKEN) as engine:
        ingest(engine, story(web, phone, login))
        assert users(engine) == {S: [*WEB_EVENTS, *PHONE_EVENTS, "Item Viewed"]}
        assert engine.person(web.distinct_id).distinct_id == S  # type: ignore[union-attr]
        assert refusal_reasons(engine) == []  # $create_alias and $identify do nothing at all


def test_simplified_android_alias_leaves_the_phone_anonymous() -> None:
    web, phone = modern_devices()
    with MixpanelEngine(model="simplified", token=TOKEN) as engine:
        ingest(engine, story(web, phone, "android-alias"))
        assert users(engine) == {S: WEB_EVENTS, phone.distinct_id: [*PHONE_EVENTS, "Item Viewed"]}


def test_simplified_seed_remedy_on_a_legacy_web_id_makes_a_second_user() -> None:
    clock = Clock()
    web, phone = JsDevice(clock, "12345", None), JsDevice(clock, *new_device())
    with MixpanelEngine(model="simplified", token=TOKEN) as engine:
        ingest(engine, story(web, phone, "identify-web-id"))
        # "12345" was sent alone, so it is a $user_id (MI16): two users never merge (MI15)
        assert users(engine) == {
            "12345": ["Page Viewed", "Page Viewed", *PHONE_EVENTS, "Item Viewed"],
            S: ["Signed Up", "Plan Purchased"],
        }


# logout


def test_reset_on_logout_makes_the_next_events_a_new_user(engine: MixpanelEngine) -> None:
    legacy = engine.model_name == "legacy"
    web, phone = seed_devices() if legacy else modern_devices()
    ingest(engine, story(web, phone, "identify"))
    before = users(engine)
    sally = engine.person(S)
    assert sally is not None
    web.reset(*(("24680", "24680") if legacy else new_device()))
    ingest(engine, [web.track("Page Viewed")])
    after = users(engine)
    assert after[web.distinct_id] == ["Page Viewed"]
    assert {k: v for k, v in after.items() if k != web.distinct_id} == before
    assert engine.person(web.distinct_id).distinct_id != sally.distinct_id  # type: ignore[union-attr]


def test_the_story_is_the_same_through_handle_as_through_ingest(engine: MixpanelEngine) -> None:
    web, phone = seed_devices() if engine.model_name == "legacy" else modern_devices()
    records = story(web, phone, "identify")
    with MixpanelEngine(model=engine.model_name, token=TOKEN) as twin:
        ingest(twin, records)
        body = ("data=" + json.dumps(records)).encode()
        answer = engine.handle(
            "track",
            body,
            query={"verbose": ["1"]},
            content_type="application/x-www-form-urlencoded",
            now=NOW,
        )
        assert answer.status == 200 and answer.json() == {"status": 1, "error": None}
        assert users(engine) == users(twin)
