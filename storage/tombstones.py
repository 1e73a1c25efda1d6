"""Tombstones for the derived tables (ReplacingMergeTree(version, is_deleted)): the key
columns of each table, and writing ``is_deleted = 1`` rows at a version. Enrichment writes
them for rows it no longer derives; a delete (storage/management.py) for rows that must go."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from storage.client import Storage

# Each derived table's key, after org_id (its ORDER BY in migration 0003).
DERIVED_KEYS: dict[str, tuple[str, ...]] = {
    "llm_sessions": ("session_id",),
    "threads": ("thread_id",),
    "session_segments": ("session_id", "segment_index"),
    "session_links": ("from_session_id", "to_session_id", "link_type"),
    "compactions": ("session_id", "compaction_key"),
    "cli_runs": ("cli_run_id",),
}


def derived_key(kind: str, k1: Any, k2: Any, k3: Any, idx: Any) -> tuple[Any, ...]:
    """A row's key from the (kind, k1, k2, k3, idx) shape the key queries return
    (enrich_existing_keys.sql, manage_derived_keys.sql)."""
    return {
        "llm_sessions": (k1,), "threads": (k1,), "session_segments": (k1, int(idx)),
        "session_links": (k1, k2, k3), "compactions": (k1, k2), "cli_runs": (k1,),
    }[kind]


def write_tombstones(storage: Storage, org: str, keys: Mapping[str, set[tuple[Any, ...]]], version: int) -> None:
    """One insert per table of ``is_deleted = 1`` rows for ``keys`` at ``version``."""
    for table, table_keys in keys.items():
        if not table_keys:
            continue
        ordered = sorted(table_keys)
        columns: dict[str, list[Any]] = {"org_id": [org] * len(ordered)}
        for i, name in enumerate(DERIVED_KEYS[table]):
            columns[name] = [key[i] for key in ordered]
        columns["version"] = [version] * len(ordered)
        columns["is_deleted"] = [1] * len(ordered)
        storage.insert_columns(table, columns)
