"""The routes the web explorer reads: orgs (with and without tokens), users, projects,
repositories, models, a thread's context series, live sessions and their event stream, /docs offline,
and the explorer's own files. Real captures through the real receiver, enrichment and
HTTP server."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from loomline.app import Loomline
from storage.client import Storage, open_storage
from tests import test_api_endpoints as base
from tests.conftest import make_settings
from tests.live_telemetry import api_requests_of, set_cache_read, shifted_logs
from tests.repo_telemetry import (
    API_REPO,
    HOSTILE_REPO,
    ORG_REPOS,
    ORG_REPOS_OTHER,
    WEB_REPO,
    load_repositories,
)
from tests.test_api_endpoints import ORG_HOOKS, ORG_NATIVE, get, send

# The API tests' data set (every capture, native and with hooks), loaded once per module.
loaded = base.loaded
api = base.api
db = base.db


def test_orgs_without_tokens_lists_every_org_with_data(api: httpx.Client, db: Storage) -> None:
    body = get(api, "/api/v1/orgs")
    ids = [o["id"] for o in body["data"]]
    assert ids == sorted({ORG_NATIVE, ORG_HOOKS})
    counts = dict(db.query_rows("SELECT org_id, count() FROM threads FINAL WHERE is_deleted = 0 GROUP BY org_id"))
    assert {o["id"]: o["thread_count"] for o in body["data"]} == counts


def test_users_projects_models_add_up(api: httpx.Client, db: Storage) -> None:
    users = get(api, f"/api/v1/{ORG_HOOKS}/users")["data"]
    sessions = db.query_dicts(
        "SELECT user_id, count() AS n, sum(cost_usd) AS cost FROM llm_sessions FINAL"
        " WHERE org_id = {o:String} AND is_deleted = 0 GROUP BY user_id", {"o": ORG_HOOKS})
    assert {u["user_id"]: u["session_count"] for u in users} == {r["user_id"]: r["n"] for r in sessions}
    for user in users:
        expected = next(r["cost"] for r in sessions if r["user_id"] == user["user_id"])
        assert user["cost_usd"] == pytest.approx(expected, abs=1e-6)
    stamps = [u["last_activity_at"] for u in users]
    assert stamps == sorted(stamps, reverse=True)
    projects = get(api, f"/api/v1/{ORG_HOOKS}/projects")["data"]
    assert sum(p["session_count"] for p in projects) == sum(r["n"] for r in sessions)
    assert all(p["project_id"] for p in projects)  # the hook bridge names the project
    models = get(api, f"/api/v1/{ORG_HOOKS}/models")["data"]
    assert models and all(m["model"].startswith("claude-") for m in models)
    # Another org's figures never leak: the native org has no projects from hooks.
    assert get(api, "/api/v1/nobody/users")["data"] == []


def test_context_series_of_a_thread(api: httpx.Client, db: Storage) -> None:
    threads = get(api, f"/api/v1/{ORG_HOOKS}/conversations", limit=100)["data"]
    thread = max(threads, key=lambda t: t["api_request_count"])
    series = get(api, f"/api/v1/{ORG_HOOKS}/conversations/{thread['thread_id']}/context")["data"]
    detail = get(api, f"/api/v1/{ORG_HOOKS}/conversations/{thread['thread_id']}")["data"]
    rows = db.query_dicts(
        "SELECT InputTokens + CacheReadTokens + CacheCreationTokens AS ctx FROM events FINAL"
        " WHERE OrgId = {o:String} AND EventName = 'api_request' AND SessionId IN {s:Array(String)}"
        " ORDER BY Timestamp, EventKey", {"o": ORG_HOOKS, "s": detail["session_ids"]})
    assert [p["context_tokens"] for p in series] == [r["ctx"] for r in rows]
    assert len(series) == detail["api_request_count"]
    assert all(p["context_window"] == 200_000 for p in series)
    assert [p["timestamp"] for p in series] == sorted(p["timestamp"] for p in series)
    assert any(p["main"] for p in series)
    missing = api.get(f"/api/v1/{ORG_HOOKS}/conversations/no-such-thread/context")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    other = api.get(f"/api/v1/{ORG_NATIVE}/conversations/{thread['thread_id']}/context")
    # The native org has the same capture under the same ids only if it has the thread.
    assert other.status_code in (200, 404)


def test_title_search(api: httpx.Client) -> None:
    everything = get(api, f"/api/v1/{ORG_HOOKS}/conversations", limit=100)["data"]
    word = next(t["title"].split()[0] for t in everything if t["title"] and " " in t["title"])
    found = get(api, f"/api/v1/{ORG_HOOKS}/conversations", q=word.upper(), limit=100)["data"]
    assert found and all(word.lower() in t["title"].lower() for t in found)
    assert len(found) == sum(word.lower() in (t["title"] or "").lower() for t in everything)
    hostile = get(api, f"/api/v1/{ORG_HOOKS}/conversations", q="') OR 1=1 --", limit=100)["data"]
    assert hostile == []


def test_docs_work_offline(api: httpx.Client) -> None:
    page = api.get("/docs")
    assert page.status_code == 200 and "swagger" in page.text.lower()
    refs = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", page.text)
    assert refs and all(not re.match(r"^(https?:)?//", ref) for ref in refs), refs
    assert not re.search(r"https?://(?!127\.0\.0\.1)", page.text), "the docs page names an external host"
    for ref in refs:
        if ref.startswith("/docs-assets/"):
            assert api.get(ref).status_code == 200, ref


def test_explorer_files_are_served(api: httpx.Client) -> None:
    index = api.get("/")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in index.headers["content-security-policy"]
    assert not re.search(r"https?://", index.text)
    script = api.get("/ui/js/main.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert api.get("/ui/style.css").headers["content-type"].startswith("text/css")
    assert api.get("/ui/../pyproject.toml").status_code == 404
    assert api.get("/api/v1/acme/nothing-here").json()["error"]["code"] == "not_found"


def test_live_snapshot_and_stream(loaded: Loomline, api: httpx.Client) -> None:
    """A session sending telemetry now shows in /live within the poll; the stream pushes
    the change (a larger context) within 2 s."""
    org = "livetest"
    requests = shifted_logs("fresh_tool", "live-a-", org=org)
    with httpx.Client(base_url=str(api.base_url), timeout=30) as client:
        empty = get(client, f"/api/v1/{org}/live")["data"]
        assert empty["sessions"] == []
        send(loaded, [("logs", r) for r in requests[:-1]])
        snap = get(client, f"/api/v1/{org}/live")["data"]
        assert len(snap["sessions"]) == 1
        row = snap["sessions"][0]
        assert row["session_id"].startswith("live-a-")
        assert row["state"] in ("working", "idle") and row["model"].startswith("claude-")
        assert 0 < row["context_fill"] < 0.8
        assert snap["today"]["api_request_count"] >= 1

        seen: list[tuple[float, dict[str, Any]]] = []
        done = threading.Event()

        def read() -> None:
            try:
                with client.stream("GET", f"/api/v1/{org}/live/stream", timeout=30) as response:
                    assert response.headers["content-type"].startswith("text/event-stream")
                    for line in response.iter_lines():
                        if line.startswith("data:"):
                            seen.append((time.monotonic(), json.loads(line[5:])))
                        if done.is_set():
                            return
            except httpx.HTTPError:
                if not done.is_set():
                    raise

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.05)
        assert seen, "no first snapshot on the stream"
        # The newest request of the session: a context of 196k tokens (98 % of 200k).
        with_request = [r for r in requests if api_requests_of([r])][-1]
        set_cache_read(api_requests_of([with_request])[-1], 196_000)
        tail = [with_request]
        sent_at = time.monotonic()
        send(loaded, [("logs", r) for r in tail])
        deadline = sent_at + 5
        pushed = None
        while time.monotonic() < deadline and pushed is None:
            for at, snapshot in list(seen):
                rows = snapshot["sessions"]
                if rows and rows[0]["context_fill"] >= 0.95:
                    pushed = at
            time.sleep(0.05)
        done.set()
        reader.join(20)
        assert pushed is not None, "the stream did not push the larger context"
        assert pushed - sent_at <= 2.0


def test_orgs_and_live_with_tokens(app_factory: Any, storage: Storage) -> None:
    app = app_factory(storage=storage, api_tokens="t-acme=acme,t-all=*,t-two=acme|beta:rw")
    base = f"http://127.0.0.1:{app.ports['api']}"
    with httpx.Client(base_url=base, timeout=30) as client:
        assert client.get("/api/v1/orgs").status_code == 401
        assert client.get("/api/v1/orgs", headers={"Authorization": "Bearer nope"}).status_code == 401
        acme = client.get("/api/v1/orgs", headers={"Authorization": "Bearer t-acme"}).json()["data"]
        assert [o["id"] for o in acme] == ["acme"]  # listed before it has data
        two = client.get("/api/v1/orgs", headers={"Authorization": "Bearer t-two"}).json()["data"]
        assert [o["id"] for o in two] == ["acme", "beta"]
        assert client.get("/api/v1/orgs", headers={"Authorization": "Bearer t-all"}).json()["data"] == []
        forbidden = client.get("/api/v1/beta/live", headers={"Authorization": "Bearer t-acme"})
        assert forbidden.status_code == 403
        assert client.get("/api/v1/acme/live/stream").status_code == 401
        assert client.get("/api/v1/acme/users", headers={"Authorization": "Bearer t-acme"}).json()["data"] == []
        # The explorer's page itself needs no token: it asks for one.
        assert client.get("/").status_code == 200


# -- repositories ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def repos(chdb_dsn: str) -> Iterator[httpx.Client]:
    database = f"t_{uuid.uuid4().hex[:16]}"
    storage = open_storage(chdb_dsn, database)
    app = Loomline(make_settings(chdb_dsn, database, enrich_interval=3600), storage=storage).start()
    try:
        load_repositories(app)
        with httpx.Client(base_url=f"http://127.0.0.1:{app.ports['api']}", timeout=30) as client:
            client.storage = storage  # type: ignore[attr-defined]
            yield client
    finally:
        app.stop()
        storage.command(f"DROP DATABASE IF EXISTS `{database}`")
        storage.close()


def test_repositories_with_their_totals(repos: httpx.Client) -> None:
    storage: Storage = repos.storage  # type: ignore[attr-defined]
    rows = get(repos, f"/api/v1/{ORG_REPOS}/repositories")["data"]
    assert [r["repository"] for r in rows if r["repository"]] and {r["repository"] for r in rows} == {API_REPO, WEB_REPO, ""}
    expected = {r["repository"]: r for r in storage.query_dicts(
        "SELECT repository, count() AS sessions, uniqExact(thread_id) AS threads, uniqExact(user_id) AS users,"
        " sum(cost_micros) AS micros, sum(input_tokens + output_tokens + cache_read_tokens + cache_creation_tokens)"
        " AS tokens, max(last_activity_at) AS last FROM llm_sessions FINAL"
        " WHERE org_id = {o:String} AND is_deleted = 0 GROUP BY repository", {"o": ORG_REPOS})}
    for row in rows:
        want = expected[row["repository"]]
        assert (row["session_count"], row["thread_count"], row["user_count"], row["total_tokens"]) == (
            want["sessions"], want["threads"], want["users"], want["tokens"]), row
        assert row["cost_usd"] == want["micros"] / 1e6
        assert row["last_activity_at"] == want["last"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    stamps = [r["last_activity_at"] for r in rows]
    assert stamps == sorted(stamps, reverse=True)
    by_id = {r["repository"]: r for r in rows}
    assert by_id[API_REPO]["provider"] == "github" and by_id[WEB_REPO]["provider"] == "gitlab"
    assert by_id[API_REPO]["branches"] == ["main"] and by_id[""]["branches"] == []
    # Branches newest first: the order of each branch's last activity.
    order = storage.query_rows(
        "SELECT git_branch FROM llm_sessions FINAL WHERE org_id = {o:String} AND repository = {r:String}"
        " GROUP BY git_branch ORDER BY max(last_activity_at) DESC", {"o": ORG_REPOS, "r": WEB_REPO})
    assert by_id[WEB_REPO]["branches"] == [b for (b,) in order] and sorted(by_id[WEB_REPO]["branches"]) == ["feature/login", "main"]
    assert by_id[WEB_REPO]["branch_count"] == 2 and by_id[WEB_REPO]["thread_count"] == 3  # the fork's two + the resume's
    # Each repository row leads to its conversations: the list filtered by it.
    for repo in (API_REPO, WEB_REPO):
        threads = get(repos, f"/api/v1/{ORG_REPOS}/conversations", repository=repo, limit=100)["data"]
        assert len(threads) == by_id[repo]["thread_count"]
        assert {t["repository"] for t in threads} == {repo}
    # limit, and a time range that misses everything.
    assert get(repos, f"/api/v1/{ORG_REPOS}/repositories", limit=1)["data"] == rows[:1]
    assert get(repos, f"/api/v1/{ORG_REPOS}/repositories", to="2000-01-01")["data"] == []
    assert get(repos, f"/api/v1/{ORG_REPOS}/repositories", **{"from": "2299-01-01"})["data"] == []
    newest = get(repos, f"/api/v1/{ORG_REPOS}/repositories", **{"from": rows[0]["last_activity_at"]})["data"]
    assert [r["repository"] for r in newest] == [rows[0]["repository"]]
    # Unknown parameters and bad values are 422, as everywhere.
    for params in ({"repository": API_REPO}, {"limit": 0}, {"from": "2026-01-02", "to": "2026-01-01"}):
        assert get(repos, f"/api/v1/{ORG_REPOS}/repositories", expect=422, **params)["error"]["code"] == "invalid_parameter"


def test_repositories_stay_in_their_org(repos: httpx.Client) -> None:
    mine = get(repos, f"/api/v1/{ORG_REPOS}/repositories")["data"]
    other = get(repos, f"/api/v1/{ORG_REPOS_OTHER}/repositories")["data"]
    assert HOSTILE_REPO not in json.dumps(mine) and "DROP" not in json.dumps(mine)
    assert [(r["repository"], r["session_count"], r["provider"]) for r in other] == [(HOSTILE_REPO, 1, "github")]
    assert get(repos, "/api/v1/nobody/repositories")["data"] == []
    # The SQL-looking id is bound text: it filters its own org's list to its session and
    # matches nothing elsewhere; neither does an injection attempt.
    for route in ("conversations", "llm_sessions"):
        assert len(get(repos, f"/api/v1/{ORG_REPOS_OTHER}/{route}", repository=HOSTILE_REPO)["data"]) == 1
        assert get(repos, f"/api/v1/{ORG_REPOS}/{route}", repository=HOSTILE_REPO)["data"] == []
        assert get(repos, f"/api/v1/{ORG_REPOS}/{route}", repository="' OR 1=1 --")["data"] == []
    assert len(get(repos, f"/api/v1/{ORG_REPOS_OTHER}/conversations", repository="x'); DROP TABLE llm_sessions; --")["data"]) == 1


def test_repositories_in_the_openapi_document(repos: httpx.Client) -> None:
    spec = get(repos, "/openapi.json")
    route = spec["paths"]["/api/v1/{org_id}/repositories"]["get"]
    assert {p["name"] for p in route["parameters"]} == {"org_id", "from", "to", "limit"}
    schema = spec["components"]["schemas"]["Repository"]
    assert {"repository", "branches", "session_count", "thread_count", "cost_usd", "last_activity_at"} <= set(schema["properties"])


def test_conversation_detail_carries_the_list_fields(repos: httpx.Client) -> None:
    """The thread view's header reads the detail: it has the list item's repository,
    branch, injected prompts and unpriced requests (they were null before)."""
    for item in get(repos, f"/api/v1/{ORG_REPOS}/conversations", limit=100)["data"]:
        detail = get(repos, f"/api/v1/{ORG_REPOS}/conversations/{item['thread_id']}")["data"]
        keys = ("repository", "git_branch", "injected_prompt_count", "unpriced_request_count", "unpriced_reasons")
        assert {k: detail[k] for k in keys} == {k: item[k] for k in keys}
        assert isinstance(detail["repository"], str) and isinstance(detail["injected_prompt_count"], int)
    assert {t["repository"] for t in get(repos, f"/api/v1/{ORG_REPOS}/conversations")["data"]} == {API_REPO, WEB_REPO, ""}
