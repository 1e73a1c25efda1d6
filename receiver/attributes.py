"""OTLP attribute values → the strings ClickHouse maps hold, with size limits.

Maps store every value as a string, as the OpenTelemetry Collector's ClickHouse exporter
does: strings as they are, integers in decimal, doubles in shortest round-trip form,
booleans as ``true``/``false``, arrays and key-value lists as JSON, bytes as hex.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue


@dataclass
class Limits:
    """Per-record limits; values beyond them are dropped or truncated, and counted."""

    max_attributes: int = 256
    max_attribute_length: int = 16 * 1024
    max_key_length: int = 256  # attribute keys longer than this are dropped (and counted)


@dataclass
class LimitCounters:
    dropped_attributes: int = 0
    truncated_values: int = 0
    long_keys: int = 0  # attributes dropped because their key is over the key-length limit
    out_of_range: int = 0  # numeric values left out of typed columns (outside their bounds)

    def add(self, other: LimitCounters) -> None:
        self.dropped_attributes += other.dropped_attributes
        self.truncated_values += other.truncated_values
        self.long_keys += other.long_keys
        self.out_of_range += other.out_of_range


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


def attributes_to_map(attributes: Sequence[KeyValue], limits: Limits, counters: LimitCounters) -> dict[str, str]:
    """Convert repeated KeyValue to {key: str}, applying limits (later duplicates win)."""
    max_len = limits.max_attribute_length
    if len(attributes) <= limits.max_attributes:
        # The common case, kept tight: it runs for every attribute of every record. Most
        # values are strings; any other kind has an empty string_value and takes the slow path.
        result = {kv.key: kv.value.string_value or any_value_to_str(kv.value) for kv in attributes}
        if max(map(len, result), default=0) > limits.max_key_length:
            for key in [k for k in result if len(k) > limits.max_key_length]:
                del result[key]
                counters.long_keys += 1
        if max(map(len, result.values()), default=0) > max_len:
            for key, text in result.items():
                if len(text) > max_len:
                    result[key] = text[:max_len]
                    counters.truncated_values += 1
        return result
    result = {}
    for kv in attributes:
        key = kv.key
        if len(key) > limits.max_key_length:
            counters.long_keys += 1
            continue
        if len(result) >= limits.max_attributes and key not in result:
            counters.dropped_attributes += 1
            continue
        text = any_value_to_str(kv.value)
        if len(text) > max_len:
            text = text[:max_len]
            counters.truncated_values += 1
        result[key] = text
    return result
