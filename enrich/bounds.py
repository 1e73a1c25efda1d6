"""Sums over stored numbers that cannot overflow or turn into inf / NaN. Pure.

Enrichment reads rows that are already stored, so it cannot trust the receiver's range
checks (older rows, another writer, a direct insert): one api_request with
``cost_usd = 1.7e308`` must not make a session's total infinite (``math.fsum`` raises
OverflowError on that) or stop its group from being derived. A value outside its bound is
garbage, not a large figure: it counts as 0 in every sum. Bounds are generous: no real
Claude Code request comes near them. They are the receiver's decode-time bounds
(docs/limits.md), so rows stored before those existed sum the same as rows stored since.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

MAX_RECORD_COST_USD = 100_000.0  # one API request; above this (or < 0, inf, NaN) counts as 0
MAX_RECORD_COST_MICROS = 100_000 * 1_000_000
MAX_RECORD_TOKENS = 10**10  # one API request's tokens of one kind
INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1


# Each sum first tries the whole list in C (sum / fsum, min, max): when every value is in
# bounds, as in any real session, that is the answer; only a list holding an out-of-bounds
# value is filtered one value at a time. The same result either way, ~4x faster.

def cost_sum(values: Iterable[float]) -> float:
    """math.fsum (exact, order-independent) of the values within [0, MAX_RECORD_COST_USD]."""
    values = list(values)
    try:
        total = math.fsum(values)
    except (OverflowError, ValueError):  # a sum past float's range, or inf - inf
        total = math.inf
    if math.isfinite(total) and (not values or (0.0 <= min(values) and max(values) <= MAX_RECORD_COST_USD)):
        return total  # finite: no NaN or infinity among them, so min and max are exact
    return math.fsum(v for v in values if math.isfinite(v) and 0.0 <= v <= MAX_RECORD_COST_USD)


def micros_sum(values: Iterable[int]) -> int:
    """Exact integer sum of the micro-dollar values within [0, MAX_RECORD_COST_MICROS],
    saturating at Int64's maximum (the column's type)."""
    values = list(values)
    if values and not (0 <= min(values) and max(values) <= MAX_RECORD_COST_MICROS):
        values = [v for v in values if 0 <= v <= MAX_RECORD_COST_MICROS]
    return min(sum(values), INT64_MAX)


def token_sum(values: Iterable[int]) -> int:
    """Sum of the token counts within [0, MAX_RECORD_TOKENS], saturating at UInt64's maximum."""
    values = list(values)
    if values and not (0 <= min(values) and max(values) <= MAX_RECORD_TOKENS):
        values = [v for v in values if 0 <= v <= MAX_RECORD_TOKENS]
    return min(sum(values), UINT64_MAX)


def finite_or_none(value: float | None) -> float | None:
    """The value if it is a finite number, else None (stored as NULL, rendered as null)."""
    return value if value is not None and math.isfinite(value) else None
