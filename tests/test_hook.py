"""The hook bridge against a real OTLP gRPC server, fed real Claude Code hook payloads from
tests/captures: the shell hook (bridge/loomline-hook.sh, what install-hooks writes) and the
Python hook (`loomline hook`, kept as an option and as the shell hook's fallback).

Every invocation runs as a subprocess, the way Claude Code runs it, so the tests see the
exit status and the exact stdout (which must stay empty). Tests marked with the ``hook``
fixture run once per hook."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc

from bridge.context import GitInfo, fork_parent, git_info, last_compaction, normalize_remote
from bridge.options import HookOptions
from bridge.raw import record_from_raw
from bridge.record import EVENT_NAMES, HookContext, HookRecord, build_record, event_name_for
from bridge.send import deliver, flush
from bridge.spool import Spool
from tests.fixtures import FIXTURES_ROOT, hook_payloads

SCENARIOS = sorted(p.name for p in FIXTURES_ROOT.glob("*") if (p / "hooks.jsonl").is_file())
FORK_PARENT = "3cfcf546-f49c-46bd-ac61-e8e67fbc89b9"

pytestmark = pytest.mark.skipif(not SCENARIOS, reason=f"no fixtures under {FIXTURES_ROOT}")


# --------------------------------------------------------------------------- servers


class Collector(logs_service_pb2_grpc.LogsServiceServicer):
    """A minimal OTLP LogsService that records every request and its metadata."""

    def __init__(self, delay: float = 0.0) -> None:
        self.requests: list[logs_service_pb2.ExportLogsServiceRequest] = []
        self.metadata: list[dict[str, str]] = []
        self.delay = delay  # seconds to sit on each request before answering
        self._lock = threading.Lock()

    def Export(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        with self._lock:
            self.requests.append(request)
            self.metadata.append(dict(context.invocation_metadata()))
        time.sleep(self.delay)
        return logs_service_pb2.ExportLogsServiceResponse()

    def records(self) -> list[dict[str, Any]]:
        """Every received log record as {"body", "time", "attributes", "resource", "raw"}."""
        with self._lock:
            requests = list(self.requests)
        return [record for request in requests for record in flatten(request)]


def flatten(request: Any) -> list[dict[str, Any]]:
    out = []
    for resource_logs in request.resource_logs:
        resource = {kv.key: any_value(kv.value) for kv in resource_logs.resource.attributes}
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                out.append({
                    "body": record.body.string_value,
                    "time": record.time_unix_nano,
                    "attributes": {kv.key: any_value(kv.value) for kv in record.attributes},
                    "resource": resource,
                    "raw": record.SerializeToString(),
                })
    return out


def once(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``records`` without byte-identical resends (a send answered after the bridge's export
    timeout on a loaded machine comes again; loomline's receiver dedups it, this one does not)."""
    return list({r["raw"]: r for r in records}.values())


def any_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


class GrpcReceiver:
    """Start/stop a Collector on one fixed loopback port (so it can come back after a stop)."""

    def __init__(self) -> None:
        self.collector = Collector()
        self.port = 0
        self._server: grpc.Server | None = None

    def start(self) -> GrpcReceiver:
        # The port is this server's alone: gRPC's default SO_REUSEPORT would let a restart on
        # a fixed port share it with another test process's server.
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=[("grpc.so_reuseport", 0)])
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(self.collector, server)
        self.port = server.add_insecure_port(f"127.0.0.1:{self.port}")
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None).wait(5)
            self._server = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def receiver() -> Iterator[GrpcReceiver]:
    server = GrpcReceiver().start()
    yield server
    server.stop()


class HttpCollector(BaseHTTPRequestHandler):
    requests: list[tuple[str, dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server method name
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        reply = logs_service_pb2.ExportLogsServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep quiet
        pass


# --------------------------------------------------------------------------- helpers


def fixture_payloads(scenario: str) -> list[dict[str, Any]]:
    """The scenario's hook payloads with transcript_path pointed at the captured transcripts."""
    payloads = []
    for payload in hook_payloads(scenario):
        if "transcript_path" in payload:
            local = FIXTURES_ROOT / scenario / "transcripts" / Path(payload["transcript_path"]).name
            payload["transcript_path"] = str(local)
        payloads.append(payload)
    return payloads


def hook_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "XDG_", "LOOMLINE_"))}
    env["HOME"] = str(home)
    return env


SHELL_HOOK = str(Path(__file__).resolve().parent.parent / "bridge" / "loomline-hook.sh")
HOOKS = {
    "sh": ["/bin/sh", SHELL_HOOK, sys.executable],  # as install-hooks writes it
    "python": [sys.executable, "-m", "loomline", "hook"],  # install-hooks --python-hook
}


@pytest.fixture(params=sorted(HOOKS))
def hook(request: pytest.FixtureRequest) -> str:
    """Run the test once with each hook."""
    return str(request.param)


def run_hook(stdin: bytes | str, home: Path, *args: str, timeout: float = 30,
             env: dict[str, str] | None = None, delivered: bool = True,
             hook: str = "sh") -> tuple[subprocess.CompletedProcess[bytes], float]:
    """Run ``hook`` as Claude Code does; returns (result, seconds the hook took).

    The hook hands delivery to a detached sender; with ``delivered`` this then waits until
    the sender has emptied the spool (every file is deleted only once acknowledged)."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    started = time.monotonic()
    result = subprocess.run(
        [*HOOKS[hook], *args],
        input=data, capture_output=True, env={**hook_env(home), **(env or {})}, timeout=timeout, check=False,
    )
    elapsed = time.monotonic() - started
    if delivered:
        wait_for(lambda: not spooled(home), f"the spool of {home} to empty")
    return result, elapsed


def wait_for(condition: Any, what: str, timeout: float = 30.0) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


HANG_SECONDS = 10.0


def budget(seconds: float) -> float:
    """A bound that catches a hook that hangs (its watchdog exits at --timeout + 0.35 s).
    Speed itself is measured by bench/hook_latency.py, not asserted here: shared CI
    machines are too noisy for timed unit tests."""
    return max(seconds, HANG_SECONDS)


def assert_quiet_success(result: subprocess.CompletedProcess[bytes]) -> None:
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b""


def state_dir(home: Path) -> Path:
    return home / ".local" / "state" / "loomline"


def spooled(home: Path, spool: Path | None = None) -> list[Path]:
    """Every spool entry: records (.json) and the shell hook's raw entries (.raw). One
    listing: two (a glob per suffix) can fall either side of a sender turning NAME.raw into
    NAME.json and see neither (it once made a test read the receiver before the send)."""
    folder = spool or state_dir(home) / "spool"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".json", ".raw"))


def log_text(home: Path) -> str:
    path = state_dir(home) / "hook.log"
    return path.read_text() if path.exists() else ""


# --------------------------------------------------------------------------- fixtures → records


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_fixture_payload_becomes_one_record(scenario: str, receiver: GrpcReceiver, tmp_path: Path, hook: str) -> None:
    payloads = fixture_payloads(scenario)
    for payload in payloads:
        result, _ = run_hook(json.dumps(payload), tmp_path, "--endpoint", receiver.endpoint, hook=hook)
        assert_quiet_success(result)
    records = receiver.collector.records()
    assert len(records) == len(payloads)
    assert spooled(tmp_path) == []
    for payload, record in zip(payloads, records, strict=True):
        attrs = record["attributes"]
        expected_name = EVENT_NAMES[payload["hook_event_name"]]
        assert record["body"] == expected_name
        assert attrs["event.name"] == expected_name
        assert attrs["hook_event_name"] == payload["hook_event_name"]
        assert attrs["session.id"] == payload["session_id"]
        assert attrs["cwd"] == payload["cwd"]
        for key in ("source", "reason", "trigger", "tool_name", "tool_use_id", "agent_id",
                    "agent_type", "model", "permission_mode"):
            if key in payload:
                assert attrs[key] == payload[key], key
        if "prompt_id" in payload:
            assert attrs["prompt.id"] == payload["prompt_id"]
        # Prompt text and model output stay local unless --include-prompts.
        for key in ("prompt", "compact_summary", "last_assistant_message", "custom_instructions"):
            assert key not in attrs
        # Containers (tool_input, tool_response, effort) are not sent.
        assert "tool_input" not in attrs and "tool_response" not in attrs
        # The CLI run is this test process: it spawned the hook the way Claude Code does.
        assert attrs["loomline.cli_run.pid"] == os.getpid()
        assert attrs["loomline.cli_run.id"].startswith(f"{socket.gethostname()}:{os.getpid()}:")
        # /home/dev/project is not a git work tree here: the project is the path.
        assert attrs["loomline.project.id"] == "/home/dev/project"
        assert attrs["loomline.project.name"] == "project"
        assert record["resource"]["service.name"] == "loomline-hook"
        assert record["resource"]["host.name"] == socket.gethostname()
        assert abs(record["time"] / 1e9 - time.time()) < 600
        if payload["hook_event_name"] == "PostToolUse":
            assert attrs["duration_ms"] == payload["duration_ms"]
    # Records arrive in invocation order.
    times = [r["time"] for r in records]
    assert times == sorted(times)


def test_fork_record_names_its_parent(receiver: GrpcReceiver, tmp_path: Path) -> None:
    for payload in fixture_payloads("fork"):
        assert_quiet_success(run_hook(json.dumps(payload), tmp_path, "--endpoint", receiver.endpoint)[0])
    starts = [r["attributes"] for r in receiver.collector.records() if r["body"] == "loomline.session_start"]
    assert [a["source"] for a in starts] == ["startup", "fork"]
    assert "loomline.parent_session_id" not in starts[0]
    assert starts[1]["session.id"] == "c9caa1c0-3711-4c5f-9d06-232c23c3492a"
    assert starts[1]["loomline.parent_session_id"] == FORK_PARENT


def test_fork_parent_found_later_when_transcript_not_written_yet(receiver: GrpcReceiver, tmp_path: Path, hook: str) -> None:
    """SessionStart(fork) may run before Claude Code writes the copied lines; the next hook of
    that session carries the parent instead."""
    payloads = [p for p in fixture_payloads("fork") if p["session_id"] != FORK_PARENT]
    real_transcript = Path(payloads[0]["transcript_path"])
    transcript = tmp_path / "fork.jsonl"
    for payload in payloads:
        payload["transcript_path"] = str(transcript)
    assert_quiet_success(run_hook(json.dumps(payloads[0]), tmp_path, "--endpoint", receiver.endpoint, hook=hook)[0])
    transcript.write_bytes(real_transcript.read_bytes())
    for payload in payloads[1:]:
        assert_quiet_success(run_hook(json.dumps(payload), tmp_path, "--endpoint", receiver.endpoint, hook=hook)[0])
    records = receiver.collector.records()
    parents = [r["attributes"].get("loomline.parent_session_id") for r in records]
    assert parents == [None, FORK_PARENT, None, None]  # only the first record that could know


def test_compaction_tokens_from_transcript(receiver: GrpcReceiver, tmp_path: Path, hook: str) -> None:
    for payload in fixture_payloads("compact_manual"):
        assert_quiet_success(run_hook(json.dumps(payload), tmp_path, "--endpoint", receiver.endpoint, hook=hook)[0])
    records = receiver.collector.records()
    post = [r["attributes"] for r in records if r["body"] == "loomline.post_compact"]
    assert len(post) == 1
    assert (post[0]["trigger"], post[0]["pre_tokens"], post[0]["post_tokens"], post[0]["duration_ms"]) == (
        "manual", 2550, 2545, 174)
    compact_start = [r["attributes"] for r in records
                     if r["body"] == "loomline.session_start" and r["attributes"]["source"] == "compact"]
    assert compact_start[0]["pre_tokens"] == 2550 and compact_start[0]["post_tokens"] == 2545
    pre = [r["attributes"] for r in records if r["body"] == "loomline.pre_compact"]
    assert pre and all("pre_tokens" not in a for a in pre)


def test_include_prompts_and_headers(receiver: GrpcReceiver, tmp_path: Path) -> None:
    payload = next(p for p in fixture_payloads("fresh_tool") if p["hook_event_name"] == "UserPromptSubmit")
    result, _ = run_hook(json.dumps(payload), tmp_path, "--endpoint", receiver.endpoint, "--include-prompts",
                         "--header", "Authorization=Bearer s3cret", "--header", "x-org=acme")
    assert_quiet_success(result)
    (record,) = receiver.collector.records()
    assert record["attributes"]["prompt"] == "please run TOOL"
    assert receiver.collector.metadata[0]["authorization"] == "Bearer s3cret"
    assert receiver.collector.metadata[0]["x-org"] == "acme"


def test_config_file_supplies_endpoint_and_headers(receiver: GrpcReceiver, tmp_path: Path) -> None:
    config = tmp_path / ".config" / "loomline" / "hook.json"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"endpoint": receiver.endpoint, "headers": {"authorization": "Bearer cfg"},
                                  "include_prompts": True}))
    payload = next(p for p in fixture_payloads("fresh_tool") if p["hook_event_name"] == "UserPromptSubmit")
    assert_quiet_success(run_hook(json.dumps(payload), tmp_path)[0])
    (record,) = receiver.collector.records()
    assert record["attributes"]["prompt"] == "please run TOOL"
    assert receiver.collector.metadata[0]["authorization"] == "Bearer cfg"


def test_org_from_flag_env_or_config(receiver: GrpcReceiver, tmp_path: Path, hook: str) -> None:
    """--org > LOOMLINE_HOOK_ORG > the config file's org; sent as organization.id."""
    payload = json.dumps(fixture_payloads("fresh_tool")[0])
    config = tmp_path / ".config" / "loomline" / "hook.json"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"endpoint": receiver.endpoint, "org": "org-config"}))
    assert_quiet_success(run_hook(payload, tmp_path, hook=hook)[0])
    assert_quiet_success(run_hook(payload, tmp_path, env={"LOOMLINE_HOOK_ORG": "org-env"}, hook=hook)[0])
    assert_quiet_success(run_hook(payload, tmp_path, "--org", "org-flag", env={"LOOMLINE_HOOK_ORG": "org-env"}, hook=hook)[0])
    config.write_text(json.dumps({"endpoint": receiver.endpoint}))
    assert_quiet_success(run_hook(payload, tmp_path, hook=hook)[0])
    records = once(receiver.collector.records())
    assert [r["attributes"].get("organization.id") for r in records] == ["org-config", "org-env", "org-flag", None]


def test_org_reaches_loomline_as_the_records_org(app: Any, storage: Any, tmp_path: Path) -> None:
    """The real receiver stores a bridge record with --org under that org, not 'default'."""
    endpoint = f"http://127.0.0.1:{app.ports['otlp_grpc']}"
    payload = fixture_payloads("fresh_tool")[0]
    assert_quiet_success(run_hook(json.dumps(payload), tmp_path, "--endpoint", endpoint, "--org", "acme")[0])
    rows = storage.query_rows("SELECT OrgId, EventName FROM events FINAL WHERE SessionId = {s:String}",
                              {"s": payload["session_id"]})
    assert rows == [("acme", "loomline.session_start")]


def test_http_protobuf_protocol(tmp_path: Path) -> None:
    HttpCollector.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), HttpCollector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        payload = fixture_payloads("fresh_tool")[0]
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        result, _ = run_hook(json.dumps(payload), tmp_path, "--protocol", "http/protobuf",
                             "--endpoint", endpoint, "--header", "authorization=Bearer h")
        assert_quiet_success(result)
    finally:
        server.shutdown()
        server.server_close()
    ((path, headers, body),) = HttpCollector.requests
    assert path == "/v1/logs"
    assert headers["authorization"] == "Bearer h"
    request = logs_service_pb2.ExportLogsServiceRequest.FromString(body)
    (record,) = flatten(request)
    assert record["body"] == "loomline.session_start"
    assert record["attributes"]["source"] == "startup"


# --------------------------------------------------------------------------- receiver down, spool


def test_receiver_down_spools_then_delivers_once_in_order(tmp_path: Path) -> None:
    server = GrpcReceiver().start()
    endpoint = server.endpoint
    server.stop()  # the port is known; nothing listens on it now
    payloads = fixture_payloads("interactive_clear_exit")
    args = ("--endpoint", endpoint, "--retry-after", "0", "--sender-linger", "0")
    for payload in payloads[:4]:
        result, elapsed = run_hook(json.dumps(payload), tmp_path, *args, delivered=False)
        assert_quiet_success(result)
        assert elapsed < budget(1.5)  # SessionEnd's whole budget
    assert len(spooled(tmp_path)) == 4
    wait_for(lambda: "unreachable" in log_text(tmp_path), "the sender's log line")

    server.start()  # back on the same port: the next hook's sender sends the backlog too
    try:
        assert_quiet_success(run_hook(json.dumps(payloads[4]), tmp_path, *args)[0])
        assert_quiet_success(run_hook(json.dumps(payloads[5]), tmp_path, *args)[0])
    finally:
        server.stop()
    records = sorted(server.collector.records(), key=lambda r: r["time"])
    assert [r["attributes"]["hook_event_name"] for r in records] == [p["hook_event_name"] for p in payloads[:6]]
    assert [r["attributes"]["session.id"] for r in records] == [p["session_id"] for p in payloads[:6]]
    assert len({r["raw"] for r in records}) == 6  # each exactly once


def test_hanging_receiver_does_not_hold_up_claude_code(tmp_path: Path) -> None:
    """A receiver that accepts but does not answer: the hook still ends at once (the
    sender waits, not the hook), the record stays spooled, and a later delivery is
    byte-identical (dedup-safe)."""
    server = GrpcReceiver()
    server.collector.delay = 5.0
    server.start()
    payload = json.dumps(next(p for p in fixture_payloads("interactive_clear_exit") if p["hook_event_name"] == "SessionEnd"))
    args = ("--endpoint", server.endpoint, "--retry-after", "0", "--sender-linger", "0")
    try:
        result, elapsed = run_hook(payload, tmp_path, *args, delivered=False)
        assert_quiet_success(result)
        assert elapsed < budget(1.5)
        wait_for(lambda: "unreachable" in log_text(tmp_path) or "export failed" in log_text(tmp_path),
                 "the sender's export to time out")
        assert len(spooled(tmp_path)) == 1
    finally:
        server.stop()
    slow_copy = server.collector.records()
    server.collector = Collector()
    server.start()
    try:
        assert_quiet_success(run_hook(payload, tmp_path, *args)[0])
    finally:
        server.stop()
    first, second = sorted(server.collector.records(), key=lambda r: r["time"])
    assert first["attributes"]["reason"] == "clear"
    assert [r["raw"] for r in slow_copy] == [first["raw"]]


def test_sender_retries_until_the_receiver_is_back_without_another_hook(tmp_path: Path) -> None:
    """SessionEnd is often the last hook in a HOME: its record must not wait for another
    one. The detached sender retries (--retry-after, doubling) for --sender-linger."""
    server = GrpcReceiver().start()
    endpoint = server.endpoint
    server.stop()
    payload = next(p for p in fixture_payloads("interactive_clear_exit") if p["hook_event_name"] == "SessionEnd")
    result, _ = run_hook(json.dumps(payload), tmp_path, "--endpoint", endpoint, "--retry-after", "0.2",
                         "--sender-linger", "60", delivered=False)
    assert_quiet_success(result)
    wait_for(lambda: "unreachable" in log_text(tmp_path), "a failed first attempt")
    server.start()
    try:
        wait_for(lambda: not spooled(tmp_path), "the sender's retry to deliver")
        (record,) = server.collector.records()
    finally:
        server.stop()
    assert record["attributes"]["reason"] == payload["reason"]


def test_spooled_record_resends_byte_identical() -> None:
    payload = fixture_payloads("fork")[4]
    record = build_record(payload, HookContext(host="h", time_unix_nano=1_795_000_000_123_456_789,
                                                         cli_run_pid=42, cli_run_started_ms=1_795_000_000_000))
    again = HookRecord.from_json(record.to_json())
    assert again == record
    assert again.to_export_request().SerializeToString() == record.to_export_request().SerializeToString()


def test_resend_after_a_timeout_repeats_the_unanswered_request_exactly(tmp_path: Path) -> None:
    """A receiver that stores a request but answers after the export timeout: the retry
    (by a later flush, as a later hook's sender would) is the same request byte for byte,
    sent alone, not regrouped with what was spooled since; so the receiver's insert dedup
    drops it and no raw row is stored twice."""
    server = GrpcReceiver()
    server.collector.delay = 2.0
    server.start()
    payloads = fixture_payloads("interactive_clear_exit")[:3]
    records = [build_record(p, HookContext(host="h", time_unix_nano=1_795_000_000_000_000_000 + i))
               for i, p in enumerate(payloads)]
    options = HookOptions(endpoint=server.endpoint, spool_dir=tmp_path / "spool", log_file=tmp_path / "hook.log",
                          timeout=0.3, retry_after=0.05)
    spool = Spool(options.spool_dir, options.spool_max_records, options.spool_max_bytes, options.log_file)
    try:
        spool.append(records[0])
        spool.append(records[1])
        assert not flush(options)  # stored by the server, but answered too late
        wait_for(lambda: len(server.collector.requests) == 1, "the slow server to take the first request")
        server.collector.delay = 0.0
        spool.append(records[2])
        assert flush(options)
    finally:
        server.stop()
    first, again, rest = (r.SerializeToString() for r in server.collector.requests)
    assert again == first
    assert len(flatten(server.collector.requests[1])) == 2
    assert [r["attributes"]["session.id"] for r in flatten(server.collector.requests[2])] == [payloads[2]["session_id"]]
    assert not spooled(tmp_path, options.spool_dir) and not (options.spool_dir / ".inflight").exists()


def test_spool_is_bounded_oldest_dropped(tmp_path: Path) -> None:
    server = GrpcReceiver().start()
    endpoint = server.endpoint
    server.stop()
    options = HookOptions(endpoint=endpoint, spool_dir=tmp_path / "spool", log_file=tmp_path / "hook.log",
                               spool_max_records=3, retry_after=0, timeout=0.5)
    records = [build_record({"hook_event_name": "Stop", "session_id": f"s{i}"},
                                 HookContext(time_unix_nano=1_000 + i)) for i in range(5)]
    for record in records:
        assert deliver(record, options) is False
    kept = [HookRecord.from_json(p.read_text()) for p in sorted((tmp_path / "spool").glob("*.json"))]
    assert [r.attributes["session.id"] for r in kept] == ["s2", "s3", "s4"]
    assert "dropped the 1 oldest" in (tmp_path / "hook.log").read_text()


def test_concurrent_hooks_while_down_then_one_flush(tmp_path: Path) -> None:
    server = GrpcReceiver().start()
    endpoint = server.endpoint
    server.stop()
    base = fixture_payloads("fresh_tool")[0]
    env = hook_env(tmp_path)
    args = ["--endpoint", endpoint, "--retry-after", "0", "--sender-linger", "0"]
    procs = []
    for i in range(8):
        payload = dict(base, session_id=f"parallel-{i}")
        proc = subprocess.Popen([*HOOKS["sh"], *args],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(payload).encode())
        proc.stdin.close()  # all eight run at once, as Claude Code runs parallel hooks
        procs.append(proc)
    for proc in procs:
        assert proc.wait(timeout=30) == 0
        assert proc.stdout is not None and proc.stdout.read() == b""
    assert len(spooled(tmp_path)) == 8
    server.start()
    try:
        assert_quiet_success(run_hook(json.dumps(dict(base, session_id="after")), tmp_path, *args)[0])
    finally:
        server.stop()
    records = sorted(server.collector.records(), key=lambda r: r["time"])
    sessions = [r["attributes"]["session.id"] for r in records]
    assert sorted(sessions[:-1]) == sorted(f"parallel-{i}" for i in range(8))
    assert sessions[-1] == "after"
    assert len({r["raw"] for r in records}) == 9  # each exactly once
    assert spooled(tmp_path) == []


# --------------------------------------------------------------------------- never in the way


@pytest.mark.parametrize("stdin", [b"", b"   \n", b"not json", b"[1, 2]", b'{"session_id": "x"}',
                                   b"\xff\xfe garbage"])
def test_malformed_stdin_exits_zero_and_logs(stdin: bytes, receiver: GrpcReceiver, tmp_path: Path, hook: str) -> None:
    result, _ = run_hook(stdin, tmp_path, "--endpoint", receiver.endpoint, hook=hook)
    assert_quiet_success(result)
    assert receiver.collector.requests == []
    assert "unusable hook input" in log_text(tmp_path)


def test_unknown_event_is_sent_under_a_derived_name(receiver: GrpcReceiver, tmp_path: Path) -> None:
    payload = {"session_id": "s1", "hook_event_name": "PermissionRequest", "cwd": "/tmp", "weird": {"a": 1}}
    assert_quiet_success(run_hook(json.dumps(payload), tmp_path, "--endpoint", receiver.endpoint)[0])
    (record,) = receiver.collector.records()
    assert record["body"] == "loomline.permission_request"
    assert "unknown hook event" in log_text(tmp_path)


def test_bad_flags_and_bad_config_never_fail(receiver: GrpcReceiver, tmp_path: Path, hook: str) -> None:
    payload = json.dumps(fixture_payloads("fresh_tool")[0])
    result, _ = run_hook(payload, tmp_path, "--no-such-flag", hook=hook)
    assert_quiet_success(result)
    assert "bad arguments" in log_text(tmp_path)
    config = tmp_path / "broken.json"
    config.write_text("{nope")
    # Bad options fall back to the defaults (receiver 127.0.0.1:4317): not waited for.
    result, _ = run_hook(payload, tmp_path, "--config", str(config), "--endpoint", receiver.endpoint,
                         delivered=False, hook=hook)
    assert_quiet_success(result)
    # (the shell hook's sender, which reads the options, logs it after the hook exited)
    wait_for(lambda: "bad options" in log_text(tmp_path), "the bad options logged")


def test_hook_delivers_repeatedly_without_hanging(receiver: GrpcReceiver, tmp_path: Path) -> None:
    """Several invocations in a row all deliver and exit; latency figures come from
    bench/hook_latency.py (see docs/hooks.md)."""
    payload = json.dumps(fixture_payloads("fresh_tool")[1])
    for _ in range(3):
        result, elapsed = run_hook(payload, tmp_path, "--endpoint", receiver.endpoint)
        assert_quiet_success(result)
        assert elapsed < budget(0.5)


# --------------------------------------------------------------------------- pure parts


def test_event_names() -> None:
    assert event_name_for("SessionStart") == "loomline.session_start"
    assert event_name_for("UserPromptSubmit") == "loomline.user_prompt_submit"
    assert event_name_for("FooBar") == "loomline.foo_bar"
    assert event_name_for("PreMCPCall") == "loomline.pre_mcp_call"


def test_build_record_is_pure_and_follows_the_contract() -> None:
    payload = {"session_id": "s", "hook_event_name": "SessionEnd", "reason": "clear", "prompt_id": "p",
               "cwd": "/w", "stop_hook_active": False, "estimated_cache_write_usd": 0.0127,
               "context_tokens": 2542, "prompt": "secret", "tool_input": {"command": "ls"}}
    context = HookContext(host="box", time_unix_nano=1_795_287_670_000_000_000, cli_run_pid=7,
                               cli_run_started_ms=1_795_287_669_564, project_id="github.com/acme/api",
                               project_name="api", git_branch="main")
    record = build_record(payload, context)
    assert record == build_record(payload, context)
    attrs = record.attributes
    assert record.body == attrs["event.name"] == "loomline.session_end"
    assert attrs["event.timestamp"] == "2026-11-21T19:01:10.000000Z"
    assert attrs["session.id"] == "s" and attrs["prompt.id"] == "p" and attrs["reason"] == "clear"
    assert attrs["stop_hook_active"] == "false"
    assert attrs["context_tokens"] == 2542 and attrs["estimated_cache_write_usd"] == 0.0127
    assert attrs["loomline.cli_run.id"] == "box:7:1795287669564"
    assert (attrs["loomline.project.id"], attrs["git.branch"]) == ("github.com/acme/api", "main")
    assert "prompt" not in attrs and "tool_input" not in attrs
    with_prompts = build_record(payload, HookContext(include_prompts=True))
    assert with_prompts.attributes["prompt"] == "secret"


@pytest.mark.parametrize(("url", "expected"), [
    ("https://user:token@GitHub.com/acme/api.git", "github.com/acme/api"),
    ("git@github.com:acme/api.git", "github.com/acme/api"),
    ("ssh://git@github.com:22/acme/api", "github.com/acme/api"),
    ("https://gitlab.example.com/group/sub/proj/", "gitlab.example.com/group/sub/proj"),
    ("/srv/git/proj.git", "/srv/git/proj"),
    ("file:///srv/git/proj.git", "/srv/git/proj"),
])
def test_normalize_remote(url: str, expected: str) -> None:
    assert normalize_remote(url) == expected


def test_git_info_reads_git_files(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".git" / "HEAD").write_text("ref: refs/heads/feature/x\n")
    (repo / ".git" / "config").write_text(
        '[core]\n\tbare = false\n[remote "upstream"]\n\turl = https://example.com/up.git\n'
        '[remote "origin"]\n\turl = https://bob:ghp_secret@github.com/acme/api.git\n'
        '\tfetch = +refs/heads/*:refs/remotes/origin/*\n')
    (repo / "src" / "deep").mkdir(parents=True)
    info = git_info(str(repo / "src" / "deep"))
    assert info == GitInfo("github.com/acme/api", "api", "feature/x")
    assert "secret" not in info.project_id

    # A worktree: .git is a file pointing at the real git dir, config in the common dir.
    worktree = tmp_path / "wt"
    worktree.mkdir()
    wt_git = repo / ".git" / "worktrees" / "wt"
    wt_git.mkdir(parents=True)
    (wt_git / "HEAD").write_text("ref: refs/heads/hotfix\n")
    (wt_git / "commondir").write_text("../..\n")
    (worktree / ".git").write_text(f"gitdir: {wt_git}\n")
    assert git_info(str(worktree)) == GitInfo("github.com/acme/api", "api", "hotfix")

    # No remote: the work tree path; detached HEAD: no branch.
    (repo / ".git" / "config").write_text("[core]\n\tbare = false\n")
    (repo / ".git" / "HEAD").write_text("0123456789abcdef0123456789abcdef01234567\n")
    assert git_info(str(repo / "src")) == GitInfo(str(repo), "repo", "")
    assert git_info(str(tmp_path / "plain")) == GitInfo(str(tmp_path / "plain"), "plain", "")


def test_git_info_agrees_with_git(tmp_path: Path) -> None:
    repo = tmp_path / "real"
    subprocess.run(["git", "init", "-q", "-b", "trunk", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "remote", "add", "origin", "git@github.com:acme/real.git"], check=True)
    assert git_info(str(repo)) == GitInfo("github.com/acme/real", "real", "trunk")


def test_transcript_readers_on_fixtures() -> None:
    fork = FIXTURES_ROOT / "fork" / "transcripts"
    assert fork_parent(str(fork / "c9caa1c0-3711-4c5f-9d06-232c23c3492a.jsonl"),
                            "c9caa1c0-3711-4c5f-9d06-232c23c3492a") == FORK_PARENT
    assert fork_parent(str(fork / f"{FORK_PARENT}.jsonl"), FORK_PARENT) == ""
    assert fork_parent("/nonexistent.jsonl", "x") == ""
    compact = FIXTURES_ROOT / "compact_manual" / "transcripts" / "ff3923b1-3d3c-47e4-ac75-409610d1482e.jsonl"
    assert last_compaction(str(compact)) == {"pre_tokens": 2550, "post_tokens": 2545, "duration_ms": 174}
    assert last_compaction(str(fork / f"{FORK_PARENT}.jsonl")) == {}


def test_fork_parent_prefers_forked_from(tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    transcript.write_text("\n".join(json.dumps(line) for line in [
        {"type": "mode", "sessionId": "new"},
        {"type": "user", "sessionId": "new", "requestSessionId": "other",
         "forkedFrom": {"sessionId": "parent", "messageUuid": "u1"}},
    ]) + "\n")
    assert fork_parent(str(transcript), "new") == "parent"


def test_hook_module_import_is_light() -> None:
    code = ("import sys, bridge.hook; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('grpc', 'opentelemetry', 'google')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --------------------------------------------------------------------------- the real receiver


def test_real_receiver_stores_bridge_records(app: Any, storage: Any, tmp_path: Path) -> None:
    """loomline's own receiver (in-process, chDB) stores the bridge's records as typed events."""
    endpoint = f"http://127.0.0.1:{app.ports['otlp_grpc']}"
    payloads = fixture_payloads("fork") + fixture_payloads("compact_manual") + fixture_payloads("interactive_clear_exit")
    for payload in payloads:
        assert_quiet_success(run_hook(json.dumps(payload), tmp_path, "--endpoint", endpoint)[0])
    rows = storage.query_dicts(
        "SELECT EventName, SessionId, Source, Reason, CompactionTrigger, PreTokens, PostTokens, PromptId,"
        " ParentSessionId, CliRunId, ProjectId, Cwd, ServiceName"
        " FROM events FINAL WHERE EventName LIKE 'loomline.%' ORDER BY Timestamp"
    )
    assert len(rows) == len(payloads)
    for payload, row in zip(payloads, rows, strict=True):
        assert row["EventName"] == EVENT_NAMES[payload["hook_event_name"]]
        assert row["SessionId"] == payload["session_id"]
        assert row["Source"] == payload.get("source", "")
        assert row["Reason"] == payload.get("reason", "")
        assert row["CompactionTrigger"] == payload.get("trigger", "")
        assert row["PromptId"] == payload.get("prompt_id", "")
        assert row["CliRunId"].startswith(f"{socket.gethostname()}:{os.getpid()}:")
        assert (row["ProjectId"], row["Cwd"], row["ServiceName"]) == ("/home/dev/project", "/home/dev/project",
                                                                      "loomline-hook")
    fork = [r for r in rows if r["Source"] == "fork"]
    assert [r["ParentSessionId"] for r in fork] == [FORK_PARENT]
    post = [r for r in rows if r["EventName"] == "loomline.post_compact"]
    assert [(r["PreTokens"], r["PostTokens"]) for r in post] == [(2550, 2545)]
    reasons = [r["Reason"] for r in rows if r["EventName"] == "loomline.session_end"]
    assert reasons[-2:] == ["clear", "prompt_input_exit"]

    # A spooled record delivered twice (acknowledged, then the hook died before deleting
    # it) is stored once: the resend is byte-identical.
    payload = dict(payloads[0], session_id="dedup-check")
    record = build_record(payload, HookContext(host="h", time_unix_nano=time.time_ns()))
    options = HookOptions(endpoint=endpoint, spool_dir=tmp_path / "spool2", log_file=tmp_path / "l.log")
    assert deliver(record, options) and deliver(HookRecord.from_json(record.to_json()), options)
    stored = storage.query_rows("SELECT count() FROM events FINAL WHERE SessionId = 'dedup-check'")
    assert stored[0][0] == 1


def test_bridge_does_not_import_the_front_door() -> None:
    """bridge/ is a lower room: importing every module of it pulls in nothing of loomline/."""
    code = ("import sys, bridge.hook, bridge.send, bridge.install_hooks, bridge.context; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'loomline'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_bridge_version_is_loomline_version() -> None:
    import bridge
    import loomline

    assert bridge.__version__ == loomline.__version__


# --------------------------------------------------------------------------- spool full or unwritable


@pytest.fixture
def full_spool_dir(tmp_path: Path) -> Iterator[tuple[Path, bool]]:
    """(spool directory, on a full tmpfs?). A tiny tmpfs, filled up, makes writes fail with
    OSError(28) as on a full disk. Where mounting is not allowed (not root), the test runs
    the hook with a file size limit of 0 instead (RLIMIT_FSIZE: writes fail with EFBIG)."""
    mount_point = tmp_path / "full"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount_point)],
                             capture_output=True, check=False).returncode == 0
    try:
        if mounted:
            with contextlib.suppress(OSError), open(mount_point / "filler", "wb") as handle:
                handle.write(b"x" * 64 * 1024)
            probe = mount_point / "probe"
            with pytest.raises(OSError) as excinfo, open(probe, "wb") as handle:
                handle.write(b"y" * 4096)
                handle.flush()
            assert excinfo.value.errno == 28
            probe.unlink()
        spool = mount_point / "spool"
        with contextlib.suppress(OSError):
            spool.mkdir()
        yield spool, mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, check=False)


NO_FILE_SPACE = ("import resource, runpy, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
                 "resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0)); sys.argv = ['loomline', *sys.argv[1:]]; "
                 "runpy.run_module('loomline', run_name='__main__')")


def test_full_spool_falls_back_to_sending_directly(receiver: GrpcReceiver, full_spool_dir: tuple[Path, bool],
                                                   tmp_path: Path, hook: str) -> None:
    spool, mounted = full_spool_dir
    payload = next(p for p in fixture_payloads("interactive_clear_exit") if p["hook_event_name"] == "SessionEnd")
    args = ["--endpoint", receiver.endpoint, "--spool-dir", str(spool)]
    if mounted:
        argv = [*HOOKS[hook], *args]
    elif hook == "python":
        argv = [sys.executable, "-c", NO_FILE_SPACE, "hook", *args]
    else:  # the shell, its children and the Python hook it hands over to, all without file space
        argv = ["/bin/sh", "-c", "trap '' XFSZ; ulimit -f 0; exec \"$@\"", "sh", *HOOKS[hook], *args]
    result = subprocess.run(argv, input=json.dumps(payload).encode(), capture_output=True, env=hook_env(tmp_path),
                            timeout=30, check=False)
    assert_quiet_success(result)
    wait_for(lambda: len(receiver.collector.records()) == 1, "the unspooled record to arrive")
    (record,) = receiver.collector.records()
    assert record["attributes"]["reason"] == payload["reason"]
    assert record["attributes"]["loomline.cli_run.pid"] == os.getpid()
    assert [p.name for p in spool.iterdir() if p.name != ".lock"] == []  # no stray .tmp, nothing half written
    if mounted:  # (with no file space at all, the log cannot be written either)
        assert "spool unusable" in log_text(tmp_path) and "28" in log_text(tmp_path)


def test_unwritable_spool_falls_back_to_sending_directly(receiver: GrpcReceiver, tmp_path: Path, hook: str) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the spool's parent should be")
    payload = fixture_payloads("fresh_tool")[0]
    result, _ = run_hook(json.dumps(payload), tmp_path, "--endpoint", receiver.endpoint,
                         "--spool-dir", str(blocker / "spool"), delivered=False, hook=hook)
    assert_quiet_success(result)
    wait_for(lambda: len(receiver.collector.records()) == 1, "the unspooled record to arrive")
    assert receiver.collector.records()[0]["attributes"]["session.id"] == payload["session_id"]


def test_unwritable_spool_in_process_deliver_sends_directly(receiver: GrpcReceiver, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    options = HookOptions(endpoint=receiver.endpoint, spool_dir=blocker / "spool", log_file=tmp_path / "hook.log")
    record = build_record({"hook_event_name": "Stop", "session_id": "direct"}, HookContext(time_unix_nano=time.time_ns()))
    assert deliver(record, options) is True
    assert [r["attributes"]["session.id"] for r in receiver.collector.records()] == ["direct"]


def test_lone_surrogate_leaves_no_tmp_and_is_sent_sanitized(receiver: GrpcReceiver, tmp_path: Path, hook: str) -> None:
    raw = b'{"session_id": "sur", "hook_event_name": "Stop\\ud800", "cwd": "/tmp", "note": "a\\udfffb"}'
    result, _ = run_hook(raw, tmp_path, "--endpoint", receiver.endpoint, hook=hook)
    assert_quiet_success(result)
    wait_for(lambda: len(receiver.collector.records()) == 1, "the sanitized record to arrive")
    (record,) = receiver.collector.records()
    assert record["attributes"]["hook_event_name"] == "Stop\ufffd"
    assert record["attributes"]["note"] == "a\ufffdb"
    assert record["body"] == "loomline.stop"
    assert list((state_dir(tmp_path) / "spool").glob("*.tmp")) == []


# --------------------------------------------------------------------------- the SessionEnd race


def test_hook_process_never_imports_the_sdk(receiver: GrpcReceiver, tmp_path: Path) -> None:
    """The hot path (options, payload, context, spool write, sender start) imports no
    OpenTelemetry SDK, protobuf or gRPC: those load in the detached sender."""
    payload = fixture_payloads("compact_manual")[0]
    code = ("import io, sys; from loomline.cli import main; main(['hook', '--endpoint', sys.argv[1]]); "
            "print(sorted({m.split('.')[0] + ('.' + m.split('.')[1] if m.startswith('google.') else '') "
            "for m in sys.modules if m.split('.')[0] in ('grpc', 'opentelemetry', 'google')}), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code, receiver.endpoint], input=json.dumps(payload).encode(),
                            capture_output=True, env=hook_env(tmp_path), timeout=30, check=False)
    assert result.returncode == 0 and result.stdout == b""
    assert result.stderr.decode().strip().splitlines()[-1] == "[]"
    wait_for(lambda: len(receiver.collector.records()) == 1, "the sender's delivery")


def test_hook_killed_right_after_the_spool_write_still_delivers(app: Any, storage: Any, tmp_path: Path,
                                                                  hook: str) -> None:
    """Claude Code kills a SessionEnd hook that overruns its time limit. Killed (with its
    whole process group) right after the spool write, the record still reaches loomline:
    the detached sender was started before the write and sends it at the hook's death.
    (The shell hook's kill takes its `sleep` child too: the whole group, as Claude Code.)"""
    _kill_after_the_spool_write(app, storage, tmp_path, hook, {}, f"killed-session-end-{hook}")


def test_shell_hook_killed_before_its_sender_left_the_group_still_delivers(app: Any, storage: Any,
                                                                            tmp_path: Path) -> None:
    """On a loaded machine the shell hook can reach its spool write before the sender it
    started has run setsid (seen in CI: the group kill took the sender, the record waited
    for the next hook). A setsid that takes 0.4 s to start stands in for the load: the hook
    waits for the sender to leave its session before it writes, so the kill misses it."""
    slow = tmp_path / "slow-bin"
    slow.mkdir()
    setsid = slow / "setsid"
    setsid.write_text(f"#!/bin/sh\nsleep 0.4\nexec {shutil.which('setsid')} \"$@\"\n")
    setsid.chmod(0o755)
    env = {"PATH": f"{slow}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    _kill_after_the_spool_write(app, storage, tmp_path, "sh", env, "killed-before-setsid")


def _kill_after_the_spool_write(app: Any, storage: Any, home: Path, hook: str, extra_env: dict[str, str],
                                session_id: str) -> None:
    endpoint = f"http://127.0.0.1:{app.ports['otlp_grpc']}"
    payload = dict(next(p for p in fixture_payloads("interactive_clear_exit") if p["hook_event_name"] == "SessionEnd"),
                   session_id=session_id)
    env = {**hook_env(home), **extra_env, "LOOMLINE_HOOK_TEST_STALL_AFTER_SPOOL": "60"}
    proc = subprocess.Popen([*HOOKS[hook], "--endpoint", endpoint, "--timeout", "30"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env, start_new_session=True)
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(payload).encode())
    proc.stdin.close()
    try:
        wait_for(lambda: len(spooled(home)) == 1, "the hook's spool write")
        os.killpg(proc.pid, 9)
        assert proc.wait(timeout=10) == -9
    finally:
        if proc.poll() is None:
            proc.kill()

    def stored() -> list[Any]:
        return storage.query_rows("SELECT EventName, Reason FROM events FINAL WHERE SessionId = {s:String}",
                                  {"s": payload["session_id"]})

    wait_for(lambda: bool(stored()), "the killed hook's record in loomline", timeout=60)
    assert stored() == [("loomline.session_end", payload["reason"])]
    wait_for(lambda: not spooled(home), "the spool to empty")


# --------------------------------------------------------------------------- compaction tokens


def _compaction_lines(transcript: Path) -> tuple[list[str], dict[str, Any], dict[str, Any], str]:
    """(lines up to the first compaction's summary, its boundary, its summary, its prompt id)
    from the captured compact_manual transcript."""
    lines = transcript.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if '"compact_boundary"' in line)
    summary_index = next(i for i in range(index, len(lines)) if '"isCompactSummary":true' in lines[i].replace(" ", ""))
    summary = json.loads(lines[summary_index])
    return lines[:summary_index + 1], json.loads(lines[index]), summary, summary["promptId"]


def test_autocompact_capture_carries_no_tokens(receiver: GrpcReceiver, tmp_path: Path) -> None:
    """The autocompact capture's compactions failed (no boundary): nothing carries tokens,
    and nothing waits for a boundary that will never come."""
    payloads = fixture_payloads("autocompact")
    for payload in payloads:
        assert_quiet_success(run_hook(json.dumps(payload), tmp_path, "--endpoint", receiver.endpoint)[0])
    records = receiver.collector.records()
    assert len(records) == len(payloads)
    assert [r for r in records if "pre_tokens" in r["attributes"]] == []
    assert sum(r["body"] == "loomline.pre_compact" for r in records) == 2


def test_second_compaction_carries_its_own_tokens_not_the_first(receiver: GrpcReceiver, tmp_path: Path) -> None:
    """Claude Code writes a compaction's boundary after its PostCompact hook ran: the hook
    then sees only the previous compaction's boundary. The record waits (in the sender)
    for its own boundary, matched by the compact summary's prompt id."""
    captured = Path(fixture_payloads("compact_manual")[0]["transcript_path"])
    head, boundary, summary, first_prompt = _compaction_lines(captured)
    transcript = tmp_path / "two-compactions.jsonl"
    transcript.write_text("\n".join(head) + "\n")  # compaction 1 is on disk, compaction 2 not yet
    second_prompt = "22222222-0000-4000-8000-000000000002"
    session = boundary["sessionId"]
    base = {"session_id": session, "transcript_path": str(transcript), "cwd": "/home/dev/project",
            "prompt_id": second_prompt}
    start = dict(base, hook_event_name="SessionStart", source="compact")
    post = dict(base, hook_event_name="PostCompact", trigger="auto")
    for payload in (start, post):
        result, _ = run_hook(json.dumps(payload), tmp_path, "--endpoint", receiver.endpoint, delivered=False)
        assert_quiet_success(result)
    time.sleep(0.5)
    assert receiver.collector.records() == []  # waiting for compaction 2's boundary
    second_boundary = dict(boundary, uuid="b2b2b2b2-0000-4000-8000-000000000002",
                           compactMetadata=dict(boundary["compactMetadata"], trigger="auto", preTokens=9000,
                                                postTokens=1200, durationMs=333))
    second_summary = dict(summary, uuid="s2s2s2s2-0000-4000-8000-000000000002", promptId=second_prompt)
    with open(transcript, "a") as handle:
        handle.write(json.dumps(second_boundary) + "\n" + json.dumps(second_summary) + "\n")
    wait_for(lambda: len(receiver.collector.records()) == 2, "both compaction records")
    for record in receiver.collector.records():
        attrs = record["attributes"]
        assert (attrs["pre_tokens"], attrs["post_tokens"], attrs["duration_ms"]) == (9000, 1200, 333), record["body"]
    # the sender removes a spool entry once the receiver acknowledged it: just after it arrived
    wait_for(lambda: not spooled(tmp_path), "the spool emptied after delivery")
    # The first compaction, replayed against the same transcript, still finds its own.
    first = dict(base, hook_event_name="PostCompact", trigger="manual", prompt_id=first_prompt)
    assert_quiet_success(run_hook(json.dumps(first), tmp_path, "--endpoint", receiver.endpoint)[0])
    attrs = receiver.collector.records()[-1]["attributes"]
    assert (attrs["pre_tokens"], attrs["post_tokens"]) == (2550, 2545)


def test_compaction_boundary_that_never_comes_sends_no_tokens(receiver: GrpcReceiver, tmp_path: Path) -> None:
    captured = Path(fixture_payloads("compact_manual")[0]["transcript_path"])
    head, boundary, _, _ = _compaction_lines(captured)
    transcript = tmp_path / "t.jsonl"
    transcript.write_text("\n".join(head) + "\n")
    payload = {"session_id": boundary["sessionId"], "transcript_path": str(transcript), "cwd": "/tmp",
               "prompt_id": "never-written", "hook_event_name": "PostCompact", "trigger": "auto"}
    assert_quiet_success(run_hook(json.dumps(payload), tmp_path, "--endpoint", receiver.endpoint,
                                  "--compaction-wait", "1")[0])
    wait_for(lambda: receiver.collector.records(), "the compaction's record")
    (record,) = receiver.collector.records()
    assert "pre_tokens" not in record["attributes"]  # not compaction 1's 2550


def test_match_compaction_without_prompt_id_waits_for_a_new_boundary(tmp_path: Path) -> None:
    from bridge.context import compaction_boundaries, match_compaction

    captured = Path(fixture_payloads("compact_manual")[0]["transcript_path"])
    head, boundary, summary, _ = _compaction_lines(captured)
    transcript = tmp_path / "t.jsonl"
    transcript.write_text("\n".join(head) + "\n")
    known = [b.uuid for b in compaction_boundaries(str(transcript))]
    assert known == [boundary["uuid"]]
    assert match_compaction(compaction_boundaries(str(transcript)), "", known) is None
    with open(transcript, "a") as handle:
        handle.write(json.dumps(dict(boundary, uuid="new", compactMetadata={"preTokens": 7, "postTokens": 3})) + "\n")
    assert match_compaction(compaction_boundaries(str(transcript)), "", known) == {"pre_tokens": 7, "post_tokens": 3}


# --------------------------------------------------------------------------- the shell hook's raw entries


def _start_ms(pid: int) -> int:
    """When process ``pid`` started, ms since the epoch, as the bridge computes it."""
    from bridge.context import _boot_time, _proc_stat

    stat, boot = _proc_stat(pid), _boot_time()
    assert stat is not None and boot is not None
    return boot * 1000 + stat[2] * 1000 // os.sysconf("SC_CLK_TCK")


def test_raw_entry_builds_the_record_the_python_hook_would_have(tmp_path: Path) -> None:
    """The shell hook leaves the raw payload; its sender builds the record later. The record
    is the one built at hook time: the hook's arrival time, the CLI run from the process
    chain captured then (the shell Claude Code ran the hook through has exited by the time
    it is built), the org and flags of the hook. Built twice, it is byte-identical."""
    spool_dir = tmp_path / "spool"
    payload = dict(next(p for p in fixture_payloads("interactive_clear_exit") if p["hook_event_name"] == "SessionEnd"))
    args = ["--endpoint", "http://127.0.0.1:9", "--spool-dir", str(spool_dir), "--include-prompts"]
    env = {**hook_env(tmp_path), "LOOMLINE_HOOK_ORG": "org-env"}
    holder = Spool(spool_dir, 100, 10**8, tmp_path / "holder.log")
    assert holder.lock(timeout=0)  # the senders find the spool taken and leave the entries alone
    try:
        entries: dict[str, Path] = {}
        times: dict[str, tuple[int, int]] = {}
        for kind in ("sh", "python"):
            before = time.time_ns()
            # Through a shell that stays in between (`; true`), as Claude Code may run hooks.
            result = subprocess.run(["/bin/sh", "-c", '"$@"; true', "sh", *HOOKS[kind], *args],
                                    input=json.dumps(payload).encode(), capture_output=True, env=env,
                                    timeout=30, check=False)
            times[kind] = (before, time.time_ns())
            assert_quiet_success(result)
            (entries[kind],) = set(spooled(tmp_path, spool_dir)) - set(entries.values())
        assert entries["sh"].suffix == ".raw" and entries["python"].suffix == ".json"
        time.sleep(0.1)
        built = record_from_raw(entries["sh"].read_bytes(), tmp_path / "l.log")
        again = record_from_raw(entries["sh"].read_bytes(), tmp_path / "l.log")
        assert built is not None and again is not None and again.to_json() == built.to_json()
        at_hook_time = HookRecord.from_json(entries["python"].read_bytes())
    finally:
        holder.unlock()
    before, after = times["sh"]
    assert before <= built.time_unix_nano <= after  # arrival, not build time
    # Everything else is what the Python hook built at its hook time.
    expected = build_record(payload, HookContext(
        host=socket.gethostname(), time_unix_nano=built.time_unix_nano, include_prompts=True,
        cli_run_pid=os.getpid(), cli_run_started_ms=_start_ms(os.getpid()), project_id="/home/dev/project",
        project_name="project", org_id="org-env"))
    assert built == expected
    assert {**at_hook_time.attributes, "event.timestamp": ""} == {**built.attributes, "event.timestamp": ""}
    assert at_hook_time.resource == built.resource
    assert built.attributes["loomline.cli_run.pid"] == os.getpid()


def test_raw_and_built_entries_are_flushed_together_by_any_later_hook(receiver: GrpcReceiver, tmp_path: Path) -> None:
    """Entries left in the spool, raw (shell hook) or built (Python hook), go out with the
    next hook of either kind, oldest first, each once."""
    base = fixture_payloads("fresh_tool")[0]
    args = ("--endpoint", receiver.endpoint)
    holder = Spool(state_dir(tmp_path) / "spool", 100, 10**8, tmp_path / "holder.log")
    assert holder.lock(timeout=0)
    try:
        for index, kind in enumerate(["sh", "python", "sh"]):
            payload = json.dumps(dict(base, session_id=f"left-{index}"))
            assert_quiet_success(run_hook(payload, tmp_path, *args, delivered=False, hook=kind)[0])
        assert [p.suffix for p in spooled(tmp_path)] == [".raw", ".json", ".raw"]
    finally:
        holder.unlock()
    for kind in ("python", "sh"):
        receiver.collector.requests.clear()
        payload = json.dumps(dict(base, session_id=f"later-{kind}"))
        assert_quiet_success(run_hook(payload, tmp_path, *args, hook=kind)[0])
        sessions = [r["attributes"]["session.id"] for r in receiver.collector.records()]
        expected = ["left-0", "left-1", "left-2"] if kind == "python" else []
        assert sessions == [*expected, f"later-{kind}"]
    assert spooled(tmp_path) == []


def test_shell_hook_hands_over_to_python_where_it_cannot_resolve_the_spool(receiver: GrpcReceiver,
                                                                             tmp_path: Path) -> None:
    """A spool directory from the config file (JSON the shell does not read): the Python
    hook does the whole job, so the record is spooled and sent from there."""
    spool_dir = tmp_path / "configured-spool"
    config = tmp_path / ".config" / "loomline" / "hook.json"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"endpoint": receiver.endpoint, "spool_dir": str(spool_dir)}))
    payload = fixture_payloads("fresh_tool")[0]
    assert_quiet_success(run_hook(json.dumps(payload), tmp_path, delivered=False)[0])
    wait_for(lambda: len(receiver.collector.records()) == 1, "the record")
    (record,) = receiver.collector.records()
    assert record["attributes"]["loomline.cli_run.pid"] == os.getpid()
    assert spool_dir.is_dir() and not (state_dir(tmp_path) / "spool").exists()


def test_find_cli_run_from_captured_stats() -> None:
    """The CLI run from /proc stat lines captured at hook time: shells are skipped, and a
    process that is gone by now is still resolved."""
    from bridge.context import _boot_time, find_cli_run

    boot = _boot_time()
    assert boot is not None
    ticks = os.sysconf("SC_CLK_TCK")
    stats = {
        900: "900 (sh) S 800 900 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5000 0 0",
        800: "800 (claude code) S 700 800 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 4000 0 0",
        700: "700 (bash) S 1 700 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0",
    }
    assert find_cli_run(900, stats) == (800, boot * 1000 + 4000 * 1000 // ticks)
    assert find_cli_run(800, stats) == (800, boot * 1000 + 4000 * 1000 // ticks)
    assert find_cli_run(901, stats) == (901, None)  # nothing captured: the pid alone


def test_shell_hook_leaves_a_compaction_without_prompt_id_to_the_python_hook(tmp_path: Path) -> None:
    """Without a prompt id (older Claude Code) a compaction's boundary is told from the
    earlier ones by which were in the transcript at hook time: the Python hook builds it
    then. With one, the shell hook spools it raw (a later look can only find more)."""
    holder = Spool(state_dir(tmp_path) / "spool", 100, 10**8, tmp_path / "holder.log")
    assert holder.lock(timeout=0)
    try:
        base = {"session_id": "c", "transcript_path": "/nonexistent.jsonl", "cwd": "/tmp"}
        for payload in (dict(base, hook_event_name="PostCompact", trigger="auto"),
                        dict(base, hook_event_name="SessionStart", source="compact"),
                        dict(base, hook_event_name="PostCompact", trigger="auto", prompt_id="p")):
            assert_quiet_success(run_hook(json.dumps(payload), tmp_path, "--endpoint", "http://127.0.0.1:9",
                                          delivered=False)[0])
        assert [p.suffix for p in spooled(tmp_path)] == [".json", ".json", ".raw"]
    finally:
        holder.unlock()


def test_shell_hook_does_not_wait_for_python(receiver: GrpcReceiver, tmp_path: Path) -> None:
    """The shell hook exits (and lets go of Claude Code's stdout and stderr pipes) while the
    only Python it starts, the detached sender, is still held at its first instruction; the
    sender then delivers. No clock involved: the held interpreter waits for a file."""
    go = tmp_path / "go"
    held_python = tmp_path / "held-python"
    held_python.write_text(f"#!/bin/sh\nwhile [ ! -e {go} ]; do sleep 0.05; done\nexec {sys.executable} \"$@\"\n")
    held_python.chmod(0o755)
    payload = fixture_payloads("fresh_tool")[0]
    result = subprocess.run(["/bin/sh", SHELL_HOOK, str(held_python), "--endpoint", receiver.endpoint],
                            input=json.dumps(payload).encode(), capture_output=True, env=hook_env(tmp_path),
                            timeout=30, check=False)
    assert_quiet_success(result)
    assert [p.suffix for p in spooled(tmp_path)] == [".raw"] and receiver.collector.records() == []
    go.touch()
    wait_for(lambda: len(receiver.collector.records()) == 1, "the held sender's delivery")
    assert receiver.collector.records()[0]["attributes"]["session.id"] == payload["session_id"]
