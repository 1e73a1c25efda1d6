"""Running the ``storage/sql/queries/api_*.sql`` files. Every value is a bound parameter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from storage.client import Storage
from storage.sql_files import load_query


def run(storage: Storage, name: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows of query ``name`` as dicts."""
    return storage.query_dicts(load_query(name), params)


# A page that needs several independent queries (a thread's detail) runs them side by side:
# its time is then the slowest query's, not their sum. Each thread has its own client.
_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="loomline-api-query")


def run_many(storage: Storage, names: Sequence[str], params: Mapping[str, Any]) -> list[list[dict[str, Any]]]:
    """Rows of each query in ``names`` (same parameters), run concurrently, in order."""
    futures = [_POOL.submit(run, storage, name, params) for name in names]
    return [future.result() for future in futures]
