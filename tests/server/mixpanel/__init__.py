"""Tests of the local server's Mixpanel emulation, and their helpers."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from posthog_client.server.mixpanel import MixpanelEngine

TOKEN = "mp_test_token"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
NOW = T0 + timedelta(days=1)
"""The server clock of the tests: after every record of a story, within /track's window."""
S = "sally@gmail.com"


class Clock:
    """Hands out increasing event times (one second apart), in epoch seconds as mixpanel-js."""

    def __init__(self) -> None:
        self.seconds = T0.timestamp()

    def tick(self) -> float:
        self.seconds += 1
        return self.seconds


class JsDevice:
    """The records mixpanel-js 2.82.1 sends from one browser or phone (mixpanel-spec MC1–MC7).

    ``device_id`` None starts from a pre-2023 un-prefixed ``distinct_id`` without a device id.
    """

    def __init__(self, clock: Clock, distinct_id: str, device_id: str | None) -> None:
        self.clock = clock
        self.distinct_id = distinct_id
        self.device_id = device_id
        self.user_id: str | None = None
        self.alias_id: str | None = None

    def track(self, name: str, **properties: Any) -> dict[str, Any]:
        props: dict[str, Any] = {
            "token": TOKEN,
            "distinct_id": self.distinct_id,
            "time": self.clock.tick(),
            "$insert_id": uuid.uuid4().hex[:16],
            "mp_lib": "web",
        }
        if self.device_id is not None:
            props["$device_id"] = self.device_id
        if self.user_id is not None:
            props["$user_id"] = self.user_id
        props.update(properties)
        return {"event": name, "properties": props}

    def identify(self, user: str) -> list[dict[str, Any]]:
        """MC3: a ``$identify`` from the previous id; the local id becomes ``user`` unless it is
        this device's alias."""
        if user == self.distinct_id:
            return []
        previous = self.distinct_id
        self.user_id = user
        if self.device_id is None:
            self.device_id = previous
        if user != self.alias_id:
            self.alias_id = None
            self.distinct_id = user
        return [self.track("$identify", distinct_id=user, **{"$anon_distinct_id": previous})]

    def alias(self, alias: str) -> list[dict[str, Any]]:
        """MC5: ``$create_alias`` from the current id, then ``identify(alias)`` keeping the id."""
        self.alias_id = alias
        create = self.track("$create_alias", alias=alias, distinct_id=self.distinct_id)
        return [create, *self.identify(alias)]

    def android_alias(self, alias: str) -> list[dict[str, Any]]:
        """MC6: ``$create_alias`` only, no state change."""
        return [self.track("$create_alias", alias=alias, distinct_id=self.distinct_id)]

    def reset(self, distinct_id: str, device_id: str | None) -> None:
        """MC7: a new anonymous identity; sends nothing."""
        self.distinct_id, self.device_id = distinct_id, device_id
        self.user_id = self.alias_id = None


def backend_track(clock: Clock, distinct_id: str, name: str) -> dict[str, Any]:
    """What mixpanel-python's ``track(distinct_id, name)`` sends (MA12)."""
    properties = {
        "token": TOKEN,
        "distinct_id": distinct_id,
        "time": clock.tick(),
        "$insert_id": uuid.uuid4().hex,
        "mp_lib": "python",
    }
    return {"event": name, "properties": properties}


def new_device() -> tuple[str, str]:
    """A modern anonymous identity: ``("$device:" + D, D)`` with D a UUID v4 (MC1)."""
    device = str(uuid.uuid4())
    return "$device:" + device, device


def ingest(engine: MixpanelEngine, records: Iterable[dict[str, Any]]) -> None:
    """Send ``records`` to ``/track`` one request each, in order, and check none failed."""
    for record in records:
        report = engine.ingest("track", [record], now=NOW)
        assert not report.failed, report.failed


def users(engine: MixpanelEngine) -> dict[str, list[str]]:
    """Every person's canonical id → the names of its events that are not Mixpanel's own."""
    return {
        person.distinct_id: [e.event for e in engine.events(person) if e.event[0] != "$"]
        for person in engine.persons()
    }
