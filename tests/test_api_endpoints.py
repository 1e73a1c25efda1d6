"""Query API over the real path: fixture captures sent through the gRPC receiver,
enrichment run, every endpoint read over HTTP from the in-process server.

One data set per module (loading it is the slow part): org ``default`` holds the native
telemetry of every scenario; org ``acme`` (an ``organization.id`` resource attribute)
the same captures plus the hook bridge's records, so it also has projects, fork links
and /clear links.
"""

from __future__ import annotations

import io
import itertools
import json
import math
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import polars as pl
import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from loomline.app import Loomline
from query_api.app import create_app
from receiver.selfmetrics import ReceiverMetrics
from storage.client import Storage
from tests.conftest import running_app
from tests.fixtures import SCENARIOS, otlp_requests
from tests.test_enrich_replay import hook_requests
from tests.test_receiver_grpc import STUBS, channel_for

try:
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
except ImportError:  # pragma: no cover - schemathesis is a test extra
    schemathesis = None

ORG_NATIVE = "default"
ORG_HOOKS = "acme"


# -- loading ---------------------------------------------------------------------------------
def _resources(request: Any) -> Iterator[Any]:
    for name in ("resource_logs", "resource_spans", "resource_metrics"):
        yield from getattr(request, name, [])


def _attribute_lists(resource: Any) -> Iterator[Any]:
    """Every attribute list under one resource: records, spans, metric points."""
    for scope in (*getattr(resource, "scope_logs", []),):
        for record in scope.log_records:
            yield record.attributes
    for scope in getattr(resource, "scope_spans", []):
        for span in scope.spans:
            yield span.attributes
    for scope in getattr(resource, "scope_metrics", []):
        for metric in scope.metrics:
            for kind in ("sum", "gauge", "histogram"):
                if metric.HasField(kind):
                    for point in getattr(metric, kind).data_points:
                        yield point.attributes


def scoped(request: Any, org: str | None = None, prefix: str = "") -> Any:
    """A copy of an export request under another org and/or with prefixed session ids."""
    copy = type(request)()
    copy.CopyFrom(request)
    for resource in _resources(copy):
        if org is not None:
            resource.resource.attributes.append(KeyValue(key="organization.id", value=AnyValue(string_value=org)))
        if prefix:
            for attributes in _attribute_lists(resource):
                for kv in attributes:
                    if kv.key.endswith(("session.id", "session_id")) and kv.value.string_value:
                        kv.value.string_value = prefix + kv.value.string_value
    return copy


def send(app: Loomline, requests: list[tuple[str, Any]], token: str | None = None) -> None:
    metadata = [("authorization", f"Bearer {token}")] if token else None
    with channel_for(app) as channel:
        for signal, request in requests:
            response = STUBS[signal](channel).Export(request, timeout=30, metadata=metadata)
            assert not response.HasField("partial_success"), response.partial_success


def scenario_requests(scenario: str, org: str | None = None, prefix: str = "", hooks: bool = False) -> list[tuple[str, Any]]:
    requests = list(otlp_requests(scenario))
    if hooks:
        requests += [("logs", r) for r in hook_requests(scenario)]
    return [(signal, scoped(r, org, prefix)) for signal, r in requests]


def enrich(app: Loomline) -> None:
    """One enrichment pass, its clock a minute after the newest event: sessions without an
    end stay open (the idle timeout is 30 minutes) however long ago the captures ran."""
    assert app.storage is not None
    newest = app.storage.query_rows("SELECT max(Timestamp) FROM events")[0][0]
    app.enricher.run_once(now=newest.replace(tzinfo=UTC) + timedelta(minutes=1))


@pytest.fixture(scope="module")
def loaded(chdb_dsn: str) -> Iterator[Loomline]:
    with running_app(chdb_dsn, enrich_interval=3600) as app:
        for scenario in SCENARIOS:
            send(app, scenario_requests(scenario))
            send(app, scenario_requests(scenario, org=ORG_HOOKS, hooks=True))
        enrich(app)
        yield app


@pytest.fixture(scope="module")
def api(loaded: Loomline) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://127.0.0.1:{loaded.ports['api']}", timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def db(loaded: Loomline) -> Storage:
    assert loaded.storage is not None
    return loaded.storage


def get(api: httpx.Client, path: str, expect: int = 200, **params: Any) -> Any:
    response = api.get(path, params=params)
    assert response.status_code == expect, (path, params, response.text)
    return response.json()


def all_pages(api: httpx.Client, path: str, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Follow next_cursor to the end; bounded."""
    rows: list[dict[str, Any]] = []
    cursor = None
    for _ in range(500):
        body = get(api, path, limit=limit, **({"cursor": cursor} if cursor else {}), **params)
        assert len(body["data"]) <= limit
        rows += body["data"]
        cursor = body["pagination"]["next_cursor"]
        assert body["pagination"]["has_more"] is (cursor is not None)
        if cursor is None:
            return rows
        assert len(body["data"]) == limit
    raise AssertionError("pagination did not end")


def session_ids(db: Storage, org: str) -> set[str]:
    return {r[0] for r in db.query_rows(
        "SELECT DISTINCT SessionId FROM events FINAL WHERE OrgId = {o:String} AND EventName = 'api_request'", {"o": org})}


def event_sums(db: Storage, org: str, sessions: list[str]) -> dict[str, Any]:
    row = db.query_dicts(
        "SELECT count() AS n, sum(CostMicros) AS micros, sum(CostUsd) AS usd, sum(InputTokens) AS input,"
        " sum(OutputTokens) AS output, sum(CacheReadTokens) AS cache_read, sum(CacheCreationTokens) AS cache_creation"
        " FROM events FINAL WHERE OrgId = {o:String} AND EventName = 'api_request' AND SessionId IN {s:Array(String)}",
        {"o": org, "s": sessions},
    )[0]
    return row


# -- health, docs, metrics -------------------------------------------------------------------
def test_health_ready_openapi_docs_metrics(api: httpx.Client) -> None:
    assert get(api, "/healthz") == {"status": "ok"}
    assert get(api, "/readyz") == {"status": "ready"}
    spec = get(api, "/openapi.json")
    paths = set(spec["paths"])
    for path in (
        "/api/v1/{org_id}/conversations", "/api/v1/{org_id}/conversations/{thread_id}",
        "/api/v1/{org_id}/llm_sessions", "/api/v1/{org_id}/llm_sessions/{session_id}",
        "/api/v1/{org_id}/llm_sessions/{session_id}/compactions",
        "/api/v1/{org_id}/llm_sessions/{session_id}/events", "/api/v1/{org_id}/usage",
    ):
        assert path in paths
    docs = api.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    metrics = api.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert "loomline_records_received" in metrics.text or "loomline_" in metrics.text
    assert 'loomline_api_requests{route="/healthz",status="200"}' in metrics.text


# -- conversations ---------------------------------------------------------------------------
def test_conversations_list_items_and_default_order(api: httpx.Client, db: Storage) -> None:
    body = get(api, f"/api/v1/{ORG_NATIVE}/conversations", limit=100)
    rows = body["data"]
    threads = {r[0] for r in db.query_rows(
        "SELECT thread_id FROM threads FINAL WHERE org_id = {o:String} AND is_deleted = 0", {"o": ORG_NATIVE})}
    assert {r["thread_id"] for r in rows} == threads and len(rows) == len(threads) >= 8
    last = [r["last_activity_at"] for r in rows]
    assert last == sorted(last, reverse=True)  # newest activity first
    item = next(r for r in rows if r["thread_id"] == "30d50448-249e-4f22-ae04-2ca239e29606")  # fresh_tool
    assert item["title"] == "Run TOOL" and item["title_source"] == "auto"  # from the first prompt
    assert (item["session_count"], item["compaction_count"], item["tool_call_count"]) == (1, 0, 1)
    assert (item["input_tokens"], item["output_tokens"], item["cache_read_tokens"], item["cache_creation_tokens"]) == (3000, 84, 1600, 400)
    assert item["estimated_cost_usd"] == pytest.approx(0.016)
    assert item["computed_cost_usd"] > 0
    assert item["first_activity_at"].endswith("Z") and item["status"] in {"active", "closed"}
    assert item["parent_thread_id"] is None and item["models"] == ["claude-opus-5-5"]


def test_per_thread_sums_equal_api_request_events(api: httpx.Client, db: Storage) -> None:
    for org in (ORG_NATIVE, ORG_HOOKS):
        rows = get(api, f"/api/v1/{org}/conversations", limit=1000)["data"]
        usage = {u["thread_id"]: u for u in get(api, f"/api/v1/{org}/usage", group_by="thread", limit=1000)["data"]}
        covered: set[str] = set()
        for row in rows:
            detail = get(api, f"/api/v1/{org}/conversations/{row['thread_id']}")["data"]
            members = [s["session_id"] for s in detail["sessions"]]
            assert sorted(members) == sorted(detail["session_ids"])
            covered |= set(members)
            sums = event_sums(db, org, members)
            assert row["api_request_count"] == sums["n"]
            assert row["estimated_cost_usd"] == pytest.approx(sums["micros"] / 1e6, abs=1e-9)
            assert row["estimated_cost_usd"] == pytest.approx(sums["usd"], abs=1e-9)
            assert (row["input_tokens"], row["output_tokens"], row["cache_read_tokens"], row["cache_creation_tokens"]) == (
                sums["input"], sums["output"], sums["cache_read"], sums["cache_creation"])
            # The usage endpoint adds up to the same figure.
            if sums["n"]:
                assert usage[row["thread_id"]]["cost_micros"] == sums["micros"]
                assert usage[row["thread_id"]]["input_tokens"] == sums["input"]
        # Every session with requests is in some thread.
        assert session_ids(db, org) <= covered


def test_conversation_filters(api: httpx.Client, db: Storage) -> None:
    path = f"/api/v1/{ORG_HOOKS}/conversations"
    every = get(api, path, limit=1000)["data"]
    ids = lambda rows: {r["thread_id"] for r in rows}  # noqa: E731
    # status (with the hook bridge every capture ended; natively some are still open)
    for org in (ORG_NATIVE, ORG_HOOKS):
        all_org = get(api, f"/api/v1/{org}/conversations", limit=1000)["data"]
        active = get(api, f"/api/v1/{org}/conversations", status="active", limit=1000)["data"]
        closed = get(api, f"/api/v1/{org}/conversations", status="closed", limit=1000)["data"]
        assert closed and ids(active) | ids(closed) == ids(all_org) and not ids(active) & ids(closed)
        assert {r["status"] for r in active} <= {"active"} and {r["status"] for r in closed} == {"closed"}
        assert active or org == ORG_HOOKS
    # user: by id and by email-or-id, and a value that matches nothing (even SQL-looking)
    user_id = every[0]["user_id"]
    assert ids(get(api, path, user=user_id, limit=1000)["data"]) == {r["thread_id"] for r in every if r["user_id"] == user_id}
    assert get(api, path, user="x' OR 1=1 --")["data"] == []
    # project (from the hook bridge) by id and by name
    with_project = [r for r in every if r["project_id"]]
    assert with_project
    pid, pname = with_project[0]["project_id"], with_project[0]["project_name"]
    by_id = ids(get(api, path, project=pid, limit=1000)["data"])
    assert by_id == {r["thread_id"] for r in every if r["project_id"] == pid}
    assert ids(get(api, path, project=pname, limit=1000)["data"]) >= by_id
    assert get(api, path, project="no-such-project")["data"] == []
    # agent, model
    agent = every[0]["agent_name"]
    assert ids(get(api, path, agent=agent, limit=1000)["data"]) == {r["thread_id"] for r in every if r["agent_name"] == agent}
    assert get(api, path, agent="nobody")["data"] == []
    assert ids(get(api, path, model="claude-opus-5-5", limit=1000)["data"]) == {r["thread_id"] for r in every if "claude-opus-5-5" in r["models"]}
    assert get(api, path, model="gpt-0")["data"] == []
    # min_cost
    expensive = get(api, path, min_cost=0.02, limit=1000)["data"]
    assert ids(expensive) == {r["thread_id"] for r in every if r["estimated_cost_usd"] >= 0.02} and expensive
    # time range: [from, to) keeps threads active in it
    times = sorted(r["last_activity_at"] for r in every)
    middle = times[len(times) // 2]
    after = get(api, path, **{"from": middle}, limit=1000)["data"]
    assert ids(after) == {r["thread_id"] for r in every if r["last_activity_at"] >= middle}
    before = get(api, path, to=every[-1]["first_activity_at"], limit=1000)["data"]
    assert ids(before) == {r["thread_id"] for r in every if r["first_activity_at"] < every[-1]["first_activity_at"]}
    assert get(api, path, **{"from": "2001-01-01", "to": "2001-01-02"})["data"] == []


@pytest.mark.parametrize("sort", ["last_activity", "cost", "tokens", "sessions", "compactions"])
@pytest.mark.parametrize("order", ["desc", "asc"])
def test_conversation_pagination_round_trip(api: httpx.Client, sort: str, order: str) -> None:
    path = f"/api/v1/{ORG_HOOKS}/conversations"
    whole = get(api, path, limit=1000, sort=sort, order=order)["data"]
    paged = all_pages(api, path, 3, sort=sort, order=order)
    assert [r["thread_id"] for r in paged] == [r["thread_id"] for r in whole]  # no gaps, no repeats
    key = {"last_activity": "last_activity_at", "cost": "estimated_cost_usd", "tokens": "total_tokens",
           "sessions": "session_count", "compactions": "compaction_count"}[sort]
    values = [r[key] for r in paged]
    assert values == sorted(values, reverse=order == "desc")


def test_conversation_detail_timeline(api: httpx.Client) -> None:
    # compact_manual: one session, startup + 2 resumes + compact segments, one compaction.
    detail = get(api, f"/api/v1/{ORG_NATIVE}/conversations/ff3923b1-3d3c-47e4-ac75-409610d1482e")["data"]
    assert detail["thread_id"] == "ff3923b1-3d3c-47e4-ac75-409610d1482e"
    assert [s["position"] for s in detail["sessions"]] == [1]
    kinds = [(e["kind"], e["type"]) for e in detail["timeline"]]
    assert kinds[0] == ("segment", "startup")
    assert ("segment", "compact") in kinds and ("compaction", "manual") in kinds
    times = [e["at"] for e in detail["timeline"]]
    assert times == sorted(times)
    (comp,) = detail["compactions"]
    assert (comp["pre_tokens"], comp["post_tokens"], comp["tokens_saved"], comp["success"]) == (2655, 2545, 110, True)


def test_conversation_detail_forks_and_clear_breaks(api: httpx.Client) -> None:
    rows = get(api, f"/api/v1/{ORG_HOOKS}/conversations", limit=1000)["data"]
    forks = [r for r in rows if r["parent_thread_id"]]
    assert forks, "the hook bridge names the fork's parent"
    child = get(api, f"/api/v1/{ORG_HOOKS}/conversations/{forks[0]['thread_id']}")["data"]
    assert child["forks"] and child["forks"][0]["direction"] == "parent"
    assert child["forks"][0]["from_thread_id"] == forks[0]["parent_thread_id"]
    parent = get(api, f"/api/v1/{ORG_HOOKS}/conversations/{forks[0]['parent_thread_id']}")["data"]
    assert any(f["direction"] == "child" and f["to_thread_id"] == forks[0]["thread_id"] for f in parent["forks"])
    assert any(e["kind"] == "segment" and e["type"] == "fork" for e in child["timeline"])
    # /clear: the thread before the break links to the one after.
    breaks = [
        b for r in rows
        for b in get(api, f"/api/v1/{ORG_HOOKS}/conversations/{r['thread_id']}")["data"]["clear_breaks"]
    ]
    assert breaks and all(b["link_type"] == "cleared_from" for b in breaks)
    assert breaks[0]["from_thread_id"] != breaks[0]["to_thread_id"]


def test_conversation_unknown_is_404(api: httpx.Client) -> None:
    body = get(api, f"/api/v1/{ORG_NATIVE}/conversations/no-such-thread", expect=404)
    assert body["error"]["code"] == "not_found"
    # An id that exists in another org only: 404 as well.
    get(api, "/api/v1/other-org/conversations/ff3923b1-3d3c-47e4-ac75-409610d1482e", expect=404)


# -- llm sessions ----------------------------------------------------------------------------
SESSION_KEYS = {
    "id", "otel_session_id", "conversation_thread_id", "agent_name", "start_source", "is_resumed",
    "close_reason", "compaction_count", "last_compacted_at", "started_at", "closed_at", "models",
    "metrics", "thread_info", "project", "user", "repository", "subagents",
    "title", "auto_title", "title_source", "archived",  # management (issue 14)
}


def test_llm_session_detail_shape(api: httpx.Client, db: Storage) -> None:
    data = get(api, f"/api/v1/{ORG_HOOKS}/llm_sessions/ff3923b1-3d3c-47e4-ac75-409610d1482e")["data"]
    assert set(data) == SESSION_KEYS
    assert set(data["metrics"]) == {
        "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens", "estimated_cost_usd",
        "computed_cost_usd", "message_count", "tool_call_count", "api_error_count",
        "injected_prompt_count", "unpriced_request_count", "unpriced_reasons"}
    assert set(data["thread_info"]) == {
        "position", "total_in_thread", "total_compactions_in_thread", "parent_thread_id", "parent_deleted"}
    assert set(data["project"]) == {"id", "name"} and set(data["user"]) == {"id", "email"}
    assert data["id"] == data["otel_session_id"] == "ff3923b1-3d3c-47e4-ac75-409610d1482e"
    assert data["compaction_count"] == 1 and data["last_compacted_at"].endswith("Z")
    assert data["thread_info"]["position"] == 1 and data["thread_info"]["total_compactions_in_thread"] == 1
    assert data["metrics"]["message_count"] == 3 and data["metrics"]["estimated_cost_usd"] == pytest.approx(0.032)
    assert data["project"]["id"]  # the hook bridge's cwd
    assert data["models"] == ["claude-opus-5-5"]
    # fork: its thread has a parent thread
    forks = get(api, f"/api/v1/{ORG_HOOKS}/llm_sessions", limit=1000, sort="started_at")["data"]
    fork = next(s for s in forks if s["start_source"] == "fork")
    detail = get(api, f"/api/v1/{ORG_HOOKS}/llm_sessions/{fork['id']}")["data"]
    assert detail["thread_info"]["parent_thread_id"] == fork["parent_thread_id"] is not None
    get(api, f"/api/v1/{ORG_HOOKS}/llm_sessions/nope", expect=404)


def test_llm_sessions_list_filters_and_pages(api: httpx.Client, db: Storage) -> None:
    path = f"/api/v1/{ORG_HOOKS}/llm_sessions"
    every = get(api, path, limit=1000)["data"]
    expected = {r[0] for r in db.query_rows(
        "SELECT session_id FROM llm_sessions FINAL WHERE org_id = {o:String} AND is_deleted = 0", {"o": ORG_HOOKS})}
    assert {r["id"] for r in every} == expected
    ids = lambda rows: {r["id"] for r in rows}  # noqa: E731
    for status in ("active", "closed"):
        assert ids(get(api, path, status=status, limit=1000)["data"]) == {r["id"] for r in every if r["status"] == status}
    assert ids(get(api, path, min_cost=0.02, limit=1000)["data"]) == {r["id"] for r in every if r["estimated_cost_usd"] >= 0.02}
    pid = next(r["project_id"] for r in every if r["project_id"])
    assert ids(get(api, path, project=pid, limit=1000)["data"]) == {r["id"] for r in every if r["project_id"] == pid}
    uid = every[0]["user_id"]
    assert ids(get(api, path, user=uid, limit=1000)["data"]) == {r["id"] for r in every if r["user_id"] == uid}
    assert ids(get(api, path, agent=every[0]["agent_name"], limit=1000)["data"]) == ids(every)
    assert get(api, path, model="none")["data"] == []
    mid = sorted(r["started_at"] for r in every)[len(every) // 2]
    assert ids(get(api, path, to=mid, limit=1000)["data"]) == {r["id"] for r in every if r["started_at"] < mid}
    for sort in ("last_activity", "started_at", "cost", "tokens", "compactions"):
        whole = get(api, path, limit=1000, sort=sort)["data"]
        assert [r["id"] for r in all_pages(api, path, 4, sort=sort)] == [r["id"] for r in whole]


def test_session_compactions(api: httpx.Client) -> None:
    rows = get(api, f"/api/v1/{ORG_NATIVE}/llm_sessions/bcb8d2fb-3b54-46bc-afb8-962ed1fd8988/compactions")["data"]
    assert [(r["trigger"], r["success"], r["error"]) for r in rows] == [("auto", False, "too_few_groups")] * 2
    assert get(api, f"/api/v1/{ORG_NATIVE}/llm_sessions/30d50448-249e-4f22-ae04-2ca239e29606/compactions")["data"] == []
    get(api, f"/api/v1/{ORG_NATIVE}/llm_sessions/nope/compactions", expect=404)


def test_session_events_order_filters_and_pages(api: httpx.Client, db: Storage) -> None:
    session = "30d50448-249e-4f22-ae04-2ca239e29606"  # fresh_tool
    path = f"/api/v1/{ORG_NATIVE}/llm_sessions/{session}/events"
    every = get(api, path, limit=10_000)["data"]
    stored = db.query_rows(
        "SELECT count() FROM events FINAL WHERE OrgId = {o:String} AND SessionId = {s:String}", {"o": ORG_NATIVE, "s": session})
    assert len(every) == stored[0][0] > 10
    assert [e["timestamp"] for e in every] == sorted(e["timestamp"] for e in every)
    paged = all_pages(api, path, 4)
    assert [e["id"] for e in paged] == [e["id"] for e in every]
    # type filter: repeated or comma-separated
    tools = get(api, path, type=["tool_decision", "tool_result"])["data"]
    assert {e["type"] for e in tools} == {"tool_decision", "tool_result"}
    assert get(api, path, type="tool_decision,tool_result")["data"] == tools
    api_requests = get(api, path, type="api_request")["data"]
    assert len(api_requests) == 2 and all(e["estimated_cost_usd"] == 0.008 for e in api_requests)
    # drill-down: the tool call's prompt, then the tool call itself
    result = next(e for e in tools if e["type"] == "tool_result")
    assert result["tool_name"] == "Bash" and result["success"] is True and result["attributes"]
    by_prompt = get(api, path, prompt_id=result["prompt_id"])["data"]
    assert result["id"] in {e["id"] for e in by_prompt} and {e["prompt_id"] for e in by_prompt} == {result["prompt_id"]}
    by_tool = get(api, path, tool_use_id=result["tool_use_id"])["data"]
    assert {e["tool_use_id"] for e in by_tool} == {result["tool_use_id"]}
    assert get(api, path, type="no_such_event")["data"] == []
    get(api, f"/api/v1/{ORG_NATIVE}/llm_sessions/nope/events", expect=404)


# -- usage -----------------------------------------------------------------------------------
def test_usage_groupings_add_up(api: httpx.Client, db: Storage) -> None:
    path = f"/api/v1/{ORG_NATIVE}/usage"
    total = get(api, path)["data"]
    sums = event_sums(db, ORG_NATIVE, sorted(session_ids(db, ORG_NATIVE)))
    assert len(total) == 1
    assert (total[0]["api_request_count"], total[0]["cost_micros"], total[0]["input_tokens"]) == (sums["n"], sums["micros"], sums["input"])
    assert set(total[0]) == {"api_request_count", "session_count", "input_tokens", "output_tokens", "cache_read_tokens",
                             "cache_creation_tokens", "total_tokens", "estimated_cost_usd", "cost_micros"}
    for group_by in (["thread"], ["session"], ["user"], ["project"], ["model"], ["day"], ["hour"],
                     ["thread", "model"], ["user", "project", "day"], ["session", "hour", "model"]):
        rows = get(api, path, group_by=",".join(group_by), limit=10_000)["data"]
        assert sum(r["cost_micros"] for r in rows) == sums["micros"], group_by
        assert sum(r["api_request_count"] for r in rows) == sums["n"]
        keys = [tuple(v for k, v in r.items() if k in {"period", "thread_id", "session_id", "user_id", "project_id", "model"}) for r in rows]
        assert len(keys) == len(set(keys))
        if "session" in group_by and len(group_by) == 1:
            assert {r["session_id"] for r in rows} == session_ids(db, ORG_NATIVE)
        if "day" in group_by or "hour" in group_by:
            assert all(r["period"].endswith("Z") for r in rows)
    # the same request spelled as repeated parameters
    assert get(api, path, group_by=["thread", "model"], limit=10_000) == get(api, path, group_by="thread,model", limit=10_000)


def test_usage_filters_and_pages(api: httpx.Client, db: Storage) -> None:
    path = f"/api/v1/{ORG_HOOKS}/usage"
    by_session = get(api, path, group_by="session,model,hour", limit=10_000)["data"]
    assert [r for p in [all_pages(api, path, 2, group_by="session,model,hour")] for r in p] == by_session
    one = by_session[0]["session_id"]
    assert {r["session_id"] for r in get(api, path, group_by="session", session=one)["data"]} == {one}
    thread_rows = get(api, path, group_by="thread", limit=1000)["data"]
    t = thread_rows[0]["thread_id"]
    assert [r["thread_id"] for r in get(api, path, group_by="thread", thread=t)["data"]] == [t]
    projects = get(api, path, group_by="project")["data"]
    pid = next(r["project_id"] for r in projects if r["project_id"])
    assert [r["project_id"] for r in get(api, path, group_by="project", project=pid)["data"]] == [pid]
    users = get(api, path, group_by="user")["data"]
    assert get(api, path, user=users[0]["user_id"])["data"][0]["cost_micros"] == users[0]["cost_micros"]
    assert get(api, path, model="claude-opus-5-5")["data"][0]["api_request_count"] > 0
    assert get(api, path, model="nope")["data"] == []
    hours = [r["period"] for r in get(api, path, group_by="hour", limit=1000)["data"]]
    assert get(api, path, **{"from": hours[-1]})["data"][0]["cost_micros"] == get(
        api, path, group_by="hour", limit=1000)["data"][-1]["cost_micros"]
    assert get(api, path, to="2001-01-01T00:00:00Z")["data"] == []


# -- exports ---------------------------------------------------------------------------------
def _csv_expected(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return value


def _parquet_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


EXPORTS = [
    (f"/api/v1/{ORG_HOOKS}/conversations", {"limit": 1000}),
    (f"/api/v1/{ORG_HOOKS}/llm_sessions", {"limit": 1000}),
    (f"/api/v1/{ORG_HOOKS}/usage", {"group_by": "thread,user,project,model,day"}),
    (f"/api/v1/{ORG_NATIVE}/llm_sessions/30d50448-249e-4f22-ae04-2ca239e29606/events", {"limit": 1000}),
    (f"/api/v1/{ORG_NATIVE}/llm_sessions/bcb8d2fb-3b54-46bc-afb8-962ed1fd8988/compactions", {}),
]


@pytest.mark.parametrize(("path", "params"), EXPORTS, ids=lambda v: v if isinstance(v, str) else "")
def test_csv_and_parquet_parse_back_to_the_same_rows(api: httpx.Client, path: str, params: dict[str, Any]) -> None:
    rows = get(api, path, **params)["data"]
    assert rows
    csv = api.get(path, params={**params, "format": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    parquet = api.get(path, params={**params, "format": "parquet"})
    assert parquet.status_code == 200 and "attachment" in parquet.headers["content-disposition"]
    from_parquet = pl.read_parquet(io.BytesIO(parquet.content))
    assert from_parquet.columns == list(rows[0])
    parquet_rows = [{k: _parquet_value(v) for k, v in r.items()} for r in from_parquet.to_dicts()]
    json_columns = [c for c in rows[0] if isinstance(rows[0][c], dict)]
    for r in parquet_rows:
        for c in json_columns:
            r[c] = json.loads(r[c])
    assert parquet_rows == rows
    # CSV: read with the Parquet schema (lists, objects and times are text in CSV).
    schema = {c: (pl.String if dt in (pl.List(pl.String),) or isinstance(dt, pl.Datetime) or c in json_columns else dt)
              for c, dt in from_parquet.schema.items()}
    from_csv = pl.read_csv(io.BytesIO(csv.content), schema=schema)
    expected = [{k: _csv_expected(v) for k, v in r.items()} for r in rows]
    got = from_csv.to_dicts()
    for want, have in zip(expected, got, strict=True):
        for key, value in want.items():
            # CSV cannot tell an empty string from a missing value.
            if value == "" and have[key] is None:
                continue
            if isinstance(value, float):
                assert math.isclose(have[key], value, rel_tol=0, abs_tol=0), key
            else:
                assert have[key] == value, key


def test_export_pages_carry_the_cursor_in_headers(api: httpx.Client) -> None:
    path = f"/api/v1/{ORG_NATIVE}/conversations"
    first = api.get(path, params={"limit": 2, "format": "csv"})
    assert first.headers["x-has-more"] == "true"
    cursor = first.headers["x-next-cursor"]
    assert cursor == get(api, path, limit=2)["pagination"]["next_cursor"]
    second = pl.read_csv(io.BytesIO(api.get(path, params={"limit": 2, "format": "csv", "cursor": cursor}).content))
    assert second["thread_id"].to_list() == [r["thread_id"] for r in get(api, path, limit=2, cursor=cursor)["data"]]


# -- validation and error shape --------------------------------------------------------------
@pytest.mark.parametrize(("path", "params", "param"), [
    ("conversations", {"from": "yesterday"}, "from"),
    ("conversations", {"to": "2024-13-40"}, "to"),
    ("conversations", {"from": "2024-02-01", "to": "2024-01-01"}, "to"),
    ("conversations", {"status": "sleeping"}, "status"),
    ("conversations", {"sort": "name"}, "sort"),
    ("conversations", {"order": "up"}, "order"),
    ("conversations", {"limit": 0}, "limit"),
    ("conversations", {"limit": 10_001}, "limit"),
    ("conversations", {"limit": "ten"}, "limit"),
    ("conversations", {"min_cost": -1}, "min_cost"),
    ("conversations", {"min_cost": "nan"}, "min_cost"),
    ("conversations", {"cursor": "not-a-cursor"}, "cursor"),
    ("conversations", {"format": "xml"}, "format"),
    ("llm_sessions", {"sort": "sessions"}, "sort"),
    ("llm_sessions", {"cursor": "eyJ2IjoxfQ"}, "cursor"),
    ("usage", {"group_by": "planet"}, "group_by"),
    ("usage", {"group_by": "day,hour"}, "group_by"),
    ("llm_sessions/ff3923b1-3d3c-47e4-ac75-409610d1482e/events", {"type": "x y"}, "type"),
])
def test_invalid_parameters_are_422_with_a_clear_message(api: httpx.Client, path: str, params: dict[str, Any], param: str) -> None:
    body = get(api, f"/api/v1/{ORG_NATIVE}/{path}", expect=422, **params)
    assert body["error"]["code"] == "invalid_parameter"
    assert param in body["error"]["message"]
    assert any(d["param"] == param for d in body["error"]["details"])


@pytest.mark.parametrize(("path", "params"), [
    ("conversations", {"bogus": "1"}),
    ("conversations", {"limt": "5", "user": "x"}),  # a typo must not return unfiltered data
    ("llm_sessions", {"thread": "abc"}),
    ("usage", {"group_by": "day", "groupby": "user"}),
    ("conversations/no-such-thread", {"verbose": "1"}),
])
def test_unknown_query_parameters_are_422(api: httpx.Client, path: str, params: dict[str, Any]) -> None:
    body = get(api, f"/api/v1/{ORG_NATIVE}/{path}", expect=422, **params)
    known = {"limit", "user", "group_by", "cursor"}
    unknown = sorted(set(params) - known)
    assert body["error"]["code"] == "invalid_parameter"
    assert [d["param"] for d in body["error"]["details"]] == unknown
    assert "unknown query parameter" in body["error"]["message"] and "this endpoint takes:" in body["error"]["message"]


def test_costs_are_exact_micro_dollar_figures(api: httpx.Client, db: Storage) -> None:
    """Dollar figures come from integer micro-dollars: never float-sum noise."""
    def decimals(x: float) -> int:
        text = repr(float(x))
        return len(text.split(".")[1]) if "." in text and "e" not in text else 0

    micros = {r[0]: r[1] for r in db.query_rows(
        "SELECT session_id, cost_micros FROM llm_sessions FINAL WHERE org_id = {o:String} AND is_deleted = 0",
        {"o": ORG_NATIVE})}
    sessions = all_pages(api, f"/api/v1/{ORG_NATIVE}/llm_sessions", 50)
    assert sessions and any(s["estimated_cost_usd"] > 0 for s in sessions)
    for item in sessions:
        assert item["estimated_cost_usd"] == micros[item["id"]] / 1_000_000
        assert decimals(item["estimated_cost_usd"]) <= 6 and decimals(item["computed_cost_usd"]) <= 6
    threads = all_pages(api, f"/api/v1/{ORG_NATIVE}/conversations", 50)
    usage = get(api, f"/api/v1/{ORG_NATIVE}/usage", group_by="user")["data"]
    for figure in [t["estimated_cost_usd"] for t in threads] + [u["estimated_cost_usd"] for u in usage]:
        assert decimals(figure) <= 6, figure
    assert all(u["estimated_cost_usd"] == u["cost_micros"] / 1_000_000 for u in usage)


def test_an_org_without_data_is_empty_not_missing(api: httpx.Client) -> None:
    """Decided (docs/api.md): orgs are not registered anywhere, an org exists once its data
    does; lists of an org with no data answer 200 and nothing, single ids 404."""
    path = "/api/v1/no-such-org"
    assert get(api, f"{path}/conversations")["data"] == []
    assert get(api, f"{path}/llm_sessions")["data"] == []
    assert get(api, f"{path}/usage")["data"] == []
    get(api, f"{path}/conversations/ff3923b1-3d3c-47e4-ac75-409610d1482e", expect=404)


def test_cursor_is_bound_to_its_filters(api: httpx.Client) -> None:
    path = f"/api/v1/{ORG_NATIVE}/conversations"
    cursor = get(api, path, limit=2)["pagination"]["next_cursor"]
    body = get(api, path, expect=422, limit=2, cursor=cursor, sort="cost")
    assert "other filters" in body["error"]["message"]
    get(api, path, expect=422, limit=2, cursor=cursor + "x")
    # the same cursor on another endpoint is refused too
    get(api, f"/api/v1/{ORG_NATIVE}/llm_sessions", expect=422, limit=2, cursor=cursor)


def test_unknown_routes_and_methods_have_the_error_shape(api: httpx.Client) -> None:
    missing = api.get("/api/v2/nothing")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    post = api.post(f"/api/v1/{ORG_NATIVE}/conversations")
    assert post.status_code == 405 and post.json()["error"]["code"] == "method_not_allowed"
    bad_org = api.get("/api/v1/has space/conversations")
    assert bad_org.status_code == 422 and bad_org.json()["error"]["code"] == "invalid_parameter"


# -- property run over the OpenAPI document --------------------------------------------------
# schemathesis generates valid and invalid (but typed) inputs for every operation; no
# answer may be 5xx. Bounded: a few examples per operation, no shrinking, in-process ASGI
# calls over this module's data set.
@pytest.fixture(scope="module")
def api_schema(loaded: Loomline) -> Any:
    """The in-process app over this module's data set (both orgs, every scenario)."""
    if schemathesis is None:
        pytest.skip("schemathesis not installed")
    asgi = create_app(loaded.storage, loaded.settings, ReceiverMetrics())  # type: ignore[arg-type]
    asgi.state.live_stream_seconds = 0.2  # the live event stream answers, then ends
    return schemathesis.openapi.from_asgi("/openapi.json", asgi)


def test_openapi_fuzz_finds_no_server_errors(api_schema: Any) -> None:
    """Every operation, valid and invalid-but-typed inputs; each answer must not be 5xx."""
    from schemathesis.checks import not_a_server_error

    operations = [result.ok() for result in api_schema.get_all_operations()]  # type: ignore[attr-defined]
    assert len(operations) >= 10
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    for operation, mode in itertools.product(operations, modes):

        @settings(
            max_examples=8,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: object) -> None:
            response = case.call()  # type: ignore[attr-defined]
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(f"{case.operation.label}: {response.status_code} for {case!r}")  # type: ignore[attr-defined]
            case.validate_response(response, checks=[not_a_server_error])  # type: ignore[attr-defined]

        try:
            run()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # nothing to get wrong (no parameters)
    assert not failures, failures
    # The run reached the data (200s) and the validation (422s), not only one of them.
    # (How many of each depends on the hypothesis and schemathesis versions installed.)
    assert statuses[200] >= 10 and statuses[422] >= 10, statuses
