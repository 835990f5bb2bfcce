"""The two encoders (orjson, the standard library) agree on every event: the same JSON, the same
conversions and the same warnings; and no encoded line ever holds a raw newline."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import json
import logging
import math
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posthog_client._events import codec
from posthog_client._events.encoding import SharedProperties, encode_event, with_shared

orjson = pytest.importorskip("orjson", reason="the fast encoder is optional (test extra)")

EXAMPLES = settings(
    max_examples=250,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


class Color(enum.Enum):
    RED = "red"
    NAN = math.nan


class Size(enum.IntEnum):
    BIG = 3


class Tag(str):
    """A str subclass, as ORMs and enums produce."""


@dataclasses.dataclass
class Point:
    x: float
    label: str


surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
texts = st.one_of(
    st.text(max_size=12),
    st.lists(st.one_of(st.characters(), surrogates), max_size=8).map("".join),
    st.sampled_from(["", "\n", "\r\n", "\x00\x1f\x7f", "\u2028", '"properties":{', "null"]),
)
floats = st.one_of(st.floats(), st.sampled_from([1e-05, 1.5e-07, 1e16, -0.0, 5e-324]))
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=2**70),
    floats,
    texts,
    texts.map(Tag),
    st.binary(max_size=6),
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())),
    st.dates(),
    st.times(),
    st.timedeltas(),
    st.decimals(allow_nan=True),
    st.uuids(),
    st.sampled_from([Color.RED, Color.NAN, Size.BIG]),
    st.builds(Point, floats, texts),
    st.frozensets(st.integers(), max_size=3),
    st.builds(object),
)
keys = st.one_of(texts, texts.map(Tag), st.integers(), st.floats(), st.booleans(), st.none())
values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.tuples(children, children),
        st.dictionaries(keys, children, max_size=3),
    ),
    max_leaves=16,
)
properties = st.dictionaries(keys, values, max_size=5)


def deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"d": [value]}
    return value


def message(props: Any, name: str = "e") -> dict[str, Any]:
    return {
        "event": name,
        "distinct_id": "user",
        "properties": props,
        "timestamp": "2026-01-01T00:00:00.000000+00:00",
        "uuid": "01890000-0000-7000-8000-000000000000",
    }


@contextmanager
def using(encoder: str) -> Iterator[None]:
    chosen = (codec.dumps, codec.options, codec.nan_as_null)
    if encoder == "orjson":
        fast = codec.load_orjson()
        assert fast is not None
        (codec.dumps, codec.options), codec.nan_as_null = fast, True
    else:
        codec.dumps, codec.options, codec.nan_as_null = codec.stdlib_dumps, 0, False
    try:
        yield
    finally:
        codec.dumps, codec.options, codec.nan_as_null = chosen


def encode_with(
    encoder: str, event: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> tuple[bytes, list[str]]:
    caplog.clear()
    with using(encoder), caplog.at_level(logging.WARNING, "posthog_client"):
        line = encode_event(event)
    return line, [r.getMessage() for r in caplog.records]


def parsed(line: bytes) -> Any:
    """The JSON with key order kept (lists of pairs)."""
    return json.loads(line, object_pairs_hook=list)


@EXAMPLES
@given(props=properties, name=texts)
def test_both_encoders_make_the_same_json_and_the_same_warnings(
    props: dict[Any, Any], name: str, caplog: pytest.LogCaptureFixture
) -> None:
    event = message(props, name)
    fast, fast_warnings = encode_with("orjson", event, caplog)
    standard, standard_warnings = encode_with("json", event, caplog)
    assert fast_warnings == standard_warnings
    assert parsed(fast) == parsed(standard)
    assert b"\n" not in fast and b"\n" not in standard  # the queue's framing
    fast.decode("utf-8")  # strict: valid UTF-8, no lone surrogate
    if b"e-0" not in standard:  # 1e-05 or 0.00001, 1.5e-07 or 1.5e-7: the same floats
        assert fast == standard


@pytest.mark.parametrize(
    "value",
    [
        math.nan,
        -math.inf,
        [1.0, {"x": math.inf}],
        Color.NAN,
        Point(math.nan, "p"),
        decimal.Decimal("NaN"),  # converted to null silently by both
        "text with null in it",
        None,
    ],
    ids=repr,
)
def test_nan_gets_the_same_warning_and_null_from_both(
    value: Any, caplog: pytest.LogCaptureFixture
) -> None:
    event = message({"v": value})
    fast, fast_warnings = encode_with("orjson", event, caplog)
    standard, standard_warnings = encode_with("json", event, caplog)
    assert (fast, fast_warnings) == (standard, standard_warnings)


@pytest.mark.parametrize(
    "value",
    [
        {"a\ud800": "b\udfff"},  # lone surrogates: U+FFFD and a WARNING
        {1: "int key", None: "none key", 2.5: "float key", False: "bool key"},
        {Tag("k"): Tag("v"), "n": Size.BIG},
        {"big": 2**80, "dt": dt.datetime(2026, 1, 2, 3, 4, 5, 6, dt.timezone.utc)},
        {"uuid": uuid.UUID(int=7), "set": frozenset({3, 1}), "bytes": b"\xff"},
        {"deep": deep(70)},  # cut at MAX_DEPTH with a WARNING
    ],
    ids=["surrogates", "non-str keys", "subclasses", "big int, datetime", "others", "deep"],
)
def test_conversions_are_byte_identical(
    value: dict[Any, Any], caplog: pytest.LogCaptureFixture
) -> None:
    event = message(value)
    assert encode_with("orjson", event, caplog) == encode_with("json", event, caplog)


def test_a_cycle_is_cut_the_same_way(caplog: pytest.LogCaptureFixture) -> None:
    looped: list[Any] = [1]
    looped.append(looped)
    event = message({"loop": looped})
    assert encode_with("orjson", event, caplog) == encode_with("json", event, caplog)


@EXAMPLES
@given(own=properties, shared=st.dictionaries(st.text(max_size=8), values, max_size=4))
def test_shared_properties_spliced_in_give_the_event_encoded_whole(
    own: dict[Any, Any], shared: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    # Events sent with shared properties have some of their own ($session_id, ...).
    own = {"$session_id": "s", **{k: v for k, v in own.items() if k not in shared}}
    name = '","properties":{"x":1}}'  # the splice point is found past any such text
    for encoder in ("orjson", "json"):
        with using(encoder), caplog.at_level(logging.CRITICAL, "posthog_client"):
            splice = SharedProperties(shared).splice
            spliced = with_shared(encode_event(message(own, name)), splice)
            whole = encode_event(message({**shared, **own}, name))
        assert json.loads(spliced) == json.loads(whole)  # as PostHog reads it


def test_the_encoder_is_chosen_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codec, "nan_as_null", codec.nan_as_null)  # restored afterwards
    monkeypatch.setattr(codec, "options", codec.options)
    monkeypatch.setattr(codec, "dumps", codec._first_dumps)
    assert codec.encoder_name() == "orjson"
    monkeypatch.setitem(__import__("sys").modules, "orjson", None)  # not installed
    monkeypatch.setattr(codec, "dumps", codec._first_dumps)
    assert codec.encoder_name() == "json"
    assert codec.dumps({"a": [1, "é"]}, codec.convert_known, 0) == '{"a":[1,"é"]}'.encode()


def test_with_orjson_a_line_holding_null_is_checked_for_nan(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    walked: list[object] = []
    real: Callable[[Any], bool] = codec.has_non_finite
    monkeypatch.setattr(codec, "has_non_finite", lambda v: walked.append(v) or real(v))
    line, warnings = encode_with("orjson", message({"a": None, "b": 1.5}), caplog)
    assert walked and not warnings
    assert json.loads(line)["properties"] == {"a": None, "b": 1.5}
