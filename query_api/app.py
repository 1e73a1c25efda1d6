"""``create_app``: the FastAPI application over loomline's derived tables. Wiring only;
each concern lives in its own module (auth, errors, filters, pagination, exports, routes_*)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Depends, FastAPI, Request, Response

from query_api import (
    docs_page,
    errors,
    routes_accounting,
    routes_conversations,
    routes_explorer,
    routes_health,
    routes_manage,
    routes_sessions,
    routes_usage,
    schemas,
    strict_params,
)
from settings import Settings
from storage.client import Storage

DESCRIPTION = """\
Conversations (threads), LLM sessions, compactions, events and usage analytics from
Claude Code telemetry. Every data route is scoped to one organization:
`/api/v1/{org_id}/...`. Send `Authorization: Bearer <token>` when the server has API
tokens. Errors: `{"error": {"code": "...", "message": "..."}}`.
"""


def create_app(storage: Storage, settings: Settings, metrics: Any = None) -> FastAPI:
    """The API app. ``metrics``: an object with ``render() -> str`` (Prometheus text) and
    ``inc(name, **labels)``, e.g. the receiver's ReceiverMetrics; optional."""
    app = FastAPI(
        title="loomline query API",
        version="1",
        description=DESCRIPTION,
        docs_url=None,  # docs_page serves /docs from local files
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.storage = storage
    app.state.settings = settings
    app.state.metrics = metrics
    # Set by the process wiring (loomline/app.py) to re-derive sessions with enrichment, so
    # a delete re-derives the rest of a conversation at once; without it reconcile does.
    app.state.on_sessions_changed = None
    errors.install(app)
    docs_page.install(app)
    app.include_router(routes_health.router)
    for module in (routes_conversations, routes_sessions, routes_usage, routes_accounting, routes_manage, routes_explorer):
        app.include_router(
            module.router,
            responses=schemas.ERROR_RESPONSES,
            dependencies=[Depends(strict_params.reject_unknown_query_params)],
        )

    if metrics is not None and hasattr(metrics, "inc"):

        @app.middleware("http")
        async def _count(request: Request, call_next: Any) -> Response:
            started = time.perf_counter()
            response: Response = await call_next(request)
            route = request.scope.get("route")
            path = getattr(route, "path", "unmatched")
            metrics.inc("api_requests", route=path, status=str(response.status_code))
            metrics.inc("api_request_seconds", time.perf_counter() - started, route=path)
            return response

    return app
