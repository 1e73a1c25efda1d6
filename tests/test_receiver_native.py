"""otel_logs and events as ClickHouse Native blocks written by the compiled extension,
inserted with Storage.insert_native into a real chDB: the stored rows (every column,
otel_logs' materialized SessionId and TimestampTime too) equal those of the column-by-column
insert of the same batch, for the real captures, hypothesis-built requests (unicode, empty
maps, clamped timestamps, ...) and the edges of every typed column; a retry of the block
dedups on its token like any other insert."""

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

COLUMNS = {
    "otel_logs": ", ".join([*decode_logs_fast.NATIVE_TYPES["otel_logs"], "TimestampTime", "SessionId"]),
    "events": ", ".join(decode_logs_fast.NATIVE_TYPES["events"]),  # all but IngestedAt (insert time)
}


def _batch(body: bytes) -> DecodedBatch:
    return decode_request("logs", parse_protobuf("logs", body), Limits(), DecodeContext(), body=body)


def _rows(storage, table: str, source: str) -> list[str]:
    return sorted(repr(row) for row in storage.query_rows(f"SELECT {COLUMNS[table]} FROM {source}"))


def _both_ways(storage, table: str, columns: dict) -> None:
    """Insert ``columns`` as Native into ``table`` and column by column into a copy."""
    storage.command(f"CREATE TABLE IF NOT EXISTS {table}_by_columns AS {table}")
    storage.command(f"TRUNCATE TABLE {table}")
    storage.command(f"TRUNCATE TABLE {table}_by_columns")
    native = decode_logs_fast.native_block(table, columns)
    assert native is not None
    names, block = native
    rows = len(next(iter(columns.values())))
    assert storage.insert_native(table, names, block, rows) == rows
    storage.insert_columns(f"{table}_by_columns", columns)


def _same_both_ways(storage, batch: DecodedBatch) -> None:
    for table in ("otel_logs", "events"):
        if table not in batch.tables:
            continue
        _both_ways(storage, table, batch.tables[table])
        rows = _rows(storage, table, table)
        assert len(rows) == batch.row_count(table)
        assert rows == _rows(storage, table, f"{table}_by_columns")


def test_native_types_are_the_tables_columns(storage) -> None:
    for table, types in decode_logs_fast.NATIVE_TYPES.items():
        stored = dict(storage.query_rows("SELECT name, type FROM system.columns WHERE database = currentDatabase()"
                                         " AND table = {t:String} AND default_kind = ''", {"t": table}))
        assert set(types) == set(stored), table
        for name, declared in types.items():
            plain = stored[name].replace("LowCardinality(String)", "String")
            assert declared == plain, (table, name, stored[name])


def test_capture_batches_store_the_same_rows_as_native_blocks(storage) -> None:
    for body in CAPTURE_BODIES:
        _same_both_ways(storage, _batch(body))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(log_requests())
def test_generated_batches_store_the_same_rows_as_native_blocks(storage, request) -> None:
    _same_both_ways(storage, _batch(request.SerializeToString()))


def test_event_columns_at_their_edges_store_the_same_rows_as_native_blocks(storage) -> None:
    """Every typed events column at its bounds and NULL, beside ordinary values."""
    batch = _batch(CAPTURE_BODIES[0])
    columns = {name: list(values[:3]) for name, values in batch.tables["events"].items()}
    edges = {
        "EventKey": [0, 2**64 - 1, 12345], "Timestamp": [0, 4_102_444_800_000_000, 1_795_000_000_123_456], "Sequence": [None, -(2**63), 2**63 - 1],
        "InputTokens": [0, 2**64 - 1, 7], "DurationMs": [None, 0.0, 1e300], "Success": [None, True, False],
        "StatusCode": [None, -(2**31), 2**31 - 1], "Attempt": [2**31 - 1, None, 0],
        "PreTokens": [None, 0, 2**64 - 1], "CostUsd": [0.0, 1e9, 5e-324], "CostMicros": [-(2**63), 0, 2**63 - 1],
        "Prompt": ["", "\u00e9\U0001f600 ' \\ \" ;DROP TABLE events", "x" * 70_000],
        "Attributes": [{}, {"k": "v", "": ""}, {"\u00e9": "\U0001f600"}],
    }
    columns.update(edges)
    _both_ways(storage, "events", columns)
    rows = _rows(storage, "events", "events")
    assert len(rows) == 3
    assert rows == _rows(storage, "events", "events_by_columns")


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
    assert calls == ["otel_logs", "events", "otel_logs", "events"]
    assert storage.query_rows("SELECT count() FROM otel_logs")[0][0] == rows


def test_values_the_block_cannot_hold_fall_back_to_the_column_insert() -> None:
    from receiver import _logswire

    for bad in ([[-1]], [["x"]], [[2**63]]):
        with pytest.raises((TypeError, ValueError)):
            _logswire.native_block(["TraceFlags"], ["UInt8" if bad != [[2**63]] else "Int64"], bad)
    for kind, bad in (("UInt64", [-1]), ("UInt64", [2**64]), ("Int32", [2**31]), ("Nullable(Int32)", [-(2**31) - 1]),
                      ("Bool", [1]), ("Float64", ["1.0"]), ("Int64", [None]), ("Nullable(String)", [None]),
                      ("Nullable(Nullable(Int64))", [None]), ("Nullable(", [None]), ("Int128", [0])):
        with pytest.raises((TypeError, ValueError)):
            _logswire.native_block(["c"], [kind], [bad])
    columns = {name: [] for name in decode_logs_fast.NATIVE_TYPES["otel_logs"]}
    columns["TraceFlags"] = [300]
    for name in columns:
        if name != "TraceFlags":
            columns[name] = [0] if "Timestamp" in name or name == "SeverityNumber" else [{}] if "Attributes" in name else [""]
    assert decode_logs_fast.native_block("otel_logs", columns) is None
