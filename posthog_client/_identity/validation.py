"""Checks of distinct ids given to the public API (R6, V1–V6, decision A8)."""

from __future__ import annotations

from .._exceptions import InvalidDistinctIdError
from .._log import clip_repr, logger, warn_once
from .ids import illegal_id_reason, merge_refusal_reason

__all__ = ["IdChecker"]


class IdChecker:
    """Turns caller ids into strings, refusing the ones PostHog would refuse or misread."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict

    def for_identity(self, operation: str, value: object) -> str | None:
        """The id for identify/alias/merge_dangerously, or None (logged) if it must be refused."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            logger.warning(
                "%s() got the number %r as distinct id; using %r", operation, value, str(value)
            )
            value = str(value)
        reason = illegal_id_reason(value)
        if reason is None:
            assert isinstance(value, str)
            return value
        message = f"{operation}({clip_repr(value)}) refused: {reason}; nothing was sent or changed"
        if self.strict:
            raise InvalidDistinctIdError(message)
        logger.warning("%s", message)
        return None

    def for_capture(self, value: object) -> str | None:
        """An explicit capture id; None when empty (PostHog would reject the whole batch, W14)."""
        if not isinstance(value, str):
            warn_once(
                f"capture-id-type-{type(value).__name__}",
                "capture(distinct_id=...) got a %s; sending str() of it",
                type(value).__name__,
            )
            try:
                value = str(value)
            except Exception as exc:  # a broken __str__: no id to send
                if self.strict:
                    raise InvalidDistinctIdError(
                        f"str() of the distinct id failed: {exc!r}"
                    ) from exc
                return None
        if not value.strip():
            if self.strict:
                raise InvalidDistinctIdError(
                    f"distinct id {clip_repr(value)} is empty or whitespace"
                )
            return None
        reason = merge_refusal_reason(value)
        if reason is not None:  # V6: ingested, but can never be merged
            warn_once(
                f"capture-id-{value}",
                "capture(distinct_id=%s): %s; PostHog will never merge this id with another",
                clip_repr(value),
                reason,
            )
        return value
