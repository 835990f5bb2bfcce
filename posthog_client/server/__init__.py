"""A local reference server for PostHog's ingestion API, with PostHog's person-merge rules.

Point any PostHog SDK (this one, posthog-python, posthog-js…) at it to see identity
resolution work end to end, offline: anonymous events, ``$identify``, ``$create_alias`` and
``$merge_dangerously`` merge persons exactly as PostHog's ingestion does (refusals and
ingestion warnings included), the query API returns a person by any of its distinct ids,
with its full event history, and a person explorer at ``/`` shows it all in a browser.

From a shell: ``posthog-client serve`` (or ``python -m posthog_client.server``). In-process::

    from posthog_client.server import LocalServer

    with LocalServer(api_key="phc_local") as server:
        ...  # send events to server.url
        person = server.engine.person("user-42")

``PersonEngine`` is the same engine without HTTP: ``ingest(events)`` and queries.
``LocalServer(flags=...)`` (``posthog-client serve --flags flags.json``) also answers feature
flags, with the SDK's own evaluation engine over the persons and groups it ingested.

Started with ``identity="mixpanel-simplified"`` (or ``"mixpanel-original"``, ``"mixpanel-legacy"``;
``posthog-client serve --identity ...``) it is Mixpanel's ingestion API instead, resolving users
under that ID-merge model (``server.mixpanel``, a ``mixpanel.MixpanelEngine``).
"""

from __future__ import annotations

from ._engine import PersonEngine
from ._flag_source import FlagSource, FlagsSpec
from ._local import DEFAULT_API_KEY, IDENTITY_MODES, Identity, LocalServer
from ._models import (
    Group,
    IngestionWarning,
    IngestResult,
    MergeOutcome,
    MergeRecord,
    Person,
    PersonMode,
    PropertySource,
    RequestRejectedError,
    StoredEvent,
)

__all__ = [
    "DEFAULT_API_KEY",
    "IDENTITY_MODES",
    "FlagSource",
    "FlagsSpec",
    "Group",
    "Identity",
    "IngestResult",
    "IngestionWarning",
    "LocalServer",
    "MergeOutcome",
    "MergeRecord",
    "Person",
    "PersonEngine",
    "PersonMode",
    "PropertySource",
    "RequestRejectedError",
    "StoredEvent",
]
