"""Segment lines: shared properties defined once, events referring to them restored whole."""

from __future__ import annotations

import json
from pathlib import Path

from delivery_support import event

from posthog_client._delivery.lines import Decoder, count_events, definition
from posthog_client._delivery.segments import _count_lines
from posthog_client._events.encoding import SharedProperties, with_shared

SHARED = SharedProperties({"$lib": "posthog-client-python", "$os": "Linux"})


def refer(key: bytes, line: bytes) -> bytes:
    return b"@" + key + line


def no_rescan() -> list[bytes]:
    raise AssertionError("every definition was in view")


def test_references_are_restored_to_the_event_encoded_whole() -> None:
    own, other = event(1), event(2)
    lines = [definition(b"0", SHARED.members)[:-1], refer(b"0", own), other, refer(b"0", own)]
    decoded = Decoder().decode(lines, 10**6, strict=True, rescan=no_rescan)
    whole = with_shared(own, SHARED.splice)
    assert decoded.events == [whole, other, whole]
    assert json.loads(whole)["properties"] == {
        "$lib": "posthog-client-python",
        "$os": "Linux",
        "i": 1,
    }
    assert decoded.lines_for(1) == lines[:2] and decoded.lines_for(3) == lines
    assert count_events(lines) == 3


def test_whole_events_need_no_decoding() -> None:
    lines = [event(1), event(2)]
    decoded = Decoder().decode(lines, 10**6, strict=False, rescan=no_rescan)
    assert decoded.events is lines and decoded.lines_for(1) == lines[:1]


def test_a_definition_before_the_read_position_is_found_by_rescanning() -> None:
    before = [definition(b"0", SHARED.members)[:-1], refer(b"0", event(1))]
    own = event(2)
    decoded = Decoder().decode([refer(b"0", own)], 10**6, strict=True, rescan=lambda: before)
    assert decoded.events == [with_shared(own, SHARED.splice)]


def test_a_reference_without_its_definition_is_skipped_not_sent() -> None:
    lines = [refer(b"7", event(1)), event(2)]
    decoded = Decoder().decode(lines, 10**6, strict=True, rescan=list)
    assert (decoded.events, decoded.skip) == ([], 1)  # the damaged line alone
    lines = [event(0), refer(b"7", event(1)), event(2)]
    assert Decoder().decode(lines, 10**6, strict=True, rescan=list).events == lines[:1]


def test_the_byte_limit_counts_restored_events() -> None:
    lines = [definition(b"0", SHARED.members)[:-1]] + [refer(b"0", event(i)) for i in range(10)]
    size = len(with_shared(event(0), SHARED.splice)) + 1
    decoded = Decoder().decode(lines, 3 * size, strict=False, rescan=no_rescan)
    assert len(decoded.events) == 3


def test_counting_lines_leaves_definitions_and_torn_lines_out(tmp_path: Path) -> None:
    path = tmp_path / "s.seg"
    body = definition(b"0", SHARED.members) + refer(b"0", event(1)) + b"\n" + event(2) + b"\n"
    path.write_bytes(body + definition(b"1", SHARED.members)[:-3])  # a torn definition
    assert _count_lines(path, 0) == 2
    path.write_bytes(body + b'{"event":"to')  # a torn event
    assert _count_lines(path, 0) == 2
    start = len(definition(b"0", SHARED.members))
    assert _count_lines(path, start) == 2
