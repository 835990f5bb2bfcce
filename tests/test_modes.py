"""The README's "Which mode?" table, cell by cell: whom each operation acts on and which ids reach
the wire, for every (mode × outside/inside a context × with/without an explicit id).

A server-mode client has no identity of its own (A23): no anonymous, device or session id, no
identity file; outside a context it sends only the ids it is given.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from posthog_client import (
    Client,
    InvalidDistinctIdError,
    identify_context,
    new_context,
    set_context_session,
)
from posthog_client.testing import MemoryBackend

MakeClient = Callable[..., Client]

# Columns of the table. "context" runs inside new_context() with a user and a session id, in
# either mode: a context means the same in both; "context-no-user" has a session id only.
SCOPES = ["desktop", "server", "context-desktop", "context-server", "context-no-user"]
CONTEXT_USER, CONTEXT_SESSION = "ctx_user", "ctx_session"


@pytest.fixture(params=SCOPES)
def scope(request: pytest.FixtureRequest) -> str:
    param: str = request.param
    return param


class World:
    """One client in one column of the table, and what it sent."""

    def __init__(self, scope: str, make_client: MakeClient, backend: MemoryBackend) -> None:
        self.scope = scope
        self.client = make_client(mode="server" if scope.endswith("server") else "desktop")
        self.backend = backend
        self.in_context = scope.startswith("context")
        # Whom an operation without an explicit id acts on (None: nobody).
        self.device_id = self.client.get_distinct_id() if scope == "desktop" else None
        self.current = {"desktop": self.device_id, "server": None, "context-no-user": None}.get(
            scope, CONTEXT_USER
        )

    @contextlib.contextmanager
    def inside(self) -> Iterator[None]:
        if not self.in_context:
            yield
            return
        with new_context(client=self.client):
            if self.current is not None:
                identify_context(CONTEXT_USER)
            set_context_session(CONTEXT_SESSION)
            yield

    def sent(self) -> list[dict[str, Any]]:
        self.client.flush(5)
        return self.backend.events

    def assert_ids(self, event: dict[str, Any], *, explicit: bool = False) -> None:
        """The ids only the caller, the context or (desktop) the install may give."""
        props = event["properties"]
        if self.scope == "desktop":
            assert props["$device_id"] == self.client.get_device_id()
            assert props["$session_id"] == self.client.get_session_id()
            assert "$is_server" not in props
            return
        assert "$device_id" not in props
        assert props["$is_server"] is True
        if self.in_context:
            assert props["$session_id"] == CONTEXT_SESSION
        else:
            assert "$session_id" not in props


@pytest.fixture
def world(scope: str, make_client: MakeClient, backend: MemoryBackend) -> World:
    return World(scope, make_client, backend)


# -- capture -----------------------------------------------------------------------------------


@pytest.mark.parametrize("explicit", [False, True], ids=["no-id", "explicit-id"])
def test_capture(world: World, explicit: bool) -> None:
    with world.inside():
        world.client.capture("a", distinct_id="x" if explicit else None)
        world.client.capture("b", distinct_id="x" if explicit else None)
    first, second = world.sent()
    for event in (first, second):
        world.assert_ids(event)
    if explicit:
        assert first["distinct_id"] == second["distinct_id"] == "x"
        assert first["properties"]["$process_person_profile"] is True
    elif world.current is None:  # a server outside a context: personless, a new id each time
        assert first["distinct_id"] != second["distinct_id"]
        assert uuid.UUID(first["distinct_id"]).version == 7
        assert first["properties"]["$process_person_profile"] is False
        assert first["properties"]["$is_identified"] is False
    else:
        assert first["distinct_id"] == second["distinct_id"] == world.current
        # an anonymous install is personless until identified (identified_only)
        assert first["properties"]["$process_person_profile"] is world.in_context


def test_capture_keeps_the_callers_session_id(world: World) -> None:
    with world.inside():
        world.client.capture("a", {"$session_id": "given"})
        world.client.capture("b", {"$session_id": ""})  # empty: as if not given (SE1)
    given, empty = world.sent()
    assert given["properties"]["$session_id"] == "given"
    if world.scope == "server":
        assert "$session_id" not in empty["properties"]
    else:
        world.assert_ids(empty)


# -- person operations with an optional explicit id ---------------------------------------------

# operation -> (call, event name, the event's own properties)
OPERATIONS: dict[str, tuple[Callable[..., Any], str, dict[str, Any]]] = {
    "alias": (lambda c, **kw: c.alias("y", **kw), "$create_alias", {"alias": "y"}),
    "merge_dangerously": (
        lambda c, **kw: c.merge_dangerously("z", **kw),
        "$merge_dangerously",
        {"alias": "z"},
    ),
    "set_person_properties": (
        lambda c, **kw: c.set_person_properties({"plan": "pro"}, {"first": 1}, **kw),
        "$set",
        {"$set": {"plan": "pro"}, "$set_once": {"first": 1}},
    ),
    "unset_person_properties": (
        lambda c, **kw: c.unset_person_properties("plan", **kw),
        "$set",
        {"$unset": ["plan"]},
    ),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("explicit", [False, True], ids=["no-id", "explicit-id"])
def test_person_operation(
    world: World, operation: str, explicit: bool, caplog: pytest.LogCaptureFixture
) -> None:
    call, name, own = OPERATIONS[operation]
    target = "x" if explicit else world.current
    with world.inside():
        call(world.client, **({"distinct_id": "x"} if explicit else {}))
        world.client.capture("after")
    *person_events, after = world.sent()
    if target is None:  # a server outside a context, no id given: nobody to act on
        assert person_events == []
        assert f"{operation}() ignored" in caplog.text and "distinct_id=" in caplog.text
        return
    (event,) = person_events
    assert event["event"] == name and event["distinct_id"] == target
    assert {k: event["properties"][k] for k in own} == own
    assert event["properties"]["$process_person_profile"] is True
    world.assert_ids(event)
    if world.scope == "desktop" and explicit:  # the install's own identity is untouched
        assert after["distinct_id"] == world.device_id
        assert after["properties"]["$process_person_profile"] is False


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_nobody_to_act_on_raises_in_strict_mode(make_client: MakeClient, operation: str) -> None:
    call = OPERATIONS[operation][0]
    server = make_client(mode="server", strict=True)
    with pytest.raises(InvalidDistinctIdError, match="pass distinct_id="):
        call(server)
    with (
        new_context(client=server),
        pytest.raises(InvalidDistinctIdError, match="identify_context"),
    ):
        call(server)


def test_an_explicit_id_equal_to_the_installs_own_keeps_its_state(
    make_client: MakeClient, storage_dir: Path
) -> None:
    client = make_client()
    assert client.alias("y", distinct_id=client.get_distinct_id())
    client.capture("after")  # the stored alias turns person processing on (R24)
    client.flush(5)
    assert client.options.backend.events[-1]["properties"]["$process_person_profile"] is True  # type: ignore[union-attr]


# -- identify and reset: the id is the argument / there is none --------------------------------


@pytest.mark.parametrize("properties", [None, {"plan": "pro"}], ids=["no-props", "props"])
def test_identify(world: World, properties: dict[str, Any] | None) -> None:
    with world.inside():
        assert world.client.identify("x", properties) is True
        world.client.capture("after")
    *identity_events, after = world.sent()
    if world.scope == "desktop":  # the install's anonymous history merges into x
        (event,) = identity_events
        assert event["event"] == "$identify" and event["distinct_id"] == "x"
        assert event["properties"]["$anon_distinct_id"] == world.device_id
        assert after["distinct_id"] == "x"
    else:  # only person properties for x; the context (if any) now belongs to x
        assert [(e["event"], e["distinct_id"]) for e in identity_events] == (
            [("$set", "x")] if properties else []
        )
        assert (after["distinct_id"] == "x") is world.in_context
        assert after["properties"]["$process_person_profile"] is world.in_context
    for event in [*identity_events, after]:
        world.assert_ids(event)


def test_reset(world: World, caplog: pytest.LogCaptureFixture) -> None:
    with world.inside():
        world.client.reset()
        world.client.capture("after")
    (after,) = world.sent()
    world.assert_ids(after)
    assert after["properties"]["$process_person_profile"] is False  # nobody, or a new anonymous
    if world.scope == "desktop":
        assert after["distinct_id"] != world.device_id
    if world.scope == "server":
        assert "reset() ignored" in caplog.text


def test_reset_without_a_user_raises_in_strict_mode(make_client: MakeClient) -> None:
    with pytest.raises(InvalidDistinctIdError, match="reset"):
        make_client(mode="server", strict=True).reset()


# -- getters: what capture() would use ----------------------------------------------------------


def test_getters(world: World) -> None:
    with world.inside():
        ids = (
            world.client.get_distinct_id(),
            world.client.get_session_id(),
            world.client.get_device_id(),
            world.client.is_identified(),
        )
    if world.scope == "desktop":
        assert ids[0] == world.device_id and ids[1] and ids[2] and ids[3] is False
    elif world.scope == "server":
        assert ids == ("", "", "", False)
    elif world.current is None:
        assert ids == ("", CONTEXT_SESSION, "", False)
    else:
        assert ids == (CONTEXT_USER, CONTEXT_SESSION, "", True)


# -- a server has no identity of its own ---------------------------------------------------------


def test_server_mode_writes_no_identity_file_even_with_a_disk_queue(
    make_client: MakeClient, storage_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(mode="server", persist=True)
    client.register({"app": "api"})  # super properties live in memory
    client.identify("user_a", {"plan": "pro"})
    client.identify("user_b")
    client.capture("job_done")
    client.flush(5)
    (project,) = storage_dir.iterdir()
    assert sorted(p.name for p in project.iterdir()) == ["queue"]
    events = client.options.backend.events  # type: ignore[union-attr]
    assert [(e["event"], e["distinct_id"]) for e in events[:1]] == [("$set", "user_a")]
    job = events[-1]  # not user_b's: identify() switched nothing
    assert job["distinct_id"] not in ("user_a", "user_b") and job["properties"]["app"] == "api"


# -- feature flags and groups ------------------------------------------------------------------


@pytest.mark.parametrize("explicit", [False, True], ids=["no-id", "explicit-id"])
def test_flag_calls(world: World, explicit: bool) -> None:
    asked: list[dict[str, Any]] = []

    def flags(body: dict[str, Any]) -> dict[str, Any]:
        asked.append(dict(body))
        return {"flags": {"f": {"key": "f", "enabled": True}}}

    world.backend.flags = flags  # type: ignore[method-assign]
    with world.inside():
        value = world.client.get_feature_flag("f", distinct_id="x" if explicit else None)
        if world.scope == "desktop" and not explicit:  # the install's: cached, loaded at first use
            assert value is None and world.client.wait_for_flags(5)
            value = world.client.get_feature_flag("f")
    whom = "x" if explicit else world.current
    called = [e for e in world.sent() if e["event"] == "$feature_flag_called"]
    if whom is None:  # nobody to evaluate for: no request, no event
        assert value is None and asked == [] and called == []
        return
    assert value is True and {body["distinct_id"] for body in asked} == {whom}
    assert {event["distinct_id"] for event in called} == {whom}
    runtime = "server" if world.scope.endswith("server") else "client"
    assert all(body["evaluation_runtime"] == runtime for body in asked)


def test_group(world: World) -> None:
    with world.inside():
        world.client.group("company", "acme", {"size": 3})
        world.client.capture("after", distinct_id="x")
    identify, after = world.sent()
    assert identify["event"] == "$groupidentify"
    assert identify["properties"]["$group_set"] == {"size": 3}
    assert identify["distinct_id"] == (world.current or "$company_acme")
    carried = after["properties"].get("$groups")
    assert carried == (None if world.scope == "server" else {"company": "acme"})


def test_two_users_captured_by_a_worker_share_nothing(make_client: MakeClient) -> None:
    client = make_client(mode="server")
    client.capture("e", distinct_id="user_a")
    client.capture("e", distinct_id="user_b")
    client.flush(5)
    a, b = client.options.backend.events  # type: ignore[union-attr]
    for event in (a, b):
        assert not {"$session_id", "$device_id"} & set(event["properties"])


def test_identity_transitions_are_logged_at_debug(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "posthog_client")
    client = make_client()
    anonymous = client.get_distinct_id()
    client.identify("user_42", {"plan": "pro"})
    client.identify("user_42", {"plan": "pro"})  # deduplicated (R11)
    client.reset()
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert f"identity: anonymous {anonymous} → user_42 (identify)" in messages
    assert any("same properties already sent this session (R11)" in m for m in messages)
    assert any(m.startswith("identity: user_42 → anonymous ") for m in messages)
    with new_context(client=client):
        client.identify("request_user")
    assert "context identity: None → request_user" in caplog.text
