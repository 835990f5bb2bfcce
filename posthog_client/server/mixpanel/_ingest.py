"""One request's records applied to the store, in order, through the project's identity model."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any, Final

from ._checks import CheckedEvent, CheckedUpdate, Dropped, check_event, check_update
from ._identity import Attribution, IdentityModel
from ._models import Endpoint, FailedRecord, IngestReport, Refusal, from_ms
from ._store import Store

__all__ = ["Ingestion"]

# what ingestion writes on a stored event, kept when a duplicate replaces its properties
_ANNOTATIONS: Final = (
    "distinct_id",
    "$distinct_id_before_identity",
    "$failure_reason",
    "$failure_description",
    "$identity_failure_reason",
)


class Ingestion:
    """Applies records to the store and counts what happened; ``report()`` sums it up."""

    def __init__(
        self, store: Store, model: IdentityModel, *, token: str, now_ms: int, privileged: bool
    ) -> None:
        self._store = store
        self._model = model
        self._token = token
        self._now_ms = now_ms
        self._privileged = privileged
        self._records = self._imported = self._duplicates = 0
        self._failed: list[FailedRecord] = []
        self._dropped: Counter[str] = Counter()
        self._refusals: list[Refusal] = []

    def run(self, endpoint: Endpoint, records: Iterable[object], *, strict: bool) -> None:
        for index, record in enumerate(records):
            self._records += 1
            checked: CheckedEvent | CheckedUpdate | FailedRecord | Dropped
            if endpoint in ("track", "import"):
                checked = check_event(
                    record,
                    index,
                    endpoint=endpoint,
                    strict=strict,
                    token=self._token,
                    now_ms=self._now_ms,
                )
            else:
                checked = check_update(
                    record,
                    index,
                    group=endpoint == "groups",
                    token=self._token,
                    now_ms=self._now_ms,
                )
            if isinstance(checked, FailedRecord):
                self._failed.append(checked)
            elif isinstance(checked, Dropped):
                self._dropped[checked.reason] += 1
            elif isinstance(checked, CheckedEvent):
                self._event(checked)
            else:
                self._update(checked)

    def report(self) -> IngestReport:
        return IngestReport(
            self._records,
            self._imported,
            self._duplicates,
            tuple(self._failed),
            dict(self._dropped),
            tuple(self._refusals),
        )

    def _event(self, event: CheckedEvent) -> None:
        self._imported += 1
        stored = self._store.find_event(
            event.name, event.distinct_id, event.time_ms, event.insert_id
        )
        if stored is not None:  # the same event again: its identity effect happened already
            seq, previous = stored
            latest: dict[str, Any] = dict(event.properties)
            latest.update((k, previous[k]) for k in _ANNOTATIONS if k in previous)
            self._store.set_event_properties(seq, latest)
            self._duplicates += 1
            return
        attribution = self._model.attribute(event, self._privileged)
        if attribution.key:
            self._store.see(attribution.key)
        properties = _annotated(event, attribution)
        self._store.insert_event(
            (
                event.name,
                attribution.key,
                event.distinct_id,
                event.time_ms,
                event.insert_id,
                properties,
                attribution.failure,
                attribution.description,
            )
        )
        if attribution.failure is not None:
            self._refusals.append(
                Refusal(
                    event.name,
                    event.distinct_id,
                    attribution.failure,
                    attribution.description or "",
                    from_ms(event.time_ms),
                )
            )

    def _update(self, update: CheckedUpdate) -> None:
        self._imported += 1
        if update.group_key is not None:
            for op, value in update.ops:
                self._store.add_group_op(update.group_key, update.target, op, value, update.time_ms)
            return
        deletes_alias_only = update.ignore_alias and any(op == "$delete" for op, _ in update.ops)
        owner = self._model.profile_owner(update.target, deletes_alias_only)
        self._store.see(owner)
        for op, value in update.ops:
            self._store.add_profile_op(owner, op, value, update.time_ms)


def _annotated(event: CheckedEvent, attribution: Attribution) -> dict[str, Any]:
    properties = dict(event.properties)
    if attribution.key != event.distinct_id:
        properties["distinct_id"] = attribution.key
        properties["$distinct_id_before_identity"] = event.distinct_id
    if attribution.failure is not None:
        properties[attribution.failure_property] = attribution.failure
        if attribution.failure_property == "$failure_reason":
            properties["$failure_description"] = attribution.description
    return properties
