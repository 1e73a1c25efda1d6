"""Incremental passes (per-session event cache, IngestedAt reads) and debouncing give the
rows a fresh, whole derivation gives: against a real ClickHouse engine (chDB)."""

from __future__ import annotations

from datetime import UTC, datetime
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
