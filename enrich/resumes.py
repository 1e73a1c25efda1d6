"""Resume health: what each resumed (or continued, or forked) segment cost and whether it
worked. Pure; fills the resume fields of the segments session_segments() built.

Per resume segment (source resume / continue / fork):

* ``idle_before_seconds``: SessionStart's ``seconds_since_last_response`` (Claude Code,
  current versions) when the hook bridge reported it; else the gap between the session's
  last event before the segment and the segment's start.
* ``session_age_seconds``: segment start minus the session's first event.
* ``cache_likely_expired``, ``estimated_cache_write_usd``, ``context_tokens``: SessionStart's
  ``prompt_cache_likely_expired``, ``estimated_cache_write_usd``, ``context_tokens`` (hook
  payload; Claude Code 2.1.328 and 2.1.332 send them on resume and fork). None without the
  bridge. When the hook did not say, a segment idle for longer than the 5-minute cache TTL
  is not guessed at: the field stays None.
* ``cache_write_tokens``: cache creation tokens of the segment's first api_request (what
  the resume actually re-wrote).
* ``failed`` / ``failure``: the segment's first request errored (``first_request_error``:
  an api_error before any api_request), or nothing happened after the resume
  (``no_activity``: no prompt, request or tool in the segment).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import replace

from enrich.model import (
    ACTIVITY_EVENTS,
    API_ERROR,
    API_REQUEST,
    BRIDGE_SESSION_START,
    Event,
    Segment,
)

RESUME_SOURCES = frozenset({"resume", "continue", "fork"})


def with_resume_health(segments: list[Segment], events: list[Event],
                       times_of: Callable[[], list[int]] | None = None) -> list[Segment]:
    """``segments`` of one session with the resume fields filled in. ``events`` are the
    session's events in time order; ``times_of`` returns their timestamps (a cached list,
    asked for only when a segment is a resume)."""
    if not events or not any(s.source in RESUME_SOURCES for s in segments):
        return segments
    session_start = events[0].timestamp
    times = times_of() if times_of else [e.timestamp for e in events]  # sorted: bisect keeps many resumes linear-ish
    result: list[Segment] = []
    for segment in segments:
        if segment.source not in RESUME_SOURCES:
            result.append(segment)
            continue
        low, high = bisect_left(times, segment.started_at), bisect_right(times, segment.ended_at)
        inside = [e for e in events[low:high]
                  if not segment.cli_run_id or not e.cli_run_id or e.cli_run_id == segment.cli_run_id]
        hook = next((e for e in inside if e.event_name == BRIDGE_SESSION_START and e.source in RESUME_SOURCES), None)
        idle: float | None = None
        if hook is not None and hook.seconds_since_last_response is not None:
            idle = max(0.0, hook.seconds_since_last_response)
        elif low:
            idle = (segment.started_at - events[low - 1].timestamp) / 1_000_000
        requests = [e for e in inside if e.event_name in (API_REQUEST, API_ERROR)]
        first = requests[0] if requests else None
        activity = [e for e in inside if e.event_name in ACTIVITY_EVENTS]
        failure = ""
        if first is not None and first.event_name == API_ERROR:
            failure = "first_request_error"
        elif not activity:
            failure = "no_activity"
        result.append(replace(
            segment,
            idle_before_seconds=idle,
            session_age_seconds=(segment.started_at - session_start) / 1_000_000 if segment.source != "fork" else 0.0,
            cache_likely_expired=hook.cache_likely_expired if hook else None,
            estimated_cache_write_usd=hook.estimated_cache_write_usd if hook else None,
            context_tokens=hook.context_tokens if hook else None,
            cache_write_tokens=first.cache_creation_tokens if first is not None and first.event_name == API_REQUEST else 0,
            failed=bool(failure),
            failure=failure,
        ))
    return result
