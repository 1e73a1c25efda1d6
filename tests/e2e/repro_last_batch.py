"""Reproduce the lost last log batch (docs/e2e.md, "The lost /exit prompt"): an
interactive session with loomline's hook bridge, `hello there` then `/exit`, against a real
`loomline serve`, twice per protocol; prints the `user_prompt` command names loomline
stored (`['', 'exit']` when nothing was lost). Loses it about 1 run in 4 at load ~11.

    python -m tests.e2e.repro_last_batch [OUT_DIR]     # data dirs kept for inspection
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.e2e.claude_cli import ClaudeEnv, InteractiveSession, ensure_cli, hook_payloads
from tests.e2e.loomline_serve import REPO_ROOT, LoomlineServer, python_env
from tests.e2e.stub_anthropic import REPLY_TEXT, StubAnthropic
from tests.e2e.test_claude_code_e2e import install_hooks, wait_for_hooks


def trial(name, protocol):
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/loomline-repro") / name
    root.mkdir(parents=True, exist_ok=True)
    with StubAnthropic() as stub:
        server = LoomlineServer(root / "chdb", "loomline", "--log-level", "debug").start()
        try:
            extra = {"PYTHONPATH": str(REPO_ROOT), "PATH": f"{Path(sys.executable).parent}:{python_env()['PATH']}",
}
            env = ClaudeEnv(root / "env", ensure_cli(), stub.base_url, server.endpoint(protocol), protocol, extra)
            install_hooks(env, server, protocol)
            hooks = env.root / "hooks.jsonl"
            with InteractiveSession(env) as s:
                s.handle_first_run()
                s.type_line("hello there")
                s.wait_for(REPLY_TEXT)
                wait_for_hooks(hooks, "Stop", 1)
                s.type_line("/exit")
                s.wait_exit(60)
            sid = [h["session_id"] for h in hook_payloads(hooks) if h["hook_event_name"] == "SessionStart"][0]
            for _ in range(30):
                st, body = server.get(f"/api/v1/default/llm_sessions/{sid}/events?type=user_prompt&limit=50")
                cmds = [e.get("command_name") for e in body.get("data", [])] if st == 200 else body
                if isinstance(cmds, list) and "exit" in cmds:
                    break
                time.sleep(1)
            print(name, protocol, "user_prompt command_names:", cmds, flush=True)
        finally:
            server.stop()
if __name__ == "__main__":
    for i in range(2):
        trial(f"f{i}_grpc", "grpc")
        trial(f"g{i}_json", "http/json")
