"""OTLP/gRPC: LogsService, TraceService and MetricsService, plus the standard health service.

Handlers receive the raw request bytes (no generated deserializer), so a malformed body is
answered with INVALID_ARGUMENT and a useful message instead of grpcio's opaque error, and
so the bytes name the request for insert deduplication. gzip is handled by grpcio.
"""

from __future__ import annotations

import logging
from concurrent import futures
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

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


def _identity(data: bytes) -> bytes:
    return data


def _serialize(message: Any) -> bytes:
    return message.SerializeToString()


class GrpcReceiver:
    """An OTLP/gRPC server bound to one address."""

    def __init__(self, core: ReceiverCore, address: str, max_workers: int = 16, tls: tuple[bytes, bytes] | None = None):
        self.core = core
        # Allow a little more than the limit through grpcio so the core can answer with
        # its own RESOURCE_EXHAUSTED message; grpcio rejects anything beyond that.
        limit = core.max_request_bytes + 1024
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="loomline-grpc"),
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", 4 * 1024 * 1024),
                ("grpc.so_reuseport", 0),
            ],
        )
        handlers = {}
        for signal, service in SERVICES.items():
            handlers[service] = grpc.method_handlers_generic_handler(
                service,
                {"Export": grpc.unary_unary_rpc_method_handler(
                    self._handler(signal), request_deserializer=_identity, response_serializer=_serialize,
                )},
            )
        self.server.add_generic_rpc_handlers(tuple(handlers.values()))
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        if tls is not None:
            credentials = grpc.ssl_server_credentials([(tls[1], tls[0])])
            self.port = self.server.add_secure_port(address, credentials)
        else:
            self.port = self.server.add_insecure_port(address)
        if not self.port:
            raise OSError(f"cannot listen for OTLP/gRPC on {address}")
        self.host = address.rpartition(":")[0].strip("[]")

    def _handler(self, signal: str):  # type: ignore[no-untyped-def]
        def export(body: bytes, context: grpc.ServicerContext) -> Any:
            metadata = dict(context.invocation_metadata() or ())
            outcome: Outcome = self.core.export(signal, body, "protobuf", metadata.get("authorization"), "grpc")
            if outcome.status is Status.OK:
                return outcome.response
            if outcome.retry_after_seconds:
                context.set_trailing_metadata((("retry-after", str(outcome.retry_after_seconds)),))
            context.abort(_CODES[outcome.status], outcome.message)

        return export

    def start(self) -> None:
        self.server.start()
        for service in ("", *SERVICES.values()):
            self.health.set(service, health_pb2.HealthCheckResponse.SERVING)

    def stop(self, grace: float = 5.0) -> None:
        """Stop taking new calls; in-flight calls get ``grace`` seconds to finish."""
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait(grace + 1)
