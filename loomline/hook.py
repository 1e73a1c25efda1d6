"""The hook bridge: ``loomline hook``, run by Claude Code as a command hook.

Claude Code writes the hook's JSON to stdin; this command turns it into **one OTLP log
record** (docs/hook-records.md) and sends it to the loomline receiver with the
OpenTelemetry SDK's OTLP log exporter. It adds what only the local machine knows: the
Claude Code process that ran the hook (the CLI run), the git project and branch of
``cwd``, a fork's parent session (from the new transcript) and a compaction's token counts
(from the transcript's ``compact_boundary``).

It must never get in Claude Code's way: nothing on stdout (SessionStart and
UserPromptSubmit stdout goes into the model's context), exit status 0 whatever happens,
and a few hundred milliseconds at most. When the receiver cannot be reached the record goes
to a bounded spool on disk that the next successful invocation sends first, oldest first.
Records are frozen when built (timestamp included), so a resend is byte-identical and the
receiver's dedup drops a double delivery.

Imports stay light at module level; the OpenTelemetry SDK and gRPC are imported only when a
record is actually sent.

Pure entry points for other components and tests (no I/O, no network):
``build_record(payload, context) -> HookRecord`` and ``HookRecord.to_export_request()``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import socket
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loomline import __version__

DEFAULT_GRPC_ENDPOINT = "http://127.0.0.1:4317"
DEFAULT_HTTP_ENDPOINT = "http://127.0.0.1:4318/v1/logs"
PROTOCOLS = ("grpc", "http/protobuf")
CONFIG_ENV = "LOOMLINE_HOOK_CONFIG"
SERVICE_NAME = "loomline-hook"
SCOPE_NAME = "loomline.hook"

# Payload fields that may hold what the user typed or the model wrote: sent only with
# --include-prompts.
SENSITIVE_FIELDS = frozenset(
    {"prompt", "compact_summary", "last_assistant_message", "custom_instructions", "message"}
)
# Payload fields renamed to the names Claude Code's own telemetry uses.
RENAMED_FIELDS = {"session_id": "session.id", "prompt_id": "prompt.id"}
# Hook names whose event name is not the mechanical snake_case of the hook name.
EVENT_NAMES = {
    "SessionStart": "loomline.session_start",
    "SessionEnd": "loomline.session_end",
    "PreCompact": "loomline.pre_compact",
    "PostCompact": "loomline.post_compact",
    "Stop": "loomline.stop",
    "SubagentStop": "loomline.subagent_stop",
    "UserPromptSubmit": "loomline.user_prompt_submit",
    "PreToolUse": "loomline.pre_tool_use",
    "PostToolUse": "loomline.post_tool_use",
    "Notification": "loomline.notification",
}
# Parent processes skipped when looking for Claude Code (it may run hooks through a shell).
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "fish", "ksh", "mksh", "busybox", "env"})
TRANSCRIPT_HEAD_BYTES = 4 * 1024 * 1024
TRANSCRIPT_TAIL_BYTES = 4 * 1024 * 1024
LOG_MAX_BYTES = 1024 * 1024
WATCHDOG_GRACE = 0.35  # seconds past --timeout before the hook gives up (SessionEnd: 1.5 s in all)


# --------------------------------------------------------------------------- the record


@dataclass(frozen=True)
class HookRecord:
    """One bridge record, frozen at creation so a resend is byte-identical."""

    time_unix_nano: int
    body: str
    attributes: dict[str, str | int | float]
    resource: dict[str, str]

    @property
    def event_name(self) -> str:
        return self.body

    def to_json(self) -> str:
        """Compact JSON (the spool format); ``from_json`` gives back an equal record."""
        return json.dumps(
            {"v": 1, "time_unix_nano": self.time_unix_nano, "body": self.body,
             "attributes": self.attributes, "resource": self.resource},
            separators=(",", ":"), ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> HookRecord:
        data = json.loads(text)
        return cls(int(data["time_unix_nano"]), str(data["body"]), dict(data["attributes"]),
                   dict(data["resource"]))

    def to_readable(self) -> Any:
        """The SDK's ``ReadableLogRecord`` for this record (imports the SDK)."""
        from opentelemetry._logs import LogRecord
        from opentelemetry.sdk._logs import ReadableLogRecord
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        return ReadableLogRecord(
            log_record=LogRecord(
                timestamp=self.time_unix_nano,
                observed_timestamp=self.time_unix_nano,
                body=self.body,
                attributes=dict(self.attributes),
                event_name=self.body,
            ),
            resource=Resource(dict(self.resource)),
            instrumentation_scope=InstrumentationScope(SCOPE_NAME, __version__),
        )

    def to_export_request(self) -> Any:
        """The ``ExportLogsServiceRequest`` protobuf the exporter sends for this record alone."""
        return to_export_request([self])


def to_export_request(records: Sequence[HookRecord]) -> Any:
    """The ``ExportLogsServiceRequest`` the OTLP exporters send for ``records``, in order.

    Lets tests and replay tools feed bridge records to the receiver's decoder without a
    network."""
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs

    return encode_logs([r.to_readable() for r in records])


@dataclass(frozen=True)
class HookContext:
    """Everything ``build_record`` needs besides the payload: what the local machine knows.

    ``gather_context`` fills it from /proc, git and the transcript; tests and replays build
    it directly."""

    host: str = "localhost"
    time_unix_nano: int = 0
    include_prompts: bool = False
    cli_run_pid: int | None = None
    cli_run_started_ms: int | None = None  # Claude Code's start time, ms since the epoch
    project_id: str = ""
    project_name: str = ""
    git_branch: str = ""
    parent_session_id: str = ""
    compaction: Mapping[str, int] = field(default_factory=dict)  # pre_tokens, post_tokens, duration_ms


def event_name_for(hook_event_name: str) -> str:
    """``SessionStart`` → ``loomline.session_start``; unknown ``FooBar`` → ``loomline.foo_bar``."""
    if hook_event_name in EVENT_NAMES:
        return EVENT_NAMES[hook_event_name]
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", hook_event_name)
    snake = re.sub(r"[^0-9a-zA-Z]+", "_", snake).strip("_").lower()
    return "loomline." + (snake or "unknown")


def cli_run_id(host: str, pid: int | None, started_ms: int | None) -> str:
    """``<host>:<pid>:<start ms>``: one Claude Code process lifetime (pids get reused)."""
    if pid is None:
        return ""
    return f"{host}:{pid}:{started_ms if started_ms is not None else 'unknown'}"


def _iso(time_unix_nano: int) -> str:
    moment = datetime.fromtimestamp(time_unix_nano / 1e9, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def _attribute_value(value: Any) -> str | int | float | None:
    """OTLP attribute value per the contract: ints stay ints, floats doubles, bools and
    strings strings; containers and null are not sent."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return value
    return None


def build_record(payload: Mapping[str, Any], context: HookContext) -> HookRecord:
    """Turn one hook payload into the bridge record. Pure: no I/O, no clock.

    ``payload`` is the JSON Claude Code wrote to the hook's stdin; ``context.time_unix_nano``
    is the record's time (``0`` means 'now' is the caller's business: pass a real time)."""
    hook_event_name = str(payload.get("hook_event_name") or "")
    name = event_name_for(hook_event_name)
    attributes: dict[str, str | int | float] = {
        "event.name": name,
        "event.timestamp": _iso(context.time_unix_nano),
        "session.id": str(payload.get("session_id") or ""),
    }
    for key, raw in payload.items():
        if key == "session_id" or (key in SENSITIVE_FIELDS and not context.include_prompts):
            continue
        value = _attribute_value(raw)
        if value is None:
            continue
        attributes[RENAMED_FIELDS.get(key, key)] = value
    if context.cli_run_pid is not None:
        attributes["loomline.cli_run.id"] = cli_run_id(
            context.host, context.cli_run_pid, context.cli_run_started_ms
        )
        attributes["loomline.cli_run.pid"] = context.cli_run_pid
        if context.cli_run_started_ms is not None:
            attributes["loomline.cli_run.started_at"] = _iso(context.cli_run_started_ms * 1_000_000)
    if context.project_id:
        attributes["loomline.project.id"] = context.project_id
    if context.project_name:
        attributes["loomline.project.name"] = context.project_name
    if context.git_branch:
        attributes["git.branch"] = context.git_branch
    if context.parent_session_id:
        attributes["loomline.parent_session_id"] = context.parent_session_id
    for key in ("pre_tokens", "post_tokens", "duration_ms"):
        if key in context.compaction:
            attributes[key] = int(context.compaction[key])
    resource = {"service.name": SERVICE_NAME, "service.version": __version__, "host.name": context.host}
    return HookRecord(context.time_unix_nano, name, attributes, resource)


# --------------------------------------------------------------------------- local facts


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(command name, parent pid, start time in clock ticks since boot) from /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    open_paren, close_paren = text.find("("), text.rfind(")")
    fields = text[close_paren + 2:].split()
    # fields[0] is field 3 (state): ppid is field 4, starttime field 22.
    return text[open_paren + 1:close_paren], int(fields[1]), int(fields[19])


def _boot_time() -> int | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _ps_start_ms(pid: int) -> int | None:
    """Process start time where there is no /proc (macOS): ``ps -o lstart=``."""
    import subprocess

    try:
        out = subprocess.run(["ps", "-o", "lstart=", "-p", str(pid)], capture_output=True,
                             text=True, timeout=0.5, check=False).stdout.strip()
        started = datetime.strptime(" ".join(out.split()), "%a %b %d %H:%M:%S %Y")
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    return int(started.timestamp() * 1000)


def find_cli_run(start_pid: int | None = None) -> tuple[int | None, int | None]:
    """(pid, start time in ms since the epoch) of the Claude Code process running this hook.

    That is the hook's parent, or the first ancestor that is not a shell when Claude Code ran
    the command through one."""
    pid = os.getppid() if start_pid is None else start_pid
    if pid <= 1:
        return None, None
    stat = _proc_stat(pid)
    if stat is None:
        return pid, _ps_start_ms(pid)
    for _ in range(3):
        comm, ppid, _ticks = stat
        if comm not in SHELLS or ppid <= 1:
            break
        parent = _proc_stat(ppid)
        if parent is None:
            break
        pid, stat = ppid, parent
    boot = _boot_time()
    if boot is None:
        return pid, None
    ticks_per_second = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    return pid, boot * 1000 + stat[2] * 1000 // ticks_per_second


@dataclass(frozen=True)
class GitInfo:
    project_id: str
    project_name: str
    branch: str


def _find_git_dir(start: Path) -> tuple[Path, Path] | None:
    """(work tree root, git dir) for ``start``, following ``.git`` files (worktrees)."""
    for folder in (start, *start.parents):
        dot_git = folder / ".git"
        if dot_git.is_dir():
            return folder, dot_git
        if dot_git.is_file():
            try:
                text = dot_git.read_text().strip()
            except OSError:
                return None
            if text.startswith("gitdir:"):
                git_dir = Path(text[len("gitdir:"):].strip())
                return folder, git_dir if git_dir.is_absolute() else (folder / git_dir).resolve()
            return None
    return None


def _git_remotes(config_text: str) -> dict[str, str]:
    """{remote name: url} from a git config file (the simple subset git writes itself)."""
    remotes: dict[str, str] = {}
    section: str | None = None
    for raw in config_text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            match = re.match(r'\[\s*remote\s+"([^"]*)"\s*\]', line)
            section = match.group(1) if match else None
            continue
        if section is not None:
            key, sep, value = line.partition("=")
            if sep and key.strip().lower() == "url" and section not in remotes:
                remotes[section] = value.strip().strip('"')
    return remotes


def normalize_remote(url: str) -> str:
    """A git remote as a stable project id: ``host/path`` without scheme, user, credentials,
    port or ``.git``, so the https and ssh clones of one repository agree
    (``https://tok@github.com/acme/api.git`` and ``git@github.com:acme/api`` →
    ``github.com/acme/api``). Local-path remotes stay paths."""
    from urllib.parse import urlsplit

    url = url.strip()
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme == "file" or not parts.hostname:
            path = parts.path
            return path.rstrip("/").removesuffix(".git") or path
        host, path = parts.hostname.lower(), parts.path
    else:
        match = re.match(r"^(?:[^@/]+@)?([^:/]+):(.*)$", url)
        if not match:  # a local path
            return url.rstrip("/").removesuffix(".git") or url
        host, path = match.group(1).lower(), match.group(2)
    path = path.strip("/").removesuffix(".git")
    return f"{host}/{path}" if path else host


def git_info(cwd: str) -> GitInfo:
    """Project identity and branch for ``cwd``, read from the .git files (no subprocess).

    Project id: the normalized ``origin`` remote (else the first remote), else the work
    tree's absolute path, else ``cwd`` itself."""
    if not cwd:
        return GitInfo("", "", "")
    start = Path(cwd)
    found = _find_git_dir(start) if start.is_absolute() else None
    if found is None:
        return GitInfo(cwd, start.name, "")
    root, git_dir = found
    branch = ""
    with contextlib.suppress(OSError):
        head = (git_dir / "HEAD").read_text().strip()
        if head.startswith("ref:"):
            branch = head[4:].strip().removeprefix("refs/heads/")
    common_dir = git_dir
    with contextlib.suppress(OSError):
        common = (git_dir / "commondir").read_text().strip()
        common_dir = Path(common) if Path(common).is_absolute() else (git_dir / common).resolve()
    remotes: dict[str, str] = {}
    with contextlib.suppress(OSError):
        remotes = _git_remotes((common_dir / "config").read_text())
    remote = remotes.get("origin") or next(iter(remotes.values()), "")
    if remote:
        project_id = normalize_remote(remote)
        return GitInfo(project_id, project_id.rstrip("/").rsplit("/", 1)[-1], branch)
    return GitInfo(str(root), root.name, branch)


def fork_parent(transcript_path: str, session_id: str) -> str:
    """The session a fork was copied from, read from the head of the fork's transcript.

    Evidence, per line: ``forkedFrom.sessionId``, else a ``requestSessionId`` or
    ``sessionId`` that is not the fork's own (lines copied from the parent). Empty when the
    transcript does not exist yet or names no other session."""
    try:
        handle = open(transcript_path, "rb")  # noqa: SIM115 - closed below
    except OSError:
        return ""
    with handle:
        head = handle.read(TRANSCRIPT_HEAD_BYTES)
    for raw in head.splitlines():
        if b"essionId" not in raw:
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(line, dict):
            continue
        forked = line.get("forkedFrom")
        if isinstance(forked, dict) and forked.get("sessionId") and forked["sessionId"] != session_id:
            return str(forked["sessionId"])
        for key in ("requestSessionId", "sessionId"):
            other = line.get(key)
            if isinstance(other, str) and other and other != session_id:
                return other
    return ""


def last_compaction(transcript_path: str) -> dict[str, int]:
    """pre_tokens, post_tokens, duration_ms of the newest ``compact_boundary`` in the
    transcript (read from its tail), or {} if there is none."""
    try:
        with open(transcript_path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - TRANSCRIPT_TAIL_BYTES))
            tail = handle.read()
    except OSError:
        return {}
    for raw in reversed(tail.splitlines()):
        if b'"compact_boundary"' not in raw:
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        meta = line.get("compactMetadata") if isinstance(line, dict) else None
        if not isinstance(meta, dict):
            continue
        result: dict[str, int] = {}
        for src, dst in (("preTokens", "pre_tokens"), ("postTokens", "post_tokens"),
                         ("durationMs", "duration_ms")):
            value = meta.get(src)
            if isinstance(value, int | float) and not isinstance(value, bool):
                result[dst] = int(value)
        return result
    return {}


def _pending_fork_marker(spool_dir: Path, session_id: str) -> Path:
    safe = re.sub(r"[^0-9A-Za-z_.-]", "_", session_id)[:200]
    return spool_dir / ".pending-fork" / safe


def gather_context(payload: Mapping[str, Any], options: HookOptions, now_ns: int | None = None) -> HookContext:
    """Read the local facts for one payload: CLI run, git project, fork parent, compaction.

    A fork's transcript may not hold the copied lines yet when SessionStart(fork) runs; then
    a marker is left and the next hook of that session looks again (and carries the parent)."""
    host = socket.gethostname()
    pid, started_ms = find_cli_run()
    info = git_info(str(payload.get("cwd") or ""))
    event = payload.get("hook_event_name")
    source = payload.get("source")
    session_id = str(payload.get("session_id") or "")
    transcript = str(payload.get("transcript_path") or "")
    parent = ""
    if session_id and transcript:
        marker = _pending_fork_marker(options.spool_dir, session_id)
        if event == "SessionStart" and source == "fork":
            parent = fork_parent(transcript, session_id)
            if not parent:
                with contextlib.suppress(OSError):
                    marker.parent.mkdir(parents=True, exist_ok=True)
                    marker.write_text(transcript)
        elif marker.exists():
            parent = fork_parent(transcript, session_id)
            if parent or event == "SessionEnd":
                with contextlib.suppress(OSError):
                    marker.unlink()
    compaction: dict[str, int] = {}
    if transcript and (event == "PostCompact" or (event == "SessionStart" and source == "compact")):
        compaction = last_compaction(transcript)
    return HookContext(
        host=host,
        time_unix_nano=time.time_ns() if now_ns is None else now_ns,
        include_prompts=options.include_prompts,
        cli_run_pid=pid,
        cli_run_started_ms=started_ms,
        project_id=info.project_id,
        project_name=info.project_name,
        git_branch=info.branch,
        parent_session_id=parent,
        compaction=compaction,
    )


# --------------------------------------------------------------------------- options


def _state_home() -> Path:
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "loomline"


def default_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "loomline" / "hook.json"


@dataclass(frozen=True)
class HookOptions:
    """How the hook sends: flags > config file (``LOOMLINE_HOOK_CONFIG`` or
    ``~/.config/loomline/hook.json``) > defaults. Not OTEL_*: Claude Code strips those from
    hook processes."""

    endpoint: str = ""
    protocol: str = "grpc"
    headers: tuple[tuple[str, str], ...] = ()
    include_prompts: bool = False
    timeout: float = 1.0
    spool_dir: Path = field(default_factory=lambda: _state_home() / "spool")
    log_file: Path = field(default_factory=lambda: _state_home() / "hook.log")
    spool_max_records: int = 5000
    spool_max_bytes: int = 20 * 1024 * 1024
    retry_after: float = 5.0  # seconds to skip the network after a failed send

    @property
    def resolved_endpoint(self) -> str:
        if self.protocol == "http/protobuf":
            if not self.endpoint:
                return DEFAULT_HTTP_ENDPOINT
            url = self.endpoint.rstrip("/")
            return url if url.endswith("/v1/logs") else url + "/v1/logs"
        return self.endpoint or DEFAULT_GRPC_ENDPOINT


def parse_header(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


_CONFIG_KEYS = {
    "endpoint": str, "protocol": str, "include_prompts": bool, "timeout": float,
    "spool_dir": Path, "log_file": Path, "spool_max_records": int, "spool_max_bytes": int,
    "retry_after": float,
}


def load_options(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> HookOptions:
    """Resolve options from parsed flags and the config file. Raises ValueError on a bad
    value (the caller logs it and falls back to defaults)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    headers: dict[str, str] = {}
    config_path = getattr(args, "config", None) or env.get(CONFIG_ENV) or str(default_config_path())
    path = Path(config_path).expanduser()
    if path.is_file():
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object")
        for key, value in data.items():
            if key == "headers":
                if not isinstance(value, dict):
                    raise ValueError(f"{path}: headers must be an object")
                headers.update({str(k): str(v) for k, v in value.items()})
            elif key in _CONFIG_KEYS:
                kind = _CONFIG_KEYS[key]
                values[key] = Path(str(value)).expanduser() if kind is Path else kind(value)
    for key in _CONFIG_KEYS:
        flag_value = getattr(args, key, None)
        if flag_value is not None:
            values[key] = Path(flag_value).expanduser() if _CONFIG_KEYS[key] is Path else flag_value
    for item in getattr(args, "header", None) or []:
        key, value = parse_header(item)
        headers[key] = value
    if headers:
        values["headers"] = tuple(headers.items())
    options = HookOptions(**values)
    if options.protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {options.protocol!r}")
    if options.timeout <= 0:
        raise ValueError("timeout must be positive")
    return options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``loomline hook``. A bad flag must not block Claude Code (exit 2 blocks a
    tool call), so parse errors are logged and end the hook with status 0."""
    parser.add_argument("--endpoint", default=None, metavar="URL",
                        help=f"receiver OTLP endpoint (default {DEFAULT_GRPC_ENDPOINT} for grpc, "
                             f"{DEFAULT_HTTP_ENDPOINT} for http/protobuf)")
    parser.add_argument("--protocol", default=None, choices=PROTOCOLS,
                        help="OTLP transport (default grpc)")
    parser.add_argument("--header", action="append", default=[], metavar="KEY=VALUE",
                        help="header sent with each export, e.g. authorization=Bearer TOKEN (repeatable)")
    parser.add_argument("--include-prompts", action="store_true", default=None,
                        help="also send prompt, summary and last assistant message text")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="export timeout (default 1.0; SessionEnd hooks get 1.5 s in all)")
    parser.add_argument("--spool-dir", default=None, metavar="DIR",
                        help="where records wait while the receiver is unreachable "
                             "(default ~/.local/state/loomline/spool)")
    parser.add_argument("--spool-max-records", type=int, default=None, metavar="N",
                        help="spool bound in records; the oldest are dropped (default 5000)")
    parser.add_argument("--spool-max-bytes", type=int, default=None, metavar="N",
                        help="spool bound in bytes; the oldest are dropped (default 20 MiB)")
    parser.add_argument("--retry-after", type=float, default=None, metavar="SECONDS",
                        help="after a failed send, spool without trying the network for this long "
                             "(default 5)")
    parser.add_argument("--log-file", default=None, metavar="PATH",
                        help="local log (default ~/.local/state/loomline/hook.log)")
    parser.add_argument("--config", default=None, metavar="PATH",
                        help=f"JSON config file (default ${CONFIG_ENV} or ~/.config/loomline/hook.json)")

    def error(message: str) -> None:  # replaces argparse's exit status 2
        _log(_state_home() / "hook.log", f"ERROR bad arguments: {message}: {sys.argv[1:]!r}")
        raise SystemExit(0)

    parser.error = error  # type: ignore[method-assign,assignment]


# --------------------------------------------------------------------------- log file


def _log(log_file: Path, message: str) -> None:
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


class _FileLogHandler:
    """Routes the SDK's and gRPC's ``logging`` output to the local log instead of stderr."""

    @staticmethod
    def install(log_file: Path) -> None:
        import logging

        class Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                _log(log_file, f"{record.levelname} {record.name}: {record.getMessage()}")

        root = logging.getLogger()
        root.handlers[:] = [Handler(logging.WARNING)]
        root.setLevel(logging.WARNING)
        logging.captureWarnings(True)


# --------------------------------------------------------------------------- spool


class Spool:
    """Records waiting for the receiver: one JSON file per record, named by time so a
    directory listing is the send order. Writers append with an atomic rename; whoever holds
    the lock file sends, deletes what was acknowledged, and enforces the bounds."""

    def __init__(self, directory: Path, max_records: int, max_bytes: int, log_file: Path) -> None:
        self.directory = directory
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.log_file = log_file
        self._lock_fd: int | None = None

    def lock(self, timeout: float) -> bool:
        """Take the spool lock, waiting up to ``timeout`` seconds."""
        import fcntl

        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._lock_fd = fd
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.005)

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    def files(self) -> list[Path]:
        try:
            return sorted(p for p in self.directory.iterdir() if p.suffix == ".json")
        except OSError:
            return []

    def append(self, record: HookRecord) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{record.time_unix_nano:020d}-{os.getpid()}-{time.perf_counter_ns() % 10**9:09d}"
        tmp = self.directory / (name + ".tmp")
        tmp.write_text(record.to_json(), encoding="utf-8")
        final = self.directory / (name + ".json")
        os.replace(tmp, final)
        return final

    def enforce_bounds(self) -> None:
        """Drop the oldest records beyond the record and byte bounds, and files left half
        written by a killed hook (lock held)."""
        with contextlib.suppress(OSError):
            for tmp in self.directory.glob("*.tmp"):
                if time.time() - tmp.stat().st_mtime > 60:
                    tmp.unlink()
        paths = self.files()
        sizes = []
        for path in paths:
            try:
                sizes.append(path.stat().st_size)
            except OSError:
                sizes.append(0)
        total = sum(sizes)
        drop = 0
        while drop < len(paths) and (len(paths) - drop > self.max_records or total > self.max_bytes):
            total -= sizes[drop]
            drop += 1
        for path in paths[:drop]:
            with contextlib.suppress(OSError):
                path.unlink()
        if drop:
            _log(self.log_file, f"WARNING spool full: dropped the {drop} oldest record(s)")

    def read(self, paths: Sequence[Path]) -> Iterator[tuple[Path, HookRecord]]:
        for path in paths:
            try:
                yield path, HookRecord.from_json(path.read_bytes())
            except FileNotFoundError:
                continue
            except (OSError, ValueError, KeyError, TypeError) as exc:
                _log(self.log_file, f"ERROR unreadable spool file {path.name} dropped: {exc}")
                with contextlib.suppress(OSError):
                    path.unlink()


# --------------------------------------------------------------------------- sending


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
        _log(options.log_file, "WARNING spool busy: record left for the next hook")
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
            _log(options.log_file, f"WARNING receiver {options.resolved_endpoint} unreachable: "
                                   f"record spooled ({len(spool.files())} waiting)")
            return False
        with contextlib.suppress(OSError):
            down.unlink()
        if len(pending) > 1:
            _log(options.log_file, f"INFO spool flushed: {len(pending) - 1} earlier record(s) sent")
        if own.exists():
            _log(options.log_file, "WARNING backlog not fully sent in time: record left for the next hook")
            return False
        return True
    finally:
        spool.unlock()


def _export(exporter: Any, records: Sequence[HookRecord], options: HookOptions) -> bool:
    from opentelemetry.sdk._logs.export import LogRecordExportResult

    try:
        result = exporter.export([r.to_readable() for r in records])
    except Exception as exc:  # noqa: BLE001 - any exporter failure means 'spool it'
        _log(options.log_file, f"ERROR export failed: {exc!r}")
        return False
    return bool(result == LogRecordExportResult.SUCCESS)


# --------------------------------------------------------------------------- command


def read_payload(raw: bytes) -> dict[str, Any]:
    """Parse the hook's stdin. Raises ValueError unless it is a JSON object naming a hook."""
    if not raw.strip():
        raise ValueError("empty stdin")
    payload = json.loads(raw)
    if not isinstance(payload, dict):
        raise ValueError(f"expected a JSON object, got {type(payload).__name__}")
    if not isinstance(payload.get("hook_event_name"), str) or not payload["hook_event_name"]:
        raise ValueError("no hook_event_name")
    return payload


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
    log_file = _state_home() / "hook.log"
    watchdog: Any = None
    try:
        with _stdout_silenced():
            started = time.monotonic()
            try:
                options = load_options(args)
            except Exception as exc:  # noqa: BLE001
                _log(log_file, f"ERROR bad options, using defaults: {exc}")
                options = HookOptions()
            log_file = options.log_file
            _FileLogHandler.install(log_file)
            raw = b"" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read()
            # Bounds our own work, counted from when Claude Code has handed over the payload.
            watchdog = _start_watchdog(options.timeout + WATCHDOG_GRACE, log_file)
            try:
                payload = read_payload(raw)
            except ValueError as exc:
                _log(log_file, f"ERROR unusable hook input ({exc}): {raw[:200]!r}")
                return 0
            if payload["hook_event_name"] not in EVENT_NAMES:
                _log(log_file, f"INFO unknown hook event {payload['hook_event_name']!r}: sent as "
                               f"{event_name_for(payload['hook_event_name'])}")
            record = build_record(payload, gather_context(payload, options))
            deliver(record, options)
            elapsed = time.monotonic() - started
            if elapsed > 0.5:
                _log(log_file, f"WARNING slow hook: {elapsed * 1000:.0f} ms for {record.body}")
    except BaseException as exc:  # noqa: BLE001 - never fail Claude Code, whatever happened
        _log(log_file, f"ERROR hook failed: {exc!r}")
    finally:
        if watchdog is not None:
            watchdog.cancel()
    return 0


def _start_watchdog(seconds: float, log_file: Path) -> Any:
    """Exit 0 after ``seconds`` whatever the hook is stuck on (a hung file system, a lock).
    Safe because the record was spooled before any network I/O."""
    import threading

    def expire() -> None:
        _log(log_file, f"ERROR hook still running after {seconds:.1f} s: exiting, record stays spooled")
        os._exit(0)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    return timer


__all__ = [
    "HookContext", "HookOptions", "HookRecord", "Spool", "add_arguments", "build_record",
    "deliver", "event_name_for", "fork_parent", "gather_context", "git_info", "last_compaction",
    "load_options", "make_exporter", "normalize_remote", "read_payload", "run", "to_export_request",
]
