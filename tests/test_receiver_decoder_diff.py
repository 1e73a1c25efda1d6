"""The compiled logs decoder against the pure-Python one (upb parse + decode_logs): for every
request -- the real Claude Code captures, hypothesis-built requests and hostile byte shapes --
both give the same batch (tables, values, key order, counters, warnings, sessions, dedup
token), the same refusal or the same error. See docs/decoder.md."""

from __future__ import annotations

import json
import random
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from receiver import decode_logs_fast
from receiver.attributes import Limits
from receiver.auth import Grant
from receiver.batch import DecodeContext, DecodedBatch
from receiver.decode import (
    ROW_OVERHEAD_BYTES,
    MalformedRequest,
    RequestLimits,
    check_request_size,
    decode_request,
    parse_protobuf,
)
from receiver.otlp_json import parse_request

pytestmark = pytest.mark.skipif(
    decode_logs_fast._extension is None, reason="receiver._logswire is not built (no C compiler at install time)"
)

CAPTURES = Path(__file__).parent / "captures"
DIFF = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
TIGHT = (Limits(max_attributes=4, max_attribute_length=8, max_key_length=6), RequestLimits(max_rows=6, max_expanded_bytes=6000))
LIMITS = [(Limits(), RequestLimits()), TIGHT]


def capture_bodies() -> list[bytes]:
    """Every logs request of every real capture, as protobuf bytes."""
    bodies = []
    for path in sorted(CAPTURES.glob("*/*/otlp.jsonl")):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            if entry["path"].endswith("/v1/logs"):
                bodies.append(parse_request("logs", entry["body"].encode()).SerializeToString())
    return bodies


CAPTURE_BODIES = capture_bodies()


def _context() -> DecodeContext:
    # A token that may write 'acme' and 'beta' only: other organization.id claims are
    # overridden and counted, so org_for's side effects are compared too.
    return DecodeContext(grant=Grant(home="acme", orgs=frozenset({"acme", "beta"})))


def _normal(result: DecodedBatch | str | tuple[str, str], context: DecodeContext) -> Any:
    if not isinstance(result, DecodedBatch):
        return result
    tables = {
        table: {column: [list(v.items()) if isinstance(v, dict) else (type(v).__name__, v) for v in values]
                for column, values in columns.items()}
        for table, columns in result.tables.items()
    }
    return (tables, result.signal, result.accepted, result.rejected, result.warnings, result.limits,
            result.sessions, result.dedup_token, context.overridden, list(context.refused_orgs))


def python_path(body: bytes, limits: Limits, request_limits: RequestLimits) -> Any:
    context = _context()
    try:
        request = parse_protobuf("logs", body)
        refusal = check_request_size("logs", request, request_limits)
        result: DecodedBatch | str = refusal or decode_request("logs", request, limits, context, body=body)
    except MalformedRequest as exc:
        return ("malformed", str(exc))
    return _normal(result, context)


def compiled_path(body: bytes, limits: Limits, request_limits: RequestLimits) -> tuple[Any, bool]:
    """(result, True when the extension decoded it itself rather than handing it back)."""
    from receiver.decode import decode_protobuf, finish_batch, size_refusal

    context = _context()
    fast = decode_logs_fast.decode(body, limits, context, request_limits.max_rows,
                                   request_limits.max_expanded_bytes, ROW_OVERHEAD_BYTES)
    if isinstance(fast, DecodedBatch):
        return _normal(finish_batch(fast, context, body), context), True
    if isinstance(fast, tuple):
        return size_refusal(*fast, request_limits), True
    try:  # handed back: what the receiver does next
        return _normal(decode_protobuf("logs", body, limits, _context(), request_limits), context), False
    except MalformedRequest as exc:
        return ("malformed", str(exc)), False


def same(body: bytes, limits: Limits = LIMITS[0][0], request_limits: RequestLimits = LIMITS[0][1]) -> bool:
    """Assert both decoders agree on ``body``; True when the compiled one decoded it."""
    expected = python_path(body, limits, request_limits)
    got, native = compiled_path(body, limits, request_limits)
    assert got == expected
    return native


# --- the real captures --------------------------------------------------------------------


def test_captures_exist() -> None:
    assert len(CAPTURE_BODIES) >= 20


@pytest.mark.parametrize("limits", LIMITS, ids=["default-limits", "tight-limits"])
def test_every_capture_request_decodes_the_same(limits: tuple[Limits, RequestLimits]) -> None:
    for body in CAPTURE_BODIES:
        native = same(body, *limits)
        # More records than max_rows is handed back (the upb path refuses them, as before).
        assert native or limits is TIGHT, "the compiled decoder handed a real Claude Code request back"


def test_event_keys_are_blake2b_of_the_deterministic_record_encoding() -> None:
    import hashlib

    for body in CAPTURE_BODIES[:5]:
        request = parse_protobuf("logs", body)
        records = [r for rl in request.resource_logs for sl in rl.scope_logs for r in sl.log_records]
        status, _, rows, size, keys = decode_logs_fast.scan(body)
        assert (status, rows, size) == (0, len(records), request.ByteSize())
        assert keys == [int.from_bytes(hashlib.blake2b(r.SerializeToString(deterministic=True), digest_size=8).digest(), "little")
                        for r in records]


def test_blake2b_matches_hashlib_at_every_block_boundary() -> None:
    import hashlib

    from receiver import _logswire

    for n in [*range(0, 300), 1023, 1024, 1025, 100_000]:
        data = bytes(range(256)) * (n // 256) + bytes(range(n % 256))
        for size in (8, 16, 64):
            assert _logswire.blake2b(data, size) == hashlib.blake2b(data, digest_size=size).digest()


# --- hypothesis-built requests -------------------------------------------------------------

CLAUDE_KEYS = [
    "session.id", "event.name", "event.sequence", "event.timestamp", "cost_usd", "cost_usd_micros", "input_tokens",
    "output_tokens", "cache_read_tokens", "pre_tokens", "duration_ms", "total_duration_ms", "success", "status_code",
    "attempt", "organization.id", "prompt.id", "model", "user.email", "agent.name", "agent_type", "user.account_uuid",
    "user.account_id", "tool_name", "decision", "prompt", "service.name", "service.version",
]
NUMBERISH = [
    "", "0", "-0", "7", "-5", "+5", " 5", "5 ", "1_000", "007", "0x10", "1e3", "1e999", "-1e999", "NaN", "inf", "0.008",
    "0.0000125", "1.", ".5", "12345678901234567890", "9" * 19, "9999999999", "10000000001", "2147483648", "-2147483649",
    "٣", "１２", "true", "TRUE", " yes ", "no", "0.5e-3", "100000.0", "100000.1", "-0.0", "1.5", "2.5",
    "2147483647", "-2147483648", "10000000000", "31622400000", "31622400000.0", "31622400000.1", "100000",
    "100000000000", "100000000001", "-9223372036854775808", "9223372036854775807", "999999999999999999",
    "2026-11-21T19:01:00.431Z", "2026-11-21T19:01:00", "not a date", "\x00", "true\x00x",
]
texts = st.one_of(st.text(max_size=12), st.sampled_from(NUMBERISH))
keys = st.one_of(st.sampled_from(CLAUDE_KEYS), st.text(max_size=8), st.text(min_size=5, max_size=9))
orgs = st.sampled_from(["", "acme", "beta", "evil", "ünï", "x" * 80])


def any_values(depth: int = 3) -> st.SearchStrategy[AnyValue]:
    scalars = st.one_of(
        texts.map(lambda t: AnyValue(string_value=t)),
        st.one_of(st.integers(-(2**63), 2**63 - 1), st.sampled_from([0, -1, 2**63 - 1, -(2**63)])).map(lambda i: AnyValue(int_value=i)),
        st.floats(allow_nan=True, allow_infinity=True).map(lambda f: AnyValue(double_value=f)),
        st.booleans().map(lambda b: AnyValue(bool_value=b)),
        st.binary(max_size=8).map(lambda b: AnyValue(bytes_value=b)),
        st.just(AnyValue()),
    )
    if depth == 0:
        return scalars

    def array(values: list[AnyValue]) -> AnyValue:
        value = AnyValue()
        value.array_value.SetInParent()
        value.array_value.values.extend(values)
        return value

    def kvlist(pairs: list[tuple[str, AnyValue | None]]) -> AnyValue:
        value = AnyValue()
        value.kvlist_value.SetInParent()
        for key, item in pairs:
            kv = value.kvlist_value.values.add(key=key)
            if item is not None:
                kv.value.CopyFrom(item)
        return value

    child = any_values(depth - 1)
    return st.one_of(
        scalars,
        st.lists(child, max_size=3).map(array),
        st.lists(st.tuples(keys, st.none() | child), max_size=3).map(kvlist),
    )


def key_values(draw: st.DrawFn, max_size: int) -> list[KeyValue]:
    pairs = draw(st.lists(st.tuples(keys, st.one_of(texts.map(lambda t: AnyValue(string_value=t)), any_values(), st.none())), max_size=max_size))
    out = []
    for key, value in pairs:
        kv = KeyValue(key=key)
        if value is not None:
            kv.value.CopyFrom(value)
        out.append(kv)
    return out


uint64s = st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([0, 1, 999, 2**63 - 1, 2**63, 2**64 - 1, 1795287660431000000]))


@st.composite
def log_requests(draw: st.DrawFn) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    for _ in range(draw(st.integers(0, 3))):
        resource_logs = request.resource_logs.add()
        if draw(st.booleans()):
            resource_logs.resource.SetInParent()
            resource_logs.resource.attributes.extend(key_values(draw, 6))
            resource_logs.resource.dropped_attributes_count = draw(st.sampled_from([0, 3, 2**32 - 1]))
            org = draw(orgs)
            if org:
                resource_logs.resource.attributes.add(key="organization.id").value.string_value = org
        resource_logs.schema_url = draw(st.sampled_from(["", "https://opentelemetry.io/schemas/1.26.0", "ü" * 3]))
        for _ in range(draw(st.integers(0, 3))):
            scope_logs = resource_logs.scope_logs.add()
            if draw(st.booleans()):
                scope_logs.scope.SetInParent()
                scope_logs.scope.name = draw(texts)
                scope_logs.scope.version = draw(st.sampled_from(["", "2.1.328"]))
                scope_logs.scope.attributes.extend(key_values(draw, 3))
                scope_logs.scope.dropped_attributes_count = draw(st.sampled_from([0, 1]))
            scope_logs.schema_url = draw(st.sampled_from(["", "s", "ß"]))
            for _ in range(draw(st.integers(0, 4))):
                record = scope_logs.log_records.add()
                record.time_unix_nano = draw(uint64s)
                record.observed_time_unix_nano = draw(uint64s)
                record.severity_number = draw(st.sampled_from([0, 9, 17, 255, 256, -1, -(2**31), 2**31 - 1]))
                record.severity_text = draw(st.sampled_from(["", "INFO", "É"]))
                record.flags = draw(st.sampled_from([0, 1, 255, 256, 2**32 - 1]))
                record.dropped_attributes_count = draw(st.sampled_from([0, 2]))
                record.event_name = draw(st.sampled_from(["", "", "claude_code.api_request", "x"]))
                body = draw(st.one_of(
                    st.none(),
                    st.sampled_from(["claude_code.api_request", "claude_code.tool_result", "claude_code.", "claude_code",
                                     "loomline.session_start", "hello"]).map(lambda b: AnyValue(string_value=b)),
                    any_values(2),
                ))
                if body is not None:
                    record.body.CopyFrom(body)
                record.attributes.extend(key_values(draw, 10))
                if draw(st.booleans()):
                    record.attributes.add(key="session.id").value.string_value = draw(st.sampled_from(["", "s-1", "s-2"]))
                if draw(st.booleans()):
                    record.attributes.add(key="event.name").value.string_value = draw(
                        st.sampled_from(["", "api_request", "loomline.session_start", "loomline."]))
                org = draw(orgs)
                if org:
                    record.attributes.add(key="organization.id").value.string_value = org
                record.trace_id = draw(st.binary(max_size=17))
                record.span_id = draw(st.binary(max_size=9))
    return request


@DIFF
@given(log_requests(), st.sampled_from(LIMITS))
def test_generated_requests_decode_the_same(request: ExportLogsServiceRequest, limits: tuple[Limits, RequestLimits]) -> None:
    """Canonical encodings of well-formed requests: the compiled decoder takes every one."""
    body = request.SerializeToString()
    rows = sum(len(sl.log_records) for rl in request.resource_logs for sl in rl.scope_logs)
    native = same(body, *limits)
    assert native or rows > limits[1].max_rows, decode_logs_fast.scan(body)[1]


@DIFF
@given(st.lists(st.sampled_from(["a", "aa", "toolongkey", "session.id"]), max_size=12), st.sampled_from(LIMITS))
def test_attribute_limits_and_duplicate_keys_decode_the_same(names: list[str], limits: tuple[Limits, RequestLimits]) -> None:
    request = ExportLogsServiceRequest()
    record = request.resource_logs.add().scope_logs.add().log_records.add()
    record.body.string_value = "claude_code.api_request"
    for i, name in enumerate(names):
        record.attributes.add(key=name).value.string_value = "v" * i
    assert same(request.SerializeToString(), *limits)


# --- hostile byte shapes -------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, wire_type: int, payload: bytes) -> bytes:
    tag = _varint(number << 3 | wire_type)
    if wire_type == 2:
        return tag + _varint(len(payload)) + payload
    return tag + payload


# Bytes appended to one message of the request: unknown fields, wrong wire types for known
# fields, singular fields given twice, groups, field number 0, truncated varints, lengths past
# the end, invalid UTF-8, non-minimal varints, explicit default values.
SUFFIXES = [
    _field(99, 0, b"\x01"), _field(99, 2, b"xyz"), _field(15, 5, b"\x00\x00\x00\x00"), _field(1, 0, b"\x05"),
    _field(2, 1, b"\x00" * 8), _field(5, 0, b"\x01"), _field(3, 2, b"again"), _field(3, 2, b"\xff\xfe"),
    _field(1, 2, b"\xc0\x80"), _field(6, 2, _field(1, 2, b"k") + _field(2, 2, _field(1, 2, b"\xed\xa0\x80"))),
    _field(12, 2, b"\xf4\x90\x80\x80"), b"\x0b\x0c", b"\x0b", b"\x0c", b"\x00", b"\x08", b"\x08\x80", b"\x12\x7f",
    b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", b"\x10\x80\x00",
    _field(2, 0, b"\x00"), _field(7, 0, b"\x00"), _field(8, 0, b"\x01"), _field(1, 1, b"\x00" * 8), _field(11, 1, b"\x00" * 8),
    _field(2, 0, b"\xfb\xff\xff\xff\x0f"), _field(5, 2, b""), _field(5, 2, _field(1, 2, b"a") + _field(3, 0, b"\x01")),
    _field(5, 2, _field(5, 2, _field(1, 2, _field(8, 0, b"\x01")))), _field(6, 2, _field(3, 0, b"\x01")),
    _field(6, 2, _field(2, 2, _field(1, 2, b"a")) + _field(2, 2, _field(1, 2, b"b"))),
]


def _nested_value(depth: int) -> bytes:
    value = _field(1, 2, b"leaf")
    for i in range(depth):
        value = _field(5, 2, _field(1, 2, value)) if i % 2 else _field(6, 2, _field(1, 2, _field(1, 2, b"k") + _field(2, 2, value)))
    return value


def _record_bytes(record: LogRecord, suffix: bytes) -> bytes:
    return record.SerializeToString() + suffix


def _wrap(record: bytes, level: str, suffix: bytes) -> bytes:
    """A request holding ``record``, with ``suffix`` appended to the message at ``level``."""
    scope = _field(1, 2, _field(1, 2, b"scope") + (suffix if level == "scope" else b""))
    scope_logs = scope + _field(2, 2, record) + (suffix if level == "scope_logs" else b"")
    resource = _field(1, 2, _field(1, 2, _field(1, 2, b"service.name") + _field(2, 2, _field(1, 2, b"claude-code")))
                      + (suffix if level == "resource" else b""))
    resource_logs = resource + _field(2, 2, scope_logs) + (suffix if level == "resource_logs" else b"")
    return _field(1, 2, resource_logs) + (suffix if level == "request" else b"")


def _claude_record() -> LogRecord:
    record = LogRecord(time_unix_nano=1795287660431000000, observed_time_unix_nano=1795287660432000000)
    record.body.string_value = "claude_code.api_request"
    for key, value in [("session.id", "s-1"), ("event.name", "api_request"), ("cost_usd", "0.008"), ("input_tokens", "1500")]:
        record.attributes.add(key=key).value.string_value = value
    return record


@pytest.mark.parametrize("level", ["record", "scope", "scope_logs", "resource", "resource_logs", "request"])
def test_hostile_suffixes_decode_the_same(level: str) -> None:
    record = _claude_record()
    for suffix in SUFFIXES:
        record_bytes = _record_bytes(record, suffix if level == "record" else b"")
        same(_wrap(record_bytes, level, suffix))


def test_deep_nesting_decodes_the_same() -> None:
    native = []
    for depth in [1, 5, 20, 30, 31, 32, 33, 40, 60, 100, 200]:
        record = _claude_record().SerializeToString() + _field(6, 2, _field(1, 2, b"deep") + _field(2, 2, _nested_value(depth)))
        native.append(same(_wrap(record, "record", b"")))
    assert native[0] and not native[-1]


def test_empty_things_decode_the_same() -> None:
    for body in [b"", _field(1, 2, b""), _field(1, 2, _field(2, 2, b"")), _field(1, 2, _field(2, 2, _field(2, 2, b""))),
                 _field(1, 2, _field(1, 2, b"") + _field(2, 2, _field(1, 2, b"") + _field(2, 2, b"") + _field(3, 2, b"")))]:
        assert same(body)


def mutate(data: bytes, rng: random.Random) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.random()
        position = rng.randrange(len(buffer) + 1)
        if op < 0.35 and buffer:
            buffer[min(position, len(buffer) - 1)] ^= 1 << rng.randrange(8)
        elif op < 0.6:
            buffer[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        elif op < 0.8:
            del buffer[position:position + rng.randint(1, 16)]
        else:
            buffer[position:position] = struct.pack("<Q", rng.getrandbits(64))[: rng.randint(1, 8)]
    return bytes(buffer)


@DIFF
@given(st.integers(0, max(len(CAPTURE_BODIES) - 1, 0)), st.randoms(use_true_random=False), st.sampled_from(LIMITS))
def test_mutated_captures_decode_the_same(index: int, rng: random.Random, limits: tuple[Limits, RequestLimits]) -> None:
    same(mutate(CAPTURE_BODIES[index], rng), *limits)


@DIFF
@given(st.binary(max_size=512))
def test_random_bytes_decode_the_same(body: bytes) -> None:
    same(body)


def test_the_compiled_decoder_is_what_the_receiver_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    assert decode_logs_fast.available()
    monkeypatch.setenv(decode_logs_fast.FORCE_PYTHON_ENV, "1")
    assert not decode_logs_fast.available()
