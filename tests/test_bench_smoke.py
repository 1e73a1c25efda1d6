"""A tiny run of the ingest benchmark (bench/ingest.py), so it keeps working."""

from __future__ import annotations

import json
from pathlib import Path

from bench.ingest import run_benchmark, summary_text


def test_ingest_benchmark_smoke(tmp_path: Path) -> None:
    results = run_benchmark(sessions=4, users=3, orgs=2, days=2, concurrency=2, results_dir=tmp_path, label="smoke")
    lo = results["loomline"]
    assert lo["errors"] == 0, lo["error_samples"]
    assert lo["stored_rows_verified"], (lo["stored_rows"], results["dataset"]["records"])
    assert lo["records_per_s"] > 0 and lo["server_cpu_seconds"] > 0 and lo["server_rss_mib"]["peak"] > 0
    assert lo["latency_ms"]["p50"] <= lo["latency_ms"]["p99"]
    assert results["ceilings"]["decode"]["records_per_s"] > 0
    assert results["ceilings"]["bulk_insert"]["records_per_s"] > 0
    assert {"vs_decode_only", "vs_bulk_insert", "vs_decode_plus_insert"} <= set(results["ratios"])
    written = json.loads(Path(results["path"]).read_text())
    assert written["dataset"]["records_total"] == results["dataset"]["records_total"]
    assert "records/s" in summary_text(results)
