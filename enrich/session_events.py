"""One session's (or one fragment's) events, bucketed by event name in one pass. Pure.

A derivation asks many questions of a session's events: its API requests, prompts, tool
results, compactions, SessionEnd records, bridge records, ... Asked as a scan each, they
walked every event of the session some thirty times; a 100k-event session (~50 MB of
``Event`` objects) does not fit in the CPU's private cache, so each scan paid a cache miss
per event and the time per event grew with the session (docs/benchmarks.md,
"Enrichment"). Bucketing once touches each event once; each question then reads only its
bucket, usually a small fraction of the events.
"""

from __future__ import annotations

from itertools import chain
from operator import attrgetter

from enrich.model import BRIDGE_PREFIX, Event

_EMPTY: list[Event] = []  # shared by every missing bucket: never modified
_timestamp = attrgetter("timestamp")


class SessionEvents:
    """``events`` (one session's, in time order: ``Event.sort_key``) and the same events by
    name, each bucket in the same order. Read-only once built."""

    __slots__ = ("events", "by_name", "_times")

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        by_name: dict[str, list[Event]] = {}
        for event in events:
            bucket = by_name.get(event.event_name)
            if bucket is None:
                by_name[event.event_name] = [event]
            else:
                bucket.append(event)
        self.by_name = by_name
        self._times: list[int] | None = None

    def named(self, name: str) -> list[Event]:
        """The events of one name, in order (do not modify)."""
        return self.by_name.get(name, _EMPTY)

    def named_any(self, *names: str) -> list[Event]:
        """The events of any of the names, in order (do not modify)."""
        buckets = [b for b in map(self.by_name.get, names) if b]
        if len(buckets) <= 1:
            return buckets[0] if buckets else _EMPTY
        return sorted(chain.from_iterable(buckets), key=Event.sort_key)

    def bridge_buckets(self) -> list[tuple[str, list[Event]]]:
        """(name, bucket) of the hook bridge's record names (``loomline.*``; do not modify)."""
        return [(name, bucket) for name, bucket in self.by_name.items() if name.startswith(BRIDGE_PREFIX)]

    def has_bridge(self) -> bool:
        return any(name.startswith(BRIDGE_PREFIX) for name in self.by_name)

    def native(self) -> list[Event]:
        """The events that are not the bridge's, in order (``events`` itself if there are none)."""
        if not self.has_bridge():
            return self.events
        return [e for e in self.events if not e.is_bridge]

    def times(self) -> list[int]:
        """The events' timestamps, in order (sorted; cached)."""
        if self._times is None:
            self._times = list(map(_timestamp, self.events))
        return self._times
