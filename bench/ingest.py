"""Ingest benchmark: how fast does ``loomline serve`` (embedded chDB) take OTLP/gRPC?

One run, all on the same pre-encoded fleet (loomline.fleet):

1. **loomline**: ``loomline serve`` in a temp dir; a separate client process sends the
   requests over gRPC with N calls in flight. The receiver acknowledges a request only once
   it is stored, so the last acknowledgement is the moment everything is durable; the
   stored row counts are then checked in ClickHouse. Measured: records/s, export-call
   latency p50/p99, the server's CPU seconds (/proc/<pid>/stat) and peak RSS (VmHWM).
2. **decode ceiling**: the receiver's own decoding (protobuf parse + columnar decode) of the
   same requests, in one process, no network, no storage.
3. **insert ceiling**: the same decoded rows inserted straight into a fresh embedded store,
   in large blocks, as fast as the storage client allows.

loomline's rate is reported as a ratio to each ceiling. Results go to bench/results/.

    python -m bench.ingest --sessions 2000 --concurrency 8      # or: make bench
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import (
    active_parts,
    cpu_model,
    git_commit,
    load_average,
    percentile,
    write_results,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "bench" / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVICES = {
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
}
RAW_TABLES = {"logs": "otel_logs", "traces": "otel_traces", "metrics": "otel_metrics_sum"}


# ---------------------------------------------------------------------------------------
# the data


def _header(benchmark: str, label: str) -> dict[str, Any]:
    """The fields every results file of this module starts with."""
    return {"benchmark": benchmark, "label": label, "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "git_commit": git_commit(),
            "machine": {"cpus": os.cpu_count(), "cpu_model": cpu_model(), "python": platform.python_version(),
                        "platform": platform.platform()}}


def build_data(path: Path, seed: int, orgs: int, users: int, sessions: int, days: int, batch_size: int) -> dict[str, Any]:
    """Encode the fleet once and keep it on disk: [(signal, bytes, records)] + ground truth."""
    from loomline.fleet import Fleet, FleetSpec, record_count

    fleet = Fleet(FleetSpec(seed=seed, orgs=orgs, users=users, sessions=sessions, days=days, batch_size=batch_size))
    started = time.perf_counter()
    requests = [(signal, req.SerializeToString(), record_count(signal, req)) for signal, req in fleet.requests()]
    generate_seconds = time.perf_counter() - started
    with open(path, "wb") as handle:
        pickle.dump(requests, handle, protocol=pickle.HIGHEST_PROTOCOL)
    records = {s: sum(n for sig, _, n in requests if sig == s) for s in SERVICES}
    return {
        "requests": len(requests),
        "records": records,
        "records_total": sum(records.values()),
        "bytes": sum(len(b) for _, b, _ in requests),
        "generate_seconds": round(generate_seconds, 3),
        "fleet": fleet.ground_truth.summary(),
    }


def _load(path: Path) -> list[tuple[str, bytes, int]]:
    with open(path, "rb") as handle:
        return pickle.load(handle)  # noqa: S301 - our own file


# ---------------------------------------------------------------------------------------
# roles run in their own processes


_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def new_cycle(body: bytes, cycle: int) -> bytes:
    """The request with every UUID (session, prompt, account, tool use ids...) renamed for
    cycle k, in place and at equal length, so the encoding stays valid: cycle k's requests
    are new sessions with the same shape, which the receiver stores as new rows (identical
    rows would be dropped by insert deduplication, as they should be)."""
    prefix = b"%04x" % (cycle % 0x10000)
    return _UUID.sub(lambda m: prefix + m.group(0)[4:], body)


class _GrpcSender:
    def __init__(self, endpoint: str) -> None:
        import grpc

        self.grpc = grpc
        identity = lambda b: b  # noqa: E731 - raw bytes both ways
        self.channel = grpc.insecure_channel(endpoint, options=[("grpc.max_send_message_length", 64 * 1024 * 1024)])
        grpc.channel_ready_future(self.channel).result(timeout=30)
        self.calls = {s: self.channel.unary_unary(path, request_serializer=identity, response_deserializer=identity)
                      for s, path in SERVICES.items()}

    def send(self, signal_name: str, body: bytes) -> str | None:
        """None when stored; "retry" on backpressure; else an error text."""
        try:
            self.calls[signal_name](body, timeout=60)
            return None
        except self.grpc.RpcError as exc:
            if exc.code() in (self.grpc.StatusCode.UNAVAILABLE, self.grpc.StatusCode.RESOURCE_EXHAUSTED):
                return "retry"
            return f"{exc.code()}: {exc.details()}"

    def close(self) -> None:
        self.channel.close()


class _HttpSender:
    """OTLP/HTTP protobuf, one keep-alive connection per sending thread."""

    def __init__(self, endpoint: str) -> None:
        self.host, _, port = endpoint.rpartition(":")
        self.port = int(port)
        self.local = threading.local()

    def send(self, signal_name: str, body: bytes) -> str | None:
        import http.client

        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            conn.request("POST", f"/v1/{signal_name}", body=body, headers={"Content-Type": "application/x-protobuf"})
            response = conn.getresponse()
            text = response.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            self.local.conn = None
            return f"connection: {exc}"
        if response.status == 200:
            return None
        if response.status in (429, 502, 503, 504):
            return "retry"
        return f"HTTP {response.status}: {text[:200]!r}"

    def close(self) -> None:
        pass


def role_client(data: Path, endpoint: str, concurrency: int, transport: str = "grpc", duration: float = 0.0) -> dict[str, Any]:
    """Send every request (for ``duration`` seconds: again and again, each cycle made new
    with new_cycle); returns timings and the records acknowledged per signal. Runs in its
    own process, like a real exporter."""
    requests = _load(data)
    sender = _GrpcSender(endpoint) if transport == "grpc" else _HttpSender(endpoint)
    latencies: list[float] = []
    retries = 0
    errors: list[str] = []
    acked = dict.fromkeys(SERVICES, 0)
    lock = threading.Lock()

    def jobs():  # type: ignore[no-untyped-def]
        cycle = 0
        while True:
            for signal_name, body, records in requests:
                yield signal_name, new_cycle(body, cycle) if cycle else body, records
            cycle += 1
            if not duration or time.perf_counter() - started >= duration:
                return

    def worker() -> None:
        nonlocal retries
        mine: list[float] = []
        my_retries = 0
        while True:
            with lock:
                job = next(work, None)
            if job is None:
                break
            signal_name, body, records = job
            for attempt in range(50):
                t0 = time.perf_counter()
                outcome = sender.send(signal_name, body)
                if outcome is None:
                    mine.append(time.perf_counter() - t0)
                    with lock:
                        acked[signal_name] += records
                    break
                if outcome == "retry" and attempt < 49:
                    my_retries += 1
                    time.sleep(0.05 * min(attempt + 1, 10))
                    continue
                with lock:
                    errors.append(outcome)
                break
        with lock:
            latencies.extend(mine)
            retries += my_retries

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    cpu0 = time.process_time()
    started = time.perf_counter()
    work = jobs()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    sender.close()
    return {"seconds": seconds, "latencies": latencies, "retries": retries, "errors": errors[:10],
            "error_count": len(errors), "client_cpu_seconds": time.process_time() - cpu0, "acked": acked}


def role_paced(data: Path, endpoint: str, interval: float, seconds: float, first_cycle: int, workers: int,
               transport: str = "grpc") -> dict[str, Any]:
    """Open-loop client: request i is due at ``start + i * interval`` whatever happened to
    the requests before it, and its latency runs from that due time to its acknowledgement
    (a request that waits for a free sender, or is retried after backpressure, counts all
    of that), so a stalled server cannot hide behind a client that stopped sending
    (coordinated omission). Sends for ``seconds``; bodies are renamed as cycle
    ``first_cycle`` onwards before the clock starts, so they are new rows."""
    import queue as queue_module

    requests = _load(data)
    count = max(1, int(seconds / interval))
    jobs: list[tuple[str, bytes, int]] = []
    cycle = first_cycle
    while len(jobs) < count:  # bounded: count requests
        jobs.extend((sig, new_cycle(body, cycle), n) for sig, body, n in requests[: count - len(jobs)])
        cycle += 1
    sender = _GrpcSender(endpoint) if transport == "grpc" else _HttpSender(endpoint)
    due_queue: queue_module.Queue[tuple[float, tuple[str, bytes, int]] | None] = queue_module.Queue()
    lock = threading.Lock()
    latencies: list[float] = []
    dispatch_delays: list[float] = []  # due time -> a sender took it: the client's own queueing
    errors: list[str] = []
    acked = dict.fromkeys(SERVICES, 0)
    retries = 0
    in_flight = max_in_flight = 0

    def worker() -> None:
        nonlocal retries, in_flight, max_in_flight
        while True:
            item = due_queue.get()
            if item is None:
                return
            due, (signal_name, body, records) = item
            taken = time.perf_counter()
            with lock:
                in_flight += 1
                max_in_flight = max(max_in_flight, in_flight)
            outcome: str | None = "not sent"
            for attempt in range(50):
                outcome = sender.send(signal_name, body)
                if outcome != "retry" or attempt == 49:
                    break
                with lock:
                    retries += 1
                time.sleep(0.05 * min(attempt + 1, 10))
            done = time.perf_counter()
            with lock:
                in_flight -= 1
                dispatch_delays.append(taken - due)
                if outcome is None:
                    latencies.append(done - due)
                    acked[signal_name] += records
                else:
                    errors.append(outcome)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    cpu0 = time.process_time()
    started = time.perf_counter() + 0.05
    for i, job in enumerate(jobs):
        due = started + i * interval
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        due_queue.put((due, job))
    for _ in threads:
        due_queue.put(None)
    for t in threads:
        t.join(timeout=600)
    seconds_taken = time.perf_counter() - started
    sender.close()
    return {"seconds": seconds_taken, "scheduled_seconds": count * interval, "requests": count,
            "latencies": latencies, "dispatch_delays": dispatch_delays, "retries": retries,
            "errors": errors[:10], "error_count": len(errors), "max_in_flight": max_in_flight,
            "client_cpu_seconds": time.process_time() - cpu0, "acked": acked, "cycles": cycle - first_cycle}


def role_count(data_dir: Path) -> dict[str, Any]:
    """Rows stored per table (after the server has stopped: chDB allows one process)."""
    from storage.client import open_storage

    storage = open_storage(f"chdb://{data_dir}", "loomline")
    out: dict[str, Any] = {}
    for table in (*RAW_TABLES.values(), "events"):
        try:
            out[table] = int(storage.client.command(f"SELECT count() FROM {storage.database}.{table}"))
        except Exception as exc:  # a table a migration did not create
            out[table] = f"error: {exc}"
    # Active parts per table when the server stopped: what fewer merges leave for queries
    # to read (storage/client.py's RAW_MERGE_SELECTOR_BASE trades one for the other).
    out["active_parts"] = active_parts(storage)
    return out


def role_ceilings(data: Path, data_dir: Path) -> dict[str, Any]:
    """Decode-only and direct-insert rates on the same requests, in this process."""
    from receiver.attributes import Limits
    from receiver.batch import DecodeContext
    from receiver.decode import decode_request, parse_protobuf
    from receiver.pipeline import MAX_COALESCED_ROWS, _merge
    from receiver.store import store_batch
    from storage.client import open_storage

    requests = _load(data)
    total = sum(n for _, _, n in requests)
    limits = Limits()

    t0 = time.process_time()
    for signal_name, body, _ in requests:
        parse_protobuf(signal_name, body)
    parse_cpu = time.process_time() - t0

    t0, w0 = time.process_time(), time.perf_counter()
    batches = []
    for signal_name, body, _ in requests:
        request = parse_protobuf(signal_name, body)
        batches.append(decode_request(signal_name, request, limits, DecodeContext(), body=body))
    decode_cpu, decode_wall = time.process_time() - t0, time.perf_counter() - w0

    # the same rows, merged into blocks as large as the receiver's writer makes them
    blocks, current, rows = [], [], 0
    for batch in batches:
        current.append(batch)
        rows += batch.accepted
        if rows >= MAX_COALESCED_ROWS:
            blocks.append(_merge(current))
            current, rows = [], 0
    if current:
        blocks.append(_merge(current))
    storage = open_storage(f"chdb://{data_dir}", "loomline")
    t0, w0 = time.process_time(), time.perf_counter()
    for block in blocks:
        store_batch(storage, block)
    insert_cpu, insert_wall = time.process_time() - t0, time.perf_counter() - w0
    return {
        "records": total,
        "protobuf_parse": {"cpu_seconds": parse_cpu, "records_per_s": total / parse_cpu if parse_cpu else None},
        "decode": {"cpu_seconds": decode_cpu, "wall_seconds": decode_wall, "records_per_s": total / decode_wall},
        "bulk_insert": {"blocks": len(blocks), "cpu_seconds": insert_cpu, "wall_seconds": insert_wall,
                        "records_per_s": total / insert_wall},
        "decode_plus_insert_records_per_s": total / (decode_wall + insert_wall),
        # on a shared machine wall time depends on the neighbours; CPU time much less
        "decode_plus_insert_records_per_cpu_second": total / (decode_cpu + insert_cpu),
    }


def _run_role(args: list[str], timeout: float) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "bench.ingest", *args], cwd=REPO_ROOT, capture_output=True,
                         text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"bench role {args[:2]} failed ({out.returncode}): {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------
# the server


def _stat_cpu_seconds(stat: str) -> float:
    """utime + stime of a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat line."""
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _proc_status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


class Server:
    """``loomline serve`` on the embedded default, in a temp dir, on a free port."""

    def __init__(self, data_dir: Path, log_path: Path, transport: str = "grpc", enrich: bool = False,
                 env: dict[str, str] | None = None, api: bool = False) -> None:
        self.data_dir = data_dir
        self.log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        listen = {"grpc": ["--otlp-grpc", "127.0.0.1:0", "--otlp-http", "off"],
                  "http": ["--otlp-grpc", "off", "--otlp-http", "127.0.0.1:0"]}[transport]
        # Without --enrich, enrichment's timers are pushed out of the way: the figure is ingest alone.
        timers = [] if enrich else ["--enrich-interval", "3600", "--reconcile-interval", "3600"]
        cmd = [sys.executable, "-m", "loomline", "serve", "--clickhouse", f"chdb://{data_dir}", *listen,
               "--api", "127.0.0.1:0" if api else "off", "--log-level", "warning", *timers]
        self.proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     env={**os.environ, **(env or {})})
        self.port = 0
        self.api_port = 0  # with api: /metrics, for counters the server keeps
        deadline = time.monotonic() + 120
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                code = self.proc.wait()
                self.log.close()
                raise RuntimeError(f"loomline serve exited ({code}): {log_path.read_text()[-3000:]}")
            if f"otlp_{transport} listening on" in line:
                self.port = int(line.rsplit(":", 1)[1])
            if "api listening on" in line:
                self.api_port = int(line.rsplit(":", 1)[1])
            if line.strip() == "loomline: ready":
                break
        if not self.port:
            self.stop()
            raise RuntimeError(f"loomline serve did not report its {transport} port")

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def metric(self, name: str) -> float:
        """One unlabelled series of the server's /metrics (started with ``api``)."""
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.api_port}/metrics", timeout=30) as answer:
            for line in answer.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        raise KeyError(name)

    def cpu_seconds(self) -> float:
        return _stat_cpu_seconds(Path(f"/proc/{self.proc.pid}/stat").read_text())

    def thread_cpu(self) -> dict[int, tuple[str, float]]:
        """CPU seconds of each live thread, by thread id: (kind, seconds). Kinds: ``python``
        (every Python thread: transports, decode, the writer) and ClickHouse's own threads
        by name (``MergeMutate`` background merges, ``ThreadPool`` insert and query work...)."""
        out: dict[int, tuple[str, float]] = {}
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            try:
                stat = (task / "stat").read_text()
            except OSError:  # the thread ended meanwhile
                continue
            name = re.sub(r"[0-9]+$", "", stat[stat.index("(") + 1:stat.rindex(")")]) or "?"
            out[int(task.name)] = (name, _stat_cpu_seconds(stat))
        return out

    def rss_kb(self) -> tuple[int, int]:
        """(current RSS, peak RSS) in KiB."""
        return _proc_status_kb(self.proc.pid, "VmRSS"), _proc_status_kb(self.proc.pid, "VmHWM")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()




# ---------------------------------------------------------------------------------------


def run_benchmark(sessions: int = 300, users: int = 50, orgs: int = 5, days: int = 7, seed: int = 1,
                  batch_size: int = 512, concurrency: int = 16, results_dir: Path | None = RESULTS_DIR,
                  label: str = "ingest", transport: str = "grpc", duration: float = 0.0,
                  enrich: bool = False) -> dict[str, Any]:
    """Run everything once; returns the results (and writes them to ``results_dir``).
    ``duration`` > 0 repeats the fleet (as new requests) for that many seconds: the
    sustained-ingest memory run."""
    with tempfile.TemporaryDirectory(prefix="loomline-bench-") as tmp:
        tmp_path = Path(tmp)
        data = tmp_path / "requests.pickle"
        dataset = build_data(data, seed, orgs, users, sessions, days, batch_size)

        load_before = load_average()
        server = Server(tmp_path / "serve-data", tmp_path / "serve.log", transport=transport, enrich=enrich)
        try:
            cpu0 = server.cpu_seconds()
            threads0 = server.thread_cpu()
            threads_seen = dict(threads0)  # thread id -> (kind, CPU at its last sample)
            rss_idle, _ = server.rss_kb()
            rss_samples: list[tuple[float, int]] = []  # (seconds since the start, KiB)
            sampling = threading.Event()
            sample_start = time.perf_counter()

            def sample() -> None:
                while not sampling.wait(0.5):
                    rss_samples.append((time.perf_counter() - sample_start, server.rss_kb()[0]))
                    threads_seen.update(server.thread_cpu())  # ClickHouse's pools come and go

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            client = _run_role(["client", str(data), server.endpoint, str(concurrency), transport, str(duration)],
                               timeout=3600 + duration)
            load_end = load_average()
            sampling.set()
            sampler.join()
            cpu1 = server.cpu_seconds()
            threads_seen.update(server.thread_cpu())
            rss_now, rss_peak = server.rss_kb()
        finally:
            server.stop()
        stored = _run_role(["count", str(server.data_dir)], timeout=300)
        active_parts = stored.pop("active_parts", {})
        ceilings = _run_role(["ceilings", str(data), str(tmp_path / "ceiling-data")], timeout=3600)

    acked = client["acked"]
    total = sum(acked.values())
    seconds = client["seconds"]
    server_cpu = cpu1 - cpu0
    rate = total / seconds
    # every acknowledged record is stored, exactly once (a single pass must ack the whole fleet)
    verified = all(stored.get(RAW_TABLES[s]) == acked[s] for s in SERVICES) and (
        bool(duration) or acked == dataset["records"])
    results: dict[str, Any] = {
        **_header("ingest", label),
        "params": {"sessions": sessions, "users": users, "orgs": orgs, "days": days, "seed": seed,
                   "batch_size": batch_size, "concurrency": concurrency, "transport": transport,
                   "duration_s": duration, "enrichment": "on (default timers)" if enrich else "off",
                   "storage": "chdb (embedded)"},
        "dataset": dataset,
        # before the server starts (the neighbours' load) and as the client finishes (with ours)
        "load_average": {"before": load_before, "end": load_end},
        "loomline": {
            "seconds": round(seconds, 3),
            "records_acknowledged": acked,
            "records_per_s": round(rate),
            "log_records_per_s": round(acked["logs"] / seconds),
            "export_calls": len(client["latencies"]),
            "latency_ms": {"p50": round(percentile(client["latencies"], 0.50) * 1000, 2),
                           "p99": round(percentile(client["latencies"], 0.99) * 1000, 2),
                           "mean": round(statistics.fmean(client["latencies"]) * 1000, 2) if client["latencies"] else None},
            "retries": client["retries"],
            "errors": client["error_count"],
            "error_samples": client["errors"],
            "server_cpu_seconds": round(server_cpu, 3),
            "server_cpu_seconds_by_thread": _cpu_by_kind(threads0, threads_seen, server_cpu),
            "records_per_server_cpu_second": round(total / server_cpu) if server_cpu else None,
            "client_cpu_seconds": round(client["client_cpu_seconds"], 3),
            "server_rss_mib": {"idle": round(rss_idle / 1024, 1), "end": round(rss_now / 1024, 1),
                               "peak": round(rss_peak / 1024, 1), **rss_profile(rss_samples)},
            "stored_rows": stored,
            "stored_rows_verified": verified,
            "active_parts": active_parts,
        },
        "ceilings": ceilings,
        "ratios": {
            "vs_decode_only": round(rate / ceilings["decode"]["records_per_s"], 3),
            "vs_bulk_insert": round(rate / ceilings["bulk_insert"]["records_per_s"], 3),
            "vs_decode_plus_insert": round(rate / ceilings["decode_plus_insert_records_per_s"], 3),
            "cpu_vs_decode_plus_insert": round(total / server_cpu / ceilings["decode_plus_insert_records_per_cpu_second"], 3)
            if server_cpu else None,
        },
        "targets": {
            "records_per_server_cpu_second": 40_000,
            "peak_rss_mib": 1024,
        },
    }
    if results_dir is not None:
        results["path"] = str(write_results(results_dir, label, results))
    return results


def run_latency_benchmark(sessions: int = 300, users: int = 50, orgs: int = 5, days: int = 7, seed: int = 1,
                          batch_size: int = 512, concurrency: int = 16, results_dir: Path | None = RESULTS_DIR,
                          label: str = "latency", transport: str = "grpc", enrich: bool = False,
                          fraction: float = 0.5, paced_seconds: float = 60.0, senders: int = 64,
                          settle_seconds: float = 10.0, paced_rate: float = 0.0) -> dict[str, Any]:
    """Export-call latency at a fraction of the maximum rate (or at ``paced_rate`` requests/s,
    the same for runs whose maximum differs), on one server: first the
    fleet once with ``concurrency`` calls in flight (the maximum rate, as run_benchmark
    measures it), then ``settle_seconds`` idle (the maximum run's merges and enrichment
    backlog), then the open-loop paced client (role_paced) at ``fraction`` of that
    request rate for ``paced_seconds``. Returns the results (and writes them)."""
    with tempfile.TemporaryDirectory(prefix="loomline-bench-") as tmp:
        tmp_path = Path(tmp)
        data = tmp_path / "requests.pickle"
        dataset = build_data(data, seed, orgs, users, sessions, days, batch_size)
        loads: dict[str, list[float]] = {"before": load_average()}
        server = Server(tmp_path / "serve-data", tmp_path / "serve.log", transport=transport, enrich=enrich)
        try:
            cpu0 = server.cpu_seconds()
            closed = _run_role(["client", str(data), server.endpoint, str(concurrency), transport, "0"], timeout=3600)
            loads["max_rate_end"] = load_average()
            cpu1 = server.cpu_seconds()
            time.sleep(settle_seconds)
            request_rate = dataset["requests"] / closed["seconds"]
            interval = 1.0 / (paced_rate if paced_rate > 0 else fraction * request_rate)
            loads["paced_start"] = load_average()
            cpu2 = server.cpu_seconds()
            paced = _run_role(["paced", str(data), server.endpoint, str(interval), str(paced_seconds), "1",
                               str(senders), transport], timeout=3600 + paced_seconds)
            cpu3 = server.cpu_seconds()
            loads["paced_end"] = load_average()
            _, rss_peak = server.rss_kb()
        finally:
            server.stop()
        stored = _run_role(["count", str(server.data_dir)], timeout=300)
        active_parts = stored.pop("active_parts", {})

    def latency_ms(values: list[float]) -> dict[str, float | None]:
        return {"p50": round(percentile(values, 0.50) * 1000, 1), "p90": round(percentile(values, 0.90) * 1000, 1),
                "p99": round(percentile(values, 0.99) * 1000, 1), "max": round(max(values) * 1000, 1) if values else None}

    acked = {s: closed["acked"][s] + paced["acked"][s] for s in SERVICES}
    paced_records = sum(paced["acked"].values())
    results: dict[str, Any] = {
        **_header("ingest-latency", label),
        "params": {"sessions": sessions, "users": users, "orgs": orgs, "days": days, "seed": seed,
                   "batch_size": batch_size, "concurrency": concurrency, "transport": transport,
                   "enrichment": "on (default timers)" if enrich else "off", "fraction": fraction,
                   "paced_seconds": paced_seconds, "senders": senders, "settle_seconds": settle_seconds,
                   "paced_rate": paced_rate,
                   "storage": "chdb (embedded)"},
        "dataset": {k: v for k, v in dataset.items() if k != "fleet"},
        "load_average": loads,
        "max_rate": {
            "seconds": round(closed["seconds"], 3),
            "records_per_s": round(sum(closed["acked"].values()) / closed["seconds"]),
            "requests_per_s": round(request_rate, 2),
            "latency_ms": latency_ms(closed["latencies"]),
            "errors": closed["error_count"], "retries": closed["retries"],
            "server_cpu_seconds": round(cpu1 - cpu0, 2),
        },
        "paced": {
            "target_requests_per_s": round(1.0 / interval, 2),
            "interval_ms": round(interval * 1000, 2),
            "requests": paced["requests"],
            "scheduled_seconds": round(paced["scheduled_seconds"], 2),
            "seconds_to_last_ack": round(paced["seconds"], 2),
            "achieved_requests_per_s": round(len(paced["latencies"]) / paced["seconds"], 2),
            "achieved_records_per_s": round(paced_records / paced["seconds"]),
            # latency from each request's due time to its acknowledgement
            "latency_ms": latency_ms(paced["latencies"]),
            # due time -> a sender took the request (the client's own queueing; counted in latency_ms)
            "dispatch_delay_ms": latency_ms(paced["dispatch_delays"]),
            "max_in_flight": paced["max_in_flight"],
            "errors": paced["error_count"], "error_samples": paced["errors"], "retries": paced["retries"],
            "server_cpu_seconds": round(cpu3 - cpu2, 2),
            "server_cpu_utilisation": round((cpu3 - cpu2) / paced["seconds"], 2),
        },
        "server_peak_rss_mib": round(rss_peak / 1024, 1),
        "stored_rows": stored,
        "stored_rows_verified": all(stored.get(RAW_TABLES[s]) == acked[s] for s in SERVICES),
        "active_parts": active_parts,
        "targets": {"paced_p99_ms": 250},
    }
    if results_dir is not None:
        results["path"] = str(write_results(results_dir, label, results))
    return results


def latency_summary_text(r: dict[str, Any]) -> str:
    m, p = r["max_rate"], r["paced"]
    return "\n".join([
        f"fleet: {r['dataset']['records_total']:,} records in {r['dataset']['requests']} requests; "
        f"OTLP/{r['params']['transport']}, enrichment {r['params']['enrichment']}; load average "
        + ", ".join(f"{k} {v}" for k, v in r["load_average"].items()) + f" ({r['machine']['cpus']} CPUs)",
        f"maximum rate ({r['params']['concurrency']} in flight): {m['records_per_s']:,} records/s, "
        f"{m['requests_per_s']} requests/s; latency p50 {m['latency_ms']['p50']} / p99 {m['latency_ms']['p99']} ms",
        (f"paced at {r['params']['paced_rate']:g} requests/s (fixed): " if r["params"].get("paced_rate")
         else f"paced at {r['params']['fraction']:.0%}: ")
        + f"{p['target_requests_per_s']} requests/s scheduled for "
        f"{p['scheduled_seconds']} s, achieved {p['achieved_requests_per_s']} requests/s, "
        f"{p['achieved_records_per_s']:,} records/s; errors {p['errors']}, retries {p['retries']}",
        f"  export latency from the scheduled time: p50 {p['latency_ms']['p50']} / p90 {p['latency_ms']['p90']} / "
        f"p99 {p['latency_ms']['p99']} / max {p['latency_ms']['max']} ms (target p99 <= 250 ms); "
        f"client queueing p99 {p['dispatch_delay_ms']['p99']} ms, at most {p['max_in_flight']} in flight",
        f"  server CPU {p['server_cpu_seconds']} s ({p['server_cpu_utilisation']} cores); peak RSS "
        f"{r['server_peak_rss_mib']} MiB; stored rows verified: {r['stored_rows_verified']}",
        "  active parts at the end: " + ", ".join(f"{t} {n}" for t, n in r.get("active_parts", {}).items()),
    ])


def _cpu_by_kind(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]],
                 total: float) -> dict[str, float]:
    """CPU seconds per kind of thread over the run (threads sampled every 0.5 s; what a
    thread did after its last sample is ``unattributed``)."""
    kinds: dict[str, float] = {}
    for tid, (name, seconds) in after.items():
        kinds[name] = kinds.get(name, 0.0) + seconds - before.get(tid, (name, 0.0))[1]
    kinds["unattributed"] = total - sum(kinds.values())
    return {n: round(v, 2) for n, v in sorted(kinds.items(), key=lambda kv: -kv[1]) if v >= 0.05}


def rss_profile(samples: list[tuple[float, int]]) -> dict[str, Any]:
    """RSS per minute (peak and median), and whether memory is flat: after a first minute
    of warm-up, the median and the peak of the second half of the run against the first."""
    per_minute: dict[int, list[int]] = {}
    for t, kib in samples:
        per_minute.setdefault(int(t // 60), []).append(kib)
    out: dict[str, Any] = {
        "samples": [[round(t, 1), round(k / 1024, 1)] for t, k in samples[:: max(1, len(samples) // 60)]],
        "peak_per_minute": [round(max(v) / 1024, 1) for _, v in sorted(per_minute.items())],
        "median_per_minute": [round(statistics.median(v) / 1024, 1) for _, v in sorted(per_minute.items())],
    }
    steady = [(t, k) for t, k in samples if t >= 60]
    if len(steady) >= 4:
        middle = steady[0][0] + (steady[-1][0] - steady[0][0]) / 2
        first = [k for t, k in steady if t < middle]
        second = [k for t, k in steady if t >= middle]
        for name, pick in (("median", statistics.median), ("peak", max)):
            a, b = pick(first), pick(second)
            out[f"steady_{name}_first_half"] = round(a / 1024, 1)
            out[f"steady_{name}_second_half"] = round(b / 1024, 1)
            out[f"steady_{name}_growth_percent"] = round(100 * (b - a) / a, 1)
    return out


def summary_text(r: dict[str, Any]) -> str:
    lo, c = r["loomline"], r["ceilings"]
    return "\n".join([
        f"fleet: {r['dataset']['records_total']:,} records in {r['dataset']['requests']} requests "
        f"({r['dataset']['bytes'] / 1e6:.1f} MB); OTLP/{r['params']['transport']}, concurrency "
        f"{r['params']['concurrency']}, enrichment {r['params']['enrichment']}"
        + (f", repeated for {r['params']['duration_s']:.0f} s" if r["params"]["duration_s"] else "")
        + f"; load average before {r['load_average']['before']}, at the end {r['load_average']['end']} "
        f"({r['machine']['cpus']} CPUs)",
        f"loomline serve: {sum(lo['records_acknowledged'].values()):,} records acknowledged, {lo['records_per_s']:,} records/s ({lo['log_records_per_s']:,} log records/s), "
        f"{lo['seconds']} s; latency p50 {lo['latency_ms']['p50']} ms, p99 {lo['latency_ms']['p99']} ms; "
        f"retries {lo['retries']}, errors {lo['errors']}",
        f"  server CPU {lo['server_cpu_seconds']} s -> {lo['records_per_server_cpu_second']:,} records per CPU-second "
        f"(target 40,000); peak RSS {lo['server_rss_mib']['peak']} MiB; stored rows verified: {lo['stored_rows_verified']}",
        "  server CPU by thread: " + ", ".join(f"{n} {v} s" for n, v in lo["server_cpu_seconds_by_thread"].items()),
        "  active parts at the end: " + ", ".join(f"{t} {n}" for t, n in lo.get("active_parts", {}).items()),
        f"  RSS per minute (MiB), median {lo['server_rss_mib']['median_per_minute']}, "
        f"peak {lo['server_rss_mib']['peak_per_minute']}" + "".join(
            f"; steady {n} {lo['server_rss_mib'][f'steady_{n}_first_half']} -> "
            f"{lo['server_rss_mib'][f'steady_{n}_second_half']} MiB ({lo['server_rss_mib'][f'steady_{n}_growth_percent']:+} %)"
            for n in ("median", "peak") if f"steady_{n}_growth_percent" in lo["server_rss_mib"]),
        f"ceilings: protobuf parse {c['protobuf_parse']['records_per_s']:,.0f}/s, decode {c['decode']['records_per_s']:,.0f}/s, "
        f"bulk insert {c['bulk_insert']['records_per_s']:,.0f}/s",
        f"ratios: vs decode {r['ratios']['vs_decode_only']}, vs bulk insert {r['ratios']['vs_bulk_insert']}, "
        f"vs decode+insert {r['ratios']['vs_decode_plus_insert']} "
        f"(per CPU-second: {r['ratios']['cpu_vs_decode_plus_insert']})",
    ])


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["client"]:
        print(json.dumps(role_client(Path(argv[1]), argv[2], int(argv[3]), argv[4], float(argv[5]))))
        return 0
    if argv[:1] == ["paced"]:
        print(json.dumps(role_paced(Path(argv[1]), argv[2], float(argv[3]), float(argv[4]), int(argv[5]),
                                    int(argv[6]), argv[7])))
        return 0
    if argv[:1] == ["count"]:
        print(json.dumps(role_count(Path(argv[1]))))
        return 0
    if argv[:1] == ["ceilings"]:
        print(json.dumps(role_ceilings(Path(argv[1]), Path(argv[2]))))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=300, help="fresh conversations in the fleet")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--orgs", type=int, default=5)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=512, help="records per export request")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="export calls in flight (a fleet: many agents exporting at once)")
    parser.add_argument("--transport", choices=("grpc", "http"), default="grpc",
                        help="OTLP/gRPC, or OTLP/HTTP with protobuf bodies")
    parser.add_argument("--duration", type=float, default=0.0,
                        help="seconds to keep sending (the fleet again and again, as new requests); 0: one pass")
    parser.add_argument("--enrich", action="store_true",
                        help="run enrichment on its default timers during the run (default: off, ingest alone)")
    parser.add_argument("--latency", action="store_true",
                        help="measure the maximum rate, then export-call latency with an open-loop client at"
                             " --fraction of it (run_latency_benchmark)")
    parser.add_argument("--fraction", type=float, default=0.5, help="--latency: share of the maximum request rate")
    parser.add_argument("--paced-seconds", type=float, default=60.0, help="--latency: how long to send paced")
    parser.add_argument("--paced-rate", type=float, default=0.0,
                        help="--latency: send paced at this many requests/s instead of --fraction of the maximum"
                             " (compares runs whose maximum moved with the machine's load)")
    parser.add_argument("--senders", type=int, default=64,
                        help="--latency: sending threads of the paced client (requests due while all are busy wait,"
                             " and that wait counts)")
    parser.add_argument("--label", default=None, help="results file name prefix (default: ingest, or latency)")
    parser.add_argument("--results-dir", default=str(RESULTS_DIR), help="'' to write nothing")
    args = parser.parse_args(argv)
    results_dir = Path(args.results_dir) if args.results_dir else None
    if args.latency:
        latency = run_latency_benchmark(
            sessions=args.sessions, users=args.users, orgs=args.orgs, days=args.days, seed=args.seed,
            batch_size=args.batch_size, concurrency=args.concurrency, transport=args.transport, enrich=args.enrich,
            results_dir=results_dir, label=args.label or "latency", fraction=args.fraction,
            paced_seconds=args.paced_seconds, senders=args.senders, paced_rate=args.paced_rate)
        print(latency_summary_text(latency))
        if "path" in latency:
            print(f"results: {latency['path']}")
        ok = latency["stored_rows_verified"] and not latency["paced"]["errors"] and not latency["max_rate"]["errors"]
        return 0 if ok else 1
    results = run_benchmark(sessions=args.sessions, users=args.users, orgs=args.orgs, days=args.days, seed=args.seed,
                            batch_size=args.batch_size, concurrency=args.concurrency, transport=args.transport,
                            duration=args.duration, enrich=args.enrich,
                            results_dir=results_dir, label=args.label or "ingest")
    print(summary_text(results))
    if "path" in results:
        print(f"results: {results['path']}")
    return 0 if results["loomline"]["stored_rows_verified"] and not results["loomline"]["errors"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
