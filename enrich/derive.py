"""Events of a group of linked sessions → every derived row. Pure and deterministic: the
output depends only on the set of events (not their order, batching or duplicates), on
``now`` (idle timeouts) and on the idle window.
"""

from __future__ import annotations

import posixpath
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice
from operator import attrgetter, sub

from enrich.bounds import cost_sum, finite_or_none, micros_sum, token_sum
from enrich.close_reasons import OPEN, session_closure
from enrich.cost import Price, computed_cost
from enrich.gcpause import paused_gc
from enrich.imported import without_superseded
from enrich.links import merge_links, native_links, session_bridge_links
from enrich.model import (
    API_ERROR,
    API_REQUEST,
    BRIDGE_POST_COMPACT,
    BRIDGE_PRE_COMPACT,
    BRIDGE_SESSION_START,
    BRIDGE_USER_PROMPT_SUBMIT,
    CLEARED_FROM,
    COMPACTION,
    EVIDENCE_HOOK,
    EVIDENCE_NATIVE,
    EVIDENCE_TRANSCRIPT,
    TOOL_RESULT,
    USER_PROMPT,
    Compaction,
    Derived,
    Event,
    Link,
    Session,
    Thread,
    Usage,
)
from enrich.prompts import session_injected_prompt_keys
from enrich.repository import repository_of
from enrich.resumes import with_resume_health
from enrich.segments import COMPACT_GROUP_US, Fragment, Layout, dedupe, layout, session_segments
from enrich.session_events import SessionEvents
from enrich.threads import assign_threads
from enrich.titles import prompt_title, session_title

DEFAULT_IDLE_TIMEOUT_US = 30 * 60 * 1_000_000
# Active time: the sum of gaps between consecutive events of one process that are shorter
# than this (longer gaps are someone away from the keyboard).
ACTIVE_GAP_US = 120 * 1_000_000
_agent_id = attrgetter("agent_id")


def requests_usage(requests: list[Event], price: Callable[[Event], Price] = computed_cost) -> Usage:
    """Token and cost totals over api_request events (a session's bucket of them, or a
    thread's). Sums of floats use math.fsum, so the result does not depend on the order of
    the events; absurd stored values (inf, NaN, 1.7e308, negative) count as 0 instead of
    overflowing (enrich/bounds.py). ``price``: computed_cost, or a memo of it (derive prices
    each request once for its session and its thread)."""
    prices = list(map(price, requests))
    return Usage(
        input_tokens=token_sum(map(attrgetter("input_tokens"), requests)),
        output_tokens=token_sum(map(attrgetter("output_tokens"), requests)),
        cache_read_tokens=token_sum(map(attrgetter("cache_read_tokens"), requests)),
        cache_creation_tokens=token_sum(map(attrgetter("cache_creation_tokens"), requests)),
        cache_creation_5m_tokens=token_sum(map(attrgetter("cache_creation_5m_tokens"), requests)),
        cache_creation_1h_tokens=token_sum(map(attrgetter("cache_creation_1h_tokens"), requests)),
        cost_usd=cost_sum(map(attrgetter("cost_usd"), requests)),
        cost_micros=micros_sum(map(attrgetter("cost_micros"), requests)),
        computed_cost_usd=cost_sum(p.usd for p in prices),
        unpriced_request_count=sum(1 for p in prices if not p.priced),
        api_request_count=len(requests),
        unpriced_reasons=tuple(sorted(Counter(p.unpriced_reason for p in prices if not p.priced).items())),
    )


def session_compactions(org_id: str, session_id: str, thread_id: str, session: SessionEvents) -> list[Compaction]:
    """One row per compaction attempt: Claude Code's ``compaction`` events, plus the bridge's
    PreCompact records that no compaction event matches (same prompt id and trigger, or
    within a short window). A PreCompact without a PostCompact (or SessionStart compact)
    after it failed. ``session``: the session's events, bucketed by name."""
    rows: list[Compaction] = []
    native = session.named(COMPACTION)
    for event in native:
        success = event.success if event.success is not None else not event.error
        rows.append(Compaction(
            org_id=org_id, session_id=session_id, compaction_key=f"{event.event_key:016x}",
            thread_id=thread_id, timestamp=event.timestamp, trigger=event.compaction_trigger,
            success=success, pre_tokens=event.pre_tokens, post_tokens=event.post_tokens,
            duration_ms=finite_or_none(event.duration_ms), error=event.error, prompt_id=event.prompt_id,
            evidence=EVIDENCE_TRANSCRIPT if event.imported else EVIDENCE_NATIVE,
        ))
    pres = session.named(BRIDGE_PRE_COMPACT)
    finished = [e for e in session.named_any(BRIDGE_POST_COMPACT, BRIDGE_SESSION_START)
                if e.event_name == BRIDGE_POST_COMPACT or e.source == "compact"] if pres else []
    for pre in pres:
        def near(other: Event, pre: Event = pre) -> bool:
            if pre.prompt_id and other.prompt_id:
                return other.prompt_id == pre.prompt_id
            return 0 <= other.timestamp - pre.timestamp <= COMPACT_GROUP_US
        if any(near(n) and (not pre.compaction_trigger or n.compaction_trigger in ("", pre.compaction_trigger)) for n in native):
            continue
        post = next((f for f in finished if f.timestamp >= pre.timestamp and near(f)), None)
        with_tokens = next((f for f in finished if f.timestamp >= pre.timestamp and near(f) and f.pre_tokens is not None), post)
        rows.append(Compaction(
            org_id=org_id, session_id=session_id, compaction_key=f"hook:{pre.event_key:016x}",
            thread_id=thread_id, timestamp=pre.timestamp, trigger=pre.compaction_trigger,
            success=post is not None,
            pre_tokens=with_tokens.pre_tokens if with_tokens else None,
            post_tokens=with_tokens.post_tokens if with_tokens else None,
            duration_ms=(post.timestamp - pre.timestamp) / 1000 if post else None,
            error="" if post else "no PostCompact", prompt_id=pre.prompt_id, evidence=EVIDENCE_HOOK,
        ))
    rows.sort(key=lambda c: (c.timestamp, c.compaction_key))
    return rows


def _first(values: Iterable[str]) -> str:
    return next((v for v in values if v), "")


def _first_of(events: Iterable[Event], name: str) -> str:
    """The first non-empty value of a text field: _first(e.<name> for e in events), scanned
    by map/filter instead of a generator (a dozen such scans per session)."""
    return next(filter(None, map(attrgetter(name), events)), "")


def _most_common(values: Iterable[str]) -> str:
    counts = Counter(filter(None, values))
    if not counts:
        return ""
    top = max(counts.values())
    return min(v for v, n in counts.items() if n == top)


def _active_seconds(fragments: list[Fragment]) -> float:
    total = 0
    for fragment in fragments:
        times = fragment.view().times()  # sorted; the gaps between neighbours, in C
        total += sum(filter(ACTIVE_GAP_US.__ge__, map(sub, islice(times, 1, None), times)))
    return total / 1_000_000


def _project(events: list[Event]) -> tuple[str, str]:
    project_id = _first_of(events, "project_id")
    name = _first_of(events, "project_name")
    if not name:
        base = project_id or _first_of(events, "cwd")
        name = posixpath.basename(base.rstrip("/")).removesuffix(".git") if base else ""
    return project_id, name


@dataclass(frozen=True)
class Prepared:
    """The first stage of a derivation: the events deduplicated (telemetry winning over
    imported transcripts) and laid out in fragments, CLI runs and absorbed placeholders.
    Read-only once built, so the Enricher probes a group's process boundaries with the same
    layout it then derives from (derive_prepared), instead of laying the group out twice."""

    unique: list[Event]
    layout: Layout


def prepare(events: Iterable[Event]) -> Prepared:
    """Deduplicate and lay out the events (what derive does first)."""
    with paused_gc():
        unique = without_superseded(dedupe(events))  # telemetry wins over imported transcripts
        return Prepared(unique, layout(unique))


def derive(events: Iterable[Event], now_us: int, idle_timeout_us: int = DEFAULT_IDLE_TIMEOUT_US) -> Derived:
    """All derived rows for the sessions the events belong to (plus what they link to)."""
    with paused_gc():  # full collections over a large group made time per event grow (gcpause.py)
        return derive_prepared(prepare(events), now_us, idle_timeout_us)


def derive_prepared(prepared: Prepared, now_us: int, idle_timeout_us: int = DEFAULT_IDLE_TIMEOUT_US) -> Derived:
    """derive() from the events ``prepare`` returned (the same result)."""
    with paused_gc():
        return _derive(prepared, now_us, idle_timeout_us)


def _derive(prepared: Prepared, now_us: int, idle_timeout_us: int) -> Derived:
    unique, lay = prepared.unique, prepared.layout
    if not unique:
        return Derived()
    org_id = unique[0].org_id
    # Each session's events in time order, bucketed by name in one pass (SessionEvents): the
    # questions below read buckets, not every event again. One fragment: its own view.
    views: dict[str, SessionEvents] = {
        session_id: frags[0].view() if len(frags) == 1
        else SessionEvents(sorted((e for f in frags for e in f.all_events()), key=Event.sort_key))
        for session_id, frags in lay.fragments.items()
    }
    session_events = {session_id: view.events for session_id, view in views.items()}

    def canonical(session_id: str) -> str:
        return lay.absorbed.get(session_id, session_id)

    raw_links = session_bridge_links(views.values()) + native_links(org_id, [f for fr in lay.fragments.values() for f in fr])
    links: list[Link] = merge_links([
        Link(k.org_id, canonical(k.from_session_id), canonical(k.to_session_id), k.link_type, k.created_at, k.evidence)
        for k in raw_links if canonical(k.from_session_id) != canonical(k.to_session_id)
    ])
    started_at = {s: evs[0].timestamp for s, evs in session_events.items()}
    placements = assign_threads(started_at, links)
    cleared_at: dict[str, int] = {}
    for k in links:
        if k.link_type == CLEARED_FROM:
            cleared_at[k.from_session_id] = max(cleared_at.get(k.from_session_id, 0), k.created_at)

    priced: dict[int, Price] = {}  # id(event) -> its price; the events outlive the derivation

    def price(event: Event) -> Price:
        found = priced.get(id(event))
        if found is None:
            found = priced[id(event)] = computed_cost(event)
        return found

    sessions: list[Session] = []
    all_segments = []
    all_compactions: list[Compaction] = []
    for session_id in sorted(session_events):
        view = views[session_id]
        evs = view.events
        frags = lay.fragments[session_id]
        segments = with_resume_health(session_segments(org_id, session_id, frags), evs, view.times)
        all_segments.extend(segments)
        placement = placements[session_id]
        compactions = session_compactions(org_id, session_id, placement.thread_id, view)
        all_compactions.extend(compactions)
        last_start = max(s.started_at for s in segments if s.source != "compact")
        closure = session_closure(view, last_start, now_us, idle_timeout_us, cleared_at.get(session_id, -1) >= last_start)
        native = view.native()
        requests = view.named(API_REQUEST)
        models: list[str] = []
        for request in requests:
            if request.model and request.model not in models:
                models.append(request.model)
        injected = session_injected_prompt_keys(view)
        prompts = view.named(USER_PROMPT) or view.named(BRIDGE_USER_PROMPT_SUBMIT)
        injected_prompts = [e for e in prompts if e.event_key in injected] if injected else []
        if injected:
            prompts = [e for e in prompts if e.event_key not in injected]
        subagent_requests = [e for e in requests if e.agent_id]
        repository, repository_provider = repository_of(evs)
        tools = view.named(TOOL_RESULT)
        successes = [c for c in compactions if c.success]
        project_id, project_name = _project(evs)
        cwd, git_branch = _first_of(evs, "cwd"), _first_of(reversed(evs), "git_branch")
        sessions.append(Session(
            org_id=org_id,
            session_id=session_id,
            thread_id=placement.thread_id,
            parent_thread_id=placement.parent_thread_id,
            thread_position=placement.position,
            user_id=_most_common(map(attrgetter("user_id"), evs)),
            user_email=_first_of(evs, "user_email"),
            account_uuid=_first_of(evs, "account_uuid"),
            organization_id=_first_of(evs, "organization_id"),
            project_id=project_id,
            project_name=project_name,
            cwd=cwd,
            git_branch=git_branch,
            agent_name=_first_of(native, "agent_name") or _first_of(native, "service_name"),
            first_model=models[0] if models else "",
            models=tuple(models),
            terminal_type=_first_of(native, "terminal_type"),
            app_version=_first_of(reversed(native), "app_version"),
            started_at=evs[0].timestamp,
            last_activity_at=evs[-1].timestamp,
            closed_at=closure.closed_at,
            close_reason=closure.reason,
            close_evidence=closure.evidence,
            start_source=segments[0].source,
            start_evidence=segments[0].evidence,
            segment_count=len(segments),
            resume_count=sum(1 for s in segments if s.source in ("resume", "continue")),
            cli_run_count=len({f.run_id for f in frags}),
            compaction_count=len(successes),
            failed_compaction_count=len(compactions) - len(successes),
            last_compacted_at=max((c.timestamp for c in successes), default=None),
            usage=requests_usage(requests, price),
            api_error_count=len(view.named(API_ERROR)),
            user_prompt_count=len(prompts),
            tool_call_count=len(tools),
            tool_error_count=sum(1 for e in tools if e.success is False),
            active_time_seconds=_active_seconds(frags),
            first_prompt=_first(e.prompt for e in prompts if not e.command_name),
            event_count=len(evs),
            has_hook_evidence=any(not e.imported for _, bucket in view.bridge_buckets() for e in bucket),
            title=session_title(_first(e.prompt for e in prompts if not e.command_name), project_name,
                                cwd, git_branch,
                                _first_of(tools, "tool_name"), evs[0].timestamp),
            injected_prompt_count=len(injected_prompts),
            repository=repository,
            repository_provider=repository_provider,
            subagent_count=len(set(filter(None, map(_agent_id, evs)))),
            subagent_request_count=len(subagent_requests),
            subagent_cost_usd=cost_sum(e.cost_usd for e in subagent_requests),
        ))

    threads = _threads(org_id, sessions, {s: v.named(API_REQUEST) for s, v in views.items()}, all_compactions, price)
    return Derived(
        sessions=tuple(sessions),
        segments=tuple(sorted(all_segments, key=lambda s: (s.session_id, s.segment_index))),
        links=tuple(links),
        compactions=tuple(sorted(all_compactions, key=lambda c: (c.session_id, c.timestamp, c.compaction_key))),
        cli_runs=tuple(lay.runs),
        threads=threads,
        absorbed_sessions=tuple(sorted(lay.absorbed.items())),
    )


def _threads(org_id: str, sessions: list[Session], session_requests: dict[str, list[Event]],
             compactions: list[Compaction], price: Callable[[Event], Price] = computed_cost) -> tuple[Thread, ...]:
    members: dict[str, list[Session]] = {}
    for session in sessions:
        members.setdefault(session.thread_id, []).append(session)
    by_thread: dict[str, list[Compaction]] = {}
    for compaction in compactions:
        by_thread.setdefault(compaction.thread_id, []).append(compaction)
    threads = []
    for thread_id, group in sorted(members.items()):
        group.sort(key=lambda s: (s.thread_position, s.session_id))
        requests = [e for s in group for e in session_requests[s.session_id]]
        in_thread = by_thread.get(thread_id, [])
        closed = all(s.close_reason != OPEN for s in group)
        last = max(group, key=lambda s: (s.last_activity_at, s.session_id))
        first = group[0]
        # The first prompt of the thread that makes a title, else the first session's fallback
        # (never a redaction marker: enrich/titles.py).
        title = _first(prompt_title(s.first_prompt) for s in group) or first.title
        models: list[str] = []
        for session in group:
            models.extend(m for m in session.models if m not in models)
        threads.append(Thread(
            org_id=org_id,
            thread_id=thread_id,
            root_session_id=thread_id,
            parent_thread_id=first.parent_thread_id,
            session_ids=tuple(s.session_id for s in group),
            compaction_count=sum(1 for c in in_thread if c.success),
            failed_compaction_count=sum(1 for c in in_thread if not c.success),
            usage=requests_usage(requests, price),
            api_error_count=sum(s.api_error_count for s in group),
            user_prompt_count=sum(s.user_prompt_count for s in group),
            tool_call_count=sum(s.tool_call_count for s in group),
            first_activity_at=min(s.started_at for s in group),
            last_activity_at=max(s.last_activity_at for s in group),
            closed_at=max((s.closed_at or 0) for s in group) if closed else None,
            close_reason=last.close_reason if closed else OPEN,
            status="closed" if closed else "active",
            title=title,
            user_id=first.user_id,
            user_email=first.user_email,
            project_id=first.project_id,
            project_name=first.project_name,
            agent_name=first.agent_name,
            models=tuple(models),
            injected_prompt_count=sum(s.injected_prompt_count for s in group),
            repository=_first(s.repository for s in group),
            git_branch=_first(s.git_branch for s in reversed(group)),
        ))
    return tuple(threads)
