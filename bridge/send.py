"""Delivery: the OTLP exporter (imported only here, when a record is sent), the detached
sender process and the spool-first send loop.

The hook itself never touches the network: it writes its record to the spool and hands
delivery to a detached sender (``start_sender``), a new session with no stdio of Claude
Code's, that outlives the hook. The sender waits for the hook to finish (EOF on the pipe
between them, which also comes when the hook is killed), then sends everything spooled,
oldest first, under the spool's lock, and retries with backoff while the receiver is down.
When the spool cannot be written (disk full, read-only), the hook passes the record to
the sender through that pipe instead, so it still goes out."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from bridge.context import resolve_pending
from bridge.log import FileLogHandler, log, state_home
from bridge.options import HookOptions, options_from_json, options_to_json
from bridge.raw import options_for, record_from_raw
from bridge.record import HookRecord
from bridge.spool import Spool

SENDER_ENV = "LOOMLINE_HOOK_SENDER"  # the options, handed from the hook to its sender
MAX_RETRY_WAIT = 30.0
PENDING_POLL = 0.2  # seconds between looks at a transcript for a compaction's boundary
PIPE_MAX_BYTES = 64 * 1024 * 1024
SEND_CHUNK = 200  # records per export request
NICE = "/usr/bin/nice"
HOOK_WAIT = 10.0  # the longest the shell hook's sender waits for the hook to exit


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


def _sends(spool: Spool, ready: Sequence[tuple[Path | None, HookRecord]]) -> Iterator[Sequence[tuple[Path | None, HookRecord]]]:
    """The requests for ``ready``, in order: a record that has no spool file alone; then
    the files of the last unanswered send (``Spool.inflight``) exactly as they went, so
    that a send that timed out but was stored after all comes again byte-identical (and
    adds nothing at the receiver) rather than regrouped with files that arrived since;
    then the rest, oldest first, at most SEND_CHUNK a request."""
    again = set(spool.inflight())
    for item in ready:
        if item[0] is None:
            yield [item]
    repeat = [item for item in ready if item[0] is not None and item[0].name in again]
    if repeat:
        yield repeat
    yield from _chunks([item for item in ready if item[0] is not None and item[0].name not in again], SEND_CHUNK)


def _export(exporter: Any, records: Sequence[HookRecord], options: HookOptions) -> bool:
    from opentelemetry.sdk._logs.export import LogRecordExportResult

    try:
        result = exporter.export([r.to_readable() for r in records])
    except Exception as exc:  # noqa: BLE001 - any exporter failure means 'keep it, retry'
        log(options.log_file, f"ERROR export failed: {exc!r}")
        return False
    return bool(result == LogRecordExportResult.SUCCESS)


def _try_lock(spool: Spool) -> bool | None:
    """True: locked; False: another sender holds it; None: the spool is unusable."""
    try:
        return spool.lock(timeout=0)
    except OSError:
        return None


def flush(options: HookOptions, extra: HookRecord | None = None, linger: float = 0.0,
          exporter: Any = None) -> bool:
    """Send ``extra`` (a record that could not be spooled) and everything in the spool,
    oldest first; True when all of it reached the receiver.

    Spooled records are sent only under the spool lock, and each file is deleted only
    after the receiver acknowledged it (one acknowledged but not yet deleted is resent
    byte-identical and dropped by the receiver's dedup). When another sender holds the
    lock, this one leaves the spool to it: the holder lists the spool again every round
    and once more after letting go of the lock, so it sees every file written before this
    one gave up. While the receiver is down (or a compaction record waits for its boundary)
    the holder keeps the lock and retries for ``linger`` seconds: ``retry_after`` first,
    doubling up to 30 s; so at most one sender lingers. ``linger=0`` is one round."""
    spool = Spool(options.spool_dir, options.spool_max_records, options.spool_max_bytes, options.log_file)
    until = time.monotonic() + linger
    state = {"extra": extra, "wait": max(0.05, options.retry_after), "exporter": exporter}
    try:
        for _ in range(100):  # bounded: each pass only repeats for files that arrived meanwhile
            locked = _try_lock(spool)
            if not locked and state["extra"] is None:
                return locked is False or not spool.files()
            try:
                done = _rounds(spool, options, state, bool(locked), until)
            finally:
                if locked:
                    spool.unlock()
            if not done or not locked or not spool.files():
                return done
        return False
    finally:
        if exporter is None and state["exporter"] is not None:
            with contextlib.suppress(Exception):
                state["exporter"].shutdown()


def _rounds(spool: Spool, options: HookOptions, state: dict[str, Any], locked: bool, until: float) -> bool:
    """Send rounds until everything went out (True) or ``until`` passed (False)."""
    while True:
        batch: list[tuple[Path | None, HookRecord]] = []
        if state["extra"] is not None:
            batch.append((None, state["extra"]))
        if locked:
            batch += list(spool.read(spool.files(), build=partial(record_from_raw, log_file=options.log_file)))
        ready: list[tuple[Path | None, HookRecord]] = []
        held = 0
        for path, record in batch:
            if record.pending:
                completed = resolve_pending(record)
                if completed is None:
                    held += 1
                    continue
                if path is None:
                    state["extra"] = completed
                else:
                    spool.rewrite(path, completed)
                record = completed
            ready.append((path, record))
        unreachable = False
        if ready:
            if state["exporter"] is None:
                state["exporter"] = make_exporter(options)
            for chunk in _sends(spool, ready):
                spooled = [path for path, _ in chunk if path is not None]
                if spooled:
                    spool.set_inflight(spooled)
                if not _export(state["exporter"], [r for _, r in chunk], options):
                    unreachable = True
                    break
                for path, _ in chunk:
                    if path is None:
                        state["extra"] = None
                    else:
                        with contextlib.suppress(OSError):
                            path.unlink()
                if spooled:
                    spool.clear_inflight()
        if not unreachable and not held:
            if len(ready) > 1:
                log(options.log_file, f"INFO sent {len(ready)} record(s)")
            if not locked or not spool.files():
                return True
            continue  # written while we sent: go round again
        if unreachable and locked:
            spool.enforce_bounds()
        if time.monotonic() >= until:
            what = (f"receiver {options.resolved_endpoint} unreachable" if unreachable
                    else "a compaction boundary is still not in the transcript")
            left = f"{len(spool.files())} record(s) left in the spool for the next hook" if locked else ""
            lost = "an unspooled record is lost" if state["extra"] is not None else ""
            log(options.log_file, f"WARNING {what}: " + "; ".join(x for x in (left, lost) if x))
            return False
        if unreachable:
            log(options.log_file, f"WARNING receiver {options.resolved_endpoint} unreachable: "
                                  f"retrying in {state['wait']:.1f} s")
            time.sleep(max(0.0, min(state["wait"], until - time.monotonic())))
            state["wait"] = min(MAX_RETRY_WAIT, state["wait"] * 2)
        else:
            time.sleep(PENDING_POLL)


def deliver(record: HookRecord, options: HookOptions, exporter: Any = None) -> bool:
    """Spool ``record`` (write-ahead), then one ``flush`` round in this process; True when
    ``record`` reached the receiver. When the spool cannot be written the record is sent
    directly. (The hook itself uses ``start_sender``; this is the in-process path.)"""
    spool = Spool(options.spool_dir, options.spool_max_records, options.spool_max_bytes, options.log_file)
    try:
        own: Path | None = spool.append(record)
    except (OSError, ValueError) as exc:
        log(options.log_file, f"WARNING spool unusable ({exc!r}): sending directly")
        return flush(options, extra=record, exporter=exporter)
    flush(options, exporter=exporter)
    return own is not None and not own.exists()


def start_sender(options: HookOptions) -> Any:
    """Start the detached sender and return its ``Popen`` (None if it could not start).

    New session (Claude Code's process group signals do not reach it), cwd ``/``, stdout
    and stderr to /dev/null, stdin a pipe from the hook: the sender starts sending at EOF,
    which comes when the hook closes it or dies. ``-P`` keeps the project directory off
    ``sys.path``."""
    import subprocess

    env = dict(os.environ)
    env[SENDER_ENV] = options_to_json(options)
    # Low priority from the first instruction: its start-up must not slow the hook down
    # (on a busy machine the hook's own start-up is what Claude Code waits for).
    nice = [NICE, "-n", "10"] if os.path.exists(NICE) else []
    try:
        return subprocess.Popen(
            [*nice, sys.executable, "-P", "-c", "from bridge.send import main; main()"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True, cwd="/", env=env,
        )
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        log(options.log_file, f"WARNING could not start the sender: {exc!r}")
        return None


def main() -> None:
    """The detached sender (``start_sender``). Never raises; logs to the hook's log file."""
    try:
        options = options_from_json(os.environ.pop(SENDER_ENV))
    except (KeyError, ValueError, TypeError) as exc:
        log(Path(os.devnull), f"{exc}")
        return
    try:
        data = b""
        with contextlib.suppress(OSError, ValueError):
            data = sys.stdin.buffer.read(PIPE_MAX_BYTES)  # returns at the hook's EOF
        with contextlib.suppress(OSError):
            sys.stdin.close()
        extra = None
        if data.strip():
            try:
                extra = HookRecord.from_json(data)
            except (ValueError, KeyError, TypeError) as exc:
                log(options.log_file, f"ERROR unreadable record from the hook dropped: {exc}")
        FileLogHandler.install(options.log_file)
        flush(options, extra=extra, linger=options.sender_linger)
    except BaseException as exc:  # noqa: BLE001 - detached: nobody to tell but the log
        log(options.log_file, f"ERROR sender failed: {exc!r}")


def after_shell_hook(argv: Sequence[str] | None = None) -> None:
    """The detached sender of the shell hook (bridge/loomline-hook.sh), started as
    ``python -P -c ... HOOK_PID [hook flags...]`` before the hook writes its raw entry: waits
    for the hook to exit (or die), then sends the spool, raw entries built first. Never
    raises; logs to the hook's log file."""
    argv = list(sys.argv[1:] if argv is None else argv)
    log_file = state_home() / "hook.log"
    try:
        if os.getsid(0) != os.getpid():  # no setsid(1): at least from now on
            with contextlib.suppress(OSError):
                os.setsid()
        hook_pid = int(argv[0]) if argv and argv[0].isdigit() else 0
        options = options_for(argv[1:], os.environ) or HookOptions()
        log_file = options.log_file
        _wait_for_exit(hook_pid, HOOK_WAIT)
        FileLogHandler.install(options.log_file)
        flush(options, linger=options.sender_linger)
    except BaseException as exc:  # noqa: BLE001 - detached: nobody to tell but the log
        log(log_file, f"ERROR sender failed: {exc!r}")


def _wait_for_exit(pid: int, limit: float) -> None:
    """Return once process ``pid`` has exited (or is a zombie), at most after ``limit`` s."""
    deadline = time.monotonic() + limit
    while pid > 1 and time.monotonic() < deadline:
        try:
            text = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return
        if text[text.rfind(")") + 2:][:1] in ("Z", "X", ""):
            return
        time.sleep(0.01)


__all__ = ["SENDER_ENV", "after_shell_hook", "deliver", "flush", "main", "make_exporter", "start_sender"]
