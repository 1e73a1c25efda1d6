"""The e2e harness itself, without loomline: the real CLI against the stub API, its
telemetry into a recording OTLP sink. These tests also pin the facts docs/e2e.md states
(what ``total_cost_usd`` means across resume, continue and fork)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from .claude_cli import (
    ClaudeEnv,
    InteractiveSession,
    hook_payloads,
    recording_hook_settings,
    usd_to_micro,
)
from .otlp_sink import OtlpSink
from .stub_anthropic import REPLY_TEXT, StubAnthropic, sse_events

COST_PER_REQUEST_MICRO = 8000  # what 2.1.328 charges for the stub's fixed usage


def wait_until(check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def events(sink: OtlpSink, name: str) -> list[dict[str, Any]]:
    return [r["attributes"] for r in sink.log_records() if r["body"] == f"claude_code.{name}"]


def with_recording_hooks(env: ClaudeEnv) -> None:
    env.settings_path.write_text(json.dumps(recording_hook_settings({}, env.root / "hooks.jsonl")))


# -- the stub alone ----------------------------------------------------------------------


def _post(url: str, body: dict[str, Any]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_stub_answers_like_the_messages_api(stub_api: StubAnthropic) -> None:
    url = stub_api.base_url + "/v1/messages"
    ask = {"model": "claude-x", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    status, body = _post(url, ask)
    message = json.loads(body)
    assert status == 200 and message["content"][0]["text"] == REPLY_TEXT and message["model"] == "claude-x"
    assert message["usage"]["input_tokens"] == 1500 and message["usage"]["cache_read_input_tokens"] == 800

    status, body = _post(url, {**ask, "stream": True})
    names = [line.split(": ", 1)[1] for line in body.decode().splitlines() if line.startswith("event: ")]
    assert names == [name for name, _ in sse_events(message)]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]

    assert _post(url, {**ask, "messages": [{"role": "user", "content": "please REJECT"}]})[0] == 400
    fail = {**ask, "messages": [{"role": "user", "content": "FAIL once"}]}
    assert [_post(url, fail)[0], _post(url, fail)[0]] == [500, 200]
    assert json.loads(_post(url + "/count_tokens", ask)[1]) == {"input_tokens": 1500}
    big = json.loads(_post(url, {**ask, "messages": [{"role": "user", "content": "BIG one"}]})[1])
    assert big["usage"]["input_tokens"] == 185_000
    assert [r.status for r in stub_api.requests] == [200, 200, 400, 500, 200, 200, 200]


# -- the real CLI --------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["http/json", "http/protobuf"])
def test_print_run_with_tool_exports_telemetry(
    protocol: str, claude_env_factory: Callable[..., ClaudeEnv], otlp_sink: OtlpSink, stub_api: StubAnthropic
) -> None:
    env = claude_env_factory(otlp_sink.endpoint, protocol)
    with_recording_hooks(env)
    run = env.print_run("please run TOOL")
    assert run.returncode == 0, run.stderr
    assert run.result["result"] == REPLY_TEXT
    assert run.cost_micro_usd == 2 * COST_PER_REQUEST_MICRO
    assert run.usage["input_tokens"] == 3000 and run.usage["cache_creation_input_tokens"] == 400
    assert [r.kind for r in stub_api.messages_requests()] == ["tool_use", "text"]

    requests = wait_until(lambda: len(events(otlp_sink, "api_request")) >= 2 and events(otlp_sink, "api_request"))
    assert {r["session.id"] for r in requests} == {run.session_id}
    assert sum(usd_to_micro(r["cost_usd"]) for r in requests) == run.cost_micro_usd
    assert [e["tool_name"] for e in events(otlp_sink, "tool_result")] == ["Bash"]
    assert wait_until(lambda: "claude_code.cost.usage" in otlp_sink.metric_names())
    assert {p.path for p in otlp_sink.posts} >= {"/v1/logs", "/v1/metrics", "/v1/traces"}
    assert all(protocol.split("/")[1] in p.content_type for p in otlp_sink.posts)

    hooks = hook_payloads(env.root / "hooks.jsonl")
    assert [h["hook_event_name"] for h in hooks if h["hook_event_name"] in ("SessionStart", "SessionEnd")] == [
        "SessionStart",
        "SessionEnd",
    ]
    assert {h["session_id"] for h in hooks} == {run.session_id}


def test_retry_and_rejection(
    claude_env_factory: Callable[..., ClaudeEnv], otlp_sink: OtlpSink, stub_api: StubAnthropic
) -> None:
    env = claude_env_factory(otlp_sink.endpoint)
    retried = env.print_run("this will FAIL once")
    assert retried.returncode == 0 and retried.cost_micro_usd == COST_PER_REQUEST_MICRO
    rejected = env.print_run("please REJECT this")
    assert rejected.returncode == 1 and rejected.is_error and rejected.result.get("api_error_status") == 400
    assert rejected.cost_micro_usd == 0
    assert [r.status for r in stub_api.messages_requests()][:2] == [500, 200]
    errors = wait_until(lambda: events(otlp_sink, "api_error"))
    assert {e["session.id"] for e in errors} == {rejected.session_id}
    assert all(int(e["status_code"]) == 400 for e in errors)


def test_total_cost_across_resume_continue_and_fork(
    claude_env_factory: Callable[..., ClaudeEnv], otlp_sink: OtlpSink
) -> None:
    """The facts in docs/e2e.md: ``total_cost_usd`` is cumulative per session id over runs,
    and a fork's starts from its parent's total at the time of the fork."""
    env = claude_env_factory(otlp_sink.endpoint)
    one = COST_PER_REQUEST_MICRO
    first = env.print_run("first")
    resumed = env.print_run("second", resume=first.session_id)
    continued = env.print_run("third", cont=True)
    assert first.session_id == resumed.session_id == continued.session_id
    assert [first.cost_micro_usd, resumed.cost_micro_usd, continued.cost_micro_usd] == [one, 2 * one, 3 * one]
    # usage is per run; modelUsage is cumulative like the cost
    assert first.usage["input_tokens"] == resumed.usage["input_tokens"] == continued.usage["input_tokens"] == 1500
    (model_usage,) = continued.result["modelUsage"].values()
    assert model_usage["inputTokens"] == 3 * 1500 and usd_to_micro(model_usage["costUSD"]) == 3 * one

    fork = env.print_run("forked", resume=first.session_id, fork=True)
    assert fork.session_id != first.session_id
    assert fork.cost_micro_usd == 3 * one + one  # the parent's 3 runs + the fork's own request
    assert next(iter(fork.result["modelUsage"].values()))["inputTokens"] == 4 * 1500
    fork_resumed = env.print_run("fork again", resume=fork.session_id)
    assert fork_resumed.cost_micro_usd == 5 * one
    parent_again = env.print_run("parent again", resume=first.session_id)
    assert parent_again.cost_micro_usd == 4 * one  # forks do not add to the parent

    # Telemetry charges each request once, to the session that made it.
    requests = wait_until(lambda: len(events(otlp_sink, "api_request")) >= 6 and events(otlp_sink, "api_request"))
    per_session: dict[str, int] = {}
    for r in requests:
        per_session[r["session.id"]] = per_session.get(r["session.id"], 0) + usd_to_micro(r["cost_usd"])
    assert per_session == {first.session_id: 4 * one, fork.session_id: 2 * one}
    # So: a fork's own spend = its last total_cost_usd - the parent's total when it forked.
    assert fork_resumed.cost_micro_usd - continued.cost_micro_usd == per_session[fork.session_id]


def test_manual_and_auto_compaction(claude_env_factory: Callable[..., ClaudeEnv], otlp_sink: OtlpSink) -> None:
    env = claude_env_factory(otlp_sink.endpoint)
    with_recording_hooks(env)
    first = env.print_run("first")
    compacted = env.print_run("/compact", resume=first.session_id)
    assert compacted.session_id == first.session_id and compacted.returncode == 0
    assert compacted.cost_micro_usd == 2 * COST_PER_REQUEST_MICRO  # the summary request is charged
    big = [env.print_run("BIG context", "--autocompact", "100000")]
    for prompt in ("BIG again", "BIG third"):
        big.append(env.print_run(prompt, "--autocompact", "100000", resume=big[0].session_id))
    assert {r.session_id for r in big} == {big[0].session_id}

    compactions = wait_until(lambda: len(events(otlp_sink, "compaction")) >= 2 and events(otlp_sink, "compaction"))
    manual = [c for c in compactions if c["trigger"] == "manual"]
    auto = [c for c in compactions if c["trigger"] == "auto"]
    assert len(manual) == 1 and manual[0]["session.id"] == first.session_id and manual[0]["success"] == "true"
    assert auto and {c["session.id"] for c in auto} == {big[0].session_id}
    hooks = hook_payloads(env.root / "hooks.jsonl")
    assert {h.get("trigger") for h in hooks if h["hook_event_name"] == "PreCompact"} == {"manual", "auto"}


def test_interactive_clear_and_exit(
    claude_env_factory: Callable[..., ClaudeEnv], otlp_sink: OtlpSink, tmux: str
) -> None:
    env = claude_env_factory(otlp_sink.endpoint)
    with_recording_hooks(env)
    # No pre-seeded approvals: the driver must answer the folder-trust and API-key screens.
    env.seed_config(approve_key=False, trust_project=False)
    with InteractiveSession(env) as session:
        assert session.handle_first_run() == ["trust", "api_key"]
        session.type_line("hello there")
        session.wait_for(REPLY_TEXT)
        session.type_line("/clear")
        wait_until(lambda: REPLY_TEXT not in session.screen(), timeout=15)
        session.type_line("after clear")
        session.wait_for(REPLY_TEXT)
        session.type_line("/exit")
        assert session.wait_exit(), session.screen()

    hooks = hook_payloads(env.root / "hooks.jsonl")
    starts = [(h["source"], h["session_id"]) for h in hooks if h["hook_event_name"] == "SessionStart"]
    ends = [(h["reason"], h["session_id"]) for h in hooks if h["hook_event_name"] == "SessionEnd"]
    assert [s for s, _ in starts] == ["startup", "clear"] and [r for r, _ in ends] == ["clear", "prompt_input_exit"]
    first_id, second_id = starts[0][1], starts[1][1]
    assert first_id != second_id and ends[0][1] == first_id and ends[1][1] == second_id
    prompts = wait_until(lambda: len(events(otlp_sink, "user_prompt")) >= 4 and events(otlp_sink, "user_prompt"))
    assert [p.get("command_name") for p in prompts] == [None, "clear", None, "exit"]
    transcripts = env.transcripts()
    assert set(transcripts) >= {first_id, second_id}


def test_exit_prompt_survives_slow_metric_and_trace_answers(
    claude_env_factory: Callable[..., ClaudeEnv], otlp_sink: OtlpSink, tmux: str
) -> None:
    """The lost /exit prompt (docs/e2e.md): over OTLP/HTTP Claude Code sends every signal
    one request at a time over one connection per host and gives telemetry ~2 s at exit, so
    with metric and trace answers taking 1.5 s (loomline on a loaded machine) the last log
    batch used to wait behind them and be dropped. The harness gives logs their own
    connection (``localhost``); this pins that it keeps the exit prompt."""
    otlp_sink.delays.update({"/v1/metrics": 1.5, "/v1/traces": 1.5})
    env = claude_env_factory(otlp_sink.endpoint)
    assert env.env()["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"] == f"http://localhost:{otlp_sink.port}/v1/logs"
    with_recording_hooks(env)
    with InteractiveSession(env) as session:
        session.handle_first_run()
        session.type_line("hello there")
        session.wait_for(REPLY_TEXT)
        assert wait_until(lambda: "Stop" in [h["hook_event_name"] for h in hook_payloads(env.root / "hooks.jsonl")])
        session.type_line("/exit")
        assert session.wait_exit(), session.screen()
    prompts = wait_until(lambda: len(events(otlp_sink, "user_prompt")) >= 2 and events(otlp_sink, "user_prompt"), timeout=5)
    assert [p.get("command_name") for p in (prompts or [])] == [None, "exit"]
