"""The exceptions of ``posthog_client``, one tree::

    PostHogError
    ├── ConfigurationError (ValueError)       bad option or environment value (Client()/init())
    ├── InvalidDistinctIdError (ValueError)   strict mode only: an id PostHog would refuse
    ├── InvalidEventError (ValueError)        strict mode only: empty name, oversized, bad property
    ├── IntegrationUnavailable (ImportError)  an integration imported without its framework
    └── TransportError                        raised by backends to the delivery pipeline
        ├── RetryableTransportError           network error, timeout, 408, 429, 5xx
        └── RejectedError                     a final 4xx; carries ``status_code``
            └── PayloadTooLargeError          413

After ``init`` the SDK never raises into the host application except in strict mode; transport
errors stay inside the background worker, which counts and logs them.

Example::

    try:
        client = posthog_client.Client("phc_...", strict=True)
        client.identify("null")
    except posthog_client.PostHogError as exc:
        print("refused:", exc)
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "IntegrationUnavailable",
    "InvalidDistinctIdError",
    "InvalidEventError",
    "PayloadTooLargeError",
    "PostHogError",
    "RejectedError",
    "RetryableTransportError",
    "TransportError",
]


class PostHogError(Exception):
    """Base class of every error raised by ``posthog_client``."""


class ConfigurationError(PostHogError, ValueError):
    """An option passed to ``Client``/``init`` or read from the environment is invalid."""


class InvalidDistinctIdError(PostHogError, ValueError):
    """A distinct id PostHog would refuse (empty, whitespace, or on its illegal-id list)."""


class InvalidEventError(PostHogError, ValueError):
    """An event that cannot be sent as given (strict mode only)."""


class IntegrationUnavailable(PostHogError, ImportError):
    """A framework integration was imported but the framework is not installed."""


class TransportError(PostHogError):
    """A batch could not be delivered by a backend."""


class RetryableTransportError(TransportError):
    """A failure worth retrying: network error, timeout, 408, 429 or 5xx.

    ``retry_after_s`` carries the server's ``Retry-After`` hint when it sent one.
    """

    def __init__(
        self, message: str, *, status_code: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after_s = retry_after_s


class RejectedError(TransportError):
    """A final refusal (400, 401, 403, …): retrying the same batch cannot succeed."""

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class PayloadTooLargeError(RejectedError):
    """HTTP 413: the batch is too large; smaller batches may succeed."""

    def __init__(self, message: str, *, status_code: int = 413) -> None:
        super().__init__(message, status_code=status_code)
