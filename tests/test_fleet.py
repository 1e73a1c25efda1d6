"""The fleet generator: deterministic, shaped like the real captures, honest ground truth."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from loomline.fleet import Fleet, FleetSpec, generate, record_count
from tests.fixtures import SCENARIOS, otlp_requests

# Attributes an OAuth-authenticated fleet carries that the API-key captures do not.
EXTRA_RECORD_ATTRS = {"organization.id", "user.email", "user.account_uuid"}
# OTEL_RESOURCE_ATTRIBUTES the generator sets for some users.
EXTRA_RESOURCE_ATTRS = {"project.name", "team.name", "department"}
HOOK_INT_ATTRS = {"loomline.cli_run.pid", "pre_tokens", "post_tokens"}

# Every behaviour turned up so a small fleet shows each of them.
SPEC = FleetSpec(seed=11, orgs=3, users=8, sessions=30, days=3, batch_size=200, fork_rate=0.3,
                 clear_rate=0.5, resume_rate=0.5, manual_compact_rate=0.2, autocompact_threshold=40_000,
                 api_error_rate=0.03, hook_bridge_share=0.5)


def _attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key: kv.value for kv in kvs}


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    return getattr(v, kind)


def _logs(requests: list[tuple[str, Any]]) -> Iterator[tuple[Any, Any, Any]]:
    """(resource, scope, record) for each log record, in order."""
    for signal, req in requests:
        if signal == "logs":
            for rl in req.resource_logs:
                for sl in rl.scope_logs:
                    for rec in sl.log_records:
                        yield rl.resource, sl.scope, rec


def _spans(requests: list[tuple[str, Any]]) -> Iterator[tuple[Any, Any, Any]]:
    for signal, req in requests:
        if signal == "traces":
            for rs in req.resource_spans:
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        yield rs.resource, ss.scope, span


def _points(requests: list[tuple[str, Any]]) -> Iterator[tuple[Any, Any, Any, Any]]:
    for signal, req in requests:
        if signal == "metrics":
            for rm in req.resource_metrics:
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        for p in m.sum.data_points:
                            yield rm.resource, sm.scope, m, p


def _service(resource: Any) -> str:
    return _attrs(resource.attributes)["service.name"].string_value


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return Fleet(SPEC)


@pytest.fixture(scope="module")
def requests(fleet: Fleet) -> list[tuple[str, Any]]:
    return list(fleet.requests())


@pytest.fixture(scope="module")
def claude_logs(requests: list[tuple[str, Any]]) -> list[tuple[Any, Any, dict[str, Any]]]:
    return [(res, rec, {k: _value(v) for k, v in _attrs(rec.attributes).items()})
            for res, _, rec in _logs(requests) if _service(res) == "claude-code"]


@pytest.fixture(scope="module")
def captured() -> dict[str, Any]:
    """What the real captures use: value kinds per (event or span or metric, attribute)."""
    if not SCENARIOS:
        pytest.skip("real captures not available")
    out: dict[str, Any] = {"log": defaultdict(set), "span": defaultdict(set), "metric": defaultdict(set),
                           "resource": set(), "scopes": set(), "metric_shape": set()}
    for scenario in SCENARIOS:
        requests = list(otlp_requests(scenario))
        for res, scope, rec in _logs(requests):
            out["resource"].update(_attrs(res.attributes))
            out["scopes"].add(("logs", scope.name))
            attrs = _attrs(rec.attributes)
            event = attrs["event.name"].string_value
            for key, value in attrs.items():
                out["log"][(event, key)].add(value.WhichOneof("value"))
        for _, scope, span in _spans(requests):
            out["scopes"].add(("traces", scope.name))
            for key, value in _attrs(span.attributes).items():
                out["span"][(span.name, key)].add(value.WhichOneof("value"))
        for _, scope, metric, point in _points(requests):
            out["scopes"].add(("metrics", scope.name))
            out["metric_shape"].add((metric.name, metric.unit, metric.sum.aggregation_temporality,
                                     metric.sum.is_monotonic, point.WhichOneof("value")))
            for key, value in _attrs(point.attributes).items():
                out["metric"][(metric.name, key)].add(value.WhichOneof("value"))
    return out


def _check_kinds(where: str, name: str, attrs: Any, known: dict[tuple[str, str], set[str]],
                 problems: set[str]) -> None:
    for key, value in _attrs(attrs).items():
        kind = value.WhichOneof("value")
        if (name, key) in known:
            if kind not in known[(name, key)]:
                problems.add(f"{where} {name}.{key}: {kind}, captures use {sorted(known[(name, key)])}")
        elif not (key in EXTRA_RECORD_ATTRS and kind == "string_value"):
            problems.add(f"{where} {name}.{key}: not in the captures")


# ---------------------------------------------------------------------------------------


def test_same_seed_same_bytes() -> None:
    def encode(seed: int) -> list[bytes]:
        return [req.SerializeToString(deterministic=True)
                for _, req in generate(seed=seed, orgs=2, users=4, sessions=6, days=2, batch_size=100)]

    first = encode(5)
    assert first == encode(5)
    assert first != encode(6)


def test_attribute_names_and_types_match_the_captures(requests: list[tuple[str, Any]], captured: dict[str, Any]) -> None:
    problems: set[str] = set()
    for res, scope, rec in _logs(requests):
        if _service(res) != "claude-code":
            continue
        assert ("logs", scope.name) in captured["scopes"]
        event = _attrs(rec.attributes)["event.name"].string_value
        assert rec.body.string_value == f"claude_code.{event}"
        _check_kinds("log", event, rec.attributes, captured["log"], problems)
        for key in _attrs(res.attributes):
            if key not in captured["resource"] | EXTRA_RESOURCE_ATTRS:
                problems.add(f"resource {key}")
    for _, scope, span in _spans(requests):
        assert ("traces", scope.name) in captured["scopes"]
        assert span.flags == 257 and len(span.trace_id) == 16 and len(span.span_id) == 8
        _check_kinds("span", span.name, span.attributes, captured["span"], problems)
    for _, scope, metric, point in _points(requests):
        assert ("metrics", scope.name) in captured["scopes"]
        shape = (metric.name, metric.unit, metric.sum.aggregation_temporality, metric.sum.is_monotonic,
                 point.WhichOneof("value"))
        assert shape in captured["metric_shape"]
        _check_kinds("metric", metric.name, point.attributes, captured["metric"], problems)
    assert not problems, "\n".join(sorted(problems))


def test_every_captured_event_attribute_is_emitted(claude_logs: list[Any], captured: dict[str, Any]) -> None:
    """The other direction: what the captures always carry, the fleet carries too."""
    emitted: dict[str, set[str]] = defaultdict(set)
    for _, _, attrs in claude_logs:
        emitted[attrs["event.name"]].update(attrs)
    for event in ("api_request", "api_error", "tool_result", "tool_decision", "compaction", "user_prompt",
                  "assistant_response", "hook_execution_start", "plugin_loaded"):
        expected = {key for (e, key) in captured["log"] if e == event}
        assert expected <= emitted[event], (event, expected - emitted[event])


def test_stringly_numbers_stay_strings(claude_logs: list[Any]) -> None:
    for _, _, a in claude_logs:
        event = a["event.name"]
        if event == "tool_result":
            assert a["success"] in {"true", "false"} and a["duration_ms"].isdigit()
        elif event == "compaction":
            assert a["success"] in {"true", "false"} and a["pre_tokens"].isdigit()
            if a["success"] == "false" and a["trigger"] == "auto":
                assert a["error"] in {"too_few_groups", "api_error"} and "post_tokens" not in a
        elif event == "user_prompt":
            assert a["prompt_length"].isdigit()
        elif event == "api_request":
            assert isinstance(a["cost_usd_micros"], int) and isinstance(a["cost_usd"], float)
            assert a["cost_usd"] == pytest.approx(a["cost_usd_micros"] / 1e6)
            assert a["cache_creation_tokens"] == a["cache_creation_5m_tokens"] + a["cache_creation_1h_tokens"]


def test_sequence_restarts_per_process_and_continues_across_clear(fleet: Fleet, claude_logs: list[Any]) -> None:
    starts = 0
    previous: dict[str, Any] | None = None
    clears_seen = 0
    for _, _, a in claude_logs:
        seq = a["event.sequence"]
        if seq == 0:
            assert a["event.name"] == "managed_settings_resolved"
            starts += 1
        else:
            assert previous is not None and seq == previous["event.sequence"] + 1
        if previous is not None and previous.get("command_name") == "clear":
            # the next record of the same process is already under the new session id
            assert seq == previous["event.sequence"] + 1
            assert a["session.id"] != previous["session.id"]
            clears_seen += 1
        previous = a
    truth = fleet.ground_truth
    assert starts == truth.counts["cli_runs"]
    assert clears_seen == truth.counts["clears"] > 0


def test_resume_keeps_the_id_and_continue_boots_under_a_ghost(fleet: Fleet, requests: list[Any]) -> None:
    truth = fleet.ground_truth
    start_types = Counter()
    for _, _, metric, point in _points(requests):
        if metric.name == "claude_code.session.count":
            start_types[_attrs(point.attributes)["start_type"].string_value] += 1
    assert start_types["fresh"] == truth.counts["conversations"]
    assert start_types["resume"] == truth.counts["resumes"] + truth.counts["forks"]
    assert start_types["continue"] == truth.counts["continues"] > 0
    resumed = [s for s in truth.sessions.values() if "resume" in s.start_types]
    assert resumed and all(len(s.runs) >= 2 for s in resumed)
    ghosts = {g for s in truth.sessions.values() for g in s.ghost_session_ids}
    assert len(ghosts) == truth.counts["ghost_sessions"]


def test_ground_truth_matches_the_records(fleet: Fleet, requests: list[Any], claude_logs: list[Any]) -> None:
    truth = fleet.ground_truth
    assert truth.summary() == Fleet(SPEC).ground_truth.summary()  # the counting pass agrees
    events = Counter(a["event.name"] for _, _, a in claude_logs)
    assert events["api_request"] == truth.counts["api_requests"]
    assert events["api_error"] == truth.counts["api_errors"] > 0
    assert events["compaction"] == truth.counts["compactions"]
    assert events["tool_result"] == truth.counts["tool_calls"]
    assert sum(a["cost_usd_micros"] for _, _, a in claude_logs if a["event.name"] == "api_request") \
        == truth.total_cost_usd_micros > 0
    session_ids = {a["session.id"] for _, _, a in claude_logs}
    ghosts = {g for s in truth.sessions.values() for g in s.ghost_session_ids}
    assert session_ids == set(truth.sessions) | ghosts
    assert {a["organization.id"] for _, _, a in claude_logs} == set(truth.orgs)
    failed = [a for _, _, a in claude_logs if a["event.name"] == "compaction" and a["success"] == "false"]
    assert len(failed) == truth.counts["compactions_failed"] > 0
    assert truth.counts["compactions_manual"] > 0 and truth.counts["compactions_auto"] > 0
    kinds = Counter(s.link for s in truth.sessions.values())
    assert kinds["forked_from"] == truth.counts["forks"] > 0
    assert kinds["cleared_from"] == truth.counts["clears"]
    assert truth.threads == len(truth.sessions)  # current Claude Code: every fork and clear roots a thread
    for s in truth.sessions.values():
        if s.link:
            assert s.parent_session_id in truth.sessions
        assert s.close_reason in {"clear", "exit", "logout", "other", "error"}
    counted = Counter()
    for signal, req in requests:
        counted[signal] += record_count(signal, req)
    assert counted["logs"] == truth.counts["log_records"] + truth.counts["hook_records"]
    assert counted["traces"] == truth.counts["spans"]
    assert counted["metrics"] == truth.counts["metric_points"]
    assert Counter(s for s, _ in requests) == Counter(
        {k: truth.counts[f"requests_{k}"] for k in ("logs", "traces", "metrics")})


def test_hook_bridge_records_follow_the_contract(fleet: Fleet, requests: list[Any]) -> None:
    truth = fleet.ground_truth
    names: Counter[str] = Counter()
    for res, _, rec in _logs(requests):
        if _service(res) != "loomline-hook":
            continue
        attrs = _attrs(rec.attributes)
        name = attrs["event.name"].string_value
        names[name] += 1
        assert rec.body.string_value == name and name.startswith("loomline.")
        for key, value in attrs.items():
            assert value.WhichOneof("value") == ("int_value" if key in HOOK_INT_ATTRS else "string_value"), key
        session = truth.sessions[attrs["session.id"].string_value]
        assert session.hook_bridge
        if name == "loomline.session_start" and attrs["source"].string_value == "fork":
            assert attrs["loomline.parent_session_id"].string_value == session.parent_session_id
        if name == "loomline.session_end" and attrs["reason"].string_value == "clear":
            assert session.close_reason == "clear"
    assert sum(names.values()) == truth.counts["hook_records"] > 0
    assert {"loomline.session_start", "loomline.session_end", "loomline.user_prompt_submit"} <= set(names)


def test_batches_respect_the_size(requests: list[Any]) -> None:
    for signal, req in requests:
        n = record_count(signal, req)
        assert 0 < n <= SPEC.batch_size + (20 if signal == "metrics" else 0)


def test_spec_validation() -> None:
    with pytest.raises(ValueError):
        FleetSpec(fork_rate=1.5)
    with pytest.raises(ValueError):
        FleetSpec(users=0)


# A fleet where every user has the hook bridge, with forks and clears: the demo's records
# must give exactly the ground truth's threads per org, through a real in-process loomline.
DEMO_SPEC = FleetSpec(seed=23, orgs=3, users=6, sessions=16, days=2, batch_size=300, fork_rate=0.35,
                      clear_rate=0.3, resume_rate=0.3, manual_compact_rate=0.1, hook_bridge_share=1.0)


def test_demo_through_loomline_gives_the_ground_truth_threads_per_org(app_factory: Any, storage: Any) -> None:
    from loomline.demo import send

    app = app_factory(storage=storage, enrich_interval=3600)
    fleet = Fleet(DEMO_SPEC)
    send(fleet, f"127.0.0.1:{app.ports['otlp_grpc']}")
    app.enricher.derive_all()
    truth = fleet.ground_truth
    expected = {
        (s.org_id, s.session_id): truth.sessions[s.parent_session_id].thread_id if s.link == "forked_from" else ""
        for s in truth.sessions.values() if s.thread_id == s.session_id
    }
    assert any(parent for parent in expected.values()), "the fleet must have forks"
    rows = storage.query_rows("SELECT org_id, thread_id, parent_thread_id FROM threads FINAL WHERE is_deleted = 0")
    found = {(org, thread): parent for org, thread, parent in rows}
    assert sorted(found) == sorted(expected)  # no thread in an org it does not belong to
    assert found == expected
    orgs = {org for org, _ in found}
    assert "default" not in orgs and orgs <= set(truth.orgs)
