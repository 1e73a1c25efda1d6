"""Hook bridge latency: wall time of whole ``loomline hook`` processes, as Claude Code
sees them, against loomline's real receiver (up) and a closed port (down).

    .venv/bin/python -m bench.hook_latency [--runs 15]

Prints median / p95 / max per case and the machine's load average, and writes
bench/results/hook_latency-<time>.json. Claude Code's budget for SessionEnd is 1.5 s;
loomline aims for under 300 ms typical.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loomline.app import Loomline
from settings import Settings
from tests.serve_process import free_port

RESULTS = Path(__file__).parent / "results"
PAYLOAD = {
    "session_id": "bench-session", "transcript_path": "/nonexistent.jsonl", "cwd": "/tmp",
    "hook_event_name": "SessionStart", "source": "startup",
}


def run_case(endpoint: str, home: Path, runs: int, extra: tuple[str, ...] = ()) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LOOMLINE_"))}
    env["HOME"] = str(home)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "loomline", "hook", "--endpoint", endpoint, *extra],
            input=json.dumps(PAYLOAD).encode(), env=env, capture_output=True, timeout=30, check=False,
        )
        timings.append(time.perf_counter() - started)
    timings.sort()
    return {
        "median_ms": round(statistics.median(timings) * 1000, 1),
        "p95_ms": round(timings[min(len(timings) - 1, int(len(timings) * 0.95))] * 1000, 1),
        "max_ms": round(timings[-1] * 1000, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load({"clickhouse": f"chdb://{tmp}/data", "otlp_http": "off", "api": "off",
                                  "otlp_grpc": "127.0.0.1:0"}, environ={})
        app = Loomline(settings).start()
        try:
            up = f"http://127.0.0.1:{app.ports['otlp_grpc']}"
            down = f"http://127.0.0.1:{free_port()}"
            results = {
                "load_average_1m": os.getloadavg()[0],
                "cpus": os.cpu_count(),
                "receiver_up": run_case(up, Path(tmp) / "home-up", args.runs),
                "receiver_down_first_try": run_case(down, Path(tmp) / "home-down", args.runs, ("--retry-after", "0")),
                "receiver_down_backing_off": run_case(down, Path(tmp) / "home-down2", args.runs),
            }
        finally:
            app.stop()
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"hook_latency-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
