"""The analytics session (SE1–SE6, decision A6), shared by every process of a project.

A session ends after ``idle_timeout_s`` without events or after 24 hours. Its id and start live
in the persisted state; its last activity is tracked in memory and, like posthog-js shares it
between tabs, written for the other processes at most every 5 seconds (a lock-free mtime bump)
and once more at shutdown or exit. A process whose own activity is too old to continue the
session asks the disk before starting a new one, so it continues a session a sibling kept alive
or adopts the one a sibling started; a short CLI run started within the idle window continues
the previous run's session.

Reading the session id never extends it (SE4). Once the idle timeout has passed, reading it
starts the next session: the id returned is the one the next event carries, never an expired one.
"""

from __future__ import annotations

from typing import Final

from .._config import SESSION_MAX_LENGTH_S
from .._events.uuid7 import uuid7
from .state import IdentityState, StateStore

__all__ = ["ACTIVITY_PERSIST_MS", "SessionTracker"]

# How stale this process's activity may look to the others: posthog-js's granularity, a small
# fraction of any idle timeout worth having.
ACTIVITY_PERSIST_MS: Final = 5_000
_MAX_LENGTH_MS: Final = int(SESSION_MAX_LENGTH_S * 1000)


class SessionTracker:
    def __init__(self, store: StateStore, idle_timeout_s: float) -> None:
        self._store = store
        self._idle_ms = int(idle_timeout_s * 1000)
        # (session id, last activity ms, last activity ms written to disk) of this process
        self._activity: tuple[str | None, int, int] = (None, 0, 0)
        # Events need no more than this while the state is the same object and the time is in
        # [from, until): the session is live and no activity is due on disk. ``_latest_ms``
        # is their last activity, folded into ``_activity`` by the next full pass.
        self._fast: tuple[IdentityState | None, int, int] = (None, 0, 0)
        self._latest_ms = 0

    def session_id(self, now_ms: int, *, active: bool) -> str:
        """The current session id; ``active`` marks an event (reading alone does not extend it)."""
        state = self._store.current()
        fast = self._fast
        if active and state is fast[0] and fast[1] <= now_ms < fast[2]:
            if now_ms > self._latest_ms:
                self._latest_ms = now_ms
            return state.session_id  # type: ignore[return-value]  # (not None: see _fast)
        session, last_ms, persisted_ms = self._activity
        if session != state.session_id:  # first use, or another process changed the session
            last_ms = persisted_ms = state.session_last_ms
        else:
            last_ms = max(last_ms, self._latest_ms)
        if state.session_id is not None and self._live(state, last_ms, now_ms):
            if active:
                if abs(now_ms - persisted_ms) >= ACTIVITY_PERSIST_MS:
                    self._store.record_activity(now_ms)
                    persisted_ms = now_ms
                last_ms = max(now_ms, last_ms)
                self._fast = (state, *self._fast_window(state, last_ms, persisted_ms))
            self._activity = (state.session_id, last_ms, persisted_ms)
            self._latest_ms = last_ms
            return state.session_id
        return self._adopt_or_renew(now_ms, active)

    def _fast_window(
        self, state: IdentityState, last_ms: int, persisted_ms: int
    ) -> tuple[int, int]:
        """When events can skip the checks: live whatever the time in the window (both ends
        within the idle timeout of ``last_ms``, inside the 24 hours) and no activity due."""
        start_ms, idle_ms = state.session_start_ms, self._idle_ms
        until = min(
            persisted_ms + ACTIVITY_PERSIST_MS, last_ms + idle_ms, start_ms + _MAX_LENGTH_MS + 1
        )
        return max(persisted_ms, until - idle_ms, start_ms - _MAX_LENGTH_MS), until

    def flush(self) -> None:
        """Write this process's last activity for the others (at shutdown and exit).

        Skipped when another process has moved to another session meanwhile or recorded later
        activity: a stale write must not shorten or revive anything.
        """
        session, last_ms, persisted_ms = self._activity
        last_ms = max(last_ms, self._latest_ms)
        if session is None or last_ms == persisted_ms:
            return
        self._activity = (session, last_ms, last_ms)
        store = self._store
        try:
            store.refresh()
        except OSError:  # unreadable now: the session may end a little early, nothing worse
            return
        if store.current().session_id == session and store.activity_ms() < last_ms:
            store.record_activity(last_ms)

    def forget(self) -> None:
        """After ``reset()``: the next event starts a new session (R17)."""
        self._activity = (None, 0, 0)
        self._fast = (None, 0, 0)
        self._latest_ms = 0

    def _live(self, state: IdentityState, last_ms: int, now_ms: int) -> bool:
        # abs(), as posthog-js: a clock set back by more than the timeout ends the session too
        return (
            abs(now_ms - last_ms) <= self._idle_ms
            and abs(now_ms - state.session_start_ms) <= _MAX_LENGTH_MS
        )

    def _adopt_or_renew(self, now_ms: int, active: bool) -> str:
        """Continue the session another process kept alive or started, or start a new one."""
        store = self._store
        state = store.current()
        last_ms = max(state.session_last_ms, store.activity_ms())
        renewed = state.session_id is None or not self._live(state, last_ms, now_ms)
        if renewed:

            def renew(s: IdentityState) -> tuple[IdentityState, None]:
                # Decide on the freshest state: another process may have renewed it meanwhile.
                if s.session_id is not None and self._live(
                    s, max(s.session_last_ms, store.activity_ms()), now_ms
                ):
                    return s, None
                return s._replace(
                    session_id=uuid7(), session_start_ms=now_ms, session_last_ms=now_ms
                ), None

            store.transact(renew)
            state = store.current()
        if active or renewed:
            store.record_activity(now_ms)
            last_ms = now_ms
        self._activity = (state.session_id, last_ms, last_ms)
        self._fast = (None, 0, 0)
        self._latest_ms = last_ms
        assert state.session_id is not None
        return state.session_id
