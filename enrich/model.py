"""The data enrichment works on: typed events in, derived rows out. No I/O here.

Times are integers in microseconds since the epoch (UTC) throughout the pure code; the
service converts at the storage edge. Derived rows mirror the columns of the tables in
storage/sql/migrations/0003_derived.sql, without ``version`` / ``is_deleted`` (the service
adds those).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

# Event names (events.EventName). Claude Code's own are unprefixed; the hook bridge's
# carry the loomline. prefix (docs/hook-records.md); the metrics decoder adds one row per
# claude_code.session.count point.
USER_PROMPT = "user_prompt"
API_REQUEST = "api_request"
API_ERROR = "api_error"
TOOL_RESULT = "tool_result"
TOOL_DECISION = "tool_decision"
COMPACTION = "compaction"
HOOK_EXECUTION_START = "hook_execution_start"
METRIC_SESSION_COUNT = "metric.session_count"
BRIDGE_SESSION_START = "loomline.session_start"
BRIDGE_SESSION_END = "loomline.session_end"
BRIDGE_PRE_COMPACT = "loomline.pre_compact"
BRIDGE_POST_COMPACT = "loomline.post_compact"
BRIDGE_USER_PROMPT_SUBMIT = "loomline.user_prompt_submit"
BRIDGE_PREFIX = "loomline."

# Events that show a person or the model doing something in a session, as opposed to
# the bookkeeping every process start emits (managed_settings_resolved, hook_registered,
# plugin_loaded, SessionStart hook runs). A session with none of these that hands its
# process over to another session id is a start-up placeholder (see segments.py).
ACTIVITY_EVENTS = frozenset({
    USER_PROMPT, API_REQUEST, API_ERROR, TOOL_RESULT, TOOL_DECISION, COMPACTION,
    "assistant_response", BRIDGE_USER_PROMPT_SUBMIT, BRIDGE_PRE_COMPACT, BRIDGE_POST_COMPACT,
    "loomline.pre_tool_use", "loomline.post_tool_use", "loomline.stop",
})

# Evidence labels, strongest first.
EVIDENCE_HOOK = "hook"  # the hook bridge's lifecycle records
EVIDENCE_NATIVE = "native"  # Claude Code's own telemetry
EVIDENCE_INFERRED = "inferred"  # a rule over native telemetry (sequence continuity, position)
EVIDENCE_DERIVED = "derived"  # depends on the clock (idle timeout)


@dataclass(frozen=True)
class Event:
    """One row of the ``events`` table, reduced to what enrichment reads."""

    org_id: str
    session_id: str
    event_key: int
    event_name: str
    timestamp: int  # µs since the epoch
    sequence: int | None = None
    prompt_id: str = ""
    model: str = ""
    query_source: str = ""
    cost_usd: float = 0.0
    cost_micros: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_creation_5m_tokens: int = 0
    cache_creation_1h_tokens: int = 0
    duration_ms: float | None = None
    tool_name: str = ""
    success: bool | None = None
    status_code: int | None = None
    attempt: int | None = None
    error: str = ""
    command_name: str = ""
    hook_name: str = ""
    compaction_trigger: str = ""
    pre_tokens: int | None = None
    post_tokens: int | None = None
    source: str = ""
    reason: str = ""
    cli_run_id: str = ""
    parent_session_id: str = ""
    cwd: str = ""
    project_id: str = ""
    project_name: str = ""
    git_branch: str = ""
    agent_name: str = ""
    user_id: str = ""
    user_email: str = ""
    account_uuid: str = ""
    organization_id: str = ""
    terminal_type: str = ""
    app_version: str = ""
    service_name: str = ""
    host: str = ""
    prompt: str = ""
    ingested_at: int = 0  # ms since the epoch; only feeds the row version

    @property
    def is_bridge(self) -> bool:
        return self.event_name.startswith(BRIDGE_PREFIX)

    def sort_key(self) -> tuple[int, int, int]:
        """A total order: time, then sequence, then the event key (ties are real: many
        events share a millisecond)."""
        return (self.timestamp, -1 if self.sequence is None else self.sequence, self.event_key)

    def moved_to(self, session_id: str) -> Event:
        return replace(self, session_id=session_id)


@dataclass(frozen=True)
class Segment:
    org_id: str
    session_id: str
    segment_index: int
    source: str  # startup, resume, continue, fork, clear, compact
    started_at: int
    ended_at: int
    cli_run_id: str
    first_sequence: int | None
    last_sequence: int | None
    event_count: int
    evidence: str


@dataclass(frozen=True)
class CliRun:
    org_id: str
    cli_run_id: str
    started_at: int
    ended_at: int
    session_ids: tuple[str, ...]
    host: str
    app_version: str
    evidence: str


@dataclass(frozen=True)
class Link:
    """A typed edge, always pointing forward in time: ``from_session_id`` is the earlier
    (parent) session, ``to_session_id`` the later (child) one."""

    org_id: str
    from_session_id: str
    to_session_id: str
    link_type: str  # resumed_as, forked_from, cleared_from
    created_at: int
    evidence: str


RESUMED_AS = "resumed_as"
FORKED_FROM = "forked_from"
CLEARED_FROM = "cleared_from"


@dataclass(frozen=True)
class Compaction:
    org_id: str
    session_id: str
    compaction_key: str
    thread_id: str
    timestamp: int
    trigger: str
    success: bool
    pre_tokens: int | None
    post_tokens: int | None
    duration_ms: float | None
    error: str
    prompt_id: str
    evidence: str


@dataclass(frozen=True)
class Usage:
    """Token and cost totals; sums over api_request events."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_creation_5m_tokens: int = 0
    cache_creation_1h_tokens: int = 0
    cost_usd: float = 0.0
    cost_micros: int = 0
    computed_cost_usd: float = 0.0
    unpriced_request_count: int = 0
    api_request_count: int = 0


@dataclass(frozen=True)
class Session:
    """One row of ``llm_sessions``."""

    org_id: str
    session_id: str
    thread_id: str
    parent_thread_id: str
    thread_position: int
    user_id: str
    user_email: str
    account_uuid: str
    organization_id: str
    project_id: str
    project_name: str
    cwd: str
    git_branch: str
    agent_name: str
    first_model: str
    models: tuple[str, ...]
    terminal_type: str
    app_version: str
    started_at: int
    last_activity_at: int
    closed_at: int | None
    close_reason: str
    close_evidence: str
    start_source: str
    start_evidence: str
    segment_count: int
    resume_count: int
    cli_run_count: int
    compaction_count: int
    failed_compaction_count: int
    last_compacted_at: int | None
    usage: Usage
    api_error_count: int
    user_prompt_count: int
    tool_call_count: int
    tool_error_count: int
    active_time_seconds: float
    first_prompt: str
    event_count: int
    has_hook_evidence: bool
    title: str = ""  # automatic title (enrich/titles.py); a user's title wins at read time


@dataclass(frozen=True)
class Thread:
    """One row of ``threads``."""

    org_id: str
    thread_id: str
    root_session_id: str
    parent_thread_id: str
    session_ids: tuple[str, ...]
    compaction_count: int
    failed_compaction_count: int
    usage: Usage
    api_error_count: int
    user_prompt_count: int
    tool_call_count: int
    first_activity_at: int
    last_activity_at: int
    closed_at: int | None
    close_reason: str
    status: str  # active / closed
    title: str
    user_id: str
    user_email: str
    project_id: str
    project_name: str
    agent_name: str
    models: tuple[str, ...]


@dataclass(frozen=True)
class Derived:
    """Everything derived from one group of linked sessions."""

    sessions: tuple[Session, ...] = ()
    segments: tuple[Segment, ...] = ()
    links: tuple[Link, ...] = ()
    compactions: tuple[Compaction, ...] = ()
    cli_runs: tuple[CliRun, ...] = ()
    threads: tuple[Thread, ...] = ()
    # start-up placeholders folded into the session they handed over to: (placeholder, session)
    absorbed_sessions: tuple[tuple[str, str], ...] = field(default=())


# events table column → Event field, for rows read from storage (or decoded batches).
EVENT_FIELDS: dict[str, str] = {
    "OrgId": "org_id", "SessionId": "session_id", "EventKey": "event_key", "EventName": "event_name",
    "Sequence": "sequence", "PromptId": "prompt_id", "Model": "model", "QuerySource": "query_source",
    "CostUsd": "cost_usd", "CostMicros": "cost_micros", "InputTokens": "input_tokens",
    "OutputTokens": "output_tokens", "CacheReadTokens": "cache_read_tokens",
    "CacheCreationTokens": "cache_creation_tokens", "CacheCreation5mTokens": "cache_creation_5m_tokens",
    "CacheCreation1hTokens": "cache_creation_1h_tokens", "DurationMs": "duration_ms",
    "ToolName": "tool_name", "Success": "success", "StatusCode": "status_code", "Attempt": "attempt",
    "Error": "error", "CommandName": "command_name", "HookName": "hook_name",
    "CompactionTrigger": "compaction_trigger", "PreTokens": "pre_tokens", "PostTokens": "post_tokens",
    "Source": "source", "Reason": "reason", "CliRunId": "cli_run_id", "ParentSessionId": "parent_session_id",
    "Cwd": "cwd", "ProjectId": "project_id", "GitBranch": "git_branch", "AgentName": "agent_name",
    "UserId": "user_id", "UserEmail": "user_email", "AccountUuid": "account_uuid",
    "OrganizationId": "organization_id", "TerminalType": "terminal_type", "AppVersion": "app_version",
    "ServiceName": "service_name", "Prompt": "prompt",
}


def event_from_row(row: dict[str, object]) -> Event:
    """An Event from an events-table row: either as decoded by the receiver (``Timestamp``
    in µs, ``Attributes`` / ``ResourceAttributes`` maps) or as read by
    enrich_load_events.sql (``timestamp_us``, ``ingested_ms``, ``host``, ``project_name``)."""
    values: dict[str, object] = {field_name: row[column] for column, field_name in EVENT_FIELDS.items() if column in row}
    values["timestamp"] = int(row["timestamp_us"] if "timestamp_us" in row else row["Timestamp"])  # type: ignore[call-overload]
    attributes = row.get("Attributes") or {}
    resource = row.get("ResourceAttributes") or {}
    assert isinstance(attributes, dict) and isinstance(resource, dict)
    values["host"] = row.get("host", resource.get("host.name", ""))
    values["project_name"] = row.get("project_name", attributes.get("loomline.project.name", "") or resource.get("project.name", ""))
    if not values.get("project_id"):
        values["project_id"] = resource.get("project.id", "")
    values["ingested_at"] = int(row.get("ingested_ms", 0) or 0)  # type: ignore[call-overload]
    if values.get("success") is not None:
        values["success"] = bool(values["success"])
    return Event(**values)  # type: ignore[arg-type]
