"""Management through the API (issue 14): rename, archive, delete and the audit log, with auth
on (two orgs fed by two receiver tokens; read-only and read-write API tokens) and off.

Real captures over real gRPC into chDB, real enrichment. A deleted session stays gone when
its telemetry and hook records are replayed; renamed titles survive re-enrichment; views and
dashboard queries hide what the API hides."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dashboards import build
from dashboards.expand import ALL, Variable, expand
from dashboards.spec import DASHBOARDS
from loomline.app import Loomline
from settings import OrgScopes, Settings, SettingsError
from storage import management
from storage.client import Storage
from storage.management import PURGE_TABLES, Maintenance
from tests.conftest import running_app
from tests.test_api_endpoints import _attribute_lists, _resources, enrich, scenario_requests, send
from tests.test_dashboards import WIDE, run_dicts

RECEIVER_TOKENS = {"recv-a": "org-a", "recv-b": "org-b"}
API_TOKENS = "rw-a=org-a:rw,ro-a=org-a,rw-b=org-b:rw,ro-all=*"
FRESH = "30d50448-249e-4f22-ae04-2ca239e29606"  # fresh_tool: one session, one thread
COMPACTED = "ff3923b1-3d3c-47e4-ac75-409610d1482e"  # compact_manual
FORK_PARENT = "3cfcf546-f49c-46bd-ac61-e8e67fbc89b9"  # fork: the session forked from
FORK_CHILD = "c9caa1c0-3711-4c5f-9d06-232c23c3492a"
SCENARIOS = ("fresh_tool", "compact_manual", "fork", "resume_continue")


def _load(app: Loomline, org_token: str, prefix: str, scenarios: tuple[str, ...] = SCENARIOS) -> None:
    for scenario in scenarios:
        send(app, scenario_requests(scenario, prefix=prefix, hooks=True), token=org_token)


@pytest.fixture(scope="module")
def tenants(chdb_dsn: str) -> Iterator[Loomline]:
    with running_app(chdb_dsn, enrich_interval=3600, receiver_tokens=RECEIVER_TOKENS, api_tokens=API_TOKENS) as app:
        # The same captures in both orgs, with different session id prefixes.
        _load(app, "recv-a", "a-")
        _load(app, "recv-b", "b-")
        enrich(app)
        yield app


@pytest.fixture(scope="module")
def client(tenants: Loomline) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://127.0.0.1:{tenants.ports['api']}", timeout=60) as http:
        yield http


@pytest.fixture(scope="module")
def db(tenants: Loomline) -> Storage:
    assert tenants.storage is not None
    return tenants.storage


def call(client: httpx.Client, method: str, path: str, token: str | None, expect: int = 200,
         json: Any = None, **params: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.request(method, path, headers=headers, json=json, params=params)
    assert response.status_code == expect, (method, path, response.status_code, response.text)
    body = response.json()
    if expect >= 400:
        assert set(body) == {"error"} and body["error"]["code"] and body["error"]["message"]
    return body


def listed(client: httpx.Client, org: str, what: str, token: str | None, **params: Any) -> dict[str, dict[str, Any]]:
    rows = call(client, "GET", f"/api/v1/{org}/{what}", token or None, limit=1000, **params)["data"]
    key = "thread_id" if what == "conversations" else "id"
    return {r[key]: r for r in rows}


def fingerprint(token: str) -> str:
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:12]


# -- auth and tenancy -------------------------------------------------------------------------


def writable(scopes: frozenset[str]) -> frozenset[str]:
    assert isinstance(scopes, OrgScopes)
    return scopes.writable


def test_api_token_write_scopes_parse() -> None:
    tokens = Settings.load({"api_tokens": "w=acme:rw,r=acme,both=a|b:rw,ro=x:ro,all=*:rw,colon=org:with:colon"},
                           environ={}).api_tokens
    assert tokens["w"] == frozenset({"acme"}) and writable(tokens["w"]) == frozenset({"acme"})
    assert writable(tokens["r"]) == frozenset()
    assert writable(tokens["both"]) == frozenset({"a", "b"})
    assert tokens["ro"] == frozenset({"x"}) and writable(tokens["ro"]) == frozenset()
    assert writable(tokens["all"]) == frozenset({"*"})
    assert tokens["colon"] == frozenset({"org:with:colon"})  # only a trailing :rw / :ro is a scope
    with pytest.raises(SettingsError, match="no organization"):
        Settings.load({"api_tokens": "t=:rw"}, environ={})


def test_writes_need_a_writable_token(client: httpx.Client) -> None:
    path = f"/api/v1/org-a/conversations/a-{COMPACTED}"
    body = {"title": "nope"}
    call(client, "PATCH", path, None, 401, json=body)
    call(client, "PATCH", path, "wrong", 401, json=body)
    forbidden = call(client, "PATCH", path, "ro-a", 403, json=body)
    assert "ORG:rw" in forbidden["error"]["message"]
    call(client, "PATCH", path, "ro-all", 403, json=body)  # reads every org, writes none
    call(client, "PATCH", path, "rw-b", 403, json=body)  # another org's writer
    call(client, "DELETE", path, "ro-a", 403)
    call(client, "DELETE", f"/api/v1/org-a/llm_sessions/a-{COMPACTED}", "rw-b", 403)
    call(client, "PATCH", f"/api/v1/org-a/llm_sessions/a-{COMPACTED}", "ro-a", 403, json=body)
    # org-b's writer cannot reach org-a's ids through its own org either: they do not exist there.
    call(client, "PATCH", f"/api/v1/org-b/conversations/a-{COMPACTED}", "rw-b", 404, json=body)
    call(client, "DELETE", f"/api/v1/org-b/llm_sessions/a-{COMPACTED}", "rw-b", 404)
    # Nothing was changed or recorded by any of that.
    assert listed(client, "org-a", "conversations", "ro-a")[f"a-{COMPACTED}"]["title_source"] == "auto"
    assert call(client, "GET", "/api/v1/org-a/audit", "ro-a")["data"] == []
    assert call(client, "GET", "/api/v1/org-b/audit", "rw-b")["data"] == []


def test_patch_validation(client: httpx.Client) -> None:
    path = f"/api/v1/org-a/conversations/a-{COMPACTED}"
    for bad in ({}, {"colour": "red"}, {"title": 5}, {"archived": "maybe"}, {"title": "a\x00b"},
                {"title": "x" * 201}, {"title": "\u202eevil"}):
        assert call(client, "PATCH", path, "rw-a", 422, json=bad)["error"]["code"] == "invalid_parameter"
    assert call(client, "PATCH", "/api/v1/org-a/conversations/no-such-thread", "rw-a", 404,
                json={"title": "x"})["error"]["code"] == "not_found"
    call(client, "PATCH", "/api/v1/org-a/llm_sessions/'; DROP TABLE events; --", "rw-a", 404, json={"title": "x"})
    response = client.patch(path, headers={"Authorization": "Bearer rw-a", "Content-Type": "application/json"},
                            content=b"{not json")
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_parameter"


# -- rename and archive -----------------------------------------------------------------------


def test_rename_archive_and_audit(client: httpx.Client, tenants: Loomline) -> None:
    thread = f"a-{COMPACTED}"
    before = listed(client, "org-a", "conversations", "ro-a")[thread]
    assert before["title_source"] == "auto" and before["title"] == before["auto_title"]
    data = call(client, "PATCH", f"/api/v1/org-a/conversations/{thread}", "rw-a",
                json={"title": "  Compaction   experiment  "})["data"]
    assert data["title"] == "Compaction experiment" and data["title_source"] == "user"
    assert data["changes"] == ["rename"] and data["auto_title"] == before["auto_title"]
    # The same title again changes nothing and records nothing.
    assert call(client, "PATCH", f"/api/v1/org-a/conversations/{thread}", "rw-a",
                json={"title": "Compaction experiment"})["data"]["changes"] == []

    # Archive: gone from the lists (conversations and its sessions), still in detail and with include_archived.
    assert call(client, "PATCH", f"/api/v1/org-a/conversations/{thread}", "rw-a",
                json={"archived": True})["data"]["archived"] is True
    assert thread not in listed(client, "org-a", "conversations", "ro-a")
    assert listed(client, "org-a", "conversations", "ro-a", include_archived="true")[thread]["archived"] is True
    assert f"a-{COMPACTED}" not in listed(client, "org-a", "llm_sessions", "ro-a")
    assert listed(client, "org-a", "llm_sessions", "ro-a", include_archived="true")[f"a-{COMPACTED}"]["archived"]
    detail = call(client, "GET", f"/api/v1/org-a/conversations/{thread}", "ro-a")["data"]
    assert detail["archived"] is True and detail["title"] == "Compaction experiment"
    assert call(client, "GET", f"/api/v1/org-a/llm_sessions/a-{COMPACTED}", "ro-a")["data"]["archived"] is True

    # The other org's copy of the same capture is untouched.
    other = listed(client, "org-b", "conversations", "rw-b")[f"b-{COMPACTED}"]
    assert other["title_source"] == "auto" and other["archived"] is False

    # Session rename (independent of the thread's).
    session = call(client, "PATCH", f"/api/v1/org-a/llm_sessions/a-{FRESH}", "rw-a",
                   json={"title": "Tool smoke test"})["data"]
    assert session["title"] == "Tool smoke test" and session["title_source"] == "user"
    assert listed(client, "org-a", "llm_sessions", "ro-a")[f"a-{FRESH}"]["title"] == "Tool smoke test"

    # Unarchive brings it back.
    call(client, "PATCH", f"/api/v1/org-a/conversations/{thread}", "rw-a", json={"archived": False})
    assert thread in listed(client, "org-a", "conversations", "ro-a")

    audit = call(client, "GET", "/api/v1/org-a/audit", "ro-a")["data"]
    assert [(a["action"], a["target_kind"], a["target_id"]) for a in audit] == [
        ("unarchive", "conversation", thread),
        ("rename", "llm_session", f"a-{FRESH}"),
        ("archive", "conversation", thread),
        ("rename", "conversation", thread),
    ]
    assert {a["actor"] for a in audit} == {fingerprint("rw-a")}
    assert audit[-1]["details"] == {"from": "", "to": "Compaction experiment"}
    assert all("rw-a" not in str(a) for a in audit)  # the token itself is never stored
    assert call(client, "GET", "/api/v1/org-b/audit", "rw-b")["data"] == []
    call(client, "GET", "/api/v1/org-b/audit", "ro-a", 403)
    # Audit pages.
    first = call(client, "GET", "/api/v1/org-a/audit", "ro-a", limit=3)
    rest = call(client, "GET", "/api/v1/org-a/audit", "ro-a", limit=3, cursor=first["pagination"]["next_cursor"])
    assert [a["id"] for a in first["data"] + rest["data"]] == [a["id"] for a in audit]


def test_user_title_survives_reenrichment_and_replay(client: httpx.Client, tenants: Loomline) -> None:
    thread = f"a-{COMPACTED}"
    call(client, "PATCH", f"/api/v1/org-a/conversations/{thread}", "rw-a", json={"title": "Kept title"})
    _load(tenants, "recv-a", "a-", ("compact_manual",))  # the same records again (late / duplicate)
    enrich(tenants)
    tenants.enricher.derive_all()
    tenants.enricher.reconcile()
    row = listed(client, "org-a", "conversations", "ro-a")[thread]
    assert row["title"] == "Kept title" and row["title_source"] == "user"
    # Clearing the user's title brings the automatic one back.
    cleared = call(client, "PATCH", f"/api/v1/org-a/conversations/{thread}", "rw-a", json={"title": ""})["data"]
    assert cleared["title_source"] == "auto" and cleared["title"] == cleared["auto_title"] != ""


# -- delete -----------------------------------------------------------------------------------


def _rows_everywhere(db: Storage, org: str, session: str) -> dict[str, int]:
    counts = {}
    for table in PURGE_TABLES:
        counts[table] = db.query_rows(
            "SELECT count() FROM {t:Identifier} WHERE OrgId = {o:String} AND SessionId = {s:String}",
            {"t": table, "o": org, "s": session})[0][0]
    return counts


def _visible(client: httpx.Client, db: Storage, org: str, token: str, session: str,
             thread_too: bool = True) -> list[str]:
    """Every place the session (and, with ``thread_too``, the conversation it rooted) could
    still show up, by name."""
    seen = []
    if session in listed(client, org, "llm_sessions", token, include_archived="true"):
        seen.append("api llm_sessions list")
    if thread_too and any(session == t for t in listed(client, org, "conversations", token, include_archived="true")):
        seen.append("api conversations list")
    paths = [f"llm_sessions/{session}", f"llm_sessions/{session}/events"] + ([f"conversations/{session}"] if thread_too else [])
    for path in paths:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if client.get(f"/api/v1/{org}/{path}", headers=headers).status_code != 404:
            seen.append(f"api {path}")
    for view, column in (("v_llm_sessions", "session_id"), ("v_events", "session_id"),
                         ("v_api_requests", "session_id"), ("v_session_context", "session_id"),
                         ("v_compactions", "session_id"), ("v_session_segments", "session_id"),
                         ("v_agent_usage", "session_id"), ("v_llm_request_spans", "session_id"),
                         ("v_model_switches", "session_id")):
        if db.query_rows(f"SELECT count() FROM {view} WHERE org_id = {{o:String}} AND {column} = {{s:String}}",
                         {"o": org, "s": session})[0][0]:
            seen.append(view)
    if db.query_rows("SELECT count() FROM v_conversations WHERE org_id = {o:String} AND has(session_ids, {s:String})",
                     {"o": org, "s": session})[0][0]:
        seen.append("v_conversations")
    return seen


def test_delete_conversation_is_immediate_and_for_good(client: httpx.Client, tenants: Loomline, db: Storage) -> None:
    session = f"a-{FRESH}"
    before = _visible(client, db, "org-a", "ro-a", session)
    assert {"v_events", "v_api_requests", "v_agent_usage", "api llm_sessions list"} <= set(before), before
    usage = call(client, "GET", "/api/v1/org-a/usage", "ro-a", group_by="session")["data"]
    assert any(r["session_id"] == session for r in usage)
    result = call(client, "DELETE", f"/api/v1/org-a/conversations/{session}", "rw-a")["data"]
    assert result["deleted"] is True and result["session_ids"] == [session] and result["thread_ids"] == [session]
    # At once, for every reader, and the raw and typed rows are gone from every table.
    assert _visible(client, db, "org-a", "ro-a", session) == []
    assert set(_rows_everywhere(db, "org-a", session).values()) == {0}
    usage = call(client, "GET", "/api/v1/org-a/usage", "ro-a", group_by="session")["data"]
    assert usage and all(r["session_id"] != session for r in usage)

    # Replay the same session's telemetry and hook records: stored (acked), but never shown
    # and never derived again; the maintenance pass removes the bytes again.
    _load(tenants, "recv-a", "a-", ("fresh_tool",))
    assert sum(_rows_everywhere(db, "org-a", session).values()) > 0
    enrich(tenants)
    tenants.enricher.derive_all()
    tenants.enricher.reconcile()
    assert _visible(client, db, "org-a", "ro-a", session) == []
    assert Maintenance(db).run_once(apply_masks=True) == 1
    assert set(_rows_everywhere(db, "org-a", session).values()) == {0}
    # APPLY DELETED MASK rewrites the parts: the rows are gone from the data, not only masked.
    deadline = time.monotonic() + 60
    while db.query_rows("SELECT count() FROM system.mutations WHERE database = currentDatabase() AND NOT is_done")[0][0]:
        assert time.monotonic() < deadline, "mutations did not finish"
        time.sleep(0.2)
    for table in PURGE_TABLES:
        masked = db.query_rows(
            "SELECT count() FROM {t:Identifier} WHERE OrgId = 'org-a' AND SessionId = {s:String}",
            {"t": table, "s": session}, settings={"apply_deleted_mask": 0})[0][0]
        assert masked == 0, table
    # Deleting it again: it no longer exists.
    call(client, "DELETE", f"/api/v1/org-a/conversations/{session}", "rw-a", 404)
    call(client, "DELETE", f"/api/v1/org-a/llm_sessions/{session}", "rw-a", 404)

    # org-b's copy of the same capture is untouched.
    assert _visible(client, db, "org-b", "rw-b", f"b-{FRESH}") != []
    assert sum(_rows_everywhere(db, "org-b", f"b-{FRESH}").values()) > 0
    (entry,) = [a for a in call(client, "GET", "/api/v1/org-a/audit", "ro-a")["data"] if a["action"] == "delete"]
    assert entry["target_id"] == session and entry["details"]["sessions"] == [session]
    assert entry["actor"] == fingerprint("rw-a")


def test_deleted_fork_parent_leaves_child_with_parent_deleted(client: httpx.Client, tenants: Loomline,
                                                              db: Storage) -> None:
    parent, child = f"a-{FORK_PARENT}", f"a-{FORK_CHILD}"
    child_row = listed(client, "org-a", "conversations", "ro-a")[child]
    assert child_row["parent_thread_id"] == parent and child_row["parent_deleted"] is False
    call(client, "DELETE", f"/api/v1/org-a/llm_sessions/{parent}", "rw-a")
    assert _visible(client, db, "org-a", "ro-a", parent) == []

    def check() -> None:
        row = listed(client, "org-a", "conversations", "ro-a")[child]
        assert row["parent_deleted"] is True and row["parent_thread_id"] == parent
        detail = call(client, "GET", f"/api/v1/org-a/conversations/{child}", "ro-a")["data"]
        assert detail["parent_deleted"] is True and [s["session_id"] for s in detail["sessions"]] == [child]
        session = call(client, "GET", f"/api/v1/org-a/llm_sessions/{child}", "ro-a")["data"]
        assert session["thread_info"]["parent_deleted"] is True
        assert listed(client, "org-a", "llm_sessions", "ro-a")[child]["parent_deleted"] is True
        view = db.query_rows("SELECT parent_deleted FROM v_conversations WHERE org_id = 'org-a' AND thread_id = {t:String}",
                             {"t": child})
        assert view == [(True,)] or view == [(1,)]

    check()
    # Late records for both, then every kind of pass: the parent stays gone, the child stays.
    _load(tenants, "recv-a", "a-", ("fork",))
    enrich(tenants)
    tenants.enricher.derive_all()
    assert _visible(client, db, "org-a", "ro-a", parent) == []
    check()
    assert listed(client, "org-b", "conversations", "rw-b")[f"b-{FORK_CHILD}"]["parent_deleted"] is False


def test_dashboards_hide_what_the_api_hides(client: httpx.Client, db: Storage) -> None:
    thread = f"a-{COMPACTED}"
    call(client, "PATCH", f"/api/v1/org-a/conversations/{thread}", "rw-a", json={"archived": True})
    try:
        conversations = next(d for d in DASHBOARDS if d.key == "conversations")
        panel = next(p for p in conversations.panels if p.key == "threads")
        state = {"org": Variable("org", "org-a"),
                 **{v.name: Variable(v.name, [ALL], []) for v in conversations.variables if v.include_all}}
        rows = run_dicts(db, expand(build.panel_sql(conversations, panel), state, WIDE))
        api_rows = listed(client, "org-a", "conversations", "ro-a")
        assert {r["thread_id"] for r in rows} == set(api_rows) and thread not in api_rows
        assert f"a-{FRESH}" not in {r["thread_id"] for r in rows}  # deleted above
        titles = {r["thread_id"]: r["title"] for r in rows}
        assert all(titles[t] == api_rows[t]["title"] for t in titles)
        thread_var = next(v for v in next(d for d in DASHBOARDS if d.key == "thread").variables if v.name == "thread")
        options = {r["thread_id"] for r in run_dicts(db, expand(build.variable_sql(thread_var), state, WIDE))}
        assert options == set(api_rows)
    finally:
        call(client, "PATCH", f"/api/v1/org-a/conversations/{thread}", "rw-a", json={"archived": False})


# -- auth off (the loopback single-user default) -------------------------------------------


def test_no_tokens_local_may_write(app_factory: Any, storage: Storage) -> None:
    app = app_factory(storage=storage, enrich_interval=3600)
    send(app, scenario_requests("fresh_tool"))
    send(app, scenario_requests("compact_manual"))
    enrich(app)
    with httpx.Client(base_url=f"http://127.0.0.1:{app.ports['api']}", timeout=60) as http:
        data = call(http, "PATCH", f"/api/v1/default/conversations/{FRESH}", None, json={"title": "Mine"})["data"]
        assert data["title"] == "Mine"
        call(http, "PATCH", f"/api/v1/default/conversations/{COMPACTED}", None, json={"title": "Kept", "archived": True})
        call(http, "DELETE", f"/api/v1/default/llm_sessions/{FRESH}", None)
        assert _visible(http, storage, "default", "", FRESH) == []
        audit = call(http, "GET", "/api/v1/default/audit", None)["data"]
        assert [(a["action"], a["actor"]) for a in audit] == [
            ("delete", "local"), ("archive", "local"), ("rename", "local"), ("rename", "local")]
        call(http, "GET", f"/api/v1/default/conversations/{FRESH}", None, 404)
    # A restart (a new process' worth of components on the same database) keeps all of it,
    # and replaying the deleted session's records into the new one does not bring it back.
    app.stop()
    again = app_factory(storage=storage, enrich_interval=3600)
    send(again, scenario_requests("fresh_tool"))
    enrich(again)
    with httpx.Client(base_url=f"http://127.0.0.1:{again.ports['api']}", timeout=60) as http:
        assert _visible(http, storage, "default", "", FRESH) == []
        assert len(call(http, "GET", "/api/v1/default/audit", None)["data"]) == 4
        assert COMPACTED not in listed(http, "default", "conversations", "")
        kept = call(http, "GET", f"/api/v1/default/conversations/{COMPACTED}", None)["data"]
        assert (kept["title"], kept["archived"]) == ("Kept", True)


def _as_resume(requests: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The fork capture as if Claude Code had resumed under a new id (older Claude Code, the
    Agent SDK): the hook bridge's SessionStart says source resume instead of fork, so the
    two sessions form one thread (resumed_as)."""
    for _, request in requests:
        for resource in _resources(request):
            for attributes in _attribute_lists(resource):
                for kv in attributes:
                    if kv.key.endswith("source") and kv.value.string_value == "fork":
                        kv.value.string_value = "resume"
    return requests


@pytest.mark.parametrize(("which", "via"), [("later", "api"), ("root", "api"), ("later", "other-process")])
def test_deleting_one_session_of_a_longer_conversation(client: httpx.Client, tenants: Loomline, db: Storage,
                                                      which: str, via: str) -> None:
    prefix = f"m{which}{via[0]}-"
    send(tenants, _as_resume(scenario_requests("fork", prefix=prefix, hooks=True)), token="recv-a")
    enrich(tenants)
    root, later = prefix + FORK_PARENT, prefix + FORK_CHILD
    thread = listed(client, "org-a", "conversations", "ro-a")[root]
    assert thread["session_count"] == 2, thread
    gone, kept = (later, root) if which == "later" else (root, later)
    kept_cost = call(client, "GET", f"/api/v1/org-a/llm_sessions/{kept}", "ro-a")["data"]["metrics"]["estimated_cost_usd"]
    if via == "api":
        result = call(client, "DELETE", f"/api/v1/org-a/llm_sessions/{gone}", "rw-a")["data"]
    else:
        # An API process of its own: nobody tells enrichment; its watermark pass finds the
        # rederive marks (enrich_ingested_since.sql) like newly stored events.
        result = management.delete(db, "org-a", [gone], [], "local", "llm_session", gone)
        result = {"session_ids": result["sessions"], "thread_ids": result["threads"]}
        tenants.enricher.run_once()
    assert result["session_ids"] == [gone] and result["thread_ids"] == []
    # The conversation goes on with the kept session; its id stays the root's id (thread ids
    # are the root session's id, and the kept session names it as its parent).
    assert _visible(client, db, "org-a", "ro-a", gone, thread_too=False) == []
    enrich(tenants)  # late passes change nothing
    tenants.enricher.derive_all()
    sessions = listed(client, "org-a", "llm_sessions", "ro-a")
    assert kept in sessions and gone not in sessions
    (row,) = [r for r in listed(client, "org-a", "conversations", "ro-a").values() if r["thread_id"] in (root, later)
              and r["session_count"] >= 1]
    assert row["session_count"] == 1 and row["estimated_cost_usd"] == pytest.approx(kept_cost)
    detail = call(client, "GET", f"/api/v1/org-a/conversations/{row['thread_id']}", "ro-a")["data"]
    assert detail["session_ids"] == [kept] and [s["session_id"] for s in detail["sessions"]] == [kept]
    assert _visible(client, db, "org-a", "ro-a", gone, thread_too=False) == []
