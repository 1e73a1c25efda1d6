"""Enrichment benchmark (issue 16 item 3, issue 19's enrichment target).

Two parts, both printed with the machine's load average and written to bench/results/:

* **derive**: the pure derivation (enrich/derive.py) of one group of N events, N = 1k,
  10k, 100k, like for like: every size derives the same number of events per round (100 ×
  1k, 10 × 10k, 1 × 100k), the sizes take turns, and the figure is the median over the
  rounds of the mean CPU per event, split into user and system time, with minor page faults
  per event (bench_derive); also the old statistic (best of up to 7 runs at the small
  sizes, one at 100k) as ``legacy_*``. Three shapes: ``issue`` (the hostile-input report: user_prompt events
  with event.sequence 0, 5, 10, ... in one session: every event its own fragment),
  ``hot`` (one long Claude Code process: prompts, API requests, tool calls, sequence
  contiguous, record times slightly out of order) and ``fleet`` (sessions from the fleet
  generator, loomline/fleet.py, derived as one group). Time per event and its ratio to
  the 1k figure of the same shape: flat means linear.
* **e2e**: through storage (embedded chDB): N records of a few hot sessions are ingested
  through the receiver's decode and the ingest pipeline in export-sized batches, and the
  Enricher runs, in mode ``every-batch``, a full pass (``run_once``) after every batch (the
  worst case: the old loop under load), in mode ``loop`` what the background loop does (a
  debounced pass at most once a second, ``run_background_pass``). Reports the
  Enricher's CPU per ingested record (process CPU time of the passes: Python plus the
  in-process ClickHouse threads serving its queries and inserts), overall and per tenth of
  the run (flat = the cost of a pass does not grow with the session).
* **fleet pass** (``--fleet-conversations N``): a fleet of N conversations (loomline/fleet.py,
  real session shapes and attributes, 20 orgs) decoded by the receiver and stored, then
  derived whole once (``derive_all``, the cache empty: every event read from storage).
  Reports the CPU per stored event and where it went, by query file and insert (process
  CPU time of each call: Python plus the engine's threads), the rest being derivation.
* **fleet loop** (``--fleet-loop-conversations N``): the same fleet's log records stored in
  order of arrival through the ingest pipeline, and a background pass
  (``run_background_pass``) each time a second's worth of records has arrived at
  ``--fleet-loop-rate`` records/s (the Enricher's clock is that arrival time, so its
  debouncing sees the rate); a final pass flushes. Reports the Enricher's CPU per record,
  split as in the fleet pass: a live receiver's enrichment, many orgs with a few dirty
  sessions each per pass.
* **query scale** (``--query-scale-conversations N --query-scale-copies 1,10``): the
  queries of a pass timed per call (batches of SEED_BATCH sessions) as the stored fleet is
  copied under renamed ids: whether a query's cost grows with the table; and the
  related-sessions query without its bare-id prefilter.

    python -m bench.enrich                   # 1k, 10k, 100k; e2e 20k records
    python -m bench.enrich --quick           # small sizes (tests/test_bench_enrich_smoke.py)
    python -m bench.enrich --sizes 1000 --shapes fleet --rounds 1 --e2e-records 0 --fleet-conversations 1000
    python -m bench.enrich --sizes 1000 --shapes fleet --rounds 1 --e2e-records 0 --fleet-loop-conversations 1000
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from bench.common import REPO_ROOT, cpu_model, git_commit
from enrich.derive import derive
from enrich.model import Event, event_from_row

T0_US = 1_790_000_000_000_000  # 2026-09-21
LOOP_INTERVAL_S = 1.0  # the background loop's default --enrich-interval
MIX = ("user_prompt", "api_request", "tool_decision", "tool_result", "api_request", "assistant_response")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


# -- shapes for the pure derivation -------------------------------------------------------
def issue_shape(n: int) -> list[Event]:
    """The report's request: user_prompt events, event.sequence 0, 5, 10, ... (one session)."""
    return [Event("o", "s-issue", i + 1, "user_prompt", T0_US + i * 1000, sequence=i * 5, user_id="u",
                  prompt_id=f"p{i}") for i in range(n)]


def hot_shape(n: int, seed: int = 1) -> list[Event]:
    """One long process of one session: contiguous sequence, a realistic event mix, record
    times a few ms out of sequence order now and then."""
    rng = random.Random(seed)
    events = []
    for i in range(n):
        name = MIX[i % len(MIX)]
        jitter = rng.randint(0, 3000) if rng.random() < 0.1 else 0
        extra: dict[str, Any] = {}
        if name == "api_request":
            extra = {"model": "claude-opus-5-5", "cost_usd": 0.008, "cost_micros": 8000, "input_tokens": 100 + i % 50,
                     "output_tokens": 50, "cache_read_tokens": 1000}
        elif name == "tool_result":
            extra = {"tool_name": "Bash", "success": True}
        events.append(Event("o", "s-hot", i + 1, name, T0_US + i * 200_000 + jitter, sequence=i, user_id="u",
                            prompt_id=f"p{i // len(MIX)}", **extra))
    return events


def decode_rows(requests: Any) -> list[dict[str, Any]]:
    from receiver.attributes import Limits
    from receiver.batch import DecodeContext
    from receiver.decode import decode_request

    rows: list[dict[str, Any]] = []
    for signal, request in requests:
        table = decode_request(signal, request, Limits(), DecodeContext()).tables.get("events")
        if table:
            names = list(table)
            rows += [dict(zip(names, values, strict=True)) for values in zip(*(table[k] for k in names), strict=True)]
    return rows


_fleet_cache: dict[int, list[Event]] = {}


def fleet_shape(n: int) -> list[Event]:
    """Whole sessions of one fleet org (one user: resumes, /clear, compactions, hooks) until
    at least n events; derived as one group."""
    from loomline.fleet import generate

    sessions = max(3, n // 250)
    while True:
        if sessions not in _fleet_cache:
            rows = decode_rows(generate(seed=7, orgs=1, users=1, sessions=sessions, days=max(1, sessions // 20),
                                        prompts_per_run=8.0, hook_bridge_share=1.0))
            _fleet_cache[sessions] = sorted((event_from_row(r) for r in rows), key=lambda e: (e.session_id, e.timestamp))
        if len(_fleet_cache[sessions]) >= n:
            break
        sessions *= 2
    events = _fleet_cache[sessions]
    by_session: dict[str, list[Event]] = {}
    for e in events:
        by_session.setdefault(e.session_id, []).append(e)
    chosen: list[Event] = []
    for session in sorted(by_session, key=lambda s: by_session[s][0].timestamp):
        if len(chosen) >= n:
            break
        chosen += by_session[session]
    return chosen


SHAPES: dict[str, Callable[[int], list[Event]]] = {"issue": issue_shape, "hot": hot_shape, "fleet": fleet_shape}


def _usage() -> tuple[float, float, float, int]:
    """(process CPU, user, system seconds, minor page faults) of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return time.process_time(), r.ru_utime, r.ru_stime, r.ru_minflt


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def bench_derive(sizes: list[int], shapes: list[str], rounds: int = 5) -> list[dict[str, Any]]:
    """Time per event of each shape at each size, like for like.

    Every size derives the same number of events per round (the largest size's: 100
    derivations of 1k, 10 of 10k, 1 of 100k), and the sizes take turns within a round, so a
    change in the neighbours' load hits every size alike. The statistic is the same at every
    size: the mean over a round's events, median over the rounds. Per event: process CPU
    (``time.process_time``), its user and system parts and minor page faults
    (``getrusage``: first touches of memory the allocator got from the kernel count there,
    not in user time). The cyclic GC is collected (untimed) before each derivation, so
    every one starts from the same heap; the collection of a derivation's own cyclic
    garbage (fragments point at each other) is therefore not timed, as it was not before. Also kept, as ``legacy_*``, the old statistic:
    best of the first min(7, 30000 / n) derivations (1 at 100k), for comparison with
    older results files."""
    results = []
    per_round = max(sizes)
    for shape in shapes:
        groups = {n: SHAPES[shape](n) for n in sizes}
        nows = {n: max(e.timestamp for e in events) + 60_000_000 for n, events in groups.items()}
        # An untimed run first: genai-prices prices each distinct (model, day, tokens)
        # once per process (~0.3 ms each, reported apart as first_run_seconds).
        first_run: dict[int, float] = {}
        derived_of = {}
        for n, events in groups.items():
            gc.collect()
            start = time.process_time()
            derived_of[n] = derive(events, nows[n])
            first_run[n] = time.process_time() - start
        runs = {n: max(1, round(per_round / len(events))) for n, events in groups.items()}
        per_run: dict[int, list[float]] = {n: [] for n in sizes}  # process CPU of each derivation
        totals: dict[int, list[tuple[float, float, float, float]]] = {n: [] for n in sizes}  # per round
        for r in range(rounds):
            line = []
            for n, events in groups.items():
                spent = [0.0, 0.0, 0.0, 0]
                for _ in range(runs[n]):
                    gc.collect()
                    gc.disable()  # derive pauses it too; this keeps a collection out of _usage()
                    before = _usage()
                    derive(events, nows[n])
                    after = _usage()
                    gc.enable()
                    per_run[n].append(after[0] - before[0])
                    for i in range(4):
                        spent[i] += after[i] - before[i]
                count = runs[n] * len(events)
                totals[n].append((spent[0] / count * 1e6, spent[1] / count * 1e6, spent[2] / count * 1e6,
                                  spent[3] / count))
                line.append(f"{len(events)}: {spent[0] / count * 1e6:.1f}")
            print(f"  {shape} round {r + 1}/{rounds}  µs/event {'  '.join(line)}  load {load()}", flush=True)
        base: dict[str, float] = {}
        for n, events in groups.items():
            cpu = [t[0] for t in totals[n]]
            per_event = _median(cpu)
            legacy_runs = max(1, min(7, 30_000 // max(len(events), 1)))
            legacy = min(per_run[n][:legacy_runs]) / len(events) * 1e6
            base.setdefault("cpu", per_event)
            base.setdefault("user", _median([t[1] for t in totals[n]]))
            base.setdefault("legacy", legacy)
            user = _median([t[1] for t in totals[n]])
            row = {"shape": shape, "events": len(events), "derivations_per_round": runs[n], "rounds": rounds,
                   "first_run_seconds": round(first_run[n], 3),
                   "us_per_event": round(per_event, 2), "ratio_to_first": round(per_event / base["cpu"], 2),
                   "us_per_event_rounds": [round(c, 2) for c in cpu],
                   "user_us_per_event": round(user, 2), "user_ratio_to_first": round(user / base["user"], 2),
                   "sys_us_per_event": round(_median([t[2] for t in totals[n]]), 2),
                   "minflt_per_event": round(_median([t[3] for t in totals[n]]), 3),
                   "mean_us_per_event": round(statistics.fmean(cpu), 2),
                   "legacy_us_per_event": round(legacy, 2), "legacy_ratio_to_first": round(legacy / base["legacy"], 2),
                   "legacy_best_of": legacy_runs,
                   "sessions": len(derived_of[n].sessions), "segments": len(derived_of[n].segments), "load": load()}
            results.append(row)
            print(f"derive {shape:5} {row['events']:>7} events  {per_event:6.2f} µs/event x{row['ratio_to_first']:<5}"
                  f" (user {user:5.2f} x{row['user_ratio_to_first']:<5} sys {row['sys_us_per_event']:4.2f}"
                  f" minflt {row['minflt_per_event']:6.3f}/event; rounds {min(cpu):.2f}-{max(cpu):.2f})"
                  f"  legacy {legacy:6.2f} x{row['legacy_ratio_to_first']:<5}"
                  f" first run {first_run[n]:.3f} s  segments {row['segments']:>6}  load {row['load']}", flush=True)
    return results


# -- end to end through storage ------------------------------------------------------------
def _kv(key: str, value: Any) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def hot_requests(records: int, sessions: int, batch: int, org: str = "bench") -> list[ExportLogsServiceRequest]:
    """Export requests of ``sessions`` hot sessions, each one long Claude Code process,
    interleaved, ``batch`` records per request."""
    requests = []
    request = ExportLogsServiceRequest()
    scope = None
    for i in range(records):
        if scope is None or len(scope.log_records) >= batch:
            request = ExportLogsServiceRequest()
            resource = request.resource_logs.add()
            resource.resource.attributes.extend([_kv("service.name", "claude-code"), _kv("service.version", "2.1.332"),
                                                 _kv("organization.id", org), _kv("host.name", "bench")])
            scope = resource.scope_logs.add()
            scope.scope.name = "com.anthropic.claude_code.events"
            requests.append(request)
        session, seq = i % sessions, i // sessions
        name = MIX[seq % len(MIX)]
        ts_ns = (T0_US + seq * 200_000 + session * 7) * 1000
        attrs = [_kv("session.id", f"hot-{session:03d}"), _kv("user.id", f"user-{session % 3}"),
                 _kv("event.name", name), _kv("event.sequence", seq),
                 _kv("event.timestamp", datetime.fromtimestamp(ts_ns / 1e9, UTC).isoformat().replace("+00:00", "Z")),
                 _kv("prompt.id", f"p-{session}-{seq // len(MIX)}")]
        if name == "api_request":
            attrs += [_kv("model", "claude-opus-5-5"), _kv("cost_usd", "0.008"), _kv("input_tokens", "100"),
                      _kv("output_tokens", "50"), _kv("cache_read_tokens", "1000"), _kv("duration_ms", "900")]
        elif name == "tool_result":
            attrs += [_kv("tool_name", "Bash"), _kv("success", "true")]
        scope.log_records.append(LogRecord(time_unix_nano=ts_ns, observed_time_unix_nano=ts_ns,
                                           body=AnyValue(string_value=f"claude_code.{name}"), attributes=attrs))
    return requests


_data_dir = ""


def _scratch_storage(database: str) -> Any:
    """A new migrated database in this process's chDB directory (chDB opens one directory
    per process, so every part of a run shares it); drop it with _drop."""
    from storage.client import open_storage

    global _data_dir
    _data_dir = _data_dir or tempfile.mkdtemp(prefix="loomline-bench-enrich-")
    return open_storage(f"chdb://{_data_dir}", f"{database}_{os.getpid()}")


def _drop(storage: Any) -> None:
    storage.command(f"DROP DATABASE IF EXISTS `{storage.info.database}`")
    storage.close()


def _settle(storage: Any, limit_s: float = 10.0) -> None:
    """Wait (at most limit_s) for the engine's merges of what ingest stored to finish, so
    the CPU of the enrichment pass timed next is the pass's own (a merge's threads would
    be counted in the process's CPU)."""
    deadline = time.monotonic() + limit_s
    while storage.query_rows("SELECT count() FROM system.merges")[0][0] and time.monotonic() < deadline:
        time.sleep(0.01)


def bench_e2e(records: int, sessions: int, batch: int, mode: str) -> dict[str, Any]:
    from receiver.attributes import Limits
    from receiver.batch import DecodeContext
    from receiver.decode import decode_request
    from receiver.pipeline import IngestPipeline

    storage = _scratch_storage(f"bench_{mode.replace('-', '_')}")
    timer = _CpuByCall()
    timer.storage(storage)
    timer.counting = False  # only the Enricher's calls: the pipeline's inserts are ingest
    enricher = timer.enricher()(storage)
    pipeline = IngestPipeline(storage, on_stored=enricher.mark_dirty, linger_seconds=0.0)
    pipeline.start()
    requests = hot_requests(records, sessions, batch)
    now = datetime.fromtimestamp((T0_US + records // sessions * 200_000) / 1e6 + 60, UTC)
    per_batch: list[float] = []
    last_pass = 0.0
    enrich_cpu = ingest_cpu = 0.0
    stored = 0
    try:
        for request in requests:
            start = time.process_time()
            decoded = decode_request("logs", request, Limits(), DecodeContext())
            pipeline.submit(decoded).result(timeout=120)
            ingest_cpu += time.process_time() - start
            stored += decoded.accepted
            spent = 0.0
            if mode == "every-batch":
                spent = timer.time_pass(storage, lambda: enricher.run_once(now=now))
            elif time.monotonic() - last_pass >= LOOP_INTERVAL_S:
                last_pass = time.monotonic()
                spent = timer.time_pass(storage, lambda: enricher.run_background_pass(now=now))
            enrich_cpu += spent
            per_batch.append(spent / decoded.accepted * 1e6)
        flush_cpu = timer.time_pass(storage, lambda: enricher.run_once(now=now))  # flush: everything derived
        enrich_cpu += flush_cpu
        derived = storage.query_rows("SELECT count(), sum(event_count) FROM llm_sessions FINAL")[0]
    finally:
        pipeline.stop()
        _drop(storage)
    tenth = max(1, len(per_batch) // 10)
    deciles = [round(sum(per_batch[i:i + tenth]) / len(per_batch[i:i + tenth]), 1)
               for i in range(0, len(per_batch), tenth)][:10]
    parts = timer.parts(stored, "record")
    rest = round((enrich_cpu - timer.total()) / stored * 1e6, 1)
    result = {
        "mode": mode, "records": stored, "sessions": sessions, "batch": batch,
        "events_per_session": stored // sessions,
        "enrich_cpu_seconds": round(enrich_cpu, 3), "ingest_cpu_seconds": round(ingest_cpu, 3),
        "enrich_us_per_record": round(enrich_cpu / stored * 1e6, 1),
        "us_per_record_by_tenth": deciles,
        "last_to_first_tenth": round(deciles[-1] / deciles[0], 2) if deciles and deciles[0] else None,
        "flush_us_per_record": round(flush_cpu / stored * 1e6, 1),
        "parts": parts, "rest_us_per_record": rest,
        "derived_sessions": int(derived[0]), "derived_events": int(derived[1] or 0), "load": load(),
    }
    print(f"e2e {mode:12} {stored} records, {sessions} sessions of {stored // sessions}, batches of {batch}:"
          f" enrichment {result['enrich_us_per_record']} µs CPU/record (final flush {result['flush_us_per_record']};"
          f" ingest {ingest_cpu / stored * 1e6:.0f}); per tenth {deciles}; load {result['load']}", flush=True)
    _print_parts(parts, "record", rest)
    return result


DETAIL = "  of which: "  # a part timed inside another (not added to the total)


class _CpuByCall:
    """Process CPU of the calls it wraps, by name (query file, insert table, ...), made
    while ``counting`` is set."""

    def __init__(self) -> None:
        from storage.sql_files import SQL_DIR, load_query, load_query_compact

        self.names = {read(path.stem): path.stem for path in (SQL_DIR / "queries").glob("*.sql")
                      for read in (load_query, load_query_compact)}
        self.spent: dict[str, list[float]] = {}
        self.counting = True

    def wrap(self, name: str | Callable[[tuple[Any, ...]], str], call: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            if not self.counting:
                return call(*args, **kwargs)
            start = time.process_time()
            try:
                return call(*args, **kwargs)
            finally:
                entry = self.spent.setdefault(name(args) if callable(name) else name, [0, 0.0])
                entry[0] += 1
                entry[1] += time.process_time() - start
        return run

    def time_pass(self, storage: Any, call: Callable[[], Any]) -> float:
        """The process CPU of one enrichment pass, its calls counted: after the engine's
        merges of what ingest stored have finished (_settle), which are not the pass's."""
        _settle(storage)
        self.counting, start = True, time.process_time()
        try:
            call()
        finally:
            self.counting = False
        return time.process_time() - start

    def storage(self, storage: Any) -> None:
        """Time the storage's queries by file and its inserts by table."""
        storage.query_rows = self.wrap(lambda a: self.names.get(a[0], "other queries"), storage.query_rows)
        storage.insert_columns = self.wrap(lambda a: f"insert {a[0]}", storage.insert_columns)

    def enricher(self) -> Any:
        """An Enricher class whose event reads (storage.client.query) are timed too."""
        from enrich.service import Enricher

        wrap = self.wrap

        class TimedEnricher(Enricher):
            _query_events = wrap("enrich_load_events (+ building Events)", Enricher._query_events)
            _load_columns = wrap(f"{DETAIL}the load's query and columns", Enricher._load_columns)
        return TimedEnricher

    def parts(self, per: int, unit: str) -> dict[str, dict[str, Any]]:
        return {name: {"calls": calls, "cpu_seconds": round(cpu, 3), f"us_per_{unit}": round(cpu / per * 1e6, 1)}
                for name, (calls, cpu) in sorted(self.spent.items(), key=lambda item: -item[1][1])}

    def total(self) -> float:
        """The CPU of every timed call (a DETAIL is part of another's)."""
        return sum(cpu for name, (_, cpu) in self.spent.items() if not name.startswith(DETAIL))


def _print_parts(parts: dict[str, dict[str, Any]], unit: str, rest: float) -> None:
    for name, part in parts.items():
        print(f"  {name:45} {part['calls']:5} calls {part[f'us_per_{unit}']:7.1f} µs/{unit}", flush=True)
    print(f"  {'derivation and the rest (Python)':45} {'':11} {rest:7.1f} µs/{unit}", flush=True)


def bench_fleet_pass(conversations: int) -> dict[str, Any]:
    """One whole derivation of a stored fleet, its CPU split by query and insert."""
    from bench.query_load import BaseSpec, load_base

    storage = _scratch_storage("bench_fleet")
    timer = _CpuByCall()
    try:
        load_base(storage, BaseSpec(conversations=conversations), lambda line: print(line, flush=True))
        events = int(storage.query_rows("SELECT count() FROM events")[0][0])
        timer.storage(storage)
        enricher = timer.enricher()(storage)
        start = time.process_time()
        stats = enricher.derive_all()
        total = time.process_time() - start
    finally:
        _drop(storage)
    parts = timer.parts(events, "event")
    rest = total - timer.total()
    result = {"conversations": conversations, "events": events, "sessions": stats.get("sessions", 0),
              "cpu_seconds": round(total, 3), "us_per_event": round(total / events * 1e6, 1),
              "parts": parts, "rest_us_per_event": round(rest / events * 1e6, 1), "load": load()}
    print(f"fleet pass: {conversations} conversations, {events} events, {result['sessions']} sessions derived"
          f" whole: {total:.2f} s CPU, {result['us_per_event']} µs per event; load {result['load']}", flush=True)
    _print_parts(parts, "event", result["rest_us_per_event"])
    return result


def bench_fleet_loop(conversations: int, rate: int) -> dict[str, Any]:
    """A live fleet: its log records stored in order of arrival, background passes as the
    enrichment loop runs them once a second while ``rate`` records/s arrive (the
    Enricher's clock is the records' arrival time, so debouncing sees that rate)."""
    from bench.query_load import BaseSpec, _per_org
    from loomline.fleet import Fleet
    from receiver.attributes import Limits
    from receiver.batch import DecodeContext
    from receiver.decode import decode_request
    from receiver.pipeline import IngestPipeline

    fleet = Fleet(BaseSpec(conversations=conversations).fleet_spec())
    orgs: dict[str, str] = {}
    for sid, truth in fleet.ground_truth.sessions.items():
        orgs[sid] = truth.org_id
        orgs.update(dict.fromkeys(truth.ghost_session_ids, truth.org_id))
    batches = []
    for signal, request in fleet.requests():
        if signal == "logs":
            for org, part in _per_org(signal, request, orgs):
                batches.append(decode_request(signal, part, Limits(), DecodeContext(default_org=org or "default")))
    storage = _scratch_storage("bench_fleet_loop")
    timer = _CpuByCall()
    timer.storage(storage)
    timer.counting = False  # only the Enricher's calls: the pipeline's inserts are ingest
    clock = [0.0]
    enricher = timer.enricher()(storage, clock=lambda: clock[0])
    pipeline = IngestPipeline(storage, on_stored=enricher.mark_dirty, linger_seconds=0.0)
    pipeline.start()
    now = None  # the fleet's days end now
    stored = passes = 0
    enrich_cpu = 0.0
    try:
        for batch in batches:
            pipeline.submit(batch).result(timeout=120)
            stored += batch.accepted
            if stored / rate >= clock[0] + LOOP_INTERVAL_S:
                clock[0] = stored / rate
                enrich_cpu += timer.time_pass(storage, lambda: enricher.run_background_pass(now=now))
                passes += 1
        clock[0] += enricher.max_staleness_s
        enrich_cpu += timer.time_pass(storage, lambda: enricher.run_once(now=now))  # flush: everything derived at the end
        derived = storage.query_rows("SELECT count() FROM llm_sessions FINAL")[0][0]
    finally:
        pipeline.stop()
        _drop(storage)
    parts = timer.parts(stored, "record")
    rest = enrich_cpu - timer.total()
    result: dict[str, Any] = {"conversations": conversations, "rate": rate, "records": stored, "passes": passes,
              "enrich_cpu_seconds": round(enrich_cpu, 3), "enrich_us_per_record": round(enrich_cpu / stored * 1e6, 1),
              "derived_sessions": int(derived), "parts": parts, "rest_us_per_record": round(rest / stored * 1e6, 1),
              "load": load()}
    print(f"fleet loop: {conversations} conversations, {stored} log records at {rate}/s, {passes} passes:"
          f" enrichment {result['enrich_us_per_record']} µs CPU/record, {derived} sessions; load {result['load']}",
          flush=True)
    _print_parts(parts, "record", result["rest_us_per_record"])
    return result


def bench_query_scale(conversations: int, copies: list[int], batches: int = 10) -> dict[str, Any]:
    """The group-finding and load queries of a pass, per call, as the events table grows:
    a stored fleet, then copies of it under renamed session, parent and CLI run ids (the
    same shapes, more rows), each query timed over the same batches of SEED_BATCH sessions
    of the original fleet. Flat: a query's cost does not grow with the table."""
    from bench.query_load import BaseSpec, load_base
    from enrich.segments import CHAIN_WINDOW_US
    from enrich.service import EPOCH, SEED_BATCH, Enricher, _keys
    from storage.sql_files import load_query_compact

    storage = _scratch_storage("bench_query_scale")
    figures: list[dict[str, Any]] = []
    try:
        load_base(storage, BaseSpec(conversations=conversations), lambda line: print(line, flush=True))
        keys = sorted(set(storage.query_rows("SELECT DISTINCT OrgId, SessionId FROM events")))
        runs = sorted(set(storage.query_rows("SELECT DISTINCT OrgId, CliRunId FROM events WHERE CliRunId != ''")))
        groups = [keys[i:i + SEED_BATCH] for i in range(0, len(keys), SEED_BATCH)][:batches]
        columns = [row[0] for row in storage.query_rows(
            "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'events'"
            " AND default_kind != 'MATERIALIZED' AND name != 'IngestedAt' ORDER BY position")]
        renamed = {"SessionId": "concat(SessionId, {suffix:String})",
                   "ParentSessionId": "if(ParentSessionId != '', concat(ParentSessionId, {suffix:String}), '')",
                   "CliRunId": "if(CliRunId != '', concat(CliRunId, {suffix:String}), '')"}
        copy = (f"INSERT INTO events ({', '.join(columns)}) SELECT {', '.join(renamed.get(c, c) for c in columns)}"
                " FROM events WHERE SessionId NOT LIKE '%~copy%'")

        def params(group: list[tuple[str, str]]) -> dict[str, Any]:
            orgs = {org for org, _ in group}
            group_runs = [run for run in runs if run[0] in orgs][:SEED_BATCH]
            return {**_keys(group), "runs": group_runs, "parent_ids": sorted({s for _, s in group}),
                    "run_ids": sorted({r for _, r in group_runs}), "since": EPOCH,
                    "low": spans[group[0]][0], "high": spans[group[0]][1],
                    "probes": [(org, 1, "") for org, _ in group[:1]]}

        # the neighbours query's window: the batch's own time span, widened as the Enricher
        # widens a probe (CHAIN_WINDOW_US)
        spans: dict[tuple[str, str], tuple[datetime, datetime]] = {}
        for group in groups:
            low, high = storage.query_rows(
                "SELECT min(Timestamp), max(Timestamp) FROM events WHERE (OrgId, SessionId) IN {keys:Array(Tuple(String, String))}",
                {"keys": group})[0]
            spans[group[0]] = (low - timedelta(microseconds=CHAIN_WINDOW_US), high + timedelta(microseconds=CHAIN_WINDOW_US))
        made = 1
        for target in copies:
            if made < target:
                while made < target:
                    storage.command(copy, {"suffix": f"~copy{made}"})
                    made += 1
                storage.command("OPTIMIZE TABLE events FINAL")
                Enricher(storage).derive_all()  # the derived tables grow with the events
            rows = int(storage.query_rows("SELECT count() FROM events")[0][0])
            per_call: dict[str, float] = {}
            for name in ("enrich_load_events", "enrich_related_sessions", "enrich_sequence_neighbours",
                         "enrich_thread_members", "enrich_existing_keys", "enrich_rederive_marks"):
                sql = load_query_compact(name)
                storage.query_rows(sql, params(groups[0]))  # untimed: caches warm
                start = time.process_time()
                for group in groups:
                    storage.query_rows(sql, params(group))
                per_call[name] = round((time.process_time() - start) / len(groups) * 1e3, 2)
            figures.append({"copies": target, "events": rows, "ms_per_call": per_call, "load": load()})
            print(f"query scale: {rows:>9} events (x{target}): " +
                  ", ".join(f"{n.removeprefix('enrich_')} {ms}" for n, ms in per_call.items()) +
                  f" ms CPU a call; load {load()}", flush=True)
        # the related-sessions query on the largest table without its bare-id prefilter
        prefilter = "AND (ParentSessionId IN {parent_ids:Array(String)} OR CliRunId IN {run_ids:Array(String)})"
        sql = load_query_compact("enrich_related_sessions")
        assert prefilter in sql
        sql = sql.replace(prefilter, "")
        storage.query_rows(sql, params(groups[0]))
        start = time.process_time()
        for group in groups:
            storage.query_rows(sql, params(group))
        unfiltered = round((time.process_time() - start) / len(groups) * 1e3, 2)
        print(f"query scale: related_sessions without its bare-id prefilter, {figures[-1]['events']} events:"
              f" {unfiltered} ms CPU a call; load {load()}", flush=True)
    finally:
        _drop(storage)
    first = figures[0]["ms_per_call"]
    for figure in figures:
        figure["ratio_to_first"] = {n: round(ms / first[n], 2) if first[n] else None for n, ms in figure["ms_per_call"].items()}
    return {"conversations": conversations, "batches": len(groups), "sizes": figures,
            "related_sessions_without_prefilter_ms": unfiltered}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--shapes", default="issue,hot,fleet")
    parser.add_argument("--rounds", type=int, default=5, help="derive: rounds of (largest size) events per size")
    parser.add_argument("--e2e-records", type=int, default=20_000)
    parser.add_argument("--e2e-sessions", type=int, default=4)
    parser.add_argument("--e2e-batch", type=int, default=500)
    parser.add_argument("--e2e-modes", default="every-batch,loop")
    parser.add_argument("--fleet-conversations", type=int, default=0,
                        help="fleet pass: derive a stored fleet of this many conversations whole (0: skip)")
    parser.add_argument("--fleet-loop-conversations", type=int, default=0,
                        help="fleet loop: a fleet of this many conversations arriving live, background passes (0: skip)")
    parser.add_argument("--fleet-loop-rate", type=int, default=3000,
                        help="fleet loop: records per second the passes see arriving")
    parser.add_argument("--query-scale-conversations", type=int, default=0,
                        help="query scale: time a pass's queries as a stored fleet of this many conversations is copied (0: skip)")
    parser.add_argument("--query-scale-copies", default="1,10", help="query scale: table sizes, in copies of the fleet")
    parser.add_argument("--quick", action="store_true", help="small sizes, for the smoke test")
    parser.add_argument("--results-dir", type=Path, default=REPO_ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.e2e_records, args.e2e_batch, args.rounds = "200,800", 600, 100, 2
        args.fleet_conversations = min(args.fleet_conversations, 20)
        args.fleet_loop_conversations = min(args.fleet_loop_conversations, 20)
        args.query_scale_conversations = min(args.query_scale_conversations, 20)
    results = run(
        [int(s) for s in args.sizes.split(",")], args.shapes.split(","),
        args.e2e_records, args.e2e_sessions, args.e2e_batch, args.e2e_modes.split(","), args.results_dir,
        args.rounds, args.fleet_conversations, args.fleet_loop_conversations, args.fleet_loop_rate,
        args.query_scale_conversations, [int(c) for c in args.query_scale_copies.split(",")],
    )
    print(f"results: {results['path']}")
    return 0


def run(sizes: list[int], shapes: list[str], e2e_records: int, e2e_sessions: int, e2e_batch: int,
        modes: list[str], results_dir: Path, rounds: int = 5, fleet_conversations: int = 0,
        fleet_loop_conversations: int = 0, fleet_loop_rate: int = 3000,
        query_scale_conversations: int = 0, query_scale_copies: list[int] | None = None) -> dict[str, Any]:
    """Run both parts; returns (and writes) the results."""
    print(f"loomline enrichment benchmark: {cpu_model()}, {os.cpu_count()} CPUs, load {load()}", flush=True)
    results: dict[str, Any] = {
        "commit": git_commit(), "cpu": cpu_model(), "cpus": os.cpu_count(), "load_start": load(),
        "derive": bench_derive(sizes, shapes, rounds),
        "e2e": [bench_e2e(e2e_records, e2e_sessions, e2e_batch, mode) for mode in modes if e2e_records],
        "fleet_pass": bench_fleet_pass(fleet_conversations) if fleet_conversations else None,
        "fleet_loop": bench_fleet_loop(fleet_loop_conversations, fleet_loop_rate) if fleet_loop_conversations else None,
        "query_scale": bench_query_scale(query_scale_conversations, query_scale_copies or [1, 10])
        if query_scale_conversations else None,
        "load_end": load(),
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"enrich-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(results, indent=2))
    results["path"] = str(path)
    return results


if __name__ == "__main__":
    sys.exit(main())
