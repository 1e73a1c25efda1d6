"""A tiny run of the enrichment benchmark (bench/enrich.py), so it keeps working. No timing
assertions: the figures are the benchmark's to report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT
from bench.enrich import issue_shape
from enrich.derive import derive


def _bench(*args: str) -> tuple[str, dict[str, Any]]:
    """Run the benchmark as a user does, in a process of its own (chDB opens one data
    directory per process, and this test process may already hold the suite's)."""
    done = subprocess.run([sys.executable, "-m", "bench.enrich", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    path = next(line.split(": ", 1)[1] for line in done.stdout.splitlines() if line.startswith("results: "))
    return done.stdout, json.loads(Path(path).read_text())


def test_enrich_benchmark_smoke(tmp_path: Path) -> None:
    _, results = _bench("--sizes", "100,400", "--shapes", "issue,hot,fleet", "--e2e-records", "400",
                        "--e2e-sessions", "2", "--e2e-batch", "100", "--e2e-modes", "every-batch,loop",
                        "--results-dir", str(tmp_path))
    derived = {(r["shape"], r["events"] >= 400) for r in results["derive"]}
    assert {("issue", False), ("issue", True), ("hot", True), ("fleet", True)} <= derived
    assert all(r["us_per_event"] > 0 and r["ratio_to_first"] > 0 for r in results["derive"])
    for e2e in results["e2e"]:
        assert e2e["records"] == 400 and e2e["enrich_us_per_record"] > 0
        # every record ended up in a derived session (the final pass flushes the debounced ones)
        assert e2e["derived_sessions"] == 2 and e2e["derived_events"] == 400, e2e
    assert [r["mode"] for r in results["e2e"]] == ["every-batch", "loop"]
    assert "load_start" in results


def test_issue_shape_is_one_fragment_per_event() -> None:
    """The report's shape: sequence 0, 5, 10, ... never continues, so every event starts a
    segment (what made the old fragment loops quadratic)."""
    events = issue_shape(300)
    derived = derive(events, events[-1].timestamp)
    assert len(derived.sessions) == 1 and len(derived.segments) == 300


def test_quick_cli(tmp_path: Path) -> None:
    out, _ = _bench("--quick", "--shapes", "issue", "--e2e-modes", "loop", "--results-dir", str(tmp_path))
    assert "µs/event" in out and "µs CPU/record" in out and "load" in out


def test_fleet_pass(tmp_path: Path) -> None:
    out, results = _bench("--sizes", "100", "--shapes", "hot", "--rounds", "1", "--e2e-records", "0",
                          "--fleet-conversations", "10", "--results-dir", str(tmp_path))
    fleet = results["fleet_pass"]
    assert fleet["events"] > 0 and fleet["sessions"] >= 10 and fleet["us_per_event"] > 0
    # every session was read from storage and every derived table written once
    assert fleet["parts"]["enrich_load_events (+ building Events)"]["calls"] >= 1
    assert fleet["parts"]["insert llm_sessions"]["calls"] == 1
    assert "fleet pass: 10 conversations" in out


def test_fleet_loop(tmp_path: Path) -> None:
    out, results = _bench("--sizes", "100", "--shapes", "hot", "--rounds", "1", "--e2e-records", "0",
                          "--fleet-loop-conversations", "10", "--fleet-loop-rate", "100", "--results-dir", str(tmp_path))
    loop = results["fleet_loop"]
    assert loop["records"] > 0 and loop["passes"] >= 2 and loop["enrich_us_per_record"] > 0
    # every session derived by the end; only the Enricher's own calls are counted
    assert loop["derived_sessions"] >= 10
    assert "insert events" not in loop["parts"] and loop["parts"]["insert llm_sessions"]["calls"] >= 2
    assert "fleet loop: 10 conversations" in out


def test_query_scale(tmp_path: Path) -> None:
    out, results = _bench("--sizes", "100", "--shapes", "hot", "--rounds", "1", "--e2e-records", "0",
                          "--query-scale-conversations", "10", "--query-scale-copies", "1,2", "--results-dir", str(tmp_path))
    scale = results["query_scale"]
    assert [size["copies"] for size in scale["sizes"]] == [1, 2]
    assert scale["sizes"][1]["events"] > scale["sizes"][0]["events"] > 0
    assert all(ms > 0 for size in scale["sizes"] for ms in size["ms_per_call"].values())
    assert scale["related_sessions_without_prefilter_ms"] > 0 and "query scale:" in out
