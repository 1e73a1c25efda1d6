"""Reproduce the lost last log batch (docs/e2e.md, "The lost /exit prompt"): an
interactive session with loomline's hook bridge, `hello there` then `/exit`, against a real
`loomline serve`; prints the `user_prompt` command names loomline stored (`['', 'exit']`
when nothing was lost). Loses it about 1 run in 4 at load ~11.

    python -m tests.e2e.repro_last_batch [OUT_DIR [ROUNDS [PROTOCOL...]]]

Each trial keeps, under OUT_DIR/<trial>/: the server's log at debug level
(`chdb-serve.log`, one line per export request), the CLI's own debug log
(`claude-debug.log`, its `[3P telemetry]` lines and shutdown steps) and the hook payloads.
Extra environment for the CLI: LOOMLINE_REPRO_CLI_ENV="NAME=value,NAME=value".
LOOMLINE_REPRO_SERVE_ARGS="--flag value" adds `loomline serve` arguments.
LOOMLINE_REPRO_STRACE=1 runs the CLI under strace (its socket writes, `cli.strace`).
"""
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.e2e.claude_cli import ClaudeEnv, InteractiveSession, ensure_cli, hook_payloads
from tests.e2e.loomline_serve import REPO_ROOT, LoomlineServer, python_env
from tests.e2e.stub_anthropic import REPLY_TEXT, StubAnthropic
from tests.e2e.test_claude_code_e2e import install_hooks, wait_for_hooks

TELEMETRY_WORDS = ("telemetry", "OpenTelemetry", "OTEL", "Cleanup", "shutdown", "SessionEnd", "export")


def trial(out: Path, name: str, protocol: str) -> bool:
    root = out / name
    root.mkdir(parents=True, exist_ok=True)
    with StubAnthropic() as stub:
        serve_args = os.environ.get("LOOMLINE_REPRO_SERVE_ARGS", "").split()
        server = LoomlineServer(root / "chdb", "loomline", "--log-level", "debug", *serve_args).start()
        try:
            extra = {"PYTHONPATH": str(REPO_ROOT), "PATH": f"{Path(sys.executable).parent}:{python_env()['PATH']}"}
            for pair in filter(None, os.environ.get("LOOMLINE_REPRO_CLI_ENV", "").split(",")):
                key, _, value = pair.partition("=")
                extra[key.strip()] = value.strip()
            binary = ensure_cli()
            if os.environ.get("LOOMLINE_REPRO_STRACE"):
                wrapper = root / "claude-strace.sh"
                wrapper.write_text(
                    "#!/bin/sh\nexec strace -f -tt -s 64 -e trace=connect,sendto,sendmsg,write,writev,shutdown,close,exit_group"
                    f" -o {root / 'cli.strace'} {binary} \"$@\"\n"
                )
                wrapper.chmod(0o755)
                binary = wrapper
            env = ClaudeEnv(root / "env", binary, stub.base_url, server.endpoint(protocol), protocol, extra)
            install_hooks(env, server, protocol)
            hooks = env.root / "hooks.jsonl"
            debug_log = root / "claude-debug.log"
            with InteractiveSession(env, "--debug-file", str(debug_log)) as s:
                s.handle_first_run()
                s.type_line("hello there")
                s.wait_for(REPLY_TEXT)
                wait_for_hooks(hooks, "Stop", 1)
                s.type_line("/exit")
                s.wait_exit(60)
            sid = [h["session_id"] for h in hook_payloads(hooks) if h["hook_event_name"] == "SessionStart"][0]
            cmds: object = None
            for _ in range(30):
                st, body = server.get(f"/api/v1/default/llm_sessions/{sid}/events?type=user_prompt&limit=50")
                cmds = [e.get("command_name") for e in body.get("data", [])] if st == 200 else body
                if isinstance(cmds, list) and "exit" in cmds:
                    break
                time.sleep(1)
            lost = not (isinstance(cmds, list) and "exit" in cmds)
            print(name, protocol, "user_prompt command_names:", cmds, "LOST" if lost else "ok", flush=True)
            if debug_log.is_file():
                for line in debug_log.read_text(errors="replace").splitlines():
                    if any(word in line for word in TELEMETRY_WORDS):
                        print("   cli:", line[:300], flush=True)
            return lost
        finally:
            server.stop()
            for line in server.log().splitlines():
                if " logs export of " in line or "WARNING" in line or "ERROR" in line:
                    print("   serve:", line[:300], flush=True)


def main(argv: list[str]) -> int:
    out = Path(argv[1] if len(argv) > 1 else "/tmp/loomline-repro")
    rounds = int(argv[2]) if len(argv) > 2 else 2
    protocols = argv[3:] or ["grpc", "http/json"]
    lost = 0
    for i in range(rounds):
        for protocol in protocols:
            lost += trial(out, f"r{i}_{protocol.replace('/', '_')}", protocol)
    print(f"lost {lost} of {rounds * len(protocols)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
