"""OTLP/gRPC receiver: real OpenTelemetry SDK exporters in, rows in ClickHouse out."""

from __future__ import annotations

import gzip
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs

from tests.fixtures import SCENARIOS, otlp_requests

STUBS = {
    "logs": logs_service_pb2_grpc.LogsServiceStub,
    "traces": trace_service_pb2_grpc.TraceServiceStub,
    "metrics": metrics_service_pb2_grpc.MetricsServiceStub,
}


def channel_for(app) -> grpc.Channel:
    return grpc.insecure_channel(f"127.0.0.1:{app.ports['otlp_grpc']}")


def send_fixture(app, scenario: str, compression: grpc.Compression | None = None) -> None:
    with channel_for(app) as channel:
        for signal, request in otlp_requests(scenario):
            response = STUBS[signal](channel).Export(request, timeout=30, compression=compression)
            assert not response.HasField("partial_success"), response.partial_success


def count(storage, sql: str, **params) -> int:
    return storage.query_rows(sql, params)[0][0]


def test_sdk_exporters_logs_spans_metrics_arrive(app, storage):
    """The real OpenTelemetry Python SDK exporting over gRPC: logs, spans and metrics."""
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    endpoint = f"http://127.0.0.1:{app.ports['otlp_grpc']}"
    resource = Resource.create({"service.name": "claude-code", "service.version": "9.9.9"})

    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=True)))
    with tracer_provider.get_tracer("test").start_as_current_span("claude_code.interaction") as span:
        span.set_attribute("session.id", "sdk-session")

    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=endpoint, insecure=True)))
    logger = logger_provider.get_logger("com.anthropic.claude_code.events")
    from opentelemetry._logs import LogRecord as ApiLogRecord

    logger.emit(ApiLogRecord(
        timestamp=time.time_ns(),
        body="claude_code.api_request",
        attributes={
            "session.id": "sdk-session", "event.name": "api_request", "event.sequence": 3,
            "model": "claude-sonnet-4-5", "cost_usd": 0.25, "input_tokens": "120", "output_tokens": 7,
        },
    ))

    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=endpoint, insecure=True), export_interval_millis=60_000)
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    counter = meter_provider.get_meter("com.anthropic.claude_code").create_counter("claude_code.session.count")
    counter.add(1, {"session.id": "sdk-session", "start_type": "fresh"})
    meter_provider.force_flush()

    tracer_provider.shutdown()
    logger_provider.shutdown()
    meter_provider.shutdown()

    assert count(storage, "SELECT count() FROM otel_traces WHERE SessionId = {s:String}", s="sdk-session") == 1
    assert count(storage, "SELECT count() FROM otel_logs WHERE SessionId = {s:String}", s="sdk-session") == 1
    # The SDK's default temporality is cumulative: force_flush and shutdown each export the
    # same point. Raw keeps both; the typed session-start event collapses them to one.
    assert count(storage, "SELECT count() FROM otel_metrics_sum WHERE SessionId = {s:String}", s="sdk-session") == 2
    assert count(storage, "SELECT uniqExact(AggregationTemporality) FROM otel_metrics_sum") == 1
    rows = storage.query_dicts(
        "SELECT EventName, Sequence, Model, CostUsd, CostMicros, InputTokens, OutputTokens, AppVersion"
        " FROM events FINAL WHERE SessionId = 'sdk-session' ORDER BY EventName"
    )
    assert [r["EventName"] for r in rows] == ["api_request", "metric.session_count"]
    api = rows[0]
    assert (api["Sequence"], api["Model"], api["CostUsd"], api["CostMicros"]) == (3, "claude-sonnet-4-5", 0.25, 250_000)
    assert (api["InputTokens"], api["OutputTokens"], api["AppVersion"]) == (120, 7, "9.9.9")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_fixture_replay_row_counts(app, storage, scenario):
    """Every capture replayed over gRPC lands with exact row counts per table."""
    expected = {"otel_logs": 0, "otel_traces": 0, "otel_metrics_sum": 0}
    for signal, request in otlp_requests(scenario):
        if signal == "logs":
            expected["otel_logs"] += sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)
        elif signal == "traces":
            expected["otel_traces"] += sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
        else:
            expected["otel_metrics_sum"] += sum(
                len(m.sum.data_points) for r in request.resource_metrics for s in r.scope_metrics for m in s.metrics
            )
    send_fixture(app, scenario)
    for table, rows in expected.items():
        assert count(storage, f"SELECT count() FROM {table}") == rows, table
    # Every Claude Code event record becomes one typed event row.
    assert count(storage, "SELECT count() FROM events FINAL WHERE EventName NOT LIKE 'metric.%'") == expected["otel_logs"]


def test_fixture_typed_values(app, storage):
    """api_request numbers arrive as numbers, compaction numbers as strings: both parse."""
    send_fixture(app, "fresh_tool", compression=grpc.Compression.Gzip)
    send_fixture(app, "compact_manual")
    send_fixture(app, "autocompact")
    api = storage.query_rows(
        "SELECT DISTINCT CostUsd, CostMicros, InputTokens, OutputTokens, CacheReadTokens, CacheCreationTokens"
        " FROM events FINAL WHERE EventName = 'api_request' AND SessionId = '30d50448-249e-4f22-ae04-2ca239e29606'"
    )
    assert api == [(0.008, 8000, 1500, 42, 800, 200)]
    manual = storage.query_rows(
        "SELECT CompactionTrigger, Success, PreTokens, PostTokens, DurationMs, Error FROM events FINAL"
        " WHERE EventName = 'compaction' AND SessionId = 'ff3923b1-3d3c-47e4-ac75-409610d1482e'"
    )
    assert manual == [("manual", True, 2655, 2545, 244.0, "")]
    auto = storage.query_rows(
        "SELECT CompactionTrigger, Success, PostTokens, Error FROM events FINAL"
        " WHERE EventName = 'compaction' AND SessionId = 'bcb8d2fb-3b54-46bc-afb8-962ed1fd8988' ORDER BY Timestamp"
    )
    assert auto == [("auto", False, None, "too_few_groups")] * 2
    tool = storage.query_rows("SELECT ToolName, Success, DurationMs FROM events FINAL WHERE EventName = 'tool_result'")
    assert tool == [("Bash", True, 56.0)]
    # The raw value is kept as it arrived.
    raw = storage.query_rows("SELECT Attributes['pre_tokens'] FROM events FINAL WHERE EventName = 'compaction' AND CompactionTrigger = 'manual'")
    assert raw == [("2655",)]
    # Trace and span ids are hex, as OTLP/JSON sent them.
    ids = storage.query_rows("SELECT TraceId, SpanId FROM otel_logs WHERE LogAttributes['tool_use_id'] = 'toolu_91559498' AND EventName = 'tool_result'")
    assert ids == [("4a3e4b28e5b6c5422c62ec47e768bbcc", "af02a195402c0f52")]


def test_same_request_twice_counts_once(app, storage):
    send_fixture(app, "resume_continue")
    send_fixture(app, "resume_continue")
    events = count(storage, "SELECT count() FROM events FINAL WHERE EventName = 'api_request'")
    assert events == 3
    cost = count(storage, "SELECT sum(CostMicros) FROM events FINAL WHERE EventName = 'api_request'")
    assert cost == 24_000
    # Raw tables dedup identical retried requests at insert.
    logs_once = sum(
        len(s.log_records) for sig, r in otlp_requests("resume_continue") if sig == "logs"
        for rl in r.resource_logs for s in rl.scope_logs
    )
    assert count(storage, "SELECT count() FROM otel_logs") == logs_once


def _raw_export(app, method: str, body: bytes, metadata=None) -> grpc.RpcError | bytes:
    with channel_for(app) as channel:
        call = channel.unary_unary(method, request_serializer=lambda b: b, response_deserializer=lambda b: b)
        try:
            return call(body, timeout=10, metadata=metadata)
        except grpc.RpcError as exc:
            return exc


LOGS_METHOD = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"


def test_garbage_and_truncated_protobuf_are_invalid_argument(app, storage):
    garbage = _raw_export(app, LOGS_METHOD, b"\xff\xfe this is not protobuf \x00\x01")
    assert isinstance(garbage, grpc.RpcError)
    assert garbage.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "cannot decode" in garbage.details()
    _, request = next(otlp_requests("fresh_tool"))
    body = request.SerializeToString()
    truncated = _raw_export(app, LOGS_METHOD, body[: len(body) // 2])
    assert isinstance(truncated, grpc.RpcError)
    assert truncated.code() == grpc.StatusCode.INVALID_ARGUMENT
    # The server keeps serving.
    assert isinstance(_raw_export(app, LOGS_METHOD, body), bytes)
    assert count(storage, "SELECT count() FROM otel_logs") == sum(
        len(s.log_records) for r in request.resource_logs for s in r.scope_logs
    )


def test_oversized_request_is_resource_exhausted(app_factory, storage):
    app = app_factory(storage=storage, max_request_bytes=10_000)
    _, request = next(otlp_requests("fresh_tool"))
    big = request.SerializeToString()
    assert len(big) > 10_000
    result = _raw_export(app, LOGS_METHOD, big)
    assert isinstance(result, grpc.RpcError)
    assert result.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # Way past the limit: grpcio's own check answers the same code.
    result = _raw_export(app, LOGS_METHOD, big * 20)
    assert isinstance(result, grpc.RpcError) and result.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert count(storage, "SELECT count() FROM otel_logs") == 0
    # gzip compressed bodies are limited after decompression too
    with channel_for(app) as channel:
        with pytest.raises(grpc.RpcError) as info:
            logs_service_pb2_grpc.LogsServiceStub(channel).Export(request, timeout=10, compression=grpc.Compression.Gzip)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert len(gzip.compress(big)) < 10_000


def _record(attributes: dict, body: str = "claude_code.user_prompt") -> LogRecord:
    record = LogRecord(time_unix_nano=1_795_287_660_431_000_000, body=AnyValue(string_value=body))
    for key, value in attributes.items():
        any_value = AnyValue()
        if isinstance(value, bool):
            any_value.bool_value = value
        elif isinstance(value, int):
            any_value.int_value = value
        elif isinstance(value, float):
            any_value.double_value = value
        elif isinstance(value, list):
            any_value.array_value.values.extend(AnyValue(string_value=str(v)) for v in value)
        else:
            any_value.string_value = value
        record.attributes.append(KeyValue(key=key, value=any_value))
    return record


def _logs_request(*records: LogRecord) -> logs_service_pb2.ExportLogsServiceRequest:
    return logs_service_pb2.ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=list(records))])]
    )


def test_records_without_session_or_with_odd_types(app, storage):
    request = _logs_request(
        _record({"event.name": "user_prompt"}),  # no session.id
        _record({"session.id": "s-odd", "event.name": "api_request", "cost_usd": "not a number",
                 "input_tokens": -5, "output_tokens": 3.7, "event.sequence": "x", "success": ["a"]},
                body="claude_code.api_request"),
        _record({"session.id": "s-odd", "event.name": "tool_result", "success": True, "duration_ms": 1e308 * 10},
                body="claude_code.tool_result"),
        _record({"session.id": "s-other"}, body="plain application log line"),
    )
    with channel_for(app) as channel:
        response = logs_service_pb2_grpc.LogsServiceStub(channel).Export(request, timeout=10)
    assert response.partial_success.rejected_log_records == 0
    assert "1 Claude Code event records had no session.id" in response.partial_success.error_message
    assert count(storage, "SELECT count() FROM otel_logs") == 4
    rows = storage.query_dicts("SELECT * FROM events FINAL ORDER BY EventName")
    assert [r["EventName"] for r in rows] == ["api_request", "tool_result"]
    api, tool = rows
    assert (api["CostUsd"], api["InputTokens"], api["OutputTokens"], api["Sequence"], api["Success"]) == (0.0, 0, 3, None, None)
    assert api["Attributes"]["cost_usd"] == "not a number"
    assert (tool["Success"], tool["DurationMs"]) == (True, None)


def test_attribute_limits_truncate_and_count(app_factory, storage):
    app = app_factory(storage=storage, max_attributes=4, max_attribute_length=12)
    request = _logs_request(_record({
        "session.id": "s-limits", "event.name": "user_prompt", "prompt": "x" * 50, "a": "1", "b": "2", "c": "3",
    }))
    with channel_for(app) as channel:
        response = logs_service_pb2_grpc.LogsServiceStub(channel).Export(request, timeout=10)
    message = response.partial_success.error_message
    assert "2 attributes dropped" in message and "1 attribute values truncated" in message
    stored = storage.query_rows("SELECT LogAttributes FROM otel_logs")[0][0]
    assert stored == {"session.id": "s-limits", "event.name": "user_prompt", "prompt": "x" * 12, "a": "1"}


def test_health_service_reports_serving(app):
    with channel_for(app) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        assert stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status == health_pb2.HealthCheckResponse.SERVING
        response = stub.Check(health_pb2.HealthCheckRequest(service="opentelemetry.proto.collector.logs.v1.LogsService"), timeout=5)
        assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_storage_failure_is_unavailable_and_nothing_acknowledged_is_lost(app, storage):
    """While inserts fail the exporter gets UNAVAILABLE (retryable); once storage is back,
    the retried request is stored exactly once."""
    _, request = next(otlp_requests("fresh_tool"))

    def fail(table: str) -> None:
        raise __import__("storage").StorageError(f"injected failure on {table}")

    storage.before_insert = fail
    with channel_for(app) as channel:
        stub = logs_service_pb2_grpc.LogsServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.Export(request, timeout=10)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        storage.before_insert = None
        stub.Export(request, timeout=10)
        stub.Export(request, timeout=10)
    expected = sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)
    assert count(storage, "SELECT count() FROM events FINAL") == expected
