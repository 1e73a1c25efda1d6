"""Decoded batches → storage, through a bounded queue, acknowledged only once stored.

Both OTLP transports call ``submit``; it returns a future that completes when every row
of the batch is in ClickHouse (or fails with the storage error). When the queue is full
``submit`` raises ``Backpressure`` at once, and the transport answers with its retryable
status (gRPC UNAVAILABLE, HTTP 503 + Retry-After), so memory stays bounded while storage
is slow or down.

One writer thread drains the queue and writes whatever is waiting as one insert per table:
ClickHouse's cost is mostly per insert and per part, so a few large inserts cost far less
CPU than many small ones. Retries stay harmless:

* raw rows (``otel_*`` tables): the ``stored_requests`` ledger (migration 0013) names every
  request whose raw rows are stored, by its dedup token. A write skips the raw rows of the
  requests it names (an exporter retry, however it is grouped the second time, or the same
  request queued twice) and adds the rest to it right after their raw rows, before any of
  them is acknowledged. A request written alone also keeps its own ClickHouse dedup token.
* ``events`` rows are idempotent on every path (EventKey + ReplacingMergeTree).

What the ledger cannot cover: a crash (or a storage failure) after a write's raw rows are
stored and before the ledger has them. Nothing was acknowledged, so the exporters retry,
and those requests' raw rows are stored twice (their events still once).
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from receiver.batch import DecodedBatch
from receiver.selfmetrics import ReceiverMetrics
from receiver.store import record_requests, store_batch, stored_requests
from storage.client import Storage, StorageError

log = logging.getLogger("loomline.receiver")

MAX_COALESCED_ROWS = 100_000
# While it lingers, how often the writer looks whether requests are still on their way.
ARRIVAL_POLL_SECONDS = 0.005
# Tables idempotent by their own key: a retried request's rows go in again (the table keeps
# one copy), so they need no ledger.
IDEMPOTENT_TABLES = frozenset({"events"})


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
                self._store(items)
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
            self._store(items)
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

    def _store(self, items: list[_Item]) -> None:
        """Insert the rows of ``items``, one insert per table, and complete their futures:
        raw rows only of the requests the ledger does not name yet (then the ledger gets
        them), events of every request (module docstring)."""
        started = time.perf_counter()
        fresh = self._not_yet_stored(items)
        written = 0
        if fresh:
            if len(fresh) == 1:
                raw = fresh[0]  # with its own dedup token
            else:
                raw = _merge(fresh, only=_tables(fresh) - IDEMPOTENT_TABLES)
                raw.dedup_token = _merged_token(fresh)
            written += store_batch(self.storage, raw, skip=IDEMPOTENT_TABLES)
            record_requests(self.storage, [b.dedup_token for b in fresh if b.dedup_token])
        batches = [i.batch for i in items]
        events = batches[0] if len(batches) == 1 else _merge(batches, only=IDEMPOTENT_TABLES)
        written += store_batch(self.storage, events, skip=_tables([events]) - IDEMPOTENT_TABLES)
        self.metrics.observe_insert(time.perf_counter() - started)
        if len(items) > 1:
            self.metrics.inc("merged_requests_total", len(items))
        if len(fresh) < len(items):
            self.metrics.inc("requests_already_stored_total", len(items) - len(fresh))
        self._complete(items, written)

    def _not_yet_stored(self, items: list[_Item]) -> list[DecodedBatch]:
        """The batches of ``items`` whose raw rows are to be written: not named by the
        ledger, and each request once (a retry can be queued beside the original)."""
        seen = stored_requests(self.storage, {i.batch.dedup_token for i in items if i.batch.dedup_token})
        fresh = []
        for item in items:
            token = item.batch.dedup_token
            if token:
                if token in seen:
                    continue
                seen.add(token)
            fresh.append(item.batch)
        return fresh

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


def _tables(batches: list[DecodedBatch]) -> frozenset[str]:
    return frozenset(table for batch in batches for table in batch.tables)


def _merged_token(batches: list[DecodedBatch]) -> str:
    """The dedup token of a merged block: its requests' tokens, hashed ("" when one has
    none). A write retried whole (the same requests) then dedups in ClickHouse too."""
    tokens = [b.dedup_token for b in batches]
    if not all(tokens):
        return ""
    return "merged:" + hashlib.blake2b("\n".join(sorted(tokens)).encode(), digest_size=16).hexdigest()


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
