"""A tiny run of the ingest benchmark (bench/ingest.py), so it keeps working."""

from __future__ import annotations

import json
from pathlib import Path

from bench.ingest import latency_summary_text, run_benchmark, run_latency_benchmark, summary_text


def test_ingest_benchmark_smoke(tmp_path: Path) -> None:
    results = run_benchmark(sessions=4, users=3, orgs=2, days=2, concurrency=2, results_dir=tmp_path, label="smoke")
    lo = results["loomline"]
    assert lo["errors"] == 0, lo["error_samples"]
    assert lo["stored_rows_verified"], (lo["stored_rows"], results["dataset"]["records"])
    assert lo["records_per_s"] > 0 and lo["server_cpu_seconds"] > 0 and lo["server_rss_mib"]["peak"] > 0
    assert lo["latency_ms"]["p50"] <= lo["latency_ms"]["p99"]
    # per-thread CPU is sampled every 0.5 s and kinds under 0.05 s are left out, so a run this
    # small may report none; what it reports never exceeds the server's own CPU
    by_thread = lo["server_cpu_seconds_by_thread"]
    assert all(v > 0 for v in by_thread.values())
    assert sum(by_thread.values()) <= lo["server_cpu_seconds"] + 0.05 * (len(by_thread) + 1)
    assert results["ceilings"]["decode"]["records_per_s"] > 0
    assert results["ceilings"]["bulk_insert"]["records_per_s"] > 0
    assert {"vs_decode_only", "vs_bulk_insert", "vs_decode_plus_insert"} <= set(results["ratios"])
    written = json.loads(Path(results["path"]).read_text())
    assert written["dataset"]["records_total"] == results["dataset"]["records_total"]
    assert "records/s" in summary_text(results)
    assert lo["active_parts"].get("otel_logs", 0) >= 1 and "active parts" in summary_text(results)
    assert len(results["load_average"]["before"]) == 3 and len(results["load_average"]["end"]) == 3


def test_latency_benchmark_smoke(tmp_path: Path) -> None:
    """--latency: the maximum rate, then a few seconds of the open-loop paced client."""
    results = run_latency_benchmark(sessions=3, users=2, orgs=1, days=1, concurrency=2, results_dir=tmp_path,
                                    paced_seconds=2.0, senders=4, settle_seconds=0.0)
    paced = results["paced"]
    assert results["max_rate"]["errors"] == 0 and paced["errors"] == 0, paced["error_samples"]
    assert results["stored_rows_verified"], results["stored_rows"]
    assert paced["requests"] >= 1 and paced["achieved_records_per_s"] > 0
    assert paced["latency_ms"]["p50"] <= paced["latency_ms"]["p99"] <= paced["latency_ms"]["max"]
    assert set(results["load_average"]) == {"before", "max_rate_end", "paced_start", "paced_end"}
    assert json.loads(Path(results["path"]).read_text())["benchmark"] == "ingest-latency"
    assert "p99" in latency_summary_text(results)


def test_ingest_benchmark_smoke_http_sustained(tmp_path: Path) -> None:
    """OTLP/HTTP, the fleet repeated as new sessions for a few seconds, enrichment on."""
    results = run_benchmark(sessions=3, users=2, orgs=1, days=1, concurrency=4, results_dir=tmp_path,
                            label="smoke-http", transport="http", duration=3.0, enrich=True)
    lo = results["loomline"]
    assert lo["errors"] == 0, lo["error_samples"]
    assert results["params"]["transport"] == "http"
    # repeated cycles: more records acknowledged than one pass of the fleet, all stored once
    assert sum(lo["records_acknowledged"].values()) > results["dataset"]["records_total"]
    assert lo["stored_rows_verified"], (lo["stored_rows"], lo["records_acknowledged"])
    assert lo["server_rss_mib"]["peak_per_minute"]
    assert "OTLP/http" in summary_text(results)


def test_new_cycle_renames_every_uuid_and_keeps_the_encoding_valid() -> None:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    from bench.ingest import new_cycle

    request = ExportLogsServiceRequest()
    record = request.resource_logs.add().scope_logs.add().log_records.add()
    sid = "91b12241-8e79-40ec-9cd3-8c6a58fb7d90"
    for key, value in (("session.id", sid), ("prompt.id", "0a0b0c0d-8e79-40ec-9cd3-8c6a58fb7d90"), ("x", "plain")):
        attribute = record.attributes.add()
        attribute.key, attribute.value.string_value = key, value
    renamed = ExportLogsServiceRequest.FromString(new_cycle(request.SerializeToString(), 7))
    values = {kv.key: kv.value.string_value for kv in renamed.resource_logs[0].scope_logs[0].log_records[0].attributes}
    assert values == {"session.id": "0007" + sid[4:], "prompt.id": "0007" + "0a0b0c0d-8e79-40ec-9cd3-8c6a58fb7d90"[4:],
                      "x": "plain"}


def test_decode_benchmark_smoke(tmp_path: Path) -> None:
    """bench/decode.py: both decoders side by side, and loomline serve with each."""
    import pytest

    from bench import decode
    from receiver import decode_logs_fast

    if not decode_logs_fast.available():
        pytest.skip("receiver._logswire is not built")
    results = decode.run_benchmark(sessions=3, users=2, orgs=1, days=1, concurrency=2, rounds=1, results_dir=tmp_path)
    assert {"upb_parse", "python_decoder", "compiled_decoder", "compiled_wire_scan"} <= set(results["per_record"])
    assert [run["decoder"] for run in results["end_to_end"]] == [*decode.MODES, *decode.MODES]
    assert all(run["stored_rows_verified"] and not run["errors"] for run in results["end_to_end"])
    native = [run for run in results["end_to_end"] if run["decoder"] == "compiled+native"]
    assert all(run["engine_on_python_threads_cpu_us_per_record"] > 0 for run in native)  # the counter moves
    assert all(run["receiver_side_cpu_us_per_record"] < run["python_threads_cpu_us_per_record"] for run in native)
    assert len(results["load_average_before"]) == 3
    assert "compiled decoder" in decode.summary_text(results)
    assert json.loads(Path(results["path"]).read_text())["benchmark"] == "decode"


def test_insert_cost_benchmark_smoke() -> None:
    """bench/insert_cost.py on a few requests: every table and size measured, a fit made."""
    from bench.insert_cost import TABLES, run_benchmark

    results = run_benchmark(sessions=6, requests=4, per=[1, 4])
    assert {(r["table"], r["requests_per_insert"]) for r in results["runs"]} == {(t, n) for t in TABLES for n in (1, 4)}
    for run in results["runs"]:
        assert run["rows"] > 0 and run["cpu_ms_per_insert"] > 0
    assert set(results["fixed"]) <= set(TABLES)


def test_parts_read_benchmark_smoke(tmp_path: Path) -> None:
    """bench/parts_read.py on a few rows (its own process: chDB runs one engine per process,
    and this one has the tests'): each database holds the parts asked for, every query timed."""
    import subprocess
    import sys

    from bench.parts_read import QUERIES

    subprocess.run([sys.executable, "-m", "bench.parts_read", "--rows", "4000", "--parts", "1,3", "--calls", "2",
                    "--results-dir", str(tmp_path)], check=True, capture_output=True, timeout=600,
                   cwd=Path(__file__).resolve().parent.parent)
    (written,) = tmp_path.glob("parts-read-*.json")
    results = json.loads(written.read_text())
    assert results["active_parts"] == {"1": {"events": 2, "otel_logs": 30}, "3": {"events": 6, "otel_logs": 90}}
    assert set(results["queries"]) == set(QUERIES)
    for figures in results["queries"].values():
        assert set(figures["median_ms"]) == {"1", "3"} and all(v > 0 for v in figures["median_ms"].values())
        assert figures["ratio"]["1"] == 1.0
