"""Load-independent figures for the derivation: instructions and simulated cache misses per
event, counted by valgrind's callgrind (issue 16 item 3: time per event flat from 1k to
100k events).

CPU time on a shared machine moves with the neighbours' load (and their use of the shared
caches); callgrind's counts do not. For each shape and size (the shapes of bench/enrich.py)
the events are built here, pickled, and one child process derives them once untimed
(genai-prices' first pricing) and once under callgrind, collection switched on only inside
that derivation (``--toggle-collect`` on the C function ``functools.reduce`` runs it
through). Reported per event: instructions (Ir), first-level and last-level cache misses,
and callgrind's cycle estimate ``Ir + 10 x L1 misses + 100 x LL misses``, each with its
ratio to the smallest size of the shape (flat = 1.0). The cache is the host's, as valgrind
detects it.

    python -m bench.enrich_instructions                       # 1k, 10k, 100k; issue, hot, fleet
    python -m bench.enrich_instructions --sizes 1000,10000 --shapes hot
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, cpu_model, git_commit
from bench.enrich import SHAPES, load

EVENTS = ("Ir", "Dr", "Dw", "I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw")


def child(path: str) -> None:
    """Derive the pickled events once untimed, then once inside functools.reduce (the
    function callgrind collects in)."""
    from enrich.derive import derive

    events = pickle.loads(Path(path).read_bytes())
    now = max(e.timestamp for e in events) + 60_000_000
    derive(events, now)
    functools.reduce(lambda _acc, _item: derive(events, now), [0], None)


def counts(shape: str, n: int, workdir: Path) -> dict[str, Any]:
    events = SHAPES[shape](n)
    pickled = workdir / f"{shape}-{n}.pickle"
    pickled.write_bytes(pickle.dumps(events))
    out = workdir / f"{shape}-{n}.callgrind"
    subprocess.run(
        ["valgrind", "--tool=callgrind", "--cache-sim=yes", "--collect-atstart=no", "--toggle-collect=functools_reduce",
         f"--callgrind-out-file={out}", sys.executable, "-m", "bench.enrich_instructions", "--child", str(pickled)],
        cwd=REPO_ROOT, check=True, capture_output=True,
    )
    totals = next(line.split()[1:] for line in out.read_text().splitlines() if line.startswith("totals:"))
    values = dict(zip(EVENTS, map(int, totals), strict=True))
    l1 = values["I1mr"] + values["D1mr"] + values["D1mw"]
    ll = values["ILmr"] + values["DLmr"] + values["DLmw"]
    return {"shape": shape, "events": len(events), **values,
            "ir_per_event": values["Ir"] / len(events), "l1_misses_per_event": l1 / len(events),
            "ll_misses_per_event": ll / len(events),
            "est_cycles_per_event": (values["Ir"] + 10 * l1 + 100 * ll) / len(events)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--shapes", default="issue,hot,fleet")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--results-dir", type=Path, default=REPO_ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    if not shutil.which("valgrind"):
        print("valgrind is not installed", file=sys.stderr)
        return 1
    print(f"loomline derivation instruction counts (callgrind): {cpu_model()}, load {load()}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="loomline-callgrind-") as tmp:
        for shape in args.shapes.split(","):
            base: dict[str, Any] | None = None
            for n in (int(s) for s in args.sizes.split(",")):
                row = counts(shape, n, Path(tmp))
                base = base or row
                for key in ("ir_per_event", "l1_misses_per_event", "ll_misses_per_event", "est_cycles_per_event"):
                    row[f"{key}_ratio"] = round(row[key] / base[key], 2) if base[key] else None
                    row[key] = round(row[key], 1)
                row["load"] = load()
                rows.append(row)
                print(f"callgrind {shape:5} {row['events']:>7} events  {row['ir_per_event']:>9,.0f} Ir/event"
                      f" x{row['ir_per_event_ratio']:<5} L1 miss {row['l1_misses_per_event']:7.1f}"
                      f" LL miss {row['ll_misses_per_event']:6.2f}  est. cycles {row['est_cycles_per_event']:>9,.0f}"
                      f" x{row['est_cycles_per_event_ratio']:<5} load {row['load']}", flush=True)
    result = {"commit": git_commit(), "cpu": cpu_model(), "cpus": os.cpu_count(), "tool": "valgrind callgrind --cache-sim=yes",
              "derive": rows}
    args.results_dir.mkdir(parents=True, exist_ok=True)
    path = args.results_dir / f"enrich-instructions-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
