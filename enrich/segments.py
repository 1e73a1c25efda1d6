"""Process lifetimes (CLI runs) and session segments, from events alone. Pure.

What the captures show (tests/captures, Claude Code 2.1.328):

* ``event.sequence`` starts at 0 when a process starts and counts every event the process
  emits, whatever session it belongs to. A session resumed three times therefore shows
  three runs of sequences 0, 1, 2, ... and ``/clear`` shows session A's events 0..24
  followed by session B's 25..34 in the same process.
* ``--continue`` starts the process under a fresh placeholder session id (it emits its
  start-up bookkeeping and the session.count point under it, start_type ``continue``) and
  then switches to the continued session id, whose first event carries the next sequence
  number. The placeholder is not a session anyone worked in: it is folded into the
  session it hands over to ("absorbed"), and its events become the start of that
  session's segment.

A *fragment* is the events of one session inside one process: a maximal run of
consecutive sequence numbers. Fragments chain across sessions when one's first sequence
number continues another's last one (same user, shortly after): that is one process
moving from one session id to the next. A CLI run is a chain of fragments, also joined
when the hook bridge's records name the same ``loomline.cli_run.id``.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from itertools import chain
from operator import attrgetter

from enrich.model import (
    ACTIVITY_EVENTS,
    BRIDGE_POST_COMPACT,
    BRIDGE_SESSION_START,
    COMPACTION,
    EVIDENCE_HOOK,
    EVIDENCE_INFERRED,
    EVIDENCE_NATIVE,
    EVIDENCE_TRANSCRIPT,
    HOOK_EXECUTION_START,
    METRIC_SESSION_COUNT,
    USER_PROMPT,
    CliRun,
    Event,
    Segment,
)
from enrich.session_events import SessionEvents

# Inside one session, a fragment may skip a few sequence numbers (records lost or without
# a session id) and still continue, if it does so within this time.
MAX_SEQUENCE_GAP = 3
MAX_SEQUENCE_GAP_US = 10 * 60 * 1_000_000
# Across sessions the continuation must be exact and quick: /clear and --continue hand
# over within milliseconds.
CHAIN_WINDOW_US = 10 * 60 * 1_000_000
CHAIN_SKEW_US = 1_000_000
# Compaction evidence (hook SessionStart:compact, PostCompact, the compaction event) within
# this window, or sharing a prompt id, is one compaction.
COMPACT_GROUP_US = 120 * 1_000_000
# A bridge record further than this from every native process of its session may belong
# to a process the native telemetry did not report (see layout).
ATTACH_MAX_GAP_US = 5 * 60 * 1_000_000

_host = attrgetter("host")

METRIC_START_TYPES = {"fresh": "startup", "startup": "startup", "resume": "resume", "continue": "continue"}


@dataclass(eq=False, slots=True)
class Fragment:
    """The events of one session inside one process.

    ``first_seq`` / ``last_seq`` are kept up to date by ``add`` (and ``absorb``) instead of
    being recomputed from ``seqs``: the splitting and chaining sweeps read them for every
    event, and recomputing made derivation quadratic in a session's size.

    The numbers held are kept as a set only once they stop being ``first_seq`` to
    ``last_seq`` without a gap (``holds``): most fragments never need one, and a
    100k-fragment session paid 216 bytes a fragment for sets of one number."""

    session_id: str
    events: list[Event] = field(default_factory=list)  # sequenced, in order
    attached: list[Event] = field(default_factory=list)  # unsequenced, assigned by time
    predecessor: Fragment | None = None
    successor: Fragment | None = None
    run_id: str = ""
    run_evidence: str = ""
    _seqs: set[int] | None = None  # the numbers held, once they have a gap (else first..last)
    first_seq: int | None = None
    last_seq: int | None = None
    index: int = 0  # creation order inside its session (ties in _split_session)
    _user_id: str | None = None
    _sorted: list[Event] | None = None  # all_events() cache, cleared when events change
    _view: SessionEvents | None = None  # view() cache, cleared with _sorted
    _first_ts: int | None = None
    _reordered: bool = False  # events not in Event.sort_key order (absorb prepended some)

    @property
    def seqs(self) -> set[int]:
        """The sequence numbers held (a new set when they have no gap)."""
        if self._seqs is not None:
            return self._seqs
        return set() if self.first_seq is None or self.last_seq is None else set(range(self.first_seq, self.last_seq + 1))

    def holds(self, seq: int) -> bool:
        if self._seqs is not None:
            return seq in self._seqs
        return self.first_seq is not None and self.last_seq is not None and self.first_seq <= seq <= self.last_seq

    def add(self, event: Event) -> None:
        """Append a sequenced event (in time order)."""
        seq = event.sequence
        assert seq is not None
        self.events.append(event)
        first, last = self.first_seq, self.last_seq
        if self._seqs is not None:
            self._seqs.add(seq)
        elif first is not None and last is not None and not (first <= seq <= last + 1):
            self._seqs = set(range(first, last + 1))  # a gap opens
            self._seqs.add(seq)
        if first is None or seq < first:
            self.first_seq = seq
        if last is None or seq > last:
            self.last_seq = seq
        self._user_id = None
        self._sorted = self._view = None
        if self._first_ts is not None and event.timestamp < self._first_ts:
            self._first_ts = event.timestamp

    def absorb(self, other: Fragment) -> None:
        """Prepend a placeholder fragment's sequenced events (they came first)."""
        self.events = [e.moved_to(self.session_id) for e in other.events] + self.events  # a new list: all_events() may have returned the old one
        seqs = self.seqs | other.seqs
        self._seqs = seqs
        self.first_seq = min(seqs) if seqs else None
        self.last_seq = max(seqs) if seqs else None
        self._reordered = True
        self._user_id = None
        self._sorted = self._view = None
        self._first_ts = None

    def attach(self, event: Event) -> None:
        """Add an unsequenced event."""
        self.attached.append(event)
        self._sorted = self._view = None
        if not self.events:
            self._first_ts = None

    @property
    def first_ts(self) -> int:
        """The earliest sequenced event's time (the earliest attached one if none)."""
        if self._first_ts is None:
            self._first_ts = min(e.timestamp for e in (self.events or self.attached))
        return self._first_ts

    @property
    def last_ts(self) -> int:
        return self.all_events()[-1].timestamp

    @property
    def user_id(self) -> str:
        if self._user_id is None:
            self._user_id = next((e.user_id for e in self.events if e.user_id), "")
        return self._user_id

    def all_events(self) -> list[Event]:
        """Sequenced and attached events in time order (cached; do not modify)."""
        if self._sorted is None:
            if not self.attached and not self._reordered:
                self._sorted = self.events  # added in time order (dedupe's): already sorted
            else:
                self._sorted = sorted((*self.events, *self.attached), key=Event.sort_key)
        return self._sorted

    def view(self) -> SessionEvents:
        """all_events() bucketed by name (cached; do not modify)."""
        if self._view is None:
            self._view = SessionEvents(self.all_events())
        return self._view


@dataclass
class Layout:
    """Fragments per session (in time order), after placeholders were absorbed."""

    fragments: dict[str, list[Fragment]]
    absorbed: dict[str, str]  # placeholder session id -> the session it was folded into
    runs: list[CliRun]


def dedupe(events: Iterable[Event]) -> list[Event]:
    """One event per (org, EventKey), sorted by session, then in time order
    (``Event.sort_key``). Duplicates are the same record stored twice (an exporter retry
    before ReplacingMergeTree merged); keep the earliest ingested.

    Session first: the Enricher loads (and so allocates) a group's events session by
    session in time order, so this sort finds them nearly sorted already, and the passes
    after it walk memory in the order the events lie in."""
    events = events if isinstance(events, list) else list(events)
    if len(set(map(_EVENT_KEY, events))) != len(events):  # some EventKey twice (rare): keep the earliest
        by_org: dict[str, dict[int, Event]] = defaultdict(dict)  # no tuple key per event
        for event in events:
            best = by_org[event.org_id]
            current = best.get(event.event_key)
            if current is None or (event.ingested_at, event.sort_key()) < (current.ingested_at, current.sort_key()):
                best[event.event_key] = event
        events = [e for best in by_org.values() for e in best.values()]
    # (session_id, sort_key()), flattened: one tuple per event instead of two; built in C
    # when no event is unsequenced (sort_key's -1 for None is then never needed)
    if None in map(_SEQUENCE, events):
        return sorted(events, key=lambda e: (e.session_id, e.timestamp, -1 if e.sequence is None else e.sequence,
                                             e.event_key))
    return sorted(events, key=_SEQUENCED_ORDER)


_EVENT_KEY = attrgetter("event_key")
_SEQUENCE = attrgetter("sequence")
_SEQUENCED_ORDER = attrgetter("session_id", "timestamp", "sequence", "event_key")


def _split_session(events: list[Event]) -> list[Fragment]:
    """Split one session's sequenced events (in time order) into fragments.

    Claude Code's record times are not strictly monotonic in the sequence (an
    assistant_response may be stamped a few ms after the next event), so an event joins
    the most recently active fragment that does not hold its sequence number yet and that
    it continues (up to MAX_SEQUENCE_GAP past its highest number) or fills in (within
    MAX_SEQUENCE_GAP_US of its last event). Sequence 0 always starts a process.

    One sweep: fragments are indexed by their highest number (continuations) and by every
    number their fill-in range [first - MAX_SEQUENCE_GAP, last) covers. A range grows by
    at most MAX_SEQUENCE_GAP per event, so the index stays linear in the events."""
    fragments: list[Fragment] = []
    by_last: dict[int, list[Fragment]] = defaultdict(list)  # last seq -> fragments
    # number -> the fragments whose fill-in range covers it: one fragment as itself, more in a
    # list (a list per number was most of the memory of a session of one-event fragments)
    covering: dict[int, Fragment | list[Fragment]] = {}
    covered: dict[int, tuple[int, int]] = {}  # fragment index -> fill-in range indexed so far
    backs = range(1, MAX_SEQUENCE_GAP + 1)

    def index(fragment: Fragment) -> None:
        # Only the numbers the fragment does not hold yet: a number it holds can never make
        # it a fill-in candidate again (``seqs`` only grows), and a process's contiguous
        # sequence would otherwise put one list per event into ``covering``.
        first, last = fragment.first_seq, fragment.last_seq
        assert first is not None and last is not None
        low, high = first - MAX_SEQUENCE_GAP, last  # [low, high)
        old = covered.get(fragment.index)
        spans = [(low, high)] if old is None else [(low, old[0]), (old[1], high)]  # ranges only grow
        for start, stop in spans:
            if fragment._seqs is None:  # no gap: only the numbers below first are missing
                numbers: Iterable[int] = range(start, min(stop, first))
            else:
                numbers = [n for n in range(start, stop) if n not in fragment._seqs]
            for number in numbers:
                present = covering.get(number)
                if present is None:
                    covering[number] = fragment
                elif isinstance(present, list):
                    present.append(fragment)
                else:
                    covering[number] = [present, fragment]
        covered[fragment.index] = (low, high)

    for event in events:
        seq = event.sequence
        assert seq is not None
        chosen: Fragment | None = None
        if seq > 0 and len(fragments) == 1:
            # One process so far (nearly every session): the candidates below are it or
            # none, found without the look-ups (same choice), and by_last is not kept.
            only = fragments[0]
            last = only.last_seq
            assert last is not None
            if 0 < seq - last <= MAX_SEQUENCE_GAP or (
                    seq in covering and not only.holds(seq)
                    and event.timestamp - only.events[-1].timestamp <= MAX_SEQUENCE_GAP_US):
                chosen = only
        elif seq > 0:
            candidates: list[Fragment] = []
            for back in backs:
                ending = by_last.get(seq - back)
                if ending:
                    candidates.extend(ending)
            filling = covering.get(seq)
            if filling is not None:
                candidates += [
                    f for f in (filling if isinstance(filling, list) else (filling,))
                    if not f.holds(seq) and event.timestamp - f.events[-1].timestamp <= MAX_SEQUENCE_GAP_US
                ]
            if len(candidates) == 1:
                chosen = candidates[0]
            elif candidates:
                chosen = max(candidates, key=lambda f: (f.events[-1].timestamp, f.last_seq or 0, -f.index))
        if chosen is None:
            if len(fragments) == 1:  # a second process: by_last starts being kept (not read before)
                by_last[fragments[0].last_seq].append(fragments[0])  # type: ignore[index]
            chosen = Fragment(event.session_id, index=len(fragments))
            fragments.append(chosen)
        before, below = chosen.last_seq, chosen.first_seq
        chosen.add(event)
        if before != chosen.last_seq and len(fragments) > 1:
            if before is not None:
                ending = by_last[before]
                ending.remove(chosen)
                if not ending:  # a growing process would otherwise leave one empty list per event
                    del by_last[before]
            by_last[seq].append(chosen)
        if before != chosen.last_seq or below != chosen.first_seq:
            if chosen._seqs is None and below == chosen.first_seq:
                # grown at the top without a gap: index() would find no number to add (it
                # adds only those below ``first``, unchanged), so only its range moves
                covered[chosen.index] = (below - MAX_SEQUENCE_GAP, chosen.last_seq)  # type: ignore[operator, assignment]
            else:
                index(chosen)
    return fragments


def _chain(fragments: list[Fragment]) -> None:
    """Link fragments whose sequence continues another session's (same process).

    Fragments are visited in time order; the predecessor of one starting at sequence n is
    looked up among the fragments of the same user ending at n - 1 (an index, not a scan).
    Only the fragments that have someone ending at n - 1 are sorted and visited: the others
    cannot link, and sorting every fragment of a 100k-fragment session was most of the cost."""
    ending: dict[int, list[Fragment]] = defaultdict(list)  # last seq -> fragments, in ``fragments`` order
    for fragment in fragments:
        if fragment.last_seq is not None:
            ending[fragment.last_seq].append(fragment)
    visits = [f for f in fragments if f.first_seq and f.first_seq - 1 in ending]
    if not visits:
        return
    order = _chain_order
    sorted_keys: set[int] = set()
    for fragment in sorted(visits, key=order):
        assert fragment.first_seq is not None
        key = fragment.first_seq - 1
        bucket = ending[key]
        if len(bucket) > 1 and key not in sorted_keys:  # candidates in visiting order (ties: the first)
            bucket.sort(key=order)
            sorted_keys.add(key)
        start = fragment.events[0].timestamp
        user_id = fragment.user_id
        candidates = [
            p for p in bucket
            if p.user_id == user_id and p.session_id != fragment.session_id and p.successor is None
            and p.events[-1].timestamp <= start + CHAIN_SKEW_US
            and start - p.events[-1].timestamp <= CHAIN_WINDOW_US
        ]
        if candidates:
            predecessor = max(candidates, key=lambda p: (p.events[-1].timestamp, p.session_id))
            predecessor.successor = fragment
            fragment.predecessor = predecessor


def _chain_order(fragment: Fragment) -> tuple[int, str, int]:
    return (fragment.first_ts, fragment.session_id, fragment.first_seq or 0)


def _is_placeholder(session_events: Iterable[Event], fragments: list[Fragment]) -> bool:
    return (
        len(fragments) == 1
        and fragments[0].successor is not None
        and not any(e.event_name in ACTIVITY_EVENTS for e in session_events)
    )


def layout(events: list[Event]) -> Layout:
    """Fragments, absorbed placeholders and CLI runs of a deduplicated, sorted event list
    (dedupe's order: each session's events in time order)."""
    sequenced_of: dict[str, list[Event]] = defaultdict(list)
    loose_of: dict[str, list[Event]] = defaultdict(list)  # unsequenced
    for event in events:
        (loose_of if event.sequence is None else sequenced_of)[event.session_id].append(event)
    fragments: dict[str, list[Fragment]] = {}
    for session_id in sorted(sequenced_of.keys() | loose_of.keys()):
        fragments[session_id] = _split_session(sequenced_of.get(session_id, []))
    if len(fragments) > 1:  # a chain links two session ids
        _chain([f for frags in fragments.values() for f in frags])

    # Fold start-up placeholders (--continue) into the session they hand over to.
    absorbed: dict[str, str] = {}
    for session_id in sorted(fragments, key=lambda s: (fragments[s][0].first_ts if fragments[s] else 0, s)):
        frags = fragments[session_id]
        if not _is_placeholder(chain(sequenced_of.get(session_id, ()), loose_of.get(session_id, ())), frags):
            continue
        placeholder = frags[0]
        target = placeholder.successor
        assert target is not None
        target.absorb(placeholder)
        target.predecessor = placeholder.predecessor
        if placeholder.predecessor is not None:
            placeholder.predecessor.successor = target
        loose_of[target.session_id].extend(e.moved_to(target.session_id) for e in loose_of.pop(session_id, ()))
        absorbed[session_id] = target.session_id
        del fragments[session_id]
    # A placeholder may have been folded into another placeholder first: follow to the end.
    for source, final in list(absorbed.items()):
        while final in absorbed:
            final = absorbed[final]
        absorbed[source] = final

    # Unsequenced events (bridge records, session.count points) join the nearest fragment
    # of their session in time: the one they fall inside, else the closest edge.
    for session_id in list(fragments):
        frags = sorted(fragments[session_id], key=lambda f: f.first_ts)
        loose = sorted(loose_of.get(session_id, ()), key=Event.sort_key)
        if not frags:
            # Only bridge records / metric points: one fragment per bridge CLI run id.
            groups: dict[str, Fragment] = {}
            for event in loose:
                groups.setdefault(event.cli_run_id, Fragment(session_id)).attach(event)
            frags = sorted(groups.values(), key=lambda f: f.first_ts)
        else:
            nearest_to = _nearest_finder(frags)

            far: list[Event] = []
            for event in loose:
                nearest, gap = nearest_to(event.timestamp)
                if gap <= ATTACH_MAX_GAP_US or not event.is_bridge:
                    nearest.attach(event)
                else:
                    far.append(event)
            # Bridge records far from any native process: with their CLI run's fragment if
            # one has it; a run the native telemetry did not see at all (it has its own
            # SessionStart record) is a fragment of its own; anything else goes nearest.
            by_run = {bridge_run_id(f): f for f in frags if bridge_run_id(f)}
            unseen: dict[str, list[Event]] = defaultdict(list)
            for event in far:
                if event.cli_run_id in by_run:
                    by_run[event.cli_run_id].attach(event)
                else:
                    unseen[event.cli_run_id].append(event)
            for group in unseen.values():
                if any(e.event_name == BRIDGE_SESSION_START for e in group):
                    frags.append(Fragment(session_id, attached=group))
                else:
                    for event in group:
                        nearest_to(event.timestamp)[0].attach(event)
            frags.sort(key=lambda f: f.first_ts)
        fragments[session_id] = frags

    runs = _assign_runs([f for frags in fragments.values() for f in frags])
    return Layout(fragments=fragments, absorbed=absorbed, runs=runs)


def _nearest_finder(frags: list[Fragment]) -> Callable[[int], tuple[Fragment, int]]:
    """A function t -> (fragment, distance): the fragment whose span (first to last
    sequenced event) is nearest to t, ties to the later-starting one, then to the earlier
    in ``frags`` (which is sorted by start). Binary search plus a short walk back, instead of
    a scan of every fragment for every event."""
    spans = sorted(((f.events[0].timestamp, position, f.events[-1].timestamp, f) for position, f in enumerate(frags)),
                   key=lambda span: (span[0], span[1]))
    starts = [span[0] for span in spans]
    reach: list[int] = []  # running max of span ends
    for span in spans:
        reach.append(max(span[2], reach[-1]) if reach else span[2])

    def nearest(t: int) -> tuple[Fragment, int]:
        right = bisect.bisect_right(starts, t)  # spans[right:] start after t
        best: tuple[int, int, int, int] | None = None  # (distance, -start, position in frags, index)
        if right < len(spans):
            first = bisect.bisect_left(starts, starts[right])  # lowest position among equal starts
            best = (starts[right] - t, -starts[right], spans[first][1], first)
        for i in range(right - 1, -1, -1):
            if best is not None and reach[i] < t - best[0]:
                break  # nothing at or before i ends close enough to win
            candidate = (max(t - spans[i][2], 0), -spans[i][0], spans[i][1], i)
            if best is None or candidate < best:
                best = candidate
            if best[0] == 0 and (i == 0 or spans[i - 1][0] < spans[i][0]):
                break  # inside a span; the ones before start earlier and cannot win
        assert best is not None
        return spans[best[3]][3], best[0]

    return nearest


def bridge_run_id(fragment: Fragment) -> str:
    """The bridge's CLI run id for a fragment: its SessionStart record's, else the most
    common among its bridge records (a SessionEnd stamped just before the next process
    started must not pull the two processes together)."""
    starts = [e.cli_run_id for e in fragment.attached if e.event_name == BRIDGE_SESSION_START and e.cli_run_id]
    if starts:
        return starts[0]
    counts: dict[str, int] = defaultdict(int)
    for event in fragment.attached:
        if event.cli_run_id:
            counts[event.cli_run_id] += 1
    return min(counts, key=lambda r: (-counts[r], r)) if counts else ""


def _assign_runs(fragments: list[Fragment]) -> list[CliRun]:
    """Union fragments into CLI runs (sequence chains and shared bridge run ids).

    By position in ``fragments``, in lists: most fragments are a run of their own (a
    100k-fragment session is mostly that), and dicts keyed by object id cost more there."""
    parent = list(range(len(fragments)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    successors = {id(f.successor) for f in fragments if f.successor is not None}
    position = {id(f): i for i, f in enumerate(fragments) if id(f) in successors} if successors else {}
    # each a pass over the fragment's records (none: no bridge run id)
    run_ids = [bridge_run_id(f) if f.attached else "" for f in fragments]
    first_with_run_id: dict[str, int] = {}
    for i, fragment in enumerate(fragments):
        if fragment.successor is not None:
            successor = position.get(id(fragment.successor))
            if successor is not None:
                union(i, successor)
        run_id = run_ids[i]
        if run_id:
            union(first_with_run_id.setdefault(run_id, i), i)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(fragments)):
        groups[find(i)].append(i)

    runs: list[CliRun] = []
    for positions in groups.values():
        members = [fragments[i] for i in positions]
        members.sort(key=lambda f: (f.first_ts, f.session_id))
        bridge_ids = sorted({run_ids[i] for i in positions if run_ids[i]})
        # each fragment's all_events() is in time order: its first is its earliest, its last its latest
        first = min((f.all_events()[0] for f in members), key=Event.sort_key)
        if bridge_ids:
            run_id, evidence = bridge_ids[0], EVIDENCE_HOOK
        else:
            # Deterministic from the run's first event; changes (and the old row is
            # tombstoned) only if an earlier event of the run arrives late.
            run_id, evidence = f"native:{first.session_id}:{first.timestamp}", EVIDENCE_NATIVE
        for fragment in members:
            fragment.run_id, fragment.run_evidence = run_id, evidence
        sessions: list[str] = []
        for fragment in members:
            if fragment.session_id not in sessions:
                sessions.append(fragment.session_id)
        runs.append(CliRun(
            org_id=first.org_id,
            cli_run_id=run_id,
            started_at=first.timestamp,
            ended_at=max(f.all_events()[-1].timestamp for f in members),
            session_ids=tuple(sessions),
            host=next(filter(None, map(_host, chain.from_iterable(f.all_events() for f in members))), ""),
            app_version=next((e.app_version for f in members for e in f.all_events()
                              if e.app_version and not e.is_bridge), ""),
            evidence=evidence,
        ))
    runs.sort(key=lambda r: (r.started_at, r.cli_run_id))
    return runs


def _hook_source(event: Event) -> str:
    if event.event_name == HOOK_EXECUTION_START and event.hook_name.startswith("SessionStart:"):
        return event.hook_name.split(":", 1)[1]
    return ""


def last_command(fragment: Fragment) -> str:
    """The command_name of the fragment's last user prompt ('' if none or not a command)."""
    return next((e.command_name for e in reversed(fragment.events) if e.event_name == USER_PROMPT), "")


def fragment_start_source(fragment: Fragment, is_first_of_session: bool) -> tuple[str, str]:
    """(source, evidence) of the segment a fragment starts.

    Order of evidence: the bridge's SessionStart ``source`` > Claude Code's
    ``hook_execution_start`` ``SessionStart:<source>`` > the session.count ``start_type``
    > inference (after /clear in the same process: clear; a session's first fragment:
    startup; later ones: resume). Hooks report ``--continue`` as ``resume``; the
    session.count point says ``continue``, so that refines it.
    """
    view = fragment.view()
    metric = next((METRIC_START_TYPES.get(e.source, e.source) for e in view.named(METRIC_SESSION_COUNT) if e.source), "")
    found = ""
    evidence = ""
    starts = [e for e in view.named(BRIDGE_SESSION_START) if e.source and e.source != "compact"]
    bridge = next((e.source for e in starts if not e.imported), "")
    imported = next((e.source for e in starts if e.imported), "")  # loomline import: below telemetry
    hook = next((s for s in map(_hook_source, view.named(HOOK_EXECUTION_START)) if s and s != "compact"), "")
    if bridge:
        found, evidence = bridge, EVIDENCE_HOOK
    elif hook:
        found, evidence = hook, EVIDENCE_NATIVE
    elif metric:
        found, evidence = metric, EVIDENCE_NATIVE
    elif imported:
        found, evidence = imported, EVIDENCE_TRANSCRIPT
    elif fragment.predecessor is not None and last_command(fragment.predecessor) == "clear":
        found, evidence = "clear", EVIDENCE_INFERRED
    else:
        found, evidence = ("startup" if is_first_of_session else "resume"), EVIDENCE_INFERRED
    if found == "resume" and metric == "continue":
        found = "continue"
    return found, evidence


def _compact_markers(events: SessionEvents) -> list[tuple[int, str, str]]:
    """(time, prompt id, evidence) of every sign that a compaction succeeded."""
    markers = [(e.timestamp, e.prompt_id, EVIDENCE_HOOK) for e in events.named(BRIDGE_SESSION_START) if e.source == "compact"]
    markers += [(e.timestamp, e.prompt_id, EVIDENCE_HOOK) for e in events.named(BRIDGE_POST_COMPACT)]
    markers += [(e.timestamp, e.prompt_id, EVIDENCE_NATIVE) for e in events.named(HOOK_EXECUTION_START)
                if _hook_source(e) == "compact"]
    markers += [(e.timestamp, e.prompt_id, EVIDENCE_NATIVE) for e in events.named(COMPACTION) if e.success is True]
    return sorted(markers)


def compact_starts(events: SessionEvents) -> list[tuple[int, str]]:
    """Start times (and evidence) of the compact segments in one fragment's events."""
    groups: list[list[tuple[int, str, str]]] = []
    for marker in _compact_markers(events):
        if groups:
            head = groups[-1][0]
            same_prompt = bool(marker[1]) and any(m[1] == marker[1] for m in groups[-1])
            if same_prompt or marker[0] - head[0] <= COMPACT_GROUP_US:
                groups[-1].append(marker)
                continue
        groups.append([marker])
    result = []
    for group in groups:
        evidence = EVIDENCE_HOOK if any(m[2] == EVIDENCE_HOOK for m in group) else EVIDENCE_NATIVE
        result.append((min(m[0] for m in group), evidence))
    return result


def session_segments(org_id: str, session_id: str, fragments: list[Fragment]) -> list[Segment]:
    """Segments of one session: one per fragment (process start or hand-over), plus one per
    successful compaction inside it."""
    segments: list[Segment] = []
    for position, fragment in enumerate(sorted(fragments, key=lambda f: f.first_ts)):
        events = fragment.all_events()
        source, evidence = fragment_start_source(fragment, position == 0)
        starts: list[tuple[int, str, str]] = [(events[0].timestamp, source, evidence)]
        starts += [(t, "compact", ev) for t, ev in compact_starts(fragment.view()) if t > events[0].timestamp]
        if len(starts) == 1:  # one segment, the whole fragment: no pass over its events
            segments.append(Segment(
                org_id=org_id, session_id=session_id, segment_index=0, source=source, started_at=starts[0][0],
                ended_at=events[-1].timestamp, cli_run_id=fragment.run_id,
                first_sequence=fragment.first_seq, last_sequence=fragment.last_seq,  # of its sequenced events
                event_count=len(events), evidence=evidence,
            ))
            continue
        times = fragment.view().times()  # sorted: all_events() is in time order
        for i, (start, seg_source, seg_evidence) in enumerate(starts):
            end = starts[i + 1][0] if i + 1 < len(starts) else None
            low = 0 if i == 0 else bisect.bisect_left(times, start)
            high = len(events) if end is None else bisect.bisect_left(times, end)
            inside = events[low:high]
            sequences = [e.sequence for e in inside if e.sequence is not None]
            segments.append(Segment(
                org_id=org_id,
                session_id=session_id,
                segment_index=0,
                source=seg_source,
                started_at=start,
                ended_at=inside[-1].timestamp if inside else start,  # in time order
                cli_run_id=fragment.run_id,
                first_sequence=min(sequences) if sequences else None,
                last_sequence=max(sequences) if sequences else None,
                event_count=len(inside),
                evidence=seg_evidence,
            ))
    segments.sort(key=lambda s: (s.started_at, s.source != "compact", s.cli_run_id))
    return [
        replace(segment, segment_index=index)
        for index, segment in enumerate(segments)
    ]
