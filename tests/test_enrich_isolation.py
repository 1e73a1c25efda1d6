"""One tenant's bad data never stops enrichment for anyone else (issue 16, item 2).

A real server (receiver, pipeline, chDB, enrichment, API): org A sends api_request records
with ``cost_usd = "1.7e308"`` and stored rows carry absurd numbers (rows written before
any range check, so enrichment must not trust decode); org B's later session must still be
derived and served, and /usage must answer 200 for both."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from enrich.service import Enricher
from loomline.app import Loomline
from receiver.selfmetrics import ReceiverMetrics
from storage.client import Storage, StorageError
from tests.conftest import running_app
from tests.test_api_endpoints import scenario_requests
from tests.test_receiver_grpc import STUBS, channel_for

RECEIVER_TOKENS = {"recv-a": "org-a", "recv-b": "org-b"}


def with_cost(requests: list[tuple[str, Any]], cost: str) -> list[tuple[str, Any]]:
    """Copies of the requests whose api_request records report ``cost_usd = cost``."""
    result = []
    for signal, request in requests:
        copy = type(request)()
        copy.CopyFrom(request)
        if signal == "logs":
            for resource in copy.resource_logs:
                for scope in resource.scope_logs:
                    for record in scope.log_records:
                        for kv in record.attributes:
                            if kv.key == "cost_usd":
                                kv.value.string_value = cost
        result.append((signal, copy))
    return result


def send(app: Loomline, requests: list[tuple[str, Any]], token: str) -> None:
    """Export over gRPC; a partial success (a receiver that refuses the value) is fine."""
    with channel_for(app) as channel:
        for signal, request in requests:
            STUBS[signal](channel).Export(request, timeout=30, metadata=[("authorization", f"Bearer {token}")])


def sessions_of(storage: Storage, org: str) -> list[str]:
    return [r[0] for r in storage.query_rows(
        "SELECT DISTINCT SessionId FROM events WHERE OrgId = {org:String} ORDER BY 1", {"org": org})]


def insert_absurd_rows(storage: Storage, org: str, session: str, at: datetime) -> None:
    """api_request rows as a writer without range checks could have stored them."""
    n = 5
    storage.insert_columns("events", {
        "OrgId": [org] * n, "SessionId": [session] * n,
        "EventKey": [uuid.uuid4().int >> 64 for _ in range(n)],
        "EventName": ["api_request"] * n,
        "Timestamp": [at + timedelta(seconds=i) for i in range(n)],
        "Sequence": [2**63 - 1, -(2**63), None, 7, 8],
        "CostUsd": [1.7e308, 1.7e308, math.inf, math.nan, -5.0],
        "CostMicros": [2**63 - 1, 2**63 - 1, -(2**63), 0, 0],
        "InputTokens": [2**64 - 1, 2**64 - 1, 2**63, 0, 1],
        "DurationMs": [math.inf, math.nan, 1e308, None, 3.0],
        "Model": ["claude-opus-5-5"] * n,
        "UserId": ["u"] * n,
    })


@pytest.fixture
def server(chdb_dsn: str) -> Iterator[Loomline]:
    with running_app(chdb_dsn, enrich_interval=3600, receiver_tokens=RECEIVER_TOKENS) as app:
        yield app


def test_absurd_costs_of_one_org_do_not_stop_another_org(server: Loomline) -> None:
    storage = server.storage
    assert storage is not None
    send(server, with_cost(scenario_requests("fresh_tool", prefix="a-"), "1.7e308"), "recv-a")
    a_session = sessions_of(storage, "org-a")[0]
    newest = storage.query_rows("SELECT max(Timestamp) FROM events")[0][0].replace(tzinfo=UTC)
    insert_absurd_rows(storage, "org-a", a_session, newest)
    insert_absurd_rows(storage, "org-a", "a-only-garbage", newest)
    # later, another tenant
    send(server, scenario_requests("compact_manual", prefix="b-"), "recv-b")
    b_session = sessions_of(storage, "org-b")[0]

    now = storage.query_rows("SELECT max(Timestamp) FROM events")[0][0].replace(tzinfo=UTC) + timedelta(minutes=1)
    stats = server.enricher.run_once(now=now)
    assert stats.get("failed_groups", 0) == 0, stats

    base = f"http://127.0.0.1:{server.ports['api']}/api/v1"
    with httpx.Client(timeout=30) as client:
        b = client.get(f"{base}/org-b/llm_sessions/{b_session}")
        assert b.status_code == 200, b.text
        a = client.get(f"{base}/org-a/llm_sessions/{a_session}")
        assert a.status_code == 200, a.text
        for org in ("org-a", "org-b"):
            for group_by in ("", "session", "model,day"):
                usage = client.get(f"{base}/{org}/usage", params={"group_by": group_by} if group_by else {})
                assert usage.status_code == 200, (org, group_by, usage.text)
    row = storage.query_dicts("SELECT cost_usd, cost_micros, input_tokens FROM llm_sessions FINAL"
                              " WHERE session_id = {s:String}", {"s": a_session})[0]
    assert math.isfinite(row["cost_usd"]) and row["cost_usd"] < 1e6
    assert 0 <= row["cost_micros"] < 10**12 and row["input_tokens"] < 10**13
    durations = storage.query_rows("SELECT duration_ms FROM compactions FINAL")
    assert all(d is None or math.isfinite(d) for (d,) in durations)


class FaultyOrgEnricher(Enricher):
    """Fault injection: deriving any group of one org raises (as a bug or a storage error
    confined to that tenant's data would). Storage and every other step are real."""

    broken_org = "org-a"

    def _derive_group(self, org: str, group: set[str], events: list[Any], now_us: int,
                      *args: Any, **kwargs: Any) -> dict[str, int]:
        if org == self.broken_org:
            raise ValueError("cannot derive this group")
        return super()._derive_group(org, group, events, now_us, *args, **kwargs)


def test_failing_group_is_quarantined_counted_and_retried(server: Loomline, caplog: pytest.LogCaptureFixture) -> None:
    storage = server.storage
    assert storage is not None
    send(server, scenario_requests("fresh_tool", prefix="a-"), "recv-a")
    send(server, scenario_requests("compact_manual", prefix="b-"), "recv-b")
    metrics = ReceiverMetrics()
    clock = [1000.0]
    enricher = FaultyOrgEnricher(storage, metrics=metrics, clock=lambda: clock[0])
    enricher.retry_first_s = 5.0
    now = storage.query_rows("SELECT max(Timestamp) FROM events")[0][0].replace(tzinfo=UTC) + timedelta(minutes=1)
    a_sessions = set(sessions_of(storage, "org-a"))

    with caplog.at_level("DEBUG", logger="loomline.enrich"):
        first = enricher.run_once(now=now)
        assert first["failed_groups"] >= 1 and first["sessions"] >= 1, first
        assert {s for org, s in enricher.quarantined() if org == "org-a"} == a_sessions
        # org B was derived in the same pass
        assert storage.query_rows("SELECT count() FROM llm_sessions FINAL WHERE org_id = 'org-b'")[0][0] >= 1
        assert storage.query_rows("SELECT count() FROM llm_sessions FINAL WHERE org_id = 'org-a'")[0][0] == 0
        # before the retry time, the group is held back (not retried on every pass) ...
        enricher.mark_dirty({("org-a", s) for s in a_sessions})
        held = enricher.run_once(now=now)
        assert held.get("failed_groups", 0) == 0 and held["quarantined_skipped"] == len(a_sessions), held
        # ... after it, retried; still failing: the backoff doubles
        clock[0] += 5.0
        enricher.run_once(now=now)
        entry = enricher.quarantined()[("org-a", min(a_sessions))]
        assert entry.failures == 2 and "cannot derive this group" in entry.error
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "quarantined" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]  # logged once
    text = metrics.render()
    assert "loomline_enrich_group_failures{} 2" in text
    assert f"loomline_enrich_quarantined_sessions {len(a_sessions)}" in text

    # the fault goes away: the next due retry derives the group and releases it
    enricher.broken_org = ""
    clock[0] += 9.9
    enricher.mark_dirty({("org-a", s) for s in a_sessions})
    assert enricher.run_once(now=now)["quarantined_skipped"] == len(a_sessions)  # backoff now 10 s
    clock[0] += 0.1
    healed = enricher.run_once(now=now)
    assert healed.get("failed_groups", 0) == 0 and not enricher.quarantined(), healed
    assert storage.query_rows("SELECT count() FROM llm_sessions FINAL WHERE org_id = 'org-a'")[0][0] >= 1
    assert "loomline_enrich_quarantined_sessions 0" in metrics.render()


def test_a_pass_writes_its_groups_together_and_a_group_that_cannot_be_stored_alone_fails(
        server: Loomline, monkeypatch: pytest.MonkeyPatch) -> None:
    """The groups a pass derives go into storage together, one insert per table (every
    insert is a part to merge); when that insert fails, each group is written alone and only
    the one whose rows storage refuses is quarantined."""
    storage = server.storage
    assert storage is not None
    send(server, scenario_requests("fresh_tool", prefix="a-"), "recv-a")
    send(server, scenario_requests("compact_manual", prefix="b-"), "recv-b")
    now = storage.query_rows("SELECT max(Timestamp) FROM events")[0][0].replace(tzinfo=UTC) + timedelta(minutes=1)

    inserts: list[tuple[str, frozenset[str]]] = []
    real_insert = storage.insert_columns

    def insert_columns(table: str, columns: Any, dedup_token: str | None = None) -> int:
        orgs = frozenset(columns.get("org_id", ()))
        inserts.append((table, orgs))
        if refuse and refuse in orgs:
            raise StorageError(f"insert into {table} failed: refused for the test")
        return real_insert(table, columns, dedup_token)

    refuse = ""
    monkeypatch.setattr(storage, "insert_columns", insert_columns)
    first = Enricher(storage).run_once(now=now)
    assert first.get("failed_groups", 0) == 0, first
    session_inserts = [orgs for table, orgs in inserts if table == "llm_sessions"]
    assert session_inserts == [frozenset({"org-a", "org-b"})]  # both orgs' groups, one insert

    inserts.clear()
    refuse = "org-a"
    enricher = Enricher(storage)
    enricher.derive_all(now=now)
    assert {org for org, _ in enricher.quarantined()} == {"org-a"}
    session_inserts = [orgs for table, orgs in inserts if table == "llm_sessions"]
    assert session_inserts == [frozenset({"org-a", "org-b"}), frozenset({"org-a"}), frozenset({"org-b"})]
    assert storage.query_rows("SELECT count() FROM llm_sessions FINAL WHERE org_id = 'org-b'")[0][0] >= 1
