"""Typed Claude Code events from log records.

A log record is a Claude Code event when its body is ``claude_code.<name>`` (Claude Code,
the Agent SDK) or its ``event.name`` is ``loomline.<name>`` (the hook bridge, see
docs/hook-records.md). Attribute types are not stable across Claude Code versions (numbers
arrive as strings in some events and versions), so every typed column is parsed from the
attribute's string form; the raw value stays in ``Attributes``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from receiver.attributes import LimitCounters

CLAUDE_PREFIX = "claude_code."
BRIDGE_PREFIX = "loomline."


# Bounds of the typed numeric columns. Values outside them are not stored in the typed
# column (the raw text stays in Attributes) and are counted in the partial-success message:
# one absurd number (1.7e308, 2^63-1) must not overflow the sums enrichment and the API
# compute over many records, nor the exports' 64-bit columns.
MAX_TOKENS = 10**10  # per record; a million times the largest real context window
MAX_COST_USD = 100_000.0  # per record
MAX_DURATION_MS = 366 * 24 * 3600 * 1000.0  # a year


class OutOfRange(ValueError):
    """A numeric attribute parsed but lies outside its column's bounds."""


def to_int(text: str) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            return None
        return int(number) if math.isfinite(number) else None


def to_uint(text: str) -> int:
    value = to_int(text)
    return value if value is not None and 0 <= value < 2**63 else 0


def to_float(text: str) -> float | None:
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def to_bool(text: str) -> bool | None:
    lowered = text.strip().lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no"}:
        return False
    return None


def _nullable_uint(text: str) -> int | None:
    value = to_int(text)
    return value if value is not None and 0 <= value < 2**63 else None


def _bounded(parse: Callable[[str], Any], low: float, high: float) -> Callable[[str], Any]:
    """``parse`` that raises OutOfRange for a parsed number outside [low, high]."""

    def parse_bounded(text: str) -> Any:
        value = parse(text)
        if value is not None and not low <= value <= high:
            raise OutOfRange(text[:40])
        return value

    return parse_bounded


_tokens = _bounded(to_int, 0, MAX_TOKENS)
_duration_ms = _bounded(to_float, 0.0, MAX_DURATION_MS)


def _nullable_int32(text: str) -> int | None:
    value = to_int(text)
    return value if value is not None and -(2**31) <= value < 2**31 else None


def _nullable_int64(text: str) -> int | None:
    value = to_int(text)
    return value if value is not None and -(2**63) <= value < 2**63 else None


# events column -> (attribute keys tried in order, parser, default)
TYPED_COLUMNS: dict[str, tuple[tuple[str, ...], Callable[[str], Any], Any]] = {
    "PromptId": (("prompt.id",), str, ""),
    "Model": (("model",), str, ""),
    "QuerySource": (("query_source",), str, ""),
    "InputTokens": (("input_tokens",), _tokens, 0),
    "OutputTokens": (("output_tokens",), _tokens, 0),
    "CacheReadTokens": (("cache_read_tokens",), _tokens, 0),
    "CacheCreationTokens": (("cache_creation_tokens",), _tokens, 0),
    "CacheCreation5mTokens": (("cache_creation_5m_tokens",), _tokens, 0),
    "CacheCreation1hTokens": (("cache_creation_1h_tokens",), _tokens, 0),
    "DurationMs": (("duration_ms", "total_duration_ms"), _duration_ms, None),
    "ToolName": (("tool_name",), str, ""),
    "ToolUseId": (("tool_use_id",), str, ""),
    "Decision": (("decision",), str, ""),
    "Success": (("success",), to_bool, None),
    "StatusCode": (("status_code",), _nullable_int32, None),
    "Attempt": (("attempt",), _nullable_int32, None),
    "Error": (("error",), str, ""),
    "CommandName": (("command_name",), str, ""),
    "HookName": (("hook_name",), str, ""),
    "CompactionTrigger": (("trigger",), str, ""),
    "PreTokens": (("pre_tokens",), _tokens, None),
    "PostTokens": (("post_tokens",), _tokens, None),
    "Source": (("source",), str, ""),
    "Reason": (("reason",), str, ""),
    "CliRunId": (("loomline.cli_run.id",), str, ""),
    "ParentSessionId": (("loomline.parent_session_id",), str, ""),
    "Cwd": (("cwd",), str, ""),
    "ProjectId": (("loomline.project.id",), str, ""),
    "GitBranch": (("git.branch",), str, ""),
    "AgentName": (("agent.name", "agent_type"), str, ""),
    "UserId": (("user.id",), str, ""),
    "UserEmail": (("user.email",), str, ""),
    "AccountUuid": (("user.account_uuid", "user.account_id"), str, ""),
    "OrganizationId": (("organization.id",), str, ""),
    "TerminalType": (("terminal.type",), str, ""),
    "Prompt": (("prompt",), str, ""),
}

_DEFAULTS: dict[str, Any] = {column: default for column, (_, _, default) in TYPED_COLUMNS.items()}
# attribute key -> (column, parser, rank of the key among the column's keys)
_BY_KEY: dict[str, tuple[str, Callable[[str], Any], int]] = {
    key: (column, parse, rank)
    for column, (keys, parse, _) in TYPED_COLUMNS.items()
    for rank, key in enumerate(keys)
}

EVENT_COLUMNS: tuple[str, ...] = (
    "OrgId", "SessionId", "EventKey", "EventName", "Timestamp", "Sequence",
    *TYPED_COLUMNS,
    "CostUsd", "CostMicros", "AppVersion", "ServiceName", "Attributes", "ResourceAttributes",
)


def event_name_of(body: str, attributes: dict[str, str]) -> str | None:
    """The event's name (``api_request``, ``loomline.session_start``), or None if the record
    is not a Claude Code / bridge event."""
    name = attributes.get("event.name", "")
    if name.startswith(BRIDGE_PREFIX):
        return name
    if body.startswith(CLAUDE_PREFIX):
        return name or body[len(CLAUDE_PREFIX):]
    return None


def parse_iso_timestamp_us(text: str) -> int | None:
    """``2026-11-21T19:01:00.431Z`` → microseconds since the epoch, or None."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return int(parsed.timestamp() * 1_000_000)


def typed_event(
    *,
    org_id: str,
    session_id: str,
    event_key: int,
    event_name: str,
    time_unix_nano: int,
    attributes: dict[str, str],
    resource: dict[str, str],
    counters: LimitCounters | None = None,
) -> dict[str, Any]:
    """One row of the ``events`` table (column name → value). Numbers outside their
    column's bounds are left out of the typed column and counted in ``counters``."""
    row: dict[str, Any] = {
        "OrgId": org_id,
        "SessionId": session_id,
        "EventKey": event_key,
        "EventName": event_name,
    }
    # The record time is the event time at millisecond precision in Claude Code's export;
    # fall back to event.timestamp when a client leaves it empty.
    timestamp_us = time_unix_nano // 1000 if time_unix_nano else parse_iso_timestamp_us(attributes.get("event.timestamp", ""))
    row["Timestamp"] = timestamp_us or 0
    row["Sequence"] = _nullable_int64(attributes.get("event.sequence", ""))
    # Walk the record's attributes (about 15) rather than every typed column (about 40);
    # where several keys feed one column, the earlier key in TYPED_COLUMNS wins.
    row.update(_DEFAULTS)
    filled: dict[str, int] = {}
    out_of_range = 0
    for key, text in attributes.items():
        target = _BY_KEY.get(key)
        if target is None:
            continue
        column, parse, rank = target
        if filled.get(column, 99) < rank:
            continue
        try:
            parsed = parse(text)
        except OutOfRange:
            out_of_range += 1
            continue
        if parsed is not None:
            row[column] = parsed
            filled[column] = rank
    if not row["UserEmail"]:
        row["UserEmail"] = resource.get("user.email", "")
    if not row["OrganizationId"]:
        row["OrganizationId"] = resource.get("organization.id", "")
    cost = to_float(attributes.get("cost_usd", "")) or 0.0
    if not 0.0 <= cost <= MAX_COST_USD:
        out_of_range += 1
        cost = 0.0
    micros = to_int(attributes.get("cost_usd_micros", ""))
    if micros is not None and not 0 <= micros <= MAX_COST_USD * 1_000_000:
        out_of_range += 1
        micros = None
    if micros is None:
        micros = round(cost * 1_000_000)
    row["CostUsd"] = cost
    row["CostMicros"] = micros
    if out_of_range and counters is not None:
        counters.out_of_range += out_of_range
    row["AppVersion"] = resource.get("service.version", "")
    row["ServiceName"] = resource.get("service.name", "")
    row["Attributes"] = attributes
    row["ResourceAttributes"] = resource
    return row
