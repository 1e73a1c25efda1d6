"""Storage per million events on the embedded default, for the capacity arithmetic of
docs/scale-out.md: load a seeded demo fleet through the real decode and insert path, enrich
it, merge every table (OPTIMIZE FINAL), then read ClickHouse's own part sizes.

    python -m bench.storage_size --sessions 300        # make bench-storage
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, cpu_model, git_commit


def measure(sessions: int, orgs: int, users: int, days: int, seed: int) -> dict[str, Any]:
    from enrich.service import Enricher
    from loomline.fleet import generate, record_count
    from receiver.attributes import Limits
    from receiver.batch import DecodeContext
    from receiver.decode import decode_request
    from storage.client import open_storage

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="loomline-size-") as directory:
        storage = open_storage(f"chdb://{directory}", "size")
        started = time.perf_counter()
        records = 0
        for signal, request in generate(seed=seed, orgs=orgs, users=users, sessions=sessions, days=days):
            records += record_count(signal, request)
            batch = decode_request(signal, request, Limits(), DecodeContext())
            for table, columns in batch.tables.items():
                storage.insert_columns(table, columns)
        load_seconds = time.perf_counter() - started
        Enricher(storage).derive_all()
        tables = [r[0] for r in storage.query_rows(
            "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree'")]
        for table in tables:
            storage.command(f"OPTIMIZE TABLE {table} FINAL")
        events = storage.query_rows("SELECT count() FROM events FINAL")[0][0]
        parts = storage.query_rows(
            "SELECT table, sum(rows), sum(bytes_on_disk), sum(data_uncompressed_bytes) FROM system.parts"
            " WHERE database = currentDatabase() AND active GROUP BY table ORDER BY table")
        storage.close()
    per_table = {
        table: {"rows": int(rows), "bytes_on_disk": int(disk), "uncompressed_bytes": int(raw)}
        for table, rows, disk, raw in parts
    }
    disk_total = sum(t["bytes_on_disk"] for t in per_table.values())
    return {
        "benchmark": "storage_size",
        "commit": git_commit(),
        "cpu": cpu_model(),
        "load_average": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]},
        "fleet": {"sessions": sessions, "orgs": orgs, "users": users, "days": days, "seed": seed},
        "records_sent": records,
        "events": int(events),
        "load_seconds": round(load_seconds, 1),
        "bytes_on_disk_total": disk_total,
        "mib_per_million_events": round(disk_total / max(events, 1) * 1e6 / 2**20, 1),
        "tables": per_table,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sessions", type=int, default=300, help="conversations in the fleet (default 300)")
    parser.add_argument("--orgs", type=int, default=5, help="organizations (default 5)")
    parser.add_argument("--users", type=int, default=50, help="users (default 50)")
    parser.add_argument("--days", type=int, default=7, help="days the fleet spans (default 7)")
    parser.add_argument("--seed", type=int, default=1, help="fleet seed (default 1)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results" / "storage_size.json",
                        help="results file (default bench/results/storage_size.json)")
    args = parser.parse_args(argv)
    result = measure(args.sessions, args.orgs, args.users, args.days, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{result['events']:,} events, {result['bytes_on_disk_total'] / 2**20:.1f} MiB on disk:"
          f" {result['mib_per_million_events']} MiB per million events"
          f" (load average {result['load_average']['before'][0]} -> {result['load_average']['after'][0]})")
    for table, t in result["tables"].items():
        print(f"  {table:38s} {t['rows']:>10,} rows {t['bytes_on_disk'] / 2**20:>8.2f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
