"""Framework integrations: one module per framework, each imported on its own.

=================================  ==========================================  ================
Framework                          Use                                         Install
=================================  ==========================================  ================
Django (WSGI or ASGI)              ``integrations.django.PostHogMiddleware``   ``[django]``
Flask                              ``integrations.flask.PostHog`` (extension)  ``[flask]``
Starlette, FastAPI, any ASGI app   ``integrations.asgi.PostHogMiddleware``     ``[asgi]``
=================================  ==========================================  ================

Each runs every request in its own ``posthog_client.new_context()``: events captured while it is
handled carry the frontend's distinct id and session id (the ``X-POSTHOG-DISTINCT-ID`` and
``X-POSTHOG-SESSION-ID`` headers that posthog-js adds with ``addTracingHeaders``, or that
``posthog_client.tracing_headers()`` builds), else the logged-in user's id, plus
``$current_url``, ``$request_method``, ``$request_path``, ``$user_agent`` (and ``$ip`` if
enabled) and ``$is_server``. Unhandled exceptions become ``$exception`` events. Importing a
module whose framework is missing raises ``posthog_client.IntegrationUnavailable``; importing
``posthog_client`` itself never imports a framework.
"""

from __future__ import annotations
