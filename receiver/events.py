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

CLAUDE_PREFIX = "claude_code."
BRIDGE_PREFIX = "loomline."


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
    "InputTokens": (("input_tokens",), to_uint, 0),
    "OutputTokens": (("output_tokens",), to_uint, 0),
    "CacheReadTokens": (("cache_read_tokens",), to_uint, 0),
    "CacheCreationTokens": (("cache_creation_tokens",), to_uint, 0),
    "CacheCreation5mTokens": (("cache_creation_5m_tokens",), to_uint, 0),
    "CacheCreation1hTokens": (("cache_creation_1h_tokens",), to_uint, 0),
    "DurationMs": (("duration_ms", "total_duration_ms"), to_float, None),
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
    "PreTokens": (("pre_tokens",), _nullable_uint, None),
    "PostTokens": (("post_tokens",), _nullable_uint, None),
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
) -> dict[str, Any]:
    """One row of the ``events`` table (column name → value)."""
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
    for key, text in attributes.items():
        target = _BY_KEY.get(key)
        if target is None:
            continue
        column, parse, rank = target
        if filled.get(column, 99) < rank:
            continue
        parsed = parse(text)
        if parsed is not None:
            row[column] = parsed
            filled[column] = rank
    if not row["UserEmail"]:
        row["UserEmail"] = resource.get("user.email", "")
    if not row["OrganizationId"]:
        row["OrganizationId"] = resource.get("organization.id", "")
    cost = to_float(attributes.get("cost_usd", "")) or 0.0
    micros = to_int(attributes.get("cost_usd_micros", ""))
    if micros is None:
        micros = round(cost * 1_000_000) if abs(cost) < 9e12 else 0
    row["CostUsd"] = cost
    row["CostMicros"] = micros if -(2**63) <= micros < 2**63 else 0
    row["AppVersion"] = resource.get("service.version", "")
    row["ServiceName"] = resource.get("service.name", "")
    row["Attributes"] = attributes
    row["ResourceAttributes"] = resource
    return row
