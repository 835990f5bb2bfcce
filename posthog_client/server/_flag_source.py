"""The flags a local server (or the test recorder) serves, and its answer to ``/flags``.

Flags come from a ``flags.json`` (re-read when it changes), a definitions document in the
shape of PostHog's ``/flags/definitions`` (SR10), or plain values (``{"new-ui": True,
"checkout": "v2"}``: each flag on, off or that variant for everyone). ``/flags`` is answered
by the SDK's own evaluation engine (``posthog_client._flags``) over what the server ingested:
the person's properties and the groups' (E8, E9), with the request's overrides on top.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, Union

from .._exceptions import ConfigurationError
from .._flags import (
    Definitions,
    build_flags_response,
    detect_runtime,
    legacy_response,
    parse_definitions,
    parse_flags_request,
)
from .._log import logger

if TYPE_CHECKING:
    from ._engine import PersonEngine

__all__ = ["FlagSource", "FlagsSpec", "definitions_from_values"]

FlagsSpec: TypeAlias = Union[str, "os.PathLike[str]", Mapping[str, Any], list[Any], None]
"""A ``flags.json`` path, a definitions document, or ``{key: True | False | "variant"}``."""


def definitions_from_values(
    values: Mapping[str, Any], payloads: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A definitions document giving every user ``values`` (``False`` flags exist, off)."""
    flags = []
    for number, (key, value) in enumerate(values.items(), 1):
        if not isinstance(key, str) or not isinstance(value, bool | str) or value == "":
            raise ConfigurationError(f"flag {key!r}: {value!r} is not True, False or a variant")
        filters: dict[str, Any] = {
            "groups": [{"properties": [], "rollout_percentage": 0 if value is False else 100}]
        }
        if isinstance(value, str):
            filters["multivariate"] = {"variants": [{"key": value, "rollout_percentage": 100}]}
        if payloads and key in payloads:
            filters["payloads"] = {
                value if value is not True else "true": json.dumps(payloads[key])
            }
        flags.append({"id": number, "key": key, "active": True, "filters": filters})
    return {"flags": flags}


class FlagSource:
    """Flag definitions that may change while the server runs (a file, or ``set()``)."""

    def __init__(self, flags: FlagsSpec = None) -> None:
        self._lock = threading.Lock()
        self.quota_limited = False
        """Answer as a billing-limited project does (F9): a test switch."""
        self._path: Path | None = None
        self._stamp: tuple[int, int] | None = None
        self._document: dict[str, Any] = {"flags": []}
        self._parsed: tuple[tuple[tuple[int, str], ...], Definitions] | None = None
        self.set(flags)

    def set(self, flags: FlagsSpec, payloads: Mapping[str, Any] | None = None) -> None:
        """Serve ``flags`` from now on; ``ConfigurationError`` (naming the problem) if they
        cannot be read. ``payloads`` go with plain values."""
        with self._lock:
            if isinstance(flags, str | os.PathLike):
                self._path = Path(flags)
                self._load_file(strict=True)
            else:
                self._path, self._stamp = None, None
                self._use(_document(flags, payloads))

    def document(self) -> dict[str, Any]:
        """The definitions as ``/flags/definitions`` sends them (re-read if the file changed)."""
        with self._lock:
            self._load_file(strict=False)
            return self._document

    def definitions(self, group_types: Mapping[int, str]) -> Definitions:
        """The parsed definitions, with group types the server has seen where the document
        names none (so a ``flags.json`` may leave out ``group_type_mapping``)."""
        with self._lock:
            self._load_file(strict=False)
            known = tuple(sorted(group_types.items()))
            if self._parsed is None or self._parsed[0] != known:
                raw = dict(self._document)
                mapping = {str(i): name for i, name in group_types.items()}
                mapping.update(raw.get("group_type_mapping") or {})
                raw["group_type_mapping"] = mapping
                self._parsed = (known, parse_definitions(raw, strict=True))
            return self._parsed[1]

    def answer(
        self,
        engine: PersonEngine,
        body: object,
        *,
        api_key: str | None,
        headers: Mapping[str, str],
        v2: bool = True,
    ) -> tuple[int, dict[str, Any]]:
        """The status and JSON of ``/flags`` for a decoded ``body`` (F2, F3, F6, F8, F12);
        ``api_key`` None takes any project token."""
        try:
            request = parse_flags_request(body)
        except ValueError as exc:
            return 400, {"type": "validation_error", "code": "invalid_request", "detail": str(exc)}
        if api_key is not None and request.token != api_key:
            detail = "no project token" if not request.token else "unknown project token"
            return 401, {"type": "authentication_error", "code": "invalid_token", "detail": detail}
        person = engine.person(request.distinct_id)
        answer = build_flags_response(
            self.definitions(engine.group_types()),
            request,
            stored_person=person.properties if person is not None else None,
            stored_group=engine.group_properties,
            runtime=detect_runtime(request.evaluation_runtime, headers),
            quota_limited=self.quota_limited,
        )
        return 200, answer if v2 else legacy_response(answer)

    def _load_file(self, *, strict: bool) -> None:
        path = self._path
        if path is None:
            return
        try:
            st = os.stat(path)
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp == self._stamp:
                return
            document = _document(json.loads(path.read_bytes()), None)
            parse_definitions(document, strict=True)  # the first problem, with its place
        except (OSError, ValueError) as exc:
            message = f"flag definitions {path}: {exc}"
            if strict:
                raise ConfigurationError(message) from None
            logger.warning("%s; still serving the previous flags", message)
            self._stamp = None if isinstance(exc, OSError) else stamp
            return
        self._stamp = stamp
        self._use(document)
        logger.info("local server: %d flags from %s", len(document["flags"]), path)

    def _use(self, document: dict[str, Any]) -> None:
        parse_definitions(document, strict=True)
        self._document, self._parsed = document, None


def _document(flags: object, payloads: Mapping[str, Any] | None) -> dict[str, Any]:
    """Any accepted form of flags as a definitions document."""
    if flags is None:
        return {"flags": []}
    if isinstance(flags, list):
        return {"flags": flags}
    if isinstance(flags, Mapping) and isinstance(flags.get("flags"), list):
        return dict(flags)
    if isinstance(flags, Mapping):
        return definitions_from_values(flags, payloads)
    raise ConfigurationError(
        f"flags must be a path, a definitions document or values, not {flags!r}"
    )
