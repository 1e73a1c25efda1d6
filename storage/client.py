"""The storage client: clickhouse-connect over chDB (embedded) or a ClickHouse server.

chDB holds a data directory per process and allows one directory per process for the
process's lifetime, so several clients in one process share the same directory; tests
isolate themselves by database name instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlparse

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from storage.schema import LOCAL_SUFFIX, Cluster, migrations_table_sql, render_statements
from storage.sql_files import SQL_DIR

log = logging.getLogger("loomline.storage")

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Tables whose rows carry raw telemetry and so fall under --retention-days.
RAW_TABLE_TTL_COLUMNS = {
    "otel_logs": "TimestampTime",
    "otel_traces": "toDateTime(Timestamp)",
    "otel_metrics_sum": "toDateTime(TimeUnix)",
    "otel_metrics_gauge": "toDateTime(TimeUnix)",
    "otel_metrics_histogram": "toDateTime(TimeUnix)",
    "otel_metrics_exponential_histogram": "toDateTime(TimeUnix)",
    "otel_metrics_summary": "toDateTime(TimeUnix)",
}

# The raw tables merge wider than ClickHouse's default (merge_selector_base 5): a row is
# rewritten fewer times as its parts grow, for more parts per partition in between. They
# take every record and are read by time range (Grafana, SQL), which more parts barely
# slow; nothing in loomline reads them by session. 10 cut the embedded engine's merge CPU
# per record by ~40 % in sustained runs; events and the derived tables, read by session on
# every page, keep the default (docs/benchmarks.md, "Results, `228a17e`: the raw tables
# merge wider"). A server whose ClickHouse predates the setting (24.11) keeps its default.
RAW_MERGE_SELECTOR_BASE = 10.0
MERGE_SELECTOR_SETTING = "merge_selector_base"

# The embedded engine's (chDB's) configuration: small caches, few merges at once, vertical
# merges; the file says why. A ClickHouse server is configured on its own side.
EMBEDDED_ENGINE_CONFIG = Path(__file__).with_name("embedded_engine.xml")


class StorageError(RuntimeError):
    """Storage could not do what was asked; the message says what and where."""


@dataclass(frozen=True)
class DsnInfo:
    kind: str  # "chdb" or "http"
    database: str
    path: str = ""  # chdb data directory
    safe: str = ""  # the DSN without its password, for logs


def parse_dsn(dsn: str, default_database: str = "loomline") -> DsnInfo:
    """Understand a storage DSN without connecting. Raises StorageError on nonsense."""
    parsed = urlparse(dsn)
    if parsed.scheme == "chdb":
        # chdb://./rel/path, chdb:///abs/path, chdb://rel ; ?database=name optional
        raw_path = (parsed.netloc + parsed.path) if parsed.netloc else parsed.path
        if not raw_path:
            raise StorageError(f"chdb DSN needs a data directory: {dsn!r}")
        database = parse_qs(parsed.query).get("database", [default_database])[0]
        _check_identifier(database)
        path = str(Path(unquote(raw_path)).expanduser().resolve())
        return DsnInfo("chdb", database, path=path, safe=f"chdb://{path}")
    if parsed.scheme in {"http", "https"}:
        if not parsed.hostname:
            raise StorageError(f"http(s) DSN needs a host: {dsn!r}")
        database = parsed.path.strip("/") or default_database
        _check_identifier(database)
        port = parsed.port or (8443 if parsed.scheme == "https" else 8123)
        user = parsed.username or "default"
        return DsnInfo("http", database, safe=f"{parsed.scheme}://{user}@{parsed.hostname}:{port}/{database}")
    raise StorageError(f"unsupported storage DSN scheme {parsed.scheme!r}: use chdb:// or http(s)://")


def _sql_string(text: str) -> str:
    """A quoted SQL string literal (for what cannot be a bound parameter: an INFILE path, a
    SETTINGS value)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _check_identifier(name: str, what: str = "database name") -> None:
    if not _IDENTIFIER.match(name):
        raise StorageError(f"{what} must be letters, digits and underscores: {name!r}")


class Storage:
    """A thread-safe handle on loomline's ClickHouse database.

    One clickhouse-connect client per thread (chDB clients each own a connection handle;
    HTTP clients keep their own session), created lazily from the same DSN.
    """

    def __init__(
        self,
        dsn: str,
        database: str = "loomline",
        insert_settings: Mapping[str, Any] | None = None,
        cluster: str = "",
    ):
        self.info = parse_dsn(dsn, database)
        if cluster and self.info.kind == "chdb":
            raise StorageError("--clickhouse-cluster needs a ClickHouse server DSN (http(s)://), not chdb://")
        # Cluster mode: DDL is rendered ON CLUSTER (storage/schema.py), queries read and
        # insert through Distributed tables under the usual names.
        self.cluster = Cluster(cluster) if cluster else None
        self.dsn = dsn
        self.database = self.info.database
        self._local = threading.local()
        self._clients: list[Client] = []
        self._lock = threading.Lock()
        self._insert_settings = dict(insert_settings or {})
        self.insert_engine_cpu_seconds = 0.0  # CPU the embedded engine spent on callers' threads in Native inserts
        self._query_settings: dict[str, Any] = {}
        if self.cluster is not None:
            # Ack only once the shards have the rows; subqueries over Distributed tables
            # (IN / JOIN) run once, globally, instead of being refused.
            self._insert_settings.setdefault("distributed_foreground_insert", 1)
            self._query_settings["distributed_product_mode"] = "global"
        # Test and fault-injection hook: called before every insert with the table name;
        # raising from it makes the insert fail as a storage outage would.
        self.before_insert: Callable[[str], None] | None = None
        if self.info.kind == "chdb":
            Path(self.info.path).mkdir(parents=True, exist_ok=True)
        admin = self._new_client(database=None)
        try:
            on_cluster = f" ON CLUSTER `{self.cluster.name}`" if self.cluster else ""
            admin.command(f"CREATE DATABASE IF NOT EXISTS `{self.database}`{on_cluster}")
        finally:
            if self.info.kind != "chdb":
                admin.close()

    # -- connections -----------------------------------------------------------------
    def _new_client(self, database: str | None) -> Client:
        kwargs: dict[str, Any]
        if self.info.kind == "http":
            kwargs = {"dsn": self.dsn}
        else:  # every client of the one engine passes the same settings; the first starts it
            kwargs = {"interface": "chdb", "path": self.info.path, "chdb_options": {"config-file": str(EMBEDDED_ENGINE_CONFIG)}}
        if database:
            kwargs["database"] = database
        try:
            return clickhouse_connect.get_client(**kwargs)
        except Exception as exc:  # connection errors come in many types
            raise StorageError(f"cannot connect to {self.info.safe}: {exc}") from exc

    @property
    def client(self) -> Client:
        """This thread's client, connected to loomline's database."""
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._new_client(self.database)
            self._local.client = client
            with self._lock:
                self._clients.append(client)
        return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients:
                try:
                    client.close()
                except Exception:  # closing is best effort
                    pass
            self._clients.clear()
        self._local = threading.local()

    # -- statements ------------------------------------------------------------------
    def command(self, sql: str, parameters: Mapping[str, Any] | None = None, settings: Mapping[str, Any] | None = None) -> Any:
        return self.client.command(sql, parameters=dict(parameters or {}), settings=self._settings(settings))

    def query_rows(self, sql: str, parameters: Mapping[str, Any] | None = None, settings: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        rows = self.client.query(sql, parameters=dict(parameters or {}), settings=self._settings(settings)).result_rows
        return cast(list[tuple[Any, ...]], list(rows))  # clickhouse-connect's rows are tuples

    def query_dicts(self, sql: str, parameters: Mapping[str, Any] | None = None, settings: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        result = self.client.query(sql, parameters=dict(parameters or {}), settings=self._settings(settings))
        names = result.column_names
        return [dict(zip(names, row, strict=True)) for row in result.result_rows]

    def _settings(self, settings: Mapping[str, Any] | None) -> dict[str, Any]:
        return {**self._query_settings, **(settings or {})}

    def mutation_target(self, table: str) -> str:
        """Where an ``ALTER TABLE ...`` (TTL, DELETE, UPDATE) of ``table`` goes: the table
        itself on one node, its local tables on every node of a cluster."""
        if self.cluster is None:
            return table
        return f"{table}{LOCAL_SUFFIX} ON CLUSTER `{self.cluster.name}`"

    def insert_columns(
        self,
        table: str,
        columns: Mapping[str, Sequence[Any]],
        dedup_token: str | None = None,
    ) -> int:
        """Insert column-oriented data; returns the row count. Raises StorageError.

        ``dedup_token`` makes ClickHouse drop an identical retry of this block (tables
        carry ``non_replicated_deduplication_window``).
        """
        names = list(columns)
        if not names:
            return 0
        rows = len(columns[names[0]])
        if rows == 0:
            return 0
        settings = self._prepare_insert(table, dedup_token)
        try:
            self.client.insert(
                table,
                [columns[n] for n in names],
                column_names=names,
                column_oriented=True,
                settings=settings,
            )
        except Exception as exc:
            raise StorageError(f"insert into {table} failed: {exc}") from exc
        return rows

    def _prepare_insert(self, table: str, dedup_token: str | None) -> dict[str, Any]:
        """Run the before-insert hook; the insert's settings (with its dedup token)."""
        if self.before_insert is not None:
            self.before_insert(table)
        settings = dict(self._insert_settings)
        if dedup_token:
            settings["insert_deduplication_token"] = dedup_token
        return settings

    def insert_native(self, table: str, column_names: Sequence[str], block: bytes, rows: int,
                      dedup_token: str | None = None) -> int:
        """Insert one ClickHouse Native block (``rows`` rows of ``column_names``) as it is,
        through clickhouse-connect's raw_insert; returns ``rows``. Raises StorageError.
        ``dedup_token`` as for insert_columns."""
        if rows == 0:
            return 0
        settings = self._prepare_insert(table, dedup_token)
        try:
            if self.info.kind == "chdb":
                self._insert_infile(table, column_names, block, settings)
            else:
                self.client.raw_insert(table, list(column_names), block, settings=settings, fmt="Native")
        except Exception as exc:
            raise StorageError(f"insert into {table} failed: {exc}") from exc
        return rows

    def _insert_infile(self, table: str, column_names: Sequence[str], block: bytes, settings: Mapping[str, Any]) -> None:
        """The embedded engine's Native insert: the block goes through a temp file and
        ``INSERT ... FROM INFILE`` (what clickhouse-connect's raw_insert does on chDB, with
        less Python around it), the settings in the statement's SETTINGS clause. The engine
        call's CPU on this thread is ClickHouse's own work, counted in
        ``insert_engine_cpu_seconds``."""
        for name in (table, *column_names, *settings):
            _check_identifier(name, "a table, column or setting name")
        fd, path = tempfile.mkstemp(prefix="loomline-", suffix=".native")
        try:
            with os.fdopen(fd, "wb", buffering=0) as handle:
                handle.write(block)
            clause = ", ".join(f"{name} = {_sql_string(str(value))}" for name, value in settings.items())
            sql = (f"INSERT INTO `{table}` ({', '.join(f'`{c}`' for c in column_names)}) FROM INFILE {_sql_string(path)}"
                   f"{' SETTINGS ' + clause if clause else ''} FORMAT Native")
            started = time.thread_time()
            try:
                self.client.command(sql)
            finally:
                spent = time.thread_time() - started
                with self._lock:
                    self.insert_engine_cpu_seconds += spent
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)

    # -- schema ----------------------------------------------------------------------
    def migrate(self, retention_days: int = 0) -> list[str]:
        """Apply pending migrations; returns the names applied now. Idempotent and safe to
        run from several processes at once: every statement is IF NOT EXISTS, and the
        record of applied migrations is a ReplacingMergeTree keyed by version."""
        for statement in render_statements(migrations_table_sql(), self.cluster):
            self.command(statement)
        applied = {row[0] for row in self.query_rows("SELECT version FROM schema_migrations FINAL")}
        done: list[str] = []
        for version, name, text in migration_files():
            if version in applied:
                continue
            for statement in render_statements(text, self.cluster):
                try:
                    self.command(statement)
                except Exception as exc:
                    raise StorageError(f"migration {name} failed: {exc}\n--- statement ---\n{statement[:400]}") from exc
            self.client.insert(
                "schema_migrations",
                [[version, name, hashlib.sha256(text.encode()).hexdigest()]],
                column_names=["version", "name", "checksum"],
            )
            done.append(name)
            log.info("applied migration %s", name)
        self.apply_retention(retention_days)
        self.apply_raw_merge_policy()
        return done

    def apply_raw_merge_policy(self) -> None:
        """Set the raw tables' merge_selector_base (RAW_MERGE_SELECTOR_BASE), where the
        engine knows the setting; where a table already has it, nothing is sent."""
        known = self.query_rows("SELECT count() FROM system.merge_tree_settings WHERE name = {n:String}",
                                {"n": MERGE_SELECTOR_SETTING})
        if not known or not known[0][0]:
            log.info("this ClickHouse has no %s: the raw tables keep its default merges", MERGE_SELECTOR_SETTING)
            return
        wanted = f"{MERGE_SELECTOR_SETTING} = {RAW_MERGE_SELECTOR_BASE:g}"
        already = re.compile(rf"\b{re.escape(wanted)}(?![\w.])")  # not "= 100" or "= 10.5"
        for table, ddl in self._create_table_queries(RAW_TABLE_TTL_COLUMNS).items():
            if not already.search(ddl):
                self.command(f"ALTER TABLE {self.mutation_target(table)} MODIFY SETTING {wanted}")

    def apply_retention(self, retention_days: int) -> None:
        """Set (or remove) the TTL on raw tables; 0 keeps everything."""
        ddls = {} if retention_days > 0 else self._create_table_queries(RAW_TABLE_TTL_COLUMNS)
        for table, column in RAW_TABLE_TTL_COLUMNS.items():
            if retention_days > 0:
                self.command(f"ALTER TABLE {self.mutation_target(table)} MODIFY TTL {column} + toIntervalDay({int(retention_days)})")
            elif " TTL " in ddls.get(table, ""):
                self.command(f"ALTER TABLE {self.mutation_target(table)} REMOVE TTL")

    def _has_ttl(self, table: str) -> bool:
        return " TTL " in self._create_table_queries([table]).get(table, "")

    def _create_table_queries(self, tables: Iterable[str]) -> dict[str, str]:
        """The CREATE statement of each of ``tables`` that exists (on a cluster, of its local
        table on this node), by table name: one query for all of them."""
        suffix = LOCAL_SUFFIX if self.cluster else ""
        rows = self.query_rows(
            "SELECT name, create_table_query FROM system.tables WHERE database = {db:String} AND name IN {names:Array(String)}",
            {"db": self.database, "names": [table + suffix for table in tables]},
        )
        return {name.removesuffix(suffix): ddl for name, ddl in rows}

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Block until a trivial query succeeds (a server may still be starting)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.query_rows("SELECT 1")
                return
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise StorageError(f"storage {self.info.safe} not ready: {exc}") from exc
                time.sleep(0.2)


def migration_files() -> list[tuple[int, str, str]]:
    """(version, file name, text) of every migration, in order."""
    result = []
    for path in sorted((SQL_DIR / "migrations").glob("*.sql")):
        match = re.match(r"^(\d+)_", path.name)
        if not match:
            continue
        result.append((int(match.group(1)), path.name, path.read_text()))
    return result


def open_storage(dsn: str, database: str = "loomline", retention_days: int = 0, cluster: str = "") -> Storage:
    """Connect and migrate: the one way components get storage."""
    storage = Storage(dsn, database, cluster=cluster)
    storage.migrate(retention_days)
    return storage
