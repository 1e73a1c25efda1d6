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


def cost_sum(values: Iterable[float]) -> float:
    """math.fsum (exact, order-independent) of the values within [0, MAX_RECORD_COST_USD]."""
    return math.fsum(v for v in values if math.isfinite(v) and 0.0 <= v <= MAX_RECORD_COST_USD)


def micros_sum(values: Iterable[int]) -> int:
    """Exact integer sum of the micro-dollar values within [0, MAX_RECORD_COST_MICROS],
    saturating at Int64's maximum (the column's type)."""
    return min(sum(v for v in values if 0 <= v <= MAX_RECORD_COST_MICROS), INT64_MAX)


def token_sum(values: Iterable[int]) -> int:
    """Sum of the token counts within [0, MAX_RECORD_TOKENS], saturating at UInt64's maximum."""
    return min(sum(v for v in values if 0 <= v <= MAX_RECORD_TOKENS), UINT64_MAX)


def finite_or_none(value: float | None) -> float | None:
    """The value if it is a finite number, else None (stored as NULL, rendered as null)."""
    return value if value is not None and math.isfinite(value) else None
