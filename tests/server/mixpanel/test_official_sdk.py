"""The official ``mixpanel`` package's requests, fed to the engine, and resolved as this SDK's.

mixpanel-python runs unmodified with its own ``Consumer``: ``responses`` takes each request it
would put on the wire (alias's private synchronous consumer included) and hands its bytes,
query, content type and ``Authorization`` to ``MixpanelEngine.handle``; the engine's answer goes
back, so the package raises if the engine refuses anything. Nothing leaves the machine.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import mixpanel
import pytest
import responses
from mixpanel.credentials import ServiceAccountCredentials
from requests import PreparedRequest

from posthog_client import Client
from posthog_client.server import LocalServer
from posthog_client.server.mixpanel import IdMerge, MixpanelEngine

from . import TOKEN, Clock, users
from .sdk import SERVER_ACCOUNT, SERVICE_ACCOUNT, deliver, server_event

ROUTE = re.compile(r"https://api\.mixpanel\.com/(track|import|engage|groups)/?(\?.*)?$")


def route_to(engine: MixpanelEngine, mock: responses.RequestsMock, seen: list[str]) -> None:
    def answer(request: PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        url = urlsplit(str(request.url))
        body = request.body or b""
        reply = engine.handle(
            url.path.strip("/"),  # type: ignore[arg-type]
            body.encode() if isinstance(body, str) else body,
            query=parse_qs(url.query),
            content_type=request.headers.get("Content-Type", ""),
            authorization=request.headers.get("Authorization"),
        )
        seen.append(url.path)
        return reply.status, {"Content-Type": reply.content_type}, reply.body

    mock.add_callback(responses.POST, ROUTE, callback=answer)


@contextmanager
def official(engine: MixpanelEngine) -> Iterator[tuple[mixpanel.Mixpanel, list[str]]]:
    """mixpanel-python, whose requests the engine answers; and the paths it posted to."""
    seen: list[str] = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        route_to(engine, mock, seen)
        credentials = ServiceAccountCredentials(*SERVICE_ACCOUNT)
        consumer = mixpanel.Consumer(credentials=credentials, retry_limit=0)
        yield mixpanel.Mixpanel(TOKEN, consumer=consumer), seen


def test_every_request_of_the_official_package_is_understood() -> None:
    with MixpanelEngine(model="original", token=TOKEN, service_account=SERVER_ACCOUNT) as engine:
        with official(engine) as (mp, seen):
            mp.track("u1", "Opened", {"plan": "free"})
            mp.import_data(None, "u1", "Old Purchase", 1_600_000_000, {"amount": 5})
            mp.alias("a1", "u1")
            mp.merge(None, "u1", "other")
            mp.people_set("u1", {"name": "Sally", "tags": ["x"]})
            mp.people_set_once("u1", {"first": 1, "name": "ignored"})
            mp.people_increment("u1", {"logins": 2})
            mp.people_append("u1", {"tags": "y"})
            mp.people_union("u1", {"tags": ["y", "z"]})
            mp.people_remove("u1", {"tags": "x"})
            mp.people_unset("u1", ["first"])
            mp.group_set("company", "acme", {"name": "Acme"})
            mp.group_union("company", "acme", {"sites": ["a", "b"]})
            mp.group_remove("company", "acme", {"sites": "a"})
        assert (
            seen == ["/track", "/import", "/track", "/import"] + ["/engage"] * 7 + ["/groups"] * 3
        )
        assert [e.event for e in engine.events("a1")] == [
            "Old Purchase",
            "Opened",
            "$create_alias",
            "$merge",
        ]
        person = engine.person("other")
        assert person is not None
        assert set(person.distinct_ids) == {"u1", "a1", "other"}
        assert person.properties == {"name": "Sally", "tags": ["y", "z"], "logins": 2}
        assert [g.to_json() for g in engine.groups()] == [
            {"group_key": "company", "group_id": "acme", "name": "Acme", "sites": ["b"]}
        ]
        assert engine.refusals() == []


def test_the_official_package_cannot_merge_without_credentials() -> None:
    with (
        MixpanelEngine(model="original", token=TOKEN, service_account=SERVER_ACCOUNT) as engine,
        responses.RequestsMock() as mock,
    ):
        route_to(engine, mock, [])
        mp = mixpanel.Mixpanel(TOKEN, consumer=mixpanel.Consumer(retry_limit=0))
        with pytest.raises(mixpanel.MixpanelException, match="Invalid credentials"):
            mp.merge(None, "u1", "other")


def backend_story_official(mp: mixpanel.Mixpanel, model: str, device: str) -> None:
    """A backend's identity operations with mixpanel-python."""
    mp.track("$device:" + device, "Page Viewed")  # a frontend's anonymous id, forwarded
    mp.track("u1", "Plan Purchased")
    mp.people_set("u1", {"plan": "pro"})
    mp.people_set_once("u1", {"first_plan": "pro"})
    mp.people_unset("u1", ["trial"])
    if model != "simplified":  # this SDK refuses it there (D5)
        mp.alias("a1", "u1")
    mp.track("a1", "Renewed")
    mp.group_set("company", "acme", {"name": "Acme"})
    if model == "original":
        mp.merge(None, "u1", "old-account")


def backend_story_ours(model: str, device: str) -> list[dict[str, Any]]:
    """The same operations with this SDK in server mode, as it queues them."""
    clock = Clock()
    events = [
        server_event(clock, "Page Viewed", "$device:" + device),
        server_event(clock, "Plan Purchased", "u1"),
        server_event(clock, "$set", "u1", **{"$set": {"plan": "pro"}}),
        server_event(clock, "$set", "u1", **{"$set_once": {"first_plan": "pro"}}),
        server_event(clock, "$set", "u1", **{"$unset": ["trial"]}),
    ]
    if model != "simplified":
        events.append(server_event(clock, "$create_alias", "u1", alias="a1"))
    events.append(server_event(clock, "Renewed", "a1"))
    group = {"$group_type": "company", "$group_key": "acme", "$group_set": {"name": "Acme"}}
    events.append(server_event(clock, "$groupidentify", "u1", **group))
    if model == "original":
        events.append(server_event(clock, "$merge_dangerously", "u1", alias="old-account"))
    return events


@pytest.mark.parametrize("model", ["legacy", "original", "simplified"])
def test_official_package_and_this_sdk_resolve_a_backend_the_same_way(model: IdMerge) -> None:
    device = str(uuid.uuid4())
    with (
        MixpanelEngine(model=model, token=TOKEN, service_account=SERVER_ACCOUNT) as theirs,
        MixpanelEngine(model=model, token=TOKEN, service_account=SERVER_ACCOUNT) as ours,
    ):
        with official(theirs) as (mp, _):
            backend_story_official(mp, model, device)
        assert deliver(ours, backend_story_ours(model, device), service_account=True) == []
        assert users(ours) == users(theirs)
        assert [p.to_json() for p in ours.persons()] == [p.to_json() for p in theirs.persons()]
        assert [g.to_json() for g in ours.groups()] == [g.to_json() for g in theirs.groups()]
        assert ours.refusals() == theirs.refusals() == []
        renewed = ours.person("a1")
        assert renewed is not None
        assert (renewed.distinct_id == "a1") is (model == "simplified")


# -- over HTTP: the official package and this SDK's Client, each against a local server -----------


def backend_story_client(client: Client, model: str, device: str) -> None:
    """The operations of ``backend_story_official`` with this SDK's Client in server mode."""
    client.capture("Page Viewed", distinct_id="$device:" + device)
    client.capture("Plan Purchased", distinct_id="u1")
    client.set_person_properties({"plan": "pro"}, distinct_id="u1")
    client.set_person_properties(set_once={"first_plan": "pro"}, distinct_id="u1")
    client.unset_person_properties(["trial"], distinct_id="u1")
    if model != "simplified":
        assert client.alias("a1", distinct_id="u1")
    client.capture("Renewed", distinct_id="a1")
    group = {"$group_type": "company", "$group_key": "acme", "$group_set": {"name": "Acme"}}
    client.capture("$groupidentify", group, distinct_id="u1")
    if model == "original":
        assert client.merge_dangerously("old-account", distinct_id="u1")


@pytest.mark.parametrize("model", ["legacy", "original", "simplified"])
def test_the_official_package_over_http_is_resolved_as_this_sdks_client(
    model: IdMerge, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = str(uuid.uuid4())
    identity: Any = f"mixpanel-{model}"
    with (
        LocalServer(TOKEN, identity=identity, service_account=SERVER_ACCOUNT) as theirs,
        LocalServer(TOKEN, identity=identity, service_account=SERVER_ACCOUNT) as ours,
    ):
        # api_host makes https:// URLs; the local server speaks http, so the same host is given
        # per endpoint (mixpanel-python's way to use a proxy). alias() always builds its own
        # Consumer(): it gets the same URLs.
        urls = {
            f"{name}_url": f"{theirs.url}/{path}"
            for name, path in (("events", "track"), ("people", "engage"),
                               ("groups", "groups"), ("import", "import"))
        }  # fmt: skip
        monkeypatch.setattr(mixpanel, "Consumer", functools.partial(mixpanel.Consumer, **urls))
        credentials = ServiceAccountCredentials(*SERVICE_ACCOUNT)
        consumer = mixpanel.Consumer(credentials=credentials, retry_limit=0)
        backend_story_official(mixpanel.Mixpanel(TOKEN, consumer=consumer), model, device)
        with Client(
            mixpanel_token=TOKEN,
            host=ours.url,
            mode="server",
            mixpanel_id_merge=model,
            mixpanel_service_account=SERVICE_ACCOUNT,
            strict=True,
        ) as client:
            backend_story_client(client, model, device)
            assert client.flush(10).pending == 0
        assert users(ours.mixpanel) == users(theirs.mixpanel)
        assert [p.to_json() for p in ours.mixpanel.persons()] == [
            p.to_json() for p in theirs.mixpanel.persons()
        ]
        assert [g.to_json() for g in ours.mixpanel.groups()] == [
            g.to_json() for g in theirs.mixpanel.groups()
        ]
        assert ours.mixpanel.refusals() == theirs.mixpanel.refusals() == []
