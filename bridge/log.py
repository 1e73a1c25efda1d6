"""The bridge's local log file (never stdout/stderr: Claude Code reads those)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

LOG_MAX_BYTES = 1024 * 1024


def home_dir(environ: Mapping[str, str]) -> Path:
    """``$HOME`` of ``environ`` (a hook's variables, captured by the shell hook), else ours."""
    return Path(environ["HOME"]) if environ.get("HOME") else Path.home()


def state_home(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("XDG_STATE_HOME") or home_dir(env) / ".local" / "state") / "loomline"



def log(log_file: Path, message: str) -> None:
    """Append one line to the local log, rotating it at 1 MiB. Never raises."""
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            if log_file.stat().st_size > LOG_MAX_BYTES:
                os.replace(log_file, log_file.with_name(log_file.name + ".1"))
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with open(log_file, "a", encoding="utf-8") as handle:
            handle.write(f"{stamp} pid={os.getpid()} {message}\n")
    except Exception:  # noqa: BLE001 - logging must never break the hook
        pass


class FileLogHandler:
    """Routes the SDK's and gRPC's ``logging`` output to the local log instead of stderr."""

    @staticmethod
    def install(log_file: Path) -> None:
        import logging

        class Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                log(log_file, f"{record.levelname} {record.name}: {record.getMessage()}")

        root = logging.getLogger()
        root.handlers[:] = [Handler(logging.WARNING)]
        root.setLevel(logging.WARNING)
        logging.captureWarnings(True)

