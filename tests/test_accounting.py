"""Accounting under real use (issue 17), over the real Claude Code captures: injected prompts,
service tiers, span usage, resume health, subagents, repositories.

Pure derivation first (tests/test_enrich_replay.py reads the captures as enrichment sees
them), then the whole path: captures through the gRPC receiver into chDB, enrichment, the
query API and the SQL views.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from enrich.cost import computed_cost
from enrich.derive import derive
from enrich.model import API_REQUEST, USER_PROMPT, Event
from enrich.prompts import injected_kind, injected_prompt_keys
from enrich.repository import normalize_url, repository_of
from loomline.app import Loomline
from storage.client import Storage
from tests.conftest import running_app
from tests.fixtures import CAPTURES_ROOT, otlp_requests
from tests.repo_telemetry import with_vcs
from tests.test_api_endpoints import enrich, get, scenario_requests, send
from tests.test_enrich_replay import scenario_events

NEWEST = "../claude-code-2.1.332"
SUBAGENT = f"{NEWEST}/subagent"
SUBAGENT_SESSION = "249043e7-ea79-429b-8eb7-a13f3d4d64ce"
SUBAGENT_ID = "ab07d7b26fc0f57d6"
FOREVER = 2**62


def redacted(events: list[Event]) -> list[Event]:
    """The events as Claude Code sends them without OTEL_LOG_USER_PROMPTS."""
    return [replace(e, prompt="<REDACTED>") if e.event_name == USER_PROMPT else e for e in events]


# -- injected prompts ------------------------------------------------------------------------
@pytest.mark.parametrize("with_hooks", [False, True])
@pytest.mark.parametrize("redact", [False, True])
def test_task_notification_is_not_a_message(with_hooks: bool, redact: bool) -> None:
    events = scenario_events(SUBAGENT, with_hooks)
    if redact:
        events = redacted(events)
    derived = derive(events, FOREVER)
    (session,) = derived.sessions
    assert session.session_id == SUBAGENT_SESSION
    assert session.user_prompt_count == 1  # the person typed one prompt
    assert session.injected_prompt_count == 1  # the <task-notification>
    (thread,) = derived.threads
    assert (thread.user_prompt_count, thread.injected_prompt_count) == (1, 1)
    assert session.first_prompt in ("delegate this to an AGENT", "<REDACTED>")


def test_every_typed_prompt_of_2_1_328_stays_a_message() -> None:
    from tests.fixtures import SCENARIOS

    for scenario in SCENARIOS:
        for redact in (False, True):
            events = scenario_events(scenario, with_hooks=True)
            events = redacted(events) if redact else events
            assert injected_prompt_keys(events) == {}, (scenario, redact)


def test_transcript_lines_classified_like_their_origin() -> None:
    """Every user line of every capture transcript: Claude Code's own origin.kind (where it
    writes one) and the injected markers agree with injected_kind()."""
    seen: dict[str, int] = {}
    for path in sorted(CAPTURES_ROOT.glob("*/*/transcripts/*.jsonl")):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            if entry.get("type") != "user":
                continue
            content = entry.get("message", {}).get("content")
            if not isinstance(content, str):
                continue  # tool results
            kind = injected_kind(content)
            origin = (entry.get("origin") or {}).get("kind", "")
            if origin == "task-notification":
                assert kind == "task-notification", content[:80]
            elif origin == "human":
                assert kind == "", content[:80]
            seen[kind] = seen.get(kind, 0) + 1
    # the captures hold typed prompts, task notifications, slash-command expansions, local
    # command output and compaction summaries
    assert {"", "task-notification", "slash-command", "local-command", "compact-summary"} <= set(seen)


# -- service tiers ---------------------------------------------------------------------------
def test_fast_mode_is_priced_at_its_tier_or_left_unpriced() -> None:
    requests = [e for e in scenario_events(SUBAGENT, False) if e.event_name == API_REQUEST]
    assert {e.speed for e in requests} == {"normal"}  # api_request carries speed
    normal = derive(requests, FOREVER).sessions[0].usage
    assert normal.unpriced_request_count == 0 and normal.computed_cost_usd > 0
    fast = derive([replace(e, speed="fast") for e in requests], FOREVER).sessions[0].usage
    # genai-prices has a fast-mode variant for this model: priced at it, never at standard
    assert fast.unpriced_request_count == 0
    assert fast.computed_cost_usd == pytest.approx(2 * normal.computed_cost_usd)
    assert fast.cost_usd == normal.cost_usd  # the reported cost is Claude Code's own
    # a tier genai-prices does not know: unpriced, with the reason
    priority = derive([replace(e, speed="priority") for e in requests], FOREVER).sessions[0].usage
    assert priority.computed_cost_usd == 0
    assert priority.unpriced_reasons == (("speed:priority", len(requests)),)
    # a model without a fast price: unpriced rather than priced as standard
    price = computed_cost(replace(requests[0], model="claude-haiku-4-5", speed="fast"))
    assert (price.priced, price.unpriced_reason) == (False, "speed:fast")


# -- resume health (pure) ---------------------------------------------------------------------
def test_failed_resume_is_told_apart() -> None:
    """resume_continue with the continued run's request answered by an error instead."""
    events = scenario_events("resume_continue", True)
    healthy = derive(events, FOREVER).segments
    assert [g.failed for g in healthy] == [False, False, False]
    last = healthy[-1]
    broken = [replace(e, event_name="api_error", status_code=500, error="overloaded")
              if e.event_name == API_REQUEST and e.timestamp >= last.started_at else e for e in events]
    (*_, failed) = derive(broken, FOREVER).segments
    assert (failed.source, failed.failed, failed.failure) == ("continue", True, "first_request_error")
    idle = [e for e in events if not (e.timestamp >= last.started_at and e.event_name in (
        API_REQUEST, USER_PROMPT, "assistant_response", "loomline.user_prompt_submit", "loomline.stop"))]
    (*_, quiet) = derive(idle, FOREVER).segments
    assert (quiet.failed, quiet.failure) == (True, "no_activity")


# -- subagents -------------------------------------------------------------------------------
def test_subagent_activity_stays_in_its_session() -> None:
    derived = derive(scenario_events(SUBAGENT, True), FOREVER)
    assert [s.session_id for s in derived.sessions] == [SUBAGENT_SESSION]  # no phantom session
    assert len(derived.threads) == 1
    (session,) = derived.sessions
    assert session.subagent_count == 1
    assert session.subagent_request_count == 1
    assert session.usage.api_request_count == 4
    assert session.subagent_cost_usd == pytest.approx(0.008)


# -- repositories ----------------------------------------------------------------------------
def test_repository_ids() -> None:
    assert normalize_url("https://tok@github.com:443/acme/api.git") == "github.com/acme/api"
    assert normalize_url("git@github.com:acme/api") == "github.com/acme/api"
    assert normalize_url("/home/dev/project") == ""
    events = scenario_events(f"{NEWEST}/fresh_tool", False)
    assert repository_of(events) == ("", "")
    tagged = [replace(e, vcs_provider="github", vcs_owner="acme", vcs_repository="api") for e in events]
    assert repository_of(tagged) == ("github.com/acme/api", "github")
    bridged = [replace(e, project_id="gitlab.com/acme/web") for e in events]
    assert repository_of(bridged) == ("gitlab.com/acme/web", "gitlab")
    raw_remote = [replace(e, project_id="git@github.com:acme/api.git") for e in events]
    assert repository_of(raw_remote) == ("github.com/acme/api", "github")


# -- the whole path --------------------------------------------------------------------------
ORG = "acct"
ORG_REPO = "acct-repo"
ORG_SWITCH = "acct-switch"
MODEL_SWITCH = f"{NEWEST}/model_switch"


def hook_payloads_of(scenario: str) -> list[dict[str, Any]]:
    with open(CAPTURES_ROOT / "claude-code-2.1.328" / scenario / "hooks.jsonl") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.fixture(scope="module")
def loaded(chdb_dsn: str) -> Iterator[Loomline]:
    with running_app(chdb_dsn, enrich_interval=3600) as app:
        for scenario in (SUBAGENT, "resume_continue", "fork", "api_error"):
            send(app, scenario_requests(scenario, org=ORG, hooks=True))
        send(app, [(signal, with_vcs(r, "https://github.com/acme/api"))
                  for signal, r in scenario_requests(f"{NEWEST}/fresh_tool", org=ORG_REPO)])
        send(app, scenario_requests(MODEL_SWITCH, org=ORG_SWITCH, hooks=True))
        enrich(app)
        yield app


@pytest.fixture(scope="module")
def api(loaded: Loomline) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://127.0.0.1:{loaded.ports['api']}", timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def db(loaded: Loomline) -> Storage:
    assert loaded.storage is not None
    return loaded.storage


def test_api_counts_messages_and_injected_prompts(api: httpx.Client) -> None:
    detail = get(api, f"/api/v1/{ORG}/llm_sessions/{SUBAGENT_SESSION}")["data"]
    assert detail["metrics"]["message_count"] == 1
    assert detail["metrics"]["injected_prompt_count"] == 1
    assert detail["metrics"]["unpriced_request_count"] == 0
    assert detail["metrics"]["unpriced_reasons"] == {}
    assert detail["subagents"] == {"count": 1, "api_request_count": 1, "estimated_cost_usd": pytest.approx(0.008)}
    conversation = get(api, f"/api/v1/{ORG}/conversations", limit=100)["data"]
    row = next(c for c in conversation if SUBAGENT_SESSION in c["root_session_id"])
    assert (row["user_prompt_count"], row["injected_prompt_count"]) == (1, 1)


def test_api_agents_split_without_phantom_sessions(api: httpx.Client, db: Storage) -> None:
    agents = get(api, f"/api/v1/{ORG}/llm_sessions/{SUBAGENT_SESSION}/agents")["data"]
    assert [a["agent_kind"] for a in agents] == ["main", "subagent"]
    main, sub = agents
    assert sub["agent_id"] == SUBAGENT_ID and sub["agent_name"] == "general-purpose"
    assert (main["api_request_count"], sub["api_request_count"]) == (3, 1)
    assert sub["query_sources"] == ["agent:builtin:general-purpose"]
    assert sub["is_async"] and sub["finished"] and sub["reported_total_tokens"] == 2542
    assert main["estimated_cost_usd"] + sub["estimated_cost_usd"] == pytest.approx(0.032)
    # the subagent's id (also its spans' gen_ai.conversation.id) names no session or thread
    sessions = {r[0] for r in db.query_rows(
        "SELECT session_id FROM llm_sessions FINAL WHERE org_id = {o:String} AND is_deleted = 0", {"o": ORG})}
    assert SUBAGENT_ID not in sessions and not any(SUBAGENT_ID in s for s in sessions)
    threads = {r[0] for r in db.query_rows(
        "SELECT thread_id FROM threads FINAL WHERE org_id = {o:String} AND is_deleted = 0", {"o": ORG})}
    assert not any(SUBAGENT_ID in t for t in threads)
    get(api, f"/api/v1/{ORG}/llm_sessions/nope/agents", expect=404)


def test_api_resumes_and_health(api: httpx.Client, db: Storage) -> None:
    resumes = get(api, f"/api/v1/{ORG}/resumes")["data"]
    by_source: dict[str, list[dict[str, Any]]] = {}
    for row in resumes:
        by_source.setdefault(row["source"], []).append(row)
    assert len(by_source["resume"]) == 1 and len(by_source["continue"]) == 1 and len(by_source["fork"]) == 1
    for row in by_source["resume"] + by_source["continue"]:
        # SessionStart(resume) of 2.1.328: seconds_since_last_response 1, context 2542 tokens,
        # cache warm, re-write estimated at $0.0127
        assert row["idle_before_seconds"] == 1.0
        assert row["context_tokens"] == 2542
        assert row["cache_likely_expired"] is False
        assert row["estimated_cache_write_usd"] == pytest.approx(0.0127)
        assert row["session_age_seconds"] > 0
        assert row["cache_write_tokens"] == 200
        assert row["failed"] is False
    cont = by_source["continue"][0]
    assert cont["session_age_seconds"] > by_source["resume"][0]["session_age_seconds"]
    org = get(api, f"/api/v1/{ORG}/resume_health")["data"]
    assert len(org) == 1 and org[0]["thread_id"] is None
    assert (org[0]["resume_count"], org[0]["continue_count"], org[0]["fork_count"]) == (1, 1, 1)
    assert org[0]["cold_cache_resume_count"] == 0 and org[0]["failed_resume_count"] == 0
    assert org[0]["estimated_cache_write_usd"] == pytest.approx(3 * 0.0127)
    per_thread = get(api, f"/api/v1/{ORG}/resume_health", group_by="thread")["data"]
    assert sum(r["resume_count"] + r["continue_count"] for r in per_thread) == 2
    assert all(r["thread_id"] for r in per_thread)
    # the SQL view holds the same rows
    (count,) = db.query_rows("SELECT count() FROM v_resumes WHERE org_id = {o:String}", {"o": ORG})[0]
    assert count == len(resumes)
    assert get(api, f"/api/v1/{ORG}/resumes", failed="true")["data"] == []
    page = get(api, f"/api/v1/{ORG}/resumes", limit=1)
    assert len(page["data"]) == 1 and page["pagination"]["has_more"]


def test_model_switch_records(api: httpx.Client) -> None:
    """The real capture (2.1.332, `/model haiku` between two prompts): Claude Code's
    PreModelSwitch (twice: haiku, and sonnet offered at the "Switch model?" prompt) and
    PostModelSwitch payloads, through the bridge, reach the API with every key."""
    session = hook_payloads_of(MODEL_SWITCH)[0]["session_id"]
    switches = get(api, f"/api/v1/{ORG_SWITCH}/llm_sessions/{session}/model_switches")["data"]
    assert [(s["phase"], s["from_model"], s["to_model"], s["requested_model"], s["initiator"]) for s in switches] == [
        ("pre", "claude-opus-5-5", "claude-haiku-5-5", "haiku", "command"),
        ("pre", "claude-opus-5-5", "claude-sonnet-5-5", "haiku", "command"),
        ("post", "claude-opus-5-5", "claude-haiku-5-5", "haiku", "command")]
    post = switches[-1]
    assert post["estimated_cache_write_usd"] == pytest.approx(0.0003)
    assert (post["context_tokens"], post["prompt_cache_warm"], post["cache_ttl"], post["pricing"]) == (
        2542, True, "5m", "catalog")
    health = get(api, f"/api/v1/{ORG_SWITCH}/resume_health")["data"][0]
    assert (health["model_switch_count"], health["model_switch_cache_write_usd"]) == (1, pytest.approx(0.0003))
    detail = get(api, f"/api/v1/{ORG_SWITCH}/llm_sessions/{session}")["data"]
    assert set(detail["models"]) == {"claude-opus-5-5", "claude-haiku-5-5"}  # the second prompt ran on haiku


def test_span_usage_does_not_double_count_cache(db: Storage) -> None:
    """2.1.332's llm_request spans carry gen_ai.usage.input_tokens = 2500 (cache included)
    beside input_tokens = 1500: the view reads 1500, as the api_request events say."""
    rows = db.query_dicts(
        "SELECT input_tokens, cache_read_tokens, cache_creation_tokens, output_tokens FROM v_llm_request_spans"
        " WHERE org_id = {o:String} AND session_id = {s:String}", {"o": ORG, "s": SUBAGENT_SESSION})
    assert len(rows) == 4
    assert all((r["input_tokens"], r["cache_read_tokens"], r["cache_creation_tokens"], r["output_tokens"])
               == (1500, 800, 200, 42) for r in rows)
    raw = db.query_rows(
        "SELECT sum(toUInt64(SpanAttributes['gen_ai.usage.input_tokens'])) FROM otel_traces"
        " WHERE OrgId = {o:String} AND SessionId = {s:String} AND SpanName = 'claude_code.llm_request'",
        {"o": ORG, "s": SUBAGENT_SESSION})[0][0]
    assert raw == 4 * 2500  # the raw semconv attribute does include the cache


def test_span_with_only_semconv_usage(loaded: Loomline, db: Storage) -> None:
    """A span with only OpenTelemetry's gen_ai.usage.* (no Claude Code input_tokens): the
    cache tokens are taken out of gen_ai.usage.input_tokens."""
    (signal, request), = [(s, r) for s, r in otlp_requests(SUBAGENT) if s == "traces"][:1]
    copy = type(request)()
    copy.CopyFrom(request)
    kept = 0
    for resource in copy.resource_spans:
        resource.resource.attributes.append(KeyValue(key="organization.id", value=AnyValue(string_value="acct-semconv")))
        for scope in resource.scope_spans:
            for span in scope.spans:
                attributes = [kv for kv in span.attributes if kv.key not in (
                    "input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")]
                del span.attributes[:]
                span.attributes.extend(attributes)
                kept += any(kv.key == "gen_ai.usage.input_tokens" for kv in attributes)
    assert kept
    send(loaded, [(signal, copy)])
    rows = db.query_rows("SELECT input_tokens, cache_read_tokens, cache_creation_tokens FROM v_llm_request_spans"
                         " WHERE org_id = 'acct-semconv'")
    assert rows and all(tuple(r) == (1500, 800, 200) for r in rows)


def test_repository_attribution_filters_and_groups(api: httpx.Client) -> None:
    sessions = get(api, f"/api/v1/{ORG_REPO}/llm_sessions")["data"]
    assert len(sessions) == 1 and sessions[0]["repository"] == "github.com/acme/api"
    for value in ("github.com/acme/api", "api", "acme/api"):
        assert len(get(api, f"/api/v1/{ORG_REPO}/llm_sessions", repository=value)["data"]) == 1, value
        assert len(get(api, f"/api/v1/{ORG_REPO}/conversations", repository=value)["data"]) == 1, value
    assert get(api, f"/api/v1/{ORG_REPO}/llm_sessions", repository="pi")["data"] == []
    assert get(api, f"/api/v1/{ORG}/llm_sessions", repository="api")["data"] == []
    usage = get(api, f"/api/v1/{ORG_REPO}/usage", group_by="repository")["data"]
    assert [(u["repository"], u["api_request_count"]) for u in usage] == [("github.com/acme/api", 2)]
    assert get(api, f"/api/v1/{ORG_REPO}/usage", repository="nope")["data"] == []
