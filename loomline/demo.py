"""``loomline demo``: send a realistic synthetic fleet (loomline.fleet) to a running receiver.

The requests go over OTLP/gRPC exactly as Claude Code's exporter would send them, so the
receiver, storage and enrichment see nothing special. By default the fleet ends today, so
dashboards over "the last 7 days" show it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from loomline.fleet import Fleet, FleetSpec, record_count


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint", default="127.0.0.1:4317", help="OTLP/gRPC host:port (default %(default)s)")
    parser.add_argument("--token", default="", help="receiver bearer token, if the receiver requires one")
    parser.add_argument("--seed", type=int, default=1, help="same seed, same fleet (default %(default)s)")
    parser.add_argument("--orgs", type=int, default=3)
    parser.add_argument("--users", type=int, default=25)
    parser.add_argument("--sessions", type=int, default=200, help="conversations started fresh (default %(default)s)")
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--start", default="", help="first day, YYYY-MM-DD (default: DAYS before today)")
    parser.add_argument("--batch-size", type=int, default=512, help="records per export request")
    parser.add_argument("--concurrency", type=int, default=4, help="export calls in flight")
    parser.add_argument("--hook-bridge-share", type=float, default=0.3, help="users with the hook bridge")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per export call")
    parser.add_argument("--dry-run", action="store_true", help="print what would be sent, send nothing")


def spec_from_args(args: argparse.Namespace) -> FleetSpec:
    if args.start:
        start = datetime.fromisoformat(args.start).replace(tzinfo=UTC)
    else:
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        start = today - timedelta(days=args.days - 1)
    return FleetSpec(seed=args.seed, orgs=args.orgs, users=args.users, sessions=args.sessions, days=args.days,
                     start=start, batch_size=args.batch_size, hook_bridge_share=args.hook_bridge_share)


def _stubs(channel: Any) -> dict[str, Any]:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2_grpc import LogsServiceStub
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2_grpc import MetricsServiceStub
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import TraceServiceStub

    return {"logs": LogsServiceStub(channel).Export, "traces": TraceServiceStub(channel).Export,
            "metrics": MetricsServiceStub(channel).Export}


def send(fleet: Fleet, endpoint: str, token: str = "", concurrency: int = 4, timeout: float = 30.0,
         retries: int = 5) -> dict[str, int]:
    """Export every request of ``fleet``; retry UNAVAILABLE / RESOURCE_EXHAUSTED with
    backoff as an OTLP exporter does. Returns records sent per signal."""
    import grpc

    retryable = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.DEADLINE_EXCEEDED}
    metadata = (("authorization", f"Bearer {token}"),) if token else None
    sent: dict[str, int] = {"logs": 0, "traces": 0, "metrics": 0}
    with grpc.insecure_channel(endpoint, options=[("grpc.max_send_message_length", 64 * 1024 * 1024)]) as channel:
        grpc.channel_ready_future(channel).result(timeout=timeout)
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
    except Exception as exc:  # grpc errors, connection refused: say what and where
        print(f"loomline demo: sending to {args.endpoint} failed: {exc}", file=sys.stderr)
        return 1
    took = time.monotonic() - started
    summary = fleet.ground_truth.summary()
    print(json.dumps({"endpoint": args.endpoint, "seconds": round(took, 2), "records_sent": sent,
                      "fleet": summary, "org_ids": fleet.ground_truth.orgs}, indent=2))
    return 0
