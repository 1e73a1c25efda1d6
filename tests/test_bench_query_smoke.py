"""A tiny run of the query benchmark (bench/query.py), so it keeps working: a few copies of
a tiny fleet in the session's chDB (its own database), a few requests per endpoint."""

from __future__ import annotations

import json
from pathlib import Path

from bench.query import ENDPOINTS, TARGETS_MS, run_benchmark, summary_text
from storage.client import Storage, parse_dsn


def test_query_benchmark_smoke(chdb_dsn: str, database_name: str, tmp_path: Path) -> None:
    data_dir = parse_dsn(chdb_dsn).path
    try:
        results = run_benchmark(
            data_dir=data_dir,
            database=database_name,
            copies=2,
            conversations=6,
            orgs=2,
            users=3,
            days=2,
            requests=2,
            csv_requests=1,
            csv_rows=20,
            warmup=1,
            panel_runs=1,
            tcp_nodelay="on",
            results_dir=tmp_path,
            label="smoke",
            log=lambda line: None,
        )
    finally:
        handle = Storage(chdb_dsn, database_name)
        handle.command(f"DROP DATABASE IF EXISTS `{database_name}`")
        handle.close()

    dataset = results["dataset"]
    base = dataset["load"]["base"]["counts"]
    assert dataset["load"]["copies"] == 2 and not dataset["load"]["reused"]
    assert base["events"] > 0 and base["threads"] > 0
    for table in ("events", "llm_sessions", "threads", "session_segments", "cli_runs"):
        assert dataset["counts"][table] == 3 * base[table], table
    assert dataset["counts"]["orgs"] == base["orgs"]
    assert dataset["scaling_ok"], dataset["scaling_mismatches"]
    verify = dataset["copies_answer_like_original"]
    assert verify["ok"] and verify["threads_checked"] > 0, verify["problems"]

    assert set(results["api"]) == {"tcp_nodelay"}
    for figures in results["api"].values():
        endpoints = figures["endpoints"]
        assert set(ENDPOINTS) <= set(endpoints)
        for name, figure in endpoints.items():
            assert figure["errors"] == 0, (name, figure["error_samples"])
            assert figure["count"] >= 1 and figure["p50_ms"] <= figure["p95_ms"] <= figure["max_ms"]
        assert set(figures["targets"]) == set(TARGETS_MS)
    assert results["panels"] and all(p["count"] >= 1 for p in results["panels"].values())
    assert any(key.startswith("var:") for key in results["panels"])

    written = json.loads(Path(results["path"]).read_text())
    assert Path(results["path"]).name.startswith("smoke-")
    assert written["dataset"]["counts"] == dataset["counts"]
    text = summary_text(results)
    for name in ENDPOINTS:
        assert name in text
