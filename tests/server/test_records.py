"""The JSON form of the engines' records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from posthog_client.server._records import record_json


@dataclass(frozen=True)
class _Record:
    name: str
    at: datetime
    seen: datetime | None
    tags: dict[str, int]


def test_fields_in_declaration_order_and_times_as_text() -> None:
    tags = {"a": 1}
    at = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    record = _Record("x", at, None, tags)
    answer = record_json(record, lambda moment: moment.strftime("%Y-%m-%d"))
    assert answer == {"name": "x", "at": "2024-05-01", "seen": None, "tags": {"a": 1}}
    assert list(answer) == ["name", "at", "seen", "tags"]
    assert answer["tags"] is tags  # values are not copied
