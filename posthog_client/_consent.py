"""The consent half of ``Client``: opt-out and opt-in, and why nothing is sent (A19)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ._config import Options
from ._guard import never_raises
from ._identity.consent import ConsentStatus, consent_status
from ._identity.state import StateStore
from ._log import logger

if TYPE_CHECKING:
    from ._delivery.contract import Delivery

__all__ = ["ConsentMethods"]


class ConsentMethods:
    """Mixed into ``Client``; relies on its options, store and delivery pipeline."""

    options: Options
    _store: StateStore
    _env_opt_out: str | None  # the environment variable that opts this process out
    _opt_out_env: str | None  # that, or "disabled": a choice the user cannot undo here
    _opted_out: bool

    _get_delivery: Callable[[], Delivery]  # provided by the lifecycle half of Client

    def has_opted_out(self) -> bool:
        """True when nothing is sent: ``DO_NOT_TRACK``/``POSTHOG_CLIENT_DISABLED``, ``disabled``
        or ``opt_out()`` (by this process or another one of the app)."""
        if self._opt_out_env is None:
            self._opted_out = bool(self._store.opted_out())
        return self._opted_out

    @never_raises(None)
    def opt_out(self) -> None:
        """Stop sending at once, delete the unsent queue, and remember the choice (A19)."""
        self._opted_out = True
        self._store.set_opted_out(True)
        if self._opt_out_env is None:
            purged = self._get_delivery().purge()
            logger.info("opted out; %d unsent events deleted", purged)

    @never_raises(False)
    def opt_in(self) -> bool:
        """Resume sending and remember the choice; returns whether sending is now on.

        An opt-out by the environment (``DO_NOT_TRACK``) or ``disabled=True`` still wins: then
        nothing changes, a WARNING says why, and the result is False.
        """
        if self._opt_out_env is not None:
            logger.warning("opt_in() ignored: %s; nothing is sent", self.consent_status().reason)
            return False
        self._opted_out = False
        self._store.set_opted_out(False)
        return True

    def consent_status(self) -> ConsentStatus:
        """Whether this client sends events and, if not, why (see ``ConsentStatus``)."""
        return consent_status(self._env_opt_out, self.options.disabled, self._store.consent())
