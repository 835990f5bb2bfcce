"""PostHog analytics for Python apps, with the identity model of PostHog's client SDKs.

A persisted anonymous id per install, ``identify`` that merges it into the user once per
session, ``alias``, ``reset`` on logout, and delivery that loses nothing::

    import posthog_client as posthog

    posthog.init("phc_...", host="https://eu.i.posthog.com")
    posthog.capture("file_opened", {"size_kb": 12})
    posthog.identify("user_42", {"email": "a@b.c"})
"""

from __future__ import annotations

from ._api import (
    alias,
    capture,
    capture_exception,
    consent_status,
    feature_enabled,
    flush,
    get_all_flags,
    get_client,
    get_device_id,
    get_distinct_id,
    get_feature_flag,
    get_feature_flag_payload,
    get_remote_config_payload,
    get_session_id,
    group,
    has_opted_out,
    identify,
    init,
    is_identified,
    merge_dangerously,
    on_feature_flags,
    opt_in,
    opt_out,
    override_feature_flags,
    register,
    register_once,
    reload_feature_flags,
    reset,
    set_person_properties,
    shutdown,
    unregister,
    unset_person_properties,
    wait_for_flags,
)
from ._client import Client
from ._context import new_context
from ._delivery.backend import Backend
from ._delivery.contract import FlushResult
from ._delivery.report import DeliveryProblem
from ._exceptions import (
    ConfigurationError,
    IntegrationUnavailable,
    InvalidDistinctIdError,
    InvalidEventError,
    PayloadTooLargeError,
    PostHogError,
    RejectedError,
    RetryableTransportError,
    TransportError,
)
from ._identity.consent import ConsentStatus
from ._identity.context import identify_context, set_context_session, tag
from ._linking import build_deep_link, handle_deep_link, tracing_headers
from ._types import MixpanelServiceAccount
from ._version import __version__

__all__ = [
    "Backend",
    "Client",
    "ConfigurationError",
    "ConsentStatus",
    "DeliveryProblem",
    "FlushResult",
    "IntegrationUnavailable",
    "InvalidDistinctIdError",
    "InvalidEventError",
    "MixpanelServiceAccount",
    "PayloadTooLargeError",
    "PostHogError",
    "RejectedError",
    "RetryableTransportError",
    "TransportError",
    "__version__",
    "alias",
    "build_deep_link",
    "capture",
    "capture_exception",
    "consent_status",
    "feature_enabled",
    "flush",
    "get_all_flags",
    "get_client",
    "get_device_id",
    "get_distinct_id",
    "get_feature_flag",
    "get_feature_flag_payload",
    "get_remote_config_payload",
    "get_session_id",
    "group",
    "handle_deep_link",
    "has_opted_out",
    "identify",
    "identify_context",
    "init",
    "is_identified",
    "merge_dangerously",
    "new_context",
    "on_feature_flags",
    "opt_in",
    "opt_out",
    "override_feature_flags",
    "register",
    "register_once",
    "reload_feature_flags",
    "reset",
    "set_context_session",
    "set_person_properties",
    "shutdown",
    "tag",
    "tracing_headers",
    "unregister",
    "unset_person_properties",
    "wait_for_flags",
]
