"""otel_logs as a ClickHouse Native block written by the compiled extension, inserted with
clickhouse-connect's raw_insert into a real chDB: the stored rows (every column, the
materialized SessionId and TimestampTime too) equal those of the column-by-column insert of
the same batch, for the real captures and hypothesis-built requests (unicode, empty maps,
clamped timestamps, ...); a retry of the block dedups on its token like any other insert."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from receiver import decode_logs_fast
from receiver.attributes import Limits
from receiver.batch import DecodeContext, DecodedBatch
from receiver.decode import decode_request, parse_protobuf
from receiver.store import store_batch
from tests.test_receiver_decoder_diff import CAPTURE_BODIES, log_requests

pytestmark = pytest.mark.skipif(not decode_logs_fast.available(), reason="receiver._logswire is not built")

COLUMNS = ", ".join([*decode_logs_fast.NATIVE_TYPES["otel_logs"], "TimestampTime", "SessionId"])


def _batch(body: bytes) -> DecodedBatch:
    return decode_request("logs", parse_protobuf("logs", body), Limits(), DecodeContext(), body=body)


def _rows(storage, table: str) -> list[str]:
    return sorted(repr(row) for row in storage.query_rows(f"SELECT {COLUMNS} FROM {table}"))


def _both_ways(storage, batch: DecodedBatch) -> None:
    """Insert ``batch``'s otel_logs as Native into otel_logs and column by column into a copy."""
    storage.command("CREATE TABLE IF NOT EXISTS logs_by_columns AS otel_logs")
    storage.command("TRUNCATE TABLE otel_logs")
    storage.command("TRUNCATE TABLE logs_by_columns")
    columns = batch.tables["otel_logs"]
    native = decode_logs_fast.native_block("otel_logs", columns)
    assert native is not None
    names, block = native
    assert storage.insert_native("otel_logs", names, block, batch.row_count("otel_logs")) == batch.row_count("otel_logs")
    storage.insert_columns("logs_by_columns", columns)


def test_capture_batches_store_the_same_rows_as_native_blocks(storage) -> None:
    for body in CAPTURE_BODIES:
        batch = _batch(body)
        _both_ways(storage, batch)
        rows = _rows(storage, "otel_logs")
        assert len(rows) == batch.row_count("otel_logs")
        assert rows == _rows(storage, "logs_by_columns")


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(log_requests())
def test_generated_batches_store_the_same_rows_as_native_blocks(storage, request) -> None:
    batch = _batch(request.SerializeToString())
    _both_ways(storage, batch)
    assert _rows(storage, "otel_logs") == _rows(storage, "logs_by_columns")


def test_the_receiver_writes_otel_logs_as_native_and_a_retry_dedups(storage) -> None:
    calls: list[str] = []
    original = storage.insert_native

    def spy(table, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(table)
        return original(table, *args, **kwargs)

    storage.insert_native = spy
    batch = _batch(CAPTURE_BODIES[0])
    rows = batch.row_count("otel_logs")
    store_batch(storage, batch)
    store_batch(storage, batch)  # the exporter's retry: same dedup token
    assert calls == ["otel_logs", "otel_logs"]
    assert storage.query_rows("SELECT count() FROM otel_logs")[0][0] == rows


def test_values_the_block_cannot_hold_fall_back_to_the_column_insert() -> None:
    from receiver import _logswire

    for bad in ([[-1]], [["x"]], [[2**63]]):
        with pytest.raises((TypeError, ValueError)):
            _logswire.native_block(["TraceFlags"], ["UInt8" if bad != [[2**63]] else "Int64"], bad)
    columns = {name: [] for name in decode_logs_fast.NATIVE_TYPES["otel_logs"]}
    columns["TraceFlags"] = [300]
    for name in columns:
        if name != "TraceFlags":
            columns[name] = [0] if "Timestamp" in name or name == "SeverityNumber" else [{}] if "Attributes" in name else [""]
    assert decode_logs_fast.native_block("otel_logs", columns) is None
