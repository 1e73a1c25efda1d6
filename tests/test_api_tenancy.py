"""Tenancy: two orgs fed by two receiver tokens; an API token for org A only.

401 without a valid token, 403 for org B, 404 for B's ids under A, and nothing of B in any
answer under A (lists, usage, exports, filters naming B's ids)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from loomline.app import Loomline
from tests.conftest import running_app
from tests.test_api_endpoints import enrich, scenario_requests, send

SCENARIOS = ("fresh_tool", "compact_manual")
RECEIVER_TOKENS = {"recv-a": "org-a", "recv-b": "org-b"}
API_TOKENS = {"api-a": frozenset({"org-a"}), "api-all": frozenset({"*"})}
COMPACTED = "ff3923b1-3d3c-47e4-ac75-409610d1482e"  # compact_manual's session


@pytest.fixture(scope="module")
def tenants(chdb_dsn: str) -> Iterator[Loomline]:
    with running_app(chdb_dsn, enrich_interval=3600, receiver_tokens=RECEIVER_TOKENS, api_tokens=API_TOKENS) as app:
        for scenario in SCENARIOS:
            # No organization.id on the records: each belongs to its receiver token's org.
            send(app, scenario_requests(scenario, prefix="a-"), token="recv-a")
            send(app, scenario_requests(scenario, prefix="b-"), token="recv-b")
        enrich(app)
        yield app


@pytest.fixture(scope="module")
def base(tenants: Loomline) -> str:
    return f"http://127.0.0.1:{tenants.ports['api']}"


_clients: dict[str, httpx.Client] = {}


def call(base: str, path: str, token: str | None, **params: Any) -> httpx.Response:
    """GET over one kept-alive connection per server."""
    client = _clients.get(base) or _clients.setdefault(base, httpx.Client(timeout=30))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get(base + path, params=params, headers=headers)


def endpoints(org: str, prefix: str) -> list[str]:
    session = prefix + COMPACTED
    return [
        f"/api/v1/{org}/conversations",
        f"/api/v1/{org}/conversations/{session}",
        f"/api/v1/{org}/llm_sessions",
        f"/api/v1/{org}/llm_sessions/{session}",
        f"/api/v1/{org}/llm_sessions/{session}/compactions",
        f"/api/v1/{org}/llm_sessions/{session}/events",
        f"/api/v1/{org}/usage",
        f"/api/v1/{org}/repositories",
    ]


def test_orgs_come_from_receiver_tokens(tenants: Loomline) -> None:
    assert tenants.storage is not None
    rows = tenants.storage.query_rows(
        "SELECT OrgId, groupUniqArray(substring(SessionId, 1, 2)) FROM events FINAL GROUP BY OrgId ORDER BY OrgId")
    assert rows == [("org-a", ["a-"]), ("org-b", ["b-"])]


def test_without_a_valid_token_every_org_route_is_401(base: str) -> None:
    for path in endpoints("org-a", "a-") + endpoints("org-b", "b-"):
        for token in (None, "wrong", "api-a " + "x"):
            response = call(base, path, token)
            assert response.status_code == 401, (path, token)
            assert response.json()["error"]["code"] == "unauthorized"
            assert response.headers["www-authenticate"] == "Bearer"
            assert "a-" + COMPACTED not in response.text and "b-" + COMPACTED not in response.text
        # a non-bearer scheme is no token either
        response = httpx.get(base + path, headers={"Authorization": "Basic YWxhZGRpbjpvcGVu"})
        assert response.status_code == 401


def test_health_and_docs_need_no_token(base: str) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        assert call(base, path, None).status_code == 200


def test_another_orgs_routes_are_403_whatever_the_id(base: str) -> None:
    for path in endpoints("org-b", "b-") + endpoints("org-b", "a-") + endpoints("org-c", "x-"):
        response = call(base, path, "api-a")
        assert response.status_code == 403, path
        body = response.json()
        assert body["error"]["code"] == "forbidden"
        assert COMPACTED not in response.text
    # even with invalid parameters: authorization is decided first
    assert call(base, "/api/v1/org-b/conversations", "api-a", limit=0).status_code == 403


def test_another_orgs_ids_are_404_under_ones_own_org(base: str) -> None:
    own = endpoints("org-a", "a-")
    foreign = endpoints("org-a", "b-")
    for path in own:
        assert call(base, path, "api-a").status_code == 200, path
    for path in foreign:
        if path.endswith(("/conversations", "/llm_sessions", "/usage", "/repositories")):
            continue  # lists: checked below
        response = call(base, path, "api-a")
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    # Under org-b the same ids exist (the all-orgs token reads them): 404 above was tenancy.
    for path in endpoints("org-b", "b-"):
        assert call(base, path, "api-all").status_code == 200, path


# org-b's session ids are "b-" + a UUID; "b-" + 8 hex digits + "-" appears nowhere else.
_ORG_B_ID = re.compile(r"b-[0-9a-f]{8}-[0-9a-f]{4}")


def _leaks(text: str) -> bool:
    return _ORG_B_ID.search(text) is not None


def test_lists_usage_and_exports_show_nothing_of_another_org(base: str) -> None:
    for path, params in [
        ("/api/v1/org-a/conversations", {"limit": 1000}),
        ("/api/v1/org-a/llm_sessions", {"limit": 1000}),
        ("/api/v1/org-a/usage", {"group_by": "thread,session,user,project,model,day"}),
        ("/api/v1/org-a/conversations", {"limit": 1000, "format": "csv"}),
        ("/api/v1/org-a/llm_sessions", {"limit": 1000, "format": "csv"}),
        ("/api/v1/org-a/usage", {"group_by": "session", "format": "csv"}),
        (f"/api/v1/org-a/llm_sessions/a-{COMPACTED}/events", {"limit": 1000}),
    ]:
        response = call(base, path, "api-a", **params)
        assert response.status_code == 200
        assert "a-" in response.text and not _leaks(response.text), (path, params)
    # Filters naming org-b's ids match nothing under org-a.
    assert call(base, "/api/v1/org-a/usage", "api-a", session="b-" + COMPACTED).json()["data"] == []
    assert call(base, "/api/v1/org-a/usage", "api-a", thread="b-" + COMPACTED).json()["data"] == []
    assert call(base, f"/api/v1/org-a/llm_sessions/b-{COMPACTED}/events", "api-a", prompt_id="x").status_code == 404
    # org-a's totals are exactly its own sessions' (both orgs hold the same captures).
    a = call(base, "/api/v1/org-a/usage", "api-a").json()["data"][0]
    b = call(base, "/api/v1/org-b/usage", "api-all").json()["data"][0]
    assert a["cost_micros"] == b["cost_micros"] == 8_000 * a["api_request_count"]


def test_star_token_reads_every_org(base: str) -> None:
    a = call(base, "/api/v1/org-a/conversations", "api-all").json()["data"]
    b = call(base, "/api/v1/org-b/conversations", "api-all").json()["data"]
    assert {r["thread_id"][:2] for r in a} == {"a-"} and {r["thread_id"][:2] for r in b} == {"b-"}


def test_no_tokens_means_loopback_only_and_every_org_readable(app_factory: Any, storage: Any) -> None:
    with pytest.raises(ValueError, match="no --api-tokens"):
        app_factory(storage=storage, api="0.0.0.0:0")
    app = app_factory(storage=storage)
    for org in ("default", "anything"):
        response = httpx.get(f"http://127.0.0.1:{app.ports['api']}/api/v1/{org}/conversations", timeout=30)
        assert response.status_code == 200 and response.json()["data"] == []
