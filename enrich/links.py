"""Typed links between sessions. Pure.

Evidence, strongest first:

* the hook bridge's ``loomline.session_start`` with ``loomline.parent_session_id``:
  source ``fork`` → ``forked_from``; any other source (resume, compact, startup, continue)
  with a parent that is a different session → ``resumed_as`` (Claude Code minted a new id);
* the bridge's ``loomline.session_end`` reason ``clear`` in A and ``loomline.session_start``
  source ``clear`` in B from the same CLI run (``loomline.cli_run.id``) → A ``cleared_from`` B;
* natively: B's first sequence number continues A's last one in the same process (see
  segments.py) and A's last prompt was ``/clear`` (or B started with SessionStart:clear)
  → ``cleared_from``.

Every link points forward in time: from = earlier (parent) session, to = later (child).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from enrich.model import (
    BRIDGE_SESSION_END,
    BRIDGE_SESSION_START,
    CLEARED_FROM,
    EVIDENCE_HOOK,
    EVIDENCE_INFERRED,
    EVIDENCE_TRANSCRIPT,
    FORKED_FROM,
    RESUMED_AS,
    Event,
    Link,
)
from enrich.segments import Fragment, fragment_start_source, last_command
from enrich.session_events import SessionEvents

# SessionEnd(clear) and the next SessionStart(clear) of one run are milliseconds apart;
# allow for clock skew between the two hook processes.
CLEAR_SLACK_US = 5 * 1_000_000


def bridge_links(events: list[Event]) -> list[Link]:
    """Links named by the hook bridge's records."""
    starts = [e for e in events if e.event_name == BRIDGE_SESSION_START]
    naming = [e for e in events if e.parent_session_id and e.parent_session_id != e.session_id and e.is_bridge]
    ends = [e for e in events if e.event_name == BRIDGE_SESSION_END]
    return _bridge_links(starts, naming, ends)


def session_bridge_links(sessions: Iterable[SessionEvents]) -> list[Link]:
    """bridge_links() of the sessions' events (in order, session by session), from their
    buckets: only the bridge's records are read."""
    starts: list[Event] = []
    naming: list[Event] = []
    ends: list[Event] = []
    for session in sessions:
        for name, bucket in session.bridge_buckets():
            if name == BRIDGE_SESSION_START:
                starts += bucket
            elif name == BRIDGE_SESSION_END:
                ends += bucket
            naming += [e for e in bucket if e.parent_session_id and e.parent_session_id != e.session_id]
    return _bridge_links(starts, naming, ends)


def _bridge_links(starts: list[Event], naming: list[Event], ends_all: list[Event]) -> list[Link]:
    """``starts``: the SessionStart records, ``ends_all`` the SessionEnd records (both in
    order); ``naming``: the bridge records naming a parent session (any order)."""
    links: list[Link] = []
    # Claude Code writes a fork's copied transcript lines only after its first answer, so
    # the bridge often learns the parent on a later record (e.g. loomline.stop) of the
    # fork; the earliest such record names it.
    late_parents: dict[str, str] = {}
    for event in sorted(naming, key=Event.sort_key):  # sort the few that name a parent, not all
        late_parents.setdefault(event.session_id, event.parent_session_id)
    for start in starts:
        parent = start.parent_session_id
        if not parent and start.source == "fork":
            parent = late_parents.get(start.session_id, "")
        if parent and parent != start.session_id:
            # An imported session_start (loomline import) names the session a /clear
            # ended as its parent; the bridge names parents of forks and resumes only.
            link_type = FORKED_FROM if start.source == "fork" else CLEARED_FROM if start.source == "clear" else RESUMED_AS
            evidence = EVIDENCE_TRANSCRIPT if start.imported else EVIDENCE_HOOK
            links.append(Link(start.org_id, parent, start.session_id, link_type, start.timestamp, evidence))
    ends: dict[str, list[Event]] = defaultdict(list)  # by CLI run id: no scan of every end per start
    for e in ends_all:
        if e.reason == "clear" and e.cli_run_id:
            ends[e.cli_run_id].append(e)
    for start in starts:
        if start.source != "clear" or not start.cli_run_id:
            continue
        candidates = [
            end for end in ends.get(start.cli_run_id, ())
            if end.session_id != start.session_id and end.timestamp <= start.timestamp + CLEAR_SLACK_US
        ]
        if candidates:
            end = max(candidates, key=lambda e: (e.timestamp, e.session_id))
            links.append(Link(start.org_id, end.session_id, start.session_id, CLEARED_FROM, start.timestamp, EVIDENCE_HOOK))
    return links


def native_links(org_id: str, fragments: list[Fragment]) -> list[Link]:
    """cleared_from links from sequence continuity across two session ids."""
    links: list[Link] = []
    for fragment in fragments:
        before = fragment.predecessor
        if before is None or before.session_id == fragment.session_id:
            continue
        source, _ = fragment_start_source(fragment, is_first_of_session=False)
        if last_command(before) == "clear" or source == "clear":
            links.append(Link(org_id, before.session_id, fragment.session_id, CLEARED_FROM,
                              fragment.events[0].timestamp, EVIDENCE_INFERRED))
    return links


def merge_links(links: list[Link]) -> list[Link]:
    """One link per (from, to, type): the strongest evidence, then the earliest time."""
    rank = {EVIDENCE_HOOK: 0}
    best: dict[tuple[str, str, str], Link] = {}
    for link in links:
        key = (link.from_session_id, link.to_session_id, link.link_type)
        current = best.get(key)
        if current is None or (rank.get(link.evidence, 1), link.created_at) < (rank.get(current.evidence, 1), current.created_at):
            best[key] = link
    return sorted(best.values(), key=lambda k: (k.created_at, k.from_session_id, k.to_session_id, k.link_type))
