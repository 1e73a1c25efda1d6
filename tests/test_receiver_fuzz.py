"""Fuzzing both decoders through the real receiver core and a real ClickHouse: whatever
arrives, the answer is one of the documented statuses, and anything decoded must be
insertable (a storage rejection would make the exporter retry a poison request forever)."""

from __future__ import annotations

import json
import random
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from receiver.attributes import Limits
from receiver.core import ReceiverCore, Status
from receiver.pipeline import IngestPipeline
from tests.fixtures import SCENARIOS, otlp_lines, otlp_requests

ALLOWED = {Status.OK, Status.INVALID, Status.TOO_LARGE}
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@pytest.fixture
def core(storage):
    pipeline = IngestPipeline(storage)
    pipeline.start()
    yield ReceiverCore(pipeline, Limits(max_attributes=64, max_attribute_length=4096), max_request_bytes=1 << 20, store_timeout=20)
    pipeline.stop()


SEED_BODIES = [(sig, req.SerializeToString()) for s in SCENARIOS for sig, req in otlp_requests(s)]
SEED_JSON = [(line["path"].rsplit("/", 1)[1], line["body"]) for s in SCENARIOS for line in otlp_lines(s)]

extreme_ints = st.one_of(st.integers(-(2**63), 2**63 - 1), st.sampled_from([0, -1, 2**63 - 1, -(2**63)]))
uint64s = st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([0, 2**64 - 1, 2**63, 1795287660431000000]))
texts = st.one_of(st.text(max_size=40), st.sampled_from(["", "'; DROP TABLE events; --", "\x00", "1e999", "NaN", "-5", "true"]))
keys = st.one_of(st.sampled_from([
    "session.id", "event.name", "event.sequence", "cost_usd", "cost_usd_micros", "input_tokens", "pre_tokens",
    "duration_ms", "success", "status_code", "attempt", "organization.id", "prompt.id", "model", "event.timestamp",
]), st.text(max_size=12))


def any_values(depth: int = 2):
    scalars = st.one_of(
        texts.map(lambda t: AnyValue(string_value=t)),
        extreme_ints.map(lambda i: AnyValue(int_value=i)),
        st.floats(allow_nan=True, allow_infinity=True).map(lambda f: AnyValue(double_value=f)),
        st.booleans().map(lambda b: AnyValue(bool_value=b)),
        st.binary(max_size=16).map(lambda b: AnyValue(bytes_value=b)),
        st.just(AnyValue()),
    )
    if depth == 0:
        return scalars

    def array(values):
        value = AnyValue()
        value.array_value.values.extend(values)
        return value

    return st.one_of(scalars, st.lists(any_values(depth - 1), max_size=3).map(array))


attributes = st.lists(st.builds(lambda k, v: KeyValue(key=k, value=v), keys, any_values()), max_size=12)


@st.composite
def log_requests(draw) -> bytes:
    request = ExportLogsServiceRequest()
    for _ in range(draw(st.integers(1, 2))):
        resource_logs = request.resource_logs.add()
        resource_logs.resource.attributes.extend(draw(attributes))
        scope_logs = resource_logs.scope_logs.add()
        scope_logs.scope.name = draw(texts)
        for _ in range(draw(st.integers(0, 4))):
            record = scope_logs.log_records.add()
            record.time_unix_nano = draw(uint64s)
            record.observed_time_unix_nano = draw(uint64s)
            record.severity_number = draw(st.integers(-5, 30))
            record.flags = draw(st.integers(0, 2**32 - 1))
            record.body.CopyFrom(draw(st.one_of(any_values(), st.sampled_from(["claude_code.api_request", "claude_code.compaction"]).map(lambda b: AnyValue(string_value=b)))))
            record.attributes.extend(draw(attributes))
            record.trace_id = draw(st.binary(max_size=20))
            record.span_id = draw(st.binary(max_size=10))
    return request.SerializeToString()


@st.composite
def span_requests(draw) -> bytes:
    request = ExportTraceServiceRequest()
    scope_spans = request.resource_spans.add().scope_spans.add()
    for _ in range(draw(st.integers(0, 3))):
        span = scope_spans.spans.add()
        span.name = draw(texts)
        span.start_time_unix_nano = draw(uint64s)
        span.end_time_unix_nano = draw(uint64s)
        span.kind = draw(st.integers(0, 10))
        span.status.code = draw(st.integers(0, 5))
        span.attributes.extend(draw(attributes))
        event = span.events.add()
        event.time_unix_nano = draw(uint64s)
        event.attributes.extend(draw(attributes))
    return request.SerializeToString()


@st.composite
def metric_requests(draw) -> bytes:
    request = ExportMetricsServiceRequest()
    scope_metrics = request.resource_metrics.add().scope_metrics.add()
    for _ in range(draw(st.integers(0, 3))):
        metric = scope_metrics.metrics.add()
        metric.name = draw(st.sampled_from(["claude_code.session.count", "x", ""]))
        kind = draw(st.sampled_from(["sum", "gauge", "histogram", "exponential_histogram", "summary", "none"]))
        if kind == "none":
            continue
        point = getattr(metric, kind).data_points.add()
        point.attributes.extend(draw(attributes))
        point.start_time_unix_nano = draw(uint64s)
        point.time_unix_nano = draw(uint64s)
        if kind in ("sum", "gauge"):
            if draw(st.booleans()):
                point.as_int = draw(extreme_ints)
            else:
                point.as_double = draw(st.floats())
        elif kind == "histogram":
            point.count = draw(uint64s)
            point.bucket_counts.extend(draw(st.lists(uint64s, max_size=4)))
            point.explicit_bounds.extend(draw(st.lists(st.floats(), max_size=3)))
        elif kind == "exponential_histogram":
            point.scale = draw(st.integers(-(2**31), 2**31 - 1))
            point.positive.offset = draw(st.integers(-(2**31), 2**31 - 1))
            point.positive.bucket_counts.extend(draw(st.lists(uint64s, max_size=3)))
        else:
            quantile = point.quantile_values.add()
            quantile.quantile = draw(st.floats())
            quantile.value = draw(st.floats())
    return request.SerializeToString()


def mutate(data: bytes, rng: random.Random) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.random()
        position = rng.randrange(len(buffer) + 1)
        if op < 0.4 and buffer:
            buffer[min(position, len(buffer) - 1)] ^= 1 << rng.randrange(8)
        elif op < 0.7:
            buffer[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        else:
            del buffer[position:position + rng.randint(1, 16)]
    return bytes(buffer)


def check(core, signal: str, body: bytes, encoding: str = "protobuf") -> None:
    outcome = core.export(signal, body, encoding, None, "fuzz")
    assert outcome.status in ALLOWED, (outcome.status, outcome.message)


@FUZZ
@given(st.binary(max_size=2048), st.sampled_from(["logs", "traces", "metrics"]))
def test_random_bytes(core, body, signal):
    check(core, signal, body)


@FUZZ
@given(st.integers(0, len(SEED_BODIES) - 1), st.randoms(use_true_random=False))
def test_mutated_fixture_protobuf(core, index, rng):
    signal, body = SEED_BODIES[index]
    check(core, signal, mutate(body, rng))


@FUZZ
@given(log_requests())
def test_structured_logs(core, body):
    check(core, "logs", body)


@FUZZ
@given(span_requests())
def test_structured_spans(core, body):
    check(core, "traces", body)


@FUZZ
@given(metric_requests())
def test_structured_metrics(core, body):
    check(core, "metrics", body)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(st.text(max_size=10), children, max_size=3)),
    max_leaves=12,
)


@FUZZ
@given(st.integers(0, len(SEED_JSON) - 1), st.randoms(use_true_random=False), json_values)
def test_mutated_fixture_json(core, index, rng, replacement):
    signal, body = SEED_JSON[index]
    document = json.loads(body)
    # Replace one random node of the real document with random JSON.
    path = []
    node = document
    while isinstance(node, dict | list) and node and rng.random() < 0.85:
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        path.append((node, key))
        node = node[key]
    if path:
        parent, key = path[-1]
        parent[key] = replacement
    check(core, signal, json.dumps(document).encode(), "json")
    check(core, signal, mutate(body.encode(), rng), "json")


# -- the limits of issue 16 --------------------------------------------------------------------

numeric_texts = st.one_of(
    st.floats().map(repr), st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["1.7e308", "-1.7e308", "1e999", "nan", "inf", "-0", "9223372036854775807", "18446744073709551615"]),
)
NUMERIC_KEYS = ("cost_usd", "cost_usd_micros", "input_tokens", "output_tokens", "cache_read_tokens",
                "cache_creation_tokens", "duration_ms", "pre_tokens", "post_tokens")


@FUZZ
@given(st.lists(st.fixed_dictionaries({}, optional={k: numeric_texts for k in NUMERIC_KEYS}), min_size=1, max_size=5),
       st.sampled_from(["api_request", "compaction", "api_error"]))
def test_typed_numbers_are_bounded(core, storage, records, name):
    from receiver.events import MAX_COST_USD, MAX_DURATION_MS, MAX_TOKENS

    request = ExportLogsServiceRequest()
    scope_logs = request.resource_logs.add().scope_logs.add()
    for attributes in records:
        record = scope_logs.log_records.add()
        record.time_unix_nano = 1795287660431000000
        record.body.string_value = f"claude_code.{name}"
        for key, value in {"session.id": "fuzz-numbers", "event.name": name, **attributes}.items():
            record.attributes.append(KeyValue(key=key, value=AnyValue(string_value=value)))
    outcome = core.export("logs", request.SerializeToString(), "protobuf", None, "fuzz")
    assert outcome.status is Status.OK, outcome.message
    row = storage.query_dicts(
        "SELECT max(CostUsd) c, min(CostUsd) c0, max(CostMicros) m, min(CostMicros) m0,"
        " max(greatest(InputTokens, OutputTokens, CacheReadTokens, CacheCreationTokens)) t,"
        " max(ifNull(DurationMs, 0)) d, min(ifNull(DurationMs, 0)) d0,"
        " max(greatest(ifNull(PreTokens, 0), ifNull(PostTokens, 0))) p,"
        " countIf(NOT isFinite(CostUsd) OR NOT isFinite(ifNull(DurationMs, 0))) bad FROM events"
    )[0]
    assert 0 <= row["c0"] and row["c"] <= MAX_COST_USD and 0 <= row["m0"] and row["m"] <= MAX_COST_USD * 1e6
    assert row["t"] <= MAX_TOKENS and row["p"] <= MAX_TOKENS
    assert 0 <= row["d0"] and row["d"] <= MAX_DURATION_MS and row["bad"] == 0


@FUZZ
@given(st.integers(0, 3000), st.integers(0, 4), st.integers(0, 20_000), st.integers(1, 3))
def test_request_limits_hold(storage, records, attributes, attribute_bytes, scopes):
    from receiver.decode import RequestLimits

    limits = RequestLimits(max_rows=5000, max_expanded_bytes=4 * 1024 * 1024)
    pipeline = IngestPipeline(storage)
    core = ReceiverCore(pipeline, Limits(), request_limits=limits, max_request_bytes=1 << 22, store_timeout=20)
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    for index in range(attributes):
        resource_logs.resource.attributes.append(KeyValue(key=f"a{index}", value=AnyValue(string_value="x" * attribute_bytes)))
    for _ in range(scopes):
        scope_logs = resource_logs.scope_logs.add()
        scope_logs.scope.name = uuid.uuid4().hex  # a new body each time: no insert dedup across examples
        for _ in range(records):
            scope_logs.log_records.add()
    body = request.SerializeToString()
    if len(body) > core.max_request_bytes:
        return
    pipeline.start()
    try:
        before = storage.query_rows("SELECT count() FROM otel_logs")[0][0]
        outcome = core.export("logs", body, "protobuf", None, "fuzz")
        rows = records * scopes
        expanded = rows * attributes * attribute_bytes
        if outcome.status is Status.OK:
            assert rows <= limits.max_rows and expanded <= limits.max_expanded_bytes
            assert storage.query_rows("SELECT count() FROM otel_logs")[0][0] == before + rows
        else:
            assert outcome.status is Status.TOO_LARGE, outcome.message
            assert rows > limits.max_rows or expanded > limits.max_expanded_bytes // 2
    finally:
        pipeline.stop()


chunk_lines = st.one_of(
    st.integers(0, 2**20).map(lambda n: b"%x" % n),
    st.sampled_from([b"-1", b"+1", b"0x1", b" 1", b"1 1", b"ffffffffffffffff", b"", b"g", b"1;ext=1", b"\x00"]),
    st.binary(max_size=12),
)


@pytest.fixture(scope="module")
def http_receiver(tmp_path_factory, chdb_dsn):
    from receiver.http_server import HttpReceiver
    from storage.client import open_storage

    storage = open_storage(chdb_dsn, "fuzz_chunked")
    pipeline = IngestPipeline(storage)
    pipeline.start()
    core = ReceiverCore(pipeline, Limits(), max_request_bytes=1 << 16, store_timeout=20)
    server = HttpReceiver(core, "127.0.0.1:0", receive_timeout=2.0, max_connections=16)
    server.start()
    yield server
    server.stop()
    pipeline.stop()
    storage.command("DROP DATABASE IF EXISTS fuzz_chunked")
    storage.close()


@FUZZ
@given(st.lists(st.tuples(chunk_lines, st.binary(max_size=64)), max_size=4), st.booleans())
def test_chunked_framing_always_gets_an_answer(http_receiver, chunks, terminate):
    import socket

    raw = (b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
           b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    raw += b"".join(line + b"\r\n" + data + b"\r\n" for line, data in chunks)
    if terminate:
        raw += b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", http_receiver.port), timeout=20) as sock:
        sock.sendall(raw)
        reply = b""
        try:
            while b"\r\n" not in reply:
                data = sock.recv(4096)
                if not data:
                    break
                reply += data
        except ConnectionResetError:
            pass
    status = reply.split(b" ", 2)[1] if reply.startswith(b"HTTP/1.1 ") else b""
    assert status in {b"200", b"400", b"408", b"413"}, reply[:200]
