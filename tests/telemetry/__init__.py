"""Tests of the telemetry kit for apps (``posthog_client.telemetry``)."""
