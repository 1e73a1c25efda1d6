"""Re-record the Claude Code captures under tests/captures with the e2e harness.

    python -m tests.e2e.record_captures /tmp/captures                  # every scenario, 2.1.328
    python -m tests.e2e.record_captures /tmp/captures --version 2.1.332 --scenario fresh_tool fork

Each scenario runs the real CLI (installed and cached like the e2e tests) in a throwaway
HOME against the stub API (tests/e2e/stub_anthropic.py), exporting OTLP/HTTP JSON to a sink
that keeps every request body byte for byte, with a recording hook on every hook event.
It writes ``OUT/claude-code-<version>/<scenario>/`` in the layout tests/captures/README.md
describes (otlp.jsonl, hooks.jsonl, transcripts/, steps.json), with the throwaway HOME
and project paths rewritten to /home/dev and /home/dev/project. Compare with
``git diff --no-index`` before replacing a committed capture: ids, times and versions change
on every run, the shapes should not.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .claude_cli import (
    CLAUDE_CODE_VERSION,
    ClaudeEnv,
    InteractiveSession,
    ensure_cli,
    hook_payloads,
    recording_hook_settings,
)
from .stub_anthropic import REPLY_TEXT, StubAnthropic


class RawSink:
    """An OTLP/HTTP sink that keeps each request exactly as sent: (path, content type, body)."""

    def __init__(self) -> None:
        self.posts: list[dict[str, str]] = []
        lock = threading.Lock()
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    posts.append({"path": self.path.split("?")[0], "ct": self.headers.get("Content-Type", ""),
                                  "body": raw.decode("utf-8", "replace")})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, name="raw-sink", daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _wait_hooks(env: ClaudeEnv, event: str, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while sum(h["hook_event_name"] == event for h in hook_payloads(env.root / "hooks.jsonl")) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count} {event} hooks not seen in {timeout} s")
        time.sleep(0.2)
    time.sleep(0.5)  # typing while Claude Code still runs hooks queues the input


def _print_steps(*steps: tuple[str, tuple[str, ...], dict[str, Any]]) -> Callable[[ClaudeEnv], list[dict[str, Any]]]:
    """A scenario of ``claude -p`` runs; a step's options may name an earlier step's
    session with ``resume=<step index>``."""

    def run(env: ClaudeEnv) -> list[dict[str, Any]]:
        done: list[dict[str, Any]] = []
        for prompt, args, options in steps:
            options = dict(options)
            if isinstance(options.get("resume"), int):
                options["resume"] = done[options["resume"]]["session_id"]
            result = env.print_run(prompt, *args, **options)
            done.append({"prompt": prompt, "args": env.runs[-1].args[1:], "session_id": result.result.get("session_id", ""),
                         "rc": result.returncode})
        return done

    return run


def _first_turn(session: InteractiveSession, env: ClaudeEnv, text: str) -> None:
    """Past the first-run screens, one prompt answered and its Stop hook run."""
    session.handle_first_run()
    session.type_line(text)
    session.wait_for(REPLY_TEXT)
    _wait_hooks(env, "Stop", 1)


def _interactive(env: ClaudeEnv) -> list[dict[str, Any]]:
    typed = ["hello there", "/clear", "after clear", "/exit"]
    with InteractiveSession(env) as session:
        _first_turn(session, env, typed[0])
        session.type_line(typed[1])
        _wait_hooks(env, "SessionStart", 2)
        session.type_line(typed[2])
        session.wait_for(REPLY_TEXT)
        _wait_hooks(env, "Stop", 2)
        session.type_line(typed[3])
        if not session.wait_exit(60):
            raise RuntimeError("the interactive CLI did not exit:\n" + session.screen())
    return [{"typed": line} for line in typed]


def _model_switch(env: ClaudeEnv) -> list[dict[str, Any]]:
    """`/model haiku` between two prompts: PreModelSwitch / PostModelSwitch hooks and the
    second prompt's api_request on the new model. Claude Code asks "Switch model?" when the
    conversation is cached for the current model; the first option (switch) is confirmed."""
    typed = ["hello there", "/model haiku", "after the switch", "/exit"]
    with InteractiveSession(env) as session:
        _first_turn(session, env, typed[0])
        session.type_line(typed[1])
        if "Switch model?" in session.wait_for("Switch model?", "Set model to", timeout=60):
            session.send_keys("Enter")
        _wait_hooks(env, "PostModelSwitch", 1)
        session.type_line(typed[2])
        _wait_hooks(env, "Stop", 2)
        session.type_line(typed[3])
        if not session.wait_exit(60):
            raise RuntimeError("the interactive CLI did not exit:\n" + session.screen())
    return [{"typed": line} for line in typed]


AUTOCOMPACT = ("--autocompact", "100000")
SCENARIOS: dict[str, Callable[[ClaudeEnv], list[dict[str, Any]]]] = {
    "fresh_tool": _print_steps(("please run TOOL", (), {})),
    "resume_continue": _print_steps(("first", (), {}), ("second", (), {"resume": 0}), ("third", (), {"cont": True})),
    "fork": _print_steps(("first", (), {}), ("forked", (), {"resume": 0, "fork": True})),
    "compact_manual": _print_steps(("first", (), {}), ("more", (), {"resume": 0}), ("/compact", (), {"resume": 0})),
    "autocompact": _print_steps(("BIG context", AUTOCOMPACT, {}), ("BIG again", AUTOCOMPACT, {"resume": 0}),
                                ("BIG third", AUTOCOMPACT, {"resume": 0})),
    "api_retry": _print_steps(("this will FAIL once", (), {})),
    "api_error": _print_steps(("please REJECT this", (), {})),
    "interactive_clear_exit": _interactive,
    "model_switch": _model_switch,
}


def _anonymise(text: str, env: ClaudeEnv) -> str:
    return text.replace(str(env.project), "/home/dev/project").replace(str(env.home), "/home/dev")


def record(out: Path, version: str, names: list[str], log: Callable[[str], None] = print) -> None:
    binary = ensure_cli(version)
    for name in names:
        target = out / f"claude-code-{version}" / name
        with tempfile.TemporaryDirectory(prefix=f"loomline-capture-{name}-") as tmp, StubAnthropic() as stub:
            sink = RawSink()
            try:
                env = ClaudeEnv(Path(tmp) / name, binary, stub.base_url, sink.endpoint, "http/json",
                                {"CLAUDE_CODE_OTEL_SHUTDOWN_TIMEOUT_MS": "15000"})
                env.settings_path.write_text(json.dumps(recording_hook_settings({}, env.root / "hooks.jsonl")))
                steps = SCENARIOS[name](env)
                time.sleep(1.5)  # the last periodic exports (metrics every 1 s) after the CLI exited
            finally:
                sink.close()
            if target.exists():
                shutil.rmtree(target)
            (target / "transcripts").mkdir(parents=True)
            (target / "otlp.jsonl").write_text("".join(_anonymise(json.dumps(p), env) + "\n" for p in sink.posts))
            hooks = (env.root / "hooks.jsonl").read_text() if (env.root / "hooks.jsonl").is_file() else ""
            lines = [line for line in hooks.splitlines() if line.strip()]  # the hook adds a blank line
            (target / "hooks.jsonl").write_text("".join(_anonymise(line, env) + "\n" for line in lines))
            for path in sorted((env.home / ".claude" / "projects").glob("*/*.jsonl")):
                (target / "transcripts" / path.name).write_text(_anonymise(path.read_text(), env))
            (target / "steps.json").write_text(_anonymise(json.dumps(steps, indent=1), env))
            log(f"{target}: {len(sink.posts)} OTLP requests, {len(steps)} steps")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.record_captures", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="directory to write claude-code-<version>/<scenario>/ into")
    parser.add_argument("--version", default=CLAUDE_CODE_VERSION, help="Claude Code version (default %(default)s)")
    parser.add_argument("--scenario", nargs="+", choices=sorted(SCENARIOS), default=list(SCENARIOS),
                        help="scenarios to record (default: all)")
    args = parser.parse_args(argv)
    record(args.out, args.version, args.scenario)
    return 0


if __name__ == "__main__":
    sys.exit(main())
