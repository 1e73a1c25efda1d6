"""Each real Claude Code capture, derived with and without the hook bridge's records."""

from __future__ import annotations

import functools
import math

import pytest

from enrich.derive import derive
from enrich.model import Derived, Event
from tests.fixtures import SCENARIOS, steps
from tests.test_enrich_replay import scenario_events

MINUTE_US = 60 * 1_000_000


def _last(events: list[Event]) -> int:
    return max(e.timestamp for e in events)


@functools.cache
def derived(scenario: str, with_hooks: bool, idle_minutes: float = 1.0) -> Derived:
    """Derived one minute after the last event, with a 30-minute idle window."""
    events = scenario_events(scenario, with_hooks)
    return derive(events, now_us=_last(events) + int(idle_minutes * MINUTE_US))


def session(d: Derived, session_id: str):  # noqa: ANN201 - test helper
    return next(s for s in d.sessions if s.session_id == session_id)


def sources(d: Derived, session_id: str) -> list[str]:
    return [g.source for g in d.segments if g.session_id == session_id]


BOTH = pytest.mark.parametrize("with_hooks", [False, True], ids=["native", "hooks"])


@BOTH
def test_resume_continue_is_one_session_three_segments_one_thread(with_hooks: bool) -> None:
    d = derived("resume_continue", with_hooks)
    session_id = steps("resume_continue")[0]["session_id"]
    assert [s.session_id for s in d.sessions] == [session_id]
    # --continue's start-up placeholder id is folded into the continued session
    assert [p for p, _ in d.absorbed_sessions] == ["a55630f1-6679-4694-9fdb-c6683cb4f58d"]
    assert sources(d, session_id) == ["startup", "resume", "continue"]
    assert len(d.threads) == 1 and d.threads[0].session_ids == (session_id,)
    assert len(d.cli_runs) == 3
    s = session(d, session_id)
    assert (s.segment_count, s.resume_count, s.cli_run_count) == (3, 2, 3)
    assert s.start_source == "startup"
    assert s.usage.api_request_count == 3 and s.user_prompt_count == 3
    assert s.first_prompt == "first"
    assert d.links == ()
    # -p runs end with SessionEnd reason 'other'; natively nothing says the session ended
    assert (s.close_reason, s.close_evidence) == (("other", "hook") if with_hooks else ("open", ""))


@BOTH
def test_fork_is_two_threads(with_hooks: bool) -> None:
    d = derived("fork", with_hooks)
    parent, child = (step["session_id"] for step in steps("fork"))
    assert parent == "3cfcf546-f49c-46bd-ac61-e8e67fbc89b9"
    assert {t.thread_id for t in d.threads} == {parent, child}
    assert sources(d, parent) == ["startup"]
    assert sources(d, child) == ["fork"]
    assert session(d, child).start_source == "fork"
    if with_hooks:
        assert [(k.from_session_id, k.to_session_id, k.link_type, k.evidence) for k in d.links] == [
            (parent, child, "forked_from", "hook")
        ]
        assert session(d, child).parent_thread_id == parent
        assert next(t for t in d.threads if t.thread_id == child).parent_thread_id == parent
    else:
        # Claude Code's telemetry does not name a fork's parent.
        assert d.links == ()
        assert session(d, child).parent_thread_id == ""


@BOTH
def test_interactive_clear_exit(with_hooks: bool) -> None:
    d = derived("interactive_clear_exit", with_hooks)
    first = "d9a82d06-f49b-4f07-a519-fd0586d61e6a"
    second = "8d4481b2-5233-48d4-91f0-55e8f6e18046"
    assert sorted(s.session_id for s in d.sessions) == sorted([first, second])
    assert sorted(t.thread_id for t in d.threads) == sorted([first, second])
    assert all(t.parent_thread_id == "" for t in d.threads)
    assert len(d.cli_runs) == 1 and d.cli_runs[0].session_ids == (first, second)
    assert [(k.from_session_id, k.to_session_id, k.link_type) for k in d.links] == [(first, second, "cleared_from")]
    assert d.links[0].evidence == ("hook" if with_hooks else "inferred")
    assert session(d, first).close_reason == "clear"
    assert session(d, second).close_reason == "exit"
    assert session(d, second).start_source == "clear"
    assert session(d, first).first_prompt == "hello there"
    assert session(d, second).first_prompt == "after clear"
    assert all(t.status == "closed" for t in d.threads)
    if with_hooks:
        assert d.cli_runs[0].evidence == "hook" and d.cli_runs[0].host == "devbox"


@BOTH
def test_compact_manual(with_hooks: bool) -> None:
    d = derived("compact_manual", with_hooks)
    session_id = steps("compact_manual")[0]["session_id"]
    assert [(c.trigger, c.success, c.pre_tokens, c.post_tokens, c.error) for c in d.compactions] == [
        ("manual", True, 2655, 2545, "")
    ]
    assert d.compactions[0].duration_ms == 244.0
    assert d.compactions[0].prompt_id == "bd3b74b7-97fc-4bc1-b748-c517b23b658c"
    assert d.compactions[0].thread_id == session_id
    s = session(d, session_id)
    assert (s.compaction_count, s.failed_compaction_count) == (1, 0)
    assert s.last_compacted_at == d.compactions[0].timestamp
    assert sources(d, session_id) == ["startup", "resume", "resume", "compact"]
    assert d.threads[0].compaction_count == 1


@BOTH
def test_autocompact_failures_are_recorded_not_counted(with_hooks: bool) -> None:
    d = derived("autocompact", with_hooks)
    assert [(c.trigger, c.success, c.error) for c in d.compactions] == [
        ("auto", False, "too_few_groups"), ("auto", False, "too_few_groups")
    ]
    assert [c.pre_tokens for c in d.compactions] == [186044, 186053]
    s = d.sessions[0]
    assert (s.compaction_count, s.failed_compaction_count, s.last_compacted_at) == (0, 2, None)
    assert "compact" not in sources(d, s.session_id)
    assert (d.threads[0].compaction_count, d.threads[0].failed_compaction_count) == (0, 2)


@BOTH
def test_api_error_closes_with_error_natively(with_hooks: bool) -> None:
    d = derived("api_error", with_hooks)
    s = d.sessions[0]
    assert s.api_error_count == 1 and s.usage.api_request_count == 0
    # The bridge's SessionEnd reason is stronger evidence than the failed request.
    assert s.close_reason == ("other" if with_hooks else "error")


def test_api_retry_recovers() -> None:
    s = derived("api_retry", False).sessions[0]
    assert s.api_error_count == 0 and s.close_reason == "open"


def test_fresh_tool_counts() -> None:
    s = derived("fresh_tool", False).sessions[0]
    assert (s.tool_call_count, s.tool_error_count, s.usage.api_request_count) == (1, 0, 2)
    assert s.models == ("claude-opus-5-5",) and s.first_model == "claude-opus-5-5"
    assert s.terminal_type and s.app_version == "2.1.328" and s.agent_name == "claude-code"


@pytest.mark.parametrize("scenario", SCENARIOS)
@BOTH
def test_costs_add_up_exactly(scenario: str, with_hooks: bool) -> None:
    events = scenario_events(scenario, with_hooks)
    requests = [e for e in events if e.event_name == "api_request"]
    d = derived(scenario, with_hooks)
    for totals in [s.usage for s in d.sessions] + [t.usage for t in d.threads]:
        assert totals.cost_micros <= sum(e.cost_micros for e in requests)
    for attribute in ("cost_micros", "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens", "api_request_count"):
        expected = len(requests) if attribute == "api_request_count" else sum(getattr(e, attribute) for e in requests)
        assert sum(getattr(s.usage, attribute) for s in d.sessions) == expected, attribute
        assert sum(getattr(t.usage, attribute) for t in d.threads) == expected, attribute
    assert math.fsum(s.usage.cost_usd for s in d.sessions) == pytest.approx(math.fsum(e.cost_usd for e in requests), abs=1e-12)
    for s in d.sessions:
        assert s.usage.cost_micros == sum(e.cost_micros for e in requests if e.session_id == s.session_id)
        assert s.usage.computed_cost_usd > 0 or s.usage.api_request_count == 0
        assert s.usage.unpriced_request_count == 0


def test_idle_sessions_time_out_and_activity_reopens() -> None:
    events = scenario_events("resume_continue", False)
    last = _last(events)
    later = derive(events, now_us=last + 31 * MINUTE_US).sessions[0]
    assert (later.close_reason, later.closed_at, later.close_evidence) == ("timeout", last, "derived")
    sooner = derive(events, now_us=last + 29 * MINUTE_US).sessions[0]
    assert (sooner.close_reason, sooner.closed_at) == ("open", None)
    short_window = derive(events, now_us=last + 6 * MINUTE_US, idle_timeout_us=5 * MINUTE_US).sessions[0]
    assert short_window.close_reason == "timeout"
    # Stronger evidence wins over the clock.
    cleared = derive(scenario_events("interactive_clear_exit", False), now_us=last + 10**12)
    assert sorted(s.close_reason for s in cleared.sessions) == ["clear", "exit"]


def test_threads_have_titles_and_status() -> None:
    d = derived("fork", True)
    assert sorted(t.title for t in d.threads) == ["First", "Forked"]  # enrich/titles.py
    assert all(t.status == "closed" and t.close_reason == "other" for t in d.threads)
    native = derived("fork", False)
    assert all(t.status == "active" for t in native.threads)
