"""Mixpanel requests and answers, without I/O (mixpanel-spec MA1–MA16; decisions D2, D11–D13, D16).

Events go to ``/import`` as a JSON array with ``strict=1`` (the transport gzips it),
authenticated by the project token (or a service account, which ``$merge`` needs): it takes
events of any age, so a desktop queue that waited offline for weeks is still delivered, and it
reports invalid events one by one. Profile and group updates go to ``/engage`` and ``/groups``
as a form ``data=<JSON array>`` with ``verbose=1``, as mixpanel-python sends them.
``check_*_answer`` maps each answer onto the pipeline's ``TransportError`` tree.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, NamedTuple, NoReturn
from urllib.parse import urlencode

from .._exceptions import PayloadTooLargeError, RejectedError, RetryableTransportError
from .._log import clip
from .._types import MixpanelRegion as Region
from .._types import MixpanelServiceAccount

__all__ = [
    "HOSTS",
    "MAX_BATCH_BYTES",
    "MAX_RECORDS",
    "Region",
    "WireRequest",
    "check_import_answer",
    "check_update_answer",
    "import_request",
    "update_request",
]

HOSTS: Final[Mapping[str, str]] = {  # by Region
    "us": "https://api.mixpanel.com",
    "eu": "https://api-eu.mixpanel.com",  # D16: EU and India data sent to the US host is lost
    "in": "https://api-in.mixpanel.com",
}
MAX_RECORDS: Final = 2000
"""Records per request, on every endpoint (MA13)."""
MAX_BATCH_BYTES: Final = 2 * 1024 * 1024
"""D12: uncompressed bytes per request, under both of the limits Mixpanel documents (MA13)."""


class WireRequest(NamedTuple):
    """A POST to send: path on the host, query parameters, headers and body."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


def _dumps(records: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps(list(records), ensure_ascii=False, separators=(",", ":"))


def import_request(
    records: Sequence[Mapping[str, Any]],
    *,
    token: str,
    service_account: MixpanelServiceAccount | None = None,
    geolocate: bool = True,
) -> WireRequest:
    """Events for ``/import``: JSON array, ``strict=1``, Basic auth (MA3, MA6, D2). The body is
    not compressed: the transport gzips it as it does every request body (``Content-Encoding``).

    ``geolocate`` (D11): ``ip=1`` lets Mixpanel locate a desktop user by the request's address;
    backends send ``ip=0``, since the address is the server's.
    """
    query = {"strict": "1", "ip": "1" if geolocate else "0"}
    if service_account is None:
        user, password = token, ""
    else:
        user, password = service_account.username, service_account.secret
        query["project_id"] = service_account.project_id
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    headers = {"Content-Type": "application/json", "Authorization": f"Basic {credentials}"}
    return WireRequest("/import", query, headers, _dumps(records).encode())


def update_request(
    kind: Literal["profile", "group"],
    records: Sequence[Mapping[str, Any]],
    *,
    geolocate: bool = True,
) -> WireRequest:
    """Profile updates for ``/engage`` or group updates for ``/groups``, as a form (MA17, MA19)."""
    form = {"data": _dumps(records), "verbose": "1", "ip": "1" if geolocate else "0"}
    return WireRequest(
        "/engage" if kind == "profile" else "/groups",
        {},
        {"Content-Type": "application/x-www-form-urlencoded"},
        urlencode(form).encode("ascii"),
    )


def check_import_answer(
    status: int, body: bytes, *, retry_after_s: float | None = None
) -> dict[int, str]:
    """The events strict ``/import`` refused (index → why), or raise for the whole batch (D13).

    A 400 listing ``failed_records`` is a partial success: the other events are ingested and
    must never be sent again, the listed ones are dropped (they "will consistently fail", MA16).
    Why is the refused field's name, never its value (it may be the app's data).
    """
    if status == 200:
        return {}
    payload = _json(body)
    failed = payload.get("failed_records") if status == 400 else None
    if isinstance(failed, list) and failed:
        refused: dict[int, str] = {}
        for item in failed:
            index = item.get("index") if isinstance(item, dict) else None
            if isinstance(index, int) and index not in refused:
                field = item.get("field")
                refused[index] = (
                    f"invalid {clip(field, 60)}" if isinstance(field, str) else "invalid"
                )
        return dict(sorted(refused.items()))
    _raise_for(status, payload, retry_after_s)


def check_update_answer(status: int, body: bytes, *, retry_after_s: float | None = None) -> None:
    """Raise unless ``/engage`` or ``/groups`` took the batch (MA14: 200 with status 1)."""
    if status != 200:
        _raise_for(status, _json(body), retry_after_s)
    payload = _json(body)
    if body.strip() == b"1" or payload.get("status") == 1:
        return
    raise RejectedError(
        f"Mixpanel refused every record of the batch: {_reason(payload, 'no reason')}",
        status_code=status,
    )


def _raise_for(status: int, payload: Mapping[str, Any], retry_after_s: float | None) -> NoReturn:
    reason = _reason(payload, f"HTTP {status}")
    if status == 413:  # MA16: split the batch and try again
        raise PayloadTooLargeError(f"Mixpanel: {reason}", status_code=413)
    if status in (408, 429) or status >= 500:
        raise RetryableTransportError(
            f"Mixpanel: {reason}", status_code=status, retry_after_s=retry_after_s
        )
    raise RejectedError(f"Mixpanel: {reason}", status_code=status)


def _reason(payload: Mapping[str, Any], default: str) -> str:
    """Mixpanel's ``error``, short enough for a log line (it may quote a record's value)."""
    error = payload.get("error")
    return clip(error, 120) if error else default


def _json(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return {}
    return payload if isinstance(payload, dict) else {}
