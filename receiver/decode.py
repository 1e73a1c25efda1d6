"""Bytes in, DecodedBatch out: the one entry point both OTLP transports use."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError, Message

from receiver import decode_logs_fast
from receiver.attributes import Limits
from receiver.batch import DecodeContext, DecodedBatch, request_token
from receiver.decode_logs import decode_logs
from receiver.decode_metrics import decode_metrics
from receiver.decode_traces import decode_traces
from receiver.otlp_json import SIGNAL_REQUESTS, parse_request

DECODERS = {"logs": decode_logs, "traces": decode_traces, "metrics": decode_metrics}


class MalformedRequest(ValueError):
    """The request body cannot be decoded; the message is safe to return to the client."""


# Stored bytes per row beyond its attributes (timestamps, ids, column overhead): lets an
# empty-record flood count against the expanded-size limit too.
ROW_OVERHEAD_BYTES = 64


@dataclass(frozen=True)
class RequestLimits:
    """Per-request limits checked after parsing, before any per-row work."""

    max_rows: int = 100_000
    max_expanded_bytes: int = 256 * 1024 * 1024


def request_size(signal: str, request: Message) -> tuple[int, int]:
    """(rows, expanded bytes) of a parsed request: resource and scope attributes count once
    per row they land on, as they will be stored. Touches only resources and scopes (not
    every record), so it is cheap enough to run before decoding."""
    rows = 0
    expanded = request.ByteSize()
    if signal == "logs":
        for resource_logs in request.resource_logs:  # type: ignore[attr-defined]
            resource_size = resource_logs.resource.ByteSize() + len(resource_logs.schema_url)
            for scope_logs in resource_logs.scope_logs:
                count = len(scope_logs.log_records)
                rows += count
                expanded += count * (resource_size + scope_logs.scope.ByteSize() + len(scope_logs.schema_url))
    elif signal == "traces":
        for resource_spans in request.resource_spans:  # type: ignore[attr-defined]
            resource_size = resource_spans.resource.ByteSize()
            for scope_spans in resource_spans.scope_spans:
                count = len(scope_spans.spans)
                rows += count
                expanded += count * (resource_size + scope_spans.scope.ByteSize())
    else:
        for resource_metrics in request.resource_metrics:  # type: ignore[attr-defined]
            resource_size = resource_metrics.resource.ByteSize() + len(resource_metrics.schema_url)
            for scope_metrics in resource_metrics.scope_metrics:
                scope_size = scope_metrics.scope.ByteSize() + len(scope_metrics.schema_url)
                for metric in scope_metrics.metrics:
                    kind = metric.WhichOneof("data")
                    if kind is None:
                        continue
                    count = len(getattr(metric, kind).data_points)
                    rows += count
                    per_point = len(metric.name) + len(metric.description) + len(metric.unit)
                    expanded += count * (resource_size + scope_size + per_point)
    return rows, expanded + rows * ROW_OVERHEAD_BYTES


def check_request_size(signal: str, request: Message, limits: RequestLimits) -> str:
    """'' when the request is within the limits, else the reason to refuse it."""
    rows, expanded = request_size(signal, request)
    return size_refusal(rows, expanded, limits)


def size_refusal(rows: int, expanded: int, limits: RequestLimits) -> str:
    """'' when ``rows`` and ``expanded`` bytes are within the limits, else the reason."""
    if rows > limits.max_rows:
        return (
            f"request carries {rows} records; the limit is {limits.max_rows} per request"
            " (--max-request-rows): send smaller batches"
        )
    if expanded > limits.max_expanded_bytes:
        return (
            f"request expands to {expanded} bytes once resource and scope attributes are repeated on each of"
            f" its {rows} records; the limit is {limits.max_expanded_bytes} (--max-expanded-bytes):"
            " send fewer records per request or smaller resource attributes"
        )
    return ""


def decode_request(signal: str, request: Message, limits: Limits, context: DecodeContext, body: bytes | None = None) -> DecodedBatch:
    """Decode a parsed export request. ``body`` (the bytes as received) names the request
    for insert deduplication; without it the deterministic re-encoding is used."""
    batch = DECODERS[signal](request, limits, context)  # type: ignore[operator]
    if body is None:
        body = request.SerializeToString(deterministic=True)
    return finish_batch(batch, context, body)


def decode_protobuf(signal: str, body: bytes, limits: Limits, context: DecodeContext,
                    request_limits: RequestLimits) -> DecodedBatch | str:
    """Decode a protobuf request body: the batch, or the reason to refuse it as too large.
    Raises MalformedRequest. Logs go through the compiled decoder when it is built
    (receiver/decode_logs_fast.py), which hands back to the upb path whatever it does not
    take; both give the same rows, errors and refusals."""
    if signal == "logs" and decode_logs_fast.available():
        fast = decode_logs_fast.decode(body, limits, context, request_limits.max_rows,
                                       request_limits.max_expanded_bytes, ROW_OVERHEAD_BYTES)
        if isinstance(fast, DecodedBatch):
            return finish_batch(fast, context, body)
        if isinstance(fast, tuple):
            return size_refusal(*fast, request_limits)
    return decode_parsed(signal, parse_protobuf(signal, body), body, limits, context, request_limits)


def decode_parsed(signal: str, request: Message, body: bytes, limits: Limits, context: DecodeContext,
                  request_limits: RequestLimits) -> DecodedBatch | str:
    """A parsed request (protobuf or JSON) decoded: the batch, or the reason to refuse it as
    too large, checked before any per-row work."""
    refusal = check_request_size(signal, request, request_limits)
    if refusal:
        return refusal
    return decode_request(signal, request, limits, context, body=body)


def finish_batch(batch: DecodedBatch, context: DecodeContext, body: bytes) -> DecodedBatch:
    """The per-request parts of a decoded batch: the org warning and the dedup token."""
    org_warning = context.org_warning()
    if org_warning:
        batch.warnings.append(org_warning)
    batch.dedup_token = request_token(batch.signal, body)
    return batch


def parse_protobuf(signal: str, body: bytes) -> Message:
    request = SIGNAL_REQUESTS[signal]()
    try:
        request.ParseFromString(body)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise MalformedRequest(f"cannot decode OTLP {signal} protobuf: {exc}") from None
    return request


def parse_json(signal: str, body: bytes) -> Message:
    from receiver.otlp_json import OtlpJsonError

    try:
        return parse_request(signal, body)
    except OtlpJsonError as exc:
        raise MalformedRequest(str(exc)) from None
