"""This SDK's side of the Mixpanel tests: the events it queues, mapped and sent over the wire.

``SdkDevice`` produces the events one desktop install queues, in PostHog's wire shape, with the
client's own identity state machine (``_identity.machine``) and the Mixpanel decisions
that the client applies before it (UUID v4 device ids, D3; a new device id on every reset, D4;
no alias under Simplified, D5). ``deliver`` maps them (``map_event``), encodes the requests
(``import_request``/``update_request``) and hands them to ``MixpanelEngine.handle``, reading the
answers as the transport will (``check_*_answer``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from posthog_client._events.runtime import LIB_NAME
from posthog_client._identity import machine as identity
from posthog_client._identity.state import IdentityState
from posthog_client._mixpanel import (
    MixpanelSettings,
    WireRequest,
    alias_refusal,
    check_import_answer,
    check_update_answer,
    import_request,
    map_event,
    new_device_id,
    update_request,
)
from posthog_client._types import MixpanelServiceAccount
from posthog_client.server.mixpanel import Answer, MixpanelEngine, ServiceAccount

from . import NOW, Clock

SERVICE_ACCOUNT = MixpanelServiceAccount("sa-user", "sa-secret", "42")
"""The credentials the transport holds; ``SERVER_ACCOUNT`` is the same account server-side."""
SERVER_ACCOUNT = ServiceAccount(*SERVICE_ACCOUNT)


def _stamp(clock: Clock) -> str:
    return datetime.fromtimestamp(clock.tick(), timezone.utc).isoformat(timespec="microseconds")


def _queued(
    name: str, distinct_id: str, properties: dict[str, Any], clock: Clock
) -> dict[str, Any]:
    return {
        "event": name,
        "distinct_id": distinct_id,
        "properties": {"$lib": LIB_NAME, "$lib_version": "0.1.0", **properties},
        "timestamp": _stamp(clock),
        "uuid": str(uuid.uuid4()),
    }


class SdkDevice:
    """One desktop install of an app using this SDK with ``backend="mixpanel"``."""

    def __init__(self, clock: Clock, id_merge: str) -> None:
        self.clock = clock
        self.id_merge = id_merge
        self.state = self._fresh()
        self.session_id = str(uuid.uuid4())

    @staticmethod
    def _fresh() -> IdentityState:
        device = new_device_id()
        return IdentityState(distinct_id=device, anon_id=device, device_id=device)

    @property
    def mixpanel_id(self) -> str:
        """What ``get_distinct_id()`` returns in Mixpanel mode while anonymous."""
        anonymous = self.state.distinct_id == self.state.device_id
        return "$device:" + self.state.distinct_id if anonymous else self.state.distinct_id

    def capture(self, name: str, **properties: Any) -> list[dict[str, Any]]:
        return [self._event(name, properties, None)]

    def identify(self, user: str, **to_set: Any) -> list[dict[str, Any]]:
        return self._apply(identity.identify(self.state, user, to_set or None, None, None))

    def alias(self, alias: str) -> list[dict[str, Any]]:
        if alias_refusal(self.id_merge) is not None:  # type: ignore[arg-type]
            return []
        state = self.state
        events = self._apply(identity.alias(state, alias))
        self.state = state  # the client does not remember it: Mixpanel may refuse it (D5)
        return events

    def set_person_properties(self, **to_set: Any) -> list[dict[str, Any]]:
        return self._apply(identity.set_person_properties(self.state, to_set, None, None))

    def reset(self) -> None:
        self.state = self._fresh()  # D4: always a new device id

    def _apply(self, outcome: identity.Outcome) -> list[dict[str, Any]]:
        self.state = outcome.state
        return [
            self._event(name, props, props.get("distinct_id")) for name, props in outcome.events
        ]

    def _event(
        self, name: str, properties: Mapping[str, Any], explicit_id: str | None
    ) -> dict[str, Any]:
        """As ``EventProperties.for_device`` builds it: device id, session, identity flags."""
        props: dict[str, Any] = {"$device_id": self.state.device_id, "$session_id": self.session_id}
        props.update(properties)
        props["$is_identified"] = explicit_id is not None or self.state.identified
        props["$process_person_profile"] = True
        return _queued(name, explicit_id or self.state.distinct_id, props, self.clock)


def server_event(clock: Clock, name: str, distinct_id: str, **properties: Any) -> dict[str, Any]:
    """An event a backend (``mode="server"``) queues for ``distinct_id``."""
    props = {**properties, "$is_server": True, "$is_identified": True}
    props["$process_person_profile"] = True
    return _queued(name, distinct_id, props, clock)


def deliver(
    engine: MixpanelEngine,
    events: Iterable[Mapping[str, Any]],
    *,
    service_account: bool = False,
) -> list[int]:
    """Send ``events`` as the Mixpanel transport will, one request per kind of record, in order;
    returns the indexes strict ``/import`` refused."""
    settings = MixpanelSettings(engine.token, engine.model_name, service_account=service_account)
    refused: list[int] = []
    for event in events:
        for record in map_event(event, settings):
            if record.kind == "event":
                credentials = SERVICE_ACCOUNT if record.privileged else None
                request = import_request(
                    [record.body], token=engine.token, service_account=credentials
                )
                answer = _handle(engine, request)
                refused += check_import_answer(answer.status, answer.body)
            else:
                answer = _handle(engine, update_request(record.kind, [record.body]))
                check_update_answer(answer.status, answer.body)
    return refused


def _handle(engine: MixpanelEngine, request: WireRequest) -> Answer:
    return engine.handle(
        request.path.strip("/"),  # type: ignore[arg-type]
        request.body,
        query={name: [value] for name, value in request.query.items()},
        content_type=request.headers["Content-Type"],
        content_encoding=request.headers.get("Content-Encoding", ""),
        authorization=request.headers.get("Authorization"),
        now=NOW,
    )
