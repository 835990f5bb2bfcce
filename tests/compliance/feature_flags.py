"""The feature-flag routes of the compliance adapter (posthog-sdk-test-harness ADAPTER_GUIDE.md,
``POST /get_feature_flag``), for the harness's ``feature_flags`` suite.

A separate module so the adapter mounts it with one line; the flag suite needs no capability
of its own. The call goes through the real ``Client.get_feature_flag`` of the adapter's client
(server mode, HTTP to the harness's mock server): ``/flags`` requests, their retries and the
``$feature_flag_called`` event are the SDK's own. The adapter never sets a personal API key,
so every call is remote, as ``force_remote`` asks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from posthog_client import Client

Handler = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]

# keyword arguments of Client.get_feature_flag the harness may send, under their own names
_PASSED = ("person_properties", "groups", "group_properties", "disable_geoip")


def flag_routes(current_client: Callable[[], Client | None]) -> dict[tuple[str, str], Handler]:
    """The routes to add to the adapter's table; ``current_client`` returns its client."""

    def get_feature_flag(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        client = current_client()
        if client is None:
            return 400, {"error": "SDK not initialized"}
        if not isinstance(body.get("key"), str) or "distinct_id" not in body:
            return 400, {"error": "key and distinct_id are required"}
        options = {name: body[name] for name in _PASSED if name in body}
        value = client.get_feature_flag(body["key"], distinct_id=body["distinct_id"], **options)
        return 200, {"success": True, "value": value}

    return {("POST", "/get_feature_flag"): get_feature_flag}
