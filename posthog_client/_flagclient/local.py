"""Local evaluation for backends (SR9–SR11, decision D10): flag definitions polled with the
secret key (a personal API key or a project secret API key), evaluated by the same engine as
the reference server's ``/flags``.

The first flag call loads the definitions (waiting at most the flag timeout); a daemon thread
then polls every ``poll_interval_s`` with the last ``ETag``. A 304 keeps them, 401 and 402 drop
them (the key was revoked, the quota ran out), other failures keep them. This module, which
imports the engine (``posthog_client._flags``), is imported only when a secret key is set.
"""

from __future__ import annotations

import os
import threading
from typing import NamedTuple

from .._exceptions import TransportError
from .._flags import Definitions, FlagResult, Subject, evaluate_flag, parse_definitions
from .._log import logger
from .remote import FlagTarget
from .transport import FlagsTransport, error_code
from .values import FlagInfo

__all__ = ["LocalEvaluator", "Verdict"]


class Verdict(NamedTuple):
    """A locally decided flag."""

    value: bool | str
    info: FlagInfo


class LocalEvaluator:
    def __init__(self, transport: FlagsTransport, poll_interval_s: float) -> None:
        self._transport = transport
        self._interval = poll_interval_s
        self._definitions: Definitions | None = None
        self._etag: str | None = None
        self._lock = threading.Lock()
        self._loaded = False
        self._stop = threading.Event()
        self._pid = os.getpid()
        self._thread: threading.Thread | None = None

    def decide(self, key: str, target: FlagTarget) -> Verdict | None:
        """The flag's value if the definitions decide it; None to ask ``/flags``."""
        definitions = self._current()
        if definitions is None:
            return None
        result = evaluate_flag(definitions, key, _subject(target), local=True)
        if not isinstance(result, FlagResult):
            if result is not None:
                logger.debug("flag %r deferred to /flags: %s", key, result.why)
            return None
        flag = definitions.flags[key]
        info = FlagInfo(
            result.value,
            result.payload,
            flag.id,
            flag.version,
            result.description or result.reason,
            flag.has_experiment,
        )
        return Verdict(result.value, info)

    def decide_all(self, target: FlagTarget) -> tuple[dict[str, Verdict], bool]:
        """Every flag the definitions decide, and whether any needs ``/flags`` (or none are
        loaded)."""
        definitions = self._current()
        if definitions is None:
            return {}, True
        decided: dict[str, Verdict] = {}
        complete = True
        for key, flag in definitions.flags.items():
            if not flag.active:  # absent from /flags answers too (E3)
                continue
            verdict = self.decide(key, target)
            if verdict is None:
                complete = False
            else:
                decided[key] = verdict
        return decided, not complete

    def reload(self) -> bool:
        """Poll now (on the caller's thread); whether definitions are loaded."""
        with self._lock:
            self._poll()
            self._loaded = True
        return self._definitions is not None

    def close(self) -> None:
        self._stop.set()

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        self._pid, self._thread = os.getpid(), None

    def _current(self) -> Definitions | None:
        if self._pid != os.getpid():  # forked: the poller thread stayed in the parent
            self._pid, self._thread = os.getpid(), None
        if not self._loaded:
            with self._lock:
                if not self._loaded:
                    self._poll()
                    self._loaded = True
        if self._thread is None and not self._stop.is_set():
            thread = threading.Thread(target=self._run, name="posthog_client.flag_poller")
            thread.daemon = True
            self._thread = thread
            thread.start()
        return self._definitions

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._poll()

    def _poll(self) -> None:
        try:
            answer = self._transport.definitions(self._etag)
        except TransportError as exc:
            if getattr(exc, "status_code", None) in (401, 402):
                logger.warning(
                    "flag definitions refused (%s): evaluating remotely", error_code(exc)
                )
                self._definitions, self._etag = None, None
            else:
                logger.info("flag definitions not refreshed (%s)", error_code(exc))
            return
        except ValueError as exc:
            logger.warning("flag definitions unreadable: %s", exc)
            return
        if answer.data is None:
            return
        try:
            self._definitions = parse_definitions(answer.data)
        except Exception as exc:  # a ConfigurationError on a broken document: keep the last
            logger.warning("flag definitions not used: %s", exc)
            return
        self._etag = answer.etag
        logger.debug("flag definitions loaded: %d flags", len(self._definitions.flags))


def _subject(target: FlagTarget) -> Subject:
    """The engine's subject: what the caller passed, plus ``distinct_id`` and each group's
    ``$group_key`` (SR11)."""
    groups = {str(k): v for k, v in target.groups.items()}
    group_properties = {
        name: {"$group_key": str(key), **target.group_properties.get(name, {})}
        for name, key in groups.items()
    }
    person = {"distinct_id": target.distinct_id, **target.person_properties}
    return Subject(
        distinct_id=target.distinct_id,
        person_properties=person,
        groups=groups,
        group_properties=group_properties,
        device_id=target.device_id,
    )
