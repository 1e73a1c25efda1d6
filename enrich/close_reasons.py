"""Why (and when) a session closed. Pure.

Evidence, strongest first (docs/design.md, close reasons):

1. the hook bridge's ``loomline.session_end`` ``reason`` (``prompt_input_exit`` → ``exit``);
2. the last ``user_prompt``'s ``command_name``: clear, exit (or quit), logout, resume;
   or the session handed its process to a successor after /clear (``cleared_from``);
3. ``error``: the last API outcome (api_request or api_error) was an api_error and no
   prompt followed it;
4. ``timeout``: no activity for ``idle_timeout`` before ``now`` (derived from the clock);
5. otherwise ``open``.

Only evidence from the session's latest start counts: a session that was resumed after
it ended is open again until it ends again ("new activity reopens them"). ``closed_at`` is
the time of the evidence; for a timeout it is the last activity.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from operator import attrgetter

from enrich.model import (
    API_ERROR,
    API_REQUEST,
    BRIDGE_SESSION_END,
    BRIDGE_USER_PROMPT_SUBMIT,
    EVIDENCE_DERIVED,
    EVIDENCE_HOOK,
    EVIDENCE_NATIVE,
    EVIDENCE_TRANSCRIPT,
    USER_PROMPT,
    Event,
)
from enrich.session_events import SessionEvents

BRIDGE_REASONS = {
    "clear": "clear",
    "logout": "logout",
    "prompt_input_exit": "exit",
    "exit": "exit",
    "resume": "resume",
    "other": "other",
}
COMMAND_REASONS = {"clear": "clear", "exit": "exit", "quit": "exit", "logout": "logout", "resume": "resume"}

_timestamp = attrgetter("timestamp")

OPEN = "open"
TIMEOUT = "timeout"
ERROR = "error"


@dataclass(frozen=True)
class Closure:
    reason: str
    closed_at: int | None
    evidence: str


def close_session(
    events: list[Event],
    last_start_at: int,
    now_us: int,
    idle_timeout_us: int,
    cleared_into_successor: bool = False,
) -> Closure:
    """The close reason of one session from its events (in time order, ``Event.sort_key``).

    ``last_start_at``: when its latest segment that is not a compaction started.
    ``cleared_into_successor``: a ``cleared_from`` link leaves this session.
    """
    return session_closure(SessionEvents(events), last_start_at, now_us, idle_timeout_us, cleared_into_successor)


def session_closure(
    session: SessionEvents,
    last_start_at: int,
    now_us: int,
    idle_timeout_us: int,
    cleared_into_successor: bool = False,
) -> Closure:
    """close_session() from the session's events bucketed by name: only the buckets that
    matter are read, each from the latest start on (a bisection, not a scan)."""
    events = session.events

    def recent(name: str) -> list[Event]:
        bucket = session.named(name)
        return bucket[bisect_left(bucket, last_start_at, key=_timestamp):] if bucket else bucket

    ends = recent(BRIDGE_SESSION_END)
    if ends:
        end = ends[-1]
        evidence = EVIDENCE_TRANSCRIPT if end.imported else EVIDENCE_HOOK
        return Closure(BRIDGE_REASONS.get(end.reason, "other"), end.timestamp, evidence)

    prompts = recent(USER_PROMPT)
    if prompts and prompts[-1].command_name in COMMAND_REASONS:
        return Closure(COMMAND_REASONS[prompts[-1].command_name], prompts[-1].timestamp, EVIDENCE_NATIVE)
    if cleared_into_successor:
        at = (prompts[-1].timestamp if prompts else events[-1].timestamp if events and events[-1].timestamp >= last_start_at
              else last_start_at)
        return Closure("clear", at, EVIDENCE_NATIVE)

    # The last API outcome (api_request or api_error) since the start: an error, and no
    # prompt after it?
    errors, requests = recent(API_ERROR), recent(API_REQUEST)
    if errors and (not requests or errors[-1].sort_key() > requests[-1].sort_key()):
        failure = errors[-1]
        later_prompt = any(bucket and bucket[-1].timestamp > failure.timestamp
                           for bucket in (prompts, session.named(BRIDGE_USER_PROMPT_SUBMIT)))
        if not later_prompt:
            return Closure(ERROR, failure.timestamp, EVIDENCE_NATIVE)

    last_activity = events[-1].timestamp if events else last_start_at
    if now_us - last_activity > idle_timeout_us:
        return Closure(TIMEOUT, last_activity, EVIDENCE_DERIVED)
    return Closure(OPEN, None, "")
