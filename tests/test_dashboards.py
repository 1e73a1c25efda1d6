"""Dashboards and SQL views: every panel and variable query, expanded the way Grafana and
the ClickHouse plugin expand it (single, multi and All values), runs against real data
(the fixture captures and a generated fleet, through the gRPC receiver and enrichment),
returns its panel's columns, and shows the same figures as the query API and as direct
sums over the events."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from dashboards import build
from dashboards.expand import ALL, ExpandError, TimeRange, Variable, expand
from dashboards.spec import DASHBOARDS, DATASOURCE_TYPE, DATASOURCE_UID, Dashboard, Var
from loomline.app import Loomline
from loomline.fleet import Fleet, FleetSpec
from storage.client import Storage, open_storage
from tests.conftest import make_settings
from tests.fixtures import SCENARIOS, otlp_requests
from tests.test_receiver_grpc import STUBS

REPO = Path(__file__).resolve().parent.parent
WIDE = TimeRange(datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC), interval_seconds=3600)
FLEET = FleetSpec(seed=5, orgs=2, users=4, sessions=10, days=2, fork_rate=0.3, clear_rate=0.4,
                  resume_rate=0.4, manual_compact_rate=0.2, autocompact_threshold=40_000,
                  api_error_rate=0.05, hook_bridge_share=0.5)
FILTER_VARS = ("user", "project", "model", "repository")


# -- the loaded database -----------------------------------------------------------------


def _export(app: Loomline, requests: Any) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{app.ports['otlp_grpc']}") as channel:
        for signal, request in requests:
            response = STUBS[signal](channel).Export(request, timeout=30)
            assert not response.HasField("partial_success"), response.partial_success


@pytest.fixture(scope="module")
def loaded(chdb_dsn: str) -> Iterator[tuple[Storage, Loomline]]:
    """One database for the module: every fixture scenario and a small fleet, sent over
    gRPC, then enriched."""
    database = f"t_dash_{uuid.uuid4().hex[:12]}"
    storage = open_storage(chdb_dsn, database)
    app = Loomline(make_settings(chdb_dsn, database, enrich_interval=3600), storage=storage).start()
    try:
        for scenario in SCENARIOS:
            _export(app, otlp_requests(scenario))
        _export(app, Fleet(FLEET).requests())
        if app.enricher is None:
            pytest.skip("enrichment (enrich.service) is not in this checkout")
        app.enricher.run_once()
        yield storage, app
    finally:
        app.stop()
        storage.command(f"DROP DATABASE IF EXISTS `{database}`")
        storage.close()


@pytest.fixture(scope="module")
def storage_(loaded: tuple[Storage, Loomline]) -> Storage:
    return loaded[0]


@pytest.fixture(scope="module")
def orgs(storage_: Storage) -> list[str]:
    found = [r[0] for r in storage_.query_rows("SELECT DISTINCT org_id FROM v_llm_sessions ORDER BY org_id")]
    assert "default" in found and len(found) >= 2, found
    return found


def run(storage: Storage, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows. An empty result from chDB carries no column names, so those
    come from DESCRIBE of the same query."""
    result = storage.client.query(sql)
    names = list(result.column_names)
    if not names:
        names = [row[0] for row in storage.query_rows(f"DESCRIBE ({sql})")]
    return names, list(result.result_rows)


def run_dicts(storage: Storage, sql: str) -> list[dict[str, Any]]:
    names, rows = run(storage, sql)
    return [dict(zip(names, row, strict=True)) for row in rows]


def events_sum(storage: Storage, org: str, expr: str, where: str = "") -> float:
    sql = (f"SELECT {expr} FROM events FINAL WHERE OrgId = {{org:String}} AND EventName = 'api_request' "
           f"{('AND ' + where) if where else ''}")
    return storage.query_rows(sql, {"org": org})[0][0] or 0


# -- variable states ---------------------------------------------------------------------


def _options(storage: Storage, dashboard: Dashboard, name: str, state: dict[str, Variable]) -> list[str]:
    variable = next(v for v in dashboard.variables if v.name == name)
    _, rows = run(storage, expand(build.variable_sql(variable), state, WIDE))
    return [str(r[0]) for r in rows]


def variable_states(storage: Storage, dashboard: Dashboard, org: str) -> list[tuple[str, dict[str, Variable]]]:
    """(label, variables) to run every panel with: everything All, then each filter
    variable with one value and with two values."""
    base: dict[str, Variable] = {"org": Variable("org", org)}
    names = [v.name for v in dashboard.variables]
    if "thread" in names:
        thread = storage.query_rows(
            "SELECT thread_id FROM v_conversations WHERE org_id = {org:String}"
            " ORDER BY session_count DESC, compaction_count DESC, thread_id LIMIT 1", {"org": org})[0][0]
        base["thread"] = Variable("thread", thread)
        sessions = _options(storage, dashboard, "session", base)
        assert sessions
        return [("all sessions", {**base, "session": Variable("session", ALL, sessions)}),
                ("one session", {**base, "session": Variable("session", sessions[-1], sessions)})]
    options = {n: _options(storage, dashboard, n, base) for n in names if n in FILTER_VARS}
    all_state = {**base, **{n: Variable(n, [ALL], opts) for n, opts in options.items()}}
    states = [("All", all_state)]
    for name, opts in options.items():
        if opts:
            states.append((f"{name}=1", {**all_state, name: Variable(name, opts[:1], opts)}))
        if len(opts) >= 2:
            states.append((f"{name}=2", {**all_state, name: Variable(name, opts[:2], opts)}))
    return states


# -- every panel and variable runs -------------------------------------------------------


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=lambda d: d.key)
def test_every_panel_and_variable_runs_with_single_multi_and_all(storage_, orgs, dashboard):
    ran = 0
    for org in ("default", orgs[-1]):
        for label, state in variable_states(storage_, dashboard, org):
            for variable in dashboard.variables:
                names, _ = run(storage_, expand(build.variable_sql(variable), state, WIDE))
                assert 1 <= len(names) <= 2, (variable.name, names)
            for panel in dashboard.panels:
                sql = expand(build.panel_sql(dashboard, panel), state, WIDE)
                try:
                    names, rows = run(storage_, sql)
                except Exception as exc:  # show the expanded SQL that failed
                    raise AssertionError(f"{dashboard.key}/{panel.key} [{org}, {label}] failed: {exc}\n{sql}") from exc
                missing = [c for c in panel.columns if c not in names]
                assert not missing, f"{dashboard.key}/{panel.key} lacks {missing}; has {names}"
                if panel.type == "timeseries":
                    assert names[0] == "time", names
                ran += 1
    assert ran >= 2 * len(dashboard.panels)


def test_filters_narrow_the_figures(storage_, orgs):
    """One user selected: the overview shows that user's cost, as the events say."""
    dashboard = next(d for d in DASHBOARDS if d.key == "overview")
    panel = next(p for p in dashboard.panels if p.key == "cost")
    org = orgs[-1]
    states = dict(variable_states(storage_, dashboard, org))
    user = states["user=1"]["user"].value[0]
    rows = run_dicts(storage_, expand(build.panel_sql(dashboard, panel), states["user=1"], WIDE))
    expected = events_sum(storage_, org, "sum(CostUsd)", f"UserId = '{user}'")
    assert rows[0]["cost_usd"] == pytest.approx(expected)
    assert 0 < rows[0]["cost_usd"] < events_sum(storage_, org, "sum(CostUsd)")


def test_repository_filter_narrows_every_overview_figure(storage_, orgs):
    """One repository selected: the cost stat, the API-backed cost tables and the
    conversations summary show only that repository's sessions."""
    dashboard = next(d for d in DASHBOARDS if d.key == "overview")
    org = orgs[-1]
    states = dict(variable_states(storage_, dashboard, org))
    assert "repository=2" in states, "the fleet's hook-bridge users give each org several repositories"
    state = states["repository=1"]
    repo = state["repository"].value[0]
    assert repo.startswith("github.com/"), repo  # normalized like the real bridge's origin remote
    sessions = [r[0] for r in storage_.query_rows(
        "SELECT session_id FROM llm_sessions FINAL WHERE org_id = {org:String} AND repository = {repo:String}",
        {"org": org, "repo": repo})]
    expected = events_sum(storage_, org, "sum(CostUsd)", "SessionId IN ({s:Array(String)})".replace(
        "{s:Array(String)}", ", ".join(f"'{s}'" for s in sessions)))
    cost = _panel_rows(storage_, "overview", "cost", state)[0]["cost_usd"]
    assert cost == pytest.approx(expected) and 0 < cost < events_sum(storage_, org, "sum(CostUsd)")
    by_repo = _panel_rows(storage_, "overview", "cost_by_repository", state)
    assert {r["repository"] for r in by_repo} == {repo}
    assert sum(r["cost_usd"] for r in by_repo) == pytest.approx(expected)
    threads = _panel_rows(storage_, "conversations", "threads", state)
    assert threads and all(t["repository"] == repo for t in threads)
    assert _panel_rows(storage_, "conversations", "summary", state)[0]["threads"] == len(threads)


# -- figures agree ----------------------------------------------------------------------


def _panel_rows(storage: Storage, dashboard_key: str, panel_key: str, state: dict[str, Variable],
                time_range: TimeRange = WIDE) -> list[dict[str, Any]]:
    dashboard = next(d for d in DASHBOARDS if d.key == dashboard_key)
    panel = next(p for p in dashboard.panels if p.key == panel_key)
    return run_dicts(storage, expand(build.panel_sql(dashboard, panel), state, time_range))


def _all_state(storage: Storage, dashboard_key: str, org: str) -> dict[str, Variable]:
    dashboard = next(d for d in DASHBOARDS if d.key == dashboard_key)
    return variable_states(storage, dashboard, org)[0][1]


def test_overview_figures_equal_sums_over_events(storage_, orgs):
    for org in orgs:
        state = _all_state(storage_, "overview", org)
        cost = events_sum(storage_, org, "sum(CostUsd)")
        tokens = {k: events_sum(storage_, org, f"sum({c})") for k, c in (
            ("input", "InputTokens"), ("output", "OutputTokens"), ("cache_read", "CacheReadTokens"),
            ("cache_creation", "CacheCreationTokens"))}
        assert cost > 0
        assert _panel_rows(storage_, "overview", "cost", state)[0]["cost_usd"] == pytest.approx(cost)
        assert _panel_rows(storage_, "overview", "tokens", state)[0] == tokens
        ratio = _panel_rows(storage_, "overview", "cache_hit_ratio", state)[0]["cache_hit_ratio"]
        assert ratio == pytest.approx(tokens["cache_read"] / (tokens["input"] + tokens["cache_read"]))
        for key in ("cost_by_model", "daily_cost_by_model", "cost_by_user", "cost_by_project"):
            total = sum(r["cost_usd"] for r in _panel_rows(storage_, "overview", key, state))
            assert total == pytest.approx(cost), key
        by_time = _panel_rows(storage_, "overview", "tokens_over_time", state)
        assert sum(r["output"] for r in by_time) == tokens["output"]
        errors = storage_.query_rows("SELECT count() FROM events FINAL WHERE OrgId = {o:String}"
                                     " AND EventName = 'api_error'", {"o": org})[0][0]
        assert _panel_rows(storage_, "overview", "api_error_rate", state)[0]["api_errors"] == errors
        started = _panel_rows(storage_, "overview", "started", state)[0]
        sessions = storage_.query_rows("SELECT count() FROM llm_sessions FINAL WHERE org_id = {o:String}"
                                       " AND is_deleted = 0", {"o": org})[0][0]
        assert started["sessions_started"] == sessions
        # Every api_request belongs to a derived session, so the views lose nothing.
        assert sum(storage_.query_rows("SELECT sum(cost_usd) FROM v_usage_daily WHERE org_id = {o:String}",
                                       {"o": org})[0]) == pytest.approx(cost)


def test_conversations_and_thread_figures_agree(storage_, orgs):
    for org in orgs:
        state = _all_state(storage_, "conversations", org)
        summary = _panel_rows(storage_, "conversations", "summary", state)[0]
        threads = _panel_rows(storage_, "conversations", "threads", state)
        assert summary["threads"] == len(threads) > 0
        assert summary["cost_usd"] == pytest.approx(sum(t["cost_usd"] for t in threads))
        assert summary["cost_usd"] == pytest.approx(events_sum(storage_, org, "sum(CostUsd)"))
        assert summary["sessions"] == sum(t["session_count"] for t in threads)

    org = orgs[-1]
    thread_dash = next(d for d in DASHBOARDS if d.key == "thread")
    for label, state in variable_states(storage_, thread_dash, org):
        thread = state["thread"].value
        head = _panel_rows(storage_, "thread", "summary", state)
        sessions = _panel_rows(storage_, "thread", "sessions", state)
        assert head and head[0]["session_count"] == len(sessions) >= 1
        session_ids = [s["session_id"] for s in sessions]
        expected = events_sum(storage_, org, "sum(CostUsd)", f"SessionId IN {tuple(session_ids + [''])!r}")
        assert head[0]["cost_usd"] == pytest.approx(expected)
        assert sum(s["cost_usd"] for s in sessions) == pytest.approx(expected)
        bars = _panel_rows(storage_, "thread", "session_cost", state)
        assert sum(b["cost_usd"] for b in bars) == pytest.approx(expected)
        events = _panel_rows(storage_, "thread", "events", state)
        wanted = state["session"].value
        assert events and all(e["session_id"] in session_ids for e in events)
        if wanted != ALL:
            assert {e["session_id"] for e in events} == {wanted}, label
        timeline = _panel_rows(storage_, "thread", "timeline", state)
        assert any(t["kind"].startswith("start: ") for t in timeline), thread


def test_compaction_figures_agree(storage_, orgs):
    total = 0
    for org in orgs:
        state = _all_state(storage_, "compactions", org)
        count = storage_.query_rows("SELECT count() FROM compactions FINAL WHERE org_id = {o:String}"
                                    " AND is_deleted = 0", {"o": org})[0][0]
        summary = _panel_rows(storage_, "compactions", "summary", state)[0]
        by_trigger = _panel_rows(storage_, "compactions", "by_trigger", state)
        assert summary["compactions"] == count == sum(r["compactions"] for r in by_trigger)
        top = _panel_rows(storage_, "compactions", "top_sessions", state)
        assert sum(r["compactions"] for r in top) == count
        total += count
    assert total > 0


def test_live_dashboard_context_thresholds(storage_, orgs):
    """Live shows open sessions only; with "now" the fleet's sessions are long idle, so the
    context figures are checked on the view the panel reads."""
    rows = storage_.query_dicts("SELECT * FROM v_session_context WHERE org_id = 'default'")
    assert rows
    big = max(rows, key=lambda r: r["context_tokens"])
    assert big["context_window"] == 200_000
    assert big["context_ratio"] == pytest.approx(big["context_tokens"] / 200_000)
    live = json.loads((build.OUT_DIR / "live.json").read_text())
    table = next(p for p in live["panels"] if p["title"].startswith("Open sessions"))
    override = next(o for o in table["fieldConfig"]["overrides"] if o["matcher"]["options"] == "context_pct")
    steps = next(p["value"]["steps"] for p in override["properties"] if p["id"] == "thresholds")
    assert [s["value"] for s in steps] == [None, 80, 90, 95]


def test_figures_agree_with_the_query_api(loaded, orgs):
    storage, app = loaded
    if "api" not in app.ports:
        pytest.skip("the query API is not served in this checkout")
    import httpx

    base = f"http://127.0.0.1:{app.ports['api']}/api/v1"
    window = {"from": "2020-01-01T00:00:00Z", "to": "2030-01-01T00:00:00Z"}
    for org in orgs:
        state = _all_state(storage, "overview", org)
        usage = httpx.get(f"{base}/{org}/usage", params=window, timeout=30).json()["data"]
        cost = _panel_rows(storage, "overview", "cost", state)[0]["cost_usd"]
        assert sum(r["estimated_cost_usd"] for r in usage) == pytest.approx(cost)
        by_model = httpx.get(f"{base}/{org}/usage", params={**window, "group_by": "model"}, timeout=30).json()["data"]
        panel = {}
        for row in _panel_rows(storage, "overview", "cost_by_model", state):
            panel[row["model"]] = panel.get(row["model"], 0.0) + row["cost_usd"]
        assert {r["model"]: pytest.approx(r["estimated_cost_usd"]) for r in by_model} == panel
        conversations = httpx.get(f"{base}/{org}/conversations", params={**window, "limit": 500},
                                  timeout=30).json()["data"]
        summary = _panel_rows(storage, "conversations", "summary", _all_state(storage, "conversations", org))[0]
        assert len(conversations) == summary["threads"]


# -- views and docs/sql.md ---------------------------------------------------------------

VIEWS = re.findall(r"CREATE OR REPLACE VIEW (\w+)", (REPO / "storage/sql/migrations/0004_views.sql").read_text())


def sql_blocks(markdown: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```sql\n(.*?)```", markdown, re.S)]


def test_every_view_runs_and_is_documented(storage_):
    docs = (REPO / "docs/sql.md").read_text()
    assert len(VIEWS) >= 8
    for view in VIEWS:
        names, _ = run(storage_, f"SELECT * FROM {view} LIMIT 3")
        assert f"`{view}`" in docs, f"{view} is not documented in docs/sql.md"
        for column in names:
            assert f"`{column}`" in docs, f"{view}.{column} is not documented in docs/sql.md"
        assert storage_.query_rows(f"SELECT count() FROM {view}")[0][0] > 0, view


def test_every_worked_example_in_docs_runs(storage_):
    blocks = sql_blocks((REPO / "docs/sql.md").read_text())
    assert len(blocks) >= 12
    for sql in blocks:
        try:
            run(storage_, sql)
        except Exception as exc:
            raise AssertionError(f"docs/sql.md example failed: {exc}\n{sql}") from exc


def test_views_migration_is_idempotent(storage_):
    from storage.client import migration_files
    from storage.sql_files import split_statements

    # 0004 defines the views and later migrations redefine some (0005: management), so the
    # views migration and every one after it run again, in order.
    for _, name, text in migration_files():
        if name >= "0004":
            for statement in split_statements(text):
                storage_.command(statement)
    assert storage_.query_rows("SELECT count() FROM v_llm_sessions")[0][0] > 0


# -- the dashboard JSON and provisioning ------------------------------------------------


def test_dashboard_json_is_generated_and_valid():
    uids = set()
    for dashboard in DASHBOARDS:
        path = build.OUT_DIR / f"{dashboard.key}.json"
        assert path.read_text() == build.render(dashboard), f"{path.name} is stale: python -m dashboards.build"
        doc = json.loads(path.read_text())
        assert doc["uid"] not in uids and len(doc["uid"]) <= 40
        uids.add(doc["uid"])
        assert isinstance(doc["schemaVersion"], int) and doc["schemaVersion"] >= 36
        assert doc["title"] and doc["time"]["from"] and doc.get("id") is None
        variables = doc["templating"]["list"]
        ds_var = variables[0]
        assert ds_var["type"] == "datasource" and ds_var["query"] == DATASOURCE_TYPE
        assert ds_var["current"]["value"] == DATASOURCE_UID
        names = [v["name"] for v in variables]
        assert len(names) == len(set(names))
        for variable in variables[1:]:
            assert variable["datasource"] == {"type": DATASOURCE_TYPE, "uid": "${datasource}"}
            assert variable["query"]["rawSql"] == variable["definition"]
        ids = [p["id"] for p in doc["panels"]]
        assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids)
        for panel in doc["panels"]:
            grid = panel["gridPos"]
            assert set(grid) == {"h", "w", "x", "y"} and grid["x"] + grid["w"] <= 24
            assert panel["datasource"]["uid"] == "${datasource}"
            assert panel["type"] in {"stat", "timeseries", "table", "barchart", "piechart"}
            for target in panel["targets"]:
                assert target["rawSql"].strip()
                assert target["editorType"] == "sql"
                assert target["queryType"] in {"table", "timeseries"}
                assert target["format"] == (0 if target["queryType"] == "timeseries" else 1)
                assert target["datasource"]["type"] == DATASOURCE_TYPE
                used = set(re.findall(r"\$\{?(\w+)", target["rawSql"]))
                unknown = {u for u in used if not u.startswith("__")} - set(names)
                assert not unknown, (panel["title"], unknown)
            for override in panel["fieldConfig"]["overrides"]:
                for prop in override["properties"]:
                    if prop["id"] == "links":
                        assert all(link["url"].startswith("/d/loomline-thread/") for link in prop["value"])


def test_provisioning_files():
    base = REPO / "dashboards/grafana/provisioning"
    datasources = yaml.safe_load((base / "datasources/clickhouse.yaml").read_text())
    (source,) = datasources["datasources"]
    assert source["type"] == DATASOURCE_TYPE and source["uid"] == DATASOURCE_UID
    assert source["jsonData"]["defaultDatabase"]
    providers = yaml.safe_load((base / "dashboards/loomline.yaml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]
    compose = yaml.safe_load((REPO / "dashboards/docker-compose.yml").read_text())
    assert {"clickhouse", "grafana", "loomline"} <= set(compose["services"])


# -- the expander matches the plugin ----------------------------------------------------

T = TimeRange(datetime(2026, 1, 5, 10, 0, tzinfo=UTC), datetime(2026, 1, 6, 10, 0, 30, tzinfo=UTC), 300)


def test_expand_time_macros_like_the_plugin():
    assert expand("$__timeFilter(ts)", {}, T) == "ts >= toDateTime(1767607200) AND ts <= toDateTime(1767693630)"
    assert expand("$__timeFilter_ms( ts )", {}, T) == (
        "ts >= fromUnixTimestamp64Milli(1767607200000) AND ts <= fromUnixTimestamp64Milli(1767693630000)")
    assert expand("$__fromTime, $__toTime, $__fromTime_ms", {}, T) == (
        "toDateTime(1767607200), toDateTime(1767693630), fromUnixTimestamp64Milli(1767607200000)")
    assert expand("$__timeInterval(ts)", {}, T) == "toStartOfInterval(toDateTime(ts), INTERVAL 300 second)"
    assert expand("$__timeInterval_ms(ts)", {}, T) == "toStartOfInterval(toDateTime64(ts, 3), INTERVAL 300000 millisecond)"
    assert expand("$__interval_s", {}, TimeRange(T.start, T.end, 0.2)) == "1"
    assert expand("$__dateFilter(d)", {}, T) == "d >= toDate('2026-01-05') AND d <= toDate('2026-01-06')"
    assert expand("$__dt(d, t)", {}, T) == (
        "(d >= toDate('2026-01-05') AND d <= toDate('2026-01-06')) AND "
        "(t >= toDateTime(1767607200) AND t <= toDateTime(1767693630))")
    assert expand("x = $__from AND y = $__to", {}, T) == "x = 1767607200000 AND y = 1767693630000"
    with pytest.raises(ExpandError):
        expand("$__timeFilter(a, b)", {}, T)
    with pytest.raises(ExpandError):
        expand("$__nosuchmacro(a)", {}, T)


def test_expand_variables_and_conditional_all():
    opts = ["a", "b'c"]
    single = {"v": Variable("v", "a", opts)}
    multi = {"v": Variable("v", ["a", "b'c"], opts)}
    everything = {"v": Variable("v", [ALL], opts)}
    none = {"v": Variable("v", [], opts)}
    q = "SELECT 1 WHERE $__conditionalAll(x IN (${v:singlequote}), $v) AND y = $v AND z IN (${v})"
    assert expand(q, single, T) == "SELECT 1 WHERE x IN ('a') AND y = a AND z IN (a)"
    assert expand(q, multi, T) == (
        "SELECT 1 WHERE x IN ('a','b\\'c') AND y = 'a','b'c' AND z IN ('a','b'c')")
    assert expand(q, everything, T) == "SELECT 1 WHERE 1=1 AND y = 'a','b'c' AND z IN ('a','b'c')"
    assert expand(q, none, T).startswith("SELECT 1 WHERE 1=1 AND")
    custom_all = {"v": Variable("v", ALL, opts, all_value=".*")}
    assert expand("${v:singlequote} [[v]] ${v:csv}", custom_all, T) == ".* .* .*"
    assert expand("${v:sqlstring} ${v:doublequote} ${v:pipe}", multi, T) == (
        "'a','b''c' \"a\",\"b'c\" a|b'c")
    # nested parentheses and commas stay inside the condition
    nested = "$__conditionalAll(hasAny(models, [${v:singlequote}]), ${v})"
    assert expand(nested, multi, T) == "hasAny(models, ['a','b\\'c'])"
    # unknown variables are left alone, like Grafana does
    assert expand("$other", {}, T) == "$other"


def test_api_queries_translate_to_grafana():
    sql = ("WHERE ({user:String} = '' OR s.user_id = {user:String} OR e.UserEmail = {user:String})\n"
           "  AND ({model:String} = '' OR has(models, {model:String}))\n"
           "  AND (empty({types:Array(String)}) OR has({types:Array(String)}, EventName))\n"
           "  AND org = {org:String}")
    out = build.translate_api_query(sql, {"user": Var("user"), "model": Var("model"), "types": Var("kind"),
                                          "org": "${org:singlequote}"})
    assert out == (
        "WHERE $__conditionalAll((s.user_id IN (${user:singlequote}) OR e.UserEmail IN (${user:singlequote})), $user)\n"
        "  AND $__conditionalAll((hasAny(models, [${model:singlequote}])), $model)\n"
        "  AND $__conditionalAll((EventName IN (${kind:singlequote})), $kind)\n"
        "  AND org = ${org:singlequote}")
    with pytest.raises(build.BuildError):
        build.translate_api_query("x = {unbound:String}", {})
