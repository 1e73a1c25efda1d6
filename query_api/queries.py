"""Running the ``storage/sql/queries/api_*.sql`` files. Every value is a bound parameter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from storage.client import Storage
from storage.sql_files import load_query


def run(storage: Storage, name: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows of query ``name`` as dicts."""
    return storage.query_dicts(load_query(name), params)
