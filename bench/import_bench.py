"""``loomline import`` throughput and memory on a generated transcript history.

    .venv/bin/python -m bench.import_bench [--size-mb 50] [--store]

Generates a ``~/.claude/projects``-shaped folder of ``--size-mb`` megabytes from the real
transcripts in tests/captures (each copy gets its own session id; a quarter of the size is
one long session, the copies' timestamps shifted so it reads as one growing transcript),
then, each in a fresh child process so peak memory is its own:

* baseline: the same files read line by line (importer/files.py) and ``json.loads`` of
  every line: what any reader of these files pays;
* import: ``loomline import --dry-run`` (the reader and the record mapping, no sink); with
  ``--store`` also an import into a fresh chDB database (receiver decode, storage,
  enrichment);
* the import again over a quarter of the history: peak memory should not grow with size.

Prints transcript lines per second, peak RSS, the ratios to the baseline and the machine's
load average (os.getloadavg), and writes bench/results/import-<time>.json. The issue's
target history is 1 GB (``--size-mb 1024``); on a shared machine run it smaller.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.common import REPO_ROOT, cpu_model, git_commit

RESULTS = Path(__file__).parent / "results"
CAPTURES = REPO_ROOT / "tests" / "captures"
_TIMESTAMP = re.compile(rb'"timestamp":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"')


def templates(dense: bool = False) -> list[tuple[str, bytes]]:
    """The captures' main transcripts; ``dense``: only the lines that become records
    (prompts, assistant turns, tool results, compactions, cost states), the worst case for
    the importer (real histories sit between the two)."""
    found = []
    for path in sorted(CAPTURES.glob("claude-code-*/*/transcripts/*.jsonl")):
        if not path.name.startswith("agent-"):
            data = path.read_bytes()
            if dense:
                keep = [line for line in data.splitlines(keepends=True)
                        if any(f'"type":"{kind}"'.encode() in line for kind in ("user", "assistant", "system", "cost-state"))
                        and b',"attachment":{' not in line[:300]]
                data = b"".join(keep)
            found.append((path.stem, data))
    return found


def _shift(data: bytes, seconds: int) -> bytes:
    from datetime import datetime, timedelta

    def replace(match: re.Match[bytes]) -> bytes:
        when = datetime.fromisoformat(match.group(1).decode().replace("Z", "+00:00")) + timedelta(seconds=seconds)
        return b'"timestamp":"' + when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3].encode() + b'Z"'

    return _TIMESTAMP.sub(replace, data)


def generate(root: Path, size_bytes: int, dense: bool = False) -> dict[str, int]:
    """Write the history; returns its file, line and byte counts."""
    sources = templates(dense)
    written = files = lines = 0
    big_target = size_bytes // 4
    big_id = str(uuid.uuid4())
    (root / "project-long").mkdir(parents=True)
    with open(root / "project-long" / f"{big_id}.jsonl", "wb") as big:
        copy = 0
        while written < big_target:
            session, data = sources[copy % len(sources)]
            chunk = _shift(data.replace(session.encode(), big_id.encode()), copy * 3600)
            big.write(chunk)
            written += len(chunk)
            lines += chunk.count(b"\n")
            copy += 1
    files += 1
    index = 0
    while written < size_bytes:
        session, data = sources[index % len(sources)]
        new_id = str(uuid.uuid4())
        folder = root / f"project-{index % 50:02d}"
        folder.mkdir(exist_ok=True)
        chunk = data.replace(session.encode(), new_id.encode())
        (folder / f"{new_id}.jsonl").write_bytes(chunk)
        written += len(chunk)
        lines += chunk.count(b"\n")
        files += 1
        index += 1
    return {"files": files, "lines": lines, "bytes": written}


def child(mode: str, root: str, dsn: str) -> None:
    """One measurement, in its own process: prints a JSON line."""
    started = time.perf_counter()
    cpu0 = time.process_time()
    lines = records = 0
    if mode == "baseline":
        from importer.files import discover, read_lines

        for transcript in discover([root]):
            for line in read_lines(transcript.path, 0):
                lines += 1
                try:
                    json.loads(line.data.decode("utf-8", "replace"))
                except ValueError:
                    pass
    else:
        from importer.run import Importer, Options

        sink = None
        if mode == "store":
            from importer.sinks import StorageSink

            sink = StorageSink(dsn, "bench_import")
        importer = Importer(sink, Options(paths=[root], dry_run=sink is None), progress_stream=open(os.devnull, "w"))
        importer.run_pass()
        if sink is not None:
            sink.close()
        lines, records = importer.summary.lines, importer.summary.records
    seconds = time.perf_counter() - started
    print(json.dumps({
        "mode": mode, "lines": lines, "records": records, "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu0,
        "lines_per_second": lines / seconds if seconds else 0.0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def measure(mode: str, root: Path, dsn: str = "") -> dict[str, float]:
    out = subprocess.run([sys.executable, "-m", "bench.import_bench", "--child", mode, str(root), dsn],
                         cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mb", "--size", type=float, default=50.0, help="history size in MB (issue: 1024)")
    parser.add_argument("--store", action="store_true", help="also import into a fresh chDB database")
    parser.add_argument("--dense", action="store_true",
                        help="only transcript lines that become records (the importer's worst case)")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "ROOT", "DSN"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="loomline-import-bench-") as tmp:
        full, quarter = Path(tmp) / "full", Path(tmp) / "quarter"
        started = time.perf_counter()
        history = generate(full, int(args.size_mb * 1e6), args.dense)
        generate(quarter, int(args.size_mb * 1e6 / 4), args.dense)
        print(f"generated {history['bytes'] / 1e6:.0f} MB: {history['files']} files, {history['lines']} lines "
              f"in {time.perf_counter() - started:.1f} s")
        results = {"baseline": measure("baseline", full), "import": measure("import", full),
                   "import_quarter": measure("import", quarter)}
        if args.store:
            results["store"] = measure("store", full, f"chdb://{Path(tmp) / 'chdb'}")
    load_after = os.getloadavg()
    base, imp, small = results["baseline"], results["import"], results["import_quarter"]
    summary = {
        "import_vs_baseline_speed": imp["lines_per_second"] / base["lines_per_second"],
        "peak_rss_full_vs_quarter": imp["peak_rss_mb"] / small["peak_rss_mb"],
    }
    for name, r in results.items():
        print(f"{name:15s} {r['lines']:>9} lines  {r['lines_per_second']:>10,.0f} lines/s  "
              f"{history['bytes'] / 1e6 / r['seconds'] * (1 if name != 'import_quarter' else 0.25):7.0f} MB/s  "
              f"{r['records']:>8} records  peak RSS {r['peak_rss_mb']:7.1f} MB  ({r['seconds']:.1f} s)")
    print(f"import speed / baseline (read + json.loads): {summary['import_vs_baseline_speed']:.2f}")
    print(f"peak RSS, full history / a quarter of it: {summary['peak_rss_full_vs_quarter']:.2f} (flat = 1.0)")
    print(f"load average before {load_before[0]:.2f} / after {load_after[0]:.2f} "
          f"({os.cpu_count()} cores, {cpu_model()})")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"import-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    out.write_text(json.dumps({
        "commit": git_commit(), "cpu": cpu_model(), "cores": os.cpu_count(), "size_mb": args.size_mb,
        "dense": args.dense,
        "history": history, "results": results, "summary": summary,
        "load_average_before": load_before, "load_average_after": load_after,
    }, indent=2))
    print(f"wrote {out.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
