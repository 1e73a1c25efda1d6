"""Management writes: titles, archive, delete, the audit log, and the purge of rows that
arrive for deleted sessions. Tables and the reasoning: migrations/0005_management.sql.

Delete, in order, so that no reader ever sees a half-deleted session:

1. the tombstones (``deleted_sessions``, ``deleted_threads``) and the audit row: from here
   on enrichment never derives the session again and every reader of events hides it;
2. the derived rows get ``is_deleted = 1`` at ``DELETE_VERSION`` (the top of UInt64), which
   no derivation can outrank, so FINAL readers stop seeing them now and for good;
3. the raw and typed rows go with lightweight DELETE in every table of ``PURGE_TABLES``.

Records arriving later for a deleted session id are stored by the receiver (it acks what it
stored) but hidden by the tombstone and removed again by ``purge_late_rows``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from storage.client import Storage
from storage.sql_files import load_query
from storage.tombstones import DERIVED_KEYS, derived_key, write_tombstones

log = logging.getLogger("loomline.manage")

DELETE_VERSION = 2**64 - 1
# Every table holding raw or typed rows keyed by (OrgId, SessionId). A table added by a later
# migration that stores per-session rows belongs here too.
PURGE_TABLES = (
    "events",
    "otel_logs",
    "otel_traces",
    "otel_metrics_sum",
    "otel_metrics_gauge",
    "otel_metrics_histogram",
    "otel_metrics_exponential_histogram",
    "otel_metrics_summary",
)
THREAD, SESSION = "thread", "session"
MAX_TITLE_CHARS = 200


@dataclass(frozen=True)
class Override:
    """A user's management state of one conversation or session."""

    title: str = ""  # '' = no user title
    archived: bool = False


def actor_of(token: str | None) -> str:
    """Who, for the audit log: ``local`` without a token, else a fingerprint of the token
    (never the token itself, which would leak it to every reader of the audit)."""
    if not token:
        return "local"
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:12]


def _now() -> datetime:
    return datetime.now(UTC)


def get_override(storage: Storage, org: str, kind: str, target: str) -> Override:
    rows = storage.query_rows(load_query("manage_override"), {"org": org, "kind": kind, "target": target})
    if not rows:
        return Override()
    return Override(title=rows[0][0], archived=bool(rows[0][1]))


def record_audit(storage: Storage, org: str, actor: str, action: str, target_kind: str, target_id: str,
                 details: dict[str, Any], at: datetime | None = None) -> str:
    """Append one audit row; returns its id."""
    audit_id = uuid.uuid4().hex
    storage.insert_columns("audit_log", {
        "org_id": [org], "at": [at or _now()], "audit_id": [audit_id], "actor": [actor],
        "action": [action], "target_kind": [target_kind], "target_id": [target_id],
        "details": [json.dumps(details, sort_keys=True, ensure_ascii=False)],
    })
    return audit_id


def update(storage: Storage, org: str, kind: str, target: str, actor: str,
           title: str | None = None, archived: bool | None = None) -> tuple[Override, list[str]]:
    """Change a title and/or the archived flag; one audit row per change. Returns the new
    state and the actions recorded (rename, archive, unarchive; none if nothing changed)."""
    before = get_override(storage, org, kind, target)
    after = Override(
        title=before.title if title is None else title,
        archived=before.archived if archived is None else archived,
    )
    actions: list[tuple[str, dict[str, Any]]] = []
    if after.title != before.title:
        actions.append(("rename", {"from": before.title, "to": after.title}))
    if after.archived != before.archived:
        actions.append(("archive" if after.archived else "unarchive", {}))
    if not actions:
        return after, []
    at = _now()
    storage.insert_columns("management_overrides", {
        "org_id": [org], "kind": [kind], "target_id": [target], "title": [after.title],
        "archived": [int(after.archived)], "updated_at": [at], "updated_by": [actor],
    })
    target_kind = "conversation" if kind == THREAD else "llm_session"
    for i, (action, details) in enumerate(actions):  # 1 µs apart: the log keeps their order
        record_audit(storage, org, actor, action, target_kind, target, details, at + timedelta(microseconds=i))
    return after, [a for a, _ in actions]


def thread_sessions(storage: Storage, org: str, thread: str) -> list[str]:
    """The live sessions of a conversation."""
    rows = storage.query_rows(load_query("manage_thread_sessions"), {"org": org, "thread": thread})
    return sorted({r[0] for r in rows if r[0]})


def session_thread(storage: Storage, org: str, session: str) -> tuple[str, int] | None:
    """(thread id, live sessions in that thread) of a live session, or None."""
    rows = storage.query_rows(load_query("manage_session_thread"), {"org": org, "session": session})
    return (rows[0][0], int(rows[0][1])) if rows else None


def delete(storage: Storage, org: str, sessions: Iterable[str], whole_threads: Iterable[str], actor: str,
           target_kind: str, target_id: str) -> dict[str, Any]:
    """Delete sessions (and conversations whose every session goes) at once and for good.

    Returns ``{"audit_id", "sessions", "threads", "affected"}``; ``affected`` are live
    sessions that enrichment should re-derive (the rest of a thread, fork children)."""
    session_ids = sorted(set(sessions))
    thread_ids = sorted(set(whole_threads))
    at = _now()
    audit_id = record_audit(storage, org, actor, "delete", target_kind, target_id,
                            {"sessions": session_ids, "threads": thread_ids}, at)
    if session_ids:
        storage.insert_columns("deleted_sessions", {
            "org_id": [org] * len(session_ids), "session_id": session_ids,
            "thread_id": [target_id if target_kind == "conversation" else ""] * len(session_ids),
            "deleted_at": [at] * len(session_ids), "deleted_by": [actor] * len(session_ids),
            "audit_id": [audit_id] * len(session_ids),
        })
    if thread_ids:
        storage.insert_columns("deleted_threads", {
            "org_id": [org] * len(thread_ids), "thread_id": thread_ids, "deleted_at": [at] * len(thread_ids),
            "deleted_by": [actor] * len(thread_ids), "audit_id": [audit_id] * len(thread_ids),
        })
    params = {"org": org, "sessions": session_ids, "threads": thread_ids}
    affected = sorted({r[0] for r in storage.query_rows(load_query("manage_affected_sessions"), params)})
    if affected:  # before the markers: their next derivation must outrank today's rows
        storage.insert_columns("rederive_marks", {
            "org_id": [org] * len(affected), "session_id": affected, "audit_id": [audit_id] * len(affected),
        })
    _tombstone_derived(storage, org, set(session_ids), set(thread_ids))
    purge(storage, org, session_ids)
    return {"audit_id": audit_id, "sessions": session_ids, "threads": thread_ids, "affected": affected}


def _tombstone_derived(storage: Storage, org: str, sessions: set[str], threads: set[str]) -> None:
    rows = storage.query_rows(load_query("manage_derived_keys"),
                              {"org": org, "sessions": sorted(sessions), "threads": sorted(threads)})
    keys: dict[str, set[tuple[Any, ...]]] = {table: set() for table in DERIVED_KEYS}
    for kind, k1, k2, k3, idx, members in rows:
        if kind == "threads" and k1 not in threads and not set(members) <= sessions:
            continue  # a thread that keeps sessions: re-derivation rewrites it
        if kind == "cli_runs" and not set(members) <= sessions:
            continue
        keys[kind].add(derived_key(kind, k1, k2, k3, idx))
    write_tombstones(storage, org, keys, DELETE_VERSION)


def purge(storage: Storage, org: str, sessions: list[str]) -> None:
    """Lightweight-DELETE every raw and typed row of ``sessions`` (waits until masked)."""
    if not sessions:
        return
    for table in PURGE_TABLES:
        storage.command(_on_target(storage, "manage_purge_rows", table), {"org": org, "sessions": sessions})


def purge_late_rows(storage: Storage) -> int:
    """Delete rows that arrived for deleted sessions after their delete; returns how many
    (org, session) pairs had some. Cheap when there are none (SessionId is indexed)."""
    found: dict[str, set[str]] = {}
    for table in PURGE_TABLES:
        for org, session in storage.query_rows(load_query("manage_late_rows"), {"table": table}):
            found.setdefault(org, set()).add(session)
    for org, sessions in sorted(found.items()):
        purge(storage, org, sorted(sessions))
    return sum(len(s) for s in found.values())


def apply_deleted_masks(storage: Storage) -> list[str]:
    """Start the rewrite of parts holding deleted rows, so the bytes leave disk; returns the
    tables concerned. Tables without masked rows are left alone."""
    local = {storage.mutation_target(t).split(" ", 1)[0]: t for t in PURGE_TABLES}  # this node's table names
    found = storage.query_rows(load_query("manage_masked_tables"), {"tables": sorted(local)})
    tables = sorted(local[r[0]] for r in found if r[0] in local)
    for table in tables:
        storage.command(_on_target(storage, "manage_apply_mask", table), settings={"mutations_sync": 0})
    return tables


def _on_target(storage: Storage, query: str, table: str) -> str:
    """A mutation query aimed at ``table``: the table itself, or on a cluster its local tables
    on every node (``Storage.mutation_target``). ``table`` is one of PURGE_TABLES, never
    input, so this is the one place a name is put into SQL text."""
    assert table in PURGE_TABLES
    return load_query(query).replace("{table:Identifier}", storage.mutation_target(table))


class Maintenance:
    """Background loop: purge late rows of deleted sessions and rewrite masked parts."""

    def __init__(self, storage: Storage, interval: float = 30.0, mask_every: int = 10) -> None:
        self.storage = storage
        self.interval = interval
        self.mask_every = mask_every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self, apply_masks: bool = False) -> int:
        purged = purge_late_rows(self.storage)
        if purged:
            log.info("purged late rows of %d deleted sessions", purged)
        if apply_masks:
            apply_deleted_masks(self.storage)
        return purged

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="loomline-manage", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        passes = 0
        while not self._stop.wait(self.interval):
            passes += 1
            try:
                self.run_once(apply_masks=passes % self.mask_every == 0)
            except Exception:
                log.exception("management maintenance pass failed; retrying next interval")
