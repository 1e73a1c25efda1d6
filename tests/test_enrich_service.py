"""The Enricher against a real ClickHouse engine (chDB): what readers of the derived
tables see after the captures are stored."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from bridge.record import HookContext, build_record
from enrich.derive import derive
from enrich.model import event_from_row
from enrich.service import Enricher
from receiver.attributes import Limits
from receiver.batch import DecodeContext
from receiver.decode import decode_request
from receiver.store import store_batch
from storage.client import Storage, open_storage
from tests.fixtures import SCENARIOS
from tests.test_enrich_replay import scenario_batches, scenario_events

MINUTE = 60.0


def store(storage: Storage, scenario: str, hooks: bool) -> datetime:
    """Store a capture; returns a 'now' one minute after its last event."""
    for batch in scenario_batches(scenario, hooks):
        store_batch(storage, batch)
    last = max(e.timestamp for e in scenario_events(scenario, hooks))
    return datetime.fromtimestamp(last / 1e6 + MINUTE, UTC)


def rows(storage: Storage, sql: str) -> list[dict[str, Any]]:
    return storage.query_dicts(sql)


def test_all_captures_through_storage(storage: Storage) -> None:
    now = max(store(storage, scenario, hooks=True) for scenario in SCENARIOS)
    stats = Enricher(storage).run_once(now=now)
    assert stats["sessions"] == 10
    sessions = {r["session_id"]: r for r in rows(storage, "SELECT * FROM llm_sessions FINAL")}
    events = [e for scenario in SCENARIOS for e in scenario_events(scenario, True)]
    expected = derive(events, int(now.timestamp() * 1e6))
    assert set(sessions) == {s.session_id for s in expected.sessions}
    for s in expected.sessions:
        row = sessions[s.session_id]
        assert (row["thread_id"], row["close_reason"], row["segment_count"], row["cost_micros"]) == (
            s.thread_id, s.close_reason, s.segment_count, s.usage.cost_micros)
    # costs add up exactly against the events table, per session and per thread
    by_session = dict(storage.query_rows(
        "SELECT SessionId, sum(CostMicros) FROM events FINAL WHERE EventName = 'api_request' GROUP BY SessionId"))
    for session_id, row in sessions.items():
        assert row["cost_micros"] == by_session.get(session_id, 0)
    thread_sums = storage.query_rows(
        "SELECT t.thread_id, t.cost_micros, t.input_tokens, sum(s.cost_micros), sum(s.input_tokens)"
        " FROM threads AS t FINAL JOIN llm_sessions AS s FINAL ON s.thread_id = t.thread_id"
        " GROUP BY t.thread_id, t.cost_micros, t.input_tokens")
    assert thread_sums and all(r[1] == r[3] and r[2] == r[4] for r in thread_sums)

    fork = rows(storage, "SELECT * FROM threads FINAL WHERE parent_thread_id != ''")
    assert [(t["thread_id"], t["parent_thread_id"]) for t in fork] == [
        ("c9caa1c0-3711-4c5f-9d06-232c23c3492a", "3cfcf546-f49c-46bd-ac61-e8e67fbc89b9")]
    links = rows(storage, "SELECT from_session_id, to_session_id, link_type FROM session_links FINAL ORDER BY link_type")
    assert [r["link_type"] for r in links] == ["cleared_from", "forked_from"]
    runs = rows(storage, "SELECT * FROM cli_runs FINAL WHERE length(session_ids) > 1")
    assert len(runs) == 1 and runs[0]["evidence"] == "hook"
    compactions = rows(storage, "SELECT trigger, success FROM compactions FINAL ORDER BY trigger, success")
    assert [(c["trigger"], c["success"]) for c in compactions] == [("auto", 0), ("auto", 0), ("manual", 1)]
    segments = storage.query_rows("SELECT source, count() FROM session_segments FINAL GROUP BY source ORDER BY source")
    assert dict(segments) == {"clear": 1, "compact": 1, "continue": 1, "fork": 1, "resume": 5, "startup": 8}
    # the --continue placeholder never shows up as a session
    assert "a55630f1-6679-4694-9fdb-c6683cb4f58d" not in sessions


def test_rerun_is_idempotent_and_placeholder_is_tombstoned(storage: Storage) -> None:
    batches = scenario_batches("resume_continue", False)
    enricher = Enricher(storage)
    now = store(storage, "resume_continue", hooks=False)
    # first only the placeholder's process start arrives: it looks like a session of its own
    placeholder = "a55630f1-6679-4694-9fdb-c6683cb4f58d"
    storage.command("TRUNCATE TABLE events")
    for batch in batches:
        part = {c: [v for v, s in zip(vals, batch.tables["events"]["SessionId"], strict=True) if s == placeholder]
                for c, vals in batch.tables.get("events", {}).items()}
        if part and part["SessionId"]:
            storage.insert_columns("events", part)
    enricher.run_once(now=now)
    assert [r[0] for r in storage.query_rows("SELECT session_id FROM llm_sessions FINAL")] == [placeholder]
    for batch in batches:
        store_batch(storage, batch)
    enricher.run_once(now=now)
    first = rows(storage, "SELECT * EXCEPT (derived_at) FROM llm_sessions FINAL")
    assert [r["session_id"] for r in first] == ["d702cac2-24da-4ec8-b704-5d946eccca9e"]
    assert storage.query_rows("SELECT count() FROM threads FINAL") == [(1,)]
    assert storage.query_rows("SELECT count() FROM cli_runs FINAL") == [(3,)]
    enricher.reconcile(now=now)
    assert rows(storage, "SELECT * EXCEPT (derived_at) FROM llm_sessions FINAL") == first


def _bridge_record(session_id: str, ts_us: int, **attributes: Any) -> Any:
    payload = {"session_id": session_id, "hook_event_name": "SessionStart", "cwd": "/home/dev/project", **attributes}
    context = HookContext(host="devbox", time_unix_nano=ts_us * 1000, cli_run_pid=77,
                               cli_run_started_ms=ts_us // 1000, parent_session_id=attributes.pop("parent", ""))
    payload.pop("parent", None)
    return decode_request("logs", build_record(payload, context).to_export_request(), Limits(), DecodeContext())


def test_late_resumed_as_link_re_roots_the_thread(storage: Storage) -> None:
    now = store(storage, "fork", hooks=False)
    enricher = Enricher(storage)
    enricher.run_once(now=now)
    parent, child = "3cfcf546-f49c-46bd-ac61-e8e67fbc89b9", "c9caa1c0-3711-4c5f-9d06-232c23c3492a"
    assert storage.query_rows("SELECT count() FROM threads FINAL") == [(2,)]
    # the bridge's record arrives late and says the second session resumed the first
    start = next(e.timestamp for e in scenario_events("fork", False) if e.session_id == child)
    store_batch(storage, _bridge_record(child, start + 1000, source="resume", parent=parent))
    enricher.run_once(now=now)
    assert storage.query_rows("SELECT thread_id, session_ids FROM threads FINAL") == [(parent, [parent, child])]
    assert storage.query_rows("SELECT session_id, thread_id, thread_position FROM llm_sessions FINAL ORDER BY thread_position") == [
        (parent, parent, 0), (child, parent, 1)]
    assert storage.query_rows("SELECT link_type FROM session_links FINAL") == [("resumed_as",)]


def test_timeout_then_new_activity_reopens(storage: Storage) -> None:
    now = store(storage, "api_retry", hooks=False)
    enricher = Enricher(storage, idle_timeout_minutes=30)
    enricher.run_once(now=now)
    assert storage.query_rows("SELECT close_reason FROM llm_sessions FINAL") == [("open",)]
    later = datetime.fromtimestamp(now.timestamp() + 31 * MINUTE, UTC)
    enricher.run_once(now=later)  # nothing new arrived: the idle-open query finds it
    assert storage.query_rows("SELECT close_reason, status FROM llm_sessions FINAL JOIN threads FINAL USING (thread_id)") == [
        ("timeout", "closed")]
    # new activity in the session: open again
    session_id = scenario_events("api_retry", False)[0].session_id
    last = max(e.timestamp for e in scenario_events("api_retry", False))
    store_batch(storage, _bridge_record(session_id, last + 40 * 60 * 1_000_000, source="resume"))
    enricher.run_once(now=datetime.fromtimestamp(last / 1e6 + 41 * MINUTE, UTC))
    assert storage.query_rows("SELECT close_reason, segment_count FROM llm_sessions FINAL") == [("open", 2)]


def test_a_stale_derivation_never_replaces_a_fresher_one(storage: Storage) -> None:
    now = store(storage, "interactive_clear_exit", hooks=True)
    fresh = Enricher(storage)
    fresh.run_once(now=now)
    before = rows(storage, "SELECT * EXCEPT (derived_at) FROM llm_sessions FINAL ORDER BY session_id")
    # another process read the events before the second session's arrived, and writes late
    loaded = [event_from_row(r) for r in storage.query_dicts(
        "SELECT *, toUnixTimestamp64Micro(Timestamp) AS timestamp_us, toUnixTimestamp64Milli(IngestedAt) - 5000 AS ingested_ms"
        " FROM events FINAL")]
    first_only = [e for e in loaded if e.session_id == "d9a82d06-f49b-4f07-a519-fd0586d61e6a"]
    stale = Enricher(storage)
    stale._derive_group("default", {e.session_id for e in first_only}, first_only, int(now.timestamp() * 1e6))
    assert rows(storage, "SELECT * EXCEPT (derived_at) FROM llm_sessions FINAL ORDER BY session_id") == before
    # and a second process re-deriving the same events converges on the same rows
    Enricher(storage).reconcile(now=now)
    assert rows(storage, "SELECT * EXCEPT (derived_at) FROM llm_sessions FINAL ORDER BY session_id") == before


def test_background_thread_picks_up_marked_sessions(storage: Storage) -> None:
    enricher = Enricher(storage)
    enricher.start(interval=0.05, reconcile_interval=3600)
    try:
        for batch in scenario_batches("fresh_tool", False):
            store_batch(storage, batch)
            enricher.mark_dirty(batch.sessions)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if storage.query_rows("SELECT count() FROM llm_sessions FINAL") == [(1,)]:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the background enrichment thread derived nothing")
    finally:
        enricher.stop()


def test_events_stored_before_the_attribute_columns_are_read_the_same(chdb_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """0012 adds the attributes enrichment reads as MATERIALIZED columns. Rows stored before
    it have no such columns on disk: they are computed from the maps when read, and written
    when the parts merge. Either way enrichment reads what it reads from rows stored after."""
    import storage.client as storage_client

    earlier = [m for m in storage_client.migration_files() if m[0] < 12]
    names = [f"t_{uuid.uuid4().hex[:16]}" for _ in range(2)]
    monkeypatch.setattr(storage_client, "migration_files", lambda: earlier)
    before = open_storage(chdb_dsn, names[0])
    monkeypatch.undo()
    after = open_storage(chdb_dsn, names[1])
    try:
        for handle in (before, after):
            for scenario in SCENARIOS:
                for batch in scenario_batches(scenario, with_hooks=True):
                    store_batch(handle, batch)
            store_batch(handle, _bridge_record("s-attributes", 1_700_000_000_000_000, **{
                "vcs.repository.url.full": "https://github.com/acme/app", "vcs.owner.name": "acme",
                "vcs.repository.name": "app", "vcs.provider.name": "github", "is_async": "true",
                "prompt_cache_likely_expired": "true", "loomline.evidence": "transcript"}))
        assert before.migrate()[0] == "0012_events_enrichment_columns.sql"  # and any later ones
        on_disk = before.query_rows("SELECT count() FROM system.parts_columns WHERE database = {d:String}"
                                    " AND table = 'events' AND active AND column = 'AttrHost'", {"d": names[0]})
        assert on_disk == [(0,)]  # the old parts really lack them

        def loaded(handle: Storage) -> list[Any]:
            enricher, events = Enricher(handle), []
            for org, session in sorted(handle.query_rows("SELECT DISTINCT OrgId, SessionId FROM events")):
                events += enricher._query_events({(org, session)}, datetime.fromtimestamp(0, UTC))
            return sorted((e.session_id, e.event_key, e.project_id, e.project_name, e.host, e.speed, e.agent_id,
                           e.vcs_url, e.vcs_owner, e.vcs_repository, e.vcs_provider,
                           e.seconds_since_last_response, e.context_tokens, e.cache_likely_expired,
                           e.estimated_cache_write_usd, e.is_async, e.evidence) for e in events)

        expected = loaded(after)
        assert all(any(row[i] not in (None, "", False) for row in expected) for i in range(2, 17))  # every one read
        assert loaded(before) == expected
        before.command("OPTIMIZE TABLE events FINAL")
        assert loaded(before) == expected
    finally:
        for name, handle in zip(names, (before, after), strict=True):
            handle.command(f"DROP DATABASE IF EXISTS `{name}`")
            handle.close()
