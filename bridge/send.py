"""Delivery: the OTLP exporter (imported only here, when a record is sent) and the
spool-first send loop."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bridge.log import log
from bridge.options import HookOptions
from bridge.record import HookRecord
from bridge.spool import Spool


def make_exporter(options: HookOptions, timeout: float | None = None) -> Any:
    """The SDK's OTLP log exporter for ``options`` (gRPC or HTTP/protobuf)."""
    timeout = options.timeout if timeout is None else timeout
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    if options.protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import (
            OTLPLogExporter as HttpExporter,
        )

        return HttpExporter(endpoint=options.resolved_endpoint, headers=dict(options.headers),
                            timeout=timeout)
    import grpc
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

    # The spool is the retry: a non-empty set that never occurs turns the exporter's own
    # backoff off (an empty one would mean 'the defaults').
    return OTLPLogExporter(
        endpoint=options.resolved_endpoint,
        headers=tuple((k.lower(), v) for k, v in options.headers),
        timeout=timeout,
        retryable_error_codes=(grpc.StatusCode.DATA_LOSS,),
    )


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _down_marker(options: HookOptions) -> Path:
    return options.spool_dir / ".receiver-down"


def deliver(record: HookRecord, options: HookOptions, exporter: Any = None) -> bool:
    """Spool ``record`` (write-ahead), then send the spool oldest first under its lock.

    Returns True when ``record`` reached the receiver. The record is on disk before any
    network I/O, so a hook killed mid-send (Claude Code's timeout) loses nothing. Each
    spooled record is deleted only after the receiver acknowledged it; one acknowledged but
    not yet deleted is resent byte-identical and dropped by the receiver's dedup."""
    started = time.monotonic()
    spool = Spool(options.spool_dir, options.spool_max_records, options.spool_max_bytes, options.log_file)
    own = spool.append(record)
    down = _down_marker(options)
    with contextlib.suppress(OSError):
        if time.time() - down.stat().st_mtime < options.retry_after:
            if spool.lock(timeout=0):
                spool.enforce_bounds()
                spool.unlock()
            return False
    if exporter is None:  # the slow import happens before taking the lock
        exporter = make_exporter(options, timeout=max(0.2, options.timeout - (time.monotonic() - started)))
    if not spool.lock(timeout=max(0.0, options.timeout - (time.monotonic() - started))):
        with contextlib.suppress(Exception):
            exporter.shutdown()
        log(options.log_file, "WARNING spool busy: record left for the next hook")
        return False
    try:
        pending = list(spool.read(spool.files()))
        unreachable = False
        try:
            for number, chunk in enumerate(_chunks(pending, 200)):
                if number and time.monotonic() - started > options.timeout:
                    break  # out of time: the rest waits for the next hook
                if not _export(exporter, [r for _, r in chunk], options):
                    unreachable = True
                    break
                for path, _ in chunk:
                    with contextlib.suppress(OSError):
                        path.unlink()
        finally:
            with contextlib.suppress(Exception):
                exporter.shutdown()
        if unreachable:
            with contextlib.suppress(OSError):
                down.touch()
            spool.enforce_bounds()
            log(options.log_file, f"WARNING receiver {options.resolved_endpoint} unreachable: "
                                   f"record spooled ({len(spool.files())} waiting)")
            return False
        with contextlib.suppress(OSError):
            down.unlink()
        if len(pending) > 1:
            log(options.log_file, f"INFO spool flushed: {len(pending) - 1} earlier record(s) sent")
        if own.exists():
            log(options.log_file, "WARNING backlog not fully sent in time: record left for the next hook")
            return False
        return True
    finally:
        spool.unlock()


def _export(exporter: Any, records: Sequence[HookRecord], options: HookOptions) -> bool:
    from opentelemetry.sdk._logs.export import LogRecordExportResult

    try:
        result = exporter.export([r.to_readable() for r in records])
    except Exception as exc:  # noqa: BLE001 - any exporter failure means 'spool it'
        log(options.log_file, f"ERROR export failed: {exc!r}")
        return False
    return bool(result == LogRecordExportResult.SUCCESS)

