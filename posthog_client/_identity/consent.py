"""Whether a client may send, and why not: the environment, the app's option, or the user."""

from __future__ import annotations

from typing import Literal, NamedTuple

__all__ = ["ConsentStatus", "consent_status"]

Blocker = Literal["environment", "option", "user"]


class ConsentStatus(NamedTuple):
    """Whether a client sends events and, if not, what stops it (``Client.consent_status()``).

    ``blocked_by`` is ``"environment"`` (``variable`` names it, e.g. ``DO_NOT_TRACK``),
    ``"option"`` (``disabled=True``) or ``"user"`` (``opt_out()``); ``changed_at`` is when the
    user last opted out or in (ISO 8601 UTC), if ever. ``reason`` says it in one sentence.

    Example::

        status = client.consent_status()
        if not status.sending:
            print(f"telemetry is off: {status.reason}")
    """

    sending: bool
    reason: str
    blocked_by: Blocker | None = None
    variable: str | None = None
    changed_at: str | None = None


def consent_status(
    env_variable: str | None, disabled: bool, choice: tuple[bool, str | None] | None
) -> ConsentStatus:
    """Strongest first: an environment opt-out, the app's ``disabled``, the user's choice."""
    changed_at = choice[1] if choice else None
    if env_variable is not None:
        return ConsentStatus(
            False, f"{env_variable} is set in the environment", "environment", env_variable,
            changed_at,
        )  # fmt: skip
    if disabled:
        return ConsentStatus(False, "the app passed disabled=True", "option", None, changed_at)
    if choice is not None and choice[0]:
        when = f" on {changed_at[:10]}" if changed_at else ""
        return ConsentStatus(False, f"opted out by the user{when}", "user", None, changed_at)
    return ConsentStatus(True, "sending is on", None, None, changed_at)
