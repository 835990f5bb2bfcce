"""Feature flag routes of the local server.

``POST /flags/?v=2``    PostHog's flag evaluation (F1–F12); without ``v=2`` the legacy shape (F8)
``GET  /flags``         empty flags, as PostHog answers a GET
``GET  /flags/definitions?token=…``  the definitions, for SDKs that evaluate locally (SR9,
                        SR10; also at ``/api/feature_flag/local_evaluation``), with an ETag
``GET  /api/projects/@current/feature_flags/{key}/remote_config?token=…``  a flag's payload
                        (SR12)

``/flags`` is public, like PostHog's; the other routes need the server's personal API key
(``Authorization: Bearer``) when it has one, as PostHog needs a personal or secret key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Final

from ._engine import PersonEngine
from ._flag_source import FlagSource
from ._models import RequestRejectedError
from ._payload import EVENT_BODY_LIMIT, decode_body
from ._router import Request, Response, Route

__all__ = ["flag_routes"]

_DEFINITIONS_PATHS: Final = ("/flags/definitions", "/api/feature_flag/local_evaluation")
_REMOTE_CONFIG: Final = "/api/projects/{project}/feature_flags/{key}/remote_config"


def flag_routes(
    engine: PersonEngine, api_key: str, flags: FlagSource, personal_api_key: str | None
) -> list[Route]:
    routes = _FlagRoutes(engine, api_key, flags, personal_api_key)
    return [
        Route("POST", "/flags", routes.flags, body_limit=EVENT_BODY_LIMIT),
        Route("GET", "/flags", routes.empty_flags),
        *(Route("GET", path, routes.definitions) for path in _DEFINITIONS_PATHS),
        Route("GET", _REMOTE_CONFIG, routes.remote_config),
    ]


class _FlagRoutes:
    def __init__(
        self, engine: PersonEngine, api_key: str, flags: FlagSource, personal_api_key: str | None
    ) -> None:
        self._engine = engine
        self._api_key = api_key
        self._flags = flags
        self._personal_api_key = personal_api_key

    def flags(self, request: Request) -> Response:
        query = request.query
        if request.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            query = {"compression": ["base64"], **query}  # a form's data is base64 (F5)
        try:
            raw = decode_body(request, limit=EVENT_BODY_LIMIT, query=query)
            body = json.loads(raw.decode("utf-8-sig"), parse_constant=lambda _: None)  # F5
        except RequestRejectedError as exc:
            return Response.error(exc.status, exc.code, str(exc))
        except (ValueError, RecursionError) as exc:
            return Response.error(400, "invalid_request", f"invalid JSON: {exc}")
        headers = dict(request.headers.items())
        status, answer = self._flags.answer(
            self._engine,
            body,
            api_key=self._api_key,
            headers=headers,
            v2=request.first("v") == "2",
        )
        return Response.json(status, answer)

    def empty_flags(self, request: Request) -> Response:
        return Response.json(200, {"flags": {}, "errorsWhileComputingFlags": False})

    def definitions(self, request: Request) -> Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        document = self._flags.document()
        mapping = {str(i): name for i, name in self._engine.group_types().items()}
        mapping.update(document.get("group_type_mapping") or {})
        answer = {"cohorts": {}, **document, "group_type_mapping": mapping}
        body = json.dumps(answer, ensure_ascii=False).encode()
        etag = f'"{hashlib.sha1(body).hexdigest()}"'
        if request.headers.get("If-None-Match") == etag:
            return Response(304, headers=(("ETag", etag),))
        return Response(200, body, "application/json", headers=(("ETag", etag),))

    def remote_config(self, request: Request) -> Response:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        key = request.params["key"]
        for flag in self._flags.document().get("flags", []):
            if isinstance(flag, Mapping) and flag.get("key") == key:
                payloads = (flag.get("filters") or {}).get("payloads") or {}
                return Response.json(200, payloads.get("true"))
        return Response.error(404, "not_found", f"no flag {key!r}")

    def _refusal(self, request: Request) -> Response | None:
        """401 without the project token, or without the personal key when one is set."""
        if request.first("token") != self._api_key:
            return Response.error(401, "invalid_token", "a ?token= of this project is required")
        expected = self._personal_api_key
        if expected is None:
            return None
        auth = request.headers.get("Authorization", "")
        given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if given and hmac.compare_digest(given.encode(), expected.encode()):
            return None
        message = "this server needs its personal API key: Authorization: Bearer <key>"
        return Response.error(401, "authentication_required", message)
