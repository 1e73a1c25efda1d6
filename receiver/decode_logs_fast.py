"""The compiled logs decoder (``receiver._logswire``, C): ExportLogsServiceRequest bytes →
the same ``otel_logs`` and ``events`` rows as ``decode_logs`` over a upb parse, without
building protobuf messages. See docs/decoder.md.

The extension is optional: when it was not built (no compiler at install time) or
``LOOMLINE_PURE_PYTHON_DECODER=1`` is set, ``available()`` is False and the receiver uses the
pure-Python path. The extension itself hands any request outside the strict subset it
reproduces exactly (unknown fields, a singular field given twice, malformed bytes, ...)
back to the Python path, which then answers exactly as it always has.
"""

from __future__ import annotations

import json
import logging
import os
from functools import partial
from types import ModuleType
from typing import Any

from receiver import events
from receiver.attributes import LimitCounters, Limits
from receiver.batch import DecodeContext, DecodedBatch
from receiver.decode_logs import LOG_COLUMNS
from receiver.events import EVENT_COLUMNS, TYPED_COLUMNS

FORCE_PYTHON_ENV = "LOOMLINE_PURE_PYTHON_DECODER"
NATIVE_BLOCKS_ENV = "LOOMLINE_NATIVE_BLOCKS"  # 0: insert otel_logs and events column by column even when built
log = logging.getLogger("loomline.receiver")

# The extension's fast paths, by parser: anything else is called as the Python function.
_KINDS = {str: 0, events._tokens: 1, events._duration_ms: 2, events.to_bool: 3, events._nullable_int32: 4}


def _load() -> ModuleType | None:
    try:
        from receiver import _logswire
    except ImportError:
        return None
    assert events.CLAUDE_PREFIX == "claude_code." and events.BRIDGE_PREFIX == "loomline."  # fixed in the C code
    index = {column: i for i, column in enumerate(EVENT_COLUMNS)}
    key_map = {
        key: (index[column], _KINDS.get(parse, 9), rank, parse)
        for key, (column, parse, rank) in events._BY_KEY.items()
    }
    defaults = tuple((index[column], default) for column, (_, _, default) in TYPED_COLUMNS.items())
    _logswire.configure(
        len(EVENT_COLUMNS), index, key_map, defaults,
        partial(json.dumps, separators=(",", ":"), ensure_ascii=False),
        events.to_int, events.to_float, events._nullable_int64, events.parse_iso_timestamp_us,
        events.OutOfRange, events.MAX_TOKENS, events.MAX_DURATION_MS, events.MAX_COST_USD,
    )
    return _logswire


_extension = _load()


def available() -> bool:
    """True when the compiled decoder is built and not switched off by the environment."""
    return _extension is not None and os.environ.get(FORCE_PYTHON_ENV, "") not in ("1", "true", "yes")


def decode(body: bytes, limits: Limits, context: DecodeContext, max_rows: int, max_expanded: int,
           row_overhead: int) -> DecodedBatch | tuple[int, int] | str:
    """Decode a logs request body: a DecodedBatch (no dedup token or org warning yet);
    ``(rows, expanded bytes)`` when the request is over ``max_expanded``; or, when the
    extension does not take this request, the reason (a str) -- use the Python path."""
    assert _extension is not None
    result = _extension.decode(
        body, max_rows, max_expanded, row_overhead, limits.max_attributes,
        limits.max_attribute_length, limits.max_key_length, context.org_for,
    )
    if result[0] == "fallback":
        return str(result[1])
    if result[0] == "too_large":
        return int(result[1]), int(result[2])
    _, log_columns, event_columns, counts, sessions, no_session, accepted = result
    batch = DecodedBatch("logs")
    batch.tables["otel_logs"] = dict(zip(LOG_COLUMNS, log_columns, strict=True))
    batch.tables["events"] = dict(zip(EVENT_COLUMNS, event_columns, strict=True))
    batch.limits = LimitCounters(*counts)
    batch.sessions = sessions
    batch.accepted = accepted
    if no_session:
        batch.warnings.append(
            f"{no_session} Claude Code event records had no session.id: stored in otel_logs, not enriched"
        )
    return batch


# The tables the extension writes as Native blocks: column -> the type the block declares.
# ClickHouse converts String to LowCardinality(String) (the map keys too) on insert; the
# tables' own types are in storage/sql/migrations (a test compares them).
NATIVE_TYPES: dict[str, dict[str, str]] = {
    "otel_logs": {
        "Timestamp": "DateTime64(9)", "ObservedTimestamp": "DateTime64(9)", "TraceId": "String",
        "SpanId": "String", "TraceFlags": "UInt8", "SeverityText": "String", "SeverityNumber": "UInt8",
        "ServiceName": "String", "Body": "String", "ResourceSchemaUrl": "String",
        "ResourceAttributes": "Map(String, String)", "ScopeSchemaUrl": "String", "ScopeName": "String",
        "ScopeVersion": "String", "ScopeAttributes": "Map(String, String)",
        "LogAttributes": "Map(String, String)", "EventName": "String", "OrgId": "String",
    },
    # storage/sql/migrations/0002_events.sql (and later ALTERs); every other column is a String.
    "events": {
        **{column: "String" for column in EVENT_COLUMNS},
        "EventKey": "UInt64", "Timestamp": "DateTime64(6, 'UTC')", "Sequence": "Nullable(Int64)",
        **{column: "UInt64" for column in ("InputTokens", "OutputTokens", "CacheReadTokens", "CacheCreationTokens",
                                           "CacheCreation5mTokens", "CacheCreation1hTokens")},
        "DurationMs": "Nullable(Float64)", "Success": "Nullable(Bool)", "StatusCode": "Nullable(Int32)",
        "Attempt": "Nullable(Int32)", "PreTokens": "Nullable(UInt64)", "PostTokens": "Nullable(UInt64)",
        "CostUsd": "Float64", "CostMicros": "Int64",
        "Attributes": "Map(String, String)", "ResourceAttributes": "Map(String, String)",
    },
}


def native_block(table: str, columns: dict[str, list[Any]]) -> tuple[list[str], bytes] | None:
    """(column names, ClickHouse Native block) of ``columns`` when the extension writes this
    table's block, else None (insert the columns through clickhouse-connect)."""
    types = NATIVE_TYPES.get(table)
    if types is None or not available() or set(columns) != set(types):
        return None
    if os.environ.get(NATIVE_BLOCKS_ENV, "") in ("0", "false", "no"):
        return None
    assert _extension is not None
    names = list(columns)
    try:
        block = _extension.native_block(names, [types[n] for n in names], [columns[n] for n in names])
    except (TypeError, ValueError):  # not the values the decoders make: the generic path copes
        log.exception("cannot write %s as a Native block; inserting it column by column", table)
        return None
    return names, block


def scan(body: bytes) -> tuple[int, str, int, int, list[int]]:
    """The wire scan alone: (status 0 ok / 1 fallback, reason, records, request ByteSize,
    EventKeys). For tests and benchmarks."""
    assert _extension is not None
    return _extension.scan(body)  # type: ignore[no-any-return]
