"""GET /api/v1/{org_id}/llm_sessions, /llm_sessions/{id}, /{id}/compactions, /{id}/events."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from query_api import exports, filters, pagination, schemas
from query_api.auth import Org
from query_api.errors import invalid, not_found
from query_api.exports import utc
from query_api.queries import run
from query_api.routes_conversations import compaction_item

router = APIRouter(tags=["llm sessions"])

SessionSort = Literal["last_activity", "started_at", "cost", "tokens", "compactions"]
SessionId = Annotated[str, Path(max_length=512, description="llm session id (Claude Code's session.id)")]

COLUMNS: exports.Columns = {
    "id": "str",
    "otel_session_id": "str",
    "title": "str",
    "title_source": "str",
    "archived": "bool",
    "conversation_thread_id": "str",
    "parent_thread_id": "str?",
    "parent_deleted": "bool",
    "position": "int",
    "agent_name": "str",
    "start_source": "str",
    "is_resumed": "bool",
    "status": "str",
    "close_reason": "str",
    "compaction_count": "int",
    "last_compacted_at": "datetime?",
    "models": "strings",
    "user_id": "str",
    "user_email": "str",
    "project_id": "str",
    "project_name": "str",
    "estimated_cost_usd": "float",
    "computed_cost_usd": "float",
    "input_tokens": "int",
    "output_tokens": "int",
    "cache_read_tokens": "int",
    "cache_creation_tokens": "int",
    "total_tokens": "int",
    "message_count": "int",
    "injected_prompt_count": "int",
    "unpriced_request_count": "int",
    "unpriced_reasons": "json",
    "repository": "str",
    "git_branch": "str",
    "subagent_count": "int",
    "subagent_request_count": "int",
    "subagent_cost_usd": "float",
    "api_request_count": "int",
    "tool_call_count": "int",
    "api_error_count": "int",
    "started_at": "datetime",
    "last_activity_at": "datetime",
    "closed_at": "datetime?",
}
SessionRow = exports.item_model("LlmSessionRow", COLUMNS)
SessionPage = exports.page_model("LlmSessionPage", SessionRow)

COMPACTION_COLUMNS: exports.Columns = {
    "session_id": "str",
    "compaction_key": "str",
    "timestamp": "datetime",
    "trigger": "str",
    "success": "bool",
    "pre_tokens": "int?",
    "post_tokens": "int?",
    "tokens_saved": "int?",
    "duration_ms": "float?",
    "error": "str",
    "prompt_id": "str",
    "evidence": "str",
}
CompactionRow = exports.item_model("Compaction", COMPACTION_COLUMNS)
CompactionPage = exports.page_model("CompactionPage", CompactionRow)

EVENT_COLUMNS: exports.Columns = {
    "id": "str",
    "type": "str",
    "timestamp": "datetime",
    "sequence": "int?",
    "prompt_id": "str",
    "model": "str",
    "query_source": "str",
    "estimated_cost_usd": "float",
    "input_tokens": "int",
    "output_tokens": "int",
    "cache_read_tokens": "int",
    "cache_creation_tokens": "int",
    "duration_ms": "float?",
    "tool_name": "str",
    "tool_use_id": "str",
    "decision": "str",
    "success": "bool?",
    "status_code": "int?",
    "attempt": "int?",
    "error": "str",
    "command_name": "str",
    "hook_name": "str",
    "compaction_trigger": "str",
    "pre_tokens": "int?",
    "post_tokens": "int?",
    "source": "str",
    "reason": "str",
    "prompt": "str",
    "attributes": "json",
}
EventRow = exports.item_model("SessionEvent", EVENT_COLUMNS)
EventPage = exports.page_model("SessionEventPage", EventRow)

_EVENT_TYPE = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


def session_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["session_id"],
        "otel_session_id": row["otel_session_id"],
        "title": row["title"],
        "title_source": row["title_source"],
        "archived": bool(row["archived"]),
        "conversation_thread_id": row["thread_id"],
        "parent_thread_id": row["parent_thread_id"] or None,
        "parent_deleted": bool(row["parent_deleted"]),
        "position": row["thread_position"] + 1,
        "agent_name": row["agent_name"],
        "start_source": row["start_source"],
        "is_resumed": bool(row["is_resumed"]),
        "status": row["status"],
        "close_reason": row["close_reason"],
        "compaction_count": row["compaction_count"],
        "last_compacted_at": utc(row["last_compacted_at"]),
        "models": list(row["models"]),
        "user_id": row["user_id"],
        "user_email": row["user_email"],
        "project_id": row["project_id"],
        "project_name": row["project_name"],
        "estimated_cost_usd": float(row["cost_usd"]),
        "computed_cost_usd": float(row["computed_cost_usd"]),
        "input_tokens": row["input_tokens"],
        "output_tokens": row["output_tokens"],
        "cache_read_tokens": row["cache_read_tokens"],
        "cache_creation_tokens": row["cache_creation_tokens"],
        "total_tokens": row["input_tokens"] + row["output_tokens"] + row["cache_read_tokens"] + row["cache_creation_tokens"],
        "message_count": row["user_prompt_count"],
        "injected_prompt_count": row["injected_prompt_count"],
        "unpriced_request_count": row["unpriced_request_count"],
        "unpriced_reasons": dict(row["unpriced_reasons"] or {}),
        "repository": row["repository"],
        "git_branch": row["git_branch"],
        "subagent_count": row["subagent_count"],
        "subagent_request_count": row["subagent_request_count"],
        "subagent_cost_usd": float(row["subagent_cost_usd"]),
        "api_request_count": row["api_request_count"],
        "tool_call_count": row["tool_call_count"],
        "api_error_count": row["api_error_count"],
        "started_at": utc(row["started_at"]),
        "last_activity_at": utc(row["last_activity_at"]),
        "closed_at": utc(row["closed_at"]),
    }


@router.get(
    "/api/v1/{org_id}/llm_sessions",
    response_model=SessionPage,
    responses=exports.EXPORT_RESPONSES,
    summary="LLM sessions, newest activity first",
)
def list_sessions(
    request: Request,
    org: Org,
    start: filters.FromParam = None,
    to: filters.ToParam = None,
    user: filters.UserParam = "",
    project: filters.ProjectParam = "",
    agent: filters.AgentParam = "",
    model: filters.ModelParam = "",
    status: filters.StatusParam = None,
    min_cost: filters.MinCostParam = 0.0,
    include_archived: filters.IncludeArchivedParam = False,
    repository: filters.RepositoryParam = "",
    branch: filters.BranchParam = "",
    sort: SessionSort = "last_activity",
    order: filters.OrderParam = "desc",
    limit: filters.LimitParam = 50,
    cursor: filters.CursorParam = None,
    format: filters.FormatParam = "json",
) -> Response:
    """A flat list of sessions with the conversations' filters and keyset pagination;
    sessions archived themselves or in an archived conversation only with
    ``include_archived=true``."""
    flt = filters.ListFilters(
        filters.TimeRange.parse(start, to), user, project, agent, model, status or "", min_cost,
        repository, branch,
    )
    params = {**flt.params(), "org": org, "sort": sort, "desc": int(order == "desc"),
              "include_archived": int(include_archived)}
    fhash = pagination.filters_hash("llm_sessions", params)
    after: list[Any] = [0.0, ""]
    if cursor:
        after = pagination.decode_cursor(cursor, fhash, (float, str))
    rows = run(request.app.state.storage, "api_llm_sessions", {
        **params, "has_cursor": int(bool(cursor)), "after_key": after[0], "after_id": after[1], "limit": limit + 1,
    })
    rows, next_cursor = pagination.page(rows, limit, lambda r: [r["sort_key"], r["session_id"]], fhash)
    items = [session_item(row) for row in rows]
    return exports.respond(items, COLUMNS, format, limit, next_cursor, "llm_sessions")


def session_detail(row: dict[str, Any]) -> dict[str, Any]:
    """The issue's llm_sessions/{id} shape, field for field."""
    return {
        "id": row["session_id"],
        "otel_session_id": row["session_id"],
        "title": row["title"],
        "auto_title": row["auto_title"],
        "title_source": row["title_source"],
        "archived": bool(row["archived"]),
        "conversation_thread_id": row["thread_id"],
        "agent_name": row["agent_name"],
        "start_source": row["start_source"],
        "is_resumed": bool(row["is_resumed"]),
        "close_reason": row["close_reason"],
        "compaction_count": row["compaction_count"],
        "last_compacted_at": utc(row["last_compacted_at"]),
        "started_at": utc(row["started_at"]),
        "closed_at": utc(row["closed_at"]),
        "models": list(row["models"]),
        "metrics": {
            "input_tokens": row["input_tokens"],
            "output_tokens": row["output_tokens"],
            "cache_read_tokens": row["cache_read_tokens"],
            "cache_creation_tokens": row["cache_creation_tokens"],
            "estimated_cost_usd": float(row["cost_usd"]),
            "computed_cost_usd": float(row["computed_cost_usd"]),
            "message_count": row["user_prompt_count"],
            "injected_prompt_count": row["injected_prompt_count"],
            "unpriced_request_count": row["unpriced_request_count"],
            "unpriced_reasons": dict(row["unpriced_reasons"] or {}),
            "tool_call_count": row["tool_call_count"],
            "api_error_count": row["api_error_count"],
        },
        "repository": {"id": row["repository"], "provider": row["repository_provider"], "branch": row["git_branch"]},
        "subagents": {
            "count": row["subagent_count"],
            "api_request_count": row["subagent_request_count"],
            "estimated_cost_usd": float(row["subagent_cost_usd"]),
        },
        "thread_info": {
            "position": row["thread_position"] + 1,
            "total_in_thread": max(row["total_in_thread"] or 0, row["thread_position"] + 1),
            "total_compactions_in_thread": max(row["total_compactions_in_thread"] or 0, row["compaction_count"]),
            "parent_thread_id": row["parent_thread_id"] or None,
            "parent_deleted": bool(row["parent_deleted"]),
        },
        "project": {"id": row["project_id"], "name": row["project_name"]},
        "user": {"id": row["user_id"], "email": row["user_email"]},
    }


@router.get(
    "/api/v1/{org_id}/llm_sessions/{session_id}",
    response_model=schemas.SessionDetailResponse,
    summary="One LLM session",
)
def get_session(request: Request, org: Org, session_id: SessionId) -> JSONResponse:
    """The session with its metrics, its place in its thread, project and user."""
    rows = run(request.app.state.storage, "api_llm_session", {"org": org, "session": session_id})
    if not rows:
        raise not_found("llm session", session_id)
    return JSONResponse({"data": exports.jsonable(session_detail(rows[0]))})


def _require_session(storage: Any, org: str, session_id: str) -> None:
    known = run(storage, "api_session_known", {"org": org, "session": session_id})
    if not known or not known[0]["known"]:
        raise not_found("llm session", session_id)


@router.get(
    "/api/v1/{org_id}/llm_sessions/{session_id}/compactions",
    response_model=CompactionPage,
    responses=exports.EXPORT_RESPONSES,
    summary="Compaction history of one session",
)
def session_compactions(
    request: Request, org: Org, session_id: SessionId, format: filters.FormatParam = "json",
) -> Response:
    """Every compaction attempt, oldest first: trigger, success, tokens before → after."""
    storage = request.app.state.storage
    _require_session(storage, org, session_id)
    rows = [compaction_item(r) for r in run(storage, "api_session_compactions", {"org": org, "session": session_id})]
    return exports.respond(rows, COMPACTION_COLUMNS, format, max(len(rows), 1), None, "compactions")


def event_item(row: dict[str, Any]) -> dict[str, Any]:
    item = {name: row.get(name) for name in EVENT_COLUMNS}
    item["id"] = str(row["event_key"])
    item["timestamp"] = utc(row["timestamp"])
    item["estimated_cost_usd"] = float(row["cost_usd"])
    item["success"] = None if row["success"] is None else bool(row["success"])
    item["attributes"] = dict(row["attributes"])
    return item


@router.get(
    "/api/v1/{org_id}/llm_sessions/{session_id}/events",
    response_model=EventPage,
    responses=exports.EXPORT_RESPONSES,
    summary="The events of one session, in order",
)
def session_events(
    request: Request,
    org: Org,
    session_id: SessionId,
    type: Annotated[list[str] | None, Query(
        description="event names to keep (repeat or comma-separate): user_prompt, api_request, "
                    "api_error, tool_decision, tool_result, compaction, ...")] = None,
    prompt_id: Annotated[str, Query(max_length=512, description="only this prompt's events")] = "",
    tool_use_id: Annotated[str, Query(max_length=512, description="only this tool call's events")] = "",
    limit: filters.LimitParam = 100,
    cursor: filters.CursorParam = None,
    format: filters.FormatParam = "json",
) -> Response:
    """Prompts, API requests and errors, tool decisions and results, compactions and hook
    records of one session in time order, with every raw attribute: the drill-down from
    session to prompt to tool call."""
    types = sorted({t.strip() for value in (type or []) for t in value.split(",") if t.strip()})
    for name in types:
        if not _EVENT_TYPE.match(name):
            raise invalid("type", f"not an event name: {name[:100]!r}")
    storage = request.app.state.storage
    _require_session(storage, org, session_id)
    params = {"org": org, "session": session_id, "types": types, "prompt_id": prompt_id, "tool_use_id": tool_use_id}
    fhash = pagination.filters_hash("events", params)
    after: list[Any] = [0, 0, 0]
    if cursor:
        after = pagination.decode_cursor(cursor, fhash, (int, int, int))
        if after[2] < 0 or after[0] >= 2**63 or after[1] >= 2**63:
            raise invalid("cursor", "malformed: key out of range")
    rows = run(storage, "api_session_events", {
        **params, "has_cursor": int(bool(cursor)), "after_ts": after[0], "after_seq": after[1],
        "after_key": after[2], "limit": limit + 1,
    })
    rows, next_cursor = pagination.page(rows, limit, lambda r: [r["ts_us"], r["seq"], r["event_key"]], fhash)
    items = [event_item(row) for row in rows]
    return exports.respond(items, EVENT_COLUMNS, format, limit, next_cursor, f"events-{session_id[:64]}")
