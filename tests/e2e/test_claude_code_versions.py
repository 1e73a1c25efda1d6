"""Version drift: a representative subset of the e2e checks on every pinned Claude Code
version (the captures' 2.1.328 and the newest release, ``claude_cli.PINNED_VERSIONS``).

One ``loomline serve`` per version (http/protobuf; the protocol matrix stays in
test_claude_code_e2e.py), the hook bridge installed, the project a git repository with an
``origin`` remote and ``OTEL_METRICS_INCLUDE_REPOSITORY=true``. Runs:

1. ``-p "delegate this to an AGENT"``: the stub has the model call the subagent tool once;
   where the subagent runs in the background, Claude Code injects a ``<task-notification>``
   prompt when it finishes.
2. ``-p "and a TOOL" --resume <id>``: a resume with one Bash tool call.

Checked against the CLI's own account (its JSON result, transcripts, hook payloads): the
person typed two prompts (``message_count``), Claude Code injected as many prompts as the
transcript marks ``origin.kind = "task-notification"``, the subagent's spend stays in its
session (one session, one conversation), the resume carries SessionStart's cache facts, the
session has the remote as its repository and the branch, and the reported cost equals the
CLI's ``total_cost_usd``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .claude_cli import (
    PINNED_VERSIONS,
    ClaudeEnv,
    CliUnavailable,
    RunResult,
    cli_version,
    ensure_cli,
    usd_to_micro,
)
from .conftest import unavailable
from .loomline_serve import REPO_ROOT, LoomlineServer, python_env
from .stub_anthropic import StubAnthropic
from .test_claude_code_e2e import install_hooks

PROTOCOL = "http/protobuf"
ORG = "default"
REMOTE = "git@github.com:acme/loomline-e2e.git"
REPOSITORY = "github.com/acme/loomline-e2e"


@dataclass
class VersionWorld:
    version: str
    server: LoomlineServer
    env: ClaudeEnv
    runs: list[RunResult] = field(default_factory=list)
    session: dict[str, Any] = field(default_factory=dict)
    listed: dict[str, Any] = field(default_factory=dict)
    conversations: list[dict[str, Any]] = field(default_factory=list)
    resumes: list[dict[str, Any]] = field(default_factory=list)
    agents: list[dict[str, Any]] = field(default_factory=list)
    stored_vcs: list[str] = field(default_factory=list)


def _binary(version: str) -> Path:
    try:
        binary = ensure_cli(version)
    except CliUnavailable as exc:
        unavailable(str(exc))
        raise
    if cli_version(binary) != version:  # LOOMLINE_E2E_CLAUDE_BIN pins one binary
        pytest.skip(f"{binary} is not Claude Code {version}")
    return binary


@pytest.fixture(scope="module", params=PINNED_VERSIONS)
def vworld(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VersionWorld]:
    version: str = request.param
    binary = _binary(version)
    root = tmp_path_factory.mktemp(f"v{version}")
    with StubAnthropic() as stub:
        server = LoomlineServer(root / "chdb").start()
        try:
            extra = {"PYTHONPATH": str(REPO_ROOT), "PATH": f"{Path(sys.executable).parent}:{python_env()['PATH']}",
                     "OTEL_METRICS_INCLUDE_REPOSITORY": "true"}
            env = ClaudeEnv(root / "agent", binary, stub.base_url, server.endpoint(PROTOCOL), PROTOCOL, extra)
            subprocess.run(["git", "-C", str(env.project), "remote", "add", "origin", REMOTE],
                           capture_output=True, timeout=30, check=True)
            install_hooks(env, server, PROTOCOL)
            world = VersionWorld(version, server, env)
            first = env.print_run("delegate this to an AGENT", "--allowedTools", "Task,Agent")
            world.runs.append(first)
            world.runs.append(env.print_run("and a TOOL", "--allowedTools", "Bash", resume=first.session_id))
            _wait_for_api(world)
        finally:
            code = server.stop()
        assert code == 0, server.log()[-3000:]
        yield world


def _wait_for_api(world: VersionWorld, timeout: float = 60.0) -> None:
    session_id = world.runs[0].session_id
    want = world.runs[-1].cost_micro_usd
    deadline = time.monotonic() + timeout
    while True:
        status, body = world.server.get(f"/api/v1/{ORG}/llm_sessions/{session_id}")
        data = body.get("data", {}) if status == 200 and isinstance(body, dict) else {}
        cost = data.get("metrics", {}).get("estimated_cost_usd")
        if (cost is not None and usd_to_micro(cost) == want and data.get("close_reason") not in ("open", "")) \
                or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    world.session = data
    world.listed = next((s for s in world.server.get(f"/api/v1/{ORG}/llm_sessions?limit=100")[1].get("data", [])
                         if s["id"] == session_id), {})
    world.conversations = world.server.get(f"/api/v1/{ORG}/conversations?limit=100")[1].get("data", [])
    world.resumes = world.server.get(f"/api/v1/{ORG}/resumes")[1].get("data", [])
    world.agents = world.server.get(f"/api/v1/{ORG}/llm_sessions/{session_id}/agents")[1].get("data", [])


def _injected_in_transcript(world: VersionWorld) -> int:
    """The CLI's own account of what it injected: user lines of the transcript that carry a
    task notification (marked ``origin.kind`` where the version writes it)."""
    lines = world.env.transcripts().get(world.runs[0].session_id, [])

    def injected(line: dict[str, Any]) -> bool:
        content = (line.get("message") or {}).get("content")
        return (line.get("origin") or {}).get("kind") == "task-notification" or (
            isinstance(content, str) and content.lstrip().startswith("<task-notification>"))

    return sum(1 for line in lines if line.get("type") == "user" and injected(line))


def test_runs_succeeded(vworld: VersionWorld) -> None:
    assert [r.returncode for r in vworld.runs] == [0, 0], [r.stderr[-500:] for r in vworld.runs]
    assert len({r.session_id for r in vworld.runs}) == 1  # resume keeps the id


def test_messages_are_what_the_person_typed(vworld: VersionWorld) -> None:
    metrics = vworld.session["metrics"]
    assert metrics["message_count"] == 2
    # Both versions inject a <task-notification> once the background subagent finishes; in a
    # -p run whether it finishes before the CLI exits depends on timing, so the transcript,
    # not a constant, says how many were injected.
    assert metrics["injected_prompt_count"] == _injected_in_transcript(vworld) <= 1


def test_subagent_spend_stays_in_its_session(vworld: VersionWorld) -> None:
    assert usd_to_micro(vworld.session["metrics"]["estimated_cost_usd"]) == vworld.runs[-1].cost_micro_usd
    assert [c["root_session_id"] for c in vworld.conversations] == [vworld.runs[0].session_id]
    kinds = [a["agent_kind"] for a in vworld.agents]
    assert kinds[0] == "main" and kinds.count("subagent") == vworld.session["subagents"]["count"] >= 1
    total = sum(usd_to_micro(a["estimated_cost_usd"]) for a in vworld.agents)
    assert total == vworld.runs[-1].cost_micro_usd


def test_resume_health(vworld: VersionWorld) -> None:
    (resume,) = [r for r in vworld.resumes if r["source"] == "resume"]
    assert resume["session_id"] == vworld.runs[0].session_id
    assert resume["idle_before_seconds"] is not None and resume["session_age_seconds"] > 0
    assert resume["context_tokens"] and resume["context_tokens"] > 0
    assert resume["cache_likely_expired"] is False
    assert resume["failed"] is False


def test_repository_and_branch(vworld: VersionWorld) -> None:
    assert vworld.listed["repository"] == REPOSITORY
    assert vworld.listed["git_branch"] == "main"
    assert vworld.session["repository"]["id"] == REPOSITORY
