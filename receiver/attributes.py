"""OTLP attribute values → the strings ClickHouse maps hold, with size limits.

Maps store every value as a string, as the OpenTelemetry Collector's ClickHouse exporter
does: strings as they are, integers in decimal, doubles in shortest round-trip form,
booleans as ``true``/``false``, arrays and key-value lists as JSON, bytes as hex.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue


@dataclass
class Limits:
    """Per-record limits; values beyond them are dropped or truncated, and counted."""

    max_attributes: int = 256
    max_attribute_length: int = 16 * 1024


@dataclass
class LimitCounters:
    dropped_attributes: int = 0
    truncated_values: int = 0

    def add(self, other: LimitCounters) -> None:
        self.dropped_attributes += other.dropped_attributes
        self.truncated_values += other.truncated_values


def any_value_to_python(value: AnyValue, depth: int = 0) -> Any:
    """An AnyValue as a plain Python value (for JSON encoding of nested values)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "bytes_value":
        return value.bytes_value.hex()
    if depth > 32:  # hostile nesting: stop instead of recursing without bound
        return None
    if kind == "array_value":
        return [any_value_to_python(v, depth + 1) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value_to_python(kv.value, depth + 1) for kv in value.kvlist_value.values}
    return None


def any_value_to_str(value: AnyValue) -> str:
    """The map-column string form of an AnyValue."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return repr(value.double_value)
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind is None:
        return ""
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return json.dumps(any_value_to_python(value), separators=(",", ":"), ensure_ascii=False)


def attributes_to_map(attributes: Iterable[KeyValue], limits: Limits, counters: LimitCounters) -> dict[str, str]:
    """Convert repeated KeyValue to {key: str}, applying limits (later duplicates win)."""
    result: dict[str, str] = {}
    max_len = limits.max_attribute_length
    max_count = limits.max_attributes
    for kv in attributes:
        key = kv.key
        if len(result) >= max_count and key not in result:
            counters.dropped_attributes += 1
            continue
        value = kv.value
        kind = value.WhichOneof("value")
        # Inline the common kinds: this loop runs for every attribute of every record.
        if kind == "string_value":
            text = value.string_value
        elif kind == "int_value":
            text = str(value.int_value)
        else:
            text = any_value_to_str(value)
        if len(text) > max_len:
            text = text[:max_len]
            counters.truncated_values += 1
        result[key] = text
    return result
