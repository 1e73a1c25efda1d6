"""Hostile clients against a running receiver (issue 16): spoofed orgs, absurd numbers,
half-sent gRPC streams, malformed chunked bodies, connection floods, amplification, one
tenant's huge request against another's tiny one, and retries of coalesced requests.

Each test is a regression test of one defect; none times the machine: ordering and
blocking are observed through events and the receiver's own gauges.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator

import grpc
import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs

from receiver.attributes import Limits
from receiver.core import ReceiverCore, Status
from receiver.pipeline import IngestPipeline
from settings import Settings, SettingsError
from tests.fixtures import otlp_requests
from tests.test_receiver_grpc import _logs_request, _record, channel_for, count

LOGS_METHOD = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"


def export(app, request, token: str | None = None, timeout: float = 30):
    metadata = [("authorization", f"Bearer {token}")] if token else None
    with channel_for(app) as channel:
        return logs_service_pb2_grpc.LogsServiceStub(channel).Export(request, timeout=timeout, metadata=metadata)


def prompt(session: str, org: str | None = None, where: str = "record", **extra: object) -> logs_service_pb2.ExportLogsServiceRequest:
    """One user_prompt event; ``org`` as organization.id on the record or the resource."""
    attributes: dict[str, object] = {"session.id": session, "event.name": "user_prompt", **extra}
    if org is not None and where == "record":
        attributes["organization.id"] = org
    request = _logs_request(_record(attributes))
    if org is not None and where == "resource":
        request.resource_logs[0].resource.attributes.append(KeyValue(key="organization.id", value=AnyValue(string_value=org)))
    return request


def orgs_of(storage, session: str) -> set[str]:
    rows = storage.query_rows("SELECT DISTINCT OrgId FROM otel_logs WHERE LogAttributes['session.id'] = {s:String}", {"s": session})
    events = storage.query_rows("SELECT DISTINCT OrgId FROM events FINAL WHERE SessionId = {s:String}", {"s": session})
    return {r[0] for r in rows} | {r[0] for r in events}


# -- 1. a token's org is authoritative -------------------------------------------------------

def test_token_org_is_authoritative(app_factory, storage):
    app = app_factory(storage=storage, receiver_tokens="rtA=orgA,rtG=orgA|orgB,rtW=*")
    for where in ("record", "resource"):
        response = export(app, prompt(f"spoof-{where}", "orgB", where), token="rtA")
        assert orgs_of(storage, f"spoof-{where}") == {"orgA"}, where
        message = response.partial_success.error_message
        assert "organization.id this token may not write" in message and "'orgA'" in message, message
        assert response.partial_success.rejected_log_records == 0
    # A token listing several orgs writes each of them, and only them.
    export(app, prompt("listed", "orgB"), token="rtG")
    assert orgs_of(storage, "listed") == {"orgB"}
    response = export(app, prompt("unlisted", "orgC"), token="rtG")
    assert orgs_of(storage, "unlisted") == {"orgA"}
    assert "'orgC'" in response.partial_success.error_message
    # No organization.id: the token's home org, and nothing to report.
    response = export(app, prompt("plain"), token="rtG")
    assert orgs_of(storage, "plain") == {"orgA"} and not response.HasField("partial_success")
    # A trusted gateway ('*') writes whatever org the records name.
    response = export(app, prompt("gateway", "orgC"), token="rtW")
    assert orgs_of(storage, "gateway") == {"orgC"} and not response.HasField("partial_success")
    assert count(storage, "SELECT count() FROM events FINAL WHERE OrgId = 'orgB'") == 1


@pytest.mark.parametrize("spec, message", [
    ("a=b=c", "ambiguous"),
    ("a=x,a=y", "listed twice"),
    ("a=x, a=x", "listed twice"),
    ("a=x||y", "empty org"),
    ("a=", "TOKEN=ORG"),
])
def test_ambiguous_receiver_token_specs_are_refused(spec, message):
    with pytest.raises(SettingsError, match=message):
        Settings.load({"receiver_tokens": spec}, environ={})


def test_receiver_token_spec_lists_orgs():
    settings = Settings.load({"receiver_tokens": "a=x|y, b=*,c=z"}, environ={})
    assert settings.receiver_tokens == {"a": ("x", "y"), "b": ("*",), "c": ("z",)}


# -- 2 (decode side) and 9: absurd numbers stay out of typed columns ------------------------

def test_absurd_numbers_stay_out_of_typed_columns(app, storage):
    huge = str(2**63 - 1)
    request = _logs_request(
        _record({"session.id": "absurd", "event.name": "api_request", "cost_usd": "1.7e308", "input_tokens": huge,
                 "output_tokens": "-5", "cache_read_tokens": "1e300", "duration_ms": "1.7e308",
                 "model": "claude-opus-5-5"}, body="claude_code.api_request"),
        _record({"session.id": "absurd", "event.name": "api_request", "cost_usd": "-3", "cost_usd_micros": huge,
                 "input_tokens": "12", "duration_ms": "250"}, body="claude_code.api_request"),
        _record({"session.id": "absurd", "event.name": "compaction", "pre_tokens": huge, "post_tokens": "100"},
                body="claude_code.compaction"),
    )
    response = export(app, request)
    assert "out of range" in response.partial_success.error_message
    rows = storage.query_dicts(
        "SELECT CostUsd, CostMicros, InputTokens, OutputTokens, CacheReadTokens, DurationMs, PreTokens, PostTokens,"
        " Attributes FROM events FINAL WHERE SessionId = 'absurd' ORDER BY InputTokens, PostTokens"
    )
    assert len(rows) == 3
    for row in rows:
        assert 0 <= row["CostUsd"] <= 100_000 and 0 <= row["CostMicros"] <= 100_000 * 10**6
        assert row["InputTokens"] <= 10**10 and row["OutputTokens"] <= 10**10 and row["CacheReadTokens"] <= 10**10
        assert row["DurationMs"] is None or 0 <= row["DurationMs"] <= 366 * 86400 * 1000
        assert row["PreTokens"] is None or row["PreTokens"] <= 10**10
    first = next(r for r in rows if r["Attributes"].get("cost_usd") == "1.7e308")
    assert (first["CostUsd"], first["InputTokens"], first["DurationMs"]) == (0.0, 0, None)
    assert first["Attributes"]["input_tokens"] == huge  # the raw value is kept
    second = next(r for r in rows if r["Attributes"].get("cost_usd") == "-3")
    assert (second["InputTokens"], second["DurationMs"], second["CostMicros"]) == (12, 250.0, 0)
    compaction = next(r for r in rows if r["PostTokens"] == 100)
    assert compaction["PreTokens"] is None


def test_attribute_keys_have_a_length_limit(app, storage):
    response = export(app, prompt("long-key", **{"k" * 100_000: "v", "ok": "fine"}))
    assert "key over the key-length limit" in response.partial_success.error_message
    attributes = storage.query_rows("SELECT LogAttributes FROM otel_logs WHERE LogAttributes['session.id'] = 'long-key'")[0][0]
    assert attributes.get("ok") == "fine"
    assert max(map(len, attributes)) <= 256


# -- 4. half-sent gRPC streams ---------------------------------------------------------------

class HalfSent:
    """``n`` gRPC calls that open a stream and never send their message until released."""

    def __init__(self, app, n: int, token: str | None = None) -> None:
        self.release = threading.Event()
        self.channels = [channel_for(app) for _ in range((n + 7) // 8)]  # several streams per connection
        metadata = [("authorization", f"Bearer {token}")] if token else None
        self.calls = []
        for index in range(n):
            channel = self.channels[index % len(self.channels)]
            call = channel.stream_unary(LOGS_METHOD, request_serializer=lambda b: b, response_deserializer=lambda b: b)
            self.calls.append(call.future(self._never(), timeout=120, metadata=metadata))

    def _never(self) -> Iterator[bytes]:
        self.release.wait(120)
        return
        yield b""  # pragma: no cover - makes this a generator

    def close(self) -> None:
        self.release.set()
        for call in self.calls:
            call.cancel()
        for channel in self.channels:
            channel.close()


def _wait_for(predicate, what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_half_sent_grpc_streams_do_not_stop_ingest(app, storage):
    stalled = HalfSent(app, 24)
    try:
        # The server has seen every stalled call (they hold RPC slots, not worker threads).
        time.sleep(0.5)
        assert not any(call.done() for call in stalled.calls)
        for index in range(3):
            export(app, prompt(f"while-stalled-{index}"), timeout=20)
        assert count(storage, "SELECT count() FROM otel_logs") == 3
    finally:
        stalled.close()


def test_unauthenticated_half_sent_streams_are_refused_before_the_body(app_factory, storage):
    app = app_factory(storage=storage, receiver_tokens="rtA=orgA")
    stalled = HalfSent(app, 20, token="wrong")
    try:
        for call in stalled.calls:  # answered without waiting for the body that never comes
            with pytest.raises(grpc.RpcError) as info:
                call.result(timeout=30)
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        export(app, prompt("authorized"), token="rtA", timeout=20)
    finally:
        stalled.close()
    assert orgs_of(storage, "authorized") == {"orgA"}


def test_slow_grpc_sender_is_cut_off_and_calls_are_bounded(app_factory, storage):
    app = app_factory(storage=storage, receive_timeout=1.0, max_connections=8)
    stalled = HalfSent(app, 8)
    try:
        # Over the cap of concurrent calls: refused at once, not queued.
        _wait_for(lambda: app.metrics.get("requests_total", outcome="receive_timeout", signal="logs", transport="grpc") > 0
                  or not any(c.done() for c in stalled.calls), "stalled calls to start")
        for call in stalled.calls:
            with pytest.raises(grpc.RpcError) as info:
                call.result(timeout=60)
            assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert "--receive-timeout" in info.value.details()
    finally:
        stalled.close()
    assert app.metrics.get("requests_total", outcome="receive_timeout", signal="logs", transport="grpc") == 8
    export(app, prompt("after-timeouts"), timeout=20)


def test_grpc_calls_over_the_cap_get_resource_exhausted(app_factory, storage):
    # The stalled calls must outlive the wait however slow the machine (CI runs this beside
    # the e2e suite): a receive timeout far past the wait's limit.
    app = app_factory(storage=storage, max_connections=8, receive_timeout=600.0)
    stalled = HalfSent(app, 8)
    try:
        _wait_for(lambda: _rejected_export(app) == grpc.StatusCode.RESOURCE_EXHAUSTED, "the call cap to be reached")
    finally:
        stalled.close()
    _wait_for(lambda: _rejected_export(app) is None, "calls to be accepted again")


def _rejected_export(app) -> grpc.StatusCode | None:
    """The code a probe export is refused with (None: accepted). The probe is an empty
    request: answered at once when accepted, nothing to store, so a slow insert on a loaded
    machine cannot stretch the wait."""
    try:
        export(app, logs_service_pb2.ExportLogsServiceRequest(), timeout=10)
    except grpc.RpcError as exc:
        return exc.code()
    return None


# -- 5. HTTP framing and connections ---------------------------------------------------------

def _http(app, raw: bytes, timeout: float = 20.0) -> bytes:
    """Send raw bytes; the response head and body as far as the server wrote them."""
    with socket.create_connection(("127.0.0.1", app.ports["otlp_http"]), timeout=timeout) as sock:
        sock.sendall(raw)
        chunks = []
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            chunks.append(data)
            if b"\r\n\r\n" in b"".join(chunks):
                head, _, rest = b"".join(chunks).partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0)
                if len(rest) >= length:
                    break
        return b"".join(chunks)


CHUNKED_HEAD = (
    b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)


@pytest.mark.parametrize("size_line", [b"-1", b"+10", b"0x10", b"1 0", b"ffffffffff", b"zz", b""])
def test_malformed_chunk_sizes_are_400_without_reading_on(app, size_line):
    # The client keeps sending (and never closes): a server that reads "to the end" hangs.
    reply = _http(app, CHUNKED_HEAD + size_line + b"\r\n" + b"x" * 200_000)
    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
    assert b"chunk" in reply


def test_chunked_body_counts_against_the_limit_as_it_arrives(app_factory, storage):
    app = app_factory(storage=storage, max_request_bytes=100_000)
    # Each chunk is under the limit; together they are over it, and the reply comes
    # before the client has sent the chunk that would cross it.
    reply = _http(app, CHUNKED_HEAD + (b"ea60\r\n" + b"x" * 60_000 + b"\r\n") + b"ea60\r\n" + b"x" * 100)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    # A well-formed chunked export still works.
    body = prompt("chunked-ok").SerializeToString()
    half = len(body) // 2
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:half], body[half:])) + b"0\r\n\r\n"
    reply = _http(app, CHUNKED_HEAD.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n") + chunks)
    assert reply.startswith(b"HTTP/1.1 200"), reply[:300]
    assert orgs_of(storage, "chunked-ok") == {"default"}


def test_slow_http_body_gets_408(app_factory, storage):
    app = app_factory(storage=storage, receive_timeout=1.0)
    head = b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 1000\r\n\r\n"
    reply = _http(app, head + b"x" * 10)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]


def test_http_connections_are_capped(app_factory, storage):
    app = app_factory(storage=storage, max_connections=4)
    port = app.ports["otlp_http"]
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(4)]
    try:
        _wait_for(lambda: _http(app, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 503"),
                  "the connection cap to be reached")
        reply = _http(app, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"Retry-After: 1" in reply and b"--max-connections" in reply
        assert app.metrics.get("connections_refused_total", transport="http") >= 1
    finally:
        for sock in idle:
            sock.close()
    _wait_for(lambda: _http(app, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 200"),
              "connections to be accepted again")


# -- 6. amplification --------------------------------------------------------------------------

def _amplifier(records: int, attribute_bytes: int = 16 * 1024, attributes: int = 4) -> logs_service_pb2.ExportLogsServiceRequest:
    resource_logs = ResourceLogs(scope_logs=[ScopeLogs(log_records=[LogRecord() for _ in range(records)])])
    for index in range(attributes):
        resource_logs.resource.attributes.append(
            KeyValue(key=f"pad.{index}", value=AnyValue(string_value="x" * attribute_bytes)))
    return logs_service_pb2.ExportLogsServiceRequest(resource_logs=[resource_logs])


def test_amplifying_request_is_refused_early(app, storage):
    # The request: 225 KB on the wire, 5 GB once the resource lands on every row.
    request = _amplifier(80_000)
    assert len(request.SerializeToString()) < 300_000
    with pytest.raises(grpc.RpcError) as info:
        export(app, request)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "--max-expanded-bytes" in info.value.details()
    assert count(storage, "SELECT count() FROM otel_logs") == 0
    export(app, prompt("other-tenant"), timeout=20)  # and nobody else waited for it
    assert count(storage, "SELECT count() FROM otel_logs") == 1


def test_row_and_expansion_limits_are_settings(app_factory, storage):
    app = app_factory(storage=storage, max_request_rows=1000, max_expanded_bytes=1024 * 1024)
    with pytest.raises(grpc.RpcError) as info:
        export(app, _amplifier(1001, attribute_bytes=1, attributes=1))
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "--max-request-rows" in info.value.details()
    with pytest.raises(grpc.RpcError) as info:
        export(app, _amplifier(100, attribute_bytes=16 * 1024))  # 100 x 64 KiB > 1 MiB
    assert "--max-expanded-bytes" in info.value.details()
    export(app, _amplifier(1000, attribute_bytes=100, attributes=1))  # within both
    assert count(storage, "SELECT count() FROM otel_logs") == 1000
    # HTTP answers the same limit with 413 and the reason.
    from tests.test_receiver_http import post

    status, _, body = post(app.ports["otlp_http"], "/v1/logs", _amplifier(1001, 1, 1).SerializeToString())
    assert status == 413 and b"--max-request-rows" in body


# -- 7. a large request does not hold up small ones ------------------------------------------

def _big_json(attributes: int) -> bytes:
    record = {"timeUnixNano": "1795287660431000000", "body": {"stringValue": "claude_code.user_prompt"},
              "attributes": [{"key": f"k{i}", "value": {"stringValue": "v" * 20}} for i in range(200)]}
    records = [dict(record) for _ in range(attributes // 200)]
    return json.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": records}]}]}).encode()


@pytest.fixture
def core(storage):
    pipeline = IngestPipeline(storage, linger_seconds=0.0)
    pipeline.start()
    yield ReceiverCore(pipeline, Limits(), tokens={"big": "orgBig", "small": "orgSmall"}, store_timeout=60)
    pipeline.stop()


def test_tiny_export_is_not_queued_behind_a_large_decode(core, storage):
    body = _big_json(150_000)  # ~7 MB of JSON: seconds of pure-Python decoding
    assert len(body) > getattr(core, "large_request_bytes", 1 << 20)
    big_done = threading.Event()
    outcomes = {}

    def send_big() -> None:
        outcomes["big"] = core.export("logs", body, "json", "Bearer big", "test")
        big_done.set()

    thread = threading.Thread(target=send_big)
    thread.start()
    try:
        decoding = core.metrics.gauges.get("decoding_requests_large")
        if decoding is None:  # a receiver without the gauge: give the big request a head start
            time.sleep(1.0)
        else:
            _wait_for(lambda: decoding() == 1 or big_done.is_set(), "the big decode to start")
        small = prompt("tiny").SerializeToString()
        for _ in range(3):
            outcome = core.export("logs", small, "protobuf", "Bearer small", "test")
            assert outcome.status is Status.OK, outcome.message
        # The tiny exports were answered (decoded and stored) while the big one was decoding.
        assert not big_done.is_set(), "the big request finished first: make it bigger"
    finally:
        thread.join(120)
    assert outcomes["big"].status is Status.OK


def test_small_lane_is_free_while_the_large_lane_is_held(core, storage):
    large = core._decode_lanes["large"]
    large.acquire()  # as if a huge request were decoding right now
    try:
        outcome = core.export("logs", prompt("lane").SerializeToString(), "protobuf", "Bearer small", "test")
        assert outcome.status is Status.OK
        waiting = threading.Event()
        result = {}

        def send_big() -> None:
            waiting.set()
            result["big"] = core.export("logs", _big_json(30_000), "json", "Bearer big", "test")

        thread = threading.Thread(target=send_big)
        thread.start()
        waiting.wait(10)
        assert "big" not in result  # large requests queue among themselves
    finally:
        large.release()
    thread.join(60)
    assert result["big"].status is Status.OK
    assert orgs_of(storage, "lane") == {"orgSmall"}


# -- 10. retries of coalesced requests add no raw rows ---------------------------------------

def _coalesced(storage, bodies: list[bytes]) -> tuple[IngestPipeline, ReceiverCore]:
    """A started pipeline that has written ``bodies`` as one coalesced write (every request
    waits in the queue before the writer starts)."""
    pipeline = IngestPipeline(storage, linger_seconds=0.0)
    core = ReceiverCore(pipeline, Limits(), store_timeout=60)
    threads = [threading.Thread(target=core.export, args=("logs", body, "protobuf", None, "test")) for body in bodies]
    for thread in threads:
        thread.start()
    _wait_for(lambda: pipeline._queue.qsize() == len(bodies), "all requests to be queued")
    pipeline.start()
    for thread in threads:
        thread.join(60)
    return pipeline, core


def test_retry_of_a_coalesced_request_adds_no_raw_rows(storage):
    requests = [r.SerializeToString() for signal, r in otlp_requests("resume_continue") if signal == "logs"]
    requests += [prompt(f"coalesced-{i}").SerializeToString() for i in range(3)]
    pipeline, core = _coalesced(storage, requests)
    try:
        assert core.metrics.get("merged_requests_total") == len(requests)
        rows = count(storage, "SELECT count() FROM otel_logs")
        events = count(storage, "SELECT count() FROM events FINAL")
        # The SDK retries a request whose answer it did not get: the same bytes, now alone
        # (and then merged with a different neighbour).
        for body in (requests[0], requests[-1]):
            assert core.export("logs", body, "protobuf", None, "test").status is Status.OK
        retry_threads = [threading.Thread(target=core.export, args=("logs", body, "protobuf", None, "test"))
                         for body in (requests[1], prompt("new-neighbour").SerializeToString())]
        for thread in retry_threads:
            thread.start()
        for thread in retry_threads:
            thread.join(60)
        assert count(storage, "SELECT count() FROM otel_logs") == rows + 1
        assert count(storage, "SELECT count() FROM events FINAL") == events + 1
    finally:
        pipeline.stop()


def test_retry_after_a_restart_adds_no_raw_rows(storage):
    """The ledger of stored requests is in storage: a receiver started later (or another
    one over the same storage) knows a coalesced request is stored."""
    bodies = [prompt(f"restart-{i}").SerializeToString() for i in range(3)]
    first, core = _coalesced(storage, bodies)
    first.stop()
    assert core.metrics.get("merged_requests_total") == len(bodies)
    rows = count(storage, "SELECT count() FROM otel_logs")
    assert rows == len(bodies)
    pipeline = IngestPipeline(storage, linger_seconds=0.0)
    again = ReceiverCore(pipeline, Limits(), store_timeout=60)
    pipeline.start()
    try:
        assert again.export("logs", bodies[1], "protobuf", None, "test").status is Status.OK
    finally:
        pipeline.stop()
    assert count(storage, "SELECT count() FROM otel_logs") == rows
    assert again.metrics.get("requests_already_stored_total") == 1


def test_a_request_queued_twice_in_one_write_is_stored_once(storage):
    body = prompt("queued-twice").SerializeToString()
    pipeline, core = _coalesced(storage, [body, body, prompt("neighbour").SerializeToString()])
    pipeline.stop()
    assert count(storage, "SELECT count() FROM otel_logs") == 2
    assert count(storage, "SELECT count() FROM events FINAL") == 2
    assert core.metrics.get("requests_already_stored_total") == 1


def test_events_failing_after_the_raw_rows_stored_adds_no_raw_rows(storage):
    """The coalesced write stores the raw rows and the ledger, then the events insert
    fails: the writer writes each request alone, and those find their raw rows stored."""
    from storage.client import StorageError

    failures = []

    def fail_first_events_insert(table: str) -> None:
        if table == "events" and not failures:
            failures.append(table)
            raise StorageError("injected: events insert failed")

    storage.before_insert = fail_first_events_insert
    bodies = [prompt(f"events-fail-{i}").SerializeToString() for i in range(3)]
    pipeline, core = _coalesced(storage, bodies)
    pipeline.stop()
    assert failures == ["events"]
    assert count(storage, "SELECT count() FROM otel_logs") == len(bodies)
    assert count(storage, "SELECT count() FROM events FINAL") == len(bodies)
    assert core.metrics.get("requests_already_stored_total") == len(bodies)


# -- minor: cursors with absurd keys ---------------------------------------------------------

def test_cursor_with_a_400_digit_key_is_422():
    from query_api.errors import ApiError
    from query_api.pagination import decode_cursor, filters_hash

    fhash = filters_hash("x", {})
    for key in (10**400, -(10**400), 2**64):
        text = json.dumps({"v": 1, "k": [key, "id"], "f": fhash})
        cursor = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
        for types in ((float, str), (int, str)):
            with pytest.raises(ApiError) as info:
                decode_cursor(cursor, fhash, types)
            assert info.value.status == 422


# -- 9. exports never 500 on stored data -----------------------------------------------------

def test_exports_answer_on_counts_stored_at_the_int64_limit(app, storage):
    """Rows written straight into the table (as an older receiver would have stored them),
    bypassing the decode-time bounds."""
    import httpx

    from receiver.attributes import Limits as DecodeLimits
    from receiver.batch import DecodeContext
    from receiver.decode import decode_request
    from receiver.store import store_batch
    from tests.test_api_endpoints import enrich

    huge = 2**63 - 1
    placed = False
    for signal, request in otlp_requests("resume_continue"):
        if signal != "logs":
            continue
        batch = decode_request("logs", request, DecodeLimits(), DecodeContext())
        events = batch.tables["events"]
        # One api_request at the limit, the others zero: the session's own totals still
        # fit their columns, every sum or product the API computes over them does not.
        for index, name in enumerate(events["EventName"]):
            if name != "api_request":
                continue
            value = 0 if placed else huge
            placed = True
            for column in ("InputTokens", "OutputTokens", "CacheReadTokens", "CacheCreationTokens", "CostMicros"):
                events[column][index] = value
            events["CostUsd"][index] = float("inf") if value else 0.0
        store_batch(storage, batch)
    assert placed
    enrich(app)
    assert count(storage, "SELECT count() FROM llm_sessions FINAL") >= 1  # derived: the exports have rows to render
    base = f"http://127.0.0.1:{app.ports['api']}/api/v1/default"
    session = storage.query_rows("SELECT any(SessionId) FROM events")[0][0]
    with httpx.Client(timeout=60) as client:
        for path in ("/llm_sessions", "/conversations", "/usage", f"/llm_sessions/{session}/events",
                     "/usage?group_by=model"):
            for fmt in ("json", "csv", "parquet"):
                joiner = "&" if "?" in path else "?"
                response = client.get(f"{base}{path}{joiner}format={fmt}")
                assert response.status_code == 200, (path, fmt, response.text[:300])
        assert client.get(f"{base}/llm_sessions/{session}").status_code == 200
        threads = client.get(f"{base}/conversations").json()["data"]
        assert threads and all(client.get(f"{base}/conversations/{t['thread_id']}").status_code == 200 for t in threads)


def test_year_one_timestamps_render_with_four_digit_years():
    from datetime import UTC, datetime

    from query_api.exports import iso

    assert iso(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00.000000Z"
    assert iso(datetime(2026, 12, 2, 19, 1, 2, 345678)) == "2026-12-02T19:01:02.345678Z"
