"""A tiny recording OTLP/HTTP sink on loopback: validates the e2e harness without loomline.

Accepts ``POST /v1/logs``, ``/v1/metrics``, ``/v1/traces`` in ``http/json`` or
``http/protobuf`` and answers 200 with an empty export response, after ``delays[path]``
seconds when given (a receiver that is slow to acknowledge, e.g. one on a loaded machine). Protobuf bodies are
decoded with ``opentelemetry-proto`` when it is installed.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PROTO_TYPES = {
    "/v1/logs": ("opentelemetry.proto.collector.logs.v1.logs_service_pb2", "ExportLogsServiceRequest"),
    "/v1/metrics": ("opentelemetry.proto.collector.metrics.v1.metrics_service_pb2", "ExportMetricsServiceRequest"),
    "/v1/traces": ("opentelemetry.proto.collector.trace.v1.trace_service_pb2", "ExportTraceServiceRequest"),
}


@dataclass
class OtlpPost:
    path: str
    content_type: str
    body: dict[str, Any]  # OTLP/JSON shape (protobuf decoded to the JSON mapping)


@dataclass
class OtlpSink:
    host: str = "127.0.0.1"
    port: int = 0
    posts: list[OtlpPost] = field(default_factory=list)
    delays: dict[str, float] = field(default_factory=dict)  # path -> seconds before answering
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> OtlpSink:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                content_type = self.headers.get("Content-Type", "")
                path = self.path.split("?")[0]
                with sink._lock:
                    sink.posts.append(OtlpPost(path, content_type, _decode(path, content_type, raw)))
                time.sleep(sink.delays.get(path, 0.0))
                payload = b"{}" if "json" in content_type else b""
                self.send_response(200 if path in _PROTO_TYPES else 404)
                self.send_header("Content-Type", content_type or "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="otlp-sink", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> OtlpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_records(self) -> list[dict[str, Any]]:
        """Every log record received, flattened to {"body", "attributes": {key: value}}."""
        out = []
        with self._lock:
            posts = [p for p in self.posts if p.path == "/v1/logs"]
        for post in posts:
            for resource_logs in post.body.get("resourceLogs", []):
                for scope_logs in resource_logs.get("scopeLogs", []):
                    for record in scope_logs.get("logRecords", []):
                        attributes = {a["key"]: any_value(a.get("value", {})) for a in record.get("attributes", [])}
                        out.append({"body": any_value(record.get("body", {})), "attributes": attributes})
        return out

    def metric_names(self) -> set[str]:
        with self._lock:
            posts = [p for p in self.posts if p.path == "/v1/metrics"]
        return {
            metric["name"]
            for post in posts
            for rm in post.body.get("resourceMetrics", [])
            for sm in rm.get("scopeMetrics", [])
            for metric in sm.get("metrics", [])
        }


def any_value(value: dict[str, Any]) -> Any:
    """An OTLP AnyValue in JSON form to a Python value (scalars only, enough for checks)."""
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        return int(value["intValue"])
    return value


def _decode(path: str, content_type: str, raw: bytes) -> dict[str, Any]:
    if "json" in content_type:
        return json.loads(raw or b"{}")
    if path not in _PROTO_TYPES:
        return {}
    import importlib

    from google.protobuf.json_format import MessageToDict

    module_name, class_name = _PROTO_TYPES[path]
    message = getattr(importlib.import_module(module_name), class_name)()
    message.ParseFromString(raw)
    return MessageToDict(message)
