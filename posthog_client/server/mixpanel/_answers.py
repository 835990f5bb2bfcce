"""Mixpanel's answers and ``/import``'s authentication, as pure functions (MA3, MA14, MA15).

``/track``, ``/engage``, ``/groups`` and the legacy form ``/import`` answer 200 with ``1`` or
``0`` (``verbose=1``: ``{"status", "error"}``); strict ``/import`` answers JSON with a status
code, listing ``failed_records`` on a partial success. The HTTP layer writes an ``Answer`` as
it is.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from ._body import MixpanelRequestError
from ._models import Endpoint, IngestReport

__all__ = [
    "Access",
    "Answer",
    "ServiceAccount",
    "answer_error",
    "answer_report",
    "import_access",
    "unauthorized",
]

Access: TypeAlias = Literal["token", "privileged"]
"""How an ``/import`` request authenticated: the project token, or a service account or the
project secret (which ``$merge`` needs)."""


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, body and its content type."""

    status: int
    body: bytes
    content_type: str = "application/json"

    def json(self) -> Any:
        """The body decoded (``1``/``0`` decode as numbers)."""
        return json.loads(self.body)


@dataclass(frozen=True)
class ServiceAccount:
    """A Mixpanel service account; ``/import`` takes it as Basic auth plus ``?project_id=``."""

    username: str
    secret: str
    project_id: str


def import_access(
    authorization: str | None,
    project_id: str | None,
    *,
    token: str,
    api_secret: str | None = None,
    service_account: ServiceAccount | None = None,
) -> Access | None:
    """MA3: the credentials of an ``/import`` request, or None (answer ``unauthorized()``).

    Accepted: the project token as Basic user with an empty password and no ``project_id``;
    the service account with its ``project_id``; the project secret with an empty password.
    """
    user, password = _basic(authorization)
    if user is None:
        return None
    if service_account is not None and project_id is not None:
        if _same(user, service_account.username) and _same(password, service_account.secret):
            return "privileged" if _same(project_id, service_account.project_id) else None
        return None
    if password:
        return None
    if api_secret and _same(user, api_secret):
        return "privileged"
    return "token" if project_id is None and _same(user, token) else None


def unauthorized() -> Answer:
    return _json(401, {"code": 401, "error": "Invalid credentials", "status": "Unauthorized"})


def answer_report(
    endpoint: Endpoint, report: IngestReport, *, verbose: bool, strict: bool
) -> Answer:
    """The answer to a request whose records were read (MA14, MA15)."""
    if endpoint == "import" and strict:
        if report.failed:
            return _json(
                400,
                {
                    "code": 400,
                    "error": "some data points in the request failed validation",
                    "status": "Bad Request",
                    "num_records_imported": report.imported,
                    "failed_records": [failed.to_json() for failed in report.failed],
                },
            )
        return _json(200, {"code": 200, "num_records_imported": report.imported, "status": "OK"})
    # "1" = one or more records valid (ing.yaml): only a request of invalid records gets "0"
    valid = len(report.failed) < report.records
    return _received(valid, None if valid else report.failed[0].message, verbose)


def answer_error(endpoint: Endpoint, error: MixpanelRequestError, *, verbose: bool) -> Answer:
    """The answer to a request refused as a whole (undecodable, too large, too many records)."""
    if error.status == 413 or endpoint == "import":
        reason = "Request Entity Too Large" if error.status == 413 else "Bad Request"
        return _json(error.status, {"code": error.status, "error": str(error), "status": reason})
    return _received(False, str(error), verbose)


def _received(ok: bool, error: str | None, verbose: bool) -> Answer:
    if verbose:
        return _json(200, {"status": 1 if ok else 0, "error": error})
    return Answer(200, b"1" if ok else b"0", "text/plain")


def _json(status: int, payload: dict[str, Any]) -> Answer:
    return Answer(status, json.dumps(payload, separators=(",", ":")).encode())


def _basic(authorization: str | None) -> tuple[str | None, str]:
    scheme, _, encoded = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None, ""
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, ""
    user, _, password = decoded.partition(":")
    return user, password


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
