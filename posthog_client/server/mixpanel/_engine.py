"""The Mixpanel engine: ingestion routes and queries over one identity model, on SQLite."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Final

from ..._log import logger
from .._sqlite import SQLiteEngine
from ._answers import (
    Answer,
    ServiceAccount,
    answer_error,
    answer_report,
    import_access,
    unauthorized,
)
from ._body import BODY_LIMIT, IMPORT_BODY_LIMIT, MixpanelRequestError, decode_mixpanel_body
from ._identity import IdentityModel, PersonIds
from ._ingest import Ingestion
from ._legacy import LegacyModel
from ._models import (
    ID_MERGE_MODELS,
    Endpoint,
    IdMerge,
    IngestReport,
    MixpanelEvent,
    MixpanelGroup,
    MixpanelPerson,
    Refusal,
    from_ms,
)
from ._original import OriginalModel
from ._profiles import replay
from ._simplified import SimplifiedModel
from ._store import EventRow, Store

__all__ = ["DEFAULT_TOKEN", "MixpanelEngine"]

DEFAULT_TOKEN: Final = "mp_local_token"
"""The project token the local Mixpanel emulation accepts unless told otherwise."""
_MODELS: Final[dict[str, Callable[[Store], IdentityModel]]] = {
    "legacy": LegacyModel,
    "original": OriginalModel,
    "simplified": SimplifiedModel,
}


def _when(moment: datetime | None) -> int:
    return int((moment or datetime.now(timezone.utc)).timestamp() * 1000)


def _flag(fields: Mapping[str, str], name: str) -> bool | None:
    value = fields.get(name)
    return None if value is None else value.strip().lower() in ("1", "true")


class MixpanelEngine(SQLiteEngine[Store]):
    """Mixpanel's ingestion and identity resolution under one ID-merge ``model`` (MS5).

    ``handle()`` takes an HTTP request's parts and returns the ``Answer`` to write; ``ingest()``
    takes decoded records. Queries: ``person``, ``persons``, ``events``, ``refusals``,
    ``groups``. ``db_path`` is a SQLite file or ``":memory:"``; a file that holds data resolved
    under another model is refused (``ValueError``). Thread-safe: every call holds one lock.

    >>> engine = MixpanelEngine(model="legacy", token="t")
    >>> _ = engine.ingest("track", [
    ...     {"event": "$create_alias",
    ...      "properties": {"token": "t", "distinct_id": "12345", "alias": "sally@gmail.com"}},
    ...     {"event": "Signed Up", "properties": {"token": "t", "distinct_id": "sally@gmail.com"}},
    ... ])
    >>> engine.person("sally@gmail.com").distinct_ids
    ('12345', 'sally@gmail.com')
    >>> [e.event for e in engine.events("12345")]
    ['$create_alias', 'Signed Up']
    >>> engine.close()
    """

    def __init__(
        self,
        db_path: str | os.PathLike[str] = ":memory:",
        *,
        model: IdMerge = "simplified",
        token: str = DEFAULT_TOKEN,
        api_secret: str | None = None,
        service_account: ServiceAccount | None = None,
    ) -> None:
        if model not in ID_MERGE_MODELS:
            raise ValueError(f"unknown ID merge model {model!r}; one of {ID_MERGE_MODELS}")
        self.model_name: IdMerge = model
        self.token = token
        self._api_secret = api_secret
        self._service_account = service_account
        super().__init__(Store(db_path))
        try:
            with self._store.transaction():
                stored = self._store.meta("model")
                if stored not in (None, model) and self._store.holds_data():
                    raise ValueError(
                        f"{os.fspath(db_path)} holds data resolved with the {stored!r} model;"
                        f" a project's model cannot change once it has data (MI1)"
                    )
                self._store.set_meta("model", model)
        except BaseException:
            self._store.close()
            raise
        self._model: IdentityModel = _MODELS[model](self._store)

    def handle(
        self,
        endpoint: Endpoint,
        body: bytes,
        *,
        query: Mapping[str, Sequence[str]] | None = None,
        content_type: str = "",
        content_encoding: str = "",
        authorization: str | None = None,
        now: datetime | None = None,
    ) -> Answer:
        """One HTTP request to ``/<endpoint>``: decode, authenticate, ingest, answer.

        ``query`` is the parsed query string (``urllib.parse.parse_qs``); ``authorization`` the
        ``Authorization`` header. Never raises for anything a client sends.
        """
        query = query or {}
        verbose = _flag({k: v[0] for k, v in query.items() if v}, "verbose") or False
        privileged = False
        if endpoint == "import":
            project_id = query["project_id"][0] if query.get("project_id") else None
            access = import_access(
                authorization,
                project_id,
                token=self.token,
                api_secret=self._api_secret,
                service_account=self._service_account,
            )
            if access is None:
                return unauthorized()
            privileged = access == "privileged"
        try:
            decoded = decode_mixpanel_body(
                body,
                content_type=content_type,
                content_encoding=content_encoding,
                query=query,
                limit=IMPORT_BODY_LIMIT if endpoint == "import" else BODY_LIMIT,
                gzip=endpoint != "engage",
                ndjson=endpoint == "import",
            )
        except MixpanelRequestError as exc:
            return answer_error(endpoint, exc, verbose=verbose)
        verbose = _flag(decoded.fields, "verbose") or False
        # /import is strict unless told otherwise, except in the legacy form mixpanel-python posts
        explicit = _flag(decoded.fields, "strict")
        strict = endpoint == "import" and (not decoded.form if explicit is None else explicit)
        report = self.ingest(
            endpoint, decoded.records, strict=strict, privileged=privileged, now=now
        )
        return answer_report(endpoint, report, verbose=verbose, strict=strict)

    def ingest(
        self,
        endpoint: Endpoint,
        records: Iterable[object],
        *,
        strict: bool | None = None,
        privileged: bool = False,
        now: datetime | None = None,
    ) -> IngestReport:
        """Ingest one request's decoded records atomically, in order, and report per record.

        ``strict`` (default: ``endpoint == "import"``) requires ``time``, ``distinct_id`` and
        ``$insert_id`` on events; ``privileged`` says ``/import`` was authenticated by a service
        account or the project secret (``$merge`` needs it); ``now`` replaces the clock.
        """
        with self._lock, self._store.transaction():
            ingestion = Ingestion(
                self._store, self._model, token=self.token, now_ms=_when(now), privileged=privileged
            )
            ingestion.run(
                endpoint, records, strict=endpoint == "import" if strict is None else strict
            )
            self._revision += 1  # on every request, whatever it changed
        report = ingestion.report()
        logger.debug(
            "local mixpanel server: /%s kept %d of %d records (%d failed)",
            endpoint,
            report.imported,
            report.records,
            len(report.failed),
        )
        return report

    def person(self, distinct_id: str) -> MixpanelPerson | None:
        """The person ``distinct_id`` resolves to now, or None for an id never seen."""
        with self._lock:
            ids = self._model.person(distinct_id)
            return None if ids is None else self._person(ids)

    def persons(self) -> list[MixpanelPerson]:
        """Every person holding events or a profile, in the order their first id was seen.

        Legacy lists the id each event was stored under, so an event that raced ahead of its
        alias (MI5) shows as a person of its own.
        """
        with self._lock:
            people: dict[str, MixpanelPerson] = {}
            for key in self._store.stored_keys():
                ids = self._model.person_at(key)
                if ids.canonical not in people:
                    people[ids.canonical] = self._person(ids)
            return list(people.values())

    def events(self, who: str | MixpanelPerson | None = None) -> list[MixpanelEvent]:
        """Events oldest first: of the person a distinct id resolves to now, of a person from
        ``persons()``, or all (None)."""
        with self._lock:
            if who is None:
                return [_event(row) for row in self._store.events(None)]
            if isinstance(who, MixpanelPerson):
                keys: tuple[str, ...] = who.stored_under
            else:
                ids = self._model.person(who)
                keys = () if ids is None else ids.keys
            return [_event(row) for row in self._store.events(keys)] if keys else []

    def refusals(self) -> list[Refusal]:
        """Every identity event that changed nothing, oldest first."""
        with self._lock:
            return [
                Refusal(row[0], row[2], row[6] or "", row[7] or "", from_ms(row[3]))
                for row in self._store.events(None, failed_only=True)
            ]

    def groups(self) -> list[MixpanelGroup]:
        """Every group profile that exists (not deleted), in the order first updated."""
        with self._lock:
            groups = []
            for (key, group_id), ops in self._store.group_ops().items():
                properties = replay(ops)
                if properties is not None:
                    groups.append(MixpanelGroup(key, group_id, properties))
            return groups

    def _person(self, ids: PersonIds) -> MixpanelPerson:
        profile = replay(self._store.profile_ops(ids.profile_keys))
        return MixpanelPerson(
            ids.canonical, ids.distinct_ids, profile or {}, profile is not None, ids.keys
        )


def _event(row: EventRow) -> MixpanelEvent:
    event, key, sent, when, insert_id, properties, failure, _ = row
    return MixpanelEvent(event, key, sent, properties, from_ms(when), insert_id, failure)
