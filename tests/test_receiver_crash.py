"""Kill the receiver with SIGKILL while a real OTLP exporter with retries keeps sending:
after restart, every record the exporter was told succeeded is stored exactly once."""

from __future__ import annotations

import threading
import time

from opentelemetry._logs import LogRecord
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor, ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.resources import Resource

from tests.serve_process import ServeProcess, free_port, query


class RecordingProcessor(LogRecordProcessor):
    """Export each record synchronously and remember what the exporter answered."""

    def __init__(self, exporter: OTLPLogExporter):
        self.exporter = exporter
        self.results: dict[int, LogRecordExportResult] = {}

    def on_emit(self, log_record) -> None:  # type: ignore[override]
        readable = ReadableLogRecord(
            log_record=log_record.log_record,
            resource=log_record.resource or Resource.create({}),
            instrumentation_scope=log_record.instrumentation_scope,
            limits=log_record.limits,
        )
        number = int(log_record.log_record.attributes["n"])
        self.results[number] = self.exporter.export((readable,))

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def test_sigkill_and_restart_loses_nothing_acknowledged(tmp_path):
    port = free_port()
    args = ("--otlp-grpc", f"127.0.0.1:{port}", "--otlp-http", "off", "--api", "off")
    server = ServeProcess(tmp_path / "data", *args).start()
    exporter = OTLPLogExporter(endpoint=f"http://127.0.0.1:{port}", insecure=True, timeout=60)
    processor = RecordingProcessor(exporter)
    provider = LoggerProvider(resource=Resource.create({"service.name": "claude-code"}))
    provider.add_log_record_processor(processor)
    logger = provider.get_logger("com.anthropic.claude_code.events")
    total = 150

    def send() -> None:
        for n in range(total):
            logger.emit(LogRecord(
                timestamp=1_795_287_660_000_000_000 + n * 1_000_000,
                body="claude_code.user_prompt",
                attributes={"session.id": "crash-session", "event.name": "user_prompt", "event.sequence": n, "n": n},
            ))

    sender = threading.Thread(target=send)
    sender.start()
    try:
        deadline = time.monotonic() + 60
        while len(processor.results) < 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()  # SIGKILL: no shutdown path runs
        killed_after = len(processor.results)
        time.sleep(0.5)
        server = ServeProcess(tmp_path / "data", *args).start()
        sender.join(180)
        assert not sender.is_alive()
    finally:
        server.stop()
        provider.shutdown()
    assert 40 <= killed_after < total
    acknowledged = {n for n, result in processor.results.items() if result == LogRecordExportResult.SUCCESS}
    # With retries over the restart window, the exporter succeeds for every record.
    assert len(acknowledged) == total
    rows = query(tmp_path / "data", "SELECT Attributes['n'], count() FROM events FINAL WHERE SessionId = 'crash-session' GROUP BY 1")
    stored = {int(n): count for n, count in rows}
    assert set(stored) >= acknowledged
    assert all(count == 1 for count in stored.values())
