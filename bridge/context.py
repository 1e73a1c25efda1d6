"""What only the local machine knows about a hook: the Claude Code process that ran it (the
CLI run), the git project and branch of ``cwd``, a fork's parent session and a compaction's
token counts (both read from the transcript)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bridge.options import HookOptions
from bridge.record import HookContext, HookRecord

# Parent processes skipped when looking for Claude Code (it may run hooks through a shell).
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "fish", "ksh", "mksh", "busybox", "env"})
TRANSCRIPT_HEAD_BYTES = 4 * 1024 * 1024
TRANSCRIPT_TAIL_BYTES = 4 * 1024 * 1024



def parse_proc_stat(text: str) -> tuple[str, int, int] | None:
    """(command name, parent pid, start time in clock ticks since boot) from the text of
    /proc/PID/stat; None when it is not one."""
    open_paren, close_paren = text.find("("), text.rfind(")")
    fields = text[close_paren + 2:].split()
    # fields[0] is field 3 (state): ppid is field 4, starttime field 22.
    try:
        return text[open_paren + 1:close_paren], int(fields[1]), int(fields[19])
    except (IndexError, ValueError):
        return None


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(command name, parent pid, start time in clock ticks since boot) from /proc."""
    try:
        return parse_proc_stat(Path(f"/proc/{pid}/stat").read_text())
    except OSError:
        return None


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


def find_cli_run(start_pid: int | None = None,
                 stats: Mapping[int, str] | None = None) -> tuple[int | None, int | None]:
    """(pid, start time in ms since the epoch) of the Claude Code process running this hook.

    That is the hook's parent (``start_pid``, default our parent), or the first ancestor
    that is not a shell when Claude Code ran the command through one (or the shell hook
    handed over to the Python hook). ``stats``: the /proc/PID/stat texts of those processes
    as the shell hook read them at hook time (its sender builds the record later, when a
    shell in between may be gone); without them, /proc (or ps) is read now."""
    pid = os.getppid() if start_pid is None else start_pid
    if pid <= 1:
        return None, None

    def stat_of(of: int) -> tuple[str, int, int] | None:
        if stats is None:
            return _proc_stat(of)
        return parse_proc_stat(stats[of]) if of in stats else None

    stat = stat_of(pid)
    if stat is None:
        return pid, None if stats is not None else _ps_start_ms(pid)
    for _ in range(3):
        comm, ppid, _ticks = stat
        if comm not in SHELLS or ppid <= 1:
            break
        parent = stat_of(ppid)
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


def _read_tail(transcript_path: str) -> bytes | None:
    try:
        with open(transcript_path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - TRANSCRIPT_TAIL_BYTES))
            return handle.read()
    except OSError:
        return None


def _boundary_tokens(meta: Mapping[str, Any]) -> dict[str, int]:
    result: dict[str, int] = {}
    for src, dst in (("preTokens", "pre_tokens"), ("postTokens", "post_tokens"),
                     ("durationMs", "duration_ms")):
        value = meta.get(src)
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 2**53:
            result[dst] = int(value)
    return result


def _json_line(raw: bytes) -> dict[str, Any] | None:
    try:
        line = json.loads(raw)
    except ValueError:
        return None
    return line if isinstance(line, dict) else None


@dataclass(frozen=True)
class Boundary:
    """One ``compact_boundary`` line of a transcript."""

    uuid: str
    prompt_id: str  # promptId of the compact summary written right after it ("" if none yet)
    tokens: dict[str, int]  # pre_tokens, post_tokens, duration_ms


def compaction_boundaries(transcript_path: str) -> list[Boundary]:
    """Every ``compact_boundary`` in the transcript's tail, oldest first.

    A boundary names no prompt itself; the compact summary Claude Code writes right after
    it (``isCompactSummary``) carries the compaction's ``promptId``, which is also the
    ``prompt_id`` of that compaction's PreCompact / SessionStart(compact) / PostCompact
    hooks."""
    tail = _read_tail(transcript_path)
    if not tail:
        return []
    lines = tail.splitlines()
    found: list[Boundary] = []
    for index, raw in enumerate(lines):
        if b'"compact_boundary"' not in raw:
            continue
        line = _json_line(raw)
        if line is None or line.get("subtype") != "compact_boundary":
            continue
        meta = line.get("compactMetadata")
        prompt_id = ""
        for later in lines[index + 1:index + 16]:
            if b'"compact_boundary"' in later:
                break
            if b"isCompactSummary" not in later:
                continue
            summary = _json_line(later)
            if summary and summary.get("isCompactSummary") is True and isinstance(summary.get("promptId"), str):
                prompt_id = summary["promptId"]
                break
        found.append(Boundary(str(line.get("uuid") or ""), prompt_id,
                              _boundary_tokens(meta) if isinstance(meta, dict) else {}))
    return found


def last_compaction(transcript_path: str) -> dict[str, int]:
    """pre_tokens, post_tokens, duration_ms of the newest ``compact_boundary`` in the
    transcript (read from its tail), or {} if there is none."""
    boundaries = compaction_boundaries(transcript_path)
    return dict(boundaries[-1].tokens) if boundaries else {}


def match_compaction(boundaries: Sequence[Boundary], prompt_id: str,
                     known: Sequence[str] = ()) -> dict[str, int] | None:
    """The tokens of *this* compaction's boundary, or None while it is not in the transcript.

    With the hook's ``prompt_id``: the newest boundary whose compact summary has that
    prompt id. Without one (older Claude Code): the newest boundary not in ``known`` (the
    boundaries that were already there when the hook ran). Never an earlier compaction's:
    at PostCompact Claude Code has not written this compaction's boundary yet, so 'the
    newest boundary' would be the previous one."""
    if prompt_id:
        for boundary in reversed(boundaries):
            if boundary.prompt_id == prompt_id:
                return dict(boundary.tokens)
        return None
    fresh = [b for b in boundaries if b.uuid not in set(known)]
    return dict(fresh[-1].tokens) if fresh else None


def resolve_pending(record: HookRecord, now_ns: int | None = None) -> HookRecord | None:
    """``record`` completed with what it was waiting for, or None to keep waiting.

    A compaction record waits for its boundary until ``until_ns``; then it goes out without
    token counts (never with another compaction's)."""
    spec = record.pending.get("compaction")
    if not isinstance(spec, dict):
        return record.completed({})
    now_ns = time.time_ns() if now_ns is None else now_ns
    tokens = match_compaction(compaction_boundaries(str(spec.get("transcript") or "")),
                              str(spec.get("prompt_id") or ""), [str(u) for u in spec.get("known") or []])
    if tokens is not None:
        return record.completed(tokens)
    if now_ns >= int(spec.get("until_ns") or 0):
        return record.completed({})
    return None


def _pending_fork_marker(spool_dir: Path, session_id: str) -> Path:
    safe = re.sub(r"[^0-9A-Za-z_.-]", "_", session_id)[:200]
    return spool_dir / ".pending-fork" / safe


def _hostname() -> str:
    """The host name, as ``socket.gethostname()`` gives it, without importing socket (the
    hook's start-up time is what Claude Code waits for)."""
    try:
        return os.uname().nodename
    except AttributeError:  # no uname (Windows)
        import socket

        return socket.gethostname()


def gather_context(payload: Mapping[str, Any], options: HookOptions, now_ns: int | None = None,
                   cli_run: tuple[int | None, int | None] | None = None) -> HookContext:
    """Read the local facts for one payload: CLI run (``find_cli_run()`` unless given),
    git project, fork parent, compaction. ``now_ns``: the hook's time (default: now).

    A fork's transcript may not hold the copied lines yet when SessionStart(fork) runs; then
    a marker is left and the next hook of that session looks again (and carries the parent)."""
    host = _hostname()
    pid, started_ms = find_cli_run() if cli_run is None else cli_run
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
    now_ns = time.time_ns() if now_ns is None else now_ns
    compaction: dict[str, int] = {}
    pending: dict[str, Any] = {}
    if transcript and (event == "PostCompact" or (event == "SessionStart" and source == "compact")):
        prompt_id = str(payload.get("prompt_id") or "")
        boundaries = compaction_boundaries(transcript)
        found = match_compaction(boundaries, prompt_id) if prompt_id else None
        if found is not None:
            compaction = found
        else:  # not written yet: the sender attaches it when it appears
            pending = {"transcript": transcript, "prompt_id": prompt_id,
                       "known": [] if prompt_id else [b.uuid for b in boundaries],
                       "until_ns": now_ns + int(options.compaction_wait * 1e9)}
    return HookContext(
        host=host,
        time_unix_nano=now_ns,
        include_prompts=options.include_prompts,
        cli_run_pid=pid,
        cli_run_started_ms=started_ms,
        project_id=info.project_id,
        project_name=info.project_name,
        git_branch=info.branch,
        parent_session_id=parent,
        compaction=compaction,
        org_id=options.org,
        pending_compaction=pending,
    )

