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
import re
import socket
import ssl
import threading
import time
import zlib
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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


class ReceiveTimeout(ValueError):
    """The client did not send its body within the receive timeout."""


# A chunk-size line: hex digits (no sign, no 0x, at most 8 digits = 4 GiB), optional
# extensions, CRLF. Anything else (``-1``, ``+5``, ``0x10``, spaces inside) is malformed.
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,8})[ \t]*(?:;[^\r\n]*)?\r?\n")
_READ_PIECE = 64 * 1024


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

    def setup(self) -> None:
        # Every socket read (request line, headers, body, an idle keep-alive) waits at
        # most the receive timeout; the body also has a total deadline (_read_body).
        self.timeout = self.server.receive_timeout  # type: ignore[misc]
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

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

    def _read_exactly(self, size: int, deadline: float) -> bytes:
        """``size`` bytes of the body, read a piece at a time so the deadline holds even
        against a client sending one byte at a time."""
        pieces: list[bytes] = []
        remaining = size
        while remaining > 0:
            if time.monotonic() > deadline:
                raise ReceiveTimeout(f"request body not received within {self.server.receive_timeout:g} s")
            try:
                piece = self.rfile.read1(min(remaining, _READ_PIECE))  # type: ignore[attr-defined]
            except TimeoutError:
                raise ReceiveTimeout(f"request body not received within {self.server.receive_timeout:g} s") from None
            if not piece:
                raise ValueError(f"body ended after {size - remaining} of {size} bytes")
            pieces.append(piece)
            remaining -= len(piece)
        return b"".join(pieces)

    def _read_line(self, deadline: float) -> bytes:
        if time.monotonic() > deadline:
            raise ReceiveTimeout(f"request body not received within {self.server.receive_timeout:g} s")
        try:
            return self.rfile.readline(1024)
        except TimeoutError:
            raise ReceiveTimeout(f"request body not received within {self.server.receive_timeout:g} s") from None

    def _read_body(self, limit: int) -> bytes:
        """The request body; never holds more than ``limit`` bytes of it. Raises
        BodyTooLarge, ReceiveTimeout or ValueError (malformed framing)."""
        deadline = time.monotonic() + self.server.receive_timeout
        transfer_encoding = self.headers.get("Transfer-Encoding", "").strip().lower()
        if transfer_encoding:
            if transfer_encoding != "chunked":
                raise ValueError(f"unsupported Transfer-Encoding {transfer_encoding!r} (use chunked or none)")
            if self.headers.get("Content-Length") is not None:
                raise ValueError("both Content-Length and Transfer-Encoding: chunked given")
            chunks: list[bytes] = []
            total = 0
            while True:
                size_line = self._read_line(deadline)
                match = _CHUNK_SIZE.fullmatch(size_line)
                if match is None:
                    raise ValueError(f"malformed chunk size line {size_line[:40]!r}")
                size = int(match.group(1), 16)
                if size == 0:
                    for _ in range(64):  # trailers, up to the empty line
                        if self._read_line(deadline) in (b"\r\n", b"\n", b""):
                            return b"".join(chunks)
                    raise ValueError("too many trailer lines after the last chunk")
                total += size
                if total > limit:  # counted before the chunk is read, so it is never held
                    raise BodyTooLarge(f"body exceeds the limit of {limit} bytes")
                chunks.append(self._read_exactly(size, deadline))
                if self._read_line(deadline) not in (b"\r\n", b"\n"):
                    raise ValueError("chunk data longer than its declared size")
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            raise ValueError("Content-Length or chunked Transfer-Encoding required")
        if not length_text.strip().isdigit():
            raise ValueError(f"bad Content-Length {length_text[:40]!r}")
        length = int(length_text)
        if length > limit:
            raise BodyTooLarge(f"request of {length} bytes exceeds the limit of {limit} bytes")
        return self._read_exactly(length, deadline)

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
        except ReceiveTimeout as exc:
            self.close_connection = True
            core.metrics.inc("requests_total", outcome="receive_timeout", signal=signal, transport="http")
            self._send_status(408, code_pb2.DEADLINE_EXCEEDED, f"{exc} (--receive-timeout)", reply_encoding, {"Connection": "close"})
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
        """Read (and drop) a small body so keep-alive stays in sync; close on large ones
        and on chunked ones (not worth parsing just to drop)."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if 0 <= length <= 1024 * 1024:
            self.rfile.read(length)
        else:
            self.close_connection = True


_BUSY_BODY = b'{"code":14,"message":"too many concurrent connections (--max-connections): retry later"}'
_BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    b"Connection: close\r\nContent-Length: " + str(len(_BUSY_BODY)).encode() + b"\r\n\r\n" + _BUSY_BODY
)


class _Server(ThreadingHTTPServer):
    """One thread per connection, at most ``max_connections`` at once: a connection over
    the cap is answered 503 (plain HTTP) or closed (TLS) at once, without a thread."""

    daemon_threads = True
    allow_reuse_address = True
    # listen() backlog: socketserver's default of 5 resets connections when a fleet's
    # exporters connect at once (seen with 16 in the ingest benchmark).
    request_queue_size = 1024
    core: ReceiverCore
    receive_timeout: float = 30.0
    tls: bool = False
    connection_slots: threading.BoundedSemaphore

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.connection_slots.acquire(blocking=False):
            self.core.metrics.inc("connections_refused_total", transport="http")
            self._refuse(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.connection_slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connection_slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that vanished, timed out or failed the TLS handshake is not a server error.
        log.debug("connection from %s failed", client_address, exc_info=True)

    def _refuse(self, request: socket.socket) -> None:
        try:
            if not self.tls:  # a TLS reply would need a handshake on the accept thread
                request.setblocking(False)
                request.send(_BUSY_RESPONSE)
        except OSError:
            pass
        self.shutdown_request(request)


class HttpReceiver:
    """An OTLP/HTTP server bound to one address, served from a background thread."""

    def __init__(
        self,
        core: ReceiverCore,
        address: str,
        tls: tuple[str, str] | None = None,
        max_connections: int = 256,
        receive_timeout: float = 30.0,
    ):
        host, _, port = address.rpartition(":")
        self.host = host.strip("[]")
        self.server = _Server((self.host, int(port)), _Handler)
        self.server.core = core
        self.server.receive_timeout = receive_timeout
        self.server.connection_slots = threading.BoundedSemaphore(max_connections)
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls[0], tls[1])
            # Handshake on the connection's own thread (under its timeout), not in accept().
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True, do_handshake_on_connect=False)
            self.server.tls = True
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
