"""A model switch, end to end: the real interactive CLI (the pinned version) with the hook
bridge installed by ``loomline install-hooks`` against a real ``loomline serve``:
``hello there``, ``/model haiku`` (confirmed at Claude Code's "Switch model?" prompt),
``after the switch``, ``/exit``.

Checked against what Claude Code itself said (the recording hook's payloads, next to
loomline's own hooks): the session's ``model_switches`` are the Pre/PostModelSwitch hooks
Claude Code ran, with their keys; resume health counts the one durable switch and its cache
estimate; the session lists both models, because the second prompt ran on the new one.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .claude_cli import ClaudeEnv, InteractiveSession, hook_payloads
from .loomline_serve import REPO_ROOT, LoomlineServer, python_env
from .stub_anthropic import REPLY_TEXT, StubAnthropic
from .test_claude_code_e2e import install_hooks, wait_for_hooks

PROTOCOL = "http/protobuf"
ORG = "default"


@pytest.fixture(scope="module")
def switched(claude_binary: Path, tmux: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("model_switch")
    with StubAnthropic() as stub:
        server = LoomlineServer(root / "chdb").start()
        try:
            extra = {"PYTHONPATH": str(REPO_ROOT), "PATH": f"{Path(sys.executable).parent}:{python_env()['PATH']}"}
            env = ClaudeEnv(root / "env", claude_binary, stub.base_url, server.endpoint(PROTOCOL), PROTOCOL, extra)
            install_hooks(env, server, PROTOCOL)
            hooks = env.root / "hooks.jsonl"
            with InteractiveSession(env) as session:
                session.handle_first_run()
                session.type_line("hello there")
                session.wait_for(REPLY_TEXT)
                wait_for_hooks(hooks, "Stop", 1)
                session.type_line("/model haiku")
                if "Switch model?" in session.wait_for("Switch model?", "Set model to", timeout=60):
                    session.send_keys("Enter")
                wait_for_hooks(hooks, "PostModelSwitch", 1)
                session.type_line("after the switch")
                wait_for_hooks(hooks, "Stop", 2)
                session.type_line("/exit")
                assert session.wait_exit(60), session.screen()
            payloads = hook_payloads(hooks)
            session_id = payloads[0]["session_id"]
            said = [p for p in payloads if p["hook_event_name"] in ("PreModelSwitch", "PostModelSwitch")]
            switches = _wait_for(server, f"/api/v1/{ORG}/llm_sessions/{session_id}/model_switches",
                                 lambda data: len(data) >= len(said))
            models = {said[-1]["from_model"], said[-1]["to_model"]}
            detail = _wait_for(server, f"/api/v1/{ORG}/llm_sessions/{session_id}",
                               lambda data: models <= set(data["models"]))
            yield {"server": server, "session": session_id, "said": said, "switches": switches, "detail": detail}
        finally:
            server.stop()


def _wait_for(server: LoomlineServer, path: str, done: Any, timeout: float = 90.0) -> Any:
    """The API's ``data`` at ``path`` once ``done(data)`` holds (enrichment runs behind ingest)."""
    deadline = time.monotonic() + timeout
    body: Any = None
    while time.monotonic() < deadline:
        status, body = server.get(path)
        if status == 200 and done(body["data"]):
            return body["data"]
        time.sleep(0.5)
    raise AssertionError(f"{path} not as expected after {timeout}s: {body}")


def test_every_model_switch_hook_reaches_the_api(switched: dict[str, Any]) -> None:
    said, stored = switched["said"], switched["switches"]
    assert [p["hook_event_name"] for p in said][-1] == "PostModelSwitch"
    assert [("pre" if p["hook_event_name"] == "PreModelSwitch" else "post", p["from_model"], p["to_model"],
             p["requested_model"], p["source"], p["context_tokens"], p["prompt_cache_warm"], p["cache_ttl"],
             p["pricing"]) for p in said] == [
        (s["phase"], s["from_model"], s["to_model"], s["requested_model"], s["initiator"], s["context_tokens"],
         s["prompt_cache_warm"], s["cache_ttl"], s["pricing"]) for s in stored]
    assert [s["estimated_cache_write_usd"] for s in stored] == pytest.approx(
        [p["estimated_cache_write_usd"] for p in said])
    assert stored[-1]["requested_model"] == "haiku" and stored[-1]["to_model"] != stored[-1]["from_model"]


def test_resume_health_and_models_count_the_durable_switch(switched: dict[str, Any]) -> None:
    server, post = switched["server"], switched["said"][-1]
    status, body = server.get(f"/api/v1/{ORG}/resume_health")
    assert status == 200, body
    assert (body["data"][0]["model_switch_count"], body["data"][0]["model_switch_cache_write_usd"]) == (
        1, pytest.approx(post["estimated_cache_write_usd"]))
    assert set(switched["detail"]["models"]) == {post["from_model"], post["to_model"]}
