"""A tiny run of the enrichment benchmark (bench/enrich.py), so it keeps working. No timing
assertions: the figures are the benchmark's to report."""

from __future__ import annotations

import json
from pathlib import Path

from bench.enrich import issue_shape, main, run
from enrich.derive import derive


def test_enrich_benchmark_smoke(tmp_path: Path) -> None:
    results = run([100, 400], ["issue", "hot", "fleet"], e2e_records=400, e2e_sessions=2, e2e_batch=100,
                  modes=["every-batch", "loop"], results_dir=tmp_path)
    derived = {(r["shape"], r["events"] >= 400) for r in results["derive"]}
    assert {("issue", False), ("issue", True), ("hot", True), ("fleet", True)} <= derived
    assert all(r["us_per_event"] > 0 and r["ratio_to_first"] > 0 for r in results["derive"])
    for e2e in results["e2e"]:
        assert e2e["records"] == 400 and e2e["enrich_us_per_record"] > 0
        # every record ended up in a derived session (the final pass flushes the debounced ones)
        assert e2e["derived_sessions"] == 2 and e2e["derived_events"] == 400, e2e
    written = json.loads(Path(results["path"]).read_text())
    assert [r["mode"] for r in written["e2e"]] == ["every-batch", "loop"]
    assert "load_start" in written


def test_issue_shape_is_one_fragment_per_event() -> None:
    """The report's shape: sequence 0, 5, 10, ... never continues, so every event starts a
    segment (what made the old fragment loops quadratic)."""
    events = issue_shape(300)
    derived = derive(events, events[-1].timestamp)
    assert len(derived.sessions) == 1 and len(derived.segments) == 300


def test_quick_cli(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["--quick", "--shapes", "issue", "--e2e-modes", "loop", "--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "µs/event" in out and "µs CPU/record" in out and "load" in out
