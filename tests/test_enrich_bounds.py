"""The bounded sums (enrich/bounds.py) against their definition: every value outside its
bound counts as 0, whatever else the list holds, and the fast whole-list path agrees."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from enrich.bounds import (
    INT64_MAX,
    MAX_RECORD_COST_MICROS,
    MAX_RECORD_COST_USD,
    MAX_RECORD_TOKENS,
    UINT64_MAX,
    cost_sum,
    micros_sum,
    token_sum,
)

FLOATS = st.one_of(st.floats(0, MAX_RECORD_COST_USD), st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from([0.0, -0.0, MAX_RECORD_COST_USD, 1.7e308, -1e-300, math.inf, -math.inf, math.nan]))
INTS = st.one_of(st.integers(0, 10**6), st.integers(-(2**63), 2**64 - 1),
                 st.sampled_from([0, -1, MAX_RECORD_TOKENS, MAX_RECORD_TOKENS + 1, MAX_RECORD_COST_MICROS,
                                  MAX_RECORD_COST_MICROS + 1, 2**64 - 1]))


@settings(max_examples=500, deadline=None)
@given(values=st.lists(FLOATS, max_size=40))
def test_cost_sum_counts_what_is_out_of_bounds_as_zero(values: list[float]) -> None:
    want = math.fsum(v for v in values if math.isfinite(v) and 0.0 <= v <= MAX_RECORD_COST_USD)
    got = cost_sum(iter(values))
    assert got == want and math.isfinite(got)


@settings(max_examples=500, deadline=None)
@given(values=st.lists(INTS, max_size=40))
def test_integer_sums_count_what_is_out_of_bounds_as_zero_and_saturate(values: list[int]) -> None:
    assert token_sum(iter(values)) == min(sum(v for v in values if 0 <= v <= MAX_RECORD_TOKENS), UINT64_MAX)
    assert micros_sum(iter(values)) == min(sum(v for v in values if 0 <= v <= MAX_RECORD_COST_MICROS), INT64_MAX)


def test_a_session_of_absurd_values_sums_to_what_its_sane_ones_hold() -> None:
    assert cost_sum([1.5, math.nan, 2.5, math.inf, -3.0, 1.7e308, 1.7e308]) == 4.0
    assert token_sum([10, -5, 2**64 - 1, 20]) == 30
    assert token_sum([MAX_RECORD_TOKENS, MAX_RECORD_TOKENS]) == 2 * MAX_RECORD_TOKENS
    assert cost_sum([]) == 0.0 and token_sum([]) == 0 and micros_sum([]) == 0
