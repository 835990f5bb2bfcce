"""Carrying an identity to another process: headers for your backend, deep links to your apps.

The sending side reads the current identity the way ``capture()`` resolves it: the current
context's ids inside ``new_context()`` (a backend calling another service, or linking to an
app), else the client's own. Nothing identifying leaves a client that has opted out.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from . import _default
from ._identity.context import current_context
from ._identity.ids import MAX_DISTINCT_ID_LENGTH, illegal_id_reason
from ._log import logger, warn_once

if TYPE_CHECKING:
    from ._client import Client

__all__ = [
    "DISTINCT_ID_HEADER",
    "DISTINCT_ID_PARAM",
    "SESSION_ID_HEADER",
    "SESSION_ID_PARAM",
    "build_deep_link",
    "handle_deep_link",
    "tracing_headers",
    "untrusted_id_problem",
]

# The headers posthog-js adds with `addTracingHeaders` (formerly `__add_tracing_headers`) and
# PostHog's backend integrations read.
DISTINCT_ID_HEADER: Final = "X-POSTHOG-DISTINCT-ID"
SESSION_ID_HEADER: Final = "X-POSTHOG-SESSION-ID"
# Prefixed so they cannot collide with the receiving app's own parameters.
DISTINCT_ID_PARAM: Final = "ph_distinct_id"
SESSION_ID_PARAM: Final = "ph_session_id"

_CONTROL_CHARACTERS: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def untrusted_id_problem(value: str) -> str | None:
    """Why a distinct or session id that came from outside (a header, a link) is unusable.

    Beyond the ids PostHog refuses (placeholders such as ``"null"`` are a frontend bug for a
    session id too), control characters are refused: they have no place in an id and would be
    written as they are into logs and dashboards. None when the id is usable.
    """
    if len(value) > MAX_DISTINCT_ID_LENGTH:
        return f"it is longer than {MAX_DISTINCT_ID_LENGTH} characters"
    if _CONTROL_CHARACTERS.search(value):
        return "it contains control characters"
    return illegal_id_reason(value)


def _resolve(client: Client | None, operation: str) -> Client | None:
    if client is None:
        client = _default.client
        if client is None:
            warn_once("not-initialized", "posthog_client.%s() called before init()", operation)
    return client


def _current_ids(client: Client | None, operation: str) -> tuple[str | None, str | None]:
    """(distinct id, session id) to hand on, resolved like ``capture()`` does."""
    client = _resolve(client, operation)
    if client is not None and client.has_opted_out():
        return None, None
    context = current_context()
    if context is not None:  # a context without a distinct id has nobody to hand on
        return context.distinct_id, context.session_id if context.distinct_id else None
    if client is None:
        return None, None
    return client.get_distinct_id() or None, client.get_session_id() or None


def tracing_headers(client: Client | None = None) -> dict[str, str]:
    """The headers that carry the current distinct id and session id to your backend.

    Add them to requests to a backend using one of ``posthog_client.integrations`` (or any
    PostHog backend SDK that reads them), so its events join this user and session. Empty
    before ``init()``, when opted out, or inside a context without a distinct id.

    Example::

        requests.post(f"{API}/orders", json=order, headers=posthog_client.tracing_headers())
    """
    distinct_id, session_id = _current_ids(client, "tracing_headers")
    headers: dict[str, str] = {}
    if distinct_id:
        headers[DISTINCT_ID_HEADER] = distinct_id
    if session_id:
        headers[SESSION_ID_HEADER] = session_id
    return headers


def build_deep_link(url: str, client: Client | None = None) -> str:
    """``url`` with the current distinct id and session id added as query parameters
    (``ph_distinct_id``, ``ph_session_id``), for an app that opens it to call
    ``handle_deep_link``.

    The rest of ``url`` is kept as it is, other parameters (UTM ones…) and fragment included;
    parameters of an earlier call are replaced. ``url`` comes back unchanged when there is no
    identity to hand on (before ``init()``, opted out, a context without a distinct id).

    Example::

        build_deep_link("myapp://welcome?utm_source=web")
        # 'myapp://welcome?utm_source=web&ph_distinct_id=0199…&ph_session_id=0199…'
    """
    from urllib.parse import unquote_plus, urlencode  # deferred: urllib.parse is a costly import

    distinct_id, session_id = _current_ids(client, "build_deep_link")
    if not distinct_id:
        return url
    ours = {DISTINCT_ID_PARAM: distinct_id}
    if session_id:
        ours[SESSION_ID_PARAM] = session_id
    base, hash_mark, fragment = url.partition("#")
    path, _, query = base.partition("?")
    kept = [
        item
        for item in query.split("&")
        if item
        and unquote_plus(item.partition("=")[0]) not in (DISTINCT_ID_PARAM, SESSION_ID_PARAM)
    ]
    return f"{path}?{'&'.join([*kept, urlencode(ours)])}{hash_mark}{fragment}"


def handle_deep_link(url: str, *, authenticated: bool, client: Client | None = None) -> bool:
    """Link this app's user to the web visitor who opened ``url`` (from ``build_deep_link``).

    As PostHog prescribes for identifying users across platforms: when this app is
    ``authenticated``, ``alias(web_id)`` adds the web visitor's id to the logged-in person;
    when it is not, ``identify(web_id)`` continues the web visitor's person here, and a later
    ``identify(user_id)`` at login merges it into the user. Returns True when one of them
    succeeded; False when ``url`` carries no usable id (logged). Anyone can craft a link, so a
    refused id never raises, even with ``strict=True``.

    Example::

        posthog_client.handle_deep_link(opened_url, authenticated=session.logged_in)
    """
    from urllib.parse import parse_qs

    client = _resolve(client, "handle_deep_link")
    query = url.partition("#")[0].partition("?")[2]
    values = parse_qs(query).get(DISTINCT_ID_PARAM)
    if client is None or not values:
        return False
    web_id = values[0].strip(" \t")
    reason = untrusted_id_problem(web_id)
    if reason is not None:
        logger.warning("deep link ignored: its %s is unusable: %s", DISTINCT_ID_PARAM, reason)
        return False
    return client.alias(web_id) if authenticated else client.identify(web_id)
