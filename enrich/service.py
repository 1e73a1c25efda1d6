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
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from enrich.derive import derive
from enrich.model import Derived, Event, event_from_row
from enrich.segments import CHAIN_SKEW_US, CHAIN_WINDOW_US, dedupe, layout
from storage.client import Storage
from storage.sql_files import load_query

log = logging.getLogger("loomline.enrich")

VERSION_COUNT_BITS = 22
MAX_GROUP_SESSIONS = 2000  # stop expanding a group past this (a runaway link graph)
MAX_EXPANSION_ROUNDS = 8
WATERMARK_OVERLAP_MS = 5_000  # re-read this much before the watermark (out-of-order commits)

SessionKey = tuple[str, str]  # (org id, session id)


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

    def __init__(self, storage: Storage, idle_timeout_minutes: float = 30.0, lookback_hours: float = 24.0) -> None:
        self.storage = storage
        self.idle_timeout_us = int(idle_timeout_minutes * 60 * 1_000_000)
        self.lookback_us = int(lookback_hours * 3600 * 1_000_000)
        self._dirty: set[SessionKey] = set()
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()  # one pass at a time per process
        self._watermark_ms: int | None = None
        self._seen: dict[SessionKey, int] = {}  # session -> newest IngestedAt already derived
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

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
        if self._watermark_ms is None:
            # IngestedAt is the storage server's clock, not event time: start from the wall
            # clock (``now`` passed to a pass only decides timeouts).
            self._watermark_ms = (int(time.time() * 1_000_000) - self.lookback_us) // 1000
        since = self._watermark_ms - WATERMARK_OVERLAP_MS
        rows = self.storage.query_rows(load_query("enrich_ingested_since"), {"since": _dt(since * 1000)})
        found: set[SessionKey] = set()
        newest = self._watermark_ms
        for org, session, ingested in rows:
            newest = max(newest, int(ingested))
            if self._seen.get((org, session), -1) < int(ingested):
                found.add((org, session))
                self._seen[(org, session)] = int(ingested)
        self._watermark_ms = newest
        horizon = newest - 10 * WATERMARK_OVERLAP_MS
        self._seen = {k: v for k, v in self._seen.items() if v >= horizon}
        return found

    def _idle_open_sessions(self, now_us: int) -> set[SessionKey]:
        rows = self.storage.query_rows(load_query("enrich_idle_open_sessions"), {"before": _dt(now_us - self.idle_timeout_us)})
        return {(org, session) for org, session in rows}

    # -- passes --------------------------------------------------------------------------
    def run_once(self, now: datetime | None = None) -> dict[str, int]:
        """Derive every dirty session (and what it is linked to). Returns counts."""
        now_us = _now_us(now)
        with self._run_lock:
            dirty = self._take_dirty()
            try:
                dirty |= self._ingested_since_watermark()
                dirty |= self._idle_open_sessions(now_us)
                return self._derive_sessions(dirty, now_us)
            except Exception:
                self.mark_dirty(dirty)  # try again next pass
                raise

    def reconcile(self, now: datetime | None = None) -> dict[str, int]:
        """Re-derive every session with events in the look-back window, and every open one."""
        now_us = _now_us(now)
        with self._run_lock:
            rows = self.storage.query_rows(load_query("enrich_reconcile_sessions"), {"since": _dt(now_us - self.lookback_us)})
            return self._derive_sessions({(org, session) for org, session in rows}, now_us)

    def derive_all(self, now: datetime | None = None) -> dict[str, int]:
        """Re-derive every session in storage (tools and tests; reconcile is the periodic one)."""
        now_us = _now_us(now)
        with self._run_lock:
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

    def _loop(self, interval: float, reconcile_interval: float) -> None:
        next_reconcile = time.monotonic() + reconcile_interval
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_reconcile:
                    self.reconcile()
                    next_reconcile = time.monotonic() + reconcile_interval
                else:
                    self.run_once()
            except Exception:
                log.exception("enrichment pass failed; retrying next interval")
            self._stop.wait(interval)

    # -- the work ------------------------------------------------------------------------
    def _derive_sessions(self, sessions: set[SessionKey], now_us: int) -> dict[str, int]:
        stats: dict[str, int] = defaultdict(int)
        by_org: dict[str, set[str]] = defaultdict(set)
        for org, session in sessions:
            if session:
                by_org[org].add(session)
        for org, org_sessions in sorted(by_org.items()):
            pending = set(org_sessions)
            while pending:
                seed = min(pending)
                group, events = self._expand(org, {seed} | set(sorted(pending)[:50]))
                pending -= group
                for key, value in self._derive_group(org, group, events, now_us).items():
                    stats[key] += value
        stats["dirty_sessions"] = len(sessions)
        return dict(stats)

    def _load(self, org: str, sessions: set[str]) -> list[Event]:
        if not sessions:
            return []
        rows = self.storage.query_dicts(load_query("enrich_load_events"), {"org": org, "sessions": sorted(sessions)})
        return [event_from_row(row) for row in rows]

    def _expand(self, org: str, seeds: set[str]) -> tuple[set[str], list[Event]]:
        """The seeds plus every session that may be derived differently with them."""
        group: set[str] = set()
        events: list[Event] = []
        frontier = set(seeds)
        for _ in range(MAX_EXPANSION_ROUNDS):
            if not frontier or len(group) >= MAX_GROUP_SESSIONS:
                break
            group |= frontier
            new_events = self._load(org, frontier)
            events.extend(new_events)
            found: set[str] = set()
            found |= {e.parent_session_id for e in new_events if e.parent_session_id}
            runs = sorted({e.cli_run_id for e in new_events if e.cli_run_id})
            params: dict[str, Any] = {"org": org, "sessions": sorted(group), "runs": runs}
            found |= {row[0] for row in self.storage.query_rows(load_query("enrich_related_sessions"), params)}
            found |= self._sequence_neighbours(org, group, events)
            found |= {row[0] for row in self.storage.query_rows(load_query("enrich_thread_members"),
                                                                {"org": org, "sessions": sorted(frontier)})}
            frontier = found - group
        return group, events

    def _sequence_neighbours(self, org: str, group: set[str], events: list[Event]) -> set[str]:
        """Sessions with an event continuing a process boundary of the group's sessions."""
        probes: list[tuple[int, str, int, int]] = []
        for fragments in layout(dedupe(events)).fragments.values():
            for fragment in fragments:
                if not fragment.events:
                    continue
                first, last = fragment.events[0], fragment.events[-1]
                if fragment.predecessor is None and fragment.first_seq:
                    probes.append((fragment.first_seq - 1, fragment.user_id,
                                   first.timestamp - CHAIN_WINDOW_US, first.timestamp + CHAIN_SKEW_US))
                if fragment.successor is None and fragment.last_seq is not None:
                    probes.append((fragment.last_seq + 1, fragment.user_id,
                                   last.timestamp - CHAIN_SKEW_US, last.timestamp + CHAIN_WINDOW_US))
        if not probes:
            return set()
        params = {
            "org": org,
            "sessions": sorted(group),
            "low": _dt(min(p[2] for p in probes)),
            "high": _dt(max(p[3] for p in probes)),
            "seqs": [p[0] for p in probes],
            "users": [p[1] for p in probes],
            "lows": [_dt(p[2]) for p in probes],
            "highs": [_dt(p[3]) for p in probes],
        }
        return {row[0] for row in self.storage.query_rows(load_query("enrich_sequence_neighbours"), params)}

    def _derive_group(self, org: str, group: set[str], events: list[Event], now_us: int) -> dict[str, int]:
        derived = derive(events, now_us, self.idle_timeout_us)
        existing = self._existing_keys(org, group)
        stats: dict[str, int] = defaultdict(int)
        tables: dict[str, dict[str, list[Any]]] = {}
        for component, component_events in _components(derived, events):
            for table, columns in rows_for(component, version_of(component_events)).items():
                into = tables.setdefault(table, defaultdict(list))
                for name, values in columns.items():
                    into[name].extend(values)
            stats["sessions"] += len(component.sessions)
            stats["threads"] += len(component.threads)
        for table, columns in tables.items():  # one insert per table for the whole group
            self.storage.insert_columns(table, columns)
        tombstones = _tombstones(derived, existing)
        self._write_tombstones(org, tombstones, version_of(events))
        stats["tombstones"] += sum(len(keys) for keys in tombstones.values())
        return dict(stats)

    def _existing_keys(self, org: str, sessions: set[str]) -> dict[str, set[tuple[Any, ...]]]:
        rows = self.storage.query_rows(load_query("enrich_existing_keys"), {"org": org, "sessions": sorted(sessions)})
        keys: dict[str, set[tuple[Any, ...]]] = defaultdict(set)
        for kind, k1, k2, k3, idx in rows:
            keys[kind].add({
                "llm_sessions": (k1,), "threads": (k1,), "session_segments": (k1, int(idx)),
                "session_links": (k1, k2, k3), "compactions": (k1, k2), "cli_runs": (k1,),
            }[kind])
        return keys

    # -- writing -------------------------------------------------------------------------
    def _write_tombstones(self, org: str, tombstones: dict[str, set[tuple[Any, ...]]], version: int) -> None:
        key_columns = {
            "llm_sessions": ("session_id",), "threads": ("thread_id",),
            "session_segments": ("session_id", "segment_index"),
            "session_links": ("from_session_id", "to_session_id", "link_type"),
            "compactions": ("session_id", "compaction_key"), "cli_runs": ("cli_run_id",),
        }
        for table, keys in tombstones.items():
            if not keys:
                continue
            ordered = sorted(keys)
            columns: dict[str, list[Any]] = {"org_id": [org] * len(ordered)}
            for i, name in enumerate(key_columns[table]):
                columns[name] = [key[i] for key in ordered]
            columns["version"] = [version] * len(ordered)
            columns["is_deleted"] = [1] * len(ordered)
            self.storage.insert_columns(table, columns)


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
        })
    for g in derived.segments:
        add("session_segments", {
            "org_id": g.org_id, "session_id": g.session_id, "segment_index": g.segment_index,
            "source": g.source, "started_at": _dt(g.started_at), "ended_at": _dt(g.ended_at),
            "cli_run_id": g.cli_run_id, "first_sequence": g.first_sequence, "last_sequence": g.last_sequence,
            "event_count": g.event_count, "evidence": g.evidence,
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
        })
    return {table: dict(columns) for table, columns in tables.items()}
