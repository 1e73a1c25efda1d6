"""The data enrichment works on: typed events in, derived rows out. No I/O here.

Times are integers in microseconds since the epoch (UTC) throughout the pure code; the
service converts at the storage edge. Derived rows mirror the columns of the tables in
storage/sql/migrations/0003_derived.sql, without ``version`` / ``is_deleted`` (the service
adds those).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from typing import Any, cast

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
# Records `loomline import` made from Claude Code's transcripts (attribute
# loomline.evidence=transcript): weaker than telemetry and hooks for what both describe.
EVIDENCE_TRANSCRIPT = "transcript"


# slots: the Enricher caches many of these. Not frozen: a frozen dataclass's __init__ sets
# each of the 61 fields through object.__setattr__, ~4 µs per event, most of the cost of
# loading a row; an Event is still never modified after it is built (dataclasses.replace
# makes a changed copy) and hashes as a frozen one did.
@dataclass(slots=True, unsafe_hash=True)
class Event:
    """One row of the ``events`` table, reduced to what enrichment reads. Treat as
    immutable: the Enricher's cache and every derivation share the same objects."""

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
    # Read from the raw attributes (events.Attributes / ResourceAttributes), not typed columns:
    speed: str = ""  # api_request: the service tier it was served at (normal, fast, ...)
    agent_id: str = ""  # api_request etc. of a subagent; '' for the main agent
    vcs_url: str = ""  # vcs.repository.url.full (OTEL_METRICS_INCLUDE_REPOSITORY=true)
    vcs_owner: str = ""
    vcs_repository: str = ""
    vcs_provider: str = ""
    # SessionStart (resume / fork) hook payload, current Claude Code
    seconds_since_last_response: float | None = None
    context_tokens: int | None = None
    cache_likely_expired: bool | None = None
    estimated_cache_write_usd: float | None = None
    is_async: bool | None = None  # subagent_completed: a background subagent
    evidence: str = ""  # loomline.evidence: 'transcript' for loomline import records, else ''
    ingested_at: int = 0  # ms since the epoch; only feeds the row version

    @property
    def is_bridge(self) -> bool:
        return self.event_name.startswith(BRIDGE_PREFIX)

    @property
    def imported(self) -> bool:
        return self.evidence == EVIDENCE_TRANSCRIPT

    def sort_key(self) -> tuple[int, int, int]:
        """A total order: time, then sequence, then the event key (ties are real: many
        events share a millisecond)."""
        return (self.timestamp, -1 if self.sequence is None else self.sequence, self.event_key)

    def moved_to(self, session_id: str) -> Event:
        return replace(self, session_id=session_id)


@dataclass(frozen=True, slots=True)
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
    # Resume health (enrich/resumes.py), for resume / continue / fork segments:
    idle_before_seconds: float | None = None  # since the session's last activity before it
    session_age_seconds: float | None = None  # since the session started
    cache_likely_expired: bool | None = None  # SessionStart prompt_cache_likely_expired
    estimated_cache_write_usd: float | None = None  # SessionStart estimate of the cache re-write
    context_tokens: int | None = None  # SessionStart context_tokens
    cache_write_tokens: int = 0  # cache creation tokens of the segment's first request
    failed: bool = False  # first request errored, or nothing followed the resume
    failure: str = ""  # first_request_error / no_activity


@dataclass(frozen=True, slots=True)
class CliRun:
    org_id: str
    cli_run_id: str
    started_at: int
    ended_at: int
    session_ids: tuple[str, ...]
    host: str
    app_version: str
    evidence: str


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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
    # why requests are unpriced: (reason, count), sorted; e.g. ("speed:fast", 3)
    unpriced_reasons: tuple[tuple[str, int], ...] = ()


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
    injected_prompt_count: int = 0  # user_prompt events Claude Code injected (enrich/prompts.py)
    repository: str = ""  # host/owner/name (enrich/repository.py)
    repository_provider: str = ""
    subagent_count: int = 0  # distinct subagent ids with activity
    subagent_request_count: int = 0
    subagent_cost_usd: float = 0.0


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
    injected_prompt_count: int = 0
    repository: str = ""
    git_branch: str = ""


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

# Event fields read from the raw attribute maps: field → (attribute key, parser). The load
# query (enrich_load_events.sql) reads the same keys; rows straight from the receiver carry
# the maps themselves. Resource attributes are the fallback (vcs.* may be either).
def _text(value: str) -> str:
    return value


def _int(value: str) -> int | None:
    try:
        return int(float(value)) if value.strip() else None
    except (ValueError, OverflowError):
        return None


def _float(value: str) -> float | None:
    try:
        number = float(value) if value.strip() else None
    except ValueError:
        return None
    return number if number is not None and abs(number) < 1e15 else None


def _bool(value: str) -> bool | None:
    lowered = value.strip().lower()
    return True if lowered in ("true", "1") else False if lowered in ("false", "0") else None


ATTRIBUTE_FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "speed": ("speed", _text),
    "agent_id": ("agent_id", _text),
    "vcs_url": ("vcs.repository.url.full", _text),
    "vcs_owner": ("vcs.owner.name", _text),
    "vcs_repository": ("vcs.repository.name", _text),
    "vcs_provider": ("vcs.provider.name", _text),
    "seconds_since_last_response": ("seconds_since_last_response", _float),
    "context_tokens": ("context_tokens", _int),
    "cache_likely_expired": ("prompt_cache_likely_expired", _bool),
    "estimated_cache_write_usd": ("estimated_cache_write_usd", _float),
    "is_async": ("is_async", _bool),
    "evidence": ("loomline.evidence", _text),
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
    for field_name, (key, parse) in ATTRIBUTE_FIELDS.items():
        if f"attr_{field_name}" in row:  # enrich_load_events.sql: already picked, as text
            text = row[f"attr_{field_name}"]
        else:
            text = attributes.get(key, "") or resource.get(key, "")
        parsed = parse(str(text or ""))
        if parsed not in (None, ""):
            values[field_name] = parsed
    if values.get("success") is not None:
        values["success"] = bool(values["success"])
    return Event(**values)  # type: ignore[arg-type]


EVENT_FIELD_ORDER: tuple[str, ...] = tuple(f.name for f in fields(Event))
# enrich_load_events.sql's columns: Event's typed fields in order (everything before the
# raw-attribute fields), then attr_<field> for each ATTRIBUTE_FIELDS entry (text, parsed
# here), then ingested_at.
TYPED_FIELD_ORDER: tuple[str, ...] = EVENT_FIELD_ORDER[:EVENT_FIELD_ORDER.index(next(iter(ATTRIBUTE_FIELDS)))]
LOAD_COLUMN_ORDER: tuple[str, ...] = (*TYPED_FIELD_ORDER, *(f"attr_{name}" for name in ATTRIBUTE_FIELDS), "ingested_at")


def events_from_rows(column_names: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[Event]:
    """Events from rows of enrich_load_events.sql (LOAD_COLUMN_ORDER): the typed fields
    positionally, no dict per row (the load is the Enricher's hottest loop); the raw
    attribute texts parsed as event_from_row does. Rows in another shape are matched by
    name."""
    names = tuple(column_names)
    if names != LOAD_COLUMN_ORDER:  # by name: slower, same result
        typed_at = [(i, name) for i, name in enumerate(names) if name in TYPED_FIELD_ORDER or name == "ingested_at"]
        attrs_at = [(names.index(f"attr_{name}"), name, parse) for name, (_, parse) in ATTRIBUTE_FIELDS.items()
                    if f"attr_{name}" in names]
        result = []
        for row in rows:
            values: dict[str, Any] = {name: row[i] for i, name in typed_at}
            for i, name, parse in attrs_at:
                parsed = parse(str(row[i] or ""))
                if parsed not in (None, ""):
                    values[name] = parsed
            result.append(Event(**values))
        return result
    typed = len(TYPED_FIELD_ORDER)
    parsers = [(typed + i, name, parse) for i, (name, (_, parse)) in enumerate(ATTRIBUTE_FIELDS.items())]
    events = []
    for row in rows:
        extra: dict[str, Any] = {}
        for index, name, parse in parsers:
            text = row[index]
            if text:
                parsed = parse(str(text))
                if parsed not in (None, ""):
                    extra[name] = parsed
        events.append(Event(*row[:typed], **extra, ingested_at=row[-1]))  # type: ignore[misc]
    return events


_ATTRIBUTE_DEFAULTS: tuple[Any, ...] = tuple(
    next(f.default for f in fields(Event) if f.name == name) for name in ATTRIBUTE_FIELDS
)


def events_from_columns(column_names: Sequence[str], columns: Sequence[Sequence[Any]]) -> list[Event]:
    """What events_from_rows returns, from the columns of enrich_load_events.sql's result
    (clickhouse-connect reads columns; rows would be a transpose). Each raw-attribute column
    is parsed in one comprehension (or skipped when every value is empty, as most are), and
    the Events are built by a constructor made for the load's shape (_maker): a column with
    one value in every row (most of them: a field only some events have) is set from that
    value, not read row by row."""
    names = tuple(column_names)
    if names != LOAD_COLUMN_ORDER:
        return events_from_rows(names, list(zip(*columns, strict=True)))
    rows = len(columns[0]) if columns else 0
    if not rows:
        return []
    typed = len(TYPED_FIELD_ORDER)
    sources: list[Sequence[Any] | _Same] = [_same_or(column) for column in columns[:typed]]
    for (_, (_, parse)), default, texts in zip(ATTRIBUTE_FIELDS.items(), _ATTRIBUTE_DEFAULTS,
                                              columns[typed:typed + len(ATTRIBUTE_FIELDS)], strict=True):
        if not any(texts):
            sources.append(_Same(default))
            continue
        values = []
        for text in texts:
            value = parse(str(text)) if text else None
            values.append(value if value not in (None, "") else default)
        sources.append(values)
    sources.append(_same_or(columns[-1]))
    varying = tuple(i for i, source in enumerate(sources) if not isinstance(source, _Same))
    make = _maker(varying)(*(source.value for source in sources if isinstance(source, _Same)))
    if not varying:
        return [make() for _ in range(rows)]
    return list(map(make, *(cast(Sequence[Any], sources[i]) for i in varying)))


class _Same:
    """A column with one value in every row."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _same_or(column: Sequence[Any]) -> Sequence[Any] | _Same:
    """_Same(value) when every row holds that one value, else the column. Only None, str,
    int and bool values are shared: equal floats can differ (0.0 and -0.0), so a float
    column is always read row by row. ``count`` compares in C, each value once; a column
    whose first, middle and last values differ is not scanned at all."""
    first = column[0]
    if first is not None and type(first) not in (str, int, bool):
        return column
    if column[-1] != first or column[len(column) // 2] != first or column.count(first) != len(column):
        return column
    return _Same(first)


@lru_cache(maxsize=256)
def _maker(varying: tuple[int, ...]) -> Callable[..., Callable[..., Event]]:
    """A factory of Event constructors for one shape of load: the returned function takes
    the constant fields' values (in field order) and returns a constructor whose arguments
    are the varying fields (positions ``varying`` of EVENT_FIELD_ORDER), each Event made
    with every field set, as Event(...) would (Event has no __post_init__). Generated once
    per shape from the field names, as dataclasses generates __init__."""
    constants = [i for i in range(len(EVENT_FIELD_ORDER)) if i not in varying]
    lines = [f"def factory({', '.join(f'c{i}' for i in constants)}):",
             f"    def make({', '.join(f'v{i}' for i in varying)}):",
             "        event = new(Event)"]
    lines += [f"        event.{name} = {'v' if i in varying else 'c'}{i}" for i, name in enumerate(EVENT_FIELD_ORDER)]
    lines += ["        return event", "    return make"]
    namespace: dict[str, Any] = {"new": object.__new__, "Event": Event}
    exec("\n".join(lines), namespace)  # noqa: S102 - our own field names, no input
    factory: Callable[..., Callable[..., Event]] = namespace["factory"]
    return factory

