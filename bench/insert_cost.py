"""What one insert costs ClickHouse (embedded), by the rows it carries: why the writer puts
every waiting request's rows into one insert per table (receiver/pipeline.py).

    python -m bench.insert_cost [--sessions 300] [--requests 32] [--per 1,4,16]

The fleet's log requests (512 records each) are decoded once by the receiver's own path;
then, for each N in ``--per``, a fresh embedded store takes the same ``--requests``
requests as inserts of N requests each into ``otel_logs`` and into ``events``, one table
per process (chDB runs one engine per process). Reported: process CPU per insert and per
row (background merges included, as they run), and the fixed cost per insert fitted from
the smallest and largest N. Results go to bench/results/insert-cost-*.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, cpu_model, git_commit, load_average, write_results

RESULTS_DIR = REPO_ROOT / "bench" / "results"
TABLES = ("otel_logs", "events")


def role_insert(data: Path, table: str, per: int, requests: int) -> dict[str, Any]:
    """In this process: ``requests`` log requests as inserts of ``per`` requests each."""
    from bench.ingest import _load
    from receiver import decode_logs_fast
    from receiver.attributes import Limits
    from receiver.batch import DecodeContext
    from receiver.decode import decode_request, parse_protobuf
    from receiver.pipeline import _merge
    from storage.client import open_storage

    logs = [(s, b) for s, b, _ in _load(data) if s == "logs"][:requests]
    batches = [decode_request(s, parse_protobuf(s, b), Limits(), DecodeContext(), body=b) for s, b in logs]
    blocks = [_merge(batches[i:i + per]) for i in range(0, len(batches), per)]
    with tempfile.TemporaryDirectory() as directory:
        storage = open_storage(f"chdb://{directory}", "loomline")
        natives = []
        for block in blocks:
            native = decode_logs_fast.native_block(table, block.tables[table])
            if native is None:
                raise SystemExit("the compiled decoder is not built: pip install -e . builds it")
            natives.append((*native, block.row_count(table)))
        rows = sum(n for _, _, n in natives)
        started = time.process_time()
        for names, native_block, n in natives:
            storage.insert_native(table, names, native_block, n)
        cpu = time.process_time() - started
        storage.close()
    return {"table": table, "requests_per_insert": per, "inserts": len(natives), "rows": rows,
            "rows_per_insert": rows / len(natives), "cpu_ms_per_insert": round(cpu / len(natives) * 1e3, 2),
            "cpu_us_per_row": round(cpu / rows * 1e6, 2)}


def run_benchmark(sessions: int, requests: int, per: list[int]) -> dict[str, Any]:
    from bench.ingest import build_data

    results: dict[str, Any] = {
        "benchmark": "insert_cost", "git_commit": git_commit(),
        "machine": {"cpu_model": cpu_model()}, "params": {"sessions": sessions, "requests": requests, "per": per},
        "load_average_before": load_average(), "runs": [], "fixed": {}}
    with tempfile.TemporaryDirectory() as directory:
        data = Path(directory) / "fleet.pkl"
        build_data(data, seed=1, orgs=20, users=100, sessions=sessions, days=30, batch_size=512)
        for table in TABLES:
            for n in per:
                out = subprocess.run([sys.executable, "-m", "bench.insert_cost", "insert", str(data), table, str(n),
                                      str(requests)], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
                run = json.loads(out.stdout.strip().splitlines()[-1])
                run["load_1min"] = load_average()[0]
                results["runs"].append(run)
                print(f"{table:10} {n:3} request(s) per insert, {run['rows_per_insert']:7.0f} rows: "
                      f"{run['cpu_ms_per_insert']:7.2f} ms CPU per insert, {run['cpu_us_per_row']:6.2f} µs per row "
                      f"(load {run['load_1min']})", flush=True)
            small, large = (next(r for r in results["runs"] if r["table"] == table and r["requests_per_insert"] == n)
                            for n in (min(per), max(per)))
            if large["rows_per_insert"] > small["rows_per_insert"]:
                per_row = ((large["cpu_ms_per_insert"] - small["cpu_ms_per_insert"])
                           / (large["rows_per_insert"] - small["rows_per_insert"]))
                fixed = small["cpu_ms_per_insert"] - per_row * small["rows_per_insert"]
                results["fixed"][table] = {"ms_per_insert": round(fixed, 2), "us_per_row": round(per_row * 1e3, 2)}
                print(f"{table:10} fitted: {fixed:.1f} ms per insert + {per_row * 1e3:.2f} µs per row")
    results["load_average_after"] = load_average()
    return results


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["insert"]:
        print(json.dumps(role_insert(Path(argv[1]), argv[2], int(argv[3]), int(argv[4]))))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.insert_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=300, help="fleet conversations (the requests come from it)")
    parser.add_argument("--requests", type=int, default=32, help="log requests inserted in each run")
    parser.add_argument("--per", default="1,4,16", help="requests per insert, comma-separated")
    parser.add_argument("--results-dir", default=str(RESULTS_DIR), help="'' to write nothing")
    args = parser.parse_args(argv)
    per = sorted({int(x) for x in args.per.split(",") if x.strip()})
    if not per or min(per) < 1:
        parser.error("--per: positive counts, e.g. 1,4,16")
    results = run_benchmark(args.sessions, args.requests, per)
    if args.results_dir:
        print("results:", write_results(Path(args.results_dir), "insert-cost", results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
