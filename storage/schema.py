"""One set of migration files, rendered per storage mode.

Single node (the embedded default and a lone ClickHouse server): the files run as written.

Cluster (``--clickhouse-cluster NAME``): every table becomes two, following ClickHouse's
usual layout:

* ``<name>_local``: the data, ``ON CLUSTER NAME``, with the engine made replicated
  (``MergeTree`` -> ``ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/<name>_local',
  '{replica}')``, ``ReplacingMergeTree(version, is_deleted)`` ->
  ``ReplicatedReplacingMergeTree(<path>, '{replica}', version, is_deleted)``);
* ``<name>``: a ``Distributed`` table over the locals, under the name every query, panel and
  view already uses, sharded so that all rows of one session (one thread, one link, ...) land
  on one shard. ``FINAL`` and ReplacingMergeTree's collapsing work per shard, and a retried
  insert carries the same rows to the same shard, where replicated deduplication drops it.

Views get ``ON CLUSTER`` and read the Distributed tables. ``ALTER TABLE`` runs on the local
tables; ``ADD``/``DROP``/``MODIFY COLUMN`` also on the Distributed table, so both keep the
same columns. ``schema_migrations`` is replicated on one shared path (every replica of every
shard sees one list), and is not distributed.

The rendering is textual, over the small statement shapes the migrations use; a statement
of any other shape is refused with :class:`SchemaError` naming it, so a new migration cannot
silently skip the cluster form (the tests render every file in both modes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from storage.sql_files import split_statements

LOCAL_SUFFIX = "_local"
MIGRATIONS_TABLE = "schema_migrations"

# The sharding key of each table: the columns that identify one session's (or one
# derived row's) data, so FINAL and deduplication stay on one shard. A table missing
# here falls back to DEFAULT_SHARDING on the derived tables' naming (org_id, session_id).
SHARDING_KEYS: dict[str, str] = {
    "otel_logs": "cityHash64(OrgId, LogAttributes['session.id'])",
    "otel_traces": "cityHash64(OrgId, SpanAttributes['session.id'])",
    "otel_metrics_sum": "cityHash64(OrgId, Attributes['session.id'])",
    "otel_metrics_gauge": "cityHash64(OrgId, Attributes['session.id'])",
    "otel_metrics_histogram": "cityHash64(OrgId, Attributes['session.id'])",
    "otel_metrics_exponential_histogram": "cityHash64(OrgId, Attributes['session.id'])",
    "otel_metrics_summary": "cityHash64(OrgId, Attributes['session.id'])",
    "events": "cityHash64(OrgId, SessionId)",
    "session_links": "cityHash64(org_id, from_session_id, to_session_id)",
    "cli_runs": "cityHash64(org_id, cli_run_id)",
    "threads": "cityHash64(org_id, thread_id)",
    "enricher_members": "cityHash64(member)",
    # management (0005): one row per managed item, sharded by its key so FINAL sees all versions
    "management_overrides": "cityHash64(org_id, target_id)",
    "deleted_threads": "cityHash64(org_id, thread_id)",
    "generated_titles": "cityHash64(org_id, thread_id)",
    "audit_log": "cityHash64(org_id, audit_id)",
    # the receiver's ledger of stored requests (0013): a token's rows on one shard
    "stored_requests": "cityHash64(Token)",
}
DEFAULT_SHARDING = "cityHash64(org_id, session_id)"

_CREATE_TABLE = re.compile(
    r"^CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+`?(?P<name>\w+)`?\s*(?P<body>\(.*)$", re.S | re.I
)
_ENGINE = re.compile(
    r"\bENGINE\s*=\s*(?P<engine>(?:Replacing|Summing|Aggregating|Collapsing|VersionedCollapsing)?MergeTree)"
    r"(?:\s*\((?P<args>[^()]*)\))?",
    re.I,
)
_VIEW = re.compile(
    r"^CREATE\s+(?P<head>(?:OR\s+REPLACE\s+)?VIEW(?:\s+IF\s+NOT\s+EXISTS)?)\s+`?(?P<name>\w+)`?\s+AS\b(?P<rest>.*)$",
    re.S | re.I,
)
_ALTER = re.compile(r"^ALTER\s+TABLE\s+`?(?P<name>\w+)`?\s+(?P<rest>.*)$", re.S | re.I)
_COLUMN_CHANGE = re.compile(r"^\s*(ADD|DROP|MODIFY|RENAME|COMMENT)\s+COLUMN\b", re.I)
_DROP = re.compile(r"^DROP\s+(?P<kind>TABLE|VIEW)\s+(?P<ifexists>IF\s+EXISTS\s+)?`?(?P<name>\w+)`?\s*$", re.I)


class SchemaError(ValueError):
    """A migration statement has a shape the cluster renderer does not know."""


@dataclass(frozen=True)
class Cluster:
    """How to render for a cluster: its name (as in the server's remote_servers) and the
    keeper path prefix for replicated tables."""

    name: str
    zk_prefix: str = "/clickhouse/tables"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", self.name):
            raise SchemaError(f"cluster name must be letters, digits, '_' or '-': {self.name!r}")


def render_statements(sql: str, cluster: Cluster | None = None) -> list[str]:
    """The statements of one migration file for this mode (``None``: single node)."""
    statements = split_statements(sql)
    if cluster is None:
        return statements
    rendered: list[str] = []
    for statement in statements:
        rendered.extend(render_cluster_statement(statement, cluster))
    return rendered


def render_cluster_statement(statement: str, cluster: Cluster) -> list[str]:
    """One single-node statement as the statement(s) a cluster runs instead."""
    # split_statements keeps comment lines that contain a quote; they are no part of the shape
    statement = "\n".join(
        line for line in statement.splitlines() if not line.lstrip().startswith("--")
    ).strip()
    on = f"ON CLUSTER `{cluster.name}`"
    if match := _CREATE_TABLE.match(statement):
        return _create_table(match.group("name"), match.group("body"), cluster)
    if match := _VIEW.match(statement):
        return [f"CREATE {match.group('head')} {match.group('name')} {on} AS{match.group('rest')}"]
    if match := _ALTER.match(statement):
        name, rest = match.group("name"), match.group("rest")
        local = [f"ALTER TABLE {name}{LOCAL_SUFFIX} {on} {rest}"]
        if _COLUMN_CHANGE.match(rest):
            return local + [f"ALTER TABLE {name} {on} {rest}"]
        return local
    if match := _DROP.match(statement):
        kind, name, ifexists = match.group("kind").upper(), match.group("name"), match.group("ifexists") or ""
        if kind == "VIEW":
            return [f"DROP VIEW {ifexists}{name} {on}"]
        return [f"DROP TABLE {ifexists}{name} {on}", f"DROP TABLE {ifexists}{name}{LOCAL_SUFFIX} {on}"]
    raise SchemaError(f"no cluster form for this statement: {statement[:120]!r}")


def _create_table(name: str, body: str, cluster: Cluster) -> list[str]:
    on = f"ON CLUSTER `{cluster.name}`"
    engine = _ENGINE.search(body)
    if engine is None:
        raise SchemaError(f"table {name}: only *MergeTree engines have a cluster form")
    local = f"{name}{LOCAL_SUFFIX}"
    if name == MIGRATIONS_TABLE:
        path = f"{cluster.zk_prefix}/all/{{database}}/{name}"
    else:
        path = f"{cluster.zk_prefix}/{{shard}}/{{database}}/{local}"
    args = [f"'{path}'", "'{replica}'"]
    if engine.group("args") and engine.group("args").strip():
        args.append(engine.group("args").strip())
    replicated = f"ENGINE = Replicated{engine.group('engine')}({', '.join(args)})"
    local_body = body[: engine.start()] + replicated + body[engine.end():]
    # Replicated tables deduplicate retried blocks through keeper (replicated_deduplication_window);
    # the non-replicated window setting has no meaning there.
    local_body = re.sub(r",?\s*non_replicated_deduplication_window\s*=\s*\d+", "", local_body)
    local_body = re.sub(r"\bSETTINGS\s*(?=;|$)", "", local_body).rstrip()
    if name == MIGRATIONS_TABLE:
        return [f"CREATE TABLE IF NOT EXISTS {name} {on} {local_body}"]
    sharding = SHARDING_KEYS.get(name, DEFAULT_SHARDING)
    return [
        f"CREATE TABLE IF NOT EXISTS {local} {on} {local_body}",
        f"CREATE TABLE IF NOT EXISTS {name} {on} AS {local}"
        f" ENGINE = Distributed(`{cluster.name}`, currentDatabase(), {local}, {sharding})",
    ]


def migrations_table_sql() -> str:
    """The single-node DDL of the table that records applied migrations."""
    return (
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (version UInt32, name String,"
        " checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))"
        " ENGINE = ReplacingMergeTree ORDER BY version"
    )


def render_schema(migrations: Iterable[tuple[int, str, str]], cluster: Cluster | None = None) -> str:
    """Every migration's statements for this mode, as one reviewable SQL script."""
    mode = f"cluster {cluster.name}" if cluster else "single node"
    out = [f"-- loomline schema, {mode}. Apply in order; every statement is idempotent.", ""]
    out.append(f"-- {MIGRATIONS_TABLE}")
    out.extend(f"{s};\n" for s in render_statements(migrations_table_sql(), cluster))
    for _version, name, text in migrations:
        out.append(f"-- {name}")
        out.extend(f"{s};\n" for s in render_statements(text, cluster))
    return "\n".join(out).rstrip() + "\n"
