"""What each loomline dashboard shows: variables and panels, each panel's SQL file and the
columns it must return. ``dashboards/build.py`` turns this into Grafana JSON; the tests
expand and run every query from here.

A panel's SQL is either a Grafana query in ``dashboards/sql/<dashboard>__<panel>.sql``
(macros and ``${var}`` written directly), or a query-API file
``storage/sql/queries/api_*.sql`` when the panel shows the same figure as an endpoint;
``bind`` then says what each ``{param:Type}`` becomes in Grafana (see build.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DATASOURCE_TYPE = "grafana-clickhouse-datasource"
DATASOURCE_UID = "loomline-clickhouse"  # the provisioned datasource's uid
PLUGIN_VERSION = "4.0.0"
THREAD_DASHBOARD_UID = "loomline-thread"


@dataclass(frozen=True)
class Var:
    """A Grafana variable standing in for a query-API filter parameter."""

    name: str


@dataclass(frozen=True)
class Variable:
    name: str
    label: str
    multi: bool = False
    include_all: bool = False
    sql: str = ""  # file stem under dashboards/sql/, default var__<name>
    refresh: int = 1  # 1: on dashboard load, 2: on time range change

    @property
    def sql_name(self) -> str:
        return self.sql or f"var__{self.name}"


@dataclass(frozen=True)
class Panel:
    key: str  # file stem: dashboards/sql/<dashboard>__<key>.sql unless api is set
    title: str
    type: str  # stat, timeseries, table, barchart, piechart
    columns: tuple[str, ...]  # columns the query must return (in this order)
    w: int = 12
    h: int = 8
    api: str = ""  # storage/sql/queries/<api>.sql shared with the query API
    bind: dict[str, Any] = field(default_factory=dict)
    unit: str = ""
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    overrides: list[dict[str, Any]] = field(default_factory=list)
    transformations: list[dict[str, Any]] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)  # column -> URL (data link)

    @property
    def query_type(self) -> str:
        return "timeseries" if self.type == "timeseries" else "table"


@dataclass(frozen=True)
class Dashboard:
    key: str
    uid: str
    title: str
    description: str
    variables: tuple[Variable, ...]
    panels: tuple[Panel, ...]
    time_from: str = "now-7d"
    refresh: str = ""
    tags: tuple[str, ...] = ("loomline",)


# -- variables -------------------------------------------------------------------------

ORG = Variable("org", "Organisation")
USER = Variable("user", "User", multi=True, include_all=True)
PROJECT = Variable("project", "Project", multi=True, include_all=True)
MODEL = Variable("model", "Model", multi=True, include_all=True)
REPOSITORY = Variable("repository", "Repository", multi=True, include_all=True)
THREAD_VAR = Variable("thread", "Thread", refresh=2)
SESSION = Variable("session", "Session", include_all=True)

# -- query-API bindings ----------------------------------------------------------------
# Grafana expressions for the API's time parameters (µs since the epoch).
FROM_US = "toUnixTimestamp64Micro($__fromTime_ms)"
TO_US = "toUnixTimestamp64Micro($__toTime_ms)"
NO_CURSOR = {"has_cursor": "0"}
ORG_BIND = {"org": "${org:singlequote}"}
THREAD_BIND = {**ORG_BIND, "thread": "${thread:singlequote}"}
USAGE_BIND = {
    **ORG_BIND, **NO_CURSOR,
    "from_us": FROM_US, "to_us": TO_US,
    "user": Var("user"), "project": Var("project"), "model": Var("model"),
    "thread": "''", "session": "''",
    "after_period": "0", "after_thread": "''", "after_session": "''", "after_user": "''",
    "after_project": "''", "after_model": "''", "after_repository": "''", "after_branch": "''",
    "repository": Var("repository"), "branch": "''",
    "limit": "1000",
    "g_thread": "0", "g_session": "0", "g_user": "0", "g_project": "0", "g_model": "0",
    "g_repository": "0", "g_branch": "0", "bucket": "''",
}
RESUME_BIND = {**ORG_BIND, "from_us": FROM_US, "to_us": TO_US, "thread": "''", "repository": Var("repository"),
               "limit": "1000"}


def _usage(**kw: str) -> dict[str, Any]:
    return {**USAGE_BIND, **kw}


THREAD_LINK = (
    f"/d/{THREAD_DASHBOARD_UID}/loomline-thread?var-org=${{org}}&var-thread=${{__value.raw}}"
    "&${__url_time_range}"
)
THREAD_LINK_FROM_ROW = (
    f"/d/{THREAD_DASHBOARD_UID}/loomline-thread?var-org=${{org}}&var-thread=${{__data.fields.thread_id}}"
    "&${__url_time_range}"
)


def _thresholds_pct() -> dict[str, Any]:
    return {"mode": "absolute", "steps": [
        {"color": "green", "value": None},
        {"color": "yellow", "value": 80},
        {"color": "orange", "value": 90},
        {"color": "red", "value": 95},
    ]}


def _hide(*columns: str) -> list[dict[str, Any]]:
    return [{"matcher": {"id": "byName", "options": c},
             "properties": [{"id": "custom.hidden", "value": True}]} for c in columns]


def _unit(unit: str, *columns: str) -> list[dict[str, Any]]:
    return [{"matcher": {"id": "byName", "options": c}, "properties": [{"id": "unit", "value": unit}]}
            for c in columns]


# -- dashboards ------------------------------------------------------------------------

OVERVIEW = Dashboard(
    key="overview",
    uid="loomline-overview",
    title="loomline / Overview",
    description="Cost, tokens, sessions, errors and caching of Claude Code across the organisation.",
    variables=(ORG, USER, PROJECT, MODEL, REPOSITORY),
    panels=(
        Panel("cost", "Reported cost", "stat", ("cost_usd", "api_requests"), w=4, h=4,
              unit="currencyUSD", options={"reduceOptions": {"fields": "/^cost_usd$/", "calcs": ["lastNotNull"]}}),
        Panel("tokens", "Tokens", "stat", ("input", "output", "cache_read", "cache_creation"), w=8, h=4,
              unit="short"),
        Panel("cache_hit_ratio", "Cache hit ratio", "stat", ("cache_hit_ratio",), w=3, h=4, unit="percentunit",
              description="cache read / (input + cache read)"),
        Panel("api_error_rate", "API error rate", "stat", ("api_errors", "api_requests", "api_error_rate"),
              w=3, h=4, unit="percentunit",
              options={"reduceOptions": {"fields": "/^api_error_rate$/", "calcs": ["lastNotNull"]}}),
        Panel("active_sessions", "Active sessions now", "stat", ("active_sessions",), w=3, h=4),
        Panel("started", "Sessions / threads started", "stat", ("sessions_started", "threads_started"), w=3, h=4),
        Panel("cost_by_model", "Cost by model", "timeseries", ("time", "model", "cost_usd"), w=12,
              unit="currencyUSD"),
        Panel("tokens_over_time", "Tokens by type", "timeseries",
              ("time", "input", "output", "cache_read", "cache_creation"), w=12, unit="short"),
        Panel("daily_cost_by_model", "Daily cost by model", "table",
              ("period", "model", "api_request_count", "cost_usd"), w=8,
              api="api_usage", bind=_usage(bucket="'day'", g_model="1"),
              transformations=[{"id": "filterFieldsByName", "options": {"include": {"names": [
                  "period", "model", "api_request_count", "session_count", "cost_usd"]}}}],
              overrides=_unit("currencyUSD", "cost_usd")),
        Panel("cost_by_user", "Cost by user", "table", ("user_id", "user_email", "cost_usd"), w=8,
              api="api_usage", bind=_usage(g_user="1"),
              transformations=[{"id": "filterFieldsByName", "options": {"include": {"names": [
                  "user_email", "user_id", "api_request_count", "session_count", "cost_usd"]}}},
                  {"id": "sortBy", "options": {"sort": [{"field": "cost_usd", "desc": True}]}}],
              overrides=_unit("currencyUSD", "cost_usd")),
        Panel("cost_by_project", "Cost by project", "table", ("project_id", "project_name", "cost_usd"), w=8,
              api="api_usage", bind=_usage(g_project="1"),
              transformations=[{"id": "filterFieldsByName", "options": {"include": {"names": [
                  "project_name", "project_id", "api_request_count", "session_count", "cost_usd"]}}},
                  {"id": "sortBy", "options": {"sort": [{"field": "cost_usd", "desc": True}]}}],
              overrides=_unit("currencyUSD", "cost_usd")),
        Panel("cost_by_repository", "Cost by repository and branch", "table",
              ("repository", "git_branch", "cost_usd"), w=12,
              description="Repository from Claude Code's vcs.* attributes (OTEL_METRICS_INCLUDE_REPOSITORY=true) "
                          "or the hook bridge's git remote; branch from the bridge.",
              api="api_usage", bind=_usage(g_repository="1", g_branch="1"),
              transformations=[{"id": "filterFieldsByName", "options": {"include": {"names": [
                  "repository", "git_branch", "api_request_count", "session_count", "cost_usd"]}}},
                  {"id": "sortBy", "options": {"sort": [{"field": "cost_usd", "desc": True}]}}],
              overrides=_unit("currencyUSD", "cost_usd")),
        Panel("resume_health", "Resume health", "table",
              ("resume_count", "continue_count", "fork_count", "idle_before_p50_seconds",
               "cold_cache_resume_count", "cold_cache_write_usd", "failed_resume_count", "model_switch_count"),
              w=12, api="api_resume_health", bind={**RESUME_BIND, "g_thread": "0"},
              description="Resumes, continues and forks in range: idle time before them, cold-cache resumes "
                          "and Claude Code's estimate of their cache re-write, failed resumes, model switches.",
              overrides=[*_hide("thread_id", "failures"),
                         *_unit("currencyUSD", "cold_cache_write_usd", "estimated_cache_write_usd",
                                "model_switch_cache_write_usd"),
                         *_unit("s", "idle_before_avg_seconds", "idle_before_p50_seconds", "idle_before_max_seconds",
                                "session_age_avg_seconds", "session_age_max_seconds")]),
        Panel("started_over_time", "Sessions and threads started", "timeseries", ("time", "kind", "started"),
              w=8),
        Panel("error_rate_over_time", "API error rate", "timeseries", ("time", "api_error_rate"), w=8,
              unit="percentunit"),
        Panel("cache_hit_by_model", "Cache hit ratio by model", "timeseries", ("time", "model", "cache_hit_ratio"),
              w=8, unit="percentunit"),
    ),
)

CONVERSATIONS = Dashboard(
    key="conversations",
    uid="loomline-conversations",
    title="loomline / Conversations",
    description="Conversation threads: sessions, compactions, cost, tokens, status and last activity.",
    variables=(ORG, USER, PROJECT, MODEL, REPOSITORY),
    panels=(
        Panel("summary", "In range", "stat", ("threads", "active_threads", "sessions", "compactions", "cost_usd"),
              w=24, h=4, overrides=_unit("currencyUSD", "cost_usd")),
        Panel("threads", "Threads", "table",
              ("thread_id", "title", "user_email", "project_name", "status", "session_count",
               "compaction_count", "cost_usd", "computed_cost_usd", "input_tokens", "output_tokens",
               "cache_read_tokens", "cache_creation_tokens", "first_activity_at", "last_activity_at"),
              w=24, h=18, api="api_conversations",
              bind={**ORG_BIND, **NO_CURSOR, "from_us": FROM_US, "to_us": TO_US,
                    "user": Var("user"), "project": Var("project"), "model": Var("model"),
                    "agent": "''", "status": "''", "min_cost": "0",
                    "q": "''", "repository": Var("repository"), "branch": "''", "sort": "'last_activity'", "desc": "1",
                    "after_key": "0", "after_id": "''", "limit": "1000", "include_archived": "0"},
              links={"thread_id": THREAD_LINK, "title": THREAD_LINK_FROM_ROW},
              overrides=[*_hide("sort_key", "session_ids", "root_session_id", "models", "auto_title",
                                "title_source", "archived", "parent_deleted"),
                         *_unit("currencyUSD", "cost_usd", "computed_cost_usd")]),
    ),
)

THREAD = Dashboard(
    key="thread",
    uid=THREAD_DASHBOARD_UID,
    title="loomline / Thread",
    description="One conversation thread: its sessions, segments, compactions, breaks, cost and events.",
    variables=(ORG, THREAD_VAR, SESSION),
    panels=(
        Panel("summary", "Thread", "table",
              ("thread_id", "title", "status", "close_reason", "session_count", "compaction_count",
               "cost_usd", "computed_cost_usd", "first_activity_at", "last_activity_at"),
              w=24, h=4, api="api_conversation", bind=THREAD_BIND,
              overrides=_unit("currencyUSD", "cost_usd", "computed_cost_usd")),
        Panel("sessions", "Sessions", "table",
              ("session_id", "thread_position", "start_source", "close_reason", "cost_usd", "started_at",
               "last_activity_at", "closed_at"),
              w=24, h=7, api="api_conversation_sessions", bind=THREAD_BIND,
              overrides=_unit("currencyUSD", "cost_usd", "computed_cost_usd")),
        Panel("timeline", "Timeline: starts, compactions, breaks, closes", "table",
              ("time", "session_id", "kind", "detail"), w=14, h=10),
        Panel("session_cost", "Cost per session", "barchart", ("session_id", "cost_usd", "computed_cost_usd"),
              w=10, h=10, api="api_conversation_sessions", bind=THREAD_BIND, unit="currencyUSD",
              transformations=[{"id": "filterFieldsByName", "options": {"include": {"names": [
                  "session_id", "cost_usd", "computed_cost_usd"]}}}],
              options={"xField": "session_id"}),
        Panel("segments", "Segments", "table",
              ("session_id", "segment_index", "source", "started_at", "ended_at", "event_count"),
              w=12, h=8, api="api_conversation_segments", bind=THREAD_BIND),
        Panel("compactions", "Compactions (tokens before -> after)", "table",
              ("session_id", "timestamp", "trigger", "success", "pre_tokens", "post_tokens"),
              w=12, h=8, api="api_conversation_compactions", bind=THREAD_BIND),
        Panel("breaks", "Clear and fork breaks", "table",
              ("from_session_id", "to_session_id", "link_type", "created_at", "from_thread_id", "to_thread_id"),
              w=24, h=6, api="api_conversation_links", bind=THREAD_BIND,
              links={"from_thread_id": THREAD_LINK, "to_thread_id": THREAD_LINK}),
        Panel("events", "Events", "table",
              ("timestamp", "session_id", "sequence", "event_name", "model", "tool_name", "success",
               "status_code", "cost_usd", "tokens", "duration_ms", "detail"),
              w=24, h=14, overrides=_unit("currencyUSD", "cost_usd")),
    ),
)

COMPACTIONS = Dashboard(
    key="compactions",
    uid="loomline-compactions",
    title="loomline / Compactions",
    description="Compaction counts by trigger, success rate, tokens saved, and the sessions that compact most.",
    variables=(ORG, USER, PROJECT),
    panels=(
        Panel("summary", "Compactions", "stat",
              ("compactions", "success_rate", "tokens_saved", "avg_tokens_before", "avg_tokens_after"),
              w=24, h=4, overrides=_unit("percentunit", "success_rate")),
        Panel("by_trigger", "By trigger", "piechart", ("trigger", "compactions", "succeeded", "failed"), w=8,
              options={"reduceOptions": {"values": True, "calcs": ["lastNotNull"], "fields": "/^compactions$/"}}),
        Panel("over_time", "Compactions over time", "timeseries", ("time", "kind", "compactions"), w=16),
        Panel("top_sessions", "Sessions with the most compactions", "table",
              ("session_id", "thread_id", "user", "project", "compactions", "failed", "tokens_saved",
               "last_compacted_at"),
              w=24, h=10, links={"thread_id": THREAD_LINK}),
    ),
)

LIVE = Dashboard(
    key="live",
    uid="loomline-live",
    title="loomline / Live",
    description="Sessions open now, their model and context fill (80 / 90 / 95 % thresholds), recent errors.",
    variables=(ORG, USER, PROJECT),
    time_from="now-1h",
    refresh="30s",
    panels=(
        Panel("active_sessions", "Active now", "stat", ("active_sessions", "active_users"), w=6, h=5),
        Panel("context_over_time", "Context size of open sessions", "timeseries",
              ("time", "session", "context_tokens"), w=18, h=5, unit="short"),
        Panel("sessions", "Open sessions: model and context window", "table",
              ("session_id", "thread_id", "user", "project", "current_model", "context_tokens",
               "context_window", "context_pct", "compactions", "cost_usd", "last_activity_at"),
              w=24, h=10, links={"thread_id": THREAD_LINK},
              overrides=[{"matcher": {"id": "byName", "options": "context_pct"}, "properties": [
                  {"id": "unit", "value": "percent"},
                  {"id": "min", "value": 0}, {"id": "max", "value": 100},
                  {"id": "thresholds", "value": _thresholds_pct()},
                  {"id": "custom.cellOptions", "value": {"type": "gauge", "mode": "basic"}}]},
                  *_unit("currencyUSD", "cost_usd")]),
        Panel("recent_errors", "Recent API errors", "table",
              ("timestamp", "session_id", "thread_id", "user", "model", "status_code", "attempt", "error"),
              w=24, h=8, links={"thread_id": THREAD_LINK}),
    ),
)

DASHBOARDS: tuple[Dashboard, ...] = (OVERVIEW, CONVERSATIONS, THREAD, COMPACTIONS, LIVE)
