"""The schema in both storage modes: one set of migration files, rendered per mode
(storage/schema.py), every statement parsed by the real ClickHouse engine (chDB)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from loomline.cli import main
from settings import Settings, SettingsError
from storage.client import Storage, StorageError, migration_files
from storage.schema import (
    DEFAULT_SHARDING,
    SHARDING_KEYS,
    Cluster,
    SchemaError,
    migrations_table_sql,
    render_schema,
    render_statements,
)

GOLDEN = Path(__file__).parent / "golden"
CLUSTER = Cluster("loomline")
_CREATE = re.compile(r"^CREATE TABLE IF NOT EXISTS (\w+)", re.M)


def _all_statements(cluster: Cluster | None) -> list[str]:
    out = render_statements(migrations_table_sql(), cluster)
    for _version, _name, text in migration_files():
        out.extend(render_statements(text, cluster))
    return out


@pytest.mark.parametrize("cluster", [None, CLUSTER], ids=["single", "cluster"])
def test_every_rendered_statement_parses_in_clickhouse(storage: Storage, cluster: Cluster | None) -> None:
    statements = _all_statements(cluster)
    assert len(statements) > 20
    for statement in statements:
        # EXPLAIN AST runs ClickHouse's own parser (ON CLUSTER, engines, codecs, settings)
        # without executing: a cluster needs no server to be checked here.
        storage.query_rows(f"EXPLAIN AST {statement}")


@pytest.mark.parametrize("cluster,golden", [(None, "schema_single.sql"), (CLUSTER, "schema_cluster.sql")])
def test_rendered_schema_matches_golden_file(cluster: Cluster | None, golden: str) -> None:
    rendered = render_schema(migration_files(), cluster)
    path = GOLDEN / golden
    if os.environ.get("LOOMLINE_UPDATE_GOLDEN") == "1":
        path.write_text(rendered)
    assert path.read_text() == rendered, (
        f"{path} is stale: review the diff, then LOOMLINE_UPDATE_GOLDEN=1 pytest {__file__}"
    )


def test_cluster_form_pairs_every_table_with_a_distributed_table() -> None:
    statements = _all_statements(CLUSTER)
    created = [m.group(1) for s in statements if (m := _CREATE.match(s))]
    tables = [name for name in created if not name.endswith("_local") and name != "schema_migrations"]
    assert "otel_logs" in tables and "events" in tables and "threads" in tables
    for name in tables:
        local = next(s for s in statements if s.startswith(f"CREATE TABLE IF NOT EXISTS {name}_local "))
        assert "ON CLUSTER `loomline`" in local
        assert re.search(rf"ENGINE = Replicated\w*MergeTree\('/clickhouse/tables/{{shard}}/{{database}}/{name}_local', '{{replica}}'", local)
        assert "non_replicated_deduplication_window" not in local
        dist = next(s for s in statements if s.startswith(f"CREATE TABLE IF NOT EXISTS {name} "))
        assert f"AS {name}_local ENGINE = Distributed(`loomline`, currentDatabase(), {name}_local, cityHash64(" in dist
    migrations = next(s for s in statements if s.startswith("CREATE TABLE IF NOT EXISTS schema_migrations "))
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/schema_migrations'" in migrations
    assert "Distributed" not in migrations
    # views read the Distributed names, on every node
    views = [s for s in statements if " VIEW " in s[:40]]
    assert views and all("ON CLUSTER `loomline` AS" in v for v in views)


def test_sharding_keys_name_real_columns(storage: Storage) -> None:
    """Each Distributed table's sharding key evaluates on the single-node table, so a session's
    rows (and FINAL's versions of one row) land on one shard."""
    tables = {name for _, _, text in migration_files() for name in _CREATE.findall(text)}
    assert set(SHARDING_KEYS) <= tables, "a sharding key names a table no migration creates"
    for table in sorted(tables - {"schema_migrations"}):
        key = SHARDING_KEYS.get(table, DEFAULT_SHARDING)
        storage.query_rows(f"SELECT {key} FROM {table} LIMIT 0")


def test_alter_column_changes_reach_local_and_distributed_tables() -> None:
    out = render_statements("ALTER TABLE threads ADD COLUMN IF NOT EXISTS title String DEFAULT '';", CLUSTER)
    assert out == [
        "ALTER TABLE threads_local ON CLUSTER `loomline` ADD COLUMN IF NOT EXISTS title String DEFAULT ''",
        "ALTER TABLE threads ON CLUSTER `loomline` ADD COLUMN IF NOT EXISTS title String DEFAULT ''",
    ]
    # a mutation is data, not shape: only the local tables hold data
    assert render_statements("ALTER TABLE events DELETE WHERE OrgId = 'x';", CLUSTER) == [
        "ALTER TABLE events_local ON CLUSTER `loomline` DELETE WHERE OrgId = 'x'"
    ]


def test_unknown_statement_shapes_are_refused_not_skipped() -> None:
    with pytest.raises(SchemaError, match="no cluster form"):
        render_statements("INSERT INTO threads SELECT * FROM threads;", CLUSTER)
    with pytest.raises(SchemaError, match="MergeTree"):
        render_statements("CREATE TABLE IF NOT EXISTS t (a UInt8) ENGINE = Memory;", CLUSTER)
    with pytest.raises(SchemaError, match="cluster name"):
        Cluster("x; DROP TABLE events")


def test_cluster_needs_a_server_dsn(chdb_dsn: str) -> None:
    with pytest.raises(StorageError, match="server DSN"):
        Storage(chdb_dsn, "t_cluster", cluster="loomline")
    with pytest.raises(SettingsError, match="server DSN"):
        Settings.load({"clickhouse_cluster": "loomline"}, environ={})
    settings = Settings.load(
        {"clickhouse": "http://u:p@ch.example:8123/db", "clickhouse_cluster": "loomline"}, environ={}
    )
    assert settings.clickhouse_cluster == "loomline"


def test_schema_command_prints_both_forms(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    single = capsys.readouterr().out
    assert single == render_schema(migration_files(), None) and "ON CLUSTER" not in single
    assert main(["schema", "--clickhouse-cluster", "prod"]) == 0
    cluster = capsys.readouterr().out
    assert "CREATE TABLE IF NOT EXISTS events_local ON CLUSTER `prod`" in cluster
    assert main(["schema", "--clickhouse-cluster", "bad name"]) == 2
    assert "cluster name" in capsys.readouterr().err
