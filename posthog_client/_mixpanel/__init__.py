"""Mixpanel as a second backend: the pure pieces of its transport (mixpanel-spec §4, §8).

``map_event`` turns a queued event (PostHog's wire shape, as the one delivery pipeline queues
it) into Mixpanel records; ``_operations`` says what the identity operations do differently;
``_wire`` builds the requests and reads the answers. No I/O, no state: the client keeps its one
queue, worker and retry policy, and the Mixpanel transport uses these.

May import: the standard library and the shared leaves ``posthog_client._exceptions``, ``_log``,
``_types`` only.

Decisions (mixpanel-spec §8), with the reason for each:

- D1 Model: ``id_merge="simplified"`` by default (Mixpanel's default for new organizations since
  April 2024, no 500-id cap); ``"original"`` and ``"legacy"`` selectable. It cannot be detected
  and must match the project's settings.
- D2 Endpoint: every event goes to ``/import`` with the project token as Basic auth and
  ``strict=1``. ``/track`` drops events older than 5 days, and a desktop queue can wait offline
  longer; ``/import`` also takes gzip and names each invalid event.
- D3 Anonymous ids: a UUID v4 device id and ``"$device:" + id`` as the anonymous distinct id, in
  every model (Original refuses other ``$anon_id`` forms, MI9).
- D4 ``reset(reset_device_id=False)`` draws a new device id anyway, with a one-time WARNING:
  Mixpanel has no way to keep it, and the old one stays linked to the user who left.
- D5 ``alias``: refused under Simplified (False + WARNING: ``$create_alias`` does nothing there);
  under Original and legacy ``$create_alias`` alone, without mixpanel-js's follow-up
  ``$identify``: like PostHog's alias it gives the current user a second id, and the local id
  does not change, so this SDK's own events can never race ahead of the alias (MI5). The client
  does not remember the alias: Mixpanel may refuse it (a second device), and a later
  ``identify(alias)`` must then switch to that id, the seed's remedy.
- D6 After ``identify`` under Simplified: ``$identify`` is still sent (Mixpanel's SDKs do; it
  merges if the project is in fact on Original) followed by one ``"Identified"`` event carrying
  both ids, because ``$identify`` never links and a CLI may send nothing more.
- D7 Person properties set while anonymous are sent at once to ``$device:D`` (anonymous users keep
  a profile) and, under Simplified and legacy, folded (``fold_person_ops``) and replayed onto the
  user with the ``$identify``, since neither carries them over (MI17; legacy never merges).
- D8 ``merge_dangerously`` only under Original with service-account credentials (a backend;
  a desktop app must never ship the secret), else False + WARNING.
- D9 ``opt_out``/``opt_in`` send nothing to either backend (DESIGN A19); Mixpanel's SDKs delete
  the profile and track ``$opt_in``, which would send data about a user who said no.
- D10 Sessions: ``$session_id`` is sent as ``session_id`` (set Mixpanel's property-based sessions
  to it; ``$`` names are Mixpanel's own); ``$window_id`` is not sent.
- D11 Wire: ``time`` in integer milliseconds; JSON on ``/import``, form ``data=`` on ``/engage``
  and ``/groups``; ``ip=1`` for desktop apps, ``ip=0`` for backends and ``disable_geoip``.
- D12 Batches: at most 2000 records and 2 MiB uncompressed (under both documented limits), halved
  on 413.
- D13 Retries: 429, 408 and 5xx retry as for PostHog (DESIGN A10); other 4xx are final; a strict
  400 listing ``failed_records`` drops only those, the rest is ingested and never resent.
- D14 ``mp_lib = "posthog-client-python"`` (the event's ``$lib``): "python" would claim to be
  mixpanel-python.
- D16 ``region = "us" | "eu" | "in"`` picks the host; EU and India projects lose data sent to US.

Backend (``mode="server"``) events: the caller's id is the distinct id and the ``$user_id``; an id
starting ``$device:`` (a Mixpanel frontend's anonymous id) is a ``$device_id``; a personless event
has the empty distinct id, Mixpanel's "no user".
"""

from __future__ import annotations

from ._limits import MAX_ENTRIES, fit_properties
from ._mapping import LINK_EVENT, MixpanelRecord, MixpanelSettings, RecordKind, map_event
from ._operations import (
    DEVICE_PREFIX,
    ID_MERGE_MODELS,
    RESERVED_PROPERTIES,
    IdMerge,
    alias_refusal,
    device_distinct_id,
    fold_person_ops,
    identify_refusal,
    merge_refusal,
    new_device_id,
    person_updates,
    reserved_properties,
    reset_warning,
)
from ._wire import (
    HOSTS,
    MAX_BATCH_BYTES,
    MAX_RECORDS,
    Region,
    WireRequest,
    check_import_answer,
    check_update_answer,
    import_request,
    update_request,
)

__all__ = [
    "DEVICE_PREFIX",
    "HOSTS",
    "ID_MERGE_MODELS",
    "LINK_EVENT",
    "MAX_BATCH_BYTES",
    "MAX_ENTRIES",
    "MAX_RECORDS",
    "RESERVED_PROPERTIES",
    "IdMerge",
    "MixpanelRecord",
    "MixpanelSettings",
    "RecordKind",
    "Region",
    "WireRequest",
    "alias_refusal",
    "check_import_answer",
    "check_update_answer",
    "device_distinct_id",
    "fit_properties",
    "fold_person_ops",
    "identify_refusal",
    "import_request",
    "map_event",
    "merge_refusal",
    "new_device_id",
    "person_updates",
    "reserved_properties",
    "reset_warning",
    "update_request",
]
