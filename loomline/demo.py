"""``loomline demo``: send a realistic synthetic fleet (loomline.fleet) to a running receiver.

The requests go over OTLP/gRPC exactly as Claude Code's exporter would send them, so the
receiver, storage and enrichment see nothing special. By default the fleet ends shortly
before now (never in the future), so dashboards over "the last 7 days" show it.
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from loomline.fleet import Fleet, FleetSpec, record_count


def _count(minimum: int) -> Any:
    """An argparse type: a whole number >= ``minimum`` (argparse reports a bad one in a line)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _day(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a day as YYYY-MM-DD, got {text!r}") from None


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint", default="127.0.0.1:4317", help="OTLP/gRPC host:port (default %(default)s)")
    parser.add_argument("--token", default="", help="receiver bearer token, if the receiver requires one")
    parser.add_argument("--seed", type=int, default=1, help="same seed, same fleet (default %(default)s)")
    parser.add_argument("--orgs", type=_count(1), default=3, help="organizations (tenants) in the fleet (default %(default)s)")
    parser.add_argument("--users", type=_count(1), default=25, help="people, spread over the orgs (default %(default)s)")
    parser.add_argument("--sessions", type=_count(0), default=200, help="conversations started fresh (default %(default)s)")
    parser.add_argument("--days", type=_count(1), default=14,
                        help="days over which conversations start; the fleet ends before now (default %(default)s)")
    parser.add_argument("--start", type=_day, default=None,
                        help="first day, YYYY-MM-DD (default: so that the last event is before now)")
    parser.add_argument("--batch-size", type=_count(1), default=512, help="records per export request (default %(default)s)")
    parser.add_argument("--concurrency", type=_count(1), default=4, help="export calls in flight (default %(default)s)")
    parser.add_argument("--hook-bridge-share", type=_share, default=0.3,
                        help="share of users with the hook bridge, 0 to 1 (default %(default)s)")
    parser.add_argument("--timeout", type=_seconds, default=30.0, help="seconds per export call (default %(default)s)")
    parser.add_argument("--dry-run", action="store_true", help="print what would be sent, send nothing")


def spec_from_args(args: argparse.Namespace, now: datetime | None = None) -> FleetSpec:
    """The fleet to send. Without ``--start`` it ends before ``now``: conversations start
    over the last ``--days`` days and their resumes run hours to days later, so the start
    is moved back by whole days until the fleet's last event is in the past."""

    def spec(start: datetime) -> FleetSpec:
        return FleetSpec(seed=args.seed, orgs=args.orgs, users=args.users, sessions=args.sessions, days=args.days,
                         start=start, batch_size=args.batch_size, hook_bridge_share=args.hook_bridge_share)

    if args.start:
        return spec(args.start)
    now = now or datetime.now(UTC)
    start = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=args.days - 1)
    for _ in range(60):
        sessions = Fleet(spec(start)).ground_truth.sessions.values()
        last_ns = max((s.last_ns for s in sessions), default=0)
        overshoot = last_ns / 1e9 - now.timestamp()
        if overshoot <= 0:
            break
        start -= timedelta(days=max(1, math.ceil(overshoot / 86400)))
    return spec(start)


def _stubs(channel: Any) -> dict[str, Any]:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2_grpc import LogsServiceStub
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2_grpc import MetricsServiceStub
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub

    return {"logs": LogsServiceStub(channel).Export, "traces": TraceServiceStub(channel).Export,
            "metrics": MetricsServiceStub(channel).Export}


CONNECT_TIMEOUT_S = 5.0


class Unreachable(RuntimeError):
    """The receiver cannot be reached (the message says why)."""


def check_reachable(endpoint: str, timeout: float) -> None:
    """Open (and close) a TCP connection to ``endpoint`` so that a wrong address fails at
    once with the operating system's reason, not after a gRPC deadline with none."""
    host, sep, port = endpoint.rpartition(":")
    if not sep or not port.isdigit():
        raise Unreachable(f"--endpoint {endpoint!r} is not HOST:PORT")
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout).close()
    except TimeoutError:
        raise Unreachable(f"no answer from {endpoint} within {timeout:g} s") from None
    except OSError as exc:
        raise Unreachable(f"cannot connect to {endpoint}: {exc.strerror or exc}") from None


def send(fleet: Fleet, endpoint: str, token: str = "", concurrency: int = 4, timeout: float = 30.0,
         retries: int = 5) -> dict[str, int]:
    """Export every request of ``fleet``; retry UNAVAILABLE / RESOURCE_EXHAUSTED with
    backoff as an OTLP exporter does. Returns records sent per signal."""
    import grpc

    retryable = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.DEADLINE_EXCEEDED}
    metadata = (("authorization", f"Bearer {token}"),) if token else None
    sent: dict[str, int] = {"logs": 0, "traces": 0, "metrics": 0}
    check_reachable(endpoint, min(timeout, CONNECT_TIMEOUT_S))
    with grpc.insecure_channel(endpoint, options=[("grpc.max_send_message_length", 64 * 1024 * 1024)]) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise Unreachable(f"{endpoint} accepts connections but no gRPC channel came up within {timeout:g} s") from None
        stubs = _stubs(channel)

        def export(signal: str, request: Any) -> tuple[str, int]:
            for attempt in range(retries + 1):
                try:
                    stubs[signal](request, timeout=timeout, metadata=metadata)
                    return signal, record_count(signal, request)
                except grpc.RpcError as exc:
                    if exc.code() not in retryable or attempt == retries:
                        raise
                    time.sleep(min(5.0, 0.2 * 2**attempt))
            raise AssertionError("unreachable")

        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            pending = []
            for signal, request in fleet.requests():
                pending.append(pool.submit(export, signal, request))
                if len(pending) >= concurrency * 4:  # bounded memory: wait for the oldest
                    done_signal, n = pending.pop(0).result()
                    sent[done_signal] += n
            for future in pending:
                done_signal, n = future.result()
                sent[done_signal] += n
    return sent


def run(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    fleet = Fleet(spec)
    if args.dry_run:
        print(json.dumps({**fleet.ground_truth.summary(), "org_ids": fleet.ground_truth.orgs}, indent=2))
        return 0
    started = time.monotonic()
    try:
        sent = send(fleet, args.endpoint, args.token, args.concurrency, args.timeout)
    except Unreachable as exc:
        print(f"loomline demo: {exc} (is `loomline serve` running? see --endpoint)", file=sys.stderr)
        return 1
    except Exception as exc:  # grpc errors: say what and where, never an empty reason
        reason = exc.details() if hasattr(exc, "details") and exc.details() else (str(exc) or type(exc).__name__)
        print(f"loomline demo: sending to {args.endpoint} failed: {reason}", file=sys.stderr)
        return 1
    took = time.monotonic() - started
    summary = fleet.ground_truth.summary()
    print(json.dumps({"endpoint": args.endpoint, "seconds": round(took, 2), "records_sent": sent,
                      "fleet": summary, "org_ids": fleet.ground_truth.orgs}, indent=2))
    return 0
