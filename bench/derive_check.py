"""Is the derivation's output unchanged? A fingerprint (sha256 of ``repr``) of everything
``derive`` returns for a fixed set of inputs, to compare two checkouts before and after a
change that should leave every derived row identical (a speed-up, a refactor).

Cases: the benchmark's three shapes (bench/enrich.py) at 1k and 20k events; several
seeded fleets (loomline/fleet.py) with two orgs each, every org derived as one group at two
``now``s (one in the middle, so sessions are open or timed out, one after the end); and
the captured Claude Code scenarios (tests/fixtures), with and without the hook bridge.
Each input is also derived reversed (order independence).

    python -m bench.derive_check --write /tmp/before.json     # in the old checkout
    python -m bench.derive_check --against /tmp/before.json   # in the new one: exit 1 on a difference
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.enrich import decode_rows, fleet_shape, hot_shape, issue_shape
from enrich.derive import derive
from enrich.model import Event, event_from_row

MINUTE_US = 60 * 1_000_000


def _fingerprint(events: list[Event], now_us: int) -> str:
    forward = repr(derive(events, now_us))
    if repr(derive(list(reversed(events)), now_us)) != forward:
        return "order-dependent:" + hashlib.sha256(forward.encode()).hexdigest()
    return hashlib.sha256(forward.encode()).hexdigest()


def cases(quick: bool = False) -> Iterator[tuple[str, list[Event], int]]:
    """(name, events, now) for every case."""
    sizes = (1000,) if quick else (1000, 20_000)
    for name, shape in (("issue", issue_shape), ("hot", hot_shape), ("fleet", fleet_shape)):
        for n in sizes:
            events = shape(n)
            yield f"{name}-{n}", events, max(e.timestamp for e in events) + MINUTE_US
    from loomline.fleet import generate

    for seed in (1, 2, 3) if quick else (1, 2, 3, 4, 5):
        rows = decode_rows(generate(seed=seed, orgs=2, users=3, sessions=24, days=2, hook_bridge_share=0.5,
                                    clear_rate=0.3, fork_rate=0.2, manual_compact_rate=0.1))
        by_org: dict[str, list[Event]] = {}
        for row in rows:
            event = event_from_row(row)
            by_org.setdefault(event.org_id, []).append(event)
        for org, events in sorted(by_org.items()):
            first, last = min(e.timestamp for e in events), max(e.timestamp for e in events)
            for label, now in (("mid", (first + last) // 2), ("end", last + MINUTE_US)):
                yield f"fleet-seed{seed}-{org}-{label}", events, now
    try:
        from tests.fixtures import SCENARIOS
        from tests.test_enrich_replay import scenario_events
    except ImportError:  # outside a source checkout
        return
    for scenario in SCENARIOS:
        for hooks in (False, True):
            events = scenario_events(scenario, hooks)
            if events:
                yield f"scenario-{scenario}-{'hooks' if hooks else 'native'}", events, \
                    max(e.timestamp for e in events) + MINUTE_US


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", type=Path, help="write the fingerprints here")
    parser.add_argument("--against", type=Path, help="compare with fingerprints written before")
    parser.add_argument("--quick", action="store_true", help="1k shapes and three fleets only")
    args = parser.parse_args(argv)
    found = {}
    for name, events, now in cases(args.quick):
        found[name] = _fingerprint(events, now)
        print(f"{name:55} {len(events):>7} events  {found[name][:16]}", flush=True)
    if args.write:
        args.write.write_text(json.dumps(found, indent=1, sort_keys=True))
    failed = [name for name, value in found.items() if value.startswith("order-dependent")]
    if args.against:
        before = json.loads(args.against.read_text())
        failed += [name for name in found if name in before and before[name] != found[name]]
        missing = sorted(set(before) - set(found)) if not args.quick else []
        print(f"compared {sum(1 for n in found if n in before)} cases with {args.against}: "
              f"{len(failed)} differ{', missing ' + ', '.join(missing) if missing else ''}")
        failed += missing
    if failed:
        print("DIFFERENT: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
