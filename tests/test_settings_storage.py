"""Settings precedence and validation; storage DSNs, migrations and retention."""

from __future__ import annotations

import threading
from xml.etree import ElementTree

import pytest

import storage.client as storage_client
from loomline.cli import build_parser
from settings import Settings, SettingsError
from storage.client import (
    EMBEDDED_ENGINE_CONFIG,
    RAW_MERGE_SELECTOR_BASE,
    RAW_TABLE_TTL_COLUMNS,
    StorageError,
    open_storage,
    parse_dsn,
)
from tests.serve_process import ServeProcess


def test_defaults_match_the_documented_names():
    settings = Settings.load({}, environ={})
    assert settings.clickhouse == "chdb://./.loomline/data"
    assert (settings.otlp_grpc, settings.otlp_http, settings.api) == ("127.0.0.1:4317", "127.0.0.1:4318", "127.0.0.1:8787")
    assert settings.retention_days == 0 and settings.idle_timeout_minutes == 30


def test_flag_beats_environment_beats_default():
    env = {"LOOMLINE_OTLP_GRPC": "127.0.0.1:5000", "LOOMLINE_API": "127.0.0.1:6000", "LOOMLINE_RECEIVER_TOKENS": "a=org1,b=org2"}
    args = build_parser().parse_args(["serve", "--otlp-grpc", "127.0.0.1:0"])
    settings = Settings.load(vars(args), environ=env)
    assert settings.otlp_grpc == "127.0.0.1:0"
    assert settings.api == "127.0.0.1:6000"
    assert settings.receiver_tokens == {"a": ("org1",), "b": ("org2",)}


@pytest.mark.parametrize("overrides, message", [
    ({"otlp_grpc": "nohost"}, "HOST:PORT"),
    ({"api": "127.0.0.1:99999"}, "out of range"),
    ({"clickhouse": "mysql://x"}, "chdb://"),
    ({"max_request_bytes": "0"}, "positive"),
    ({"max_attributes": "many"}, "--max-attributes"),
    ({"receiver_tokens": "justatoken"}, "TOKEN=ORG"),
    ({"tls_cert": "/x.pem"}, "together"),
    ({"database": "x;drop"}, "database"),
    ({"write_linger_ms": "-1"}, "write_linger_ms"),
    ({"write_linger_ms": "60000"}, "write_linger_ms"),
    ({"enrich_cache_events": "-1"}, "enrich_cache_events"),
])
def test_bad_settings_have_clear_errors(overrides, message):
    with pytest.raises(SettingsError, match=message):
        Settings.load(overrides, environ={})


def test_parse_dsn():
    chdb = parse_dsn("chdb:///tmp/x?database=abc")
    assert (chdb.kind, chdb.path, chdb.database) == ("chdb", "/tmp/x", "abc")
    http = parse_dsn("https://user:secret@ch.example:8443/analytics")
    assert (http.kind, http.database) == ("http", "analytics")
    assert "secret" not in http.safe
    assert parse_dsn("http://ch:8123").database == "loomline"
    for bad in ("chdb://", "ftp://x", "http:///db", "http://h/bad-name"):
        with pytest.raises(StorageError):
            parse_dsn(bad)


def test_migrations_are_idempotent_and_safe_concurrently(chdb_dsn, database_name):
    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            open_storage(chdb_dsn, database_name)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    storage = open_storage(chdb_dsn, database_name)
    assert storage.migrate() == []
    versions = storage.query_rows("SELECT version FROM schema_migrations FINAL ORDER BY version")
    assert [v for (v,) in versions] == sorted({v for (v,) in versions})
    assert len(versions) >= 2
    tables = {name for (name,) in storage.query_rows("SHOW TABLES")}
    assert {"otel_logs", "otel_traces", "otel_metrics_sum", "otel_metrics_gauge", "otel_metrics_histogram", "events"} <= tables
    storage.command(f"DROP DATABASE `{database_name}`")


def test_the_embedded_engine_runs_with_loomline_memory_settings(storage):
    """chDB starts with the caches, merge limits and MergeTree settings of
    storage/embedded_engine.xml, not ClickHouse's defaults for a machine of its own (5 GiB
    per cache, horizontal merges below 131,072 rows)."""
    root = ElementTree.parse(EMBEDDED_ENGINE_CONFIG).getroot()
    server = {e.tag: int(e.text or "") for e in root if e.tag != "merge_tree"}
    section = root.find("merge_tree")
    assert section is not None
    merge_tree = {e.tag: int(e.text or "") for e in section}
    assert "mark_cache_size" in server and "vertical_merge_algorithm_min_rows_to_activate" in merge_tree
    for table, wanted in (("server_settings", server), ("merge_tree_settings", merge_tree)):
        rows = dict(storage.query_rows(
            f"SELECT name, value FROM system.{table} WHERE name IN {{names:Array(String)}}",
            {"names": list(wanted)},
        ))
        assert {name: int(value) for name, value in rows.items()} == wanted


def test_session_id_is_materialized_and_indexed(storage):
    ddl = storage.query_rows("SELECT create_table_query FROM system.tables WHERE database = {d:String} AND name = 'otel_logs'", {"d": storage.database})[0][0]
    assert "`SessionId` String MATERIALIZED LogAttributes['session.id']" in ddl
    assert "INDEX idx_session_id SessionId TYPE bloom_filter" in ddl


def test_retention_sets_and_removes_ttl(storage):
    storage.apply_retention(14)
    ddl = storage.query_rows("SELECT create_table_query FROM system.tables WHERE database = {d:String} AND name = 'otel_logs'", {"d": storage.database})[0][0]
    assert "TTL TimestampTime + toIntervalDay(14)" in ddl
    storage.apply_retention(0)
    assert not storage._has_ttl("otel_logs")


def _table_settings(storage, table):
    ddl = storage._create_table_queries([table])[table]
    return ddl[ddl.rfind("SETTINGS"):]


def test_raw_tables_merge_wider_and_the_tables_read_by_session_do_not(storage):
    """migrate sets merge_selector_base on every raw table (fewer rewrites per row) and on
    none of the tables loomline reads by session, which keep ClickHouse's default."""
    for table in RAW_TABLE_TTL_COLUMNS:
        assert f"merge_selector_base = {RAW_MERGE_SELECTOR_BASE:g}" in _table_settings(storage, table), table
    for table in ("events", "llm_sessions", "session_segments", "threads", "stored_requests"):
        assert "merge_selector_base" not in _table_settings(storage, table), table
    before = {t: _table_settings(storage, t) for t in RAW_TABLE_TTL_COLUMNS}
    storage.migrate()  # again: the setting is there, nothing changes
    assert {t: _table_settings(storage, t) for t in RAW_TABLE_TTL_COLUMNS} == before


def test_raw_merge_policy_replaces_another_base(storage):
    """A base set by hand (100, whose text starts with 10) goes back to loomline's, as the
    retention TTL follows its setting."""
    storage.command("ALTER TABLE otel_traces MODIFY SETTING merge_selector_base = 100")
    assert "merge_selector_base = 100" in _table_settings(storage, "otel_traces")
    storage.apply_raw_merge_policy()
    assert _table_settings(storage, "otel_traces").endswith(f"merge_selector_base = {RAW_MERGE_SELECTOR_BASE:g}")


def test_raw_merge_policy_is_skipped_where_the_engine_lacks_the_setting(storage, monkeypatch, caplog):
    """A ClickHouse older than the setting: no ALTER it would refuse, the tables as they are."""
    monkeypatch.setattr(storage_client, "MERGE_SELECTOR_SETTING", "merge_selector_base_of_a_later_clickhouse")
    before = _table_settings(storage, "otel_logs")
    with caplog.at_level("INFO", logger="loomline.storage"):
        storage.apply_raw_merge_policy()
    assert _table_settings(storage, "otel_logs") == before
    assert "has no merge_selector_base_of_a_later_clickhouse" in caplog.text


def test_serve_prints_ports_and_stops_cleanly_on_sigterm(tmp_path):
    server = ServeProcess(tmp_path / "data", "--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0", "--api", "127.0.0.1:0").start()
    assert server.ports["otlp_grpc"] > 0 and server.ports["otlp_http"] > 0
    assert server.stop() == 0
    assert any("stopped" in line for line in server.output)


def test_serve_reports_bad_settings(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "loomline", "serve", "--otlp-grpc", "bogus"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "HOST:PORT" in result.stderr
