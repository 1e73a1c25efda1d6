"""The bounded sums (enrich/bounds.py): every value outside its bound counts as 0, whatever
else the list holds."""

from __future__ import annotations

import math

from enrich.bounds import (
    MAX_RECORD_TOKENS,
    cost_sum,
    micros_sum,
    token_sum,
)


def test_a_session_of_absurd_values_sums_to_what_its_sane_ones_hold() -> None:
    assert cost_sum([1.5, math.nan, 2.5, math.inf, -3.0, 1.7e308, 1.7e308]) == 4.0
    assert token_sum([10, -5, 2**64 - 1, 20]) == 30
    assert token_sum([MAX_RECORD_TOKENS, MAX_RECORD_TOKENS]) == 2 * MAX_RECORD_TOKENS
    assert micros_sum([5, -1, 10**20, 7]) == 12
    assert cost_sum([]) == 0.0 and token_sum([]) == 0 and micros_sum([]) == 0
