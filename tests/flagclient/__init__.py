"""Tests of the SDK side of feature flags (``posthog_client._flagclient``)."""
