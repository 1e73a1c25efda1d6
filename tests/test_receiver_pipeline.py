"""The writer's coalescing: queued requests become one insert per table, and under load the
writer waits briefly for a bigger block (every insert is a ClickHouse part to merge later),
while a lone request on an idle receiver is written at once."""

from __future__ import annotations

import threading
import time

import pytest

from receiver.attributes import Limits
from receiver.batch import DecodeContext, DecodedBatch
from receiver.decode import decode_request
from receiver.pipeline import IngestPipeline
from tests.fixtures import SCENARIOS, otlp_requests


def _log_batches(count: int) -> list[DecodedBatch]:
    """``count`` distinct decoded log requests from the captures (distinct EventKeys)."""
    requests = [req for name in SCENARIOS for signal, req in otlp_requests(name) if signal == "logs"]
    batches = []
    for i in range(count):
        request = requests[i % len(requests)]
        copy = type(request)()
        copy.CopyFrom(request)
        for resource_logs in copy.resource_logs:  # a distinct org per copy keeps rows apart
            attribute = resource_logs.resource.attributes.add()
            attribute.key, attribute.value.string_value = "organization.id", f"org-{i}"
        batches.append(decode_request("logs", copy, Limits(), DecodeContext()))
    return batches


class InsertLog:
    """Counts the inserts into ``table`` (storage.before_insert sees every insert)."""

    def __init__(self, table: str = "events") -> None:
        self.table = table
        self.inserts = 0
        self.lock = threading.Lock()

    def __call__(self, table: str) -> None:
        if table == self.table:
            with self.lock:
                self.inserts += 1


def _stored_logs(storage) -> int:
    return int(storage.command("SELECT count() FROM otel_logs"))


@pytest.mark.skipif(not SCENARIOS, reason="fixtures not found")
def test_queued_requests_are_written_as_one_insert(storage) -> None:
    """Their events in one insert, their raw rows in one, and their tokens in one insert
    into the stored_requests ledger (so a retry of any of them adds no raw rows:
    tests/test_receiver_hostile.py, section 10)."""
    inserts, raw, ledger = InsertLog("events"), InsertLog("otel_logs"), InsertLog("stored_requests")
    storage.before_insert = lambda table: (inserts(table), raw(table), ledger(table))
    pipeline = IngestPipeline(storage, linger_seconds=0.0)
    batches = _log_batches(5)
    futures = [pipeline.submit(b) for b in batches]  # queued before the writer runs
    pipeline.start()
    try:
        for future in futures:
            future.result(timeout=30)
    finally:
        pipeline.stop()
    assert (inserts.inserts, raw.inserts, ledger.inserts) == (1, 1, 1)
    assert _stored_logs(storage) == sum(b.row_count("otel_logs") for b in batches)
    assert int(storage.command("SELECT count() FROM stored_requests")) == len(batches)


@pytest.mark.skipif(not SCENARIOS, reason="fixtures not found")
def test_under_load_the_writer_waits_for_a_bigger_block(storage) -> None:
    inserts = InsertLog()
    storage.before_insert = inserts
    # A long linger and a block target no test request reaches: after a busy block the
    # writer holds the next request until the linger ends or another request joins it.
    pipeline = IngestPipeline(storage, linger_seconds=3.0, min_block_rows=10**9)
    first, second, late_a, late_b = _log_batches(4)
    busy = [pipeline.submit(first), pipeline.submit(second)]
    pipeline.start()
    try:
        for future in busy:
            future.result(timeout=30)
        assert inserts.inserts == 1
        a = pipeline.submit(late_a)
        assert not a.done()
        b = pipeline.submit(late_b)  # joins the block the writer is holding open
        a.result(timeout=60)
        b.result(timeout=60)
    finally:
        pipeline.stop()
    assert inserts.inserts == 2
    assert _stored_logs(storage) == sum(x.row_count("otel_logs") for x in (first, second, late_a, late_b))


@pytest.mark.skipif(not SCENARIOS, reason="fixtures not found")
def test_a_lone_request_on_an_idle_receiver_is_not_held(storage) -> None:
    # With a 10-minute linger, only "no linger when idle" lets this finish within the bound.
    pipeline = IngestPipeline(storage, linger_seconds=600.0, min_block_rows=10**9)
    pipeline.start()
    try:
        (batch,) = _log_batches(1)
        pipeline.submit(batch).result(timeout=60)
    finally:
        pipeline.stop()
    assert _stored_logs(storage) == batch.row_count("otel_logs")


@pytest.mark.skipif(not SCENARIOS, reason="fixtures not found")
def test_stop_flushes_a_block_held_open(storage) -> None:
    pipeline = IngestPipeline(storage, linger_seconds=600.0, min_block_rows=10**9)
    first, second, held = _log_batches(3)
    busy = [pipeline.submit(first), pipeline.submit(second)]
    pipeline.start()
    for future in busy:
        future.result(timeout=30)
    future = pipeline.submit(held)
    pipeline.stop(timeout=60)  # must not wait out the linger, nor drop the held request
    assert future.result(timeout=1)
    assert _stored_logs(storage) == sum(x.row_count("otel_logs") for x in (first, second, held))


@pytest.mark.skipif(not SCENARIOS, reason="fixtures not found")
def test_the_writer_lingers_only_while_requests_are_on_the_way(storage) -> None:
    """Holding a block open for rows nobody is sending only adds latency: once a receiver
    says no request is on its way, the held block is written (here long before its linger)."""
    on_the_way = [0]
    pipeline = IngestPipeline(storage, linger_seconds=600.0, min_block_rows=10**9)
    pipeline.arriving_from(lambda: on_the_way[0])
    first, second, late = _log_batches(3)
    busy = [pipeline.submit(first), pipeline.submit(second)]
    on_the_way[0] = 1  # another request is decoding: the writer waits for it
    pipeline.start()
    try:
        for future in busy:
            future.result(timeout=30)
        held = pipeline.submit(late)
        with pytest.raises(TimeoutError):
            held.result(timeout=0.5)
        on_the_way[0] = 0  # it was refused, say: nothing more is coming
        held.result(timeout=60)
    finally:
        pipeline.stop()
    assert _stored_logs(storage) == sum(x.row_count("otel_logs") for x in (first, second, late))


@pytest.mark.skipif(not SCENARIOS, reason="fixtures not found")
def test_the_receiver_counts_requests_on_their_way_to_the_writer(storage) -> None:
    """From authentication until its batch is queued (waiting for a decode slot, decoding),
    whatever the request's fate; not once it waits for storage, nor when refused at the door."""
    from receiver.core import ReceiverCore, Status

    pipeline = IngestPipeline(storage, linger_seconds=0.0)
    core = ReceiverCore(pipeline, Limits(), tokens={"good": "org-a"}, store_timeout=60)
    body = next(req for name in SCENARIOS for signal, req in otlp_requests(name) if signal == "logs").SerializeToString()
    pipeline.start()
    try:
        assert core.export("logs", body, "protobuf", "Bearer wrong", "grpc").status is Status.UNAUTHENTICATED
        assert core.arriving() == 0
        lane = core._decode_lanes[core.lane_for(len(body))]
        outcomes = []
        lane.acquire()  # every decode slot taken: the request waits for one
        try:
            worker = threading.Thread(
                target=lambda: outcomes.append(core.export("logs", body, "protobuf", "Bearer good", "grpc")))
            worker.start()
            for _ in range(600):
                if core.arriving() == 1:
                    break
                time.sleep(0.05)
            assert core.arriving() == 1
        finally:
            lane.release()
        worker.join(60)
        assert [o.status for o in outcomes] == [Status.OK]
        assert core.arriving() == 0
        assert core.export("logs", b"\xff\x00 not protobuf", "protobuf", "Bearer good", "grpc").status is Status.INVALID
        assert core.arriving() == 0
    finally:
        pipeline.stop()
