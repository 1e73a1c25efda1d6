"""Pause Python's cyclic garbage collector while a derivation runs.

A derivation allocates a few objects per event (fragments, segments, tuples, lists) and
frees almost all of them by reference counting; nearly none are cyclic garbage. The
collector does not know that: every few hundred allocations it collects the young
generation, and every so often the whole heap, which holds every event of the group (and
the Enricher's cache of up to 200k events). Those full collections made the time per event
grow with the group's size (a 100k-event group ran ~1.4x slower per event than a 1k one,
docs/benchmarks.md "Enrichment"). Pausing automatic collection for the duration loses
nothing: cycles made meanwhile (fragments point at each other) are collected by the next
automatic collection after the pause.

The switch is process-wide, so nested and concurrent pauses are counted: the collector is
re-enabled when the last one ends, and only if it was enabled when the first one began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def paused_gc() -> Iterator[None]:
    """Disable automatic garbage collection inside the block (counted, thread-safe)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
