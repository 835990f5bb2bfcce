"""Tests of the ``posthog-client`` subcommands besides ``serve`` (``posthog_client._cli``)."""
