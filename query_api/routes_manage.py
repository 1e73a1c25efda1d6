"""Management: PATCH and DELETE /api/v1/{org_id}/conversations/{thread_id} and
/llm_sessions/{id}, and GET /api/v1/{org_id}/audit. Storage side: storage/management.py."""

from __future__ import annotations

import json
import unicodedata
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from query_api import exports, filters, pagination
from query_api.auth import Org, Write
from query_api.errors import ApiError, invalid, not_found
from query_api.exports import utc
from query_api.queries import run
from query_api.routes_conversations import conversation_item
from query_api.routes_sessions import session_detail
from storage import management

router = APIRouter(tags=["management"])

ThreadId = Annotated[str, Path(max_length=512, description="thread id (its root session's id)")]
SessionId = Annotated[str, Path(max_length=512, description="llm session id (Claude Code's session.id)")]


class Change(BaseModel):
    """What to change; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(
        default=None, max_length=4 * management.MAX_TITLE_CHARS,
        description="the user's title; '' removes it (the automatic title shows again)")
    archived: bool | None = Field(default=None, description="true hides the item from lists")


def _clean_title(title: str | None) -> str | None:
    if title is None:
        return None
    cleaned = " ".join(title.split())
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co"} for ch in cleaned):
        raise invalid("title", "control or format characters are not allowed")
    if len(cleaned) > management.MAX_TITLE_CHARS:
        raise invalid("title", f"at most {management.MAX_TITLE_CHARS} characters")
    return cleaned


def _check(change: Change) -> str | None:
    if change.title is None and change.archived is None:
        raise invalid("body", "send at least one of 'title' and 'archived'")
    return _clean_title(change.title)


def _notify(request: Request, org: str, sessions: list[str]) -> None:
    """Tell enrichment (when it runs in this process) which sessions to re-derive."""
    callback = getattr(request.app.state, "on_sessions_changed", None)
    if callback is not None and sessions:
        callback({(org, s) for s in sessions})


@router.patch("/api/v1/{org_id}/conversations/{thread_id}", summary="Rename or (un)archive a conversation")
def patch_conversation(request: Request, writer: Write, thread_id: ThreadId, change: Change) -> JSONResponse:
    """Set the user's title (wins over every automatic title, survives re-enrichment) and/or
    the archived flag. Answers the conversation as the list shows it, plus ``changes``."""
    title = _check(change)
    storage = request.app.state.storage
    params = {"org": writer.org, "thread": thread_id}
    if not run(storage, "api_conversation", params):
        raise not_found("conversation", thread_id)
    _, actions = management.update(storage, writer.org, management.THREAD, thread_id, writer.actor,
                                   title=title, archived=change.archived)
    item = conversation_item(run(storage, "api_conversation", params)[0])
    return JSONResponse({"data": exports.jsonable({**item, "changes": actions})})


@router.patch("/api/v1/{org_id}/llm_sessions/{session_id}", summary="Rename or (un)archive an LLM session")
def patch_session(request: Request, writer: Write, session_id: SessionId, change: Change) -> JSONResponse:
    """As for conversations; answers the session detail plus ``changes``."""
    title = _check(change)
    storage = request.app.state.storage
    params = {"org": writer.org, "session": session_id}
    if not run(storage, "api_llm_session", params):
        raise not_found("llm session", session_id)
    _, actions = management.update(storage, writer.org, management.SESSION, session_id, writer.actor,
                                   title=title, archived=change.archived)
    item = session_detail(run(storage, "api_llm_session", params)[0])
    return JSONResponse({"data": exports.jsonable({**item, "changes": actions})})


def _deleted(result: dict[str, Any]) -> JSONResponse:
    return JSONResponse({"data": {
        "deleted": True, "audit_id": result["audit_id"], "session_ids": result["sessions"],
        "thread_ids": result["threads"],
    }})


@router.delete("/api/v1/{org_id}/conversations/{thread_id}", summary="Delete a conversation and all its sessions")
def delete_conversation(request: Request, writer: Write, thread_id: ThreadId) -> JSONResponse:
    """Every session of the thread, its derived rows and its raw and typed events go at
    once and for good: records arriving later for these session ids stay hidden and are
    purged. Threads forked from it stay, with ``parent_deleted: true``."""
    storage = request.app.state.storage
    sessions = management.thread_sessions(storage, writer.org, thread_id)
    if not sessions:
        raise not_found("conversation", thread_id)
    result = management.delete(storage, writer.org, sessions, [thread_id], writer.actor, "conversation", thread_id)
    _notify(request, writer.org, result["affected"])
    return _deleted(result)


@router.delete("/api/v1/{org_id}/llm_sessions/{session_id}", summary="Delete an LLM session")
def delete_session(request: Request, writer: Write, session_id: SessionId) -> JSONResponse:
    """The session's derived rows and raw and typed events go at once and for good; the rest
    of its conversation is re-derived without it (a conversation left empty goes too)."""
    storage = request.app.state.storage
    known = run(storage, "api_session_known", {"org": writer.org, "session": session_id})
    if not known or not known[0]["known"]:
        raise not_found("llm session", session_id)
    placed = management.session_thread(storage, writer.org, session_id)
    whole = [placed[0]] if placed is not None and placed[1] <= 1 else []
    result = management.delete(storage, writer.org, [session_id], whole, writer.actor, "llm_session", session_id)
    _notify(request, writer.org, result["affected"])
    return _deleted(result)


AUDIT_COLUMNS: exports.Columns = {
    "id": "str",
    "at": "datetime",
    "actor": "str",
    "action": "str",
    "target_kind": "str",
    "target_id": "str",
    "details": "json",
}
AuditRow = exports.item_model("AuditEntry", AUDIT_COLUMNS)
AuditPage = exports.page_model("AuditPage", AuditRow)


@router.get("/api/v1/{org_id}/audit", response_model=AuditPage, summary="Management audit log, newest first")
def audit(request: Request, org: Org, limit: filters.LimitParam = 100,
          cursor: filters.CursorParam = None) -> Response:
    """Every rename, archive, unarchive and delete in the org: who (``local`` or
    ``token:<first 12 hex of the token's SHA-256>``), what, when."""
    fhash = pagination.filters_hash("audit", {"org": org})
    after: list[Any] = [0, ""]
    if cursor:
        after = pagination.decode_cursor(cursor, fhash, (int, str))
    rows = run(request.app.state.storage, "api_audit", {
        "org": org, "has_cursor": int(bool(cursor)), "after_us": after[0], "after_id": after[1], "limit": limit + 1,
    })
    rows, next_cursor = pagination.page(rows, limit, lambda r: [r["at_us"], r["audit_id"]], fhash)
    items = []
    for row in rows:
        try:
            details = json.loads(row["details"])
        except ValueError:
            raise ApiError(500, "audit row with unreadable details") from None
        items.append({"id": row["audit_id"], "at": utc(row["at"]), "actor": row["actor"], "action": row["action"],
                      "target_kind": row["target_kind"], "target_id": row["target_id"], "details": details})
    return exports.respond(items, AUDIT_COLUMNS, "json", limit, next_cursor, "audit")
