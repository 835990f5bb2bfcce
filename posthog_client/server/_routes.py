"""The local server's route table: the one place a new route is added.

Ingestion routes and ``/flags`` are public; the query API and the explorer are private
(``_access``); flag definitions need the personal API key when the server has one.
"""

from __future__ import annotations

from ._engine import PersonEngine
from ._explorer import explorer_routes
from ._flag_routes import flag_routes
from ._flag_source import FlagSource
from ._ingest import ingest_routes
from ._ingest_v1 import ingest_v1_routes
from ._mixpanel_explorer import mixpanel_explorer_routes
from ._mixpanel_routes import mixpanel_routes
from ._query import query_routes
from ._router import Router
from .mixpanel import MixpanelEngine

__all__ = ["build_mixpanel_router", "build_router"]


def build_router(
    engine: PersonEngine,
    api_key: str,
    flags: FlagSource | None = None,
    personal_api_key: str | None = None,
) -> Router:
    """Every route of a server for the project key ``api_key`` backed by ``engine``, serving
    ``flags``."""
    return Router(
        [
            *ingest_routes(engine, api_key),
            *flag_routes(engine, api_key, flags or FlagSource(), personal_api_key),
            *ingest_v1_routes(engine, api_key),
            *query_routes(engine),
            *explorer_routes(engine),
        ]
    )


def build_mixpanel_router(engine: MixpanelEngine) -> Router:
    """Every route of a server resolving identities the Mixpanel way: Mixpanel's ingestion API
    (its ``/track`` in place of PostHog's), the query API and the explorer over ``engine``."""
    return Router([*mixpanel_routes(engine), *mixpanel_explorer_routes(engine)])
