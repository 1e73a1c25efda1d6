"""Decoded batches → storage, through a bounded queue, acknowledged only once stored.

Both OTLP transports call ``submit``; it returns a future that completes when every row
of the batch is in ClickHouse (or fails with the storage error). When the queue is full
``submit`` raises ``Backpressure`` at once, and the transport answers with its retryable
status (gRPC UNAVAILABLE, HTTP 503 + Retry-After), so memory stays bounded while storage
is slow or down.

One writer thread drains the queue. Every request's raw rows (``otel_*`` tables) are
inserted as their own block carrying that request's deduplication token, whether the
request was written alone or together with others, so an exporter retry of it adds no raw
rows however it is grouped the second time. The ``events`` rows of whatever is waiting are
coalesced into one insert (ClickHouse prefers few large inserts, and events are idempotent
on every path: EventKey + ReplacingMergeTree).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from receiver.batch import DecodedBatch
from receiver.selfmetrics import ReceiverMetrics
from receiver.store import store_batch
from storage.client import Storage, StorageError

log = logging.getLogger("loomline.receiver")

MAX_COALESCED_ROWS = 100_000
# While it lingers, how often the writer looks whether requests are still on their way.
ARRIVAL_POLL_SECONDS = 0.005
# Tables whose rows from several requests go into one insert: idempotent by their own key,
# so they need no per-request dedup token.
MERGED_TABLES = frozenset({"events"})


class Backpressure(RuntimeError):
    """The queue is full; the client should retry later."""


@dataclass
class _Item:
    batch: DecodedBatch
    future: Future[int]
    rows: int
    queued_at: float = 0.0


class IngestPipeline:
    """Bounded queue + writer thread. ``on_stored`` receives the (org, session) pairs of
    every stored batch (enrichment marks them dirty)."""

    def __init__(
        self,
        storage: Storage,
        metrics: ReceiverMetrics | None = None,
        max_batches: int = 64,
        max_records: int = 500_000,
        on_stored: Callable[[set[tuple[str, str]]], None] | None = None,
        linger_seconds: float = 0.1,
        min_block_rows: int = 20_000,
    ) -> None:
        self.storage = storage
        self.metrics = metrics or ReceiverMetrics()
        self.max_records = max_records
        self.on_stored = on_stored
        self.linger_seconds = linger_seconds
        self.min_block_rows = min_block_rows
        self._queue: queue.Queue[_Item | None] = queue.Queue(maxsize=max_batches)
        self._pending_records = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._arrivals: list[Callable[[], int]] = []
        self.metrics.gauges["queue_depth_batches"] = lambda: float(self._queue.qsize())
        self.metrics.gauges["queue_depth_records"] = lambda: float(self._pending_records)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="loomline-writer", daemon=True)
        self._thread.start()

    def arriving_from(self, count: Callable[[], int]) -> None:
        """Register a source of requests on their way to ``submit`` (a ReceiverCore: decoding
        or waiting to decode). Once any is registered the writer lingers for a bigger block
        only while some request is on its way; with none, for the whole linger time."""
        self._arrivals.append(count)

    def _on_the_way(self) -> bool:
        return not self._arrivals or any(count() > 0 for count in self._arrivals)

    def submit(self, batch: DecodedBatch) -> Future[int]:
        """Queue a batch for storage. Raises Backpressure when full or stopping."""
        rows = max(batch.accepted, 1)
        future: Future[int] = Future()
        with self._lock:
            if self._stopping:
                raise Backpressure("receiver is shutting down")
            if self._pending_records + rows > self.max_records and self._pending_records > 0:
                raise Backpressure(f"{self._pending_records} records waiting for storage")
            try:
                self._queue.put_nowait(_Item(batch, future, rows, time.monotonic()))
            except queue.Full:
                raise Backpressure(f"{self._queue.qsize()} requests waiting for storage") from None
            self._pending_records += rows
        return future

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking batches, finish the ones queued, then stop the writer."""
        with self._lock:
            self._stopping = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    # -- writer ----------------------------------------------------------------------
    def _run(self) -> None:
        busy = False  # the previous block held several requests: others are likely on the way
        while True:
            first = self._queue.get()
            if first is None:
                self._fail_remaining()
                return
            items, stop_after = self._collect(first, linger=self.linger_seconds if busy else 0.0)
            busy = len(items) > 1
            started = time.monotonic()
            self._write(items)
            if log.isEnabledFor(logging.DEBUG):
                log.debug("wrote %d request(s), %d rows, in %.0f ms (the oldest waited %.0f ms in the queue)",
                          len(items), sum(i.rows for i in items), (time.monotonic() - started) * 1000,
                          (started - min(i.queued_at for i in items)) * 1000)
            if stop_after:
                self._fail_remaining()
                return

    def _collect(self, first: _Item, linger: float) -> tuple[list[_Item], bool]:
        """``first`` plus whatever else is queued, up to MAX_COALESCED_ROWS. Under load
        (``linger`` > 0) wait up to that long for the block to reach ``min_block_rows``:
        every insert makes a part per partition that ClickHouse merges again later, so a
        few large inserts cost far less CPU than many small ones. It stops waiting once no
        request is on its way (``arriving_from``): waiting then only adds latency.
        Returns (items, stop)."""
        items = [first]
        rows = first.rows
        deadline = time.monotonic() + linger
        while rows < MAX_COALESCED_ROWS:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                wait = deadline - time.monotonic()
                if rows >= self.min_block_rows or wait <= 0 or not self._on_the_way():
                    break
                try:
                    item = self._queue.get(timeout=min(wait, ARRIVAL_POLL_SECONDS) if self._arrivals else wait)
                except queue.Empty:
                    continue
            if item is None:
                return items, True
            items.append(item)
            rows += item.rows
        return items, False

    def _fail_remaining(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                self._write([item])

    def _write(self, items: list[_Item]) -> None:
        if len(items) > 1:
            try:
                self._store_merged(items)
                with self._lock:
                    self._pending_records -= sum(i.rows for i in items)
                return
            except StorageError:
                # One request's rows may be what the insert choked on: write each alone so
                # only that request fails (and is retried), not everything merged with it.
                pass
            except Exception:
                log.exception("unexpected error writing a merged batch")
            for item in items:
                self._write([item])
            return
        try:
            self._store(items[0].batch, items)
        except StorageError as exc:
            log.warning("storage write failed (%d requests will be retried by their clients): %s", len(items), exc)
            for item in items:
                self.metrics.inc("storage_failures_total", signal=item.batch.signal)
                item.future.set_exception(exc)
        except Exception as exc:  # never let the writer thread die
            log.exception("unexpected error writing a batch")
            for item in items:
                item.future.set_exception(StorageError(f"unexpected write error: {exc}"))
        finally:
            with self._lock:
                self._pending_records -= sum(i.rows for i in items)

    def _store_merged(self, items: list[_Item]) -> None:
        """Insert several requests: raw tables request by request (each with its own dedup
        token: a merged block would have none, and a retry of one of its requests would
        add its raw rows again), then their events in one insert; complete the futures."""
        started = time.perf_counter()
        written = 0
        for item in items:
            written += store_batch(self.storage, item.batch, skip=MERGED_TABLES)
        written += store_batch(self.storage, _merge([i.batch for i in items], only=MERGED_TABLES))
        self.metrics.observe_insert(time.perf_counter() - started)
        self.metrics.inc("merged_requests_total", len(items))
        self._complete(items, written)

    def _store(self, batch: DecodedBatch, items: list[_Item]) -> None:
        """Insert ``batch`` (the rows of ``items``) and complete their futures on success."""
        started = time.perf_counter()
        written = store_batch(self.storage, batch)
        self.metrics.observe_insert(time.perf_counter() - started)
        self._complete(items, written)

    def _complete(self, items: list[_Item], written: int) -> None:
        sessions: set[tuple[str, str]] = set()
        for item in items:
            self.metrics.inc("records_stored_total", item.batch.accepted, signal=item.batch.signal)
            sessions |= item.batch.sessions
            item.future.set_result(written)
        if self.on_stored is not None and sessions:
            try:
                self.on_stored(sessions)
            except Exception:
                log.exception("on_stored callback failed")


def _merge(batches: list[DecodedBatch], only: frozenset[str] | None = None) -> DecodedBatch:
    """Concatenate batches table by table (``only`` those tables, when given). The result
    has no dedup token: a token names one request."""
    merged = DecodedBatch("mixed")
    for batch in batches:
        for table, columns in batch.tables.items():
            if only is not None and table not in only:
                continue
            target = merged.table(table, tuple(columns))
            for column, values in columns.items():
                target[column].extend(values)
        merged.accepted += batch.accepted
        merged.sessions |= batch.sessions
    return merged
