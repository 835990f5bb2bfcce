"""Property-based: for anything a caller can pass to ``capture()`` (properties, event name,
distinct id, timestamp, uuid), the event is either queued as a line PostHog's capture accepts
(valid UTF-8 JSON, UTC timestamp, uuid, bounded nesting) or refused with a WARNING; never an
ERROR, never a lost neighbour."""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posthog_client import Client

from .conftest import RawBackend, posthog_refusal

EXAMPLES = settings(
    max_examples=300,
    deadline=None,
    database=None,  # nothing written into the repository
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class Broken:
    """An object whose every conversion fails."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def __str__(self) -> str:
        raise RuntimeError("no str")


surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
texts = st.one_of(
    st.text(max_size=20),
    st.lists(st.one_of(st.characters(), surrogates), max_size=12).map("".join),
    st.sampled_from(["", " ", "\x00", "\ud83d\ude00", "null", "$set", "a" * 300]),
)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
    st.binary(max_size=10),
    st.datetimes(),
    st.decimals(allow_nan=True),
    st.uuids(),
    st.builds(Broken),
    st.builds(object),
)
keys = st.one_of(texts, st.integers(), st.floats(), st.none(), st.tuples(st.integers()))
values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(keys, children, max_size=4),
    ),
    max_leaves=20,
)
properties = st.one_of(
    st.none(),
    st.dictionaries(keys, values, max_size=6),
    st.dictionaries(st.sampled_from(["$set", "$set_once", "$session_id", "$groups"]), values),
    values,  # not a mapping at all
)
event_names = st.one_of(texts, st.none(), st.integers(), st.binary(max_size=5), st.builds(Broken))
distinct_ids = st.one_of(st.none(), texts, st.integers(), st.floats(), st.builds(Broken))
timestamps = st.one_of(
    st.none(),
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())),
    st.datetimes().map(dt.datetime.isoformat),
    st.dates(),
    texts,
    st.floats(),
    st.integers(),
    st.booleans(),
    st.just(decimal.Decimal("1.5")),
)
uuids = st.one_of(
    st.none(),
    st.uuids(),
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),
    texts,
    st.integers(),
)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def harness() -> Iterator[tuple[Client, RawBackend, Records]]:
    backend = RawBackend()
    app = Client("phc_props", backend=backend, persist=False, sync_mode=True)
    records = Records()
    logger = logging.getLogger("posthog_client")
    logger.addHandler(records)
    yield app, backend, records
    logger.removeHandler(records)
    app.shutdown(1)


@EXAMPLES
@given(
    name=event_names,
    props=properties,
    distinct_id=distinct_ids,
    timestamp=timestamps,
    event_uuid=uuids,
)
def test_capture_queues_an_accepted_line_or_refuses_with_a_warning(
    harness: tuple[Client, RawBackend, Records],
    name: Any,
    props: Any,
    distinct_id: Any,
    timestamp: Any,
    event_uuid: Any,
) -> None:
    app, backend, records = harness
    backend.lines.clear()
    records.records.clear()
    app._refused.clear()
    assert app.capture("before", distinct_id="neighbour") is not None
    returned = app.capture(
        name, props, distinct_id=distinct_id, timestamp=timestamp, uuid=event_uuid
    )
    assert app.capture("after", distinct_id="neighbour") is not None
    lines = backend.lines
    assert [posthog_refusal(line) for line in lines] == [None] * len(lines)
    assert lines[0].startswith(b'{"event":"before"') and lines[-1].startswith(b'{"event":"after"')
    if returned is None:
        assert len(lines) == 2
        assert any(r.levelno == logging.WARNING for r in records.records)
    else:
        assert len(lines) == 3
        assert uuid.UUID(returned)
        assert f'"uuid":"{returned}"'.encode() in lines[1]
    errors = [r.getMessage() for r in records.records if r.levelno >= logging.ERROR]
    assert errors == []
