"""Incremental passes (per-session event cache, IngestedAt reads) and debouncing give the
rows a fresh, whole derivation gives: against a real ClickHouse engine (chDB)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from enrich.service import Enricher
from receiver.store import store_batch
from storage.client import Storage
from tests.test_enrich_replay import scenario_batches, scenario_events

# placeholder folding + resumes, /clear in one process, a fork, compactions: batch by batch
INCREMENTAL = ("resume_continue", "interactive_clear_exit", "fork", "compact_manual")
TABLES = ("llm_sessions", "session_segments", "session_links", "compactions", "cli_runs", "threads")


def snapshot(storage: Storage) -> dict[str, list[tuple[Any, ...]]]:
    return {table: sorted(storage.query_rows(f"SELECT * EXCEPT (derived_at) FROM {table} FINAL"), key=repr)
            for table in TABLES}


def test_batch_by_batch_with_cache_equals_one_whole_derivation(storage: Storage) -> None:
    batches = [b for scenario in INCREMENTAL for b in scenario_batches(scenario, True)]
    last = max(e.timestamp for scenario in INCREMENTAL for e in scenario_events(scenario, True))
    now = datetime.fromtimestamp(last / 1e6 + 60, UTC)
    enricher = Enricher(storage)
    for i, batch in enumerate(batches):
        store_batch(storage, batch)
        if i % 3 == 1:
            store_batch(storage, batches[i - 1])  # an exporter retry: the same records stored twice
        enricher.mark_dirty(batch.sessions)
        if i % 2 or i == len(batches) - 1:
            enricher.run_once(now=now)
    incremental = snapshot(storage)
    assert incremental["llm_sessions"]
    fresh = Enricher(storage)
    fresh.derive_all(now=now)  # no cache: every session read whole
    assert snapshot(storage) == incremental
    # the retried copies merged away: the same rows as when they were read twice
    assert storage.query_rows("SELECT count() - uniqExact(EventKey) FROM events")[0][0] > 0
    storage.command("OPTIMIZE TABLE events FINAL")
    assert storage.query_rows("SELECT count() - uniqExact(EventKey) FROM events")[0][0] == 0
    Enricher(storage).derive_all(now=now)
    assert snapshot(storage) == incremental


def test_background_pass_debounces_a_hot_group_with_bounded_staleness(storage: Storage) -> None:
    clock = [100.0]
    enricher = Enricher(storage, clock=lambda: clock[0])
    batches = scenario_batches("fresh_tool", False)
    last = max(e.timestamp for e in scenario_events("fresh_tool", False))
    now = datetime.fromtimestamp(last / 1e6 + 60, UTC)
    half = len(batches) // 2 or 1
    for batch in batches[:half]:
        store_batch(storage, batch)
        enricher.mark_dirty(batch.sessions)
    assert enricher.run_background_pass(now=now)["sessions"] == 1  # never derived: at once
    before = storage.query_rows("SELECT event_count FROM llm_sessions FINAL")
    for batch in batches[half:]:
        store_batch(storage, batch)
        enricher.mark_dirty(batch.sessions)
    held = enricher.run_background_pass(now=now)  # derived a moment ago: waits, stays dirty
    assert held.get("debounced") == 1 and held.get("sessions", 0) == 0, held
    assert storage.query_rows("SELECT event_count FROM llm_sessions FINAL") == before
    clock[0] += enricher.max_staleness_s  # the staleness bound has passed
    assert enricher.run_background_pass(now=now)["sessions"] == 1
    total = sum(len(b.tables.get("events", {}).get("EventKey", [])) for b in batches)
    assert storage.query_rows("SELECT event_count FROM llm_sessions FINAL") == [(total,)]


def _event_rows(scenarios: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = []
    for scenario in scenarios:
        for batch in scenario_batches(scenario, True):
            columns = batch.tables.get("events", {})
            names = list(columns)
            rows += [dict(zip(names, values, strict=True)) for values in zip(*(columns[n] for n in names), strict=True)]
    return rows


def _insert(storage: Storage, rows: list[dict[str, Any]], ingested_ms: int | None = None) -> None:
    """Insert event rows; with ``ingested_ms``, stamped with that IngestedAt (a commit that
    arrives after rows stamped later: a slow insert, another process)."""
    columns: dict[str, list[Any]] = {name: [row[name] for row in rows] for name in rows[0]}
    if ingested_ms is not None:
        columns["IngestedAt"] = [datetime.fromtimestamp(ingested_ms / 1000, UTC)] * len(rows)
    storage.insert_columns("events", columns)


def test_watermark_finds_commits_that_arrive_out_of_order(storage: Storage) -> None:
    """Rows committed after the watermark passed their IngestedAt (inside the overlap) are
    found without anyone marking their sessions: for a cached session (its events are read
    again from the late rows on), a new session, and a second block in an already seen ms."""
    scenarios = ("fresh_tool", "interactive_clear_exit")
    rows = _event_rows(scenarios)
    last = max(row["Timestamp"] for row in rows)
    now = (last if isinstance(last, datetime) else datetime.fromtimestamp(last / 1e9, UTC)) + timedelta(minutes=1)
    first = [r for r in rows if r["SessionId"] == rows[0]["SessionId"]]
    others = [r for r in rows if r["SessionId"] != rows[0]["SessionId"]]
    half = len(first) // 2
    enricher = Enricher(storage)
    _insert(storage, first[:half])
    enricher.run_background_pass(now=now)  # derived, its events cached
    watermark = storage.query_rows("SELECT toUnixTimestamp64Milli(max(IngestedAt)) FROM events")[0][0]
    _insert(storage, first[half:half + 2], ingested_ms=watermark)  # a second block in a seen ms
    _insert(storage, first[half + 2:], ingested_ms=watermark - 2_000)  # behind the watermark
    _insert(storage, others, ingested_ms=watermark - 1_000)  # sessions never seen
    enricher.clock = lambda: 1e9  # past any debounce
    enricher.run_background_pass(now=now)
    incremental = snapshot(storage)
    assert sum(r[0] for r in storage.query_rows("SELECT event_count FROM llm_sessions FINAL")) == \
        storage.query_rows("SELECT uniqExact(EventKey) FROM events")[0][0]
    Enricher(storage).derive_all(now=now)
    assert snapshot(storage) == incremental


def test_a_process_split_over_sessions_is_found_from_any_one_under_a_hostile_user_id(storage: Storage) -> None:
    """`/clear` continues one process's sequence in a new session. Seeded with one session
    at a time, with no run id to go by, the (sequence, user) pairs probed for must find the
    others, with the user id bound as data: quotes, backslashes and SQL in it change nothing."""
    rows = _event_rows(("interactive_clear_exit",))
    hostile = "o'brien\\\"), ('1', 'x')) OR 1=1; DROP TABLE events; --"
    for row in rows:
        row["UserId"] = hostile
        row["CliRunId"] = ""  # only the sequence numbers tie the sessions together
    sessions = sorted({(row["OrgId"], row["SessionId"]) for row in rows})
    assert len(sessions) > 1
    last = max(row["Timestamp"] for row in rows)
    now = (last if isinstance(last, datetime) else datetime.fromtimestamp(last / 1e9, UTC)) + timedelta(minutes=1)
    _insert(storage, rows)
    Enricher(storage).derive_all(now=now)
    whole = snapshot(storage)
    assert len(whole["llm_sessions"]) == len(sessions)
    for seed in sessions:
        enricher = Enricher(storage)
        enricher.run_once(now=now)  # past the watermark: from here on only marked sessions
        enricher.clear_cache()
        for table in TABLES:
            storage.command(f"TRUNCATE TABLE {table}")
        enricher.mark_dirty({seed})
        enricher.run_once(now=now)
        assert snapshot(storage) == whole, seed
