"""Query benchmark, part 1: the dataset (loaded once, reused by later runs).

A seeded fleet (loomline.fleet) is decoded by the receiver's own decoder and stored the
way the receiver stores it, then enriched (``Enricher.derive_all``). That base is
multiplied inside ClickHouse: ``INSERT ... SELECT`` copies k = 1..N of ``events`` and of
every derived table (llm_sessions, threads, session_segments, session_links, compactions,
cli_runs) with every id rewritten the same way in every table (session, thread, prompt,
cli run and user ids, event keys and compaction keys, the ids inside ``Attributes``) and
timestamps shifted by up to 7 days. Raw ``otel_*`` tables are not multiplied: neither the
API nor a panel reads them. Then ``OPTIMIZE ... FINAL``. ``check_scaling`` checks that
counts are (N + 1) x the base. The measurements are in bench/query.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

# Every table the API and the dashboards read (raw otel_* tables are read by neither).
DERIVED_TABLES = (
    "llm_sessions",
    "threads",
    "session_segments",
    "session_links",
    "compactions",
    "cli_runs",
)
COPIED_TABLES = ("events", *DERIVED_TABLES)
META_TABLE = "bench_query_meta"
COPY = "bench_copy"  # the ARRAY JOIN column: copy number k
SHIFT_PERIOD_S = 7 * 86400  # copies are shifted by up to a week
USER_VARIANTS_DEFAULT = 5  # copy k belongs to user variant k % 5 (0: the original user)
COPY_CHUNK = 16  # copies per INSERT ... SELECT

# The fleet shape: ~52 events per session (the 10M events / 200k sessions).
FLEET_SHAPE = {"prompts_per_run": 3.0, "tool_steps": 1.75, "clear_rate": 0.28, "fork_rate": 0.09}


@dataclass(frozen=True)
class BaseSpec:
    """The fleet that is ingested for real before being multiplied."""

    conversations: int = 1000
    orgs: int = 20
    users: int = 200
    days: int = 30
    seed: int = 1

    def fleet_spec(self) -> Any:
        from loomline.fleet import FleetSpec

        return FleetSpec(
            seed=self.seed,
            orgs=self.orgs,
            users=self.users,
            sessions=self.conversations,
            days=self.days,
            **FLEET_SHAPE,
        )


# ---------------------------------------------------------------------------------------
# id and time rewriting: one SQL expression per kind of value, the same in every table


def _sid(x: str) -> str:
    """A session / thread / prompt id of copy k: the UUID's last 12 hex digits replaced."""
    return (
        f"if({x} = '', '', concat(substring({x}, 1, 24), "
        f"lower(leftPad(hex(cityHash64({x}, toUInt64({COPY})) % 281474976710656), 12, '0'))))"
    )


def _user_variant(variants: int) -> str:
    return f"(toUInt64({COPY}) % {int(variants)})"


def _uid(x: str, variants: int) -> str:
    """A user id / account uuid: the original's for variant 0, else its last 12 chars replaced."""
    v = _user_variant(variants)
    return (
        f"if({v} = 0 OR {x} = '', {x}, concat(substring({x}, 1, length({x}) - 12), "
        f"lower(leftPad(hex(cityHash64({x}, {v}) % 281474976710656), 12, '0'))))"
    )


def _email(x: str, variants: int) -> str:
    v = _user_variant(variants)
    return f"if({v} = 0 OR {x} = '', {x}, replaceOne({x}, '@', concat('+', toString({v}), '@')))"


def _cli_run(x: str) -> str:
    return f"if({x} = '', '', concat({x}, '/', toString({COPY})))"


def _key_salt() -> str:
    return f"cityHash64('loomline-bench-copy', toUInt64({COPY}))"


def _event_key(x: str) -> str:
    return f"bitXor({x}, {_key_salt()})"


def _compaction_key(x: str) -> str:
    """compaction_key is the compaction event's EventKey as 16 hex digits (``hook:`` + that
    for a bridge PreCompact): rewritten exactly as the EventKey is."""

    def hexkey(h: str) -> str:
        return f"lower(leftPad(hex({_event_key(f'reinterpretAsUInt64(reverse(unhex({h})))')}), 16, '0'))"

    return f"if(startsWith({x}, 'hook:'), concat('hook:', {hexkey(f'substring({x}, 6)')}), {hexkey(x)})"


def _shift_seconds() -> str:
    return f"((toUInt64({COPY}) * 613337) % {SHIFT_PERIOD_S})"


def _time(x: str) -> str:
    return f"addSeconds({x}, {_shift_seconds()})"


def _sids(x: str) -> str:
    return f"arrayMap(s -> {_sid('s')}, {x})"


def _attributes(x: str, variants: int) -> str:
    return (
        f"mapApply((n, v) -> (n, multiIf("
        f"n IN ('session.id', 'prompt.id', 'loomline.parent_session_id'), {_sid('v')}, "
        f"n IN ('user.id', 'user.account_uuid'), {_uid('v', variants)}, "
        f"n = 'user.email', {_email('v', variants)}, "
        f"n = 'loomline.cli_run.id', {_cli_run('v')}, v)), {x})"
    )


def rewrites(variants: int) -> dict[str, dict[str, str]]:
    """table -> column -> expression of copy ``bench_copy``; other columns are copied as they are."""
    sid, uid, email = _sid, (lambda c: _uid(c, variants)), (lambda c: _email(c, variants))
    return {
        "events": {
            "SessionId": sid("SessionId"),
            "EventKey": _event_key("EventKey"),
            "Timestamp": _time("Timestamp"),
            "PromptId": sid("PromptId"),
            "CliRunId": _cli_run("CliRunId"),
            "ParentSessionId": sid("ParentSessionId"),
            "UserId": uid("UserId"),
            "UserEmail": email("UserEmail"),
            "AccountUuid": uid("AccountUuid"),
            "Attributes": _attributes("Attributes", variants),
        },
        "llm_sessions": {
            "session_id": sid("session_id"),
            "thread_id": sid("thread_id"),
            "parent_thread_id": sid("parent_thread_id"),
            "user_id": uid("user_id"),
            "user_email": email("user_email"),
            "account_uuid": uid("account_uuid"),
            "started_at": _time("started_at"),
            "last_activity_at": _time("last_activity_at"),
            "closed_at": _time("closed_at"),
            "last_compacted_at": _time("last_compacted_at"),
        },
        "threads": {
            "thread_id": sid("thread_id"),
            "root_session_id": sid("root_session_id"),
            "parent_thread_id": sid("parent_thread_id"),
            "session_ids": _sids("session_ids"),
            "first_activity_at": _time("first_activity_at"),
            "last_activity_at": _time("last_activity_at"),
            "closed_at": _time("closed_at"),
            "user_id": uid("user_id"),
            "user_email": email("user_email"),
        },
        "session_segments": {
            "session_id": sid("session_id"),
            "started_at": _time("started_at"),
            "ended_at": _time("ended_at"),
            "cli_run_id": _cli_run("cli_run_id"),
        },
        "session_links": {
            "from_session_id": sid("from_session_id"),
            "to_session_id": sid("to_session_id"),
            "created_at": _time("created_at"),
        },
        "compactions": {
            "session_id": sid("session_id"),
            "compaction_key": _compaction_key("compaction_key"),
            "thread_id": sid("thread_id"),
            "timestamp": _time("timestamp"),
            "prompt_id": sid("prompt_id"),
        },
        "cli_runs": {
            "cli_run_id": _cli_run("cli_run_id"),
            "started_at": _time("started_at"),
            "ended_at": _time("ended_at"),
            "session_ids": _sids("session_ids"),
        },
    }


def copy_id(storage: Any, value: str, copy: int) -> str:
    """The id ``value`` (session / thread) has in copy ``copy`` (0: itself)."""
    if copy == 0:
        return value
    return storage.query_rows(
        f"SELECT {_sid('x')} FROM (SELECT {{x:String}} AS x, {{k:UInt64}} AS {COPY})",
        {"x": value, "k": copy},
    )[0][0]


def shift_seconds(copy: int) -> int:
    return (copy * 613337) % SHIFT_PERIOD_S


# ---------------------------------------------------------------------------------------
# loading


def _columns(storage: Any, table: str) -> list[str]:
    rows = storage.query_rows(
        "SELECT name FROM system.columns WHERE database = {db:String} AND table = {t:String}"
        " AND default_kind NOT IN ('MATERIALIZED', 'ALIAS', 'EPHEMERAL') ORDER BY position",
        {"db": storage.database, "t": table},
    )
    return [r[0] for r in rows]


def read_meta(storage: Any) -> dict[str, Any]:
    """The benchmark's bookkeeping (which dataset this database holds), creating its table."""
    storage.command(
        f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key String, value String,"
        " at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = ReplacingMergeTree(at) ORDER BY key"
    )
    return {
        k: json.loads(v)
        for k, v in storage.query_rows(f"SELECT key, value FROM {META_TABLE} FINAL")
    }


def _set_meta(storage: Any, **values: Any) -> None:
    storage.client.insert(
        META_TABLE, [[k, json.dumps(v)] for k, v in values.items()], column_names=["key", "value"]
    )


def counts(storage: Any) -> dict[str, int]:
    """Rows per table as the API sees them (FINAL, without tombstones), plus org count."""
    out: dict[str, int] = {}
    out["events"] = int(storage.query_rows("SELECT count() FROM events FINAL")[0][0])
    for table in DERIVED_TABLES:
        out[table] = int(
            storage.query_rows(f"SELECT count() FROM {table} FINAL WHERE is_deleted = 0")[0][0]
        )
    out["orgs"] = int(storage.query_rows("SELECT uniqExact(OrgId) FROM events")[0][0])
    out["users"] = int(
        storage.query_rows(
            "SELECT uniqExact(user_id) FROM llm_sessions FINAL WHERE is_deleted = 0"
        )[0][0]
    )
    row = storage.query_rows("SELECT min(Timestamp), max(Timestamp) FROM events")[0]
    out["first_event"], out["last_event"] = str(row[0]), str(row[1])
    return out


def _sums(storage: Any) -> dict[str, int]:
    """Exact figures that must scale by (copies + 1)."""
    return {
        "events_cost_micros": int(
            storage.query_rows("SELECT sum(CostMicros) FROM events FINAL")[0][0] or 0
        ),
        "threads_cost_micros": int(
            storage.query_rows("SELECT sum(cost_micros) FROM threads FINAL WHERE is_deleted = 0")[
                0
            ][0]
            or 0
        ),
        "compactions_in_threads": int(
            storage.query_rows(
                "SELECT sum(compaction_count) FROM threads FINAL WHERE is_deleted = 0"
            )[0][0]
            or 0
        ),
    }


def _per_org(signal: str, request: Any, sessions: dict[str, str]) -> list[tuple[str | None, Any]]:
    """A logs request split per resource, each with the org of its session.

    Claude Code's records carry ``organization.id``; the ``loomline hook`` bridge's do not,
    so the receiver files them under the org of the receiver token that sent them
    (``default`` without tokens), apart from the session's own events. Here every org is
    taken to send with a token mapped to its org id (receiver ``DecodeContext.default_org``),
    so a session's bridge records land in its org. Other signals pass unchanged."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    if signal != "logs":
        return [(None, request)]
    parts = []
    for resource_logs in request.resource_logs:
        session = ""
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                for kv in record.attributes:
                    if kv.key == "session.id":
                        session = kv.value.string_value
                        break
                if session:
                    break
            if session:
                break
        part = ExportLogsServiceRequest()
        part.resource_logs.append(resource_logs)
        parts.append((sessions.get(session, ""), part))
    return parts


def load_base(storage: Any, spec: BaseSpec, log: Callable[[str], None]) -> dict[str, Any]:
    """Generate, decode (the receiver's decoder), store (the receiver's store_batch, in
    blocks as large as its writer makes) and enrich the base fleet."""
    from enrich.service import Enricher
    from loomline.fleet import Fleet
    from receiver.attributes import Limits
    from receiver.batch import DecodeContext
    from receiver.decode import decode_request
    from receiver.pipeline import MAX_COALESCED_ROWS, _merge
    from receiver.store import store_batch

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    fleet = Fleet(spec.fleet_spec())
    requests = list(fleet.requests())
    sessions: dict[str, str] = {}
    for sid, truth in fleet.ground_truth.sessions.items():
        sessions[sid] = truth.org_id
        sessions.update(
            dict.fromkeys(truth.ghost_session_ids, truth.org_id)
        )  # --continue start-up ids
    limits = Limits()
    batches = []
    unattributed = 0
    for signal, request in requests:
        for org, part in _per_org(signal, request, sessions):
            unattributed += org == ""  # a logs part whose session the fleet does not know
            context = (
                DecodeContext() if org is None else DecodeContext(default_org=org or "default")
            )
            batches.append(decode_request(signal, part, limits, context))
    timings["generate_decode"] = time.perf_counter() - t0
    log(
        f"  base fleet generated and decoded: {len(requests)} requests in {timings['generate_decode']:.1f} s"
    )

    t0 = time.perf_counter()
    blocks, current, rows = [], [], 0
    for batch in batches:
        current.append(batch)
        rows += batch.accepted
        if rows >= MAX_COALESCED_ROWS:
            blocks.append(_merge(current))
            current, rows = [], 0
    if current:
        blocks.append(_merge(current))
    for block in blocks:
        store_batch(storage, block)
    timings["store"] = time.perf_counter() - t0
    log(f"  stored in {timings['store']:.1f} s")

    t0 = time.perf_counter()
    # A fixed "now" a month after the data: every derivation sees the same idle timeouts.
    now = spec.fleet_spec().start + timedelta(days=spec.days + 60)
    stats = Enricher(storage).derive_all(now=now)
    timings["enrich"] = time.perf_counter() - t0
    log(f"  enriched in {timings['enrich']:.1f} s: {stats}")
    return {
        "timings": {k: round(v, 2) for k, v in timings.items()},
        "unattributed_log_parts": unattributed,
        "enrich": stats,
        "fleet": fleet.ground_truth.summary(),
    }


def multiply(storage: Any, copies: int, variants: int, log: Callable[[str], None]) -> float:
    """Copies 1..copies of events and every derived table, by INSERT ... SELECT from a
    snapshot of the base. Returns seconds."""
    started = time.perf_counter()
    exprs = rewrites(variants)
    settings = {"max_insert_threads": 2, "max_threads": 2}
    for table in COPIED_TABLES:
        base = f"bench_base_{table}"
        storage.command(f"DROP TABLE IF EXISTS {base}")
        storage.command(f"CREATE TABLE {base} AS {table}")
        storage.command(f"INSERT INTO {base} SELECT * FROM {table}")
    for table in COPIED_TABLES:
        base = f"bench_base_{table}"
        names = _columns(storage, table)
        select = ", ".join(exprs[table].get(n, n) for n in names)
        t0 = time.perf_counter()
        for first in range(1, copies + 1, COPY_CHUNK):
            last = min(copies, first + COPY_CHUNK - 1)
            storage.command(
                f"INSERT INTO {table} ({', '.join(names)}) SELECT {select} FROM {base} "
                f"ARRAY JOIN range({first}, {last + 1}) AS {COPY}",
                settings=settings,
            )
        log(f"  {table}: {copies} copies in {time.perf_counter() - t0:.1f} s")
    for table in COPIED_TABLES:
        storage.command(f"DROP TABLE IF EXISTS bench_base_{table}")
    return time.perf_counter() - started


def optimize(storage: Any, log: Callable[[str], None]) -> float:
    t0 = time.perf_counter()
    for table in COPIED_TABLES:
        t1 = time.perf_counter()
        storage.command(f"OPTIMIZE TABLE {table} FINAL", settings={"max_threads": 2})
        log(f"  OPTIMIZE {table} FINAL: {time.perf_counter() - t1:.1f} s")
    return time.perf_counter() - t0


def _sample_threads(storage: Any, limit: int) -> list[tuple[str, str]]:
    """Base threads worth comparing: the ones with most sessions, compactions, links."""
    rows = storage.query_rows(
        "SELECT org_id, thread_id FROM threads FINAL WHERE is_deleted = 0"
        " ORDER BY session_count + compaction_count + failed_compaction_count + (parent_thread_id != '') DESC,"
        " cost_micros DESC, thread_id LIMIT {n:UInt32}",
        {"n": limit},
    )
    return [(r[0], r[1]) for r in rows]


def ensure_dataset(
    storage: Any,
    spec: BaseSpec,
    copies: int | None,
    events_target: int,
    variants: int,
    do_optimize: bool,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Load the dataset unless this database already holds exactly this one."""
    wanted = {
        "base": asdict(spec),
        "fleet_shape": FLEET_SHAPE,
        "copies": copies,
        "events_target": events_target,
        "user_variants": variants,
        "optimize": do_optimize,
        "loader": 2,  # bump when loading changes: a data dir of an older loader is reloaded
    }
    meta = read_meta(storage)
    if meta.get("params") == wanted and meta.get("state") == "complete":
        log("dataset already loaded at this scale; reusing it")
        return {**meta["load"], "reused": True}
    log("loading the dataset")
    for table in (*COPIED_TABLES, "otel_logs", "otel_traces", "otel_metrics_sum"):
        storage.command(f"TRUNCATE TABLE IF EXISTS {table}")
    _set_meta(storage, params=wanted, state="loading")
    started = time.perf_counter()
    base = load_base(storage, spec, log)
    base_counts, base_sums = counts(storage), _sums(storage)
    if copies is None:
        copies = max(0, round(events_target / max(base_counts["events"], 1)) - 1)
    sample = _sample_threads(storage, 12)
    log(f"  base: {base_counts}; making {copies} copies")
    multiply_s = multiply(storage, copies, variants, log)
    optimize_s = optimize(storage, log) if do_optimize else 0.0
    load = {
        "reused": False,
        "copies": copies,
        "base": {**base, "counts": base_counts, "sums": base_sums},
        "sample_threads": sample,
        "seconds": {
            "base_generate_decode": base["timings"]["generate_decode"],
            "base_store": base["timings"]["store"],
            "base_enrich": base["timings"]["enrich"],
            "multiply": round(multiply_s, 2),
            "optimize": round(optimize_s, 2),
            "total": round(time.perf_counter() - started, 2),
        },
    }
    _set_meta(storage, load=load, state="complete")
    log(f"loaded in {load['seconds']['total']:.0f} s")
    return load


def check_scaling(storage: Any, load: dict[str, Any]) -> dict[str, Any]:
    """Every count and exact sum is (copies + 1) x the base's."""
    factor = load["copies"] + 1
    now_counts, now_sums = counts(storage), _sums(storage)
    base_counts, base_sums = load["base"]["counts"], load["base"]["sums"]
    mismatches = []
    for name in ("events", *DERIVED_TABLES):
        if now_counts[name] != base_counts[name] * factor:
            mismatches.append(f"{name}: {now_counts[name]} != {base_counts[name]} x {factor}")
    for name, value in base_sums.items():
        if now_sums[name] != value * factor:
            mismatches.append(f"{name}: {now_sums[name]} != {value} x {factor}")
    if now_counts["orgs"] != base_counts["orgs"]:
        mismatches.append(f"orgs: {now_counts['orgs']} != {base_counts['orgs']}")
    return {
        "counts": now_counts,
        "sums": now_sums,
        "factor": factor,
        "ok": not mismatches,
        "mismatches": mismatches,
    }
