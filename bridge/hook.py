"""The hook bridge: ``loomline hook``, run by Claude Code as a command hook.

Claude Code writes the hook's JSON to stdin; this command turns it into **one OTLP log
record** (docs/hook-records.md) and sends it to the loomline receiver with the
OpenTelemetry SDK's OTLP log exporter. It adds what only the local machine knows: the
Claude Code process that ran the hook (the CLI run), the git project and branch of
``cwd``, a fork's parent session (from the new transcript) and a compaction's token counts
(from the transcript's ``compact_boundary``).

It must never get in Claude Code's way: nothing on stdout (SessionStart and
UserPromptSubmit stdout goes into the model's context), exit status 0 whatever happens,
and fast: the hook imports nothing heavy (no OpenTelemetry SDK, protobuf or gRPC), writes
its record to the spool and hands delivery to a detached sender process (bridge.send)
that outlives it; the sender also sends whatever earlier hooks left in the spool, oldest
first. A hook killed right after the spool write (Claude Code's time limit) still has its
record delivered. Records are frozen when built (timestamp included), so a resend is
byte-identical and the receiver's dedup drops a double delivery.

Pure entry points for other components and tests (no I/O, no network):
``build_record(payload, context) -> HookRecord`` and ``HookRecord.to_export_request()``
(bridge.record).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bridge.context import gather_context
from bridge.log import log, state_home
from bridge.options import HookOptions, add_arguments, load_options
from bridge.raw import read_payload, usable_payload
from bridge.record import HookRecord, build_record
from bridge.send import flush, start_sender
from bridge.spool import Spool

STALL_ENV = "LOOMLINE_HOOK_TEST_STALL_AFTER_SPOOL"
WATCHDOG_GRACE = 0.35  # seconds past --timeout before the hook gives up (SessionEnd: 1.5 s in all)


@contextlib.contextmanager
def _stdout_silenced() -> Iterator[None]:
    """Nothing may reach stdout, not even from C extensions: point fd 1 at /dev/null."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        saved: int | None = os.dup(1)
    except OSError:  # fd 1 closed: nothing to protect
        saved = None
    try:
        os.dup2(devnull, 1)
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            yield
    finally:
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)
        os.close(devnull)


def run(args: argparse.Namespace) -> int:
    """Handle one hook invocation. Always returns 0 and prints nothing on stdout."""
    log_file = state_home() / "hook.log"
    watchdog: Any = None
    try:
        with _stdout_silenced():
            started = time.monotonic()
            try:
                options = load_options(args)
            except Exception as exc:  # noqa: BLE001
                log(log_file, f"ERROR bad options, using defaults: {exc}")
                options = HookOptions()
            log_file = options.log_file
            raw = b"" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read()
            # Bounds our own work, counted from when Claude Code has handed over the payload.
            watchdog = _start_watchdog(options.timeout + WATCHDOG_GRACE, log_file)
            payload = usable_payload(raw, log_file)
            if payload is None:
                return 0
            # The sender starts before anything is written: a hook killed from here on (Claude
            # Code's time limit) still has its spooled record delivered.
            sender = start_sender(options)
            record = build_record(payload, gather_context(payload, options))
            spooled = _spool(record, options)
            _test_stall()
            if sender is not None:
                try:
                    if not spooled:  # the spool is unusable: hand the record over instead
                        sender.stdin.write(record.to_json().encode("utf-8"))
                    sender.stdin.close()  # EOF: the sender starts sending
                except (OSError, ValueError) as exc:
                    log(log_file, f"WARNING sender gone ({exc!r}): sending from the hook")
                    sender = None
            if sender is None:  # no detached sender: one bounded send from here
                flush(options, extra=None if spooled else record)
            elapsed = time.monotonic() - started
            if elapsed > 0.5:
                log(log_file, f"WARNING slow hook: {elapsed * 1000:.0f} ms for {record.body}")
    except BaseException as exc:  # noqa: BLE001 - never fail Claude Code, whatever happened
        log(log_file, f"ERROR hook failed: {exc!r}")
    finally:
        if watchdog is not None:
            watchdog.cancel()
    return 0


def _spool(record: HookRecord, options: HookOptions) -> bool:
    """Write ``record`` to the spool; False (logged) when it cannot be written."""
    spool = Spool(options.spool_dir, options.spool_max_records, options.spool_max_bytes, options.log_file)
    try:
        spool.append(record)
    except (OSError, ValueError) as exc:  # disk full, read-only, unencodable
        log(options.log_file, f"WARNING spool unusable ({exc!r}): sending {record.body} directly")
        return False
    return True


def _test_stall() -> None:
    """Test hook (tests/test_hook.py): sleep after the spool write so a test can SIGKILL the
    hook exactly there, as Claude Code's time limit would."""
    stall = os.environ.get(STALL_ENV)
    if stall:
        with contextlib.suppress(ValueError):
            time.sleep(float(stall))


def _start_watchdog(seconds: float, log_file: Path) -> Any:
    """Exit 0 after ``seconds`` whatever the hook is stuck on (a hung file system, a lock).
    Safe because the record was spooled before any network I/O."""
    import threading

    def expire() -> None:
        log(log_file, f"ERROR hook still running after {seconds:.1f} s: exiting, record stays spooled")
        os._exit(0)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    return timer


__all__ = ["add_arguments", "read_payload", "run"]
