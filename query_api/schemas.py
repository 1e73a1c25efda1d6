"""Response models of the single-object endpoints, for the OpenAPI document. List
endpoints build theirs from their column specs (exports.item_model)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class SessionMetrics(BaseModel):
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_creation_tokens: int
    estimated_cost_usd: float  # reported by Claude Code (sum of api_request cost_usd)
    computed_cost_usd: float  # tokens × the price table
    message_count: int  # prompts the person typed (injected ones are not messages)
    injected_prompt_count: int  # prompts Claude Code injected (<task-notification>, ...)
    unpriced_request_count: int  # requests without a computed cost (see unpriced_reasons)
    unpriced_reasons: dict[str, int]  # unknown_model, speed:<speed>, error → requests
    tool_call_count: int
    api_error_count: int


class ThreadInfo(BaseModel):
    position: int  # 1-based place of the session in its thread, by start time
    total_in_thread: int
    total_compactions_in_thread: int
    parent_thread_id: str | None  # the thread this one was forked from
    parent_deleted: bool  # that thread was deleted (this one stays)


class ProjectRef(BaseModel):
    id: str
    name: str


class UserRef(BaseModel):
    id: str
    email: str


class RepositoryRef(BaseModel):
    id: str  # host/owner/name, '' when unknown
    provider: str
    branch: str


class SubagentTotals(BaseModel):
    count: int  # distinct subagent ids
    api_request_count: int
    estimated_cost_usd: float  # reported cost of the subagents' requests


class SessionDetail(BaseModel):
    id: str
    otel_session_id: str
    title: str  # the user's title, else the automatic one
    auto_title: str
    title_source: str  # user or auto
    archived: bool  # archived itself or in an archived conversation
    conversation_thread_id: str
    agent_name: str
    start_source: str
    is_resumed: bool
    close_reason: str
    compaction_count: int
    last_compacted_at: datetime | None
    started_at: datetime
    closed_at: datetime | None
    models: list[str]
    metrics: SessionMetrics
    thread_info: ThreadInfo
    project: ProjectRef
    user: UserRef
    repository: RepositoryRef
    subagents: SubagentTotals


class SessionDetailResponse(BaseModel):
    data: SessionDetail


class ConversationDetailResponse(BaseModel):
    """``data``: the conversation's fields (as in the list) plus ``session_ids``,
    ``sessions`` in order, ``timeline``, ``compactions``, ``forks``, ``clear_breaks`` and
    ``links``."""

    data: dict[str, Any]


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "missing or invalid bearer token"},
    403: {"model": ErrorResponse, "description": "the token may not read this organization"},
    404: {"model": ErrorResponse, "description": "no such id in this organization"},
    422: {"model": ErrorResponse, "description": "invalid parameter"},
}
