"""What every benchmark's results file records the same way: the commit, the machine,
and percentiles."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                              text=True, check=False).stdout.strip()
    except OSError:
        return ""


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages: the machine is shared, so every figure records
    how busy it was (the bench's own processes included)."""
    return [round(x, 2) for x in os.getloadavg()]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def write_results(results_dir: Path, label: str, results: dict[str, Any]) -> Path:
    """Write ``results`` to ``results_dir/<label>-<UTC time>.json``; returns the path."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{label}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return path


def active_parts(storage: Any) -> dict[str, int]:
    """Active parts per table of ``storage``'s database (what merges have left for reads)."""
    return {table: int(n) for table, n in storage.query_rows(
        "SELECT table, count() FROM system.parts WHERE database = {db:String} AND active GROUP BY table ORDER BY table",
        {"db": storage.database})}
