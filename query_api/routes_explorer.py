"""Routes the web explorer (web/) needs beyond the list and detail routes: the orgs a
token may read, an org's users, projects, repositories and models, a thread's
context-fill series, and the live page (a snapshot and a server-sent event stream of it)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import create_model
from starlette.concurrency import run_in_threadpool

from query_api import exports, filters
from query_api.auth import Org, ReadableOrgs
from query_api.errors import not_found
from query_api.exports import utc
from query_api.queries import run

router = APIRouter(tags=["explorer"])

DEFAULT_WINDOW = 200_000
LARGE_WINDOW = 1_000_000
# A session is "working" while telemetry keeps arriving; after this long without an
# event it is "idle" (Claude Code sends nothing while it waits for the user).
WORKING_SECONDS = 45.0
LIVE_MINUTES = 30.0
STREAM_SECONDS = 55.0  # a stream ends after this; EventSource / the UI reconnects at once
STREAM_POLL = 0.5

ListLimit = Annotated[int, Query(ge=1, le=10_000, description="rows (1..10000)")]
SinceParam = Annotated[datetime | None, Query(
    description="start of 'today' for the totals (ISO 8601, e.g. the viewer's midnight); default: UTC midnight")]


def context_window(model: str) -> int:
    """The context window of ``model`` in tokens: 1M for the ``[1m]`` variants Claude Code
    names so, else 200k (every current Claude model)."""
    return LARGE_WINDOW if "[1m]" in model.lower() or model.lower().endswith("-1m") else DEFAULT_WINDOW


@router.get("/api/v1/orgs", summary="The organizations the caller may read")
def list_orgs(request: Request, readable: ReadableOrgs) -> JSONResponse:
    """Every org that has conversations, or only the token's orgs when the server has API
    tokens (a token's orgs are listed even before they have data). ``any_org``: true when
    the caller may read every org, including ones not listed yet."""
    rows = run(request.app.state.storage, "api_orgs", {})
    known = {r["org_id"]: r for r in rows}
    ids = sorted(known) if readable is None else sorted(readable)
    data = [{
        "id": org,
        "thread_count": known[org]["thread_count"] if org in known else 0,
        "last_activity_at": utc(known[org]["last_activity_at"]) if org in known else None,
    } for org in ids]
    # any_org: every org is readable (no tokens, or a '*' token), also ones without data yet.
    return JSONResponse({"data": exports.jsonable(data), "any_org": readable is None})


def _range(start: datetime | None, end: datetime | None) -> dict[str, Any]:
    return filters.TimeRange.parse(start, end).params()


@router.get("/api/v1/{org_id}/users", summary="The org's users with their totals")
def list_users(request: Request, org: Org, start: filters.FromParam = None, to: filters.ToParam = None,
               limit: ListLimit = 500) -> JSONResponse:
    """Users with sessions active in [from, to), most recently active first."""
    rows = run(request.app.state.storage, "api_users", {"org": org, **_range(start, to), "limit": limit})
    for row in rows:
        row["cost_usd"] = float(row["cost_usd"])
        row["last_activity_at"] = utc(row.pop("last_active_at"))
    return JSONResponse({"data": exports.jsonable(rows)})


@router.get("/api/v1/{org_id}/projects", summary="The org's projects with their totals")
def list_projects(request: Request, org: Org, start: filters.FromParam = None, to: filters.ToParam = None,
                  limit: ListLimit = 500) -> JSONResponse:
    """Projects with sessions active in [from, to), most recently active first."""
    rows = run(request.app.state.storage, "api_projects", {"org": org, **_range(start, to), "limit": limit})
    for row in rows:
        row["cost_usd"] = float(row["cost_usd"])
        row["last_activity_at"] = utc(row.pop("last_active_at"))
    return JSONResponse({"data": exports.jsonable(rows)})


REPOSITORY_COLUMNS: exports.Columns = {
    "repository": "str",
    "provider": "str",
    "session_count": "int",
    "thread_count": "int",
    "user_count": "int",
    "active_session_count": "int",
    "cost_usd": "float",
    "total_tokens": "int",
    "branches": "strings",
    "branch_count": "int",
    "last_activity_at": "datetime",
}
Repository = exports.item_model("Repository", REPOSITORY_COLUMNS)
RepositoryList = create_model("RepositoryList", data=(list[Repository], ...))  # type: ignore[valid-type]


@router.get("/api/v1/{org_id}/repositories", summary="The org's repositories with their totals",
            response_model=RepositoryList)
def list_repositories(request: Request, org: Org, start: filters.FromParam = None, to: filters.ToParam = None,
                      limit: ListLimit = 500) -> JSONResponse:
    """Repositories (``github.com/acme/api``) with sessions active in [from, to), most
    recently active first: sessions, conversations (threads with a session in it), users,
    active sessions, reported cost, tokens, the git branches seen (newest first, at most
    100; ``branch_count`` counts them all) and last activity. Sessions without a known
    repository share the row with ``repository`` ``""``."""
    rows = run(request.app.state.storage, "api_repositories", {"org": org, **_range(start, to), "limit": limit})
    data = [{
        **{name: row[name] for name in REPOSITORY_COLUMNS if name in row},
        "cost_usd": float(row["cost_usd"]),
        "branches": list(row["branches"]),
        "last_activity_at": utc(row["last_active_at"]),
    } for row in rows]
    return JSONResponse({"data": exports.jsonable(data)})


@router.get("/api/v1/{org_id}/models", summary="The models the org's sessions used")
def list_models(request: Request, org: Org) -> JSONResponse:
    rows = run(request.app.state.storage, "api_models", {"org": org})
    for row in rows:
        row["last_activity_at"] = utc(row.pop("last_active_at"))
    return JSONResponse({"data": exports.jsonable(rows)})


@router.get("/api/v1/{org_id}/conversations/{thread_id}/context",
            summary="Context fill of a thread's requests over time")
def conversation_context(
    request: Request,
    org: Org,
    thread_id: Annotated[str, Path(max_length=512, description="thread id")],
    limit: Annotated[int, Query(ge=1, le=100_000, description="requests at most")] = 20_000,
) -> JSONResponse:
    """Every API request of the thread in time order with the context it sent (input +
    cache read + cache write tokens) and the model's window; ``main`` marks the
    conversation's own requests (not subagents, compaction or auxiliary calls)."""
    storage = request.app.state.storage
    if not run(storage, "api_conversation", {"org": org, "thread": thread_id}):
        raise not_found("conversation", thread_id)
    rows = run(storage, "api_conversation_context", {"org": org, "thread": thread_id, "limit": limit})
    data = [{
        "id": str(r["event_key"]),
        "session_id": r["session_id"],
        "timestamp": utc(r["timestamp"]),
        "model": r["model"],
        "query_source": r["query_source"],
        "main": bool(r["main"]),
        "context_tokens": r["context_tokens"],
        "context_window": context_window(r["model"]),
        "input_tokens": r["input_tokens"],
        "output_tokens": r["output_tokens"],
        "cache_read_tokens": r["cache_read_tokens"],
        "cache_creation_tokens": r["cache_creation_tokens"],
        "estimated_cost_usd": float(r["cost_usd"]),
        "prompt_id": r["prompt_id"],
    } for r in rows]
    return JSONResponse({"data": exports.jsonable(data)})


def live_state(last_event: str, last_notification: str, idle_seconds: float) -> str:
    """working / waiting (on a permission prompt) / idle, from the newest event."""
    if last_event == "loomline.notification" and "permission" in last_notification:
        return "waiting"
    if last_event in ("loomline.stop", "loomline.session_end") or idle_seconds > WORKING_SECONDS:
        return "idle"
    return "working"


def live_snapshot(storage: Any, org: str, today_us: int, now: float | None = None) -> dict[str, Any]:
    """Sessions with telemetry in the last LIVE_MINUTES that have not closed since, and the
    org's totals since ``today_us``."""
    now = time.time() if now is None else now
    since_us = int((now - LIVE_MINUTES * 60) * 1_000_000)
    rows = run(storage, "api_live_sessions", {"org": org, "since_us": since_us, "limit": 500})
    sessions = []
    for r in rows:
        last = r["last_event_at"].replace(tzinfo=UTC)
        closed = r["closed_at"]
        if closed is not None and closed.replace(tzinfo=UTC) >= last:
            continue
        idle = max(0.0, now - last.timestamp())
        window = context_window(r["model"] or "")
        tokens = int(r["context_tokens"] or 0)
        sessions.append({
            "session_id": r["session_id"],
            "thread_id": r["thread_id"] or None,
            "user": r["user_email"] or r["user_id"] or r["event_user_email"] or r["event_user_id"],
            "project_name": r["project_name"] or "",
            "agent_name": r["agent_name"] or "",
            "model": r["model"] or "",
            "state": live_state(r["last_event"], r["last_notification"] or "", idle),
            "idle_seconds": round(idle, 1),
            "context_tokens": tokens,
            "context_window": window,
            "context_fill": round(tokens / window, 4),
            "prompt_count": max(int(r["user_prompt_count"] or 0), int(r["recent_prompts"] or 0)),
            "api_request_count": max(int(r["api_request_count"] or 0), int(r["recent_requests"] or 0)),
            "estimated_cost_usd": float(r["cost_usd"] or 0.0),
            "first_seen_at": utc(r["first_seen_at"]),
            "last_event_at": utc(r["last_event_at"]),
            "last_event": r["last_event"],
        })
    totals = run(storage, "api_live_totals", {"org": org, "since_us": today_us})[0]
    totals["cost_usd"] = float(totals["cost_usd"] or 0.0)
    return exports.jsonable({"sessions": sessions, "today": totals,
                             "today_from": utc(datetime.fromtimestamp(today_us / 1e6, UTC)),
                             "at": utc(datetime.fromtimestamp(now, UTC))})


def _today_us(since: datetime | None) -> int:
    if since is None:
        since = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return filters.to_micros(since, 0)


@router.get("/api/v1/{org_id}/live", summary="Sessions active now and today's totals")
def live(request: Request, org: Org, since: SinceParam = None) -> JSONResponse:
    """Sessions with telemetry in the last 30 minutes that have not closed since: current
    model, context fill of the newest request against the model's window, state (working,
    waiting on a permission prompt, idle); the org's totals since ``since``."""
    return JSONResponse({"data": live_snapshot(request.app.state.storage, org, _today_us(since))})


@router.get("/api/v1/{org_id}/live/stream", summary="The live snapshot as server-sent events",
            response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "event: live, data: the snapshot"}})
async def live_stream(request: Request, org: Org, since: SinceParam = None) -> StreamingResponse:
    """``text/event-stream``: an ``event: live`` with the snapshot of ``/live`` at once and
    again whenever it changes (checked twice a second), a comment every 15 s otherwise. The
    stream ends after about a minute; clients reconnect (``retry: 1000``)."""
    storage = request.app.state.storage
    today_us = _today_us(since)
    # Tests that call every route in-process shorten the stream (app.state.live_stream_seconds).
    lifetime = float(getattr(request.app.state, "live_stream_seconds", STREAM_SECONDS))

    async def events() -> AsyncIterator[str]:
        yield "retry: 1000\n\n"
        started = last_sent = time.monotonic()
        previous = ""
        while time.monotonic() - started < lifetime:
            if await request.is_disconnected():
                return
            snapshot = await run_in_threadpool(live_snapshot, storage, org, today_us)
            # "at" and idle seconds tick every poll; only a change of what a person sees is news.
            visible = json.dumps([{k: v for k, v in s.items() if k != "idle_seconds"} for s in snapshot["sessions"]]
                                 + [snapshot["today"]], sort_keys=True)
            if visible != previous:
                previous = visible
                last_sent = time.monotonic()
                yield f"event: live\ndata: {json.dumps(snapshot, separators=(',', ':'))}\n\n"
            elif time.monotonic() - last_sent > 15:
                last_sent = time.monotonic()
                yield ": keep-alive\n\n"
            await asyncio.sleep(STREAM_POLL)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
