"""Install and drive the real Claude Code CLI for end-to-end tests.

- ``ensure_cli()`` installs ``@anthropic-ai/claude-code@<CLAUDE_CODE_VERSION>`` with npm into a
  cache directory (reused between runs) and returns the native binary. It raises
  ``CliUnavailable`` with a reason when npm or the package cannot be had, so tests can skip.
- ``ClaudeEnv`` is one throwaway world for the CLI: a ``HOME``, a project directory (a git
  repository), the stub API's URL and the OTLP endpoint/protocol its telemetry goes to.
- ``ClaudeEnv.print_run()`` runs ``claude -p PROMPT --output-format json [...]`` and returns
  the parsed result (session id, total_cost_usd, usage): the ground truth tests compare with.
- ``InteractiveSession`` drives an interactive ``claude`` in tmux (send-keys / capture-pane).

Environment overrides: ``LOOMLINE_E2E_CLAUDE_VERSION``, ``LOOMLINE_E2E_CACHE`` (cache root),
``LOOMLINE_E2E_CLAUDE_BIN`` (use this binary, skip npm).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLAUDE_CODE_VERSION = os.environ.get("LOOMLINE_E2E_CLAUDE_VERSION", "2.1.328")
# The newest release, pinned too: test_claude_code_versions.py runs a representative subset
# on both (docs/e2e.md, "Version drift").
NEWEST_CLAUDE_CODE_VERSION = os.environ.get("LOOMLINE_E2E_NEWEST_CLAUDE_VERSION", "2.1.332")
PINNED_VERSIONS = tuple(dict.fromkeys((CLAUDE_CODE_VERSION, NEWEST_CLAUDE_CODE_VERSION)))
CACHE_ROOT = Path(os.environ.get("LOOMLINE_E2E_CACHE", Path.home() / ".cache" / "loomline-e2e"))
API_KEY = "sk-ant-test"
NPM_TIMEOUT_S = 600
RUN_TIMEOUT_S = 120
# The screens a fresh HOME shows before the input box: (name, text that shows it, option to
# choose). The folder-trust list selects "No, exit" first; its second option trusts.
FIRST_RUN_SCREENS = (
    ("trust", "Yes, I trust this folder", "Yes, I trust this folder"),
    ("api_key", "Do you want to use this API key", "Yes"),
)


class CliUnavailable(RuntimeError):
    """The CLI (or npm, or tmux) cannot be used here; the message says why."""


def _platform_package() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    system = {"linux": "linux", "darwin": "darwin"}.get(platform.system().lower(), platform.system().lower())
    musl = system == "linux" and not Path("/lib64/ld-linux-x86-64.so.2").exists() and any(
        Path("/lib").glob("ld-musl-*")
    )
    return f"@anthropic-ai/claude-code-{system}-{arch}{'-musl' if musl else ''}"


def find_binary(prefix: Path) -> Path | None:
    """The native ``claude`` executable inside an npm install prefix, if present."""
    modules = prefix / "node_modules"
    candidates = [
        modules / _platform_package() / "claude",
        modules / "@anthropic-ai" / "claude-code" / "bin" / "claude.exe",
        modules / ".bin" / "claude",
    ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate.resolve()
    return None


def cli_version(binary: Path) -> str:
    """The version ``binary --version`` reports; "" when it cannot run (half written, say)."""
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip().split()[0] if out.returncode == 0 and out.stdout.strip() else ""


def ensure_cli(version: str = CLAUDE_CODE_VERSION) -> Path:
    """Install (once, cached) the pinned CLI and return its native binary."""
    override = os.environ.get("LOOMLINE_E2E_CLAUDE_BIN")
    if override:
        if not Path(override).is_file():
            raise CliUnavailable(f"LOOMLINE_E2E_CLAUDE_BIN={override} does not exist")
        return Path(override)
    prefix = CACHE_ROOT / f"claude-code-{version}"
    binary = find_binary(prefix)
    if binary is not None and cli_version(binary) == version:
        return binary
    npm = shutil.which("npm")
    if npm is None:
        raise CliUnavailable("npm is not installed (needed to install @anthropic-ai/claude-code)")
    prefix.mkdir(parents=True, exist_ok=True)
    # A lock file keeps two test processes from installing into one prefix at once. A waiter
    # never runs the binary while the lock is held: npm may be writing it (ETXTBSY); once it
    # holds the lock itself it looks again, and installs only if the other one did not.
    lock = prefix / ".install.lock"
    deadline = time.monotonic() + NPM_TIMEOUT_S
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            break
        except FileExistsError:
            if _holder_gone(lock):  # a run killed mid-install left its lock behind
                lock.unlink(missing_ok=True)
                continue
            if time.monotonic() > deadline:
                raise CliUnavailable(f"timed out waiting for another install ({lock})") from None
            time.sleep(1)
    try:
        binary = find_binary(prefix)
        if binary is not None and cli_version(binary) == version:
            return binary
        command = [
            npm, "install", "--no-audit", "--no-fund", "--no-save", "--loglevel=error",
            "--prefix", str(prefix), f"@anthropic-ai/claude-code@{version}",
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=NPM_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise CliUnavailable(f"npm install timed out after {NPM_TIMEOUT_S}s") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise CliUnavailable(f"npm install @anthropic-ai/claude-code@{version} failed: {' | '.join(tail)}")
    finally:
        lock.unlink(missing_ok=True)
    binary = find_binary(prefix)
    if binary is None:
        raise CliUnavailable(f"no native claude binary for {_platform_package()} under {prefix}")
    found = cli_version(binary)
    if found != version:
        raise CliUnavailable(f"installed claude reports version {found!r}, wanted {version}")
    return binary


def _holder_gone(lock: Path) -> bool:
    """True when the process that wrote ``lock`` no longer exists."""
    try:
        pid = int(lock.read_text().strip() or "0")
    except (OSError, ValueError):
        return False  # just created, not yet written: give it time
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass
class RunResult:
    """One ``claude -p --output-format json`` run: the CLI's own ground truth."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    result: dict[str, Any]  # the parsed JSON result ({} when stdout was not JSON)

    @property
    def session_id(self) -> str:
        return str(self.result.get("session_id", ""))

    @property
    def total_cost_usd(self) -> float:
        return float(self.result.get("total_cost_usd") or 0.0)

    @property
    def cost_micro_usd(self) -> int:
        return usd_to_micro(self.total_cost_usd)

    @property
    def usage(self) -> dict[str, Any]:
        return dict(self.result.get("usage") or {})

    @property
    def is_error(self) -> bool:
        return bool(self.result.get("is_error")) or self.returncode != 0


def usd_to_micro(usd: float) -> int:
    """Dollars to integer micro-dollars, rounding half away from zero (0.008 -> 8000)."""
    return int(round(usd * 1_000_000))


@dataclass
class ClaudeEnv:
    """A throwaway HOME + project for the CLI, wired to a stub API and an OTLP endpoint."""

    root: Path
    binary: Path
    base_url: str
    otlp_endpoint: str
    otlp_protocol: str = "http/json"
    extra_env: dict[str, str] = field(default_factory=dict)
    runs: list[RunResult] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.project.mkdir(parents=True, exist_ok=True)
        (self.home / ".claude").mkdir(exist_ok=True)
        if shutil.which("git") and not (self.project / ".git").exists():
            subprocess.run(["git", "init", "-q", "-b", "main", str(self.project)], capture_output=True, timeout=30)
        self.seed_config()

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def project(self) -> Path:
        return self.root / "project"

    @property
    def settings_path(self) -> Path:
        return self.home / ".claude" / "settings.json"

    def seed_config(self, approve_key: bool = True, trust_project: bool = True) -> None:
        """Pre-seed ``~/.claude.json`` so the interactive CLI skips onboarding screens
        (theme picker, API key confirmation, folder trust)."""
        path = self.home / ".claude.json"
        config: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
        config.update({"hasCompletedOnboarding": True, "theme": "dark", "numStartups": 1})
        responses = config.setdefault("customApiKeyResponses", {"approved": [], "rejected": []})
        key_suffix = API_KEY[-20:]  # Claude Code remembers the last 20 characters
        responses["approved"] = [k for k in responses.get("approved", []) if k != key_suffix]
        if approve_key:
            responses["approved"].append(key_suffix)
        project = config.setdefault("projects", {}).setdefault(str(self.project), {})
        project.update({"hasTrustDialogAccepted": trust_project, "hasCompletedProjectOnboarding": trust_project})
        path.write_text(json.dumps(config, indent=2))

    def env(self) -> dict[str, str]:
        """The full environment for the CLI: nothing inherited but PATH and locale."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "TERM": "xterm-256color",
            "SHELL": "/bin/bash",
            "ANTHROPIC_BASE_URL": self.base_url,
            "ANTHROPIC_API_KEY": API_KEY,
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
            "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA": "1",
            "OTEL_LOGS_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": self.otlp_protocol,
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.otlp_endpoint,
            "OTEL_METRIC_EXPORT_INTERVAL": "1000",
            "OTEL_LOGS_EXPORT_INTERVAL": "500",
            "OTEL_TRACES_EXPORT_INTERVAL": "500",
            "OTEL_LOG_USER_PROMPTS": "1",
            "OTEL_LOG_TOOL_DETAILS": "1",
            # Bounds Claude Code's OpenTelemetry shutdown handler (default 2 s); its exit
            # races every cleanup handler against a fixed 2 s anyway, so this only keeps the
            # handler from giving up first. What keeps the last log batch under load is the
            # logs' own connection (_own_logs_connection; docs/e2e.md, "The lost /exit prompt").
            "CLAUDE_CODE_OTEL_SHUTDOWN_TIMEOUT_MS": "15000",
        }
        env.update(_own_logs_connection(self.otlp_endpoint, self.otlp_protocol))
        env.update(self.extra_env)
        return env

    def print_run(
        self,
        prompt: str,
        *args: str,
        resume: str | None = None,
        cont: bool = False,
        fork: bool = False,
        timeout: float = RUN_TIMEOUT_S,
    ) -> RunResult:
        """``claude -p PROMPT --output-format json`` (+ --resume/--continue/--fork-session)."""
        argv = list(args)
        if resume:
            argv += ["--resume", resume]
        if cont:
            argv.append("--continue")
        if fork:
            argv.append("--fork-session")
        command = [str(self.binary), "-p", prompt, "--output-format", "json", *argv]
        done = subprocess.run(
            command, cwd=self.project, env=self.env(), capture_output=True, text=True,
            timeout=timeout, stdin=subprocess.DEVNULL,
        )
        result = parse_result(done.stdout)
        run = RunResult([prompt, *argv], done.returncode, done.stdout, done.stderr, result)
        self.runs.append(run)
        return run

    def transcripts(self) -> dict[str, list[dict[str, Any]]]:
        """Session id -> the transcript lines Claude Code wrote under ~/.claude/projects."""
        out: dict[str, list[dict[str, Any]]] = {}
        for path in sorted((self.home / ".claude" / "projects").glob("*/*.jsonl")):
            with open(path) as handle:
                out[path.stem] = [json.loads(line) for line in handle if line.strip()]
        return out


def _own_logs_connection(endpoint: str, protocol: str) -> dict[str, str]:
    """Over OTLP/HTTP, Claude Code sends logs, metrics and traces one request at a time over
    one keep-alive connection per host, and at exit it gives telemetry about 2 s (a fixed
    cap) plus the SessionEnd hooks' time: a last log batch queued behind slow metrics and
    trace answers is dropped (docs/e2e.md, "The lost /exit prompt"). Spelling the logs
    endpoint ``localhost`` instead of ``127.0.0.1`` gives the logs their own connection."""
    if not protocol.startswith("http"):
        return {}
    from urllib.parse import urlsplit

    parts = urlsplit(endpoint)
    if parts.hostname != "127.0.0.1" or parts.port is None:
        return {}
    import socket

    try:
        first = socket.getaddrinfo("localhost", parts.port, type=socket.SOCK_STREAM)[0][4][0]
    except OSError:
        return {}
    if first != "127.0.0.1":  # localhost is ::1 first here: the receiver listens on 127.0.0.1 only
        return {}
    return {"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": f"{parts.scheme}://localhost:{parts.port}/v1/logs"}


def parse_result(stdout: str) -> dict[str, Any]:
    """The JSON result object of ``--output-format json`` (last JSON line on stdout)."""
    text = stdout.strip()
    if not text:
        return {}
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
        for line in reversed(text.splitlines()):
            try:
                parsed = json.loads(line)
                break
            except ValueError:
                continue
    if isinstance(parsed, list):  # some versions print the message list; keep the result
        parsed = next((m for m in reversed(parsed) if isinstance(m, dict) and m.get("type") == "result"), {})
    return parsed if isinstance(parsed, dict) else {}


# -- interactive, through tmux ------------------------------------------------------------


def ensure_tmux() -> str:
    tmux = shutil.which("tmux")
    if tmux is None:
        raise CliUnavailable("tmux is not installed (needed for the interactive scenarios)")
    return tmux


class InteractiveSession:
    """An interactive ``claude`` in a detached tmux session with its own socket.

    ``type_line()`` sends text + Enter; ``wait_for()`` polls ``capture-pane`` until a
    string appears. First-run prompts (folder trust, API key confirmation) are answered by
    ``handle_first_run()`` when ``seed_config`` did not already skip them.
    """

    def __init__(self, env: ClaudeEnv, *args: str, width: int = 160, height: int = 50) -> None:
        self.env = env
        self.tmux = ensure_tmux()
        self.socket = str(env.root / f"tmux-{uuid.uuid4().hex[:8]}.sock")
        self.name = "claude"
        self.args = list(args)
        self.width, self.height = width, height
        self.started = False

    def _tmux(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.tmux, "-S", self.socket, *argv], capture_output=True, text=True, timeout=30, check=check
        )

    def start(self) -> InteractiveSession:
        env = self.env.env()
        env_args = [f"{k}={v}" for k, v in env.items()]
        command = ["env", "-i", *env_args, str(self.env.binary), *self.args]
        # remain-on-exit (set in the same tmux command) keeps the pane after the CLI exits,
        # so its last screen can still be read, even if it exits at once.
        self._tmux(
            "-f", "/dev/null", "new-session", "-d", "-s", self.name, "-x", str(self.width), "-y", str(self.height),
            "-c", str(self.env.project), _shell_join(command), ";",
            "set-option", "-t", self.name, "remain-on-exit", "on",
        )
        self.started = True
        return self

    def screen(self) -> str:
        done = self._tmux("capture-pane", "-p", "-t", self.name, check=False)
        return done.stdout

    def send_keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", self.name, *keys)

    def type_line(self, text: str, settle: float = 0.3) -> None:
        # Literal text first, then Enter as its own key, so slash commands are not mangled.
        self._tmux("send-keys", "-t", self.name, "-l", text)
        time.sleep(settle)
        self._tmux("send-keys", "-t", self.name, "Enter")

    def wait_for(self, *needles: str, timeout: float = 60.0, interval: float = 0.3) -> str:
        """Poll the screen until one of ``needles`` shows; return it (TimeoutError if not)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            for needle in needles:
                if needle in screen:
                    return needle
            time.sleep(interval)
        raise TimeoutError(f"none of {needles!r} on screen after {timeout}s; screen:\n{self.screen()}")

    def pane_dead(self) -> bool:
        done = self._tmux("display-message", "-p", "-t", self.name, "#{pane_dead}", check=False)
        return done.stdout.strip() == "1" or done.returncode != 0

    def wait_exit(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pane_dead():
                return True
            time.sleep(0.3)
        return False

    def handle_first_run(self, timeout: float = 45.0) -> list[str]:
        """Answer the screens a fresh HOME shows before the input box (folder trust, API
        key confirmation); returns what it answered, in order. ``seed_config`` skips them."""
        answered: list[str] = []
        still_showing: str | None = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            for name, marker, option in FIRST_RUN_SCREENS:
                if marker in screen:
                    gone = self._choose(screen, option, until_gone=marker)
                    if still_showing != name:  # an Enter sent again (dropped) answers it once
                        answered.append(name)
                    still_showing = None if gone else name
                    break
            else:
                if _looks_ready(screen):
                    return answered
                if self.pane_dead():
                    raise RuntimeError(f"interactive CLI exited during start-up; screen:\n{screen}")
            time.sleep(0.5)
        raise TimeoutError(f"interactive CLI not ready after {timeout}s; screen:\n{self.screen()}")

    def _choose(self, screen: str, option: str, until_gone: str | None = None) -> bool:
        """Move the ``❯`` cursor of a select list to the line starting with ``option``, check
        that it is there, then Enter (and wait for the screen to change; with ``until_gone``,
        for that text to leave it: a loaded TUI repaints before it moves on). One key at a
        time, re-reading the screen: on a loaded machine the TUI may drop or delay a key, and
        an Enter on the wrong line (``No, exit``) ends the CLI. True once the screen moved on."""
        original = screen
        deadline = time.monotonic() + 20
        while True:
            lines = [line.strip() for line in screen.splitlines()]
            current = next((i for i, line in enumerate(lines) if line.startswith("\u276f")), None)
            target = next((i for i, line in enumerate(lines) if _option_text(line).startswith(option)), None)
            if current is None or target is None or current == target:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"cannot move the selection to {option!r}; screen:\n{screen}")
            self.send_keys("Down" if target > current else "Up")
            moved = time.monotonic() + 2
            while time.monotonic() < moved and self.screen() == screen:
                time.sleep(0.15)
            screen = self.screen()
        self.send_keys("Enter")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            now = self.screen()
            if now not in (screen, original) and (until_gone is None or until_gone not in now):
                return True
            time.sleep(0.2)
        return False

    def close(self) -> None:
        if self.started:
            self._tmux("kill-server", check=False)
            self.started = False
        Path(self.socket).unlink(missing_ok=True)

    def __enter__(self) -> InteractiveSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _option_text(line: str) -> str:
    text = line.lstrip("\u276f").strip()
    if text[:2] in ("1.", "2.", "3.", "4."):
        text = text[2:].strip()
    return text


def _looks_ready(screen: str) -> bool:
    """The empty input box: a line that is just the ``❯`` prompt, right under a rule."""
    lines = [line.strip() for line in screen.splitlines()]
    return any(
        line == "\u276f" and i > 0 and lines[i - 1].startswith("\u2500") for i, line in enumerate(lines)
    )


def _shell_join(argv: Sequence[str]) -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in argv)


def hook_payloads(path: Path) -> list[dict[str, Any]]:
    """Lines of a JSONL file written by a recording hook (see ``recording_hook_settings``)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


HOOK_EVENTS = (
    "SessionStart", "SessionEnd", "PreCompact", "PostCompact", "Stop", "SubagentStop",
    "UserPromptSubmit", "PreToolUse", "PostToolUse", "Notification", "PreModelSwitch", "PostModelSwitch",
)


def recording_hook_settings(settings: Mapping[str, Any], log_path: Path) -> dict[str, Any]:
    """``settings`` plus a command hook on every event that appends its stdin to ``log_path``:
    the hook payloads Claude Code sent, as ground truth next to loomline's own hook."""
    command = f"cat >> {log_path} && echo >> {log_path}"
    hooks = {k: list(v) for k, v in (settings.get("hooks") or {}).items()}
    for event in HOOK_EVENTS:
        entry: dict[str, Any] = {"hooks": [{"type": "command", "command": command}]}
        if event in ("PreToolUse", "PostToolUse"):
            entry["matcher"] = "*"
        hooks.setdefault(event, []).append(entry)
    return {**settings, "hooks": hooks}
