"""Query benchmark: latency of the query API and of the dashboards' SQL over ~10M events.

1. **Load** (bench/query_load.py; skipped when ``--data-dir`` already holds this
   dataset): a seeded fleet, ingested and enriched for real, multiplied inside ClickHouse
   to ~10M events. Checked: counts are (N + 1) x the base, and copies answer the API as
   their original.
2. **API**: the real query API (``ApiServer``, uvicorn) on 127.0.0.1 over that storage,
   sent a few hundred varied requests per endpoint one at a time over HTTP (httpx), ids
   picked at random (seeded) from the data. Client-observed latency per endpoint, and the
   SQL time inside each request (the storage handle is wrapped to time every query).
3. **Panels**: every panel and template variable of every dashboard (dashboards/spec.py),
   expanded as Grafana would (dashboards/expand.py) with an org, a 30-day range and the
   filter variables on All (or one user), run several times against the same data.

Results go to bench/results/query-<UTC time>.json.

    python -m bench.query --data-dir /tmp/loomline-10m      # 10M events; reuses the dir next time
    python -m bench.query --copies 2 --conversations 20 --requests 5   # tiny
"""

import argparse
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import cpu_model, git_commit, percentile, write_results
from bench.query_load import (
    FLEET_SHAPE,
    USER_VARIANTS_DEFAULT,
    BaseSpec,
    check_scaling,
    copy_id,
    ensure_dataset,
    read_meta,
    shift_seconds,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "bench" / "results"

# Targets of the issue (reported, not asserted): p95 in ms per endpoint.
TARGETS_MS = {
    "conversations_list": 100.0,
    "conversation_detail": 50.0,
    "session_events_first": 50.0,
    "session_events_next": 50.0,
    "usage_day_30d": 200.0,
}


# ---------------------------------------------------------------------------------------
# the API under test


class _Recorder:
    """Times every query the API runs (the server handles one request at a time here)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[dict[str, Any]] = []

    def take(self) -> list[dict[str, Any]]:
        with self.lock:
            calls, self.calls = self.calls, []
        return calls


def _query_names() -> dict[str, str]:
    from storage.sql_files import SQL_DIR, load_query

    return {load_query(p.stem): p.stem for p in sorted((SQL_DIR / "queries").glob("api_*.sql"))}


def timed_storage(dsn: str, database: str, recorder: _Recorder) -> Any:
    """A Storage whose query_dicts (what query_api.queries.run calls) records each query's
    name, time, result rows and parameters (chDB's per-query summary only counts result
    rows, so what a query reads comes from EXPLAIN ESTIMATE in ``profile``)."""
    from storage.client import Storage

    names = _query_names()

    class TimedStorage(Storage):
        def query_dicts(
            self, sql: str, parameters: Any = None, settings: Any = None
        ) -> list[dict[str, Any]]:
            t0 = time.perf_counter()
            result = self.client.query(
                sql, parameters=dict(parameters or {}), settings=dict(settings or {})
            )
            rows = [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]
            seconds = time.perf_counter() - t0
            with recorder.lock:
                recorder.calls.append(
                    {
                        "query": names.get(sql, "other"),
                        "ms": seconds * 1000,
                        "rows": len(rows),
                        "params": dict(parameters or {}),
                    }
                )
            return rows

    return TimedStorage(dsn, database)


@dataclass
class Sample:
    endpoint: str
    variant: str
    ms: float
    status: int
    sql_ms: float
    queries: list[dict[str, Any]]
    path: str
    rows: int = 0


class Client:
    """Sends requests to the API and records one Sample per request."""

    def __init__(self, base_url: str, recorder: _Recorder) -> None:
        import httpx

        self.http = httpx.Client(base_url=base_url, timeout=120)
        self.recorder = recorder
        self.samples: list[Sample] = []
        self.recording = True

    def get(
        self, endpoint: str, variant: str, path: str, params: dict[str, Any] | None = None
    ) -> Any:
        self.recorder.take()
        t0 = time.perf_counter()
        response = self.http.get(path, params=params)
        content = response.content
        ms = (time.perf_counter() - t0) * 1000
        calls = self.recorder.take()
        if self.recording:
            rows = 0
            if response.headers.get("content-type", "").startswith("text/csv"):
                rows = max(0, content.count(b"\n") - 1)
            self.samples.append(
                Sample(
                    endpoint,
                    variant,
                    ms,
                    response.status_code,
                    sum(c["ms"] for c in calls),
                    calls,
                    str(response.request.url.raw_path, "ascii", "replace")[:300],
                    rows,
                )
            )
        return response

    def close(self) -> None:
        self.http.close()


# ---------------------------------------------------------------------------------------
# what to ask: ids and filter values picked from the data


@dataclass
class Picks:
    orgs: list[str]
    org_threads: dict[str, int]
    users: dict[str, list[tuple[str, str]]]
    projects: dict[str, list[tuple[str, str]]]
    models: dict[str, list[str]]
    threads: list[tuple[str, str]]
    sessions: list[tuple[str, str, int]]  # org, session, event count
    sessions_with_compactions: list[tuple[str, str]]
    window_start: datetime
    window_end: datetime


def pick(storage: Any, seed: int) -> Picks:
    org_rows = storage.query_rows(
        "SELECT org_id, count() FROM threads FINAL WHERE is_deleted = 0"
        " GROUP BY org_id ORDER BY count() DESC, org_id"
    )
    orgs = [r[0] for r in org_rows]
    users: dict[str, list[tuple[str, str]]] = defaultdict(list)
    projects: dict[str, list[tuple[str, str]]] = defaultdict(list)
    models: dict[str, list[str]] = defaultdict(list)
    for org, uid, email in storage.query_rows(
        "SELECT DISTINCT org_id, user_id, user_email FROM llm_sessions FINAL WHERE is_deleted = 0 AND user_id != ''"
        " ORDER BY org_id, user_id"
    ):
        users[org].append((uid, email))
    for org, pid, name in storage.query_rows(
        "SELECT org_id, project_id, any(project_name) FROM llm_sessions FINAL WHERE is_deleted = 0"
        " AND project_id != '' GROUP BY org_id, project_id ORDER BY org_id, project_id"
    ):
        projects[org].append((pid, name))
    for org, model in storage.query_rows(
        "SELECT DISTINCT org_id, arrayJoin(models) AS m FROM threads FINAL WHERE is_deleted = 0 ORDER BY org_id, m"
    ):
        models[org].append(model)
    threads = [
        (r[0], r[1])
        for r in storage.query_rows(
            "SELECT org_id, thread_id FROM threads FINAL WHERE is_deleted = 0"
            " ORDER BY cityHash64(thread_id, {s:UInt64}) LIMIT 5000",
            {"s": seed},
        )
    ]
    sessions = [
        (r[0], r[1], int(r[2]))
        for r in storage.query_rows(
            "SELECT org_id, session_id, event_count FROM llm_sessions FINAL WHERE is_deleted = 0"
            " ORDER BY cityHash64(session_id, {s:UInt64}) LIMIT 5000",
            {"s": seed},
        )
    ]
    with_compactions = [
        (r[0], r[1])
        for r in storage.query_rows(
            "SELECT org_id, session_id FROM llm_sessions FINAL WHERE is_deleted = 0"
            " AND compaction_count + failed_compaction_count > 0"
            " ORDER BY cityHash64(session_id, {s:UInt64}) LIMIT 1000",
            {"s": seed},
        )
    ]
    last = storage.query_rows("SELECT max(Timestamp) FROM events")[0][0]
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    return Picks(
        orgs,
        {r[0]: int(r[1]) for r in org_rows},
        dict(users),
        dict(projects),
        dict(models),
        threads,
        sessions,
        with_compactions,
        end - timedelta(days=30),
        end,
    )


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _list_filters(rng: random.Random, picks: Picks, org: str) -> tuple[str, dict[str, Any]]:
    """A filter set for /conversations or /llm_sessions: (variant name, query params)."""
    end = picks.window_end
    kind = rng.choice(
        [
            "none",
            "range_30d",
            "range_7d",
            "range_1d",
            "user",
            "project",
            "model",
            "status",
            "min_cost",
            "user_7d",
        ]
    )
    params: dict[str, Any] = {}
    if kind in ("range_30d", "range_7d", "range_1d", "user_7d"):
        days = {"range_30d": 30, "range_7d": 7, "range_1d": 1, "user_7d": 7}[kind]
        to = end - timedelta(days=rng.randrange(0, 31 - days) if days < 30 else 0)
        params.update({"from": _iso(to - timedelta(days=days)), "to": _iso(to)})
    if kind in ("user", "user_7d") and picks.users.get(org):
        uid, email = rng.choice(picks.users[org])
        params["user"] = rng.choice([uid, email])
    if kind == "project" and picks.projects.get(org):
        pid, name = rng.choice(picks.projects[org])
        params["project"] = rng.choice([pid, name or pid])
    if kind == "model" and picks.models.get(org):
        params["model"] = rng.choice(picks.models[org])
    if kind == "status":
        params["status"] = rng.choice(["active", "closed"])
    if kind == "min_cost":
        params["min_cost"] = rng.choice([0.5, 1, 2, 5])
    return kind, params


def _org(rng: random.Random, picks: Picks) -> str:
    return rng.choice(picks.orgs)


class Plan:
    """The requests of one endpoint: ``run(rng)`` sends one (or a page chain)."""

    def __init__(self, client: Client, picks: Picks, csv_rows: int) -> None:
        self.c = client
        self.p = picks
        self.csv_rows = csv_rows

    def _api(self, org: str) -> str:
        return f"/api/v1/{org}"

    def _pages(
        self,
        endpoint: str,
        variant: str,
        path: str,
        params: dict[str, Any],
        rng: random.Random,
        next_endpoint: str | None = None,
    ) -> None:
        """First page, and with some chance the next one or two pages (same filters)."""
        response = self.c.get(endpoint, variant, path, params)
        follow = rng.choice([0, 0, 1, 2]) if next_endpoint is None else rng.choice([1, 2, 3])
        for _ in range(follow):
            if response.status_code != 200:
                return
            cursor = response.json()["pagination"]["next_cursor"]
            if not cursor:
                return
            response = self.c.get(
                next_endpoint or endpoint, f"{variant}+page", path, {**params, "cursor": cursor}
            )

    def conversations_list(self, rng: random.Random) -> None:
        org = _org(rng, self.p)
        variant, params = _list_filters(rng, self.p, org)
        sort = rng.choice(["last_activity", "cost", "tokens", "sessions", "compactions"])
        params.update(
            {"sort": sort, "order": rng.choice(["desc", "asc"]), "limit": rng.choice([20, 50, 100])}
        )
        self._pages(
            "conversations_list",
            f"{variant}/{sort}",
            f"{self._api(org)}/conversations",
            params,
            rng,
        )

    def sessions_list(self, rng: random.Random) -> None:
        org = _org(rng, self.p)
        variant, params = _list_filters(rng, self.p, org)
        sort = rng.choice(["last_activity", "started_at", "cost", "tokens", "compactions"])
        params.update(
            {"sort": sort, "order": rng.choice(["desc", "asc"]), "limit": rng.choice([20, 50, 100])}
        )
        self._pages(
            "sessions_list", f"{variant}/{sort}", f"{self._api(org)}/llm_sessions", params, rng
        )

    def conversation_detail(self, rng: random.Random) -> None:
        org, thread = rng.choice(self.p.threads)
        self.c.get("conversation_detail", "", f"{self._api(org)}/conversations/{thread}")

    def session_detail(self, rng: random.Random) -> None:
        org, session, _ = rng.choice(self.p.sessions)
        self.c.get("session_detail", "", f"{self._api(org)}/llm_sessions/{session}")

    def session_compactions(self, rng: random.Random) -> None:
        pool = (
            self.p.sessions_with_compactions
            if self.p.sessions_with_compactions and rng.random() < 0.5
            else None
        )
        org, session = rng.choice(pool) if pool else rng.choice(self.p.sessions)[:2]
        self.c.get(
            "session_compactions",
            "with" if pool else "any",
            f"{self._api(org)}/llm_sessions/{session}/compactions",
        )

    def session_events_first(self, rng: random.Random) -> None:
        org, session, _ = rng.choice(self.p.sessions)
        params: dict[str, Any] = {"limit": rng.choice([50, 100])}
        variant = "all"
        if rng.random() < 0.25:
            params["type"] = rng.choice(["api_request", "user_prompt,api_request", "tool_result"])
            variant = "type"
        self.c.get(
            "session_events_first",
            variant,
            f"{self._api(org)}/llm_sessions/{session}/events",
            params,
        )

    def session_events_next(self, rng: random.Random) -> None:
        """A session with several pages: page 1 (recorded as a first page), then 1-3 more."""
        long = [s for s in self.p.sessions if s[2] >= 60] or self.p.sessions
        org, session, events = rng.choice(long)
        limit = 20 if events >= 60 else max(1, events // 3)  # tiny fleets: still several pages
        self._pages(
            "session_events_first",
            f"limit{limit}",
            f"{self._api(org)}/llm_sessions/{session}/events",
            {"limit": limit},
            rng,
            next_endpoint="session_events_next",
        )

    def usage_day_30d(self, rng: random.Random) -> None:
        org = _org(rng, self.p)
        params: dict[str, Any] = {
            "group_by": "day",
            "from": _iso(self.p.window_start),
            "to": _iso(self.p.window_end),
        }
        variant = rng.choice(["org", "org", "org", "user", "project", "model"])
        if variant == "user" and self.p.users.get(org):
            params["user"] = rng.choice(self.p.users[org])[0]
        elif variant == "project" and self.p.projects.get(org):
            params["project"] = rng.choice(self.p.projects[org])[0]
        elif variant == "model" and self.p.models.get(org):
            params["model"] = rng.choice(self.p.models[org])
        self.c.get("usage_day_30d", variant, f"{self._api(org)}/usage", params)

    def usage_other(self, rng: random.Random) -> None:
        org = _org(rng, self.p)
        group = rng.choice(["", "model", "user", "project", "day,model", "thread"])
        params: dict[str, Any] = {"from": _iso(self.p.window_start), "to": _iso(self.p.window_end)}
        if group:
            params["group_by"] = group
        self.c.get("usage_other", group or "total", f"{self._api(org)}/usage", params)

    def csv_export(self, rng: random.Random) -> None:
        """10k threads as CSV from an org that has them (else the biggest org)."""
        big = [o for o, n in self.p.org_threads.items() if n >= self.csv_rows] or self.p.orgs[:1]
        org = rng.choice(big)
        sort = rng.choice(["last_activity", "cost"])
        self.c.get(
            "csv_export_10k",
            sort,
            f"{self._api(org)}/conversations",
            {"format": "csv", "limit": self.csv_rows, "sort": sort},
        )

    def readyz(self, rng: random.Random) -> None:
        self.c.get("readyz", "", "/readyz")


API_PASSES = {"off": ("as_shipped",), "on": ("tcp_nodelay",), "both": ("as_shipped", "tcp_nodelay")}
ENDPOINTS = (
    "conversations_list",
    "conversation_detail",
    "sessions_list",
    "session_detail",
    "session_compactions",
    "session_events_first",
    "session_events_next",
    "usage_day_30d",
    "usage_other",
    "csv_export_10k",
    "readyz",
)
_PLAN_METHODS = {"csv_export_10k": "csv_export"}


def run_api(
    storage_dsn: str,
    database: str,
    picks: Picks,
    requests: int,
    csv_requests: int,
    csv_rows: int,
    warmup: int,
    seed: int,
    log: Callable[[str], None],
    tcp_nodelay: bool = False,
    verify: bool = True,
) -> tuple[list[Sample], dict[str, Any]]:
    """Start the API over the data; send warm-up requests, then the measured ones.

    ``tcp_nodelay``: set TCP_NODELAY on the server's listening socket (accepted sockets
    inherit it on Linux). ApiServer creates its socket with proto 0, so asyncio does not
    set it itself; without it uvicorn's two writes per response wait out the client's
    delayed ACK (~40 ms) on every keep-alive request."""
    import socket

    from query_api.server import ApiServer
    from settings import Settings

    recorder = _Recorder()
    storage = timed_storage(storage_dsn, database, recorder)
    settings = Settings.load(
        {
            "clickhouse": storage_dsn,
            "database": database,
            "api": "127.0.0.1:0",
            "otlp_grpc": "off",
            "otlp_http": "off",
        },
        environ={},
    )
    server = ApiServer(storage, settings).start()
    listening = getattr(server, "_socket", None)
    if tcp_nodelay and listening is not None:
        listening.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client = Client(f"http://127.0.0.1:{server.port}", recorder)
    try:
        plan = Plan(client, picks, csv_rows)
        per_endpoint = {
            e: (
                csv_requests
                if e == "csv_export_10k"
                else max(1, requests // 4)
                if e == "readyz"
                else requests
            )
            for e in ENDPOINTS
        }
        # session_events_next sends a first page too; fewer chains give about `requests` next pages
        per_endpoint["session_events_next"] = max(1, requests // 2)
        rng = random.Random(f"bench-query:{seed}:warmup")
        client.recording = False
        for endpoint in ENDPOINTS:
            for _ in range(warmup):
                getattr(plan, _PLAN_METHODS.get(endpoint, endpoint))(rng)
        client.recording = True
        jobs = [e for e, n in per_endpoint.items() for _ in range(n)]
        rng = random.Random(f"bench-query:{seed}:requests")
        rng.shuffle(jobs)
        started = time.perf_counter()
        for i, endpoint in enumerate(jobs):
            getattr(plan, _PLAN_METHODS.get(endpoint, endpoint))(rng)
            if (i + 1) % 250 == 0:
                log(f"  {i + 1}/{len(jobs)} request jobs, {time.perf_counter() - started:.0f} s")
        checked = verify_copies(client, storage, picks) if verify else {}
        return list(client.samples), checked
    finally:
        client.close()
        server.stop()
        storage.close()


# ---------------------------------------------------------------------------------------
# copies answer like their original


COMPARED = (
    "estimated_cost_usd",
    "computed_cost_usd",
    "session_count",
    "compaction_count",
    "failed_compaction_count",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "api_request_count",
    "api_error_count",
    "user_prompt_count",
    "tool_call_count",
    "status",
    "close_reason",
    "models",
    "title",
)


def _shifted(a: str | None, b: str | None, seconds: int) -> bool:
    if a is None or b is None:
        return a == b

    def parse(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    return parse(b) - parse(a) == timedelta(seconds=seconds)


def compare_thread(client: Client, storage: Any, org: str, thread: str, copy: int) -> list[str]:
    """What differs between the original thread and its copy, through the API (empty: none)."""
    other = copy_id(storage, thread, copy)
    shift = shift_seconds(copy)
    base = f"/api/v1/{org}"
    a = client.get("verify", "", f"{base}/conversations/{thread}")
    b = client.get("verify", "", f"{base}/conversations/{other}")
    if a.status_code != 200 or b.status_code != 200:
        return [f"{thread} copy {copy}: status {a.status_code} / {b.status_code}"]
    da, db = a.json()["data"], b.json()["data"]
    problems = [
        f"{thread} copy {copy}: {k} {da[k]!r} != {db[k]!r}" for k in COMPARED if da[k] != db[k]
    ]
    for key in ("first_activity_at", "last_activity_at", "closed_at"):
        if not _shifted(da[key], db[key], shift):
            problems.append(f"{thread} copy {copy}: {key} not shifted by {shift} s")
    if [copy_id(storage, s["session_id"], copy) for s in da["sessions"]] != [
        s["session_id"] for s in db["sessions"]
    ]:
        problems.append(f"{thread} copy {copy}: session ids do not map")

    def strip(session: dict[str, Any]) -> dict[str, Any]:
        skip = ("session_id", "started_at", "last_activity_at", "closed_at")
        return {k: v for k, v in session.items() if k not in skip}

    if [strip(s) for s in da["sessions"]] != [strip(s) for s in db["sessions"]]:
        problems.append(f"{thread} copy {copy}: sessions differ")

    def shape(timeline: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [(e["kind"], e["type"], e.get("evidence")) for e in timeline]

    if shape(da["timeline"]) != shape(db["timeline"]):
        problems.append(f"{thread} copy {copy}: timelines differ")
    if any(
        not _shifted(x["at"], y["at"], shift)
        for x, y in zip(da["timeline"], db["timeline"], strict=False)
    ):
        problems.append(f"{thread} copy {copy}: timeline times not shifted")
    ua = client.get("verify", "", f"{base}/usage", {"thread": thread}).json()["data"]
    ub = client.get("verify", "", f"{base}/usage", {"thread": other}).json()["data"]
    if [r["estimated_cost_usd"] for r in ua] != [r["estimated_cost_usd"] for r in ub]:
        problems.append(f"{thread} copy {copy}: usage cost differs")
    root = da["sessions"][0]["session_id"] if da["sessions"] else thread
    ea = client.get("verify", "", f"{base}/llm_sessions/{root}/events", {"limit": 10000}).json()[
        "data"
    ]
    eb = client.get(
        "verify", "", f"{base}/llm_sessions/{copy_id(storage, root, copy)}/events", {"limit": 10000}
    ).json()["data"]
    fields = (
        "type",
        "sequence",
        "model",
        "estimated_cost_usd",
        "input_tokens",
        "output_tokens",
        "tool_name",
    )
    if [tuple(e[f] for f in fields) for e in ea] != [
        tuple(e[f] for f in fields) for e in eb
    ] or not ea:
        problems.append(
            f"{thread} copy {copy}: events of session {root} differ ({len(ea)} vs {len(eb)})"
        )
    return problems


def verify_copies(client: Client, storage: Any, picks: Picks) -> dict[str, Any]:
    meta = read_meta(storage)
    load = meta.get("load", {})
    copies = int(load.get("copies", 0))
    sample = [tuple(t) for t in load.get("sample_threads", [])]
    client.recording = False
    problems: list[str] = []
    checked = 0
    for i, (org, thread) in enumerate(sample):
        for copy in sorted({1, max(1, copies // 2), copies} if copies else set()):
            if i >= 4 and copy != copies:
                continue
            problems += compare_thread(client, storage, org, thread, copy)
            checked += 1
    client.recording = True
    return {
        "threads_checked": checked,
        "ok": not problems and checked > 0 or copies == 0,
        "problems": problems[:20],
    }


# ---------------------------------------------------------------------------------------
# dashboards


def run_panels(storage: Any, picks: Picks, runs: int, seed: int) -> dict[str, dict[str, Any]]:
    """Every dashboard variable and panel, expanded like Grafana, ``runs`` times each."""
    from dashboards import build
    from dashboards.expand import ALL, TimeRange, Variable, expand
    from dashboards.spec import DASHBOARDS

    window = TimeRange(picks.window_start, picks.window_end, interval_seconds=3600)
    rng = random.Random(f"bench-query:{seed}:panels")
    timings: dict[str, dict[str, Any]] = defaultdict(lambda: {"ms": [], "rows": []})

    def timed(key: str, sql: str) -> list[tuple[Any, ...]]:
        t0 = time.perf_counter()
        result = storage.client.query(sql)
        rows = list(result.result_rows)
        entry = timings[key]
        entry["ms"].append((time.perf_counter() - t0) * 1000)
        entry["rows"].append(len(rows))
        if "sql" not in entry:  # what the first run reads (the biggest org)
            entry["sql"] = sql
            entry["estimate"] = estimate(storage, sql)
        return rows

    orgs = list(picks.orgs)
    for i in range(runs):
        org = orgs[0] if i == 0 else rng.choice(orgs)  # the biggest org first
        for dashboard in DASHBOARDS:
            state: dict[str, Any] = {"org": Variable("org", org)}
            for variable in dashboard.variables:
                rows = timed(
                    f"var:{variable.sql_name}", expand(build.variable_sql(variable), state, window)
                )
                if variable.name == "thread":
                    threads = [str(r[0]) for r in rows] or [
                        t for o, t in picks.threads if o == org
                    ][:1]
                    state["thread"] = Variable(
                        "thread", rng.choice(threads or [picks.threads[0][1]])
                    )
                if variable.include_all:  # user, project, model, repository, session
                    options = [str(r[0]) for r in rows]
                    one = i % 2 == 1 and variable.name == "user" and options
                    state[variable.name] = Variable(
                        variable.name, [rng.choice(options)] if one else [ALL], options
                    )
            for panel in dashboard.panels:
                timed(
                    f"{dashboard.key}/{panel.key}",
                    expand(build.panel_sql(dashboard, panel), state, window),
                )
    out: dict[str, dict[str, Any]] = {}
    for key, entry in timings.items():
        out[key] = {
            **_stats(entry["ms"]),
            "rows_max": max(entry["rows"]),
            "estimated_read_rows": entry["estimate"].get("rows"),
            "estimate": entry["estimate"],
            "sql": entry["sql"],
        }
    return out


# ---------------------------------------------------------------------------------------
# figures


def _stats(ms: list[float]) -> dict[str, Any]:
    return {
        "count": len(ms),
        "p50_ms": round(percentile(ms, 0.5), 2),
        "p95_ms": round(percentile(ms, 0.95), 2),
        "p99_ms": round(percentile(ms, 0.99), 2),
        "max_ms": round(max(ms), 2) if ms else None,
        "mean_ms": round(statistics.fmean(ms), 2) if ms else None,
    }


def endpoint_figures(samples: list[Sample]) -> dict[str, dict[str, Any]]:
    by: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by[s.endpoint].append(s)
    out: dict[str, dict[str, Any]] = {}
    for endpoint in [e for e in ENDPOINTS if e in by] + sorted(set(by) - set(ENDPOINTS)):
        group = by[endpoint]
        ok = [s for s in group if 200 <= s.status < 300]
        errors = [s for s in group if not 200 <= s.status < 300]
        sql = [s.sql_ms for s in ok]
        queries: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for s in ok:
            for q in s.queries:
                queries[q["query"]].append(q)
        variants: dict[str, list[float]] = defaultdict(list)
        for s in ok:
            variants[s.variant.split("/")[0]].append(s.ms)
        out[endpoint] = {
            **_stats([s.ms for s in ok]),
            "requests": len(group),
            "errors": len(errors),
            "error_samples": [f"{s.status} {s.path}" for s in errors[:5]],
            "sql_p50_ms": round(percentile(sql, 0.5), 2) if sql else None,
            "sql_p95_ms": round(percentile(sql, 0.95), 2) if sql else None,
            "queries": {
                name: {
                    "count": len(qs),
                    "p50_ms": round(percentile([q["ms"] for q in qs], 0.5), 2),
                    "p95_ms": round(percentile([q["ms"] for q in qs], 0.95), 2),
                    "rows_p50": int(statistics.median([q["rows"] for q in qs])),
                }
                for name, qs in sorted(queries.items())
            },
            "variants": {
                v: {
                    "count": len(ms),
                    "p50_ms": round(percentile(ms, 0.5), 2),
                    "p95_ms": round(percentile(ms, 0.95), 2),
                }
                for v, ms in sorted(variants.items())
            },
            "slowest": [
                {"ms": round(s.ms, 1), "sql_ms": round(s.sql_ms, 1), "path": s.path}
                for s in sorted(ok, key=lambda s: -s.ms)[:3]
            ],
        }
        if endpoint == "csv_export_10k":
            out[endpoint]["rows_p50"] = int(statistics.median([s.rows for s in ok])) if ok else 0
    return out


def target_figures(endpoints: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for endpoint, target in TARGETS_MS.items():
        figure = endpoints.get(endpoint)
        if not figure or not figure["count"]:
            continue
        p95 = figure["p95_ms"]
        out[endpoint] = {
            "target_p95_ms": target,
            "p95_ms": p95,
            "met": p95 <= target,
            "ratio": round(p95 / target, 2),
            "over_by_ms": round(max(0.0, p95 - target), 1),
        }
    return out


def explain(storage: Any, sample: Sample, query: str) -> list[str]:
    """EXPLAIN indexes=1 of one recorded query: the index lines (parts / granules read)."""
    from storage.sql_files import load_query

    call = next((q for q in sample.queries if q["query"] == query), None)
    if call is None:
        return []
    sql = _strip_settings(load_query(query))
    try:
        rows = storage.query_rows(f"EXPLAIN indexes = 1 {sql}", call["params"])
    except Exception as exc:  # EXPLAIN is best effort
        return [f"EXPLAIN failed: {exc}"[:300]]
    keep = (
        "ReadFromMergeTree",
        "PrimaryKey",
        "Skip",
        "Parts:",
        "Granules:",
        "Condition:",
        "Name:",
        "FINAL",
    )
    return [r[0].strip() for r in rows if any(k in r[0] for k in keep)][:40]


def _strip_settings(sql: str) -> str:
    sql = sql.rstrip().rstrip(";")
    if "\nSETTINGS " in sql:
        sql = sql[: sql.rindex("\nSETTINGS ")]
    return sql


def estimate(storage: Any, sql: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """EXPLAIN ESTIMATE: rows and marks (granules) ClickHouse expects to read, per table."""
    try:
        rows = storage.query_rows(f"EXPLAIN ESTIMATE {_strip_settings(sql)}", params or {})
    except Exception as exc:  # noqa: BLE001 - best effort
        return {"error": str(exc)[:200]}
    tables: dict[str, dict[str, int]] = {}
    for _db, table, parts, nrows, marks in rows:
        entry = tables.setdefault(table, {"parts": 0, "rows": 0, "marks": 0})
        entry["parts"] += int(parts)
        entry["rows"] += int(nrows)
        entry["marks"] += int(marks)
    return {"rows": sum(t["rows"] for t in tables.values()), "tables": tables}


def profile(
    storage: Any, samples: list[Sample], endpoints: dict[str, Any], targets: dict[str, Any]
) -> dict[str, Any]:
    """For each missed target: where the time goes (SQL vs Python + HTTP), the slowest
    query of the endpoint, what the slowest request's queries read (EXPLAIN ESTIMATE) and
    the slowest query's EXPLAIN indexes."""
    from storage.sql_files import load_query

    out: dict[str, Any] = {}
    for endpoint, target in targets.items():
        if target["met"]:
            continue
        figure = endpoints[endpoint]
        queries = figure["queries"]
        slowest = max(queries, key=lambda q: queries[q]["p50_ms"]) if queries else None
        worst = max(
            (s for s in samples if s.endpoint == endpoint and 200 <= s.status < 300),
            key=lambda s: s.sql_ms,
            default=None,
        )
        out[endpoint] = {
            "p50_ms": figure["p50_ms"],
            "sql_p50_ms": figure["sql_p50_ms"],
            "outside_sql_p50_ms": round(figure["p50_ms"] - (figure["sql_p50_ms"] or 0), 2),
            "slowest_query": slowest,
            "slowest_query_figures": queries.get(slowest) if slowest else None,
            "slowest_request": worst.path if worst else None,
            "slowest_request_queries": [
                {
                    "query": q["query"],
                    "ms": round(q["ms"], 1),
                    "estimate": estimate(storage, load_query(q["query"]), q["params"]),
                }
                for q in (worst.queries if worst else [])
                if q["query"] != "other"
            ],
            "explain": explain(storage, worst, slowest) if worst and slowest else [],
        }
    return out


# ---------------------------------------------------------------------------------------


def _loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _versions(storage: Any) -> dict[str, str]:
    try:
        import chdb

        chdb_version = chdb.__version__
    except Exception:  # noqa: BLE001 - reported, not needed
        chdb_version = ""
    return {
        "python": platform.python_version(),
        "chdb": chdb_version,
        "clickhouse": str(storage.query_rows("SELECT version()")[0][0]),
    }


def run_benchmark(
    data_dir: str | Path | None = None,
    database: str = "loomline",
    events: int = 10_000_000,
    copies: int | None = None,
    conversations: int = 1000,
    orgs: int = 20,
    users: int = 200,
    days: int = 30,
    seed: int = 1,
    user_variants: int = USER_VARIANTS_DEFAULT,
    requests: int = 200,
    csv_requests: int = 20,
    csv_rows: int = 10_000,
    warmup: int = 3,
    panel_runs: int = 10,
    do_optimize: bool = True,
    tcp_nodelay: str = "both",
    results_dir: Path | None = RESULTS_DIR,
    label: str = "query",
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> dict[str, Any]:
    """Load (or reuse) the dataset, measure the API and the panels; returns the results
    (and writes them to ``results_dir``)."""
    from storage.client import open_storage

    temp: str | None = None
    if data_dir is None:
        temp = tempfile.mkdtemp(prefix="loomline-bench-query-")
        data_dir = temp
    dsn = f"chdb://{Path(data_dir).resolve()}"
    load_before = _loadavg()
    storage = open_storage(dsn, database)
    try:
        spec = BaseSpec(conversations=conversations, orgs=orgs, users=users, days=days, seed=seed)
        load = ensure_dataset(storage, spec, copies, events, user_variants, do_optimize, log)
        scaling = check_scaling(storage, load)
        log(f"dataset: {scaling['counts']}; scales x{scaling['factor']}: {scaling['ok']}")
        picks = pick(storage, seed)
        passes: dict[str, list[Sample]] = {}
        api_seconds: dict[str, float] = {}
        load_averages: dict[str, list[list[float]]] = {}
        verify: dict[str, Any] = {}
        for name in API_PASSES[tcp_nodelay]:
            log(
                f"API ({name}): {requests} requests per endpoint (+{warmup} warm-up each), {csv_requests} CSV exports"
            )
            api_started = time.perf_counter()
            load_averages[name] = [_loadavg()]
            samples, checked = run_api(
                dsn,
                database,
                picks,
                requests,
                csv_requests,
                csv_rows,
                warmup,
                seed,
                log,
                tcp_nodelay=name == "tcp_nodelay",
                verify=not verify,
            )
            api_seconds[name] = round(time.perf_counter() - api_started, 1)
            load_averages[name].append(_loadavg())
            passes[name] = samples
            if checked:
                verify = checked
                log(
                    f"  copies answer like their original: {verify['ok']} ({verify['threads_checked']} thread copies)"
                )
        log(f"panels: {panel_runs} runs of every panel and variable")
        panels_started = time.perf_counter()
        load_averages["panels"] = [_loadavg()]
        panels = run_panels(storage, picks, panel_runs, seed)
        panels_seconds = time.perf_counter() - panels_started
        load_averages["panels"].append(_loadavg())
        figures: dict[str, Any] = {}
        for name, samples in passes.items():
            endpoints = endpoint_figures(samples)
            targets = target_figures(endpoints)
            figures[name] = {
                "endpoints": endpoints,
                "targets": targets,
                "profile": profile(storage, samples, endpoints, targets),
            }
        versions = _versions(storage)
    finally:
        storage.close()
        if temp:
            shutil.rmtree(temp, ignore_errors=True)

    results: dict[str, Any] = {
        "benchmark": "query",
        "label": label,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_model": cpu_model(),
            **versions,
            "platform": platform.platform(),
            "load_average_before": load_before,
            "load_average_after": _loadavg(),
            "load_average_per_phase": load_averages,  # [1, 5, 15 min] before and after
        },
        "params": {
            "events_target": events,
            "copies": load["copies"],
            "conversations": conversations,
            "orgs": orgs,
            "users": users,
            "days": days,
            "seed": seed,
            "user_variants": user_variants,
            "fleet_shape": FLEET_SHAPE,
            "requests_per_endpoint": requests,
            "csv_requests": csv_requests,
            "csv_rows": csv_rows,
            "warmup_per_endpoint": warmup,
            "panel_runs": panel_runs,
            "optimize_final": do_optimize,
            "api_passes": list(API_PASSES[tcp_nodelay]),
            "data_dir": str(data_dir) if not temp else "(temp)",
            "database": database,
            "storage": "chdb (embedded), API and client in one process, one request at a time",
            "window": [_iso(picks.window_start), _iso(picks.window_end)],
        },
        "dataset": {
            "counts": scaling["counts"],
            "scaling_ok": scaling["ok"],
            "scaling_mismatches": scaling["mismatches"],
            "copies_answer_like_original": verify,
            "load": load,
        },
        "api_seconds": api_seconds,
        "panels_seconds": round(panels_seconds, 1),
        # The API as shipped first; "tcp_nodelay": the same requests with TCP_NODELAY set on
        # the server's listening socket (what query_api/server.py does not do yet).
        "api": figures,
        "panels": dict(sorted(panels.items(), key=lambda kv: -kv[1]["p95_ms"])),
    }
    if results_dir is not None:
        results["path"] = str(write_results(results_dir, label, results))
    return results


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]

    def fmt(row: list[Any]) -> str:
        cells = zip(row, widths, strict=True)
        return "  ".join(
            str(x).rjust(w) if i else str(x).ljust(w) for i, (x, w) in enumerate(cells)
        )

    return [fmt(header), *[fmt(r) for r in rows]]


def summary_text(r: dict[str, Any], panels: int = 10) -> str:
    c = r["dataset"]["counts"]
    load = r["dataset"]["load"]
    lines = [
        f"dataset: {c['events']:,} events, {c['llm_sessions']:,} sessions, {c['threads']:,} threads, "
        f"{c['orgs']} orgs, {c['users']:,} users ({load['copies']} copies of the base; "
        f"{'reused' if load.get('reused') else 'loaded in ' + str(round(load['seconds']['total'])) + ' s'}); "
        f"scaling ok: {r['dataset']['scaling_ok']}, copies answer like originals: "
        f"{r['dataset']['copies_answer_like_original']['ok']}",
        f"machine: {r['machine']['cpus']} CPUs, load average {r['machine']['load_average_before']} -> "
        f"{r['machine']['load_average_after']}",
        "",
    ]
    for name, figures in r["api"].items():
        targets = figures["targets"]
        rows = []
        for endpoint, e in figures["endpoints"].items():
            t = targets.get(endpoint)
            verdict = (
                ""
                if not t
                else f"<= {t['target_p95_ms']:.0f}: {'met' if t['met'] else 'MISSED x' + str(t['ratio'])}"
            )
            rows.append(
                [
                    endpoint,
                    e["count"],
                    e["errors"],
                    e["p50_ms"],
                    e["p95_ms"],
                    e["p99_ms"],
                    e["max_ms"],
                    e["sql_p50_ms"],
                    verdict,
                ]
            )
        lines.append(f"API, {name.replace('_', ' ')}:")
        lines += _table(
            [
                "endpoint",
                "n",
                "errors",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "max ms",
                "sql p50",
                "target p95",
            ],
            rows,
        )
        lines.append("")
    prow = [
        [k, v["count"], v["p50_ms"], v["p95_ms"], v["rows_max"], v["estimated_read_rows"]]
        for k, v in list(r["panels"].items())[:panels]
    ]
    lines.append(
        f"slowest {min(panels, len(r['panels']))} of {len(r['panels'])} panels / variables:"
    )
    lines += _table(["panel", "n", "p50 ms", "p95 ms", "rows", "est. read rows"], prow)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.query", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="chDB data directory; kept, and reused when it already holds this dataset "
        "(default: a temp dir, removed after)",
    )
    parser.add_argument("--database", default="loomline")
    parser.add_argument(
        "--events", type=int, default=10_000_000, help="events to reach by copying the base"
    )
    parser.add_argument(
        "--copies", type=int, default=None, help="copies of the base (overrides --events)"
    )
    parser.add_argument(
        "--conversations", type=int, default=1000, help="fresh conversations in the base fleet"
    )
    parser.add_argument("--orgs", type=int, default=20)
    parser.add_argument(
        "--users", type=int, default=200, help="users of the base fleet (x --user-variants)"
    )
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--user-variants",
        type=int,
        default=USER_VARIANTS_DEFAULT,
        help="copy k belongs to user variant k %% this (more users, same orgs)",
    )
    parser.add_argument("--requests", type=int, default=200, help="measured requests per endpoint")
    parser.add_argument("--csv-requests", type=int, default=20, help="measured CSV exports")
    parser.add_argument("--csv-rows", type=int, default=10_000, help="rows per CSV export")
    parser.add_argument(
        "--warmup", type=int, default=3, help="unmeasured requests per endpoint first"
    )
    parser.add_argument(
        "--panel-runs", type=int, default=10, help="runs of every panel and variable"
    )
    parser.add_argument(
        "--no-optimize", action="store_true", help="skip OPTIMIZE ... FINAL after loading"
    )
    parser.add_argument(
        "--tcp-nodelay",
        choices=sorted(API_PASSES),
        default="both",
        help="measure the API as shipped (off), with TCP_NODELAY on its socket (on), or both",
    )
    parser.add_argument("--label", default="query", help="results file name prefix")
    parser.add_argument("--results-dir", default=str(RESULTS_DIR), help="'' to write nothing")
    args = parser.parse_args(argv)
    results = run_benchmark(
        data_dir=args.data_dir,
        database=args.database,
        events=args.events,
        copies=args.copies,
        conversations=args.conversations,
        orgs=args.orgs,
        users=args.users,
        days=args.days,
        seed=args.seed,
        user_variants=args.user_variants,
        requests=args.requests,
        csv_requests=args.csv_requests,
        csv_rows=args.csv_rows,
        warmup=args.warmup,
        panel_runs=args.panel_runs,
        do_optimize=not args.no_optimize,
        tcp_nodelay=args.tcp_nodelay,
        results_dir=Path(args.results_dir) if args.results_dir else None,
        label=args.label,
    )
    print(summary_text(results))
    if "path" in results:
        print(f"results: {results['path']}")
    ok = (
        results["dataset"]["scaling_ok"] and results["dataset"]["copies_answer_like_original"]["ok"]
    )
    errors = sum(e["errors"] for f in results["api"].values() for e in f["endpoints"].values())
    return 0 if ok and not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
