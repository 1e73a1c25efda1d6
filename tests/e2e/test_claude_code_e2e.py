"""The real Claude Code CLI against ``loomline serve``, for each OTLP export protocol.

Per protocol, one ``loomline serve`` (embedded chDB in a temporary directory) takes the
telemetry of every scenario below, and loomline's own hook bridge
(``loomline install-hooks --settings``) sends the hook events. A second, recording hook
keeps the payloads Claude Code sent, as ground truth next to what the CLI printed
(``--output-format json``: session ids, ``total_cost_usd``, ``modelUsage``) and the
transcripts' ``cost-state`` lines (interactive sessions). See docs/e2e.md for the facts
about cost these tests rely on (a fork's ``total_cost_usd`` carries its parent's spend).

Checks, in layers, each skipping while its part of loomline is not in this checkout:
stored events (receiver + hook bridge), derived tables (enrichment), the query API.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .claude_cli import (
    ClaudeEnv,
    InteractiveSession,
    RunResult,
    hook_payloads,
    recording_hook_settings,
    usd_to_micro,
)
from .conftest import unavailable
from .loomline_serve import REPO_ROOT, LoomlineServer, python_env, query_storage
from .stub_anthropic import REPLY_TEXT, StubAnthropic

PROTOCOLS = ["grpc", "http/protobuf", "http/json"]
ORG = "default"


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


# -- ground truth --------------------------------------------------------------------------


@dataclass
class SessionTruth:
    """What Claude Code itself says about one session id."""

    session_id: str
    scenario: str
    own_cost_micros: int = 0  # this session's own spend (a fork's inherited part removed)
    own_tokens: dict[str, int] = field(default_factory=dict)  # input/output/cache_read/cache_creation
    parent: str = ""  # fork parent
    cleared_from: str = ""  # /clear predecessor (same process)
    start_sources: list[str] = field(default_factory=list)  # from the hook payloads, in order
    end_reasons: list[str] = field(default_factory=list)
    compactions: list[tuple[str, bool]] = field(default_factory=list)  # (trigger, success), filled from the CLI's hooks
    api_error_status: int | None = None


@dataclass
class World:
    protocol: str
    server: LoomlineServer
    envs: dict[str, ClaudeEnv] = field(default_factory=dict)
    runs: dict[str, list[RunResult]] = field(default_factory=dict)
    sessions: dict[str, SessionTruth] = field(default_factory=dict)
    hooks: list[dict[str, Any]] = field(default_factory=list)
    api_checked: dict[str, Any] = field(default_factory=dict)
    stored: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    segments: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # session -> sources


def _tokens(model_usage: dict[str, Any]) -> dict[str, int]:
    out = Counter()
    for usage in model_usage.values():
        out["input"] += int(usage.get("inputTokens", 0))
        out["output"] += int(usage.get("outputTokens", 0))
        out["cache_read"] += int(usage.get("cacheReadInputTokens", 0))
        out["cache_creation"] += int(usage.get("cacheCreationInputTokens", 0))
    return dict(out)


def _minus(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) - b.get(k, 0) for k in a}


def _session_from_runs(scenario: str, runs: list[RunResult]) -> SessionTruth:
    """A non-fork session: its last run's cumulative cost and modelUsage are its own."""
    last = runs[-1]
    return SessionTruth(
        last.session_id, scenario, last.cost_micro_usd, _tokens(last.result.get("modelUsage") or {})
    )


def install_hooks(env: ClaudeEnv, server: LoomlineServer, protocol: str) -> None:
    """``loomline install-hooks --settings`` pointed at the server, plus a recording hook."""
    hook_protocol = "grpc" if protocol == "grpc" else "http/protobuf"
    endpoint = server.endpoint("grpc" if protocol == "grpc" else "http/protobuf")
    done = subprocess.run(
        [sys.executable, "-m", "loomline", "install-hooks", "--settings", str(env.settings_path),
         "--endpoint", endpoint, "--protocol", hook_protocol],
        cwd=REPO_ROOT, env={**python_env(), "HOME": str(env.home)}, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    settings = json.loads(env.settings_path.read_text())
    assert "loomline" in json.dumps(settings["hooks"]["SessionStart"])
    settings = recording_hook_settings(settings, env.root / "hooks.jsonl")
    env.settings_path.write_text(json.dumps(settings, indent=2))


def wait_for_hooks(path: Path, event: str, count: int, timeout: float = 30.0) -> None:
    """Wait until the recording hook has seen ``count`` ``event`` hooks (then settle a bit:
    typing into Claude Code while it still runs hooks queues the input instead)."""
    deadline = time.monotonic() + timeout
    while sum(h["hook_event_name"] == event for h in hook_payloads(path)) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count} {event} hooks not seen in {timeout}s: {hook_payloads(path)}")
        time.sleep(0.2)
    time.sleep(0.5)


def run_scenarios(world: World, make_env: Any) -> None:
    """Every scenario, in its own HOME and project; fills world.runs and world.sessions."""
    def env_for(name: str) -> ClaudeEnv:
        env = make_env(name)
        install_hooks(env, world.server, world.protocol)
        world.envs[name] = env
        return env

    def add(truth: SessionTruth) -> None:
        world.sessions[truth.session_id] = truth

    seen_hooks: dict[Path, int] = defaultdict(int)

    def run(env: ClaudeEnv, prompt: str, *args: str, **options: Any) -> RunResult:
        """``env.print_run`` that also notes the segments it started: each SessionStart
        hook of the run, the run's own start named as invoked (``--continue`` is reported
        by the hook as ``resume``)."""
        result = env.print_run(prompt, *args, **options)
        path = env.root / "hooks.jsonl"
        hooks = hook_payloads(path)
        starts = [h for h in hooks[seen_hooks[path]:] if h["hook_event_name"] == "SessionStart"]
        seen_hooks[path] = len(hooks)
        for index, hook in enumerate(starts):
            source = "continue" if index == 0 and options.get("cont") and hook["source"] == "resume" else hook["source"]
            world.segments[hook["session_id"]].append(source)
        return result

    env = env_for("fresh_tool")
    runs = [run(env, "please run TOOL")]
    add(_session_from_runs("fresh_tool", runs))
    world.runs["fresh_tool"] = runs

    env = env_for("resume_continue")
    first = run(env, "first")
    runs = [first, run(env, "second", resume=first.session_id), run(env, "third", cont=True)]
    add(_session_from_runs("resume_continue", runs))
    world.runs["resume_continue"] = runs

    env = env_for("fork")
    parent = [run(env, "first")]
    parent.append(run(env, "more", resume=parent[0].session_id))
    fork = [run(env, "forked", resume=parent[0].session_id, fork=True)]
    fork.append(run(env, "fork again", resume=fork[0].session_id))
    add(_session_from_runs("fork", parent))
    at_fork = parent[-1]
    add(SessionTruth(
        fork[-1].session_id, "fork",
        fork[-1].cost_micro_usd - at_fork.cost_micro_usd,
        _minus(_tokens(fork[-1].result["modelUsage"]), _tokens(at_fork.result["modelUsage"])),
        parent=at_fork.session_id,
    ))
    world.runs["fork"] = parent + fork

    env = env_for("compact_manual")
    first = run(env, "first")
    runs = [first, run(env, "more", resume=first.session_id), run(env, "/compact", resume=first.session_id)]
    add(_session_from_runs("compact_manual", runs))
    world.runs["compact_manual"] = runs

    env = env_for("autocompact")
    first = run(env, "BIG context", "--autocompact", "100000")
    runs = [first] + [
        run(env, prompt, "--autocompact", "100000", resume=first.session_id) for prompt in ("BIG again", "BIG third")
    ]
    add(_session_from_runs("autocompact", runs))
    world.runs["autocompact"] = runs

    env = env_for("api_retry")
    runs = [run(env, "this will FAIL once")]
    add(_session_from_runs("api_retry", runs))
    world.runs["api_retry"] = runs

    env = env_for("api_error")
    runs = [run(env, "please REJECT this")]
    truth = _session_from_runs("api_error", runs)
    truth.api_error_status = 400
    add(truth)
    world.runs["api_error"] = runs

    env = env_for("interactive_clear_exit")
    hooks_file = env.root / "hooks.jsonl"
    with InteractiveSession(env) as session:
        session.handle_first_run()
        session.type_line("hello there")
        session.wait_for(REPLY_TEXT)
        wait_for_hooks(hooks_file, "Stop", 1)  # the turn is over, hooks included
        session.type_line("/clear")
        wait_for_hooks(hooks_file, "SessionStart", 2)
        session.type_line("after clear")
        session.wait_for(REPLY_TEXT)
        wait_for_hooks(hooks_file, "Stop", 2)
        session.type_line("/exit")
        assert session.wait_exit(), session.screen()
    # No JSON result in a terminal: cost from each transcript's last cost-state line.
    interactive_hooks = hook_payloads(env.root / "hooks.jsonl")
    ids = [h["session_id"] for h in interactive_hooks if h["hook_event_name"] == "SessionStart"]
    transcripts = env.transcripts()
    for hook in interactive_hooks:
        if hook["hook_event_name"] == "SessionStart":
            world.segments[hook["session_id"]].append(hook["source"])
    for index, session_id in enumerate(ids):
        states = [line for line in transcripts.get(session_id, []) if line.get("type") == "cost-state"]
        truth = SessionTruth(
            session_id, "interactive_clear_exit",
            usd_to_micro(states[-1]["totalCostUSD"]) if states else 0,
            _tokens(states[-1].get("modelUsage") or {}) if states else {},
            cleared_from=ids[index - 1] if index else "",
        )
        add(truth)

    # Hook payloads: the CLI's own account of starts, ends and compactions.
    for env in world.envs.values():
        world.hooks += hook_payloads(env.root / "hooks.jsonl")
    for hook in world.hooks:
        truth = world.sessions.get(hook["session_id"])
        if truth is None:
            continue
        if hook["hook_event_name"] == "SessionStart":
            truth.start_sources.append(hook["source"])
        elif hook["hook_event_name"] == "SessionEnd":
            truth.end_reasons.append(hook["reason"])


# -- the world per protocol ----------------------------------------------------------------

STORED_QUERIES = {
    "events": """
        SELECT SessionId, EventName, any(Source) AS Source, any(Reason) AS Reason,
               any(ParentSessionId) AS ParentSessionId, any(CostMicros) AS CostMicros,
               any(InputTokens) AS InputTokens, any(OutputTokens) AS OutputTokens,
               any(CacheReadTokens) AS CacheReadTokens, any(CacheCreationTokens) AS CacheCreationTokens,
               any(CompactionTrigger) AS CompactionTrigger, any(Success) AS Success,
               any(StatusCode) AS StatusCode, any(CommandName) AS CommandName,
               any(Timestamp) AS Timestamp, any(ServiceName) AS ServiceName
        FROM events
        WHERE OrgId = 'default'
        GROUP BY SessionId, EventName, EventKey
        ORDER BY Timestamp
    """,
    "raw_counts": """
        SELECT 'logs' AS signal, count() AS n FROM otel_logs
        UNION ALL SELECT 'traces', count() FROM otel_traces
        UNION ALL SELECT 'metrics', (SELECT count() FROM otel_metrics_sum)
    """,
}
DERIVED_QUERIES = {
    "llm_sessions": "SELECT * FROM llm_sessions FINAL WHERE org_id = 'default'",
    "session_links": "SELECT * FROM session_links FINAL WHERE org_id = 'default'",
    "compactions": "SELECT * FROM compactions FINAL WHERE org_id = 'default'",
    "session_segments": "SELECT * FROM session_segments FINAL WHERE org_id = 'default' ORDER BY session_id, segment_index",
}


@pytest.fixture(scope="module", params=PROTOCOLS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, claude_binary: Path, tmux: str
) -> Iterator[World]:
    protocol: str = request.param
    if not _has("bridge.install_hooks"):
        unavailable("loomline install-hooks is not in this checkout yet")
    root = tmp_path_factory.mktemp(protocol.replace("/", "_"))
    with StubAnthropic() as stub:
        server = LoomlineServer(root / "chdb").start()
        world = World(protocol, server)
        try:
            def make_env(name: str) -> ClaudeEnv:
                extra = {"PYTHONPATH": str(REPO_ROOT), "PATH": f"{Path(sys.executable).parent}:{python_env()['PATH']}"}
                return ClaudeEnv(root / name, claude_binary, stub.base_url, server.endpoint(protocol), protocol, extra)

            run_scenarios(world, make_env)
            if server.api_url is not None and _has("query_api.server"):
                world.api_checked = wait_for_api(world)
        finally:
            code = server.stop()
        assert code == 0, server.log()[-3000:]
        queries = dict(STORED_QUERIES)
        if _has("enrich.service"):
            queries.update(DERIVED_QUERIES)
        world.stored = query_storage(server.dsn, server.database, queries)
        yield world


def wait_for_api(world: World, timeout: float = 60.0) -> dict[str, Any]:
    """Poll the query API until every session shows its cost and is closed; the answers
    (``{session_id: (status, body)}``, plus ``thread:<id>`` for each conversation)."""
    deadline = time.monotonic() + timeout
    answers: dict[str, Any] = {}
    while True:
        pending = 0
        for session_id, truth in world.sessions.items():
            status, body = world.server.get(f"/api/v1/{ORG}/llm_sessions/{session_id}")
            answers[session_id] = (status, body)
            data = body.get("data", {}) if status == 200 and isinstance(body, dict) else {}
            cost = data.get("metrics", {}).get("estimated_cost_usd")
            if cost is None or usd_to_micro(cost) != truth.own_cost_micros or data.get("close_reason") in ("open", ""):
                pending += 1
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    threads = {body["data"]["conversation_thread_id"] for status, body in answers.values() if status == 200}
    for thread_id in threads:
        answers[f"thread:{thread_id}"] = world.server.get(f"/api/v1/{ORG}/conversations/{thread_id}")
    return answers


def find_value(body: Any, key: str) -> Any:
    """The first value of ``key`` anywhere in a JSON answer (breadth-first)."""
    queue = [body]
    while queue:
        item = queue.pop(0)
        if isinstance(item, dict):
            if key in item:
                return item[key]
            queue.extend(item.values())
        elif isinstance(item, list):
            queue.extend(item)
    return None


# -- ground truth sanity (the CLI did what the scenario needs) ------------------------------


def test_cli_ground_truth(world: World) -> None:
    runs = world.runs
    assert all(r.returncode == 0 for name, rs in runs.items() if name != "api_error" for r in rs)
    assert runs["api_error"][0].returncode == 1
    assert len({r.session_id for r in runs["resume_continue"]}) == 1
    ids = {r.session_id for r in runs["fork"]}
    assert len(ids) == 2
    interactive = [t for t in world.sessions.values() if t.scenario == "interactive_clear_exit"]
    assert [t.start_sources for t in interactive] == [["startup"], ["clear"]]
    assert [t.end_reasons for t in interactive] == [["clear"], ["prompt_input_exit"]]
    assert sum(t.own_cost_micros for t in world.sessions.values()) > 0


# -- layer 1: stored events (receiver + hook bridge) ---------------------------------------


def _by_session(rows: list[dict[str, Any]], event_name: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["EventName"] == event_name:
            out[row["SessionId"]].append(row)
    return out


def test_all_signals_stored(world: World) -> None:
    counts = {row["signal"]: int(row["n"]) for row in world.stored["raw_counts"]}
    assert counts["logs"] > 0 and counts["traces"] > 0 and counts["metrics"] > 0, counts


def test_events_cost_and_tokens_equal_the_cli(world: World) -> None:
    requests = _by_session(world.stored["events"], "api_request")
    for session_id, truth in world.sessions.items():
        rows = requests.get(session_id, [])
        assert sum(int(r["CostMicros"]) for r in rows) == truth.own_cost_micros, (truth.scenario, session_id)
        if truth.own_tokens:
            stored = {
                "input": sum(int(r["InputTokens"]) for r in rows),
                "output": sum(int(r["OutputTokens"]) for r in rows),
                "cache_read": sum(int(r["CacheReadTokens"]) for r in rows),
                "cache_creation": sum(int(r["CacheCreationTokens"]) for r in rows),
            }
            assert stored == truth.own_tokens, (truth.scenario, session_id)
    assert set(requests) <= set(world.sessions)


def test_hook_bridge_events_equal_the_hook_payloads(world: World) -> None:
    starts = _by_session(world.stored["events"], "loomline.session_start")
    ends = _by_session(world.stored["events"], "loomline.session_end")
    for session_id, truth in world.sessions.items():
        assert sorted(r["Source"] for r in starts.get(session_id, [])) == sorted(truth.start_sources), truth.scenario
        assert sorted(r["Reason"] for r in ends.get(session_id, [])) == sorted(truth.end_reasons), truth.scenario
        # The fork's parent, read by the bridge from the fork's transcript. With 2.1.328 the
        # copied lines are often not written yet at SessionStart(fork); a later hook of the
        # session carries the parent instead.
        parents = {
            r["ParentSessionId"] for r in world.stored["events"]
            if r["SessionId"] == session_id and r["EventName"].startswith("loomline.") and r["ParentSessionId"]
        }
        where = [
            (r["EventName"], r["Source"], r["ParentSessionId"]) for r in world.stored["events"]
            if r["SessionId"] == session_id and r["EventName"].startswith("loomline.")
        ]
        assert parents == ({truth.parent} if truth.parent else set()), (truth.scenario, where)
    assert all(r["ServiceName"] == "loomline-hook" for rows in starts.values() for r in rows)


def test_compaction_and_error_events(world: World) -> None:
    events = world.stored["events"]
    compactions = _by_session(events, "compaction")
    manual = world.runs["compact_manual"][0].session_id
    auto = world.runs["autocompact"][0].session_id
    assert [(r["CompactionTrigger"], r["Success"]) for r in compactions[manual]] == [("manual", True)]
    assert {r["CompactionTrigger"] for r in compactions[auto]} == {"auto"}
    assert True in {r["Success"] for r in compactions[auto]}
    errors = _by_session(events, "api_error")
    rejected = world.runs["api_error"][0].session_id
    assert errors[rejected] and {r["StatusCode"] for r in errors[rejected]} == {400}
    assert set(errors) == {rejected}  # the retried 500 recovered: no api_error
    prompts = _by_session(events, "user_prompt")
    interactive = [t.session_id for t in world.sessions.values() if t.scenario == "interactive_clear_exit"]
    assert [r["CommandName"] for r in prompts[interactive[0]]] == ["", "clear"]
    assert [r["CommandName"] for r in prompts[interactive[1]]] == ["", "exit"]


# -- layer 2: derived tables (enrichment) --------------------------------------------------

CLOSE_REASON = {"clear": "clear", "prompt_input_exit": "exit", "logout": "logout", "other": "other"}


@pytest.fixture
def derived(world: World) -> dict[str, list[dict[str, Any]]]:
    if "llm_sessions" not in world.stored:
        pytest.skip("enrichment (enrich/service.py) is not in this checkout yet")
    return world.stored


def test_sessions_cost_equal_the_cli(world: World, derived: dict[str, list[dict[str, Any]]]) -> None:
    sessions = {row["session_id"]: row for row in derived["llm_sessions"]}
    assert set(sessions) >= set(world.sessions)
    for session_id, truth in world.sessions.items():
        row = sessions[session_id]
        assert int(row["cost_micros"]) == truth.own_cost_micros, (truth.scenario, session_id)
        if truth.own_tokens:
            assert int(row["input_tokens"]) == truth.own_tokens["input"]
            assert int(row["cache_read_tokens"]) == truth.own_tokens["cache_read"]
            assert int(row["cache_creation_tokens"]) == truth.own_tokens["cache_creation"]


def test_sessions_start_close_and_links(world: World, derived: dict[str, list[dict[str, Any]]]) -> None:
    sessions = {row["session_id"]: row for row in derived["llm_sessions"]}
    links = {(r["from_session_id"], r["to_session_id"], r["link_type"]) for r in derived["session_links"]}
    for session_id, truth in world.sessions.items():
        row = sessions[session_id]
        assert row["start_source"] == truth.start_sources[0], truth.scenario
        assert row["close_reason"] == CLOSE_REASON[truth.end_reasons[-1]], truth.scenario
        if truth.parent:
            assert row["thread_id"] != sessions[truth.parent]["thread_id"]  # a fork roots a new thread
        elif truth.cleared_from:
            assert (truth.cleared_from, session_id, "cleared_from") in links
            assert row["thread_id"] != sessions[truth.cleared_from]["thread_id"]
        else:
            assert row["thread_id"] and row["parent_thread_id"] == ""
    assert all(link[2] != "resumed_as" for link in links)  # 2.1.328 keeps ids on resume


def test_segments_and_compactions(world: World, derived: dict[str, list[dict[str, Any]]]) -> None:
    segments: dict[str, list[str]] = defaultdict(list)
    for row in derived["session_segments"]:
        segments[row["session_id"]].append(row["source"])
    for session_id, truth in world.sessions.items():
        # one segment per start of the session in a process: as invoked, and as the hooks saw it
        assert segments[session_id] == world.segments[session_id], (truth.scenario, segments[session_id])
    # one CLI run per claude process that touched the session
    processes = Counter(r.session_id for runs in world.runs.values() for r in runs)
    sessions = {row["session_id"]: row for row in derived["llm_sessions"]}
    for session_id, truth in world.sessions.items():
        expected = processes[session_id] or 1  # interactive: one process, two sessions
        assert int(sessions[session_id]["cli_run_count"]) == expected, truth.scenario
    compactions = [(r["session_id"], r["trigger"], int(r["success"])) for r in derived["compactions"]]
    manual = world.runs["compact_manual"][0].session_id
    auto = world.runs["autocompact"][0].session_id
    assert (manual, "manual", 1) in compactions
    assert (auto, "auto", 1) in compactions and (auto, "auto", 0) in compactions


# -- layer 3: the query API ----------------------------------------------------------------


def _api(world: World) -> dict[str, Any]:
    if not world.api_checked:
        pytest.skip("the query API (query_api/server.py) is not in this checkout yet")
    return world.api_checked


def test_api_sessions_equal_the_cli(world: World) -> None:
    answers = _api(world)
    details = {}
    for session_id, truth in world.sessions.items():
        status, body = answers[session_id]
        assert status == 200, (truth.scenario, session_id, body)
        data = details[session_id] = body["data"]
        assert data["id"] == data["otel_session_id"] == session_id
        metrics = data["metrics"]
        assert usd_to_micro(metrics["estimated_cost_usd"]) == truth.own_cost_micros, (truth.scenario, metrics)
        if truth.own_tokens:
            got = {k: metrics[f"{k}_tokens"] for k in ("input", "output", "cache_read", "cache_creation")}
            assert got == truth.own_tokens, truth.scenario
        assert data["start_source"] == truth.start_sources[0], truth.scenario
        assert data["close_reason"] == CLOSE_REASON[truth.end_reasons[-1]], truth.scenario
        if truth.api_error_status:
            assert metrics["api_error_count"] >= 1
    manual = world.runs["compact_manual"][0].session_id
    assert details[manual]["compaction_count"] == 1
    for session_id, truth in world.sessions.items():
        thread = details[session_id]["conversation_thread_id"]
        parent_thread = details[session_id]["thread_info"]["parent_thread_id"]
        if truth.parent:
            assert thread == session_id != details[truth.parent]["conversation_thread_id"]
        elif truth.cleared_from:
            assert thread != details[truth.cleared_from]["conversation_thread_id"]
            assert thread == session_id
        else:
            assert thread == session_id and parent_thread is None, truth.scenario


def test_api_conversations_equal_the_cli(world: World) -> None:
    answers = _api(world)
    members: dict[str, set[str]] = defaultdict(set)
    for session_id in world.sessions:
        members[answers[session_id][1]["data"]["conversation_thread_id"]].add(session_id)
    for thread_id, session_ids in members.items():
        status, body = answers[f"thread:{thread_id}"]
        assert status == 200, body
        data = body["data"]
        assert set(data["session_ids"]) == session_ids
        expected = sum(world.sessions[s].own_cost_micros for s in session_ids)
        assert usd_to_micro(data["estimated_cost_usd"]) == expected, thread_id
        truths = [world.sessions[s] for s in session_ids]
        cleared = [t for t in truths if t.cleared_from]
        assert [(c["from_session_id"], c["to_session_id"]) for c in data["clear_breaks"] if c["to_session_id"] in session_ids] == [
            (t.cleared_from, t.session_id) for t in cleared
        ]
        timeline_segments: dict[str, list[str]] = defaultdict(list)
        for entry in data["timeline"]:
            if entry["kind"] == "segment":
                timeline_segments[entry["session_id"]].append(entry["type"])
        assert dict(timeline_segments) == {t.session_id: world.segments[t.session_id] for t in truths}, thread_id
        if any(t.scenario == "compact_manual" for t in truths):
            assert [(c["trigger"], c["success"]) for c in data["compactions"]] == [("manual", True)]


# -- the fork's parent -----------------------------------------------------------------------

# Claude Code 2.1.328 writes the fork's copied transcript lines only after the first answer,
# so loomline.session_start(fork) has no ParentSessionId; the hook bridge sends it on a
# later hook of the fork (loomline.stop), and enrichment takes it from there.


def test_fork_is_linked_to_its_parent(world: World) -> None:
    fork = next(t for t in world.sessions.values() if t.parent)
    if "session_links" in world.stored:
        links = {(r["from_session_id"], r["to_session_id"], r["link_type"]) for r in world.stored["session_links"]}
        assert (fork.parent, fork.session_id, "forked_from") in links
    answers = _api(world)
    detail = answers[fork.session_id][1]["data"]
    parent_thread = answers[fork.parent][1]["data"]["conversation_thread_id"]
    assert detail["thread_info"]["parent_thread_id"] == parent_thread
    status, body = answers[f"thread:{detail['conversation_thread_id']}"]
    assert [(f["from_session_id"], f["to_session_id"]) for f in body["data"]["forks"]] == [
        (fork.parent, fork.session_id)
    ]
