"""Flags of any user, for backends and explicit ids (SR1–SR8): decided locally from polled
definitions when a secret key allows it and they suffice, else asked of ``/flags``, one
request per call with no result cache (SR2)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from .._exceptions import TransportError
from .._log import logger
from .reporting import FLAG_CALLED, CallDedup, answer_errors, flag_called_properties
from .transport import FlagsTransport, error_code
from .values import FlagInfo, FlagSet, read_flags_response

if TYPE_CHECKING:
    from .local import LocalEvaluator

__all__ = ["Evaluation", "FlagTarget", "RemoteFlags"]


class FlagTarget(NamedTuple):
    """Whom a backend evaluates flags for, and what it passed about them."""

    distinct_id: str
    groups: Mapping[str, Any]
    person_properties: Mapping[str, Any]
    group_properties: Mapping[str, Mapping[str, Any]]
    device_id: str | None
    geoip_disable: bool


class Evaluation(NamedTuple):
    """One flag for one user: its value (None: unknown or failed) and what to report."""

    value: bool | str | None
    info: FlagInfo | None = None
    answer: FlagSet | None = None
    errors: tuple[str, ...] = ()
    locally: bool = False


class RemoteFlags:
    """Evaluates flags for a ``FlagTarget`` and reports reads once per user (SR4)."""

    def __init__(
        self,
        transport: FlagsTransport,
        *,
        runtime: str,
        local: LocalEvaluator | None,
        send: Callable[[str, dict[str, Any], str], object],
    ) -> None:
        self._transport = transport
        self._runtime = runtime
        self.local = local
        self._send = send
        self._dedup = CallDedup()

    def evaluate(self, key: str, target: FlagTarget, *, only_local: bool) -> Evaluation:
        if self.local is not None:
            verdict = self.local.decide(key, target)
            if verdict is not None:
                return Evaluation(verdict.value, verdict.info, locally=True)
        if only_local:
            return Evaluation(None)
        answer, errors = self._ask(target, [key])
        info = answer.flags.get(key) if answer is not None else None
        if answer is not None:
            errors = answer_errors(answer, key)
        value = info.value if info is not None and not info.failed else None
        return Evaluation(value, info, answer, tuple(errors))

    def evaluate_all(self, target: FlagTarget, *, only_local: bool) -> dict[str, FlagInfo]:
        """SR6: what the definitions decide; one request without flag keys if anything is
        left (its answer then wins)."""
        decided: dict[str, FlagInfo] = {}
        pending = True
        if self.local is not None:
            verdicts, pending = self.local.decide_all(target)
            decided = {key: verdict.info for key, verdict in verdicts.items()}
        if pending and not only_local:
            answer, _ = self._ask(target, None)
            if answer is not None and not answer.quota_limited:
                decided.update((k, v) for k, v in answer.flags.items() if not v.failed)
        return decided

    def report(self, key: str, evaluation: Evaluation, target: FlagTarget, **extra: Any) -> None:
        """``$feature_flag_called`` for ``target``, unless already reported for this user."""
        if not self._dedup.first(target.distinct_id, key, evaluation.value, target.groups):
            return
        props = flag_called_properties(
            key,
            evaluation.value,
            evaluation.info,
            evaluation.answer,
            errors=evaluation.errors,
            locally_evaluated=evaluation.locally,
            **extra,
        )
        if target.groups:
            props["$groups"] = dict(target.groups)
        self._send(FLAG_CALLED, props, target.distinct_id)

    def close(self) -> None:
        if self.local is not None:
            self.local.close()

    def after_fork(self) -> None:
        self._dedup = CallDedup()  # the parent's lock may be held; its memory is the parent's
        if self.local is not None:
            self.local.after_fork()

    def _ask(self, target: FlagTarget, keys: list[str] | None) -> tuple[FlagSet | None, list[str]]:
        body: dict[str, Any] = {
            "token": self._transport.api_key,
            "distinct_id": target.distinct_id,
            "groups": dict(target.groups),
            "person_properties": dict(target.person_properties),
            "group_properties": {k: dict(v) for k, v in target.group_properties.items()},
            "geoip_disable": target.geoip_disable,
            "evaluation_runtime": self._runtime,
        }
        if target.device_id is not None:
            body["device_id"] = target.device_id
        if keys is not None:
            body["flag_keys_to_evaluate"] = keys
        try:
            return read_flags_response(self._transport.flags(body)), []
        except (TransportError, ValueError) as exc:
            code = error_code(exc)
            logger.warning("feature flags request failed (%s)", code)
            return None, [code]
