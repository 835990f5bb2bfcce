"""What the integrations share: missing frameworks, and the limit on bad-header warnings."""

from __future__ import annotations

import subprocess
import sys

import pytest

from posthog_client.integrations import _common


def test_integrations_without_their_framework_say_what_to_install() -> None:
    code = """
import sys
for framework in ("django", "flask", "starlette"):
    sys.modules[framework] = None  # as if not installed
import posthog_client
for name in ("django", "flask", "asgi"):
    try:
        __import__("posthog_client.integrations." + name)
    except posthog_client.IntegrationUnavailable as exc:
        assert isinstance(exc, ImportError)
        print(exc)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    assert out == [
        "pip install 'posthog-client[django]'",
        "pip install 'posthog-client[flask]'",
        "pip install 'posthog-client[asgi]'",
    ]


def test_the_package_never_imports_a_framework() -> None:
    code = (
        "import sys, posthog_client, posthog_client.integrations._common;"
        "print([m for m in sys.modules if m.split('.')[0] in ('django', 'flask', 'starlette')])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_warnings_are_limited_per_source_and_count_what_was_held_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [1000.0]
    throttle = _common._Throttle(60.0, clock=lambda: now[0])
    for _ in range(3):
        throttle.warn("X-POSTHOG-DISTINCT-ID", "bad %s", "header")
    throttle.warn("user_id", "bad %s", "user")  # another source has its own limit
    now[0] += 61
    throttle.warn("X-POSTHOG-DISTINCT-ID", "bad %s", "header")
    assert [r.getMessage() for r in caplog.records] == [
        "bad header",
        "bad user",
        "bad header (and 2 more since the last warning)",
    ]
