from __future__ import annotations

import time
import uuid

from posthog_client._events.uuid7 import normalize_uuid, uuid7, uuid7_time_ms


def test_uuid7_is_version_7_rfc_variant_and_monotonic() -> None:
    ids = [uuid7() for _ in range(20_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    parsed = uuid.UUID(ids[0])
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122


def test_uuid7_embeds_the_current_time() -> None:
    before = time.time_ns() // 1_000_000
    embedded = uuid7_time_ms(uuid7())
    assert embedded is not None and before <= embedded <= time.time_ns() // 1_000_000 + 1


def test_uuid7_time_of_other_values() -> None:
    assert uuid7_time_ms(str(uuid.uuid4())) is None
    assert uuid7_time_ms("nope") is None


def test_normalize_uuid() -> None:
    value = uuid.uuid4()
    assert normalize_uuid(value) == str(value)
    assert normalize_uuid(str(value).upper()) == str(value)
    assert normalize_uuid("nope") is None
    assert normalize_uuid(42) is None
