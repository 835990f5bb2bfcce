"""Hostile or careless input to ``capture()``: lone surrogates, odd timestamps, wrong types, deep
nesting, huge names. The event is kept (or refused with a WARNING), its neighbours always."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

import pytest
from loopback_sink import LoopbackSink

from posthog_client import Client

from .conftest import MakeApp, RawBackend, messages, posthog_refusal


def delivered(app: Client, sink: LoopbackSink) -> list[dict[str, Any]]:
    assert app.flush(5).pending == 0
    return sink.events


@pytest.mark.parametrize(
    ("where", "name", "properties", "distinct_id"),
    [
        ("property value", "e", {"text": "a\ud800b"}, "u"),
        ("property key", "e", {"k\udfff": 1}, "u"),
        ("nested value", "e", {"list": [{"deep": "\ud83d"}]}, "u"),
        ("event name", "e\ud800", {}, "u"),
        ("distinct id", "e", {}, "user\ud800"),
    ],
)
def test_a_lone_surrogate_becomes_u_fffd_and_the_batch_is_delivered(
    make_app: MakeApp, sink: LoopbackSink, logs: pytest.LogCaptureFixture,
    where: str, name: str, properties: dict[str, Any], distinct_id: str,
) -> None:  # fmt: skip
    app = make_app()
    app.capture("before", distinct_id="n")
    assert app.capture(name, properties, distinct_id=distinct_id) is not None
    app.capture("after", distinct_id="n")
    events = delivered(app, sink)  # the sink answers 400 to invalid UTF-8, like PostHog
    assert [e["event"] for e in events][::2] == ["before", "after"]
    assert "\ufffd" in repr(events[1])
    warnings = messages(logs, logging.WARNING)
    assert any("surrogate" in w for w in warnings)
    assert not messages(logs, logging.ERROR)


def test_a_valid_surrogate_pair_is_joined_into_its_character(
    make_app: MakeApp, sink: LoopbackSink
) -> None:
    app = make_app()
    app.capture("e", {"emoji": "\ud83d\ude00"}, distinct_id="u")
    assert delivered(app, sink)[0]["properties"]["emoji"] == "\U0001f600"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2025-01-02T08:34:05+05:30", "2025-01-02T03:04:05.000000+00:00"),
        ("2025-01-02T03:04:05Z", "2025-01-02T03:04:05.000000+00:00"),
        ("2025-01-02T03:04:05.123456", "2025-01-02T03:04:05.123456+00:00"),  # no offset: UTC
        ("2025-01-02", "2025-01-02T00:00:00.000000+00:00"),
        (1735787045, "2025-01-02T03:04:05.000000+00:00"),
        (1735787045.5, "2025-01-02T03:04:05.500000+00:00"),
        (1735787045123, "2025-01-02T03:04:05.123000+00:00"),  # milliseconds
        (
            dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
            "2025-01-02T03:04:05.000000+00:00",
        ),
        (dt.datetime.max.replace(tzinfo=dt.timezone.utc), "9999-12-31T23:59:59.999999+00:00"),
    ],
)
def test_timestamps_in_any_common_form_are_sent_in_utc(
    make_app: MakeApp, sink: LoopbackSink, logs: pytest.LogCaptureFixture,
    given: object, expected: str,
) -> None:  # fmt: skip
    app = make_app()
    assert app.capture("e", distinct_id="u", timestamp=given) is not None  # type: ignore[arg-type]
    assert delivered(app, sink)[0]["timestamp"] == expected
    assert not messages(logs, logging.WARNING)


@pytest.mark.parametrize(
    "given",
    [
        dt.datetime.min,
        "yesterday",
        "2025-13-45",
        float("nan"),
        float("inf"),
        1e300,
        True,
        [2025],
        b"x",
    ],
    ids=["datetime.min", "words", "bad-date", "nan", "inf", "huge", "bool", "list", "bytes"],
)
def test_an_unusable_timestamp_keeps_the_event_at_capture_time_with_a_warning(
    make_app: MakeApp, sink: LoopbackSink, logs: pytest.LogCaptureFixture, given: object
) -> None:
    app = make_app()
    before = dt.datetime.now(dt.timezone.utc)
    assert app.capture("e", distinct_id="u", timestamp=given) is not None  # type: ignore[arg-type]
    stamp = dt.datetime.fromisoformat(delivered(app, sink)[0]["timestamp"])
    assert abs((stamp - before).total_seconds()) < 5
    warnings = messages(logs, logging.WARNING)
    assert len(warnings) == 1 and "timestamp" in warnings[0]
    assert not messages(logs, logging.ERROR)


@pytest.mark.parametrize("given", [["a", 1], "text", 42, ("k", "v")])
def test_properties_of_the_wrong_type_are_left_out_with_a_warning(
    make_app: MakeApp, sink: LoopbackSink, logs: pytest.LogCaptureFixture, given: object
) -> None:
    app = make_app()
    assert app.capture("e", given, distinct_id="u") is not None  # type: ignore[arg-type]
    event = delivered(app, sink)[0]
    assert event["event"] == "e" and "$lib" in event["properties"]
    warnings = messages(logs, logging.WARNING)
    assert len(warnings) == 1 and "properties must be a mapping" in warnings[0]


@pytest.mark.parametrize("depth", [200, 5_000])
def test_deep_nesting_is_cut_where_posthog_stops_reading(
    make_app: MakeApp, sink: LoopbackSink, logs: pytest.LogCaptureFixture, depth: int
) -> None:
    nested: dict[str, Any] = {}
    cursor = nested
    for _ in range(depth):
        cursor["child"] = {}
        cursor = cursor["child"]
    app = make_app()
    assert app.capture("deep", {"tree": nested, "kept": 1}, distinct_id="u") is not None
    event = delivered(app, sink)[0]
    assert event["properties"]["kept"] == 1
    warnings = messages(logs, logging.WARNING)
    assert len(warnings) == 1 and "nested" in warnings[0]
    assert not messages(logs, logging.ERROR)


def test_a_uuid_that_is_not_one_is_replaced_with_a_warning(
    make_app: MakeApp, sink: LoopbackSink, logs: pytest.LogCaptureFixture
) -> None:
    app = make_app()
    sent = app.capture("e", distinct_id="u", uuid="not-a-uuid")
    assert sent is not None and uuid.UUID(sent)
    assert delivered(app, sink)[0]["uuid"] == sent
    warnings = messages(logs, logging.WARNING)
    assert len(warnings) == 1 and "not-a-uuid" in warnings[0]


def test_a_huge_event_name_is_refused_with_a_short_log_line(
    make_app: MakeApp, logs: pytest.LogCaptureFixture
) -> None:
    app = make_app()
    assert app.capture("x" * 1_000_000, distinct_id="u") is None
    logged = [r.getMessage() for r in logs.records]
    assert logged and max(map(len, logged)) < 500


def test_stats_keep_their_final_counters_after_shutdown(
    make_app: MakeApp, sink: LoopbackSink
) -> None:
    app = make_app()
    for i in range(3):
        app.capture("e", {"i": i}, distinct_id="u")
    app.capture("", distinct_id="u")  # refused
    app.shutdown(5)
    stats = app.stats()
    assert stats["sent"] == 3 and stats["pending"] == 0 and stats["dropped_invalid_event"] == 1


def test_every_line_on_the_wire_is_one_posthog_accepts() -> None:
    backend = RawBackend()
    app = Client("phc_x", backend=backend, persist=False, flush_at=1000)
    hostile: list[Any] = [{"a\ud800": "\udc00"}, {"n": float("nan")}, {"o": object()}, {1: 2}]
    for properties in hostile:
        app.capture("e\ud800", properties, distinct_id="d\udfff", timestamp="2025-01-01")
    app.shutdown(5)
    assert len(backend.lines) == len(hostile)
    assert [posthog_refusal(line) for line in backend.lines] == [None] * len(hostile)
