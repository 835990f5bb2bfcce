"""Feature flag evaluation, shared by the SDK's local evaluation and the reference server.

One engine, bit-exact with PostHog's flag service (``flags-spec.md`` E1–E22): hashing and
rollouts, variants, every property operator with PostHog's coercions, cohorts, flag
dependencies, group flags, holdouts, early access, reasons and payloads. Around it: reading
the definitions JSON (``/flags/definitions``, or a ``flags.json``), reading a ``/flags``
request body, and building the ``/flags`` answer from definitions and stored data.

May import: only the standard library and the shared leaves ``posthog_client._exceptions``,
``posthog_client._log`` and ``posthog_client._types``; nothing imports from the client, the
server or the network. Nothing here runs at import time; load it lazily.

Decisions (spec §8 and where the spec left a choice):

- D10 local evaluation: adopted, with the *server's* semantics rather than posthog-python's
  (E22). ``evaluate_flag(..., local=True)`` decides exactly what ``/flags`` would decide from
  the same data and answers :class:`Inconclusive` (a result, never an exception) when PostHog
  holds something the SDK does not: a property the caller did not pass (for any operator,
  ``is_not_set`` included), a static cohort, a group type index missing from
  ``group_type_mapping``, an experience-continuity hash key, early-access enrollment, a
  dependency on a flag missing from the definitions; or when this engine cannot be sure to
  read a value as the Rust service does (a regex Python refuses, a date shape beyond RFC 3339,
  naive dates, Unix timestamps and RFC 2822). Equality lowercases, ``gt``/``lt`` compare as
  numbers, ``null`` reads as ``"null"``, semver strips leading zeros, as the service does.
  An undecidable condition does not stop a later matching one from deciding the flag, but only
  when both would give the same value (same variant): posthog-python lets the later match win
  regardless, which can report a variant ``/flags`` would not (spec T16 locally).
  A missing ``device_id`` for a device-bucketed flag is decided (``out_of_rollout_bound``), not
  deferred: ``/flags`` has no more information. Local reason codes are the engine's; they equal
  the server's when nothing was undecidable.
- D13 reference server: definitions in the ``/flags/definitions`` JSON shape (strict reading
  of a ``flags.json``: the first problem is a ``ConfigurationError`` naming its path; flags
  without an id get ids after the largest given one); dynamic cohorts from that file, static
  cohort membership passed in by the server; GeoIP off; team time zone UTC unless given;
  ``quota_limited`` is a test switch.
- Payloads are only sent for enabled flags (E7), also for early-access answers.

Known differences from the Rust service, all on inputs real projects rarely have: Python's
``re`` has no backtracking limit (patterns come from the project's own definitions) and a few
syntax differences; the service's last-resort date parser knows shapes this one does not
(server evaluation reads them as no match, local evaluation defers); cohorts apply a
filter's ``negation`` in OR groups too.
"""

from __future__ import annotations

from ._engine import evaluate_flag, evaluate_flags
from ._hashing import bucket
from ._model import (
    Condition,
    Definitions,
    FlagDefinition,
    Holdout,
    PropertyFilter,
    PropertyGroup,
    Variant,
)
from ._outcome import FlagResult, Inconclusive, Subject
from ._parse import parse_definitions
from ._request import FlagsRequest, detect_runtime, excluded_flags, parse_flags_request
from ._response import (
    build_flags_response,
    flag_details,
    group_properties_for,
    legacy_response,
    person_properties_for,
)

__all__ = [
    "Condition",
    "Definitions",
    "FlagDefinition",
    "FlagResult",
    "FlagsRequest",
    "Holdout",
    "Inconclusive",
    "PropertyFilter",
    "PropertyGroup",
    "Subject",
    "Variant",
    "bucket",
    "build_flags_response",
    "detect_runtime",
    "evaluate_flag",
    "evaluate_flags",
    "excluded_flags",
    "flag_details",
    "group_properties_for",
    "legacy_response",
    "parse_definitions",
    "parse_flags_request",
    "person_properties_for",
]
