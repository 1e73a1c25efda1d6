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

from dataclasses import dataclass

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

BRIDGE_REASONS = {
    "clear": "clear",
    "logout": "logout",
    "prompt_input_exit": "exit",
    "exit": "exit",
    "resume": "resume",
    "other": "other",
}
COMMAND_REASONS = {"clear": "clear", "exit": "exit", "quit": "exit", "logout": "logout", "resume": "resume"}

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
    """The close reason of one session from its (sorted) events.

    ``last_start_at``: when its latest segment that is not a compaction started.
    ``cleared_into_successor``: a ``cleared_from`` link leaves this session.
    """
    recent = [e for e in events if e.timestamp >= last_start_at]
    ends = [e for e in recent if e.event_name == BRIDGE_SESSION_END]
    if ends:
        end = ends[-1]
        evidence = EVIDENCE_TRANSCRIPT if end.imported else EVIDENCE_HOOK
        return Closure(BRIDGE_REASONS.get(end.reason, "other"), end.timestamp, evidence)

    prompts = [e for e in recent if e.event_name == USER_PROMPT]
    if prompts and prompts[-1].command_name in COMMAND_REASONS:
        return Closure(COMMAND_REASONS[prompts[-1].command_name], prompts[-1].timestamp, EVIDENCE_NATIVE)
    if cleared_into_successor:
        at = prompts[-1].timestamp if prompts else recent[-1].timestamp if recent else last_start_at
        return Closure("clear", at, EVIDENCE_NATIVE)

    outcomes = [e for e in recent if e.event_name in (API_REQUEST, API_ERROR)]
    if outcomes and outcomes[-1].event_name == API_ERROR:
        failure = outcomes[-1]
        later_prompt = any(
            e.event_name in (USER_PROMPT, BRIDGE_USER_PROMPT_SUBMIT) and e.timestamp > failure.timestamp
            for e in recent
        )
        if not later_prompt:
            return Closure(ERROR, failure.timestamp, EVIDENCE_NATIVE)

    last_activity = max((e.timestamp for e in events), default=last_start_at)
    if now_us - last_activity > idle_timeout_us:
        return Closure(TIMEOUT, last_activity, EVIDENCE_DERIVED)
    return Closure(OPEN, None, "")
