"""Resume health, model switches and the per-agent split of a session:

* GET /api/v1/{org_id}/resumes: every resume, continue and fork with its health
* GET /api/v1/{org_id}/resume_health: totals per thread (``group_by=thread``) or the org
* GET /api/v1/{org_id}/llm_sessions/{id}/agents: spend and activity by agent
* GET /api/v1/{org_id}/llm_sessions/{id}/model_switches: Pre/PostModelSwitch records
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from query_api import exports, filters, pagination
from query_api.auth import Org
from query_api.errors import invalid
from query_api.exports import utc
from query_api.queries import run
from query_api.routes_sessions import SessionId, _require_session

router = APIRouter(tags=["accounting"])

TextParam = Annotated[str, Query(max_length=512)]

RESUME_COLUMNS: exports.Columns = {
    "session_id": "str",
    "thread_id": "str",
    "segment_index": "int",
    "source": "str",
    "resumed_at": "datetime",
    "cli_run_id": "str",
    "idle_before_seconds": "float?",
    "session_age_seconds": "float?",
    "cache_likely_expired": "bool?",
    "estimated_cache_write_usd": "float?",
    "context_tokens": "int?",
    "cache_write_tokens": "int",
    "failed": "bool",
    "failure": "str",
    "evidence": "str",
    "user_id": "str",
    "repository": "str",
    "git_branch": "str",
}
ResumeRow = exports.item_model("Resume", RESUME_COLUMNS)
ResumePage = exports.page_model("ResumePage", ResumeRow)

HEALTH_COLUMNS: exports.Columns = {
    "thread_id": "str?",
    "resume_count": "int",
    "continue_count": "int",
    "fork_count": "int",
    "idle_before_avg_seconds": "float?",
    "idle_before_p50_seconds": "float?",
    "idle_before_max_seconds": "float?",
    "cold_cache_resume_count": "int",
    "cold_cache_write_usd": "float",
    "estimated_cache_write_usd": "float",
    "cache_write_tokens": "int",
    "failed_resume_count": "int",
    "failures": "strings",
    "session_age_avg_seconds": "float?",
    "session_age_max_seconds": "float?",
    "model_switch_count": "int",
    "model_switch_cache_write_usd": "float",
}
HealthRow = exports.item_model("ResumeHealth", HEALTH_COLUMNS)
HealthPage = exports.page_model("ResumeHealthPage", HealthRow)

AGENT_COLUMNS: exports.Columns = {
    "agent_id": "str",
    "agent_kind": "str",
    "agent_name": "str",
    "query_sources": "strings",
    "api_request_count": "int",
    "api_error_count": "int",
    "tool_call_count": "int",
    "input_tokens": "int",
    "output_tokens": "int",
    "cache_read_tokens": "int",
    "cache_creation_tokens": "int",
    "estimated_cost_usd": "float",
    "cost_micros": "int",
    "is_async": "bool",
    "reported_total_tokens": "int",
    "finished": "bool",
    "first_at": "datetime",
    "last_at": "datetime",
}
AgentRow = exports.item_model("SessionAgent", AGENT_COLUMNS)
AgentPage = exports.page_model("SessionAgentPage", AgentRow)

SWITCH_COLUMNS: exports.Columns = {
    "id": "str",
    "timestamp": "datetime",
    "phase": "str",
    "from_model": "str",
    "to_model": "str",
    "requested_model": "str",
    "initiator": "str",
    "estimated_cache_write_usd": "float?",
    "pricing": "str",
    "context_tokens": "int?",
    "prompt_cache_warm": "bool?",
    "cache_ttl": "str",
}
SwitchRow = exports.item_model("ModelSwitch", SWITCH_COLUMNS)
SwitchPage = exports.page_model("ModelSwitchPage", SwitchRow)


def _bool_or_none(value: Any) -> bool | None:
    return None if value is None else bool(value)


def resume_item(row: dict[str, Any]) -> dict[str, Any]:
    item = {name: row.get(name) for name in RESUME_COLUMNS}
    item["resumed_at"] = utc(row["resumed_at"])
    item["cache_likely_expired"] = _bool_or_none(row["cache_likely_expired"])
    item["failed"] = bool(row["failed"])
    return item


@router.get(
    "/api/v1/{org_id}/resumes",
    response_model=ResumePage,
    responses=exports.EXPORT_RESPONSES,
    summary="Resumes, continues and forks with their health, oldest first",
)
def list_resumes(
    request: Request,
    org: Org,
    start: filters.FromParam = None,
    to: filters.ToParam = None,
    thread: TextParam = "",
    session: TextParam = "",
    user: filters.UserParam = "",
    repository: filters.RepositoryParam = "",
    failed: Annotated[bool, Query(description="only resumes that failed")] = False,
    cold: Annotated[bool, Query(description="only resumes Claude Code flagged prompt_cache_likely_expired")] = False,
    limit: filters.LimitParam = 100,
    cursor: filters.CursorParam = None,
    format: filters.FormatParam = "json",
) -> Response:
    """One row per resumed, continued or forked segment: idle time before it, session age,
    whether the prompt cache was likely cold and Claude Code's estimate of the re-write,
    the cache tokens the first request wrote, and whether the resume failed."""
    time = filters.TimeRange.parse(start, to)
    params = {
        "org": org, **time.params(), "thread": thread, "session": session, "user": user,
        "repository": repository, "failed_only": int(failed), "cold_only": int(cold),
    }
    fhash = pagination.filters_hash("resumes", params)
    after: list[Any] = [0, "", 0]
    if cursor:
        after = pagination.decode_cursor(cursor, fhash, (int, str, int))
        if not (-(2**63) <= after[0] < 2**63 and 0 <= after[2] < 2**32):
            raise invalid("cursor", "malformed: key out of range")
    rows = run(request.app.state.storage, "api_resumes", {
        **params, "has_cursor": int(bool(cursor)), "after_us": after[0], "after_session": after[1],
        "after_index": after[2], "limit": limit + 1,
    })
    rows, next_cursor = pagination.page(rows, limit, lambda r: [r["resumed_us"], r["session_id"], r["segment_index"]], fhash)
    return exports.respond([resume_item(r) for r in rows], RESUME_COLUMNS, format, limit, next_cursor, "resumes")


@router.get(
    "/api/v1/{org_id}/resume_health",
    response_model=HealthPage,
    responses=exports.EXPORT_RESPONSES,
    summary="Resume health per thread or for the whole org",
)
def resume_health(
    request: Request,
    org: Org,
    group_by: Annotated[Literal["org", "thread"], Query(description="org (one row, default) or thread")] = "org",
    start: filters.FromParam = None,
    to: filters.ToParam = None,
    thread: TextParam = "",
    repository: filters.RepositoryParam = "",
    limit: filters.LimitParam = 1000,
    format: filters.FormatParam = "json",
) -> Response:
    """Resumes and continues, idle time before them, cold-cache resumes and their
    estimated cache re-write cost, failed resumes, session age at resume, model switches."""
    time = filters.TimeRange.parse(start, to)
    rows = run(request.app.state.storage, "api_resume_health", {
        "org": org, **time.params(), "g_thread": int(group_by == "thread"), "thread": thread,
        "repository": repository, "limit": limit,
    })
    items = []
    for row in rows:
        item = {name: row.get(name) for name in HEALTH_COLUMNS}
        item["thread_id"] = row["thread_id"] or None
        item["failures"] = sorted(row["failures"])
        items.append(item)
    return exports.respond(items, HEALTH_COLUMNS, format, limit, None, "resume-health")


@router.get(
    "/api/v1/{org_id}/llm_sessions/{session_id}/agents",
    response_model=AgentPage,
    responses=exports.EXPORT_RESPONSES,
    summary="A session's spend and activity by agent (main, each subagent)",
)
def session_agents(request: Request, org: Org, session_id: SessionId, format: filters.FormatParam = "json") -> Response:
    """The main agent first (``agent_id`` ''), then each subagent run in start order."""
    storage = request.app.state.storage
    _require_session(storage, org, session_id)
    items = []
    for row in run(storage, "api_session_agents", {"org": org, "session": session_id}):
        item = {name: row.get(name) for name in AGENT_COLUMNS}
        item["query_sources"] = list(row["query_sources"])
        item["estimated_cost_usd"] = float(row["cost_usd"])
        item["is_async"] = bool(row["is_async"])
        item["finished"] = bool(row["finished"])
        item["first_at"] = utc(row["first_at"])
        item["last_at"] = utc(row["last_at"])
        items.append(item)
    return exports.respond(items, AGENT_COLUMNS, format, max(len(items), 1), None, "agents")


@router.get(
    "/api/v1/{org_id}/llm_sessions/{session_id}/model_switches",
    response_model=SwitchPage,
    responses=exports.EXPORT_RESPONSES,
    summary="Model switches of one session (hook bridge)",
)
def session_model_switches(request: Request, org: Org, session_id: SessionId,
                           format: filters.FormatParam = "json") -> Response:
    """PreModelSwitch / PostModelSwitch records: from, to, who asked, cache cost."""
    storage = request.app.state.storage
    _require_session(storage, org, session_id)
    items = []
    for row in run(storage, "api_model_switches", {"org": org, "session": session_id}):
        item = {name: row.get(name) for name in SWITCH_COLUMNS}
        item["id"] = str(row["event_key"])
        item["timestamp"] = utc(row["timestamp"])
        item["prompt_cache_warm"] = _bool_or_none(row["prompt_cache_warm"])
        items.append(item)
    return exports.respond(items, SWITCH_COLUMNS, format, max(len(items), 1), None, "model-switches")
