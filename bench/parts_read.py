"""What more parts per partition cost the queries that read them (embedded ClickHouse): the
other side of merging less often (storage/client.py, RAW_MERGE_SELECTOR_BASE).

    python -m bench.parts_read [--rows 2000000] [--parts 4,9,18] [--calls 20]

For each K in ``--parts`` a database of its own (one engine, one process) takes the same
``--rows`` synthetic rows into ``events`` (two monthly partitions) and ``otel_logs`` (30
daily partitions) as K inserts per partition, with merges stopped, so every partition holds
K parts. Then the same queries run against each: the explorer's page of a session's events
(``api_session_events.sql``, ``FINAL``), a week of usage from ``events``, and two reads of
``otel_logs`` as Grafana makes them (one day of one org by event name; one session). Reported:
the median wall time per call over ``--calls`` sessions, three rounds, and its ratio to the
smallest K. Results go to bench/results/parts-read-*.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, active_parts, cpu_model, git_commit, load_average, write_results

RESULTS_DIR = REPO_ROOT / "bench" / "results"
SESSIONS = 20_000
ORGS = 20

_EVENTS = """INSERT INTO events (OrgId, SessionId, Timestamp, EventKey, EventName)
SELECT concat('org', toString(number % {orgs:UInt32})), concat('s', toString(intHash32(number) % {sessions:UInt32})),
       toDateTime64('2026-11-01 00:00:00', 6) + toIntervalMonth({month:UInt8}) + toIntervalSecond(number % 2500000),
       number, 'api_request'
FROM numbers({offset:UInt64}, {count:UInt64})"""
_LOGS = """INSERT INTO otel_logs (OrgId, ServiceName, Timestamp, TimestampTime, Body, LogAttributes)
SELECT concat('org', toString(number % {orgs:UInt32})), 'claude-code',
       toDateTime64('2026-11-01 00:00:00', 9) + toIntervalSecond(({month:UInt8} * 15 + number % 15) * 86400 + number % 86400),
       toDateTime('2026-11-01 00:00:00') + toIntervalSecond(({month:UInt8} * 15 + number % 15) * 86400 + number % 86400),
       'claude_code.api_request',
       map('session.id', concat('s', toString(intHash32(number) % {sessions:UInt32})), 'model', 'claude-x')
FROM numbers({offset:UInt64}, {count:UInt64})"""

QUERIES: dict[str, str] = {
    "a session's events page (api_session_events.sql, FINAL)": "api_session_events",
    "a week of usage by org (events)": (
        "SELECT OrgId, count() FROM events WHERE Timestamp >= toDateTime64('2026-12-10 00:00:00', 6) GROUP BY OrgId"),
    "one day of one org by event name (otel_logs)": (
        "SELECT Body, count() FROM otel_logs WHERE OrgId = {org:String} AND TimestampTime >= toDateTime('2026-12-05 00:00:00')"
        " AND TimestampTime < toDateTime('2026-12-06 00:00:00') GROUP BY Body"),
    "one session (otel_logs)": "SELECT count() FROM otel_logs WHERE OrgId = {org:String} AND SessionId = {session:String}",
}


def _fill(storage: Any, parts: int, rows: int) -> dict[str, int]:
    """``rows`` rows into each table as ``parts`` inserts per event month, merges stopped."""
    for table in ("events", "otel_logs"):
        storage.command(f"SYSTEM STOP MERGES {storage.database}.{table}")
    per = rows // (2 * parts)
    for month in (0, 1):
        for b in range(parts):
            values = {"orgs": ORGS, "sessions": SESSIONS, "month": month, "offset": (month * parts + b) * per, "count": per}
            storage.command(_EVENTS, values)
            storage.command(_LOGS, values)
    return {t: n for t, n in active_parts(storage).items() if t in ("events", "otel_logs")}


def run_benchmark(rows: int, parts: list[int], calls: int, rounds: int = 3) -> dict[str, Any]:
    from storage.client import open_storage
    from storage.sql_files import load_query

    results: dict[str, Any] = {
        "benchmark": "parts_read", "git_commit": git_commit(), "machine": {"cpu_model": cpu_model()},
        "params": {"rows": rows, "parts_per_partition": parts, "calls": calls, "rounds": rounds},
        "load_average_before": load_average(), "active_parts": {}, "queries": {}}
    with tempfile.TemporaryDirectory() as directory:
        stores = {}
        for k in parts:
            storage = open_storage(f"chdb://{directory}", f"parts{k}")
            results["active_parts"][str(k)] = _fill(storage, k, rows)
            stores[k] = storage
            print(f"{k} parts per partition: active parts {results['active_parts'][str(k)]}", flush=True)
        page = {"types": [], "prompt_id": "", "tool_use_id": "", "has_cursor": 0, "after_ts": 0, "after_seq": 0,
                "after_key": 0, "limit": 500}
        for name, query in QUERIES.items():
            sql = load_query(query) if query.isidentifier() else query
            medians: dict[str, float] = {}
            for k, storage in stores.items():
                times = []
                for _ in range(rounds):
                    for i in range(calls):
                        n = i * 997
                        params = {"org": f"org{n % ORGS}", "session": f"s{n % SESSIONS}", **page}
                        started = time.perf_counter()
                        storage.query_rows(sql, params)
                        times.append(time.perf_counter() - started)
                medians[str(k)] = round(statistics.median(times) * 1e3, 2)
            base = medians[str(parts[0])]
            results["queries"][name] = {"median_ms": medians,
                                        "ratio": {k: round(v / base, 2) for k, v in medians.items()}}
            print(f"{name}: " + ", ".join(f"{k} parts {v} ms (x{v / base:.2f})" for k, v in medians.items())
                  + f" (load {load_average()[0]})", flush=True)
        for storage in stores.values():
            storage.close()
    results["load_average_after"] = load_average()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.parts_read", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows in each table of each database")
    parser.add_argument("--parts", default="4,9,18", help="parts per partition, comma-separated")
    parser.add_argument("--calls", type=int, default=20, help="calls per query per round (different sessions)")
    parser.add_argument("--results-dir", default=str(RESULTS_DIR), help="'' to write nothing")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    parts = sorted({int(x) for x in args.parts.split(",") if x.strip()})
    if not parts or parts[0] < 1 or args.rows < 2 * parts[-1] or args.calls < 1:
        parser.error("--parts: positive counts; --rows: at least two per part; --calls: at least 1")
    results = run_benchmark(args.rows, parts, args.calls)
    if args.results_dir:
        print("results:", write_results(Path(args.results_dir), "parts-read", results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
