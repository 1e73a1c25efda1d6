"""OTLP/JSON → protobuf export requests.

OTLP/JSON is the protobuf JSON mapping with two differences that ``json_format`` alone
gets wrong: trace and span ids are **hex** strings (not base64), and enum fields may be
given as integers or names. 64-bit integers may arrive as strings or numbers; json_format
accepts both. Unknown fields are ignored, as the OTLP spec asks of receivers.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

SIGNAL_REQUESTS: dict[str, type[Message]] = {
    "logs": ExportLogsServiceRequest,
    "traces": ExportTraceServiceRequest,
    "metrics": ExportMetricsServiceRequest,
}

# Fields that carry ids as hex in OTLP/JSON (bytes in protobuf).
_HEX_ID_FIELDS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})
_HEX_ID_LENGTHS = {16, 32}  # 8-byte span ids, 16-byte trace ids, in hex characters


class OtlpJsonError(ValueError):
    """The body is not valid OTLP/JSON; the message says where."""


def _fix_ids(node: Any) -> Any:
    """Rewrite hex id strings to the base64 json_format expects, in place, recursively."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _HEX_ID_FIELDS and isinstance(value, str):
                node[key] = _hex_to_b64(key, value)
            elif isinstance(value, dict | list):
                _fix_ids(value)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict | list):
                _fix_ids(item)
    return node


def _hex_to_b64(key: str, value: str) -> str:
    if value == "":
        return ""
    if len(value) not in _HEX_ID_LENGTHS:
        raise OtlpJsonError(f"{key}: expected {sorted(_HEX_ID_LENGTHS)} hex characters, got {len(value)}")
    try:
        return base64.b64encode(binascii.unhexlify(value)).decode("ascii")
    except (binascii.Error, ValueError):
        raise OtlpJsonError(f"{key}: not a hex string: {value[:40]!r}") from None


def parse_request(signal: str, body: bytes | str | dict[str, Any]) -> Message:
    """Parse an OTLP/JSON export request body for ``signal`` (logs, traces or metrics)."""
    try:
        request_type = SIGNAL_REQUESTS[signal]
    except KeyError:
        raise OtlpJsonError(f"unknown signal {signal!r}") from None
    if isinstance(body, bytes | str):
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise OtlpJsonError(f"body is not JSON: {exc}") from None
    else:
        document = json.loads(json.dumps(body))  # private copy: _fix_ids mutates
    if not isinstance(document, dict):
        raise OtlpJsonError(f"body must be a JSON object, got {type(document).__name__}")
    _fix_ids(document)
    message = request_type()
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=True)
    except (json_format.ParseError, TypeError, ValueError, RecursionError) as exc:
        raise OtlpJsonError(f"not an OTLP/JSON {signal} request: {exc}") from None
    return message


def signal_for_path(path: str) -> str:
    """``/v1/logs`` → ``logs``; raises OtlpJsonError for other paths."""
    for signal in SIGNAL_REQUESTS:
        if path.rstrip("/").endswith(f"/v1/{signal}"):
            return signal
    raise OtlpJsonError(f"not an OTLP path: {path!r}")
