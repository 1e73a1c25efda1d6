"""OTLP/HTTP receiver: protobuf and JSON, gzip, status codes, and parity with gRPC."""

from __future__ import annotations

import gzip
import http.client
import json

import grpc
import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc

from receiver.http_server import status_from_body
from storage.client import open_storage
from tests.fixtures import SCENARIOS, otlp_lines, otlp_requests
from tests.test_receiver_grpc import send_fixture

# Columns that legitimately differ between two loads of the same data.
_VOLATILE = {"IngestedAt"}


def post(port: int, path: str, body: bytes, content_type: str = "application/x-protobuf", headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": content_type, **(headers or {})})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def get(port: int, path: str):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def send_fixture_http(app, scenario: str, mode: str) -> None:
    port = app.ports["otlp_http"]
    if mode == "json":
        for line in otlp_lines(scenario):
            status, _, body = post(port, line["path"], line["body"].encode(), "application/json")
            assert status == 200, body
            assert json.loads(body) == {}
    else:
        for signal, request in otlp_requests(scenario):
            payload = request.SerializeToString()
            headers = {}
            if mode == "protobuf-gzip":
                payload, headers = gzip.compress(payload), {"Content-Encoding": "gzip"}
            status, _, body = post(port, f"/v1/{signal}", payload, headers=headers)
            assert status == 200, body


def snapshot(storage) -> dict[str, list]:
    """Every stored row of every table, as comparable sorted lists."""
    result = {}
    for table in ("otel_logs", "otel_traces", "otel_metrics_sum", "events"):
        final = " FINAL" if table == "events" else ""
        rows = storage.query_dicts(f"SELECT * FROM {table}{final}")
        result[table] = sorted(repr(sorted((k, v) for k, v in row.items() if k not in _VOLATILE)) for row in rows)
    return result


@pytest.mark.parametrize("mode", ["json", "protobuf", "protobuf-gzip"])
def test_http_replay_stores_the_same_rows_as_grpc(app_factory, storage, chdb_dsn, mode):
    grpc_storage = open_storage(chdb_dsn, storage.database + "_grpc")
    try:
        grpc_app = app_factory(storage=grpc_storage)
        http_app = app_factory(storage=storage)
        for scenario in SCENARIOS:
            send_fixture(grpc_app, scenario)
            send_fixture_http(http_app, scenario, mode)
        expected, actual = snapshot(grpc_storage), snapshot(storage)
        for table in expected:
            assert len(actual[table]) == len(expected[table]) > 0, table
            assert actual[table] == expected[table], table
    finally:
        grpc_storage.command(f"DROP DATABASE IF EXISTS `{grpc_storage.database}`")


def test_sdk_http_exporter(app, storage):
    from opentelemetry._logs import LogRecord
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

    provider = LoggerProvider()
    exporter = OTLPLogExporter(endpoint=f"http://127.0.0.1:{app.ports['otlp_http']}/v1/logs", compression=Compression.Gzip)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    provider.get_logger("t").emit(LogRecord(body="claude_code.user_prompt", attributes={"session.id": "http-sdk", "event.name": "user_prompt", "prompt_length": "5"}))
    provider.shutdown()
    assert storage.query_rows("SELECT EventName FROM events FINAL WHERE SessionId = 'http-sdk'") == [("user_prompt",)]


def test_http_status_codes(app_factory, storage):
    app = app_factory(storage=storage, max_request_bytes=4096)
    port = app.ports["otlp_http"]
    # 400: garbage protobuf, garbage JSON, bad gzip
    status, headers, body = post(port, "/v1/logs", b"\xff\x00garbage")
    assert status == 400 and status_from_body(body, headers["Content-Type"])[0] == 3
    status, headers, body = post(port, "/v1/logs", b"{not json", "application/json")
    assert status == 400 and "not JSON" in status_from_body(body, headers["Content-Type"])[1]
    status, _, _ = post(port, "/v1/logs", b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": "zz"}]}]}]}', "application/json")
    assert status == 400
    status, _, _ = post(port, "/v1/logs", b"not gzip", headers={"Content-Encoding": "gzip"})
    assert status == 400
    # 415: wrong content type
    status, _, body = post(port, "/v1/logs", b"{}", "text/plain")
    assert status == 415 and b"Content-Type" in body
    # 413: too large, both declared and after decompression (a gzip bomb)
    status, _, _ = post(port, "/v1/logs", b"\x00" * 5000)
    assert status == 413
    bomb = gzip.compress(b"\x00" * 1_000_000)
    assert len(bomb) < 4096
    status, _, _ = post(port, "/v1/logs", bomb, headers={"Content-Encoding": "gzip"})
    assert status == 413
    # 404 / 405
    assert post(port, "/v1/other", b"{}", "application/json")[0] == 404
    assert get(port, "/v1/logs")[0] == 405
    # 200 with an empty request; JSON in, JSON out
    status, headers, body = post(port, "/v1/metrics", b"{}", "application/json")
    assert status == 200 and headers["Content-Type"] == "application/json" and json.loads(body) == {}
    # integers as strings, enum names, numbers as enums: all OTLP/JSON
    doc = {"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "4a3e4b28e5b6c5422c62ec47e768bbcc", "spanId": "af02a195402c0f52", "name": "s",
        "kind": "SPAN_KIND_SERVER", "startTimeUnixNano": "1795287660431000000", "endTimeUnixNano": 1795287660432000000,
        "status": {"code": 2}}]}]}]}
    assert post(port, "/v1/traces", json.dumps(doc).encode(), "application/json")[0] == 200
    assert storage.query_rows("SELECT SpanKind, StatusCode, Duration, TraceId FROM otel_traces") == [
        ("Server", "Error", 1_000_000, "4a3e4b28e5b6c5422c62ec47e768bbcc")]
    # still serving
    status, body = get(port, "/metrics")
    assert status == 200 and b'loomline_requests_total{outcome="too_large",signal="logs",transport="http"} 2' in body


def test_storage_down_gives_503_with_retry_after(app, storage):
    _, request = next(otlp_requests("fresh_tool"))

    def fail(table: str) -> None:
        raise __import__("storage").StorageError("down")

    storage.before_insert = fail
    status, headers, _ = post(app.ports["otlp_http"], "/v1/logs", request.SerializeToString())
    assert status == 503 and int(headers["Retry-After"]) >= 1
    storage.before_insert = None
    status, _, _ = post(app.ports["otlp_http"], "/v1/logs", request.SerializeToString())
    assert status == 200


AUTH_TOKENS = "tok-a=org-a,tok-b=org-b"


def test_receiver_auth_over_http_and_grpc(app_factory, storage):
    app = app_factory(storage=storage, receiver_tokens=AUTH_TOKENS)
    _, request = next(otlp_requests("fresh_tool"))
    payload = request.SerializeToString()
    port = app.ports["otlp_http"]
    assert post(port, "/v1/logs", payload)[0] == 401
    assert post(port, "/v1/logs", payload, headers={"Authorization": "Bearer wrong"})[0] == 401
    assert post(port, "/v1/logs", payload, headers={"Authorization": "Basic tok-a"})[0] == 401
    with grpc.insecure_channel(f"127.0.0.1:{app.ports['otlp_grpc']}") as channel:
        stub = logs_service_pb2_grpc.LogsServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.Export(request, timeout=10)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as info:
            stub.Export(request, timeout=10, metadata=(("authorization", "Bearer nope"),))
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert storage.query_rows("SELECT count() FROM otel_logs") == [(0,)]
        stub.Export(request, timeout=10, metadata=(("authorization", "Bearer tok-b"),))
    assert post(port, "/v1/logs", payload, headers={"Authorization": "Bearer tok-a"})[0] == 200
    # Records without organization.id belong to the token's org.
    orgs = storage.query_rows("SELECT OrgId, count() FROM events FINAL GROUP BY OrgId ORDER BY OrgId")
    records = sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)
    assert orgs == [("org-a", records), ("org-b", records)]


def test_backpressure_when_queue_full(app_factory, storage):
    """A stalled storage fills the bounded queue; further requests get 503/UNAVAILABLE at
    once instead of queueing without bound; after the stall everything acknowledged is stored."""
    import threading

    release = threading.Event()
    storage.before_insert = lambda table: release.wait(30)
    app = app_factory(storage=storage, queue_batches=2)
    app.pipeline.max_records = 10_000
    _, request = next(otlp_requests("fresh_tool"))
    results: list[int] = []

    def send(i: int) -> None:
        request_i = logs_service_pb2.ExportLogsServiceRequest()
        request_i.CopyFrom(request)
        request_i.resource_logs[0].scope_logs[0].log_records[0].attributes.add(key="n").value.int_value = i
        results.append(post(app.ports["otlp_http"], "/v1/logs", request_i.SerializeToString())[0])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    deadline = __import__("time").monotonic() + 20
    while results.count(503) < 5 and __import__("time").monotonic() < deadline:
        __import__("time").sleep(0.05)
    release.set()
    for thread in threads:
        thread.join(30)
    # The writer holds what it took, the queue holds two more; the rest were refused at
    # once. Every acknowledged request is stored, and only those.
    assert len(results) == 8 and set(results) == {200, 503}
    assert results.count(503) >= 3
    stored = storage.query_rows("SELECT uniqExact(LogAttributes['n']) FROM otel_logs WHERE LogAttributes['n'] != ''")[0][0]
    assert stored == results.count(200)


def test_a_fleet_of_exporters_connecting_at_once(app, storage):
    """64 exporters open their connections at the same moment: every one is served (a small
    listen backlog would reset some of them)."""
    import threading

    signal, request = next((s, r) for name in SCENARIOS for s, r in otlp_requests(name) if s == "logs")
    body = request.SerializeToString()
    barrier = threading.Barrier(64)
    statuses: list[object] = []

    def export() -> None:
        barrier.wait()
        try:
            statuses.append(post(app.ports["otlp_http"], f"/v1/{signal}", body)[0])
        except OSError as exc:
            statuses.append(exc)

    threads = [threading.Thread(target=export) for _ in range(64)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == [200] * 64
