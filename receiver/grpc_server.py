"""OTLP/gRPC: LogsService, TraceService and MetricsService, plus the standard health service.

Handlers receive the raw request bytes (no generated deserializer), so a malformed body is
answered with INVALID_ARGUMENT and a useful message instead of grpcio's opaque error, and
so the bytes name the request for insert deduplication. gzip is handled by grpcio.

The server is grpcio's asyncio server on a private event loop: a client that opens a call
and sends its message slowly (or never) costs a coroutine, not one of a fixed pool of
threads, so half-sent streams cannot starve everyone else. Each call is authenticated from
its metadata before its body is read, must deliver its body within ``receive_timeout``
seconds, and at most ``max_concurrent_rpcs`` calls run at once (more get
RESOURCE_EXHAUSTED). Decoding and the wait for storage run on a worker pool.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Coroutine
from concurrent import futures
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from receiver.auth import Unauthenticated
from receiver.core import Outcome, ReceiverCore, Status

log = logging.getLogger("loomline.receiver.grpc")

SERVICES = {
    "logs": "opentelemetry.proto.collector.logs.v1.LogsService",
    "traces": "opentelemetry.proto.collector.trace.v1.TraceService",
    "metrics": "opentelemetry.proto.collector.metrics.v1.MetricsService",
}

_CODES = {
    Status.INVALID: grpc.StatusCode.INVALID_ARGUMENT,
    Status.TOO_LARGE: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Status.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    Status.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
}

T = TypeVar("T")


def _identity(data: bytes) -> bytes:
    return data


def _serialize(message: Any) -> bytes:
    return message.SerializeToString()


class _NoBody(Exception):
    pass


async def _first_message(requests: AsyncIterator[bytes]) -> bytes:
    async for message in requests:
        return message
    raise _NoBody


class GrpcReceiver:
    """An OTLP/gRPC server bound to one address."""

    def __init__(
        self,
        core: ReceiverCore,
        address: str,
        max_workers: int = 16,
        tls: tuple[bytes, bytes] | None = None,
        max_concurrent_rpcs: int = 256,
        receive_timeout: float = 30.0,
    ):
        self.core = core
        self.receive_timeout = receive_timeout
        self.max_concurrent_rpcs = max_concurrent_rpcs
        self._executor = futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="loomline-grpc")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="loomline-otlp-grpc", daemon=True)
        self._thread.start()
        try:
            self.port = self._run(self._build(address, tls))
        except BaseException:
            self._close_loop()
            raise
        if not self.port:
            self._close_loop()
            raise OSError(f"cannot listen for OTLP/gRPC on {address}")
        self.host = address.rpartition(":")[0].strip("[]")

    def _run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _build(self, address: str, tls: tuple[bytes, bytes] | None) -> int:
        # Allow a little more than the limit through grpcio so the core can answer with
        # its own RESOURCE_EXHAUSTED message; grpcio rejects anything beyond that.
        limit = self.core.max_request_bytes + 1024
        self.server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", 4 * 1024 * 1024),
                ("grpc.so_reuseport", 0),
                # Calls one connection may hold open at once (HTTP/2 SETTINGS).
                ("grpc.max_concurrent_streams", 100),
            ],
            maximum_concurrent_rpcs=self.max_concurrent_rpcs,
        )
        handlers = []
        for signal, service in SERVICES.items():
            # stream_unary on the server side is wire-compatible with the exporters' unary
            # call, and lets the handler run (and authenticate) before the body arrives.
            handlers.append(grpc.method_handlers_generic_handler(
                service,
                {"Export": grpc.stream_unary_rpc_method_handler(
                    self._handler(signal), request_deserializer=_identity, response_serializer=_serialize,
                )},
            ))
        self.server.add_generic_rpc_handlers(tuple(handlers))
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        if tls is not None:
            credentials = grpc.ssl_server_credentials([(tls[1], tls[0])])
            return self.server.add_secure_port(address, credentials)
        return self.server.add_insecure_port(address)

    def _handler(self, signal: str):  # type: ignore[no-untyped-def]
        metrics = self.core.metrics
        labels = {"signal": signal, "transport": "grpc"}

        async def export(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> Any:  # type: ignore[type-arg]
            metadata = {key: value for key, value in (context.invocation_metadata() or ())}
            authorization = metadata.get("authorization")
            if isinstance(authorization, bytes):
                authorization = authorization.decode("latin-1")
            try:
                self.core.authenticate(authorization)  # before the body: no token, no read
            except Unauthenticated as exc:
                metrics.inc("requests_total", outcome="unauthenticated", **labels)
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))
            try:
                body = await asyncio.wait_for(_first_message(requests), self.receive_timeout)
            except TimeoutError:
                metrics.inc("requests_total", outcome="receive_timeout", **labels)
                await context.abort(
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    f"request body not received within {self.receive_timeout:g} s (--receive-timeout)",
                )
            except _NoBody:
                metrics.inc("requests_total", outcome="invalid", **labels)
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the call carried no request message")
            outcome: Outcome = await asyncio.get_running_loop().run_in_executor(
                self._executor, self.core.export, signal, body, "protobuf", authorization, "grpc",
            )
            if outcome.status is Status.OK:
                return outcome.response
            if outcome.retry_after_seconds:
                context.set_trailing_metadata((("retry-after", str(outcome.retry_after_seconds)),))
            await context.abort(_CODES[outcome.status], outcome.message)

        return export

    async def _start(self) -> None:
        await self.server.start()
        for service in ("", *SERVICES.values()):
            await self.health.set(service, health_pb2.HealthCheckResponse.SERVING)

    def start(self) -> None:
        self._run(self._start())

    async def _stop(self, grace: float) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)

    def stop(self, grace: float = 5.0) -> None:
        """Stop taking new calls; in-flight calls get ``grace`` seconds to finish."""
        try:
            self._run(self._stop(grace), timeout=grace + 5)
        finally:
            self._close_loop()
            self._executor.shutdown(wait=False)

    def _close_loop(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._loop.is_running():
            self._loop.close()
