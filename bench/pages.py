"""Explorer page benchmark: server time of the API calls each web page makes, over the
query benchmark's dataset (bench/query_load.py: a real fleet multiplied to ~10M events).

Each page is the set of requests its ES module sends (web/static/js/views/*.js), sent one
after another over loopback to the real query API (``ApiServer``); a page's time is the
sum of its calls (the browser sends some in parallel, so this is the pessimistic figure).
The baseline, measured in the same run, is ``/healthz`` (the server's fixed cost per
request). The target is p95 <= 100 ms per page at 10M events; reported, not asserted.

    python -m bench.pages --data-dir /tmp/loomline-10m      # reuses bench.query's dataset
    python -m bench.pages --copies 1 --conversations 20 --requests 5   # tiny, proves it runs
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import cpu_model, git_commit, percentile
from bench.query_load import USER_VARIANTS_DEFAULT, BaseSpec, ensure_dataset

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "bench" / "results"
TARGET_MS = 100.0
MAIN_TYPES = "user_prompt,api_request,api_error,tool_decision,tool_result,compaction"


def picks(storage: Any, seed: int, n: int = 50) -> dict[str, list[tuple[str, ...]]]:
    """Ids to open, sampled (seeded) from the data: (org, thread), (org, user, session)."""
    rng = random.Random(seed)
    threads = storage.query_rows(
        "SELECT org_id, thread_id FROM threads FINAL WHERE is_deleted = 0 ORDER BY cityHash64(thread_id) LIMIT 2000")
    sessions = storage.query_rows(
        "SELECT org_id, user_id, session_id FROM llm_sessions FINAL WHERE is_deleted = 0"
        " ORDER BY cityHash64(session_id) LIMIT 2000")
    orgs = sorted({row[0] for row in threads})
    return {
        "threads": [tuple(r) for r in rng.sample(threads, min(n, len(threads)))],
        "sessions": [tuple(r) for r in rng.sample(sessions, min(n, len(sessions)))],
        "orgs": [(org,) for org in orgs],
    }


def page_requests(page: str, rng: random.Random, ids: dict[str, list[tuple[str, ...]]]) -> list[tuple[str, dict[str, Any]]]:
    """The (path, params) a page loads, as the page's module sends them."""
    (org,) = rng.choice(ids["orgs"])
    if page == "conversations":
        return [(f"/api/v1/{org}/conversations", {"limit": 50, "sort": "last_activity"}),
                (f"/api/v1/{org}/users", {"limit": 1000}), (f"/api/v1/{org}/projects", {"limit": 1000}),
                (f"/api/v1/{org}/repositories", {"limit": 1000}), (f"/api/v1/{org}/models", {})]
    if page == "conversations_by_cost":
        return [(f"/api/v1/{org}/conversations", {"limit": 50, "sort": "cost"})]
    if page == "sessions":
        return [(f"/api/v1/{org}/llm_sessions", {"limit": 50})]
    if page == "projects":
        return [(f"/api/v1/{org}/projects", {"limit": 1000})]
    if page == "repositories":
        return [(f"/api/v1/{org}/repositories", {"limit": 1000})]
    if page == "users":
        return [(f"/api/v1/{org}/users", {"limit": 1000})]
    if page == "thread":
        org, thread = rng.choice(ids["threads"])
        return [(f"/api/v1/{org}/conversations/{thread}", {}), (f"/api/v1/{org}/conversations/{thread}/context", {})]
    if page == "drill_down":
        org, user, session = rng.choice(ids["sessions"])
        return [(f"/api/v1/{org}/users", {"limit": 1000}),
                (f"/api/v1/{org}/llm_sessions", {"user": user, "limit": 200}),
                (f"/api/v1/{org}/llm_sessions/{session}/events", {"limit": 1000, "type": MAIN_TYPES})]
    if page == "live":
        midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return [(f"/api/v1/{org}/live", {"since": midnight.isoformat()})]
    if page == "baseline_healthz":
        return [("/healthz", {})]
    raise ValueError(page)


PAGES = ("baseline_healthz", "conversations", "conversations_by_cost", "sessions", "projects", "repositories", "users",
         "thread", "drill_down", "live")


def measure(base_url: str, ids: dict[str, list[tuple[str, ...]]], requests: int, warmup: int, seed: int,
            log: Callable[[str], None]) -> dict[str, Any]:
    import httpx

    rng = random.Random(seed)
    figures: dict[str, Any] = {}
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for page in PAGES:
            times: list[float] = []
            for i in range(warmup + requests):
                started = time.perf_counter()
                for path, params in page_requests(page, rng, ids):
                    response = client.get(path, params=params)
                    if response.status_code != 200:
                        raise RuntimeError(f"{path}: HTTP {response.status_code} {response.text[:200]}")
                if i >= warmup:
                    times.append((time.perf_counter() - started) * 1000)
            figures[page] = {"n": len(times), "p50_ms": round(percentile(times, 0.5), 2),
                             "p95_ms": round(percentile(times, 0.95), 2), "max_ms": round(max(times), 2)}
            log(f"  {page:22s} p50 {figures[page]['p50_ms']:8.1f} ms   p95 {figures[page]['p95_ms']:8.1f} ms")
    base = figures["baseline_healthz"]["p95_ms"] or 1e-9
    for page, fig in figures.items():
        fig["p95_vs_baseline"] = round(fig["p95_ms"] / base, 1)
        if page != "baseline_healthz":
            fig["target_p95_ms"] = TARGET_MS
            fig["meets_target"] = fig["p95_ms"] <= TARGET_MS
    return figures


def run(data_dir: str | None, database: str, events: int, copies: int | None, conversations: int, orgs: int,
        users: int, days: int, seed: int, requests: int, warmup: int, results_dir: Path | None,
        log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)) -> dict[str, Any]:
    """Load (or reuse) the dataset, serve the API over it and time every page."""
    import web
    from query_api.server import ApiServer
    from settings import Settings
    from storage.client import open_storage

    temp = None
    if data_dir is None:
        temp = data_dir = tempfile.mkdtemp(prefix="loomline-bench-pages-")
    dsn = f"chdb://{Path(data_dir).resolve()}"
    load_before = list(os.getloadavg())
    storage = open_storage(dsn, database)
    server = None
    try:
        spec = BaseSpec(conversations=conversations, orgs=orgs, users=users, days=days, seed=seed)
        load = ensure_dataset(storage, spec, copies, events, USER_VARIANTS_DEFAULT, True, log)
        event_count = storage.query_rows("SELECT count() FROM events")[0][0]
        log(f"dataset: {event_count:,} events")
        ids = picks(storage, seed)
        settings = Settings.load({"clickhouse": dsn, "database": database, "api": "127.0.0.1:0"}, environ={})
        server = ApiServer(storage, settings, mounts=[web.install]).start()
        log(f"pages: {requests} loads each (+{warmup} warm-up); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        figures = measure(f"http://127.0.0.1:{server.port}", ids, requests, warmup, seed, log)
        result = {
            "benchmark": "pages", "at": datetime.now(UTC).isoformat(), "git_commit": git_commit(),
            "cpu_model": cpu_model(), "cpus": os.cpu_count(), "events": event_count,
            "copies": load.get("copies"), "requests_per_page": requests,
            "loadavg_before": load_before, "loadavg_after": list(os.getloadavg()), "pages": figures,
        }
        if results_dir is not None:
            results_dir.mkdir(parents=True, exist_ok=True)
            path = results_dir / f"pages-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
            path.write_text(json.dumps(result, indent=2))
            log(f"results: {path}")
        return result
    finally:
        if server is not None:
            server.stop()
        storage.close()
        if temp:
            shutil.rmtree(temp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="chDB data directory (bench.query's is reused)")
    parser.add_argument("--database", default="loomline")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--copies", type=int, default=None, help="copies of the base (overrides --events)")
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--orgs", type=int, default=20)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--requests", type=int, default=100, help="measured loads per page")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--no-results", action="store_true", help="do not write bench/results/")
    args = parser.parse_args(argv)
    result = run(args.data_dir, args.database, args.events, args.copies, args.conversations, args.orgs,
                 args.users, args.days, args.seed, args.requests, args.warmup,
                 None if args.no_results else RESULTS_DIR)
    slow = [p for p, f in result["pages"].items() if f.get("meets_target") is False]
    print(json.dumps({"events": result["events"], "pages": result["pages"]}, indent=2))
    if slow:
        print(f"over the {TARGET_MS:.0f} ms p95 target: {', '.join(slow)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
