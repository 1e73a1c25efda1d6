"""The receiver's own counters, rendered as Prometheus text at ``/metrics``."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable

# Insert latency histogram bucket upper bounds, seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ReceiverMetrics:
    """Thread-safe counters by signal: records received, rejected, stored; requests by
    outcome; insert latency. Gauges (queue depth) and counters kept elsewhere (the storage
    engine's CPU in inserts) are read through callbacks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)
        self.latency_buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self.latency_sum = 0.0
        self.latency_count = 0
        self.gauges: dict[str, Callable[[], float]] = {}
        self.read_counters: dict[str, Callable[[], float]] = {}  # counters kept elsewhere, read when rendered

    def inc(self, name: str, value: float = 1, /, **labels: str) -> None:
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self.counters[key] += value

    def get(self, name: str, **labels: str) -> float:
        with self._lock:
            return self.counters.get((name, tuple(sorted(labels.items()))), 0.0)

    def observe_insert(self, seconds: float) -> None:
        with self._lock:
            self.latency_sum += seconds
            self.latency_count += 1
            for index, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    self.latency_buckets[index] += 1
                    break
            else:
                self.latency_buckets[-1] += 1

    def render(self) -> str:
        """Prometheus text exposition format 0.0.4."""
        lines: list[str] = []
        with self._lock:
            by_name: dict[str, list[tuple[tuple[tuple[str, str], ...], float]]] = defaultdict(list)
            for (name, labels), value in sorted(self.counters.items()):
                by_name[name].append((labels, value))
            for name, series in by_name.items():
                lines.append(f"# TYPE loomline_{name} counter")
                for labels, value in series:
                    label_text = ",".join(f'{k}="{v}"' for k, v in labels)
                    lines.append(f"loomline_{name}{{{label_text}}} {value:g}")
            lines.append("# TYPE loomline_insert_latency_seconds histogram")
            cumulative = 0
            for bound, count in zip(LATENCY_BUCKETS, self.latency_buckets, strict=False):
                cumulative += count
                lines.append(f'loomline_insert_latency_seconds_bucket{{le="{bound}"}} {cumulative}')
            cumulative += self.latency_buckets[-1]
            lines.append(f'loomline_insert_latency_seconds_bucket{{le="+Inf"}} {cumulative}')
            lines.append(f"loomline_insert_latency_seconds_sum {self.latency_sum:g}")
            lines.append(f"loomline_insert_latency_seconds_count {self.latency_count}")
            gauges = dict(self.gauges)
            read_counters = dict(self.read_counters)
        for name, read in sorted(read_counters.items()):
            lines.append(f"# TYPE loomline_{name} counter")
            lines.append(f"loomline_{name} {read():g}")
        for name, read in sorted(gauges.items()):
            lines.append(f"# TYPE loomline_{name} gauge")
            lines.append(f"loomline_{name} {read():g}")
        return "\n".join(lines) + "\n"
