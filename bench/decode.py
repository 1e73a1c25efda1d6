"""Decoder benchmark: the compiled logs decoder (receiver._logswire) beside the pure-Python one,
in one run, on the same pre-encoded Claude Code log requests (loomline.fleet), with the
machine's load average printed before and after.

1. **per record, one process, no network**: upb parse alone (``ParseFromString``); the
   Python decoder (upb parse + size check + decode_logs + dedup token); the compiled decoder
   (the same, from the bytes); its wire scan alone (the part run without the GIL). CPU time
   per record (``time.process_time``; wall time is printed too), median of interleaved rounds.
2. **GIL**: the same requests decoded by 1 thread and by 2 threads at once: records/s of the
   pair over one thread (1.0: no overlap; 2.0: perfect; bounded by free cores); and how often
   another Python thread runs while one large request is scanned vs parsed by upb.
3. **end to end**: ``loomline serve`` (embedded chDB) taking the same requests over OTLP/gRPC
   in three modes (``MODES``: the Python decoder; the compiled decoder with the column insert;
   the compiled decoder with otel_logs as its Native block), each twice, interleaved: the
   server's CPU per record, all threads and its Python threads alone, with stored rows checked.

    python -m bench.decode --sessions 300          # or: make bench-decode
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import cpu_model, git_commit, load_average, write_results
from bench.ingest import RESULTS_DIR, Server, _cpu_by_kind, _load, _run_role, build_data


def _logs_only(data: Path) -> tuple[list[bytes], int]:
    requests = [(s, body, n) for s, body, n in _load(data) if s == "logs"]
    import pickle

    with open(data, "wb") as handle:  # the end-to-end runs send logs only too
        pickle.dump(requests, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return [body for _, body, _ in requests], sum(n for _, _, n in requests)


def micro(bodies: list[bytes], records: int, rounds: int) -> dict[str, Any]:
    """Per-record CPU and wall microseconds of each way to decode, interleaved rounds."""
    from receiver import decode_logs_fast
    from receiver.attributes import Limits
    from receiver.batch import DecodeContext
    from receiver.decode import (
        RequestLimits,
        check_request_size,
        decode_protobuf,
        decode_request,
        parse_protobuf,
    )

    limits, request_limits = Limits(), RequestLimits()

    def upb_parse() -> None:
        for body in bodies:
            parse_protobuf("logs", body)

    def python_decoder() -> None:
        for body in bodies:
            request = parse_protobuf("logs", body)
            check_request_size("logs", request, request_limits)
            decode_request("logs", request, limits, DecodeContext(), body=body)

    def compiled_decoder() -> None:
        for body in bodies:
            decoded = decode_protobuf("logs", body, limits, DecodeContext(), request_limits)
            assert not isinstance(decoded, str)

    def wire_scan() -> None:
        for body in bodies:
            assert decode_logs_fast.scan(body)[0] == 0

    ways: dict[str, Callable[[], None]] = {"upb_parse": upb_parse, "python_decoder": python_decoder,
                                            "compiled_decoder": compiled_decoder, "compiled_wire_scan": wire_scan}
    cpu: dict[str, list[float]] = {name: [] for name in ways}
    wall: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, run in ways.items():
            c0, w0 = time.process_time(), time.perf_counter()
            run()
            cpu[name].append((time.process_time() - c0) / records * 1e6)
            wall[name].append((time.perf_counter() - w0) / records * 1e6)
    out: dict[str, Any] = {name: {"cpu_us_per_record": round(statistics.median(cpu[name]), 3),
                  "wall_us_per_record": round(statistics.median(wall[name]), 3)} for name in ways}
    out["speedup_cpu"] = round(out["python_decoder"]["cpu_us_per_record"] / out["compiled_decoder"]["cpu_us_per_record"], 2)
    # A one-record request (the hook bridge's shape): the per-request overheads of each way.
    single = parse_protobuf("logs", bodies[0])
    resource_logs = single.resource_logs[0]
    del resource_logs.scope_logs[1:]
    del resource_logs.scope_logs[0].log_records[1:]
    del single.resource_logs[1:]
    one = single.SerializeToString()
    per_request: dict[str, list[float]] = {"python_decoder": [], "compiled_decoder": []}
    for _ in range(rounds):
        for name, run in (("python_decoder", python_decoder), ("compiled_decoder", compiled_decoder)):
            saved = bodies[:]
            bodies[:] = [one] * 2000
            c0 = time.process_time()
            run()
            per_request[name].append((time.process_time() - c0) / 2000 * 1e6)
            bodies[:] = saved
    out["one_record_request_cpu_us"] = {name: round(statistics.median(v), 2) for name, v in per_request.items()}
    return out


def gil(bodies: list[bytes], records: int) -> dict[str, Any]:
    """Records/s of two threads decoding at once over one thread alone, per way."""
    from receiver import decode_logs_fast
    from receiver.attributes import Limits
    from receiver.batch import DecodeContext
    from receiver.decode import (
        RequestLimits,
        check_request_size,
        decode_protobuf,
        decode_request,
        parse_protobuf,
    )

    def python_decoder() -> None:
        for body in bodies:
            request = parse_protobuf("logs", body)
            check_request_size("logs", request, RequestLimits())
            decode_request("logs", request, Limits(), DecodeContext(), body=body)

    def compiled_decoder() -> None:
        for body in bodies:
            decode_protobuf("logs", body, Limits(), DecodeContext(), RequestLimits())

    def wire_scan() -> None:
        for body in bodies:
            decode_logs_fast.scan(body)

    out: dict[str, Any] = {}
    for name, run in {"python_decoder": python_decoder, "compiled_decoder": compiled_decoder,
                      "compiled_wire_scan": wire_scan}.items():
        started = time.perf_counter()
        run()
        one = records / (time.perf_counter() - started)
        threads = [threading.Thread(target=run) for _ in range(2)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        two = 2 * records / (time.perf_counter() - started)
        out[name] = {"one_thread_records_per_s": round(one), "two_threads_records_per_s": round(two),
                     "two_over_one": round(two / one, 2)}
    out["main_thread_wakeups_per_call"] = wakeups(bodies)
    return out


def wakeups(bodies: list[bytes], calls: int = 10) -> dict[str, float]:
    """How often another Python thread (sleeping 0.5 ms at a time) gets to run while one
    thread decodes one large request (every fleet request in one body), per call: a call
    that holds the GIL throughout lets it run about once, between calls."""
    from receiver import decode_logs_fast
    from receiver.decode import parse_protobuf

    big = b"".join(bodies)  # concatenated requests are one valid request
    out = {}
    for name, work in {"upb_parse": lambda: parse_protobuf("logs", big),
                       "compiled_wire_scan": lambda: decode_logs_fast.scan(big)}.items():
        done = threading.Event()

        def run(work: Callable[[], object] = work, done: threading.Event = done) -> None:
            for _ in range(calls):
                work()
            done.set()

        thread = threading.Thread(target=run)
        count = 0
        thread.start()
        while not done.is_set():
            time.sleep(0.0005)
            count += 1
        thread.join()
        out[name] = round(count / calls, 1)
    return out


ENGINE_CPU = "loomline_storage_engine_insert_cpu_seconds_total"

MODES = {
    # name: (environment, what it is)
    "python": ({"LOOMLINE_PURE_PYTHON_DECODER": "1"}, "pure-Python decoder, clickhouse-connect column insert"),
    "compiled": ({"LOOMLINE_PURE_PYTHON_DECODER": "0", "LOOMLINE_NATIVE_BLOCKS": "0"},
                 "compiled decoder, clickhouse-connect column insert"),
    "compiled+native": ({"LOOMLINE_PURE_PYTHON_DECODER": "0", "LOOMLINE_NATIVE_BLOCKS": "1"},
                        "compiled decoder, otel_logs and events as the extension's Native blocks"),
}


def end_to_end(data: Path, records: int, concurrency: int, name: str, tmp: Path) -> dict[str, Any]:
    """``loomline serve`` taking the logs over gRPC: server CPU per record in one mode."""
    env = MODES[name][0]
    tmp.mkdir(parents=True, exist_ok=True)
    server = Server(tmp / f"serve-{name}", tmp / f"serve-{name}.log", env=env, api=True)
    try:
        cpu0, threads0, engine0 = server.cpu_seconds(), server.thread_cpu(), server.metric(ENGINE_CPU)
        client = _run_role(["client", str(data), server.endpoint, str(concurrency), "grpc", "0"], timeout=3600)
        cpu1, threads1, engine1 = server.cpu_seconds(), server.thread_cpu(), server.metric(ENGINE_CPU)
    finally:
        server.stop()
    stored = _run_role(["count", str(server.data_dir)], timeout=300)
    by_kind = _cpu_by_kind(threads0, threads1, cpu1 - cpu0)
    acked = client["acked"]["logs"]
    server_cpu = cpu1 - cpu0
    return {
        "decoder": name,
        "mode": MODES[name][1],
        "records_acknowledged": acked,
        "stored_rows_verified": stored.get("otel_logs") == acked == records,
        "errors": client["error_count"],
        "seconds": round(client["seconds"], 3),
        "records_per_s": round(acked / client["seconds"]),
        "server_cpu_seconds": round(server_cpu, 3),
        "server_cpu_us_per_record": round(server_cpu / acked * 1e6, 2) if acked else None,
        "python_threads_cpu_us_per_record": round(by_kind.get("python", 0.0) / acked * 1e6, 2) if acked else None,
        # The Python threads less the embedded engine's work run on them (Native inserts):
        # the receiver's own CPU, as with ClickHouse on a server of its own.
        "engine_on_python_threads_cpu_us_per_record": round((engine1 - engine0) / acked * 1e6, 2) if acked else None,
        "receiver_side_cpu_us_per_record": (round((by_kind.get("python", 0.0) - (engine1 - engine0)) / acked * 1e6, 2)
                                            if acked else None),
        "server_cpu_seconds_by_thread": by_kind,
    }


def run_benchmark(sessions: int = 300, users: int = 50, orgs: int = 5, days: int = 7, seed: int = 1,
                  batch_size: int = 512, concurrency: int = 8, rounds: int = 5, e2e: bool = True,
                  results_dir: Path | None = RESULTS_DIR) -> dict[str, Any]:
    from receiver import decode_logs_fast

    if not decode_logs_fast.available():
        raise SystemExit("the compiled decoder is not built (or LOOMLINE_PURE_PYTHON_DECODER is set): nothing to compare")
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="loomline-bench-decode-") as tmp:
        tmp_path = Path(tmp)
        data = tmp_path / "requests.pickle"
        dataset = build_data(data, seed, orgs, users, sessions, days, batch_size)
        bodies, records = _logs_only(data)
        results: dict[str, Any] = {
            "benchmark": "decode",
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "git_commit": git_commit(),
            "machine": {"cpus": os.cpu_count(), "cpu_model": cpu_model(), "python": platform.python_version(),
                        "platform": platform.platform()},
            "params": {"sessions": sessions, "users": users, "orgs": orgs, "days": days, "seed": seed,
                       "batch_size": batch_size, "concurrency": concurrency, "rounds": rounds},
            "dataset": {"log_requests": len(bodies), "log_records": records,
                        "bytes_per_record": round(sum(map(len, bodies)) / records, 1),
                        "generate_seconds": dataset["generate_seconds"]},
            "load_average_before": load_before,
        }
        results["per_record"] = micro(bodies, records, rounds)
        results["gil"] = gil(bodies, records)
        if e2e:
            # interleaved, twice over: the load drifts during a run
            runs = [end_to_end(data, records, concurrency, name, tmp_path / f"{i}")
                    for i, name in enumerate([*MODES, *MODES])]
            results["end_to_end"] = runs
    results["load_average_after"] = load_average()
    if results_dir is not None:
        results["path"] = str(write_results(results_dir, "decode", results))
    return results


def summary_text(r: dict[str, Any]) -> str:
    p = r["per_record"]
    lines = [
        f"{r['dataset']['log_records']:,} Claude Code log records in {r['dataset']['log_requests']} requests "
        f"({r['dataset']['bytes_per_record']} bytes/record); load average before {r['load_average_before']}, "
        f"after {r['load_average_after']} ({r['machine']['cpus']} CPUs)",
        "per record (CPU us, median of interleaved rounds; wall in brackets):",
        *(f"  {name:20} {p[name]['cpu_us_per_record']:8.2f}  [{p[name]['wall_us_per_record']:.2f}]"
          for name in ("upb_parse", "python_decoder", "compiled_decoder", "compiled_wire_scan")),
        f"  compiled decoder: x{p['speedup_cpu']} less CPU than the Python decoder",
        f"  a one-record request: Python {p['one_record_request_cpu_us']['python_decoder']} us, "
        f"compiled {p['one_record_request_cpu_us']['compiled_decoder']} us (CPU per request)",
        "two threads at once over one thread (records/s): "
        + ", ".join(f"{name} {g['two_over_one']}" for name, g in r["gil"].items() if "two_over_one" in g),
        "another thread's wake-ups per call on one large request (GIL held throughout: ~1): "
        + ", ".join(f"{name} {n}" for name, n in r["gil"]["main_thread_wakeups_per_call"].items()),
    ]
    for run in r.get("end_to_end", []):
        lines.append(
            f"loomline serve, {run['decoder']:15}: {run['records_per_s']:,} records/s, server CPU "
            f"{run['server_cpu_us_per_record']} us/record (Python threads {run['python_threads_cpu_us_per_record']}, "
            f"of which ClickHouse inserts {run['engine_on_python_threads_cpu_us_per_record']}: receiver side "
            f"{run['receiver_side_cpu_us_per_record']}), "
            f"stored rows verified: {run['stored_rows_verified']}, errors {run['errors']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.decode", description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=300)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--orgs", type=int, default=5)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-e2e", action="store_true", help="skip the loomline serve runs")
    parser.add_argument("--results-dir", default=str(RESULTS_DIR), help="'' to write nothing")
    args = parser.parse_args(argv)
    results = run_benchmark(sessions=args.sessions, users=args.users, orgs=args.orgs, days=args.days, seed=args.seed,
                            batch_size=args.batch_size, concurrency=args.concurrency, rounds=args.rounds,
                            e2e=not args.no_e2e, results_dir=Path(args.results_dir) if args.results_dir else None)
    print(summary_text(results))
    if "path" in results:
        print(f"results: {results['path']}")
    ok = all(run["stored_rows_verified"] and not run["errors"] for run in results.get("end_to_end", []))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
