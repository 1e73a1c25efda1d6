"""Incremental passes (per-session event cache, IngestedAt reads) and debouncing give the
rows a fresh, whole derivation gives: against a real ClickHouse engine (chDB)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from enrich.service import SEED_BATCH, Enricher
from receiver.store import store_batch
from storage.client import Storage, open_storage
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


def _a_minute_after(rows: list[dict[str, Any]]) -> datetime:
    """A minute after the newest event row's Timestamp (a datetime, or ns)."""
    last = max(row["Timestamp"] for row in rows)
    return (last if isinstance(last, datetime) else datetime.fromtimestamp(last / 1e9, UTC)) + timedelta(minutes=1)


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
    now = _a_minute_after(rows)
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


def _each_session_alone_derives_as_all(storage: Storage, rows: list[dict[str, Any]]) -> None:
    """Seeded with one session at a time (past the watermark, the cache and the derived
    tables empty), a pass must find the sessions derived with it and write what a whole
    derivation writes."""
    sessions = sorted({(row["OrgId"], row["SessionId"]) for row in rows})
    assert len(sessions) > 1
    now = _a_minute_after(rows)
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


def test_a_process_split_over_sessions_is_found_from_any_one_under_a_hostile_user_id(storage: Storage) -> None:
    """`/clear` continues one process's sequence in a new session. With no run id to go by,
    the (sequence, user) pairs probed for must find the others, with the user id bound as
    data: quotes, backslashes and SQL in it change nothing."""
    rows = _event_rows(("interactive_clear_exit",))
    hostile = "o'brien\\\"), ('1', 'x')) OR 1=1; DROP TABLE events; --"
    for row in rows:
        row["UserId"] = hostile
        row["CliRunId"] = ""  # only the sequence numbers tie the sessions together
    _each_session_alone_derives_as_all(storage, rows)


def test_a_fork_is_found_from_its_parent_by_the_parent_id(storage: Storage) -> None:
    """A fork's hook-bridge start record names its parent session; the parent's own events
    do not name the fork. Seeded with the parent alone, the related-sessions query must find
    the fork (its CLI run ids cleared: the parent id is the only tie)."""
    rows = _event_rows(("fork",))
    for row in rows:
        row["CliRunId"] = ""
    assert any(row["ParentSessionId"] for row in rows)
    _each_session_alone_derives_as_all(storage, rows)


def test_sessions_of_one_cli_run_are_found_from_either(storage: Storage) -> None:
    """/clear in one process: both sessions carry its hook-bridge CLI run id. With the
    sequence numbers and parent ids cleared, the run id is the only tie the related-sessions
    query must follow."""
    rows = _event_rows(("interactive_clear_exit",))
    for row in rows:
        row["Sequence"], row["ParentSessionId"] = None, ""
    runs = {row["CliRunId"] for row in rows if row["CliRunId"]}
    assert len(runs) == 1 and len({row["SessionId"] for row in rows if row["CliRunId"]}) > 1
    _each_session_alone_derives_as_all(storage, rows)


def test_one_pass_over_many_orgs_derives_each_as_alone(storage: Storage, chdb_dsn: str) -> None:
    """A pass reads the groups of several orgs with one query of each kind. Two orgs here
    share session ids, user ids and a CLI run id, and differ in what they hold: each is
    derived exactly as in a database of its own, also when a batch's queries fail and the
    pass falls back to one org at a time."""
    alone = {"org-a": ("interactive_clear_exit", "fork"), "org-b": ("interactive_clear_exit",)}
    rows = {org: [{**row, "OrgId": org} for row in _event_rows(scenarios)] for org, scenarios in alone.items()}
    now = _a_minute_after([row for org_rows in rows.values() for row in org_rows])
    stored_ms = int(datetime.now(UTC).timestamp() * 1000)
    expected: dict[str, list[tuple[Any, ...]]] = {table: [] for table in TABLES}
    for org, org_rows in rows.items():
        own = open_storage(chdb_dsn, f"{storage.info.database}_{org.replace('-', '_')}")
        try:
            _insert(own, org_rows, ingested_ms=stored_ms)  # the same IngestedAt: the same versions
            Enricher(own).run_once(now=now)
            for table, table_rows in snapshot(own).items():
                expected[table] += table_rows
        finally:
            own.command(f"DROP DATABASE IF EXISTS `{own.info.database}`")
            own.close()
    expected = {table: sorted(table_rows, key=repr) for table, table_rows in expected.items()}
    assert {row[0] for row in expected["llm_sessions"]} == {"org-a", "org-b"}
    for org_rows in rows.values():
        _insert(storage, org_rows, ingested_ms=stored_ms)
    batched = Enricher(storage)
    queried: list[set[str]] = []
    original = batched._existing_keys

    def existing_keys(keys: set[tuple[str, str]]) -> Any:
        queried.append({org for org, _ in keys})
        return original(keys)
    batched._existing_keys = existing_keys  # type: ignore[method-assign]
    batched.run_once(now=now)
    assert queried == [{"org-a", "org-b"}]  # one query for both orgs' groups
    assert snapshot(storage) == expected

    class OneOrgPerQuery(Enricher):
        def _existing_keys(self, keys: set[tuple[str, str]]) -> Any:
            if len({org for org, _ in keys}) > 1:
                raise RuntimeError("a query over several orgs failed")
            return super()._existing_keys(keys)

    for table in TABLES:
        storage.command(f"TRUNCATE TABLE {table}")
    OneOrgPerQuery(storage).run_once(now=now)
    assert snapshot(storage) == expected


def test_one_orgs_runaway_group_does_not_cut_another_orgs_expansion_short(storage: Storage, monkeypatch: Any) -> None:
    """The group size bound (MAX_GROUP_SESSIONS) holds per org: an org with many dirty
    sessions in the same batch does not stop another org's group from finding the fork it
    still has to read."""
    import enrich.service as service

    monkeypatch.setattr(service, "MAX_GROUP_SESSIONS", 5)
    fork = _event_rows(("fork",))
    busy = [{**row, "OrgId": "org-busy", "SessionId": f"{row['SessionId']}-{i}",
             "ParentSessionId": f"{row['ParentSessionId']}-{i}" if row["ParentSessionId"] else "",
             "CliRunId": f"{row['CliRunId']}-{i}" if row["CliRunId"] else ""} for i in range(8) for row in fork]
    calm = [{**row, "OrgId": "org-calm", "CliRunId": ""} for row in fork]  # the parent id is the only tie
    parent = next(row["ParentSessionId"] for row in calm if row["ParentSessionId"])
    now = _a_minute_after(fork)
    _insert(storage, busy + calm)
    Enricher(storage).derive_all(now=now)
    whole = [row for row in snapshot(storage)["llm_sessions"] if row[0] == "org-calm"]
    assert len(whole) == 2
    enricher = Enricher(storage)
    enricher.run_once(now=now)  # past the watermark: from here on only marked sessions
    enricher.clear_cache()
    for table in TABLES:
        storage.command(f"TRUNCATE TABLE {table}")
    enricher.mark_dirty({("org-busy", row["SessionId"]) for row in busy} | {("org-calm", parent)})
    enricher.run_once(now=now)
    assert [row for row in snapshot(storage)["llm_sessions"] if row[0] == "org-calm"] == whole


def test_a_pass_batches_many_small_new_sessions_and_few_of_unknown_size(storage: Storage) -> None:
    """How many seeds a batch takes follows what they hold: 120 new sessions of a few rows
    each (the watermark saw them arrive) are read by one load query; the same sessions
    stored before the watermark's window (sizes unknown) go SEED_BATCH at a time. Every
    session is derived either way."""
    template = _event_rows(("fresh_tool",))[:3]
    rows = [{**row, "SessionId": f"small-{i:03d}", "UserId": f"user-{i:03d}", "CliRunId": f"run-{i:03d}",
             "ParentSessionId": "", "EventKey": (row["EventKey"] + (i + 1) * 1_000_003) % 2**64}
            for i in range(120) for row in template]
    now = _a_minute_after(rows)
    keys = {(rows[0]["OrgId"], f"small-{i:03d}") for i in range(120)}

    def loads(enricher: Enricher, run: Any) -> int:
        calls = []
        original = enricher._query_events

        def query_events(batch: set[tuple[str, str]], since: datetime) -> Any:
            calls.append(len(batch))
            return original(batch, since)
        enricher._query_events = query_events  # type: ignore[method-assign]
        run()
        assert storage.query_rows("SELECT count() FROM llm_sessions FINAL") == [(120,)]
        return len(calls)

    _insert(storage, rows)
    fresh = Enricher(storage)
    assert loads(fresh, lambda: fresh.run_once(now=now)) == 1
    for table in TABLES:
        storage.command(f"TRUNCATE TABLE {table}")
    storage.command("TRUNCATE TABLE events")
    two_days_ago = int((datetime.now(UTC) - timedelta(days=2)).timestamp() * 1000)
    _insert(storage, rows, ingested_ms=two_days_ago)  # before the watermark's look-back
    unknown = Enricher(storage)
    unknown.mark_dirty(keys)
    assert loads(unknown, lambda: unknown.run_once(now=now)) == -(-120 // SEED_BATCH)


def test_a_batch_is_read_with_the_collector_paused_and_resumes_it(storage: Storage) -> None:
    """A load builds a tracked Event per row; the cyclic collector, run every few hundred
    of them over a cache of many thousands, is paused while the batch is read and enabled
    after (and between its groups' derivations, so their garbage goes group by group)."""
    import gc

    rows = _event_rows(("fresh_tool",))
    _insert(storage, rows)
    enricher = Enricher(storage)
    seen: list[bool] = []
    original = enricher._query_events

    def query_events(batch: set[tuple[str, str]], since: datetime) -> Any:
        seen.append(gc.isenabled())
        return original(batch, since)
    enricher._query_events = query_events  # type: ignore[method-assign]
    deriving: list[bool] = []
    derive_group = enricher._derive_group

    def timed_derive_group(*args: Any, **kwargs: Any) -> Any:
        deriving.append(gc.isenabled())
        return derive_group(*args, **kwargs)
    enricher._derive_group = timed_derive_group  # type: ignore[method-assign]
    assert gc.isenabled()
    enricher.run_once(now=_a_minute_after(rows))
    assert seen and not any(seen)
    assert deriving and all(deriving)
    assert gc.isenabled()
    assert storage.query_rows("SELECT count() FROM llm_sessions FINAL")[0][0] > 0
