"""GET /healthz (the process answers), /readyz (storage answers), /metrics (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from query_api.errors import error_body
from query_api.queries import run

router = APIRouter(tags=["health"])

# The tables the API reads; ready means all of them answer.
TABLES = ("events", "llm_sessions", "threads", "session_segments", "session_links", "compactions")


@router.get("/healthz", summary="Liveness")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: storage answers and the schema is in place")
def readyz(request: Request) -> JSONResponse:
    storage = request.app.state.storage
    try:
        rows = run(storage, "api_readiness", {"db": storage.database, "names": list(TABLES)})
    except Exception as exc:  # any storage failure means not ready
        return JSONResponse(error_body("unavailable", f"storage not ready: {exc}"[:300]), status_code=503)
    if rows[0]["present"] < len(TABLES):
        return JSONResponse(error_body("unavailable", "storage schema not migrated yet"), status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> PlainTextResponse:
    source = request.app.state.metrics
    text = source.render() if source is not None else ""
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")
