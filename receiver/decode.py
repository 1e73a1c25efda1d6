"""Bytes in, DecodedBatch out: the one entry point both OTLP transports use."""

from __future__ import annotations

from google.protobuf.message import DecodeError, Message

from receiver.attributes import Limits
from receiver.batch import DecodeContext, DecodedBatch, request_token
from receiver.decode_logs import decode_logs
from receiver.decode_metrics import decode_metrics
from receiver.decode_traces import decode_traces
from receiver.otlp_json import SIGNAL_REQUESTS, parse_request

DECODERS = {"logs": decode_logs, "traces": decode_traces, "metrics": decode_metrics}


class MalformedRequest(ValueError):
    """The request body cannot be decoded; the message is safe to return to the client."""


def decode_request(signal: str, request: Message, limits: Limits, context: DecodeContext, body: bytes | None = None) -> DecodedBatch:
    """Decode a parsed export request. ``body`` (the bytes as received) names the request
    for insert deduplication; without it the deterministic re-encoding is used."""
    batch = DECODERS[signal](request, limits, context)  # type: ignore[operator]
    if body is None:
        body = request.SerializeToString(deterministic=True)
    batch.dedup_token = request_token(signal, body)
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
