"""The seed's Sally story told with this SDK in Mixpanel mode, end to end without HTTP:
queued events → ``map_event`` → Mixpanel requests → the engine, in each identity model.

Web: two page views, sign-up (``alias`` as the seed says; ``identify`` under Simplified, where
alias is refused locally, D5), "Signed Up"; the backend's "Plan Purchased"; the phone: two
"App Opened", then login by (i) ``identify`` (the seed's remedy) or (iii) a second ``alias``
followed by ``identify``, then "Item Viewed"; last, ``reset`` on the web at logout.
"""

from __future__ import annotations

from typing import Any

import pytest

from posthog_client._mixpanel import LINK_EVENT, IdMerge
from posthog_client.server.mixpanel import MixpanelEngine

from . import TOKEN, Clock, S, users
from .sdk import SdkDevice, deliver, server_event

WEB = ["Page Viewed", "Page Viewed", "Signed Up", "Plan Purchased"]
PHONE = ["App Opened", "App Opened"]


def tell(engine: MixpanelEngine, login: str) -> tuple[SdkDevice, SdkDevice, list[dict[str, Any]]]:
    model: Any = engine.model_name
    clock = Clock()
    web, phone = SdkDevice(clock, model), SdkDevice(clock, model)
    events = web.capture("Page Viewed") + web.capture("Page Viewed")
    events += web.identify(S) if model == "simplified" else web.alias(S)
    events += [*web.capture("Signed Up"), server_event(clock, "Plan Purchased", S)]
    events += phone.capture("App Opened") + phone.capture("App Opened")
    if login == "second-alias":
        events += phone.alias(S)
    events += phone.identify(S) + phone.capture("Item Viewed")
    return web, phone, events


@pytest.fixture(params=["legacy", "original", "simplified"])
def engine(request: pytest.FixtureRequest) -> Any:
    model: IdMerge = request.param
    with MixpanelEngine(model=model, token=TOKEN) as engine:
        yield engine


def test_legacy_identify_is_the_remedy_on_the_second_device() -> None:
    with MixpanelEngine(model="legacy", token=TOKEN) as engine:
        web, phone, events = tell(engine, "identify")
        assert deliver(engine, events) == []
        assert users(engine) == {
            "$device:" + web.state.device_id: [*WEB, "Item Viewed"],
            "$device:" + phone.state.device_id: PHONE,  # orphaned, as the seed says (MI4)
        }
        assert [r.reason for r in engine.refusals()] == []


def test_legacy_second_alias_fails() -> None:
    with MixpanelEngine(model="legacy", token=TOKEN) as engine:
        web, phone, events = tell(engine, "second-alias")
        deliver(engine, events)
        assert [r.reason for r in engine.refusals()] == ["errAliasAlreadyExists"]
        # the refused alias is not remembered: identify(S) switches to S, the seed's remedy
        assert users(engine) == {
            "$device:" + web.state.device_id: [*WEB, "Item Viewed"],
            "$device:" + phone.state.device_id: PHONE,
        }


@pytest.mark.parametrize("login", ["identify", "second-alias"])
def test_original_the_phones_identify_merges_it_into_sally(login: str) -> None:
    with MixpanelEngine(model="original", token=TOKEN) as engine:
        web, phone, events = tell(engine, login)
        deliver(engine, events)
        assert users(engine) == {S: [*WEB, *PHONE, "Item Viewed"]}
        sally = engine.person(S)
        assert sally is not None
        assert set(sally.distinct_ids) == {S, web.mixpanel_id, "$device:" + phone.state.device_id}
        expected = ["errAliasAlreadyExists"] if login == "second-alias" else []
        assert [r.reason for r in engine.refusals()] == expected


@pytest.mark.parametrize("login", ["identify", "second-alias"])
def test_simplified_identify_links_each_device_even_without_a_later_event(login: str) -> None:
    with MixpanelEngine(model="simplified", token=TOKEN) as engine:
        _web, phone, events = tell(engine, login)
        deliver(engine, events[:-1])  # the phone sends nothing after identify (D6)
        assert users(engine) == {
            S: ["Page Viewed", "Page Viewed", LINK_EVENT, *WEB[2:], *PHONE, LINK_EVENT]
        }
        sally = engine.person("$device:" + phone.state.device_id)
        assert sally is not None and sally.distinct_id == S
        assert engine.refusals() == []


def test_reset_on_logout_starts_a_new_user(engine: MixpanelEngine) -> None:
    web, _, events = tell(engine, "identify")
    deliver(engine, events)
    before = users(engine)
    sally = engine.person(S)
    web.reset()
    deliver(engine, web.capture("Page Viewed"))
    after = users(engine)
    assert after.pop(web.mixpanel_id) == ["Page Viewed"]
    assert after == before
    assert engine.person(S) == sally


def test_person_properties_follow_the_user(engine: MixpanelEngine) -> None:
    clock = Clock()
    device = SdkDevice(clock, engine.model_name)
    events = device.capture("Opened") + device.identify("u1", plan="pro")
    events += device.set_person_properties(seats=3)
    deliver(engine, events)
    person = engine.person("u1")
    assert person is not None and person.properties == {"plan": "pro", "seats": 3}
