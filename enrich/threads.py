"""Thread assignment from the link graph (docs/design.md, thread rules). Pure.

* A session with no incoming ``resumed_as`` roots its own thread; ``thread_id`` is the
  root session's id, so the same links always give the same threads, whichever process
  computes them and in whatever order the links arrived.
* ``resumed_as`` (A → B): B joins A's thread.
* ``forked_from`` (A → B): B roots a new thread whose ``parent_thread_id`` is A's thread.
* ``cleared_from`` (A → B): B roots a new thread. /clear starts a new conversation on
  purpose, so it gets no parent thread; the link itself still records where it came from.
* A late link re-roots: B's thread changes from B to A's, and B's old thread disappears.

If a session has several incoming ``resumed_as`` (should not happen), the earliest link
wins; cycles (also should not happen) are cut deterministically at the smallest id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from enrich.model import FORKED_FROM, RESUMED_AS, Link


@dataclass(frozen=True)
class Placement:
    thread_id: str
    parent_thread_id: str
    position: int  # 0 for the thread's first session, by start time


def _earliest(links: Iterable[Link]) -> Link | None:
    return min(links, key=lambda k: (k.created_at, k.from_session_id), default=None)


def assign_threads(started_at: dict[str, int], links: Iterable[Link]) -> dict[str, Placement]:
    """Place every session of ``started_at`` (session id → start time) in a thread.

    Links may name sessions outside ``started_at``; they still shape the threads of the
    sessions inside it (a parent not loaded keeps its own id as thread id unless a link
    among the given ones says otherwise).
    """
    links = list(links)
    resumed_into: dict[str, list[Link]] = {}
    forked_into: dict[str, list[Link]] = {}
    for link in links:
        if link.from_session_id == link.to_session_id:
            continue
        if link.link_type == RESUMED_AS:
            resumed_into.setdefault(link.to_session_id, []).append(link)
        elif link.link_type == FORKED_FROM:
            forked_into.setdefault(link.to_session_id, []).append(link)

    def root(session_id: str) -> str:
        seen: list[str] = []
        current = session_id
        while current not in seen:
            seen.append(current)
            incoming = _earliest(resumed_into.get(current, []))
            if incoming is None:
                return current
            current = incoming.from_session_id
        cycle = seen[seen.index(current):]
        return min(cycle)

    thread_of = {session_id: root(session_id) for session_id in started_at}

    def parent_thread(thread_id: str) -> str:
        fork = _earliest(forked_into.get(thread_id, []))
        if fork is None:
            return ""
        parent = root(fork.from_session_id)
        return "" if parent == thread_id else parent

    members: dict[str, list[str]] = {}
    for session_id, thread_id in thread_of.items():
        members.setdefault(thread_id, []).append(session_id)
    placements: dict[str, Placement] = {}
    for thread_id, sessions in members.items():
        sessions.sort(key=lambda s: (started_at[s], s))
        parent = parent_thread(thread_id)
        for position, session_id in enumerate(sessions):
            placements[session_id] = Placement(thread_id, parent, position)
    return placements
