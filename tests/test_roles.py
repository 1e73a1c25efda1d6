"""Separate roles over one storage: receivers, enrichers and an API as separate objects (as
they would be separate processes against a ClickHouse server) give exactly the answers of one
``--role all`` process. chDB stands in for the server: one engine, several role objects."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, timedelta
from typing import Any

import httpx
import pytest

from loomline.app import Loomline
from settings import Settings
from storage.client import Storage, open_storage
from tests.conftest import make_settings
from tests.fixtures import SCENARIOS
from tests.test_api_endpoints import scenario_requests, send


def _now_after_newest(storage: Storage) -> Any:
    newest = storage.query_rows("SELECT max(Timestamp) FROM events")[0][0]
    return newest.replace(tzinfo=UTC) + timedelta(minutes=1)


@pytest.fixture
def fresh_storage(chdb_dsn: str) -> Iterator[Any]:
    opened: list[tuple[Storage, str]] = []

    def make() -> Storage:
        database = f"t_{uuid.uuid4().hex[:16]}"
        storage = open_storage(chdb_dsn, database)
        opened.append((storage, database))
        return storage

    yield make
    for storage, database in opened:
        storage.command(f"DROP DATABASE IF EXISTS `{database}`")
        storage.close()


def _role(chdb_dsn: str, storage: Storage, role: str) -> Loomline:
    settings = make_settings(chdb_dsn, storage.database, role=role, enrich_interval=3600)
    return Loomline(settings, storage=storage).start()


def _answers(api_port: int) -> dict[str, Any]:
    """What a user of the API sees: every conversation, with its detail, and every session."""
    out: dict[str, Any] = {}
    with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=30) as client:
        listing = client.get("/api/v1/default/conversations", params={"limit": 200}).json()
        out["conversations"] = listing["data"]
        for item in listing["data"]:
            out[item["thread_id"]] = client.get(f"/api/v1/default/conversations/{item['thread_id']}").json()
        out["sessions"] = client.get("/api/v1/default/llm_sessions", params={"limit": 200}).json()["data"]
    return out


def test_roles_start_only_their_parts(chdb_dsn: str, fresh_storage: Any) -> None:
    storage = fresh_storage()
    receiver, enricher, api = (_role(chdb_dsn, storage, r) for r in ("receiver", "enricher", "api"))
    try:
        assert set(receiver.ports) == {"otlp_grpc", "otlp_http"} and receiver.enricher is None
        assert enricher.ports == {} and enricher.pipeline is None and enricher.enricher is not None
        assert set(api.ports) == {"api"} and api.pipeline is None and api.enricher is None
    finally:
        for app in (receiver, enricher, api):
            app.stop()


def test_a_role_other_than_all_needs_a_server_dsn(chdb_dsn: str) -> None:
    settings = Settings.load({"clickhouse": chdb_dsn, "role": "enricher"}, environ={})
    with pytest.raises(ValueError, match="needs a ClickHouse server DSN"):
        Loomline(settings).start()


def test_two_receivers_an_enricher_and_an_api_answer_like_one_process(chdb_dsn: str, fresh_storage: Any) -> None:
    single_store, split_store = fresh_storage(), fresh_storage()
    single = _role(chdb_dsn, single_store, "all")
    receivers = [_role(chdb_dsn, split_store, "receiver") for _ in range(2)]
    enricher = _role(chdb_dsn, split_store, "enricher")
    api = _role(chdb_dsn, split_store, "api")
    try:
        for i, scenario in enumerate(SCENARIOS):
            requests = scenario_requests(scenario)
            send(single, requests)
            # a collector in front spreads requests over receivers, and after a receiver
            # failure retries a request elsewhere: every other request goes to both
            for j, request in enumerate(requests):
                send(receivers[(i + j) % 2], [request])
                if j % 2:
                    send(receivers[(i + j + 1) % 2], [request])
        assert single.enricher is not None and enricher.enricher is not None
        single.enricher.run_once(now=_now_after_newest(single_store))
        # the enricher was told nothing by the receivers: it follows the IngestedAt watermark
        stats = enricher.enricher.run_once(now=_now_after_newest(split_store))
        assert stats["dirty_sessions"] > 0
        expected, got = _answers(single.ports["api"]), _answers(api.ports["api"])
        assert len(expected["conversations"]) >= len(SCENARIOS)
        assert got == expected
        for table in ("events", "otel_logs", "otel_metrics_sum", "otel_traces"):
            final = " FINAL" if table == "events" else ""
            counts = [s.query_rows(f"SELECT count() FROM {table}{final}")[0][0] for s in (single_store, split_store)]
            assert counts[0] == counts[1], (table, counts)
    finally:
        for app in (single, *receivers, enricher, api):
            app.stop()


class _Clock:
    """The membership clock, moved by the test instead of by sleeping."""

    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


def _enricher(storage: Storage, name: str, clock: _Clock) -> Any:
    from enrich.membership import Membership
    from enrich.service import Enricher

    return Enricher(storage, membership=Membership(storage, member=name, ttl_seconds=10, clock=clock))


def _send_split(receivers: list[Loomline], scenarios: list[str]) -> None:
    for i, scenario in enumerate(scenarios):
        for j, request in enumerate(scenario_requests(scenario)):
            send(receivers[(i + j) % 2], [request])


@pytest.mark.parametrize("order", ["ab", "ba"])
def test_two_enrichers_split_the_work_and_one_stopped_halfway_is_picked_up(
    chdb_dsn: str, fresh_storage: Any, order: str
) -> None:
    single_store, split_store = fresh_storage(), fresh_storage()
    single = _role(chdb_dsn, single_store, "all")
    receivers = [_role(chdb_dsn, split_store, "receiver") for _ in range(2)]
    api = _role(chdb_dsn, split_store, "api")
    clock = _Clock()
    a, b = _enricher(split_store, "enricher-a", clock), _enricher(split_store, "enricher-b", clock)
    passes = [a, b] if order == "ab" else [b, a]
    half = len(SCENARIOS) // 2
    try:
        for scenario in SCENARIOS:
            send(single, scenario_requests(scenario))
        assert single.enricher is not None
        single.enricher.run_once(now=_now_after_newest(single_store))

        # both members join, beating every few seconds; once settled (one TTL later) each
        # derives only its own groups
        for _ in range(2):
            for enricher in passes:
                enricher.membership.beat()
            clock.now += 6
        _send_split(receivers, SCENARIOS[:half])
        now = _now_after_newest(split_store)
        stats = [e.run_once(now=now) for e in passes]
        assert {e.membership.active for e in passes} == {("enricher-a", "enricher-b")}
        derived = [s.get("sessions", 0) for s in stats]
        skipped = [s.get("groups_of_other_enrichers", 0) for s in stats]
        assert all(derived) and all(skipped), stats  # the work was split, not done twice

        # b dies halfway: it stops without a word; a derives only its share until the TTL
        # tells it b is gone, then takes b's share, including what b had read and not done
        dead = passes[1]
        survivor = passes[0]
        _send_split(receivers, SCENARIOS[half:])
        now = _now_after_newest(split_store)
        survivor.run_once(now=now)
        # b's share of the new half is not derived yet: the API does not agree yet
        assert _answers(api.ports["api"]) != _answers(single.ports["api"])
        clock.now += 11
        survivor.run_once(now=now)
        assert survivor.membership.active == (survivor.membership.member,)
        assert dead.membership.active != survivor.membership.active
        assert _answers(api.ports["api"]) == _answers(single.ports["api"])
    finally:
        for app in (single, *receivers, api):
            app.stop()


def test_a_member_that_leaves_hands_over_at_once(fresh_storage: Any) -> None:
    storage = fresh_storage()
    clock = _Clock()
    a, b = _enricher(storage, "enricher-a", clock), _enricher(storage, "enricher-b", clock)
    for _ in range(2):
        a.membership.beat(), b.membership.beat()
        clock.now += 6
    a.membership.beat()
    assert a.membership.active == ("enricher-a", "enricher-b")
    groups = [{f"s{i}"} for i in range(40)]
    owned_by_a = [g for g in groups if a.membership.owns("org", g)]
    b.membership.beat()
    owned_by_b = [g for g in groups if b.membership.owns("org", g)]
    assert owned_by_a and len(owned_by_a) < len(groups)
    assert all(not (a.membership.owns("org", g) and b.membership.owns("org", g)) for g in groups)
    assert owned_by_b
    b.stop()  # a graceful stop writes a tombstone
    assert a.membership.beat() and a.membership.active == ("enricher-a",)
    assert all(a.membership.owns("org", g) for g in groups)
