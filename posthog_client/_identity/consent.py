"""Whether a client may send, and why not: the environment, the app's option, the user, CI, the
app's default, or a first-run notice still to be shown."""

from __future__ import annotations

from typing import Literal, NamedTuple

__all__ = ["ConsentStatus", "consent_status"]

Blocker = Literal["environment", "option", "user", "ci", "default", "notice"]


class ConsentStatus(NamedTuple):
    """Whether a client sends events and, if not, what stops it (``Client.consent_status()``).

    ``blocked_by`` is ``"environment"`` (``variable`` names it, e.g. ``DO_NOT_TRACK``),
    ``"option"`` (``disabled=True``) or ``"user"`` (``opt_out()``); an app's telemetry
    (``posthog_client.telemetry``) adds ``"ci"`` (``variable`` names the CI variable found),
    ``"default"`` (off unless the user turns it on) and ``"notice"`` (the first-run notice is
    shown before anything is sent). ``changed_at`` is when the user last opted out or in (ISO
    8601 UTC), if ever. ``reason`` says it in one sentence.

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
    env_variable: str | None,
    disabled: bool,
    choice: tuple[bool, str | None] | None,
    *,
    ci_variable: str | None = None,
    default: bool = True,
    notice_pending: bool = False,
) -> ConsentStatus:
    """Strongest first: an environment opt-out, the app's ``disabled``, the user's opt-out, a CI
    run (``ci_variable``), the user's opt-in, the app's ``default``, then a pending notice.

    ``choice`` is the user's persisted (opted out?, when) or None if never made.
    """
    changed_at = choice[1] if choice else None
    when = f" on {changed_at[:10]}" if changed_at else ""
    if env_variable is not None:
        return ConsentStatus(
            False, f"{env_variable} is set in the environment", "environment", env_variable,
            changed_at,
        )  # fmt: skip
    if disabled:
        return ConsentStatus(False, "the app passed disabled=True", "option", None, changed_at)
    if choice is not None and choice[0]:
        return ConsentStatus(False, f"opted out by the user{when}", "user", None, changed_at)
    if ci_variable is not None:
        reason = f"a CI run ({ci_variable} is set)"
        return ConsentStatus(False, reason, "ci", ci_variable, changed_at)
    if choice is None and not default:
        return ConsentStatus(False, "off unless the user turns it on", "default")
    if notice_pending:
        reason = "the first-run notice is shown before anything is sent"
        return ConsentStatus(False, reason, "notice", None, changed_at)
    if choice is not None:
        return ConsentStatus(True, f"opted in by the user{when}", None, None, changed_at)
    return ConsentStatus(True, "sending is on")
