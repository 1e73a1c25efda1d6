"""SQL lives in .sql files beside this module; this loads them by name."""

from __future__ import annotations

import functools
from pathlib import Path

SQL_DIR = Path(__file__).parent / "sql"


@functools.cache
def load_query(name: str) -> str:
    """Text of ``sql/queries/<name>.sql`` (cached). Parameters use ClickHouse's
    server-side binding syntax ``{name:Type}``; values are never pasted in."""
    path = SQL_DIR / "queries" / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no query named {name!r} at {path}")
    return path.read_text()


@functools.cache
def load_query_compact(name: str) -> str:
    """load_query without its comment lines (lines starting with ``--``), for queries run
    many times a second: clickhouse-connect scans a query's text in Python on every call
    (binding, read-only check), ~0.45 µs a character; the enrichment load query's comments
    were two thirds of that."""
    return "\n".join(line for line in load_query(name).splitlines() if not line.lstrip().startswith("--"))


def split_statements(sql: str) -> list[str]:
    """Split a migration file into statements at semicolons that end a line.

    Comments (``--`` to end of line) are removed first. DDL here never has a semicolon
    inside a string literal at the end of a line, which keeps this simple and exact.
    """
    lines = []
    for line in sql.splitlines():
        stripped = line.split("--", 1)[0] if "--" in line and "'" not in line else line
        lines.append(stripped.rstrip())
    statements, current = [], []
    for line in lines:
        current.append(line)
        if line.endswith(";"):
            text = "\n".join(current).strip().rstrip(";").strip()
            if text:
                statements.append(text)
            current = []
    tail = "\n".join(current).strip()
    if tail:
        statements.append(tail)
    return statements
