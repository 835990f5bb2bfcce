"""The identity operations' Mixpanel decisions (mixpanel-spec §8 D3–D8), and D7's folding."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posthog_client._mixpanel import (
    alias_refusal,
    device_distinct_id,
    fold_person_ops,
    identify_refusal,
    merge_refusal,
    new_device_id,
    person_updates,
    reserved_properties,
    reset_warning,
)
from posthog_client.server.mixpanel._profiles import replay


def test_device_ids_are_uuid_v4_and_prefixed_once() -> None:
    device = new_device_id()
    assert uuid.UUID(device).version == 4
    assert device_distinct_id(device) == "$device:" + device
    assert device_distinct_id("$device:" + device) == "$device:" + device


def test_identify_refuses_the_anonymous_prefix() -> None:
    assert identify_refusal("$device:abc") is not None
    assert identify_refusal("user@example.com") is None


@pytest.mark.parametrize(
    ("model", "service_account", "alias_ok", "merge_ok"),
    [
        ("legacy", True, True, False),
        ("original", False, True, False),
        ("original", True, True, True),
        ("simplified", True, False, False),
    ],
)
def test_which_model_can_alias_and_merge(
    model: str, service_account: bool, alias_ok: bool, merge_ok: bool
) -> None:
    assert (alias_refusal(model) is None) is alias_ok  # type: ignore[arg-type]
    assert (merge_refusal(model, service_account) is None) is merge_ok  # type: ignore[arg-type]


def test_reset_always_draws_a_new_device_and_says_so_when_asked_not_to() -> None:
    assert reset_warning(True) is None
    assert "new device id" in (reset_warning(False) or "")


def test_register_refuses_what_the_wire_sets() -> None:
    assert reserved_properties(["plan", "time", "$insert_id", "token"]) == [
        "$insert_id",
        "time",
        "token",
    ]


def test_folding_keeps_the_net_effect() -> None:
    pending = fold_person_ops(None, set={"a": 1, "b": 1}, set_once={"c": 1})
    pending = fold_person_ops(pending, set_once={"a": 2, "c": 2, "d": 2}, unset=["b"])
    pending = fold_person_ops(pending, set_once={"b": 3})
    assert person_updates(pending) == {
        "$set": {"a": 1, "b": 3},
        "$set_once": {"c": 1, "d": 2},
    }
    assert person_updates(fold_person_ops(pending, unset=["a"]))["$unset"] == ["a"]


OPS = st.lists(
    st.tuples(
        st.sampled_from(["$set", "$set_once", "$unset"]),
        st.sampled_from(["a", "b", "c"]),
        st.integers(0, 3),
    ),
    max_size=12,
)


@settings(database=None)
@given(
    before=st.dictionaries(st.sampled_from(["a", "b", "c", "z"]), st.integers(), max_size=4),
    ops=OPS,
)
def test_replaying_the_folded_operations_equals_replaying_them_all(
    before: dict[str, int], ops: list[tuple[str, str, int]]
) -> None:
    """What the user's profile gets from the replay is what each operation in turn would give."""
    pending = None
    wire: list[tuple[str, object]] = [("$set", before)] if before else []
    for op, key, value in ops:
        if op == "$unset":
            pending = fold_person_ops(pending, unset=[key])
            wire.append(("$unset", [key]))
        else:
            pending = fold_person_ops(pending, **{op[1:]: {key: value}})  # type: ignore[arg-type]
            wire.append((op, {key: value}))
    replayed = [("$set", before)] if before else []
    replayed += list(person_updates(pending or {}).items())
    assert (replay(replayed) or {}) == (replay(wire) or {})
