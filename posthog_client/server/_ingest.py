"""PostHog's ingestion routes: ``/batch/``, ``/capture/``, ``/e/``, ``/i/v0/e/``, ``/track/``."""

from __future__ import annotations

from typing import Final

from .._log import logger
from ._engine import PersonEngine
from ._models import RequestRejectedError
from ._payload import BATCH_BODY_LIMIT, EVENT_BODY_LIMIT, check_token, parse_ingest_request
from ._router import Handler, Request, Response, Route

__all__ = ["ingest_routes"]

_ROUTE_LIMITS: Final = (
    ("/batch", BATCH_BODY_LIMIT),
    ("/capture", EVENT_BODY_LIMIT),
    ("/e", EVENT_BODY_LIMIT),
    ("/i/v0/e", EVENT_BODY_LIMIT),
    ("/track", EVENT_BODY_LIMIT),
)


def ingest_routes(engine: PersonEngine, api_key: str) -> list[Route]:
    """The public routes that accept events for the project key ``api_key``."""
    return [
        Route("POST", path, _ingest_handler(engine, api_key, limit), body_limit=limit)
        for path, limit in _ROUTE_LIMITS
    ]


def _ingest_handler(engine: PersonEngine, api_key: str, limit: int) -> Handler:
    def ingest(request: Request) -> Response:
        try:
            parsed = parse_ingest_request(request, limit=limit)
            check_token(parsed, api_key)
            engine.ingest(parsed.events, sent_at=parsed.sent_at)
        except RequestRejectedError as exc:
            return Response.error(exc.status, exc.code, str(exc))
        except Exception:
            logger.exception("local server: failed to ingest a request to %s", request.path)
            message = "the local server failed to store the events"
            return Response.error(500, "internal_error", message)
        if request.first("beacon") == "1":
            return Response(204)
        return Response.json(200, {"status": 1})

    return ingest
