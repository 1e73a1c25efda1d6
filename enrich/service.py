"""Enrichment against storage: read events, derive (enrich/derive.py), write derived rows.

Work is done per group of related sessions. A dirty session pulls in, until nothing new
turns up: sessions that name it as parent (hook bridge), sessions sharing a bridge CLI
run id, sessions whose event sequence continues one of its process boundaries (/clear,
--continue), the sessions its parent ids name, and the sessions it shared a thread with
last time. The group is derived at once, split into connected components, and every
component is written with one version (see 0003_derived.sql):

    version = (max IngestedAt of the component's events, ms) << 22 | min(event count, 2^22-1)

so a derivation that saw more events never loses to one that saw fewer, and two processes
that read the same events write the same rows. Rows the last derivation wrote and this one
does not produce get a tombstone (is_deleted = 1) at the new version.

Sessions are found dirty three ways: ``mark_dirty`` (the local receiver's stored batches),
the IngestedAt watermark (writes by other receiver processes), and open sessions past the
idle window (timeouts no event triggers). ``reconcile`` re-derives everything recent or
open, repairing what a race between processes left behind.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby
from operator import attrgetter
from typing import Any, Protocol

from enrich.derive import Prepared, derive, derive_prepared
from enrich.gcpause import paused_gc
from enrich.imported import without_superseded
from enrich.membership import Membership
from enrich.model import Derived, Event, events_from_columns
from enrich.segments import CHAIN_SKEW_US, CHAIN_WINDOW_US, Layout, dedupe, layout
from storage.client import Storage
from storage.params import tuples_param
from storage.sql_files import load_query_compact
from storage.tombstones import derived_key, write_tombstones

log = logging.getLogger("loomline.enrich")

VERSION_COUNT_BITS = 22
MAX_GROUP_SESSIONS = 2000  # stop expanding a group past this (a runaway link graph)
SEED_BATCH = 50  # dirty sessions expanded together (fewer queries); split again if one fails
# Across orgs a batch takes up to SEED_BATCH_MAX seeds while their events add up to at
# most BATCH_EVENTS: a seed weighs its cached events, or for one not cached the rows the
# watermark has seen arrive for it, or (size unknown) BATCH_EVENTS / SEED_BATCH. A live
# pass is mostly new sessions of a few rows, and a query's cost is mostly fixed; sessions
# of unknown size still go at most SEED_BATCH at a time.
SEED_BATCH_MAX = 200
BATCH_EVENTS = 100_000
ARRIVED_MAX = 100_000  # arrival counts kept for sessions not cached yet
QUARANTINE_FIRST_RETRY_S = 5.0  # a group that failed is retried after this, doubling each time
QUARANTINE_MAX_RETRY_S = 900.0
MAX_EXPANSION_ROUNDS = 8
# A pass writes the rows of the groups it derived together, one insert per table, once
# this many are waiting and at its end: every insert is a part per partition to merge.
FLUSH_ROWS = 20_000
WATERMARK_OVERLAP_MS = 5_000  # check this much before the watermark (out-of-order commits)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
CACHE_MAX_EVENTS = 200_000  # events kept in memory between passes (least recently used go first)
# Background passes derive a group again only after DEBOUNCE_FACTOR times what its last
# derivation took (a hot group costs at most ~1/DEBOUNCE_FACTOR of the enrichment thread),
# and never later than MAX_STALENESS_S after it last was: bounded staleness.
DEBOUNCE_FACTOR = 20.0
MAX_STALENESS_S = 30.0
# Background passes look for open sessions past the idle window (a timeout no event
# triggers) at most this often: a ~1 ms query over llm_sessions FINAL that changes its
# answer on the scale of the idle window (minutes), not of the 1 s passes.
IDLE_CHECK_INTERVAL_S = 10.0
EPOCH = datetime.fromtimestamp(0, UTC)

SessionKey = tuple[str, str]  # (org id, session id)


@dataclass
class Quarantined:
    """A session whose group could not be derived: kept, retried with backoff."""

    error: str
    failures: int
    retry_at: float  # Enricher.clock() (time.monotonic)


@dataclass
class _Derived:
    """One group's derived rows and tombstones, waiting for the pass's next write."""

    org: str
    group: set[str]
    tables: dict[str, dict[str, list[Any]]]
    tombstones: dict[str, set[tuple[Any, ...]]]
    tomb_version: int
    rows: int


class Metrics(Protocol):
    """What the Enricher reports to (receiver/selfmetrics.py ReceiverMetrics has it)."""

    gauges: dict[str, Callable[[], float]]

    def inc(self, name: str, value: float = 1, **labels: str) -> None: ...


def _dt(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, UTC)


def _dt_or_none(us: int | None) -> datetime | None:
    return None if us is None else _dt(us)


def version_of(events: Iterable[Event]) -> int:
    """The row version for rows derived from ``events`` (see module docstring)."""
    events = list(events)
    newest = max((e.ingested_at for e in events), default=0)
    return (newest << VERSION_COUNT_BITS) | min(len(events), (1 << VERSION_COUNT_BITS) - 1)


class Enricher:
    """Keeps the derived tables up to date with the events table."""

    def __init__(self, storage: Storage, idle_timeout_minutes: float = 30.0, lookback_hours: float = 24.0,
                 metrics: Metrics | None = None, clock: Callable[[], float] = time.monotonic,
                 membership: Membership | None = None, cache_max_events: int = CACHE_MAX_EVENTS) -> None:
        self.storage = storage
        # With several enrichers over one database each derives only the groups it owns.
        self.membership = membership
        self.clock = clock  # seconds, monotonic: quarantine backoff and debouncing
        self.metrics = metrics
        self._quarantine: dict[SessionKey, Quarantined] = {}
        # session -> its events (by EventKey) and the newest IngestedAt among them (ms)
        self._cache: OrderedDict[SessionKey, tuple[dict[int, Event], int]] = OrderedDict()
        self._cached_events = 0
        self.cache_max_events = cache_max_events
        # session not cached -> rows the watermark saw arrive for it (its size, for batching)
        self._arrived: dict[SessionKey, int] = {}
        self._marks_applied: dict[SessionKey, int] = {}  # rederive mark (ms) the cache was last re-read for
        self._derived_at: dict[SessionKey, tuple[float, float]] = {}  # session -> (monotonic end, seconds)
        # org -> (events, their number, their Prepared): the layout _sequence_neighbours made for
        # _expand's last round, which _derive_group derives from when it gets that same list
        self._prepared: dict[str, tuple[list[Event], int, Prepared]] = {}
        self.debounce_factor, self.max_staleness_s = DEBOUNCE_FACTOR, MAX_STALENESS_S
        self.idle_check_interval_s = IDLE_CHECK_INTERVAL_S
        self._idle_checked_at = float("-inf")
        self.retry_first_s, self.retry_max_s = QUARANTINE_FIRST_RETRY_S, QUARANTINE_MAX_RETRY_S
        if metrics is not None:
            metrics.gauges["enrich_quarantined_sessions"] = lambda: float(len(self._quarantine))
        self.idle_timeout_us = int(idle_timeout_minutes * 60 * 1_000_000)
        self.lookback_us = int(lookback_hours * 3600 * 1_000_000)
        self._dirty: set[SessionKey] = set()
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()  # one pass at a time per process
        self._watermark_ms: int | None = None
        # IngestedAt ms in the watermark's overlap -> how many rows were seen stored at it
        self._blocks: dict[int, int] = {}
        self._marks_seen: dict[SessionKey, int] = {}  # session -> newest rederive mark seen (ms)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._unwritten: list[_Derived] = []  # groups derived in this pass, rows not yet inserted

    # -- triggers ------------------------------------------------------------------------
    def mark_dirty(self, sessions: Iterable[SessionKey]) -> None:
        """Sessions that got new events (called by the ingest pipeline after a store)."""
        with self._lock:
            self._dirty.update(sessions)

    def _take_dirty(self) -> set[SessionKey]:
        with self._lock:
            dirty, self._dirty = self._dirty, set()
        return dirty

    def _ingested_since_watermark(self) -> set[SessionKey]:
        """Sessions with rows stored since the last pass (by any process).

        The new rows' ids are read once (IngestedAt after the watermark). Behind the watermark,
        commits can arrive out of order (a slow insert, another process): the overlap is
        counted per IngestedAt millisecond (the IngestedAt column alone) against the new
        rows seen at that millisecond, and only a millisecond whose count changed has its
        sessions read (enrich_ingested_late.sql)."""
        if self._watermark_ms is None:
            # IngestedAt is the storage server's clock, not event time: start from the wall
            # clock (``now`` passed to a pass only decides timeouts).
            self._watermark_ms = (int(time.time() * 1_000_000) - self.lookback_us) // 1000
        watermark = self._watermark_ms
        since = watermark - WATERMARK_OVERLAP_MS
        rows = self.storage.query_rows(load_query_compact("enrich_ingested_since"),
                                       {"watermark": _dt(watermark * 1000), "since": _dt(since * 1000)})
        found: set[SessionKey] = set()
        new_blocks: dict[int, int] = {}
        overlap: dict[int, int] = {}
        newest = watermark
        for kind, org, session, ingested, count in rows:
            ms = int(ingested)
            if kind == "new":
                found.add((org, session))
                self._stored_at((org, session), ms)
                if self.membership is None and (org, session) not in self._cache:  # only batches use it
                    self._arrived[(org, session)] = self._arrived.get((org, session), 0) + int(count)
                new_blocks[ms] = new_blocks.get(ms, 0) + int(count)
                newest = max(newest, ms)
            elif kind == "block":
                overlap[ms] = int(count)
            elif self._marks_seen.get((org, session), -1) < ms:  # a rederive mark
                found.add((org, session))
                self._marks_seen[(org, session)] = ms
        changed = sorted(ms for ms in overlap.keys() | {ms for ms in self._blocks if ms > since}
                         if overlap.get(ms) != self._blocks.get(ms))
        if changed:
            found |= self._ingested_late(changed)
        if len(self._arrived) > ARRIVED_MAX:  # sessions dirty for long (quarantined): sizes unknown again
            self._arrived.clear()
        self._blocks.update(new_blocks)
        self._watermark_ms = newest
        self._blocks = {ms: block for ms, block in self._blocks.items() if ms > newest - WATERMARK_OVERLAP_MS}
        horizon = newest - 10 * WATERMARK_OVERLAP_MS
        self._marks_seen = {k: v for k, v in self._marks_seen.items() if v >= horizon}
        return found

    def _ingested_late(self, changed: list[int]) -> set[SessionKey]:
        """The sessions of the overlap's milliseconds whose rows changed; what is seen of
        them now becomes what the next pass compares with."""
        rows = self.storage.query_rows(load_query_compact("enrich_ingested_late"), {
            "low": _dt(changed[0] * 1000), "high": _dt(changed[-1] * 1000), "ms": changed})
        found: set[SessionKey] = set()
        seen: dict[int, int] = {}
        for org, session, ingested, count in rows:
            ms = int(ingested)
            found.add((org, session))
            self._stored_at((org, session), ms)
            seen[ms] = seen.get(ms, 0) + int(count)
        for ms in changed:
            if ms in seen:
                self._blocks[ms] = seen[ms]
            else:
                self._blocks.pop(ms, None)
        if found:
            log.debug("enrichment watermark: %d session(s) with rows committed out of order", len(found))
        return found

    def _stored_at(self, key: SessionKey, ms: int) -> None:
        """Rows of a session were stored at IngestedAt ``ms``: if its cached events already
        reach past it, the next load reads from there again (a commit out of order, or one
        that landed between the watermark query and the load)."""
        entry = self._cache.get(key)
        if entry is not None and entry[1] >= ms:
            self._cache[key] = (entry[0], ms - 1)

    def _beat(self) -> None:
        """Tell the other enrichers this one is alive; when the members changed, read again
        what a departed one may have read but not derived (its share is ours now)."""
        if self.membership is None or not self.membership.beat():
            return
        if self._watermark_ms is not None:
            self._watermark_ms -= int(2 * self.membership.ttl * 1000) + WATERMARK_OVERLAP_MS
            # what lies past the lowered watermark is read as new again
            self._blocks = {ms: block for ms, block in self._blocks.items() if ms <= self._watermark_ms}
        self._marks_seen.clear()

    def _idle_open_sessions(self, now_us: int) -> set[SessionKey]:
        rows = self.storage.query_rows(load_query_compact("enrich_idle_open_sessions"), {"before": _dt(now_us - self.idle_timeout_us)})
        return {(org, session) for org, session in rows}

    # -- passes --------------------------------------------------------------------------
    def run_once(self, now: datetime | None = None) -> dict[str, int]:
        """Derive every dirty session (and what it is linked to). Returns counts."""
        return self._pass(now, debounce=False)

    def run_background_pass(self, now: datetime | None = None) -> dict[str, int]:
        """The background loop's pass: like run_once, but a hot group derived recently
        waits (stays dirty) until DEBOUNCE_FACTOR x its last derivation time has passed,
        at most MAX_STALENESS_S: under load a growing session is derived a bounded
        number of times, not once per batch. Idle sessions are looked for at most every
        IDLE_CHECK_INTERVAL_S."""
        return self._pass(now, debounce=True)

    def _pass(self, now: datetime | None, debounce: bool) -> dict[str, int]:
        now_us = _now_us(now)
        with self._run_lock:
            dirty = self._take_dirty()
            try:
                self._beat()
                dirty |= self._ingested_since_watermark()
                if not debounce or self.clock() >= self._idle_checked_at + self.idle_check_interval_s:
                    self._idle_checked_at = self.clock()
                    dirty |= self._idle_open_sessions(now_us)
                dirty |= self._due_for_retry()
                held: set[SessionKey] = set()
                if debounce:
                    held = {key for key in dirty if self._debounced(key)}
                    dirty -= held
                    self.mark_dirty(held)
                stats = self._derive_sessions(dirty, now_us)
                self._prepared.clear()
                if held:
                    stats["debounced"] = len(held)
                return stats
            except Exception:
                self.mark_dirty(dirty)  # try again next pass
                raise

    def reconcile(self, now: datetime | None = None) -> dict[str, int]:
        """Re-derive every session with events in the look-back window, and every open one."""
        now_us = _now_us(now)
        with self._run_lock:
            self._beat()
            self.clear_cache()  # read everything whole: repairs what an incremental read missed
            rows = self.storage.query_rows(load_query_compact("enrich_reconcile_sessions"), {"since": _dt(now_us - self.lookback_us)})
            return self._derive_sessions({(org, session) for org, session in rows}, now_us)

    def derive_all(self, now: datetime | None = None) -> dict[str, int]:
        """Re-derive every session in storage (tools and tests; reconcile is the periodic one)."""
        now_us = _now_us(now)
        with self._run_lock:
            self.clear_cache()
            rows = self.storage.query_rows("SELECT DISTINCT OrgId, SessionId FROM events")
            return self._derive_sessions({(org, session) for org, session in rows}, now_us)

    # -- background thread ---------------------------------------------------------------
    def start(self, interval: float = 1.0, reconcile_interval: float = 300.0) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, args=(interval, reconcile_interval),
                                        name="loomline-enrich", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self.membership is not None:
            self.membership.leave()

    def _loop(self, interval: float, reconcile_interval: float) -> None:
        next_reconcile = time.monotonic() + reconcile_interval
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_reconcile:
                    self.reconcile()
                    next_reconcile = time.monotonic() + reconcile_interval
                else:
                    self.run_background_pass()
            except Exception:
                log.exception("enrichment pass failed; retrying next interval")
            self._stop.wait(interval)

    # -- debouncing ----------------------------------------------------------------------
    def _debounced(self, key: SessionKey) -> bool:
        last = self._derived_at.get(key)
        if last is None:
            return False
        finished, seconds = last
        return self.clock() < finished + min(seconds * self.debounce_factor, self.max_staleness_s)

    def _derived(self, org: str, group: set[str], seconds: float) -> None:
        finished = self.clock()
        for session in group:
            self._derived_at[(org, session)] = (finished, seconds)
        if len(self._derived_at) > 4 * len(group) + 10_000:  # forget what no longer holds anything back
            horizon = finished - self.max_staleness_s
            self._derived_at = {k: v for k, v in self._derived_at.items() if v[0] >= horizon}

    # -- quarantine ----------------------------------------------------------------------
    def quarantined(self) -> dict[SessionKey, Quarantined]:
        """Sessions whose group failed to derive, waiting for their next retry."""
        with self._lock:
            return dict(self._quarantine)

    def _due_for_retry(self) -> set[SessionKey]:
        now = self.clock()
        with self._lock:
            return {key for key, entry in self._quarantine.items() if entry.retry_at <= now}

    def _held_back(self, key: SessionKey, now: float) -> bool:
        with self._lock:
            entry = self._quarantine.get(key)
            return entry is not None and entry.retry_at > now

    def _fail(self, org: str, group: set[str], error: BaseException) -> None:
        """Quarantine a group: its sessions are kept (their events stay stored), skipped until
        their retry time, and retried with exponential backoff. Logged once per group."""
        message = f"{type(error).__name__}: {error}"[:500]
        now = self.clock()
        new = False
        with self._lock:
            for session in group:
                entry = self._quarantine.get((org, session))
                failures = entry.failures + 1 if entry else 1
                new = new or entry is None
                delay = min(self.retry_first_s * 2 ** min(failures - 1, 30), self.retry_max_s)
                self._quarantine[(org, session)] = Quarantined(message, failures, now + delay)
        if new:
            log.warning("enrichment quarantined %d session(s) of org %r (e.g. %r) after %s; retrying with backoff",
                        len(group), org, min(group), message, exc_info=error)
        else:
            log.debug("enrichment of quarantined sessions of org %r failed again: %s", org, message)
        if self.metrics is not None:
            self.metrics.inc("enrich_group_failures")

    def _recovered(self, org: str, group: set[str]) -> None:
        with self._lock:
            released = [s for s in group if self._quarantine.pop((org, s), None) is not None]
        if released:
            log.info("enrichment of %d quarantined session(s) of org %r succeeded", len(released), org)

    # -- the work ------------------------------------------------------------------------
    def _derive_sessions(self, sessions: set[SessionKey], now_us: int) -> dict[str, int]:
        """Derive the groups of the given sessions. A group that fails is quarantined; it
        never stops the other groups of the pass, of its org or of any other org."""
        stats: dict[str, int] = defaultdict(int)
        by_org: dict[str, set[str]] = defaultdict(set)
        now = self.clock()
        for org, session in sessions:
            if not session:
                continue
            if self._held_back((org, session), now):
                stats["quarantined_skipped"] += 1
                continue
            by_org[org].add(session)
        try:
            self._derive_by_org(by_org, now_us, stats)
        finally:
            self._write_derived(stats)
        stats["dirty_sessions"] = len(sessions)
        return dict(stats)

    def _derive_by_org(self, by_org: dict[str, set[str]], now_us: int, stats: dict[str, int]) -> None:
        """Derive the dirty sessions in batches of SEED_BATCH seeds, across orgs: one query of
        each kind serves a batch's groups of every org (a query's cost is mostly fixed, and a
        pass of a busy receiver has a few dirty sessions in each of many orgs); each org's
        group is then derived and written alone. When the batch's queries fail, its orgs
        are derived one by one (_derive_org), and split again down to single seeds."""
        if self.membership is not None:
            for org, org_sessions in sorted(by_org.items()):
                self._derive_org(org, set(org_sessions), now_us, stats)
            return
        pending = {(org, session) for org, org_sessions in by_org.items() for session in org_sessions}
        while pending:
            seeds = self._seed_batch(pending)
            self._derive_batch(seeds, pending, now_us, stats)
            pending -= seeds
            self._write_derived_when_full(stats)

    def _derive_batch(self, seeds: set[SessionKey], pending: set[SessionKey], now_us: int,
                      stats: dict[str, int]) -> None:
        """Derive one batch of seeds: their groups expanded and their marks and existing keys
        read by one query of each kind, then each org's group derived alone. Removes from
        ``pending`` the sessions it covered."""
        started = time.perf_counter()
        try:
            # The collector paused while the batch is read: its loads build up to
            # BATCH_EVENTS tracked Events, which set off hundreds of young collections and
            # several full ones over the cache (~15 % of a hot pass), and none of it is
            # garbage. Not across the groups' derivations: each pauses it on its own
            # (derive), and their cyclic garbage (fragments point at each other) then goes
            # group by group instead of piling up over the batch (enrich/gcpause.py).
            with paused_gc():
                groups = self._expand_keys(seeds)
                keys = {(org, session) for org, (group, _) in groups.items() for session in group}
                marks = self._rederive_marks(keys)
                existing = self._existing_keys(keys)
        except Exception:  # noqa: BLE001 - isolate: fall back to one org at a time
            for org in sorted({org for org, _ in seeds}):
                org_seeds = {session for seed_org, session in seeds if seed_org == org}
                pending -= {(org, session) for session in org_seeds}
                self._derive_org(org, org_seeds, now_us, stats)
            return
        shared = time.perf_counter() - started
        total_events = sum(len(events) for _, events in groups.values()) or 1
        for org, (group, events) in sorted(groups.items()):
            started = time.perf_counter()
            try:
                result = self._derive_group(org, group, events, now_us, marks.get(org, {}), existing.get(org, {}))
            except Exception:  # noqa: BLE001 - isolate: this org's seeds one by one
                org_seeds = {session for seed_org, session in seeds if seed_org == org}
                done = self._derive_singly(org, org_seeds, now_us, stats)
                pending -= {(org, session) for session in done | org_seeds}
                continue
            pending -= {(org, session) for session in group}
            # the group's time: its derivation and its share of the batch's queries
            self._succeeded(org, group, time.perf_counter() - started + shared * len(events) / total_events,
                            result, stats)

    def _seed_batch(self, pending: set[SessionKey]) -> set[SessionKey]:
        """The next batch of seeds, in key order: at most SEED_BATCH_MAX, their events
        (known or guessed) at most BATCH_EVENTS; never empty."""
        batch: set[SessionKey] = set()
        weight = skipped = 0
        for key in sorted(pending):
            entry = self._cache.get(key)
            size = len(entry[0]) if entry is not None else self._arrived.get(key, BATCH_EVENTS // SEED_BATCH)
            if batch and weight + size > BATCH_EVENTS:
                skipped += 1  # a smaller one further on may still fit; look a little further
                if skipped > SEED_BATCH_MAX:
                    break
                continue
            batch.add(key)
            weight += size
            if len(batch) == SEED_BATCH_MAX or weight >= BATCH_EVENTS:
                break
        return batch

    def _derive_org(self, org: str, org_sessions: set[str], now_us: int, stats: dict[str, int]) -> None:
        """Derive one org's dirty sessions, batched seeds of this org alone."""
        pending = set(org_sessions)
        while pending:
            seed = min(pending)
            # Batched seeds make one group of unrelated sessions; enrichers sharing the
            # work must each see a group as its own closure, whichever seed it came from.
            batch = set() if self.membership is not None else set(sorted(pending)[:SEED_BATCH])
            seeds = {seed} | batch
            started = time.perf_counter()
            try:
                with paused_gc():  # while the group is read, as for a batch (_derive_batch)
                    group, events = self._expand(org, seeds)
                result = self._derive_group(org, group, events, now_us)
            except Exception as error:  # noqa: BLE001 - isolate: any failure of one group
                if len(seeds) > 1:
                    pending -= seeds | self._derive_singly(org, seeds, now_us, stats)
                    continue
                pending -= seeds
                self._fail(org, seeds, error)
                stats["failed_groups"] += 1
                continue
            pending -= group
            self._succeeded(org, group, time.perf_counter() - started, result, stats)
            self._write_derived_when_full(stats)

    def _derive_singly(self, org: str, seeds: set[str], now_us: int, stats: dict[str, int]) -> set[str]:
        """Each seed's group on its own: seeds batched for fewer queries may be unrelated, so
        only the group that fails is quarantined. Returns the sessions covered."""
        done: set[str] = set()
        for single in sorted(seeds):
            if single not in done:
                done |= self._derive_one(org, single, now_us, stats)
        return done

    def _succeeded(self, org: str, group: set[str], seconds: float, result: dict[str, int],
                   stats: dict[str, int]) -> None:
        """A group derived: out of quarantine, its derivation time kept for debouncing, its
        counts added to the pass's."""
        self._recovered(org, group)
        self._derived(org, group, seconds)
        for key, value in result.items():
            stats[key] += value

    def _write_derived_when_full(self, stats: dict[str, int]) -> None:
        if sum(entry.rows for entry in self._unwritten) >= FLUSH_ROWS:
            self._write_derived(stats)

    def _derive_one(self, org: str, seed: str, now_us: int, stats: dict[str, int]) -> set[str]:
        """Derive one seed's group; returns the sessions it covered (quarantined on failure)."""
        group = {seed}
        started = time.perf_counter()
        try:
            group, events = self._expand(org, {seed})
            result = self._derive_group(org, group, events, now_us)
        except Exception as error:  # noqa: BLE001 - isolate: any failure of one group
            self._fail(org, group, error)
            stats["failed_groups"] += 1
            return group
        self._succeeded(org, group, time.perf_counter() - started, result, stats)
        return group

    def _load(self, org: str, sessions: set[str]) -> list[Event]:
        """Every stored event of one org's sessions (_load_keys)."""
        return self._load_keys({(org, session) for session in sessions})

    def _load_keys(self, keys: set[SessionKey]) -> list[Event]:
        """Every stored event of the sessions. Sessions cached from an earlier pass read only
        the rows stored after the newest they hold (IngestedAt; a commit out of order that the
        watermark finds moves that point back, _stored_at) and merge them by EventKey, keeping
        the later-stored copy as FINAL does."""
        if not keys:
            return []
        cached = {key for key in keys if key in self._cache}
        fresh = keys - cached
        events: list[Event] = []
        if fresh:
            by_session = _by_session(self._query_events(fresh, EPOCH))
            for key in sorted(fresh):
                known: dict[int, Event] = {}
                _keep_later(known, by_session.get(key, ()))
                self._remember(key, known)
                events.extend(known.values())
        if cached:
            entries = {key: self._cache.pop(key) for key in sorted(cached)}
            held = {key: known for key, (known, _) in entries.items()}
            self._cached_events -= sum(len(known) for known in held.values())
            since_ms = min(newest for _, newest in entries.values())
            newer = _by_session(self._query_events(cached, _dt((since_ms + 1) * 1000)))
            for key, known in held.items():
                _keep_later(known, newer.get(key, ()))
                self._remember(key, known)
                events.extend(known.values())
        return events

    def _query_events(self, keys: set[SessionKey], since: datetime) -> list[Event]:
        return events_from_columns(*self._load_columns(keys, since))

    def _load_columns(self, keys: set[SessionKey], since: datetime) -> tuple[Sequence[str], Sequence[Sequence[Any]]]:
        """enrich_load_events.sql's result: its column names and columns."""
        result = self.storage.client.query(load_query_compact("enrich_load_events"), parameters={**_keys(keys), "since": since})
        return result.column_names, result.result_columns

    def _remember(self, key: SessionKey, events: dict[int, Event]) -> None:
        self._arrived.pop(key, None)  # its size is the cache's now
        newest = max((e.ingested_at for e in events.values()), default=0)
        self._cache[key] = (events, newest)
        self._cached_events += len(events)
        while self._cached_events > self.cache_max_events and len(self._cache) > 1:
            _, (dropped, _) = self._cache.popitem(last=False)
            self._cached_events -= len(dropped)

    def _forget(self, key: SessionKey) -> None:
        entry = self._cache.pop(key, None)
        if entry is not None:
            self._cached_events -= len(entry[0])

    def clear_cache(self) -> None:
        """Forget the cached events (the next pass reads every session whole)."""
        self._cache.clear()
        self._cached_events = 0

    def _expand(self, org: str, seeds: set[str]) -> tuple[set[str], list[Event]]:
        """The seeds plus every session that may be derived differently with them."""
        return self._expand_keys({(org, seed) for seed in seeds})[org]

    def _expand_keys(self, seeds: set[SessionKey]) -> dict[str, tuple[set[str], list[Event]]]:
        """Each org's group: its seeds plus every session of the org that may be derived
        differently with them, and their events. One query of each kind per round serves
        every org; a group never reaches into another org (every pair names its org)."""
        group: set[SessionKey] = set()
        events: dict[str, list[Event]] = {org: [] for org, _ in seeds}
        frontier = set(seeds)
        for _ in range(MAX_EXPANSION_ROUNDS):
            # each org's group stops growing at MAX_GROUP_SESSIONS on its own: one tenant's
            # runaway link graph never cuts another's expansion short
            sizes = Counter(org for org, _ in group)
            frontier = {key for key in frontier if sizes[key[0]] < MAX_GROUP_SESSIONS}
            if not frontier:
                break
            group |= frontier
            new_events = self._load_keys(frontier)
            grown: set[str] = set()
            for event in new_events:
                events[event.org_id].append(event)
                grown.add(event.org_id)
            found: set[SessionKey] = {(e.org_id, e.parent_session_id) for e in new_events if e.parent_session_id}
            runs = sorted({(e.org_id, e.cli_run_id) for e in new_events if e.cli_run_id})
            related = {**_keys(group), "runs": tuples_param(runs), "parent_ids": sorted({session for _, session in group}),
                       "run_ids": sorted({run for _, run in runs})}
            found |= {(org, session) for org, session in
                      self.storage.query_rows(load_query_compact("enrich_related_sessions"), related)}
            found |= self._sequence_neighbours(group, {org: events[org] for org in sorted(grown)})
            found |= {(org, session) for org, session in
                      self.storage.query_rows(load_query_compact("enrich_thread_members"), _keys(frontier))}
            frontier = {key for key in found if key[0] in events} - group
        by_org: dict[str, tuple[set[str], list[Event]]] = {org: (set(), org_events) for org, org_events in events.items()}
        for org, session in group:
            by_org[org][0].add(session)
        return by_org

    def _sequence_neighbours(self, group: set[SessionKey], events: dict[str, list[Event]]) -> set[SessionKey]:
        """Sessions with an event continuing a process boundary of the group's sessions, for
        the orgs whose events are given (those that grew this round).

        The boundaries come from the layout of each org's deduplicated events. When no
        imported record is superseded (nearly always), that is the layout the derivation
        starts from: it is kept (``_prepared``) for _derive_group, so a group is laid out once."""
        probes: list[tuple[str, int, str, int, int]] = []
        for org, org_events in events.items():
            unique = dedupe(org_events)
            kept = without_superseded(unique)
            if len(kept) == len(unique):
                prepared = Prepared(kept, layout_paused(kept))
                self._prepared[org] = (org_events, len(org_events), prepared)
                probe_layout = prepared.layout
            else:
                self._prepared.pop(org, None)
                probe_layout = layout_paused(unique)
            for fragments in probe_layout.fragments.values():
                for fragment in fragments:
                    if not fragment.events:
                        continue
                    first, last = fragment.events[0], fragment.events[-1]
                    if fragment.predecessor is None and fragment.first_seq:
                        probes.append((org, fragment.first_seq - 1, fragment.user_id,
                                       first.timestamp - CHAIN_WINDOW_US, first.timestamp + CHAIN_SKEW_US))
                    if fragment.successor is None and fragment.last_seq is not None:
                        probes.append((org, fragment.last_seq + 1, fragment.user_id,
                                       last.timestamp - CHAIN_SKEW_US, last.timestamp + CHAIN_WINDOW_US))
        # A hostile sequence number at the edge of Int64 has no neighbour to probe for.
        probes = [p for p in probes if INT64_MIN <= p[1] <= INT64_MAX]
        if not probes:
            return set()
        windows: dict[tuple[str, int, str], list[tuple[int, int]]] = defaultdict(list)
        for org, seq, user, low, high in probes:
            windows[(org, seq, user)].append((low, high))
        params = {
            **_keys(group),
            "low": _dt(min(p[3] for p in probes)),
            "high": _dt(max(p[4] for p in probes)),
            "probes": tuples_param(sorted(windows)),
        }
        found: set[SessionKey] = set()
        for org, session, seq, user, ts in self.storage.query_rows(load_query_compact("enrich_sequence_neighbours"), params):
            if (org, session) not in found and \
                    any(low <= int(ts) <= high for low, high in windows.get((org, int(seq), user), ())):
                found.add((org, session))
        return found

    def _derive_group(self, org: str, group: set[str], events: list[Event], now_us: int,
                      marks: dict[str, int] | None = None,
                      existing: dict[str, set[tuple[Any, ...]]] | None = None) -> dict[str, int]:
        """Derive one org's group and queue its rows; ``marks`` and ``existing`` are its
        rederive marks and last-written keys when a batch read them for several groups."""
        if self.membership is not None and not self.membership.owns(org, group):
            return {"groups_of_other_enrichers": 1}
        keys = {(org, session) for session in group}
        if marks is None:
            marks = self._rederive_marks(keys).get(org, {})
        if any(ms > self._marks_applied.get((org, session), 0) for session, ms in marks.items()):
            # A delete purged events the cache may still hold: read the group whole again.
            for session in group:
                self._forget((org, session))
            events = self._load(org, group)
            self._marks_applied.update({(org, session): ms for session, ms in marks.items()})
        prepared = self._prepared.pop(org, None)
        if prepared is not None and prepared[0] is events and prepared[1] == len(events):
            derived = derive_prepared(prepared[2], now_us, self.idle_timeout_us)  # _expand's last layout
        else:
            derived = derive(events, now_us, self.idle_timeout_us)
        if existing is None:
            existing = self._existing_keys(keys).get(org, {})
        stats: dict[str, int] = defaultdict(int)
        tables: dict[str, dict[str, list[Any]]] = {}
        for component, component_events in _components(derived, events):
            version = version_of(component_events)
            marked = max((marks.get(s.session_id, 0) for s in component.sessions), default=0)
            if marked:  # a delete left this component with fewer events than before
                version = max(version, (marked << VERSION_COUNT_BITS) | min(len(component_events), (1 << VERSION_COUNT_BITS) - 1))
            _extend_tables(tables, rows_for(component, version))
            stats["sessions"] += len(component.sessions)
            stats["threads"] += len(component.threads)
        tombstones = _tombstones(derived, existing)
        newest_mark = max(marks.values(), default=0)
        tomb_version = version_of(events)
        if newest_mark:
            tomb_version = max(tomb_version, (newest_mark << VERSION_COUNT_BITS) | ((1 << VERSION_COUNT_BITS) - 1))
        rows = sum(len(next(iter(columns.values()), ())) for columns in tables.values())
        # Written with the pass's other groups (_write_derived): one insert per table.
        self._unwritten.append(_Derived(org, group, tables, tombstones, tomb_version, rows))
        stats["tombstones"] += sum(len(keys) for keys in tombstones.values())
        return dict(stats)

    def _write_derived(self, stats: dict[str, int]) -> None:
        """Insert the rows of the groups derived since the last write: one insert per table
        for all of them, then each group's tombstones. When that fails, each group is written
        alone, so only a group whose own rows cannot be stored is quarantined."""
        entries, self._unwritten = self._unwritten, []
        if not entries:
            return
        started = time.perf_counter()
        if len(entries) > 1 and self._insert_together(entries):
            entries = [entry for entry in entries if self._stored(entry, stats, rows=False)]
        else:
            entries = [entry for entry in entries if self._stored(entry, stats, rows=True)]
        # Debouncing counts a group's share of the write as part of deriving it (_derived
        # recorded what deriving it took, a moment ago).
        seconds = time.perf_counter() - started
        total = sum(entry.rows for entry in entries) or 1
        for entry in entries:
            took = self._derived_at.get((entry.org, min(entry.group)), (0.0, 0.0))[1]
            self._derived(entry.org, entry.group, took + seconds * entry.rows / total)

    def _insert_together(self, entries: list[_Derived]) -> bool:
        """One insert per table of every entry's rows; False (nothing to report yet: each is
        written alone next) when one fails."""
        merged: dict[str, dict[str, list[Any]]] = {}
        for entry in entries:
            _extend_tables(merged, entry.tables)
        try:
            for table, columns in merged.items():
                self.storage.insert_columns(table, columns)
        except Exception as exc:  # noqa: BLE001 - one group's rows may be what failed
            log.debug("writing %d groups together failed, writing each alone: %s", len(entries), exc)
            return False
        return True

    def _stored(self, entry: _Derived, stats: dict[str, int], rows: bool) -> bool:
        """Write ``entry``'s tombstones (and with ``rows`` its rows first); on failure
        quarantine its group (only it) and return False."""
        try:
            if rows:
                for table, columns in entry.tables.items():
                    self.storage.insert_columns(table, columns)
            self._write_tombstones(entry.org, entry.tombstones, entry.tomb_version)
        except Exception as error:  # noqa: BLE001 - isolate: any failure of one group
            self._fail(entry.org, entry.group, error)
            stats["failed_groups"] += 1
            return False
        return True

    def _rederive_marks(self, keys: set[SessionKey]) -> dict[str, dict[str, int]]:
        """Sessions whose conversation lost a session to a delete (storage/management.py):
        org -> session -> the ms of the newest mark, which their rows' version must reach."""
        marks: dict[str, dict[str, int]] = defaultdict(dict)
        for org, session, ms in self.storage.query_rows(load_query_compact("enrich_rederive_marks"), _keys(keys)):
            marks[org][session] = int(ms)
        return marks

    def _existing_keys(self, keys: set[SessionKey]) -> dict[str, dict[str, set[tuple[Any, ...]]]]:
        """org -> table -> the keys the last derivation wrote for the sessions."""
        existing: dict[str, dict[str, set[tuple[Any, ...]]]] = defaultdict(lambda: defaultdict(set))
        for org, kind, k1, k2, k3, idx in self.storage.query_rows(load_query_compact("enrich_existing_keys"), _keys(keys)):
            existing[org][kind].add(derived_key(kind, k1, k2, k3, idx))
        return existing

    # -- writing -------------------------------------------------------------------------
    def _write_tombstones(self, org: str, tombstones: dict[str, set[tuple[Any, ...]]], version: int) -> None:
        write_tombstones(self.storage, org, tombstones, version)


def _keys(keys: Iterable[SessionKey]) -> dict[str, Any]:
    """The parameters naming (org, session) pairs in the enrich_*.sql queries (the pairs
    bound as their text: storage/params.py)."""
    pairs = sorted(set(keys))
    return {"keys": tuples_param(pairs), "orgs": sorted({org for org, _ in pairs})}


def _extend_tables(into: dict[str, dict[str, list[Any]]], tables: Mapping[str, Mapping[str, Sequence[Any]]]) -> None:
    """Append ``tables``' columns (table -> column -> values) to those of ``into``."""
    for table, columns in tables.items():
        target = into.setdefault(table, defaultdict(list))
        for name, values in columns.items():
            target[name].extend(values)


def layout_paused(events: list[Event]) -> Layout:
    """layout() with the cyclic GC paused, as derive runs it (enrich/gcpause.py)."""
    with paused_gc():
        return layout(events)


def _by_session(events: list[Event]) -> dict[SessionKey, list[Event]]:
    """Loaded events by session: runs of one session at a time (the load returns them
    session by session), any order accepted."""
    found: dict[SessionKey, list[Event]] = {}
    for key, run in groupby(events, key=_SESSION_KEY):
        held = found.get(key)
        if held is None:
            found[key] = list(run)
        else:
            held.extend(run)
    return found


_SESSION_KEY = attrgetter("org_id", "session_id")
_EVENT_KEY = attrgetter("event_key")


def _keep_later(known: dict[int, Event], events: Sequence[Event]) -> None:
    """Add ``events`` to ``known``, one copy per EventKey: the later stored one, as
    ReplacingMergeTree's FINAL keeps. In one update when no key repeats (nearly always)."""
    fresh = dict(zip(map(_EVENT_KEY, events), events, strict=True))
    if len(fresh) == len(events) and known.keys().isdisjoint(fresh):
        known.update(fresh)
        return
    for event in events:
        current = known.get(event.event_key)
        if current is None or event.ingested_at >= current.ingested_at:
            known[event.event_key] = event


def _now_us(now: datetime | None) -> int:
    moment = now or datetime.now(UTC)
    return int(moment.timestamp() * 1_000_000)


def _components(derived: Derived, events: list[Event]) -> list[tuple[Derived, list[Event]]]:
    """Split a derivation into independent parts (sessions joined by a thread, a link or a
    CLI run), each with the events it was derived from."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    for session in derived.sessions:
        find(session.session_id)
        union(session.session_id, "thread:" + session.thread_id)
    for link in derived.links:
        union(link.from_session_id, link.to_session_id)
    for run in derived.cli_runs:
        for session_id in run.session_ids:
            union(session_id, "run:" + run.cli_run_id)
    groups: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for session in derived.sessions:
        groups[find(session.session_id)]["sessions"].append(session)
    for segment in derived.segments:
        groups[find(segment.session_id)]["segments"].append(segment)
    for link in derived.links:
        groups[find(link.from_session_id)]["links"].append(link)
    for compaction in derived.compactions:
        groups[find(compaction.session_id)]["compactions"].append(compaction)
    for run in derived.cli_runs:
        groups[find("run:" + run.cli_run_id)]["cli_runs"].append(run)
    for thread in derived.threads:
        groups[find("thread:" + thread.thread_id)]["threads"].append(thread)
    # A placeholder's events count towards the session it was folded into.
    owner = {session.session_id: find(session.session_id) for session in derived.sessions}
    owner.update({placeholder: owner[target] for placeholder, target in derived.absorbed_sessions if target in owner})
    by_root: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        root = owner.get(event.session_id)
        if root is not None:
            by_root[root].append(event)
    result = []
    for root, parts in sorted(groups.items()):
        result.append((Derived(
            sessions=tuple(parts["sessions"]), segments=tuple(parts["segments"]), links=tuple(parts["links"]),
            compactions=tuple(parts["compactions"]), cli_runs=tuple(parts["cli_runs"]), threads=tuple(parts["threads"]),
        ), by_root.get(root, [])))
    return result


def _tombstones(derived: Derived, existing: dict[str, set[tuple[Any, ...]]]) -> dict[str, set[tuple[Any, ...]]]:
    produced: dict[str, set[tuple[Any, ...]]] = {
        "llm_sessions": {(s.session_id,) for s in derived.sessions},
        "threads": {(t.thread_id,) for t in derived.threads},
        "session_segments": {(s.session_id, s.segment_index) for s in derived.segments},
        "session_links": {(k.from_session_id, k.to_session_id, k.link_type) for k in derived.links},
        "compactions": {(c.session_id, c.compaction_key) for c in derived.compactions},
        "cli_runs": {(r.cli_run_id,) for r in derived.cli_runs},
    }
    return {table: existing.get(table, set()) - keys for table, keys in produced.items()}


def rows_for(derived: Derived, version: int) -> dict[str, dict[str, list[Any]]]:
    """Column-oriented rows of every derived table (what the service inserts)."""
    tables: dict[str, dict[str, list[Any]]] = {}

    def add(table: str, row: dict[str, Any]) -> None:
        columns = tables.setdefault(table, defaultdict(list))
        row["version"] = version
        row["is_deleted"] = 0
        for name, value in row.items():
            columns[name].append(value)

    def usage(u: Any) -> dict[str, Any]:
        return {
            "input_tokens": u.input_tokens, "output_tokens": u.output_tokens,
            "cache_read_tokens": u.cache_read_tokens, "cache_creation_tokens": u.cache_creation_tokens,
            "cache_creation_5m_tokens": u.cache_creation_5m_tokens,
            "cache_creation_1h_tokens": u.cache_creation_1h_tokens,
            "cost_usd": u.cost_usd, "cost_micros": u.cost_micros, "computed_cost_usd": u.computed_cost_usd,
            "api_request_count": u.api_request_count,
            "unpriced_reasons": dict(u.unpriced_reasons),
        }

    for s in derived.sessions:
        add("llm_sessions", {
            "org_id": s.org_id, "session_id": s.session_id, "thread_id": s.thread_id,
            "parent_thread_id": s.parent_thread_id, "thread_position": s.thread_position,
            "user_id": s.user_id, "user_email": s.user_email, "account_uuid": s.account_uuid,
            "organization_id": s.organization_id, "project_id": s.project_id, "project_name": s.project_name,
            "cwd": s.cwd, "git_branch": s.git_branch, "agent_name": s.agent_name,
            "first_model": s.first_model, "models": list(s.models), "terminal_type": s.terminal_type,
            "app_version": s.app_version, "started_at": _dt(s.started_at),
            "last_activity_at": _dt(s.last_activity_at), "closed_at": _dt_or_none(s.closed_at),
            "close_reason": s.close_reason, "close_evidence": s.close_evidence,
            "start_source": s.start_source, "start_evidence": s.start_evidence,
            "segment_count": s.segment_count, "resume_count": s.resume_count, "cli_run_count": s.cli_run_count,
            "compaction_count": s.compaction_count, "failed_compaction_count": s.failed_compaction_count,
            "last_compacted_at": _dt_or_none(s.last_compacted_at),
            **usage(s.usage),
            "unpriced_request_count": s.usage.unpriced_request_count,
            "api_error_count": s.api_error_count, "user_prompt_count": s.user_prompt_count,
            "tool_call_count": s.tool_call_count, "tool_error_count": s.tool_error_count,
            "active_time_seconds": s.active_time_seconds, "first_prompt": s.first_prompt, "title": s.title,
            "event_count": s.event_count, "has_hook_evidence": int(s.has_hook_evidence),
            "injected_prompt_count": s.injected_prompt_count, "repository": s.repository,
            "repository_provider": s.repository_provider, "subagent_count": s.subagent_count,
            "subagent_request_count": s.subagent_request_count, "subagent_cost_usd": s.subagent_cost_usd,
        })
    for g in derived.segments:
        add("session_segments", {
            "org_id": g.org_id, "session_id": g.session_id, "segment_index": g.segment_index,
            "source": g.source, "started_at": _dt(g.started_at), "ended_at": _dt(g.ended_at),
            "cli_run_id": g.cli_run_id, "first_sequence": g.first_sequence, "last_sequence": g.last_sequence,
            "event_count": g.event_count, "evidence": g.evidence,
            "idle_before_seconds": g.idle_before_seconds, "session_age_seconds": g.session_age_seconds,
            "cache_likely_expired": None if g.cache_likely_expired is None else int(g.cache_likely_expired),
            "estimated_cache_write_usd": g.estimated_cache_write_usd, "context_tokens": g.context_tokens,
            "cache_write_tokens": g.cache_write_tokens, "failed": int(g.failed), "failure": g.failure,
        })
    for k in derived.links:
        add("session_links", {
            "org_id": k.org_id, "from_session_id": k.from_session_id, "to_session_id": k.to_session_id,
            "link_type": k.link_type, "created_at": _dt(k.created_at), "evidence": k.evidence,
        })
    for c in derived.compactions:
        add("compactions", {
            "org_id": c.org_id, "session_id": c.session_id, "compaction_key": c.compaction_key,
            "thread_id": c.thread_id, "timestamp": _dt(c.timestamp), "trigger": c.trigger,
            "success": int(c.success), "pre_tokens": c.pre_tokens, "post_tokens": c.post_tokens,
            "duration_ms": c.duration_ms, "error": c.error, "prompt_id": c.prompt_id, "evidence": c.evidence,
        })
    for r in derived.cli_runs:
        add("cli_runs", {
            "org_id": r.org_id, "cli_run_id": r.cli_run_id, "started_at": _dt(r.started_at),
            "ended_at": _dt(r.ended_at), "session_ids": list(r.session_ids), "host": r.host,
            "app_version": r.app_version, "evidence": r.evidence,
        })
    for t in derived.threads:
        u = usage(t.usage)
        add("threads", {
            "org_id": t.org_id, "thread_id": t.thread_id, "root_session_id": t.root_session_id,
            "parent_thread_id": t.parent_thread_id, "session_ids": list(t.session_ids),
            "session_count": len(t.session_ids), "compaction_count": t.compaction_count,
            "failed_compaction_count": t.failed_compaction_count,
            **u,
            "api_error_count": t.api_error_count, "user_prompt_count": t.user_prompt_count,
            "tool_call_count": t.tool_call_count, "first_activity_at": _dt(t.first_activity_at),
            "last_activity_at": _dt(t.last_activity_at), "closed_at": _dt_or_none(t.closed_at),
            "close_reason": t.close_reason, "status": t.status, "title": t.title,
            "user_id": t.user_id, "user_email": t.user_email, "project_id": t.project_id,
            "project_name": t.project_name, "agent_name": t.agent_name, "models": list(t.models),
            "unpriced_request_count": t.usage.unpriced_request_count,
            "injected_prompt_count": t.injected_prompt_count, "repository": t.repository,
            "git_branch": t.git_branch,
        })
    return {table: dict(columns) for table, columns in tables.items()}
