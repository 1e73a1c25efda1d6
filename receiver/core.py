"""The transport-independent export path: authenticate, size-check, decode, queue, wait
until stored, answer. gRPC and HTTP only translate outcomes into their status codes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from enum import Enum

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from receiver.attributes import Limits
from receiver.auth import Grant, Unauthenticated, grant_for_authorization, grants_for
from receiver.batch import DecodeContext, DecodedBatch
from receiver.decode import (
    MalformedRequest,
    RequestLimits,
    decode_parsed,
    decode_protobuf,
    parse_json,
)
from receiver.pipeline import Backpressure, IngestPipeline
from receiver.selfmetrics import ReceiverMetrics
from storage.client import StorageError

log = logging.getLogger("loomline.receiver")

# Bodies above this many bytes decode in the "large" lane (an SDK batch of 512 Claude Code
# records is ~0.3 MB; the hook bridge sends one record).
LARGE_REQUEST_BYTES = 1024 * 1024


class Status(Enum):
    OK = "ok"
    INVALID = "invalid"  # gRPC INVALID_ARGUMENT, HTTP 400
    TOO_LARGE = "too_large"  # RESOURCE_EXHAUSTED, 413
    UNAUTHENTICATED = "unauthenticated"  # UNAUTHENTICATED, 401
    UNAVAILABLE = "unavailable"  # UNAVAILABLE, 503 (+ Retry-After)


@dataclass
class Outcome:
    status: Status
    message: str = ""
    response: Message | None = None
    retry_after_seconds: int = 0


def _response(signal: str, batch: DecodedBatch) -> Message:
    message = batch.error_message()
    rejected = batch.rejected
    if signal == "logs":
        response = logs_service_pb2.ExportLogsServiceResponse()
        if rejected or message:
            response.partial_success.rejected_log_records = rejected
            response.partial_success.error_message = message
    elif signal == "traces":
        response = trace_service_pb2.ExportTraceServiceResponse()
        if rejected or message:
            response.partial_success.rejected_spans = rejected
            response.partial_success.error_message = message
    else:
        response = metrics_service_pb2.ExportMetricsServiceResponse()
        if rejected or message:
            response.partial_success.rejected_data_points = rejected
            response.partial_success.error_message = message
    return response


class ReceiverCore:
    def __init__(
        self,
        pipeline: IngestPipeline,
        limits: Limits,
        tokens: Mapping[str, object] | None = None,
        max_request_bytes: int = 16 * 1024 * 1024,
        metrics: ReceiverMetrics | None = None,
        store_timeout: float = 30.0,
        decode_concurrency: int = 1,
        request_limits: RequestLimits | None = None,
        large_request_bytes: int = LARGE_REQUEST_BYTES,
    ) -> None:
        self.pipeline = pipeline
        self.limits = limits
        self.grants: dict[str, Grant] = grants_for(tokens or {})
        self.max_request_bytes = max_request_bytes
        self.request_limits = request_limits or RequestLimits()
        self.metrics = metrics or pipeline.metrics
        self.store_timeout = store_timeout
        self.large_request_bytes = large_request_bytes
        # Decoding holds the GIL (the compiled logs decoder releases it only for its wire
        # scan, docs/decoder.md): more threads decoding at once than there are cores only
        # makes them fight over it. Transport threads queue here instead -- in two
        # lanes, so that one tenant's 15 MB request never makes another's 2 KB export wait
        # for it: small bodies have their own slot(s), large bodies queue among themselves.
        self._decode_lanes = {
            "small": threading.BoundedSemaphore(decode_concurrency),
            "large": threading.BoundedSemaphore(decode_concurrency),
        }
        self._decoding = {"small": 0, "large": 0}
        self._decoding_lock = threading.Lock()
        for lane in self._decode_lanes:
            self.metrics.gauges[f"decoding_requests_{lane}"] = self._gauge(lane)
        self._arriving = 0
        pipeline.arriving_from(self.arriving)

    def _gauge(self, lane: str) -> Callable[[], float]:
        return lambda: float(self._decoding[lane])

    @property
    def tokens(self) -> dict[str, Grant]:
        return self.grants

    def authenticate(self, authorization: str | None) -> Grant:
        """What the caller may write; raises Unauthenticated."""
        return grant_for_authorization(authorization, self.grants)

    def lane_for(self, body_bytes: int) -> str:
        """The decode lane of a request body of this size."""
        return "large" if body_bytes > self.large_request_bytes else "small"

    def export(self, signal: str, body: bytes, encoding: str, authorization: str | None, transport: str) -> Outcome:
        """Handle one export request body (already decompressed)."""
        started = time.monotonic()
        phases: dict[str, float] = {}
        outcome = self._export(signal, body, encoding, authorization, transport, phases)
        # One line per request at debug level: what arrived, what it was answered and where
        # the time went (waiting for a decode slot, decoding, waiting for storage), for
        # following a client's exports (e.g. the last batch a CLI sends as it exits).
        if log.isEnabledFor(logging.DEBUG):
            spent = ", ".join(f"{name} {seconds * 1000:.0f}" for name, seconds in phases.items())
            log.debug("%s %s export of %d bytes (%s): %s in %.0f ms%s%s", transport, signal, len(body), encoding,
                      outcome.status.value, (time.monotonic() - started) * 1000, f" ({spent})" if spent else "",
                      f": {outcome.message}" if outcome.message else "")
        return outcome

    def _export(
        self, signal: str, body: bytes, encoding: str, authorization: str | None, transport: str,
        phases: dict[str, float],
    ) -> Outcome:
        labels = {"signal": signal, "transport": transport}
        try:
            grant = self.authenticate(authorization)
        except Unauthenticated as exc:
            self.metrics.inc("requests_total", outcome="unauthenticated", **labels)
            return Outcome(Status.UNAUTHENTICATED, str(exc))
        # From here until the batch is queued the request is on its way to the writer, which
        # lingers for more rows only while some are (IngestPipeline.arriving).
        self._arrived(1)
        try:
            decoded = self._decode(signal, body, encoding, grant, labels, phases)
            if isinstance(decoded, Outcome):
                return decoded
            batch = decoded
            self.metrics.inc("records_received_total", batch.accepted + batch.rejected, signal=signal)
            if batch.rejected:
                self.metrics.inc("records_rejected_total", batch.rejected, signal=signal)
            future = None
            if batch.accepted:
                try:
                    future = self.pipeline.submit(batch)
                except Backpressure as exc:
                    self.metrics.inc("requests_total", outcome="backpressure", **labels)
                    return Outcome(Status.UNAVAILABLE, f"receiver busy, retry later: {exc}", retry_after_seconds=1)
        finally:
            self._arrived(-1)
        if future is not None:
            mark = time.monotonic()
            try:
                future.result(timeout=self.store_timeout)
            except (StorageError, FutureTimeout) as exc:
                self.metrics.inc("requests_total", outcome="storage_unavailable", **labels)
                return Outcome(Status.UNAVAILABLE, f"storage unavailable, retry later: {exc}", retry_after_seconds=2)
            finally:
                phases["store"] = time.monotonic() - mark
        self.metrics.inc("requests_total", outcome="ok", **labels)
        return Outcome(Status.OK, response=_response(signal, batch))

    def _decode(
        self, signal: str, body: bytes, encoding: str, grant: Grant, labels: dict[str, str],
        phases: dict[str, float],
    ) -> DecodedBatch | Outcome:
        """Size-check and decode ``body`` in its decode lane: the batch, or the answer."""
        if len(body) > self.max_request_bytes:
            self.metrics.inc("requests_total", outcome="too_large", **labels)
            return Outcome(Status.TOO_LARGE, f"request of {len(body)} bytes exceeds the limit of {self.max_request_bytes} bytes")
        lane = self.lane_for(len(body))
        mark = time.monotonic()
        try:
            with self._decode_lanes[lane]:
                now = time.monotonic()
                phases["decode_wait"], mark = now - mark, now
                with self._decoding_lock:
                    self._decoding[lane] += 1
                try:
                    # Refuse what would expand past the limits before any per-row work.
                    context = DecodeContext(grant=grant)
                    if encoding == "json":
                        decoded: DecodedBatch | str = decode_parsed(
                            signal, parse_json(signal, body), body, self.limits, context, self.request_limits)
                    else:
                        decoded = decode_protobuf(signal, body, self.limits, context, self.request_limits)
                    if isinstance(decoded, str):
                        self.metrics.inc("requests_total", outcome="too_large", **labels)
                        return Outcome(Status.TOO_LARGE, decoded)
                finally:
                    with self._decoding_lock:
                        self._decoding[lane] -= 1
        except MalformedRequest as exc:
            self.metrics.inc("requests_total", outcome="invalid", **labels)
            return Outcome(Status.INVALID, str(exc))
        except Exception as exc:  # a decoder bug must not become a crash or a 5xx loop
            log.exception("unexpected decode failure")
            self.metrics.inc("requests_total", outcome="invalid", **labels)
            return Outcome(Status.INVALID, f"cannot decode request: {type(exc).__name__}: {exc}")
        phases["decode"] = time.monotonic() - mark
        return decoded

    def _arrived(self, change: int) -> None:
        with self._decoding_lock:
            self._arriving += change

    def arriving(self) -> int:
        """Requests past authentication whose batch is not queued yet (decoding, or waiting
        for a decode slot)."""
        return self._arriving
