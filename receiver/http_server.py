"""OTLP/HTTP: ``POST /v1/logs``, ``/v1/traces``, ``/v1/metrics``.

Protobuf (``application/x-protobuf``) and JSON (``application/json``), optionally gzip- or
deflate-encoded. Status codes follow the OTLP/HTTP specification: 200 (with partial
success in the body), 400 malformed, 401 unauthenticated, 413 too large, 415 unsupported
content type, 503 with ``Retry-After`` when storage cannot take more now. Error bodies are
``google.rpc.Status`` in the request's encoding. ``GET /metrics`` serves the receiver's own
Prometheus metrics and ``GET /healthz`` answers liveness.
"""

from __future__ import annotations

import logging
import ssl
import threading
import zlib
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2

from receiver.core import Outcome, ReceiverCore, Status

log = logging.getLogger("loomline.receiver.http")

PATHS = {"/v1/logs": "logs", "/v1/traces": "traces", "/v1/metrics": "metrics"}
CONTENT_TYPES = {"application/x-protobuf": "protobuf", "application/protobuf": "protobuf", "application/json": "json"}

_HTTP_STATUS = {
    Status.INVALID: (HTTPStatus.BAD_REQUEST, code_pb2.INVALID_ARGUMENT),
    Status.TOO_LARGE: (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, code_pb2.RESOURCE_EXHAUSTED),
    Status.UNAUTHENTICATED: (HTTPStatus.UNAUTHORIZED, code_pb2.UNAUTHENTICATED),
    Status.UNAVAILABLE: (HTTPStatus.SERVICE_UNAVAILABLE, code_pb2.UNAVAILABLE),
}


class BodyTooLarge(ValueError):
    pass


def decompress(body: bytes, encoding: str, limit: int) -> bytes:
    """Undo Content-Encoding without ever holding more than ``limit`` + 1 bytes."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        decompressor = zlib.decompressobj()
    else:
        raise ValueError(f"unsupported Content-Encoding {encoding!r} (use gzip, deflate or none)")
    try:
        data = decompressor.decompress(body, limit + 1)
    except zlib.error as exc:
        raise ValueError(f"body is not valid {encoding}: {exc}") from None
    if len(data) > limit or decompressor.unconsumed_tail:
        raise BodyTooLarge(f"decompressed body exceeds the limit of {limit} bytes")
    if not decompressor.eof:
        raise ValueError(f"truncated {encoding} body")
    return data


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        log.debug("%s " + format, self.address_string(), *args)

    # -- helpers ---------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_status(self, http_status: int, grpc_code: int, message: str, encoding: str, headers: dict[str, str] | None = None) -> None:
        status = status_pb2.Status(code=grpc_code, message=message)
        if encoding == "json":
            body = json_format.MessageToJson(status, indent=None).encode()
            self._send(http_status, body, "application/json", headers)
        else:
            self._send(http_status, status.SerializeToString(), "application/x-protobuf", headers)

    def _read_body(self, limit: int) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size_line = self.rfile.readline(1024)
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise ValueError("malformed chunked body") from None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > limit:
                    raise BodyTooLarge(f"body exceeds the limit of {limit} bytes")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            raise ValueError("Content-Length or chunked Transfer-Encoding required")
        try:
            length = int(length_text)
        except ValueError:
            raise ValueError(f"bad Content-Length {length_text!r}") from None
        if length < 0:
            raise ValueError(f"bad Content-Length {length_text!r}")
        if length > limit:
            raise BodyTooLarge(f"request of {length} bytes exceeds the limit of {limit} bytes")
        return self.rfile.read(length)

    # -- routes ----------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, self.server.core.metrics.render().encode(), "text/plain; version=0.0.4")
        elif path in ("/healthz", "/"):
            self._send(200, b'{"status":"ok"}', "application/json")
        elif path in PATHS:
            self._send(405, b'{"error":"use POST"}', "application/json", {"Allow": "POST"})
        else:
            self._send(404, b'{"error":"not found"}', "application/json")

    do_HEAD = do_GET

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        core = self.server.core
        path = self.path.split("?", 1)[0].rstrip("/")
        signal = PATHS.get(path)
        content_type = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        encoding = CONTENT_TYPES.get(content_type, "")
        reply_encoding = encoding or "json"
        if signal is None:
            self._discard_body()
            self._send(404, b'{"error":"not found: OTLP paths are /v1/logs, /v1/traces, /v1/metrics"}', "application/json")
            return
        if not encoding:
            self._discard_body()
            core.metrics.inc("requests_total", outcome="unsupported_media_type", signal=signal, transport="http")
            self._send_status(
                415, code_pb2.INVALID_ARGUMENT,
                f"unsupported Content-Type {content_type!r}: use application/x-protobuf or application/json",
                "json",
            )
            return
        # Authenticate before reading a possibly large body.
        try:
            core.authenticate(self.headers.get("Authorization"))
        except PermissionError as exc:
            self._discard_body()
            core.metrics.inc("requests_total", outcome="unauthenticated", signal=signal, transport="http")
            self._send_status(401, code_pb2.UNAUTHENTICATED, str(exc), reply_encoding, {"WWW-Authenticate": "Bearer"})
            return
        limit = core.max_request_bytes
        try:
            raw = self._read_body(limit)
            body = decompress(raw, self.headers.get("Content-Encoding", ""), limit)
        except BodyTooLarge as exc:
            self.close_connection = True
            core.metrics.inc("requests_total", outcome="too_large", signal=signal, transport="http")
            self._send_status(413, code_pb2.RESOURCE_EXHAUSTED, str(exc), reply_encoding, {"Connection": "close"})
            return
        except ValueError as exc:
            self.close_connection = True
            core.metrics.inc("requests_total", outcome="invalid", signal=signal, transport="http")
            self._send_status(400, code_pb2.INVALID_ARGUMENT, str(exc), reply_encoding, {"Connection": "close"})
            return
        outcome: Outcome = core.export(signal, body, encoding, self.headers.get("Authorization"), "http")
        if outcome.status is Status.OK:
            assert outcome.response is not None
            if encoding == "json":
                payload = json_format.MessageToJson(outcome.response, indent=None).encode()
                self._send(200, payload, "application/json")
            else:
                self._send(200, outcome.response.SerializeToString(), "application/x-protobuf")
            return
        http_status, grpc_code = _HTTP_STATUS[outcome.status]
        headers = {"Retry-After": str(outcome.retry_after_seconds)} if outcome.retry_after_seconds else None
        self._send_status(http_status, grpc_code, outcome.message, reply_encoding, headers)

    def _discard_body(self) -> None:
        """Read (and drop) a small body so keep-alive stays in sync; close on large ones."""
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if 0 <= length <= 1024 * 1024:
            self.rfile.read(length)
        else:
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # listen() backlog: socketserver's default of 5 resets connections when a fleet's
    # exporters connect at once (seen with 16 in the ingest benchmark).
    request_queue_size = 1024
    core: ReceiverCore


class HttpReceiver:
    """An OTLP/HTTP server bound to one address, served from a background thread."""

    def __init__(self, core: ReceiverCore, address: str, tls: tuple[str, str] | None = None):
        host, _, port = address.rpartition(":")
        self.host = host.strip("[]")
        self.server = _Server((self.host, int(port)), _Handler)
        self.server.core = core
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls[0], tls[1])
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.serve_forever, name="loomline-otlp-http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting; requests in flight finish on their own threads."""
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(5)


def status_from_body(body: bytes, content_type: str) -> tuple[int, str]:
    """Parse a google.rpc.Status error body (for clients and tests)."""
    status = status_pb2.Status()
    if content_type.startswith("application/json"):
        json_format.Parse(body, status)
    else:
        status.ParseFromString(body)
    return status.code, status.message


__all__ = ["HttpReceiver", "decompress", "status_from_body"]
