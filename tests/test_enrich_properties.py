"""Order independence and idempotency: the same events in any order, any batches, twice,
give the same derived state (pure), and the same derived tables through storage even when
enrichment runs between batches (so late links re-root and stale rows are tombstoned)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enrich.derive import derive
from enrich.model import Event
from enrich.service import Enricher
from receiver.events import EVENT_COLUMNS
from storage.client import Storage, open_storage
from tests.fixtures import SCENARIOS
from tests.test_enrich_replay import batch_rows, scenario_batches, scenario_events

CASES = [(scenario, hooks) for scenario in SCENARIOS for hooks in (False, True)]
MINUTE_US = 60 * 1_000_000
ALL_EVENTS: list[Event] = [
    e for scenario in ("resume_continue", "fork", "interactive_clear_exit") for e in scenario_events(scenario, True)
]


def _now(events: list[Event]) -> int:
    return max(e.timestamp for e in events) + MINUTE_US


@settings(max_examples=40, deadline=None)
@given(case=st.sampled_from(CASES), data=st.data())
def test_derivation_ignores_order_batches_and_duplicates(case: tuple[str, bool], data: st.DataObject) -> None:
    events = scenario_events(*case)
    expected = derive(events, _now(events))
    shuffled = data.draw(st.permutations(events))
    duplicates = data.draw(st.lists(st.sampled_from(events), max_size=20))
    # a record stored twice differs only in when it was stored
    again = [dataclasses.replace(e, ingested_at=e.ingested_at + 1000) for e in duplicates]
    assert derive(list(shuffled) + again, _now(events)) == expected


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_unrelated_scenarios_do_not_disturb_each_other(data: st.DataObject) -> None:
    """Deriving several captures together gives each the rows it gets alone."""
    now = _now(ALL_EVENTS)
    together = derive(data.draw(st.permutations(ALL_EVENTS)), now)
    alone = [derive(scenario_events(s, True), now) for s in ("resume_continue", "fork", "interactive_clear_exit")]
    assert sorted(together.sessions, key=lambda s: s.session_id) == sorted(
        (s for d in alone for s in d.sessions), key=lambda s: s.session_id)
    assert set(together.links) == {k for d in alone for k in d.links}


# -- through storage ----------------------------------------------------------------------

_DIR: dict[str, str] = {}


@pytest.fixture(scope="module")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    try:  # the shared conftest's session-wide directory when it is there
        from tests.conftest import chdb_dir

        return f"chdb://{chdb_dir(tmp_path_factory)}"
    except ImportError:  # pragma: no cover
        return f"chdb://{tmp_path_factory.mktemp('chdb')}"


@pytest.fixture(scope="module")
def two_databases(chdb_path: str):  # noqa: ANN201 - a generator fixture
    """Two migrated databases reused by every example (emptied in between: creating a
    database per example would dominate the test's time)."""
    handles = [open_storage(chdb_path, database=f"t_{uuid.uuid4().hex[:16]}") for _ in range(2)]
    yield handles
    for handle in handles:
        handle.command(f"DROP DATABASE IF EXISTS `{handle.database}`")
        handle.close()


def _emptied(storage: Storage) -> Storage:
    for table in ("events", *DERIVED_TABLES):
        storage.command(f"TRUNCATE TABLE {table}")
    return storage


DERIVED_TABLES = {
    "llm_sessions": "session_id", "threads": "thread_id", "session_segments": "session_id, segment_index",
    "session_links": "from_session_id, to_session_id, link_type", "compactions": "session_id, compaction_key",
    "cli_runs": "cli_run_id",
}


def derived_state(storage: Storage) -> dict[str, list[dict[str, Any]]]:
    """Every derived table as its readers see it, without the bookkeeping columns."""
    state = {}
    for table, order in DERIVED_TABLES.items():
        rows = storage.query_dicts(f"SELECT * EXCEPT (version, derived_at, is_deleted) FROM {table} FINAL ORDER BY {order}")
        state[table] = rows
    return state


def _insert_events(storage: Storage, rows: list[dict[str, Any]]) -> None:
    storage.insert_columns("events", {c: [r[c] for r in rows] for c in EVENT_COLUMNS})


def _scenario_rows(scenario: str, hooks: bool) -> list[dict[str, Any]]:
    return [row for batch in scenario_batches(scenario, hooks) for row in batch_rows(batch)]


STORAGE_CASES = [("fork", True), ("interactive_clear_exit", False), ("resume_continue", True), ("compact_manual", True)]


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(STORAGE_CASES), data=st.data())
def test_incremental_enrichment_converges_through_storage(
    two_databases: list[Storage], case: tuple[str, bool], data: st.DataObject
) -> None:
    rows = _scenario_rows(*case)
    now = datetime.fromtimestamp(max(r["Timestamp"] for r in rows) / 1e6 + 60, UTC)

    reference, storage = (_emptied(handle) for handle in two_databases)
    _insert_events(reference, rows)
    Enricher(reference).run_once(now=now)
    expected = derived_state(reference)
    assert expected["llm_sessions"]

    enricher = Enricher(storage)
    order = data.draw(st.permutations(rows))
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(rows) - 1)), max_size=3)))
    chunks = [list(order[a:b]) for a, b in zip([0, *cuts], [*cuts, len(rows)], strict=True)]
    chunks += data.draw(st.lists(st.sampled_from(chunks), max_size=1))  # redelivered batches
    for chunk in chunks:
        _insert_events(storage, chunk)
        enricher.run_once(now=now)
    assert derived_state(storage) == expected


def _fragments_by_the_rule(events: list[Event]) -> list[list[int]]:
    """_split_session's rule read directly, over every fragment for every event (quadratic):
    an event joins the most recently active fragment that does not hold its number and that
    it continues (up to MAX_SEQUENCE_GAP past its highest) or fills in (its number in
    [first - MAX_SEQUENCE_GAP, last), within MAX_SEQUENCE_GAP_US of its last event);
    sequence 0 always starts a process. Returns each fragment's event keys."""
    from enrich.segments import MAX_SEQUENCE_GAP, MAX_SEQUENCE_GAP_US

    fragments: list[list[Event]] = []
    for event in events:
        seq = event.sequence
        assert seq is not None
        candidates = []
        if seq > 0:
            for index, held in enumerate(fragments):
                numbers = {e.sequence for e in held}
                first, last = min(numbers), max(numbers)  # type: ignore[type-var]
                continues = 0 < seq - last <= MAX_SEQUENCE_GAP  # type: ignore[operator]
                fills = (first - MAX_SEQUENCE_GAP <= seq < last and seq not in numbers  # type: ignore[operator]
                         and event.timestamp - held[-1].timestamp <= MAX_SEQUENCE_GAP_US)
                if continues or fills:
                    candidates.append((held[-1].timestamp, last, -index))
        if candidates:
            fragments[-max(candidates)[2]].append(event)
        else:
            fragments.append([event])
    return [[e.event_key for e in held] for held in fragments]


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(st.tuples(st.integers(0, 3), st.integers(-2, 4), st.integers(0, 900)), min_size=1, max_size=60))
def test_a_session_splits_into_processes_as_its_rule_says(steps: list[tuple[int, int, int]]) -> None:
    """The one-sweep split (and its one-process shortcut) against the rule it indexes:
    a few processes' numbers interleaved, restarting, skipping and repeating, with record
    times seconds to minutes apart."""
    from enrich.segments import _split_session

    counters = [0, 0, 0, 0]
    events: list[Event] = []
    timestamp = 1_780_000_000_000_000
    for i, (process, step, seconds) in enumerate(steps):
        counters[process] = 0 if step < 0 else counters[process] + step
        timestamp += seconds * 1_000_000
        events.append(Event("org", "s", i + 1, "user_prompt", timestamp, sequence=counters[process]))
    got = [[e.event_key for e in fragment.events] for fragment in _split_session(events)]
    assert got == _fragments_by_the_rule(events)
