"""Mixpanel's ingestion API and identity resolution, emulated for the local reference server.

Holds the Mixpanel half of the reference server, without HTTP: ``decode_mixpanel_body`` reads
the bodies of ``/track``, ``/import``, ``/engage`` and ``/groups`` in every form Mixpanel's
SDKs send (mixpanel-spec MA4–MA6, MS1); ``MixpanelEngine`` validates records per MA7–MA19,
deduplicates events on ``$insert_id`` and resolves users under one of the three ID-merge
models (``legacy`` alias table, ``original`` clusters, ``simplified`` device/user links;
M-SERVER MS6–MS20), and answers what Mixpanel answers, partial successes included, as an
``Answer`` the HTTP layer writes unchanged (``MixpanelEngine.handle``)::

    with MixpanelEngine(model="simplified", token="mp_token") as engine:
        answer = engine.handle("track", body, query=parse_qs(url.query),
                               content_type=headers["Content-Type"])
        person = engine.person("sally@gmail.com")  # canonical id, ids, profile
        history = engine.events("sally@gmail.com")  # oldest first

Local rules where Mixpanel documents nothing (spec §8 D15): ``time`` ≥ 1e11 is milliseconds;
the alias table refuses cycles; Original's GUID test is a UUID v4 with an optional ``$device:``
prefix; Original's canonical id is the earliest identified id of a cluster, else its earliest
id; a Simplified device keeps its first user; merges apply at once (Mixpanel: up to 24 h).

Imports: the standard library, ``posthog_client._log`` and the server's helpers
(``server._payload``: gzip and base64 decoding; ``server._properties``: JSON equality;
``server._strings``: compact JSON text; ``server._sqlite``: the connection, transactions and
engine lifecycle the PostHog engine uses too). Nothing of the SDK's client or delivery code,
and nothing of the server's HTTP layer.
"""

from __future__ import annotations

from ._answers import Access, Answer, ServiceAccount, import_access
from ._body import (
    BODY_LIMIT,
    IMPORT_BODY_LIMIT,
    MAX_RECORDS,
    DecodedBody,
    MixpanelRequestError,
    decode_mixpanel_body,
)
from ._engine import DEFAULT_TOKEN, MixpanelEngine
from ._models import (
    ID_MERGE_MODELS,
    Endpoint,
    FailedRecord,
    IdMerge,
    IngestReport,
    MixpanelEvent,
    MixpanelGroup,
    MixpanelPerson,
    Refusal,
)

__all__ = [
    "BODY_LIMIT",
    "DEFAULT_TOKEN",
    "ID_MERGE_MODELS",
    "IMPORT_BODY_LIMIT",
    "MAX_RECORDS",
    "Access",
    "Answer",
    "DecodedBody",
    "Endpoint",
    "FailedRecord",
    "IdMerge",
    "IngestReport",
    "MixpanelEngine",
    "MixpanelEvent",
    "MixpanelGroup",
    "MixpanelPerson",
    "MixpanelRequestError",
    "Refusal",
    "ServiceAccount",
    "decode_mixpanel_body",
    "import_access",
]
