"""Shared test fixtures.

chDB allows one data directory per process for the process's lifetime, so the whole test
session shares one directory and each test gets its own database in it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from loomline.app import Loomline
from settings import Settings
from storage.client import Storage, open_storage

_CHDB_DIR: Path | None = None

# Tests that may run apart in parallel (scripts/test.sh runs pytest-xdist workers): the
# real-CLI scenarios of one protocol share one loomline serve (module-scoped, parametrized),
# so they form one group per protocol and the three protocols run side by side; the harness
# tests share nothing. Every other module is one group, because its module-scoped fixtures
# (a loaded data set, a server) are the slow part. (xdist's own xdist_group markers do not
# take effect with pytest 9, so the grouping is a scheduler keyed on the test id.)
_SPLIT_BY_PARAM = {"test_claude_code_e2e.py"}
_SPLIT_BY_TEST = {"test_harness.py"}


def group_of(nodeid: str) -> str:
    """The group a test runs in: ``path::name[param]`` -> module, module[param] or the id."""
    path, _, rest = nodeid.partition("::")
    module = path.rsplit("/", 1)[-1]
    if module in _SPLIT_BY_TEST:
        return nodeid
    if module in _SPLIT_BY_PARAM and rest.endswith("]") and "[" in rest:
        return f"{path}[{rest[rest.index('[') + 1:-1]}]"
    return path


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Hand each worker whole groups (see group_of), in collection order as xdist does for scopes."""
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return GroupScheduling(config, log)


def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    global _CHDB_DIR
    if _CHDB_DIR is None:
        _CHDB_DIR = tmp_path_factory.mktemp("chdb")
    return _CHDB_DIR


@pytest.fixture(scope="session")
def chdb_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The DSN of the session-wide embedded ClickHouse."""
    return f"chdb://{chdb_dir(tmp_path_factory)}"


@pytest.fixture
def database_name() -> str:
    return f"t_{uuid.uuid4().hex[:16]}"


@pytest.fixture
def storage(chdb_dsn: str, database_name: str) -> Iterator[Storage]:
    """A fresh, migrated loomline database in the session's chDB."""
    handle = open_storage(chdb_dsn, database_name)
    yield handle
    try:
        handle.command(f"DROP DATABASE IF EXISTS `{database_name}`")
    finally:
        handle.close()


def make_settings(chdb_dsn: str, database: str, **overrides: object) -> Settings:
    base = {
        "clickhouse": chdb_dsn,
        "database": database,
        "otlp_grpc": "127.0.0.1:0",
        "otlp_http": "127.0.0.1:0",
        "api": "127.0.0.1:0",
        "enrich_interval": 0.2,
    }
    base.update(overrides)
    return Settings.load(base, environ={})


@contextlib.contextmanager
def running_app(chdb_dsn: str, **overrides: object) -> Iterator[Loomline]:
    """A started Loomline (free loopback ports) over a fresh database in the session's chDB:
    what a module-scoped "loaded" fixture loads its data into. Stopped and dropped after."""
    database = f"t_{uuid.uuid4().hex[:16]}"
    storage = open_storage(chdb_dsn, database)
    app = Loomline(make_settings(chdb_dsn, database, **overrides), storage=storage).start()
    try:
        yield app
    finally:
        app.stop()
        storage.command(f"DROP DATABASE IF EXISTS `{database}`")
        storage.close()


@pytest.fixture
def app_factory(chdb_dsn: str, database_name: str) -> Iterator:
    """Start in-process loomline instances on free loopback ports; all stopped at teardown."""
    started: list[Loomline] = []

    def start(storage: Storage | None = None, **overrides: object) -> Loomline:
        app = Loomline(make_settings(chdb_dsn, database_name, **overrides), storage=storage)
        started.append(app)
        return app.start()

    yield start
    for app in started:
        app.stop()


@pytest.fixture
def app(storage: Storage, app_factory) -> Loomline:
    """One running loomline (receivers, enrichment, API) over the test's database. (Storage
    first: torn down in reverse, the app stops before its database is dropped.)"""
    return app_factory(storage=storage)
