"""Imported transcript records next to telemetry of the same session. Pure.

``loomline import`` turns transcript lines into records shaped like Claude Code's own
events (``loomline.evidence=transcript``). When telemetry (or the hook bridge) recorded the
same thing, telemetry wins and the imported record is left out, so tokens and cost are never
counted twice whatever arrived first:

* ``user_prompt``, ``api_request``, ``api_error``, ``tool_result``, ``compaction``: an
  imported record is superseded when telemetry has an event of the same name in the same
  session for the same ``prompt.id`` (the transcript's ``promptId`` is the telemetry's
  ``prompt.id``). Per prompt, not per request: the transcript does not show every request
  (compaction calls) and telemetry names no request id. Where either side has no prompt id
  (older versions), an event of the same name within a short window supersedes it.
* ``loomline.session_start`` / ``loomline.session_end`` from the import: superseded by the
  bridge's own record of the session. They stay next to native telemetry, which has no fork
  parent and no /clear predecessor to offer.

So telemetry wins for tokens, reported cost, compaction figures and prompt counts of every
prompt it saw; the transcript fills in the prompts (and sessions) it did not see, with cost
computed from tokens only.
"""

from __future__ import annotations

from collections import defaultdict

from enrich.model import (
    API_ERROR,
    API_REQUEST,
    BRIDGE_SESSION_END,
    BRIDGE_SESSION_START,
    COMPACTION,
    TOOL_RESULT,
    USER_PROMPT,
    Event,
)

# Without prompt ids on both sides, telemetry within this much of an imported record is the
# same thing (the record times of both come from the same clock, milliseconds apart).
WINDOW_US = {
    USER_PROMPT: 2_000_000, API_REQUEST: 2_000_000, API_ERROR: 2_000_000, TOOL_RESULT: 2_000_000,
    COMPACTION: 120_000_000,
}


def without_superseded(events: list[Event]) -> list[Event]:
    """``events`` minus the imported records telemetry or the bridge also recorded (order kept)."""
    if not any(e.imported for e in events):
        return events
    native: dict[tuple[str, str], list[Event]] = defaultdict(list)
    bridge: set[tuple[str, str]] = set()
    for event in events:
        if event.imported:
            continue
        if event.event_name in WINDOW_US:
            native[(event.session_id, event.event_name)].append(event)
        elif event.event_name in (BRIDGE_SESSION_START, BRIDGE_SESSION_END):
            bridge.add((event.session_id, event.event_name))
    kept: list[Event] = []
    for event in events:
        if event.imported and _superseded(event, native, bridge):
            continue
        kept.append(event)
    return kept


def _superseded(event: Event, native: dict[tuple[str, str], list[Event]], bridge: set[tuple[str, str]]) -> bool:
    if event.event_name in (BRIDGE_SESSION_START, BRIDGE_SESSION_END):
        return (event.session_id, event.event_name) in bridge
    window = WINDOW_US.get(event.event_name)
    if window is None:
        return False
    for other in native.get((event.session_id, event.event_name), ()):
        if event.prompt_id and other.prompt_id:
            if other.prompt_id == event.prompt_id:
                return True
        elif abs(other.timestamp - event.timestamp) <= window:
            return True
    return False
