"""Write a decoded batch to storage: the last step before a request is acknowledged."""

from __future__ import annotations

from collections.abc import Collection

from receiver import decode_logs_fast
from receiver.batch import DecodedBatch
from storage.client import Storage, StorageError
from storage.sql_files import load_query

# Raw tables first, then derived-from-raw: a failure part-way leaves nothing acknowledged,
# and the exporter's retry re-inserts; raw blocks dedup on the request token, events on
# their EventKey (ReplacingMergeTree).
TABLE_ORDER = (
    "otel_logs", "otel_traces", "otel_metrics_sum", "otel_metrics_gauge",
    "otel_metrics_histogram", "otel_metrics_exponential_histogram", "otel_metrics_summary",
    "events",
)


def store_batch(storage: Storage, batch: DecodedBatch, skip: frozenset[str] = frozenset()) -> int:
    """Insert every table of the batch (but ``skip``); returns rows written. Raises StorageError."""
    written = 0
    for table in sorted(batch.tables, key=lambda t: TABLE_ORDER.index(t) if t in TABLE_ORDER else 99):
        if table in skip:
            continue
        columns = batch.tables[table]
        token = f"{batch.dedup_token}:{table}" if batch.dedup_token else None
        native = decode_logs_fast.native_block(table, columns)
        if native is not None:
            names, block = native
            written += storage.insert_native(table, names, block, batch.row_count(table), dedup_token=token)
        else:
            written += storage.insert_columns(table, columns, dedup_token=token)
    return written


def stored_requests(storage: Storage, tokens: Collection[str]) -> set[str]:
    """Which of these request tokens name requests whose raw rows are already stored (the
    stored_requests ledger, migration 0013). Raises StorageError."""
    if not tokens:
        return set()
    try:
        rows = storage.query_rows(load_query("receiver_stored_requests"), {"tokens": sorted(set(tokens))})
    except Exception as exc:
        raise StorageError(f"reading stored_requests failed: {exc}") from exc
    return {row[0] for row in rows}


def record_requests(storage: Storage, tokens: Collection[str]) -> None:
    """Add these request tokens to the ledger: their raw rows are stored. Raises StorageError."""
    if tokens:
        storage.insert_columns("stored_requests", {"Token": list(tokens)})
