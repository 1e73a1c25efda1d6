"""Rendering rows: JSON pages, CSV and Parquet exports (polars), and the OpenAPI models.

Each list endpoint declares its columns once (a ``Columns`` spec: name → kind); the same
spec gives the JSON item model in the OpenAPI document, the Parquet schema and the CSV
layout, so the three formats always carry the same fields.

Kinds: ``str``, ``int``, ``float``, ``bool``, ``datetime`` (UTC), ``strings`` (list of
str), ``json`` (an object); a trailing ``?`` means nullable. In CSV, datetimes are
ISO 8601 with ``Z`` like JSON, and lists and objects are JSON text. In Parquet,
datetimes are ``timestamp[us, UTC]``, lists are lists, objects are JSON text.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, create_model

Columns = Mapping[str, str]

_PY_TYPES: dict[str, Any] = {
    "str": str, "int": int, "float": float, "bool": bool, "datetime": datetime,
    "strings": list[str], "json": dict[str, Any],
}
_POLARS: dict[str, Any] = {
    "str": pl.String, "int": pl.Int64, "float": pl.Float64, "bool": pl.Boolean,
    "datetime": pl.Datetime("us", "UTC"), "strings": pl.List(pl.String), "json": pl.String,
}

MEDIA_CSV = "text/csv; charset=utf-8"
MEDIA_PARQUET = "application/vnd.apache.parquet"


def utc(value: datetime | None) -> datetime | None:
    """ClickHouse hands back naive datetimes in the column's zone (UTC here)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime) -> str:
    """ISO 8601 with Z and a four-digit year (``%Y`` gives ``1`` for year 1 on glibc)."""
    moment = utc(value)
    assert moment is not None
    return f"{moment.year:04d}-" + moment.strftime("%m-%dT%H:%M:%S.%fZ")


def jsonable(value: Any) -> Any:
    """Plain JSON values: datetimes as ISO 8601 with Z, containers recursively; a stored
    inf or NaN becomes null (JSON has no such numbers: rendering one would be a 500)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def item_model(name: str, columns: Columns) -> type[BaseModel]:
    """A pydantic model of one row, for the OpenAPI document."""
    fields: dict[str, Any] = {}
    for column, kind in columns.items():
        nullable = kind.endswith("?")
        py = _PY_TYPES[kind.rstrip("?")]
        fields[column] = (py | None, ...) if nullable else (py, ...)
    return create_model(name, **fields)


class Pagination(BaseModel):
    limit: int
    has_more: bool
    next_cursor: str | None


def page_model(name: str, item: type[BaseModel]) -> type[BaseModel]:
    return create_model(name, data=(list[item], ...), pagination=(Pagination, ...))  # type: ignore[valid-type]


def _csv_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, list | tuple | dict):
        return json.dumps(jsonable(value), separators=(",", ":"))
    return value


_INT64 = (-(2**63), 2**63 - 1)


def _int_dtype(values: list[Any]) -> Any:
    """Int64 when every value fits; else Decimal(38, 0) (Parquet's standard wide integer),
    or text past that. Sums over stored rows can exceed 64 bits (ClickHouse widens them to
    Int128/UInt128); an export must still answer, with the exact value."""
    low, high = _INT64
    ints = [v for v in values if v is not None]
    if all(low <= v <= high for v in ints):
        return pl.Int64
    if all(abs(v) < 10**38 for v in ints):
        return pl.Decimal(38, 0)
    return pl.String


def frame(rows: list[dict[str, Any]], columns: Columns, for_csv: bool) -> pl.DataFrame:
    """The rows as a polars DataFrame with the spec's schema."""
    schema: dict[str, Any] = {}
    data: dict[str, list[Any]] = {}
    for column, kind in columns.items():
        base = kind.rstrip("?")
        values = [row.get(column) for row in rows]
        if base == "int":
            dtype = _int_dtype(values)
            schema[column] = dtype
            data[column] = [None if v is None else str(v) for v in values] if dtype == pl.String else values
            continue
        if for_csv:
            schema[column] = pl.String if base in {"datetime", "strings", "json"} else _POLARS[base]
            data[column] = [_csv_value(v) for v in values]
        else:
            schema[column] = _POLARS[base]
            if base == "json":
                values = [None if v is None else json.dumps(jsonable(v), separators=(",", ":")) for v in values]
            elif base == "datetime":
                values = [utc(v) for v in values]
            elif base == "strings":
                values = [None if v is None else list(v) for v in values]
            data[column] = values
    return pl.DataFrame(data, schema=schema)


def respond(
    rows: list[dict[str, Any]],
    columns: Columns,
    fmt: str,
    limit: int,
    next_cursor: str | None,
    filename: str,
) -> Response:
    """One page in the asked format. Exports carry the paging state in headers."""
    if fmt == "json":
        body = {
            "data": [jsonable(row) for row in rows],
            "pagination": {"limit": limit, "has_more": next_cursor is not None, "next_cursor": next_cursor},
        }
        return JSONResponse(body)
    headers = {"X-Has-More": "true" if next_cursor else "false"}
    if next_cursor:
        headers["X-Next-Cursor"] = next_cursor
    buffer = io.BytesIO()
    if fmt == "csv":
        frame(rows, columns, for_csv=True).write_csv(buffer)
        media, suffix = MEDIA_CSV, "csv"
    else:
        frame(rows, columns, for_csv=False).write_parquet(buffer)
        media, suffix = MEDIA_PARQUET, "parquet"
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", filename)[:100]
    headers["Content-Disposition"] = f'attachment; filename="{safe}.{suffix}"'
    return Response(buffer.getvalue(), media_type=media, headers=headers)


EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {MEDIA_CSV: {}, MEDIA_PARQUET: {}}, "description": "a page (JSON) or an export (format=csv|parquet)"},
}
