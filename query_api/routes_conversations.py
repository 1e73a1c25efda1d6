"""GET /api/v1/{org_id}/conversations and /conversations/{thread_id}."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from query_api import exports, filters, pagination
from query_api.auth import Org
from query_api.errors import not_found
from query_api.exports import utc
from query_api.queries import run, run_many

router = APIRouter(tags=["conversations"])

ConversationSort = Literal["last_activity", "cost", "tokens", "sessions", "compactions"]

COLUMNS: exports.Columns = {
    "thread_id": "str",
    "title": "str",
    "title_source": "str",
    "auto_title": "str",
    "archived": "bool",
    "parent_deleted": "bool",
    "user_id": "str",
    "user_email": "str",
    "project_id": "str",
    "project_name": "str",
    "agent_name": "str",
    "status": "str",
    "close_reason": "str",
    "parent_thread_id": "str?",
    "root_session_id": "str",
    "models": "strings",
    "session_count": "int",
    "compaction_count": "int",
    "failed_compaction_count": "int",
    "estimated_cost_usd": "float",
    "computed_cost_usd": "float",
    "input_tokens": "int",
    "output_tokens": "int",
    "cache_read_tokens": "int",
    "cache_creation_tokens": "int",
    "total_tokens": "int",
    "api_request_count": "int",
    "api_error_count": "int",
    "user_prompt_count": "int",
    "injected_prompt_count": "int",
    "unpriced_request_count": "int",
    "unpriced_reasons": "json",
    "repository": "str",
    "git_branch": "str",
    "tool_call_count": "int",
    "first_activity_at": "datetime",
    "last_activity_at": "datetime",
    "closed_at": "datetime?",
}
Conversation = exports.item_model("Conversation", COLUMNS)
ConversationPage = exports.page_model("ConversationPage", Conversation)


def conversation_item(row: dict[str, Any]) -> dict[str, Any]:
    """A threads row as the API shows it."""
    item = {name: row.get(name) for name in COLUMNS}
    item["parent_thread_id"] = row["parent_thread_id"] or None
    item["archived"] = bool(row["archived"])
    item["parent_deleted"] = bool(row["parent_deleted"])
    item["models"] = list(row["models"])
    item["estimated_cost_usd"] = float(row["cost_usd"])
    item["computed_cost_usd"] = float(row["computed_cost_usd"])
    item["unpriced_reasons"] = dict(row.get("unpriced_reasons") or {})
    item["total_tokens"] = (
        row["input_tokens"] + row["output_tokens"] + row["cache_read_tokens"] + row["cache_creation_tokens"]
    )
    for name in ("first_activity_at", "last_activity_at", "closed_at"):
        item[name] = utc(row[name])
    return item


@router.get(
    "/api/v1/{org_id}/conversations",
    response_model=ConversationPage,
    responses=exports.EXPORT_RESPONSES,
    summary="Conversation threads, newest activity first",
)
def list_conversations(
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
    q: Annotated[str, Query(max_length=200, description="words the title contains (case-insensitive)")] = "",
    include_archived: filters.IncludeArchivedParam = False,
    repository: filters.RepositoryParam = "",
    branch: filters.BranchParam = "",
    sort: ConversationSort = "last_activity",
    order: filters.OrderParam = "desc",
    limit: filters.LimitParam = 50,
    cursor: filters.CursorParam = None,
    format: filters.FormatParam = "json",
) -> Response:
    """Threads of the org that were active in [from, to), with sessions, compactions,
    reported (estimated) and computed cost and tokens by type; archived threads only with
    ``include_archived=true``. ``title`` is the user's, else a model's, else the automatic
    one (``title_source`` says which). Sessions, compactions,
    reported (estimated) and computed cost and tokens by type. Keyset-paginated: pass
    ``pagination.next_cursor`` back as ``cursor`` with the same filters."""
    flt = filters.ListFilters(
        filters.TimeRange.parse(start, to), user, project, agent, model, status or "", min_cost,
        repository, branch,
    )
    params = {**flt.params(), "org": org, "q": q.strip(), "sort": sort, "desc": int(order == "desc"),
              "include_archived": int(include_archived)}
    fhash = pagination.filters_hash("conversations", {**params, "format": None})
    after: list[Any] = [0.0, ""]
    if cursor:
        after = pagination.decode_cursor(cursor, fhash, (float, str))
    rows = run(request.app.state.storage, "api_conversations", {
        **params, "has_cursor": int(bool(cursor)), "after_key": after[0], "after_id": after[1], "limit": limit + 1,
    })
    rows, next_cursor = pagination.page(rows, limit, lambda r: [r["sort_key"], r["thread_id"]], fhash)
    items = [conversation_item(row) for row in rows]
    return exports.respond(items, COLUMNS, format, limit, next_cursor, "conversations")


def _link_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "link_type": row["link_type"],
        "from_session_id": row["from_session_id"],
        "to_session_id": row["to_session_id"],
        "from_thread_id": row["from_thread_id"] or None,
        "to_thread_id": row["to_thread_id"] or None,
        "at": utc(row["created_at"]),
        "evidence": row["evidence"],
    }


def compaction_item(row: dict[str, Any]) -> dict[str, Any]:
    pre, post = row["pre_tokens"], row["post_tokens"]
    return {
        "session_id": row["session_id"],
        "compaction_key": row["compaction_key"],
        "timestamp": utc(row["timestamp"]),
        "trigger": row["trigger"],
        "success": bool(row["success"]),
        "pre_tokens": pre,
        "post_tokens": post,
        "tokens_saved": pre - post if pre is not None and post is not None else None,
        "duration_ms": row["duration_ms"],
        "error": row["error"],
        "prompt_id": row["prompt_id"],
        "evidence": row["evidence"],
    }


def _session_in_thread(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "session_id": row["session_id"],
        "title": row["title"],
        "title_source": row["title_source"],
        "archived": bool(row["archived"]),
        "position": row["thread_position"] + 1,
        "start_source": row["start_source"],
        "is_resumed": bool(row["is_resumed"]),
        "close_reason": row["close_reason"],
        "close_evidence": row["close_evidence"],
        "segment_count": row["segment_count"],
        "compaction_count": row["compaction_count"],
        "failed_compaction_count": row["failed_compaction_count"],
        "models": list(row["models"]),
        "estimated_cost_usd": float(row["cost_usd"]),
        "computed_cost_usd": float(row["computed_cost_usd"]),
        "input_tokens": row["input_tokens"],
        "output_tokens": row["output_tokens"],
        "cache_read_tokens": row["cache_read_tokens"],
        "cache_creation_tokens": row["cache_creation_tokens"],
        "api_request_count": row["api_request_count"],
        "api_error_count": row["api_error_count"],
        "user_prompt_count": row["user_prompt_count"],
        "tool_call_count": row["tool_call_count"],
        "started_at": utc(row["started_at"]),
        "last_activity_at": utc(row["last_activity_at"]),
        "closed_at": utc(row["closed_at"]),
        "first_prompt": row["first_prompt"],
    }


def timeline(segments: list[dict[str, Any]], compactions: list[dict[str, Any]],
             links: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Segments (startup/resume/continue/fork/clear/compact), compactions and links of a
    thread merged into one time-ordered list; ``kind`` says which, ``type`` what."""
    entries: list[dict[str, Any]] = []
    for seg in segments:
        entries.append({
            "kind": "segment", "type": seg["source"], "at": utc(seg["started_at"]),
            "session_id": seg["session_id"], "segment_index": seg["segment_index"],
            "ended_at": utc(seg["ended_at"]), "cli_run_id": seg["cli_run_id"], "evidence": seg["evidence"],
        })
    for comp in compactions:
        entries.append({"kind": "compaction", "type": comp["trigger"], "at": comp["timestamp"], **comp})
    for link in links:
        entries.append({"kind": "link", "type": link["link_type"], **link})
    order = {"segment": 0, "link": 1, "compaction": 2}
    entries.sort(key=lambda e: (e["at"], order[e["kind"]], e.get("session_id") or e.get("to_session_id") or ""))
    return entries


@router.get("/api/v1/{org_id}/conversations/{thread_id}", summary="One conversation thread with its timeline")
def get_conversation(
    request: Request,
    org: Org,
    thread_id: Annotated[str, Path(max_length=512, description="thread id (its root session's id)")],
) -> JSONResponse:
    """The thread, its sessions in order, and a timeline of segments (startup / resume /
    continue / fork / clear / compact), compactions (tokens before → after), forks and
    /clear breaks."""
    storage = request.app.state.storage
    params = {"org": org, "thread": thread_id}
    rows, session_rows, segments, compaction_rows, link_rows = run_many(storage, (
        "api_conversation", "api_conversation_sessions", "api_conversation_segments",
        "api_conversation_compactions", "api_conversation_links",
    ), params)
    if not rows:
        raise not_found("conversation", thread_id)
    thread = conversation_item(rows[0])
    thread["session_ids"] = list(rows[0]["session_ids"])
    sessions = [_session_in_thread(r) for r in session_rows]
    compactions = [compaction_item(r) for r in compaction_rows]
    links = [_link_item(r) for r in link_rows]
    members = {s["session_id"] for s in sessions}
    forks = []
    for link in links:
        if link["link_type"] != "forked_from":
            continue
        # The fork that started this thread, or a fork taken from one of its sessions.
        forks.append({**link, "direction": "child" if link["from_session_id"] in members else "parent"})
    clears = [link for link in links if link["link_type"] == "cleared_from"]
    data = {
        **thread,
        "sessions": sessions,
        "timeline": timeline(segments, compactions, links),
        "compactions": compactions,
        "forks": forks,
        "clear_breaks": clears,
        "links": links,
    }
    return JSONResponse({"data": exports.jsonable(data)})
