"""The computed cost's fast path (coefficients per model price) against genai-prices
itself: the same number, exactly, for every Anthropic model genai-prices knows."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from enrich.cost import EXACT_TOKENS_MAX, _genai_total, _known_models, _price, _rates, tier_variants

MODELS = _known_models()
# days around the price changes in genai-prices' data, and today's
DAYS = ("2024-03-01", "2025-05-22", "2025-11-24", "2026-02-17", "2026-06-30", "2026-12-07")
# every count kind near a long-context threshold (200k total input), small, and large
COUNTS = st.one_of(st.integers(0, 2_000), st.integers(0, 250_000), st.integers(0, EXACT_TOKENS_MAX),
                   st.sampled_from([0, 1, 199_999, 200_000, 200_001, EXACT_TOKENS_MAX]))


def _speeds(model: str) -> list[str]:
    return [""] + sorted(value for key, value in tier_variants(model) if key == "speed")


@settings(max_examples=400, deadline=None)
@given(model=st.sampled_from(MODELS), day=st.sampled_from(DAYS), data=st.data(),
       counts=st.tuples(COUNTS, COUNTS, COUNTS, COUNTS, COUNTS))
def test_fast_path_prices_exactly_as_genai_prices(model: str, day: str, data: st.DataObject,
                                                  counts: tuple[int, int, int, int, int]) -> None:
    speed = data.draw(st.sampled_from(_speeds(model)))
    input_tokens, output_tokens, cache_read, write_5m, write_1h = counts
    got = _price.__wrapped__(model, day, input_tokens, output_tokens, cache_read, write_5m + write_1h, write_1h, speed)
    assert got.priced
    want = float(_genai_total(model, day, {"speed": speed} if speed else None, counts))
    assert got.usd == want


def test_every_model_price_has_coefficients() -> None:
    """The fast path serves every Anthropic model on every day (None would mean every
    request of it goes to genai-prices: correct, but the slow way)."""
    for model in MODELS:
        for day in DAYS:
            for speed in _speeds(model):
                assert _rates(model, day, speed) is not None, (model, day, speed)


def test_a_tiered_model_is_priced_at_its_long_context_rate_above_the_threshold() -> None:
    below = _price.__wrapped__("claude-sonnet-4-5", "2026-06-30", 199_000, 1_000, 0, 0, 0, "")
    above = _price.__wrapped__("claude-sonnet-4-5", "2026-06-30", 201_000, 1_000, 0, 0, 0, "")
    assert above.usd > 2 * below.usd  # every token at the higher rate past 200k input
    assert above.usd == float(_genai_total("claude-sonnet-4-5", "2026-06-30", None, (201_000, 1_000, 0, 0, 0)))


def test_counts_past_the_exact_range_are_priced_by_genai_prices() -> None:
    huge = EXACT_TOKENS_MAX * 1_000
    got = _price.__wrapped__("claude-opus-5-5", "2026-06-30", huge, 1, 0, 0, 0, "")
    assert got.priced and got.usd == float(_genai_total("claude-opus-5-5", "2026-06-30", None, (huge, 1, 0, 0, 0)))


def test_the_tier_boundaries_are_priced_exactly_as_genai_prices() -> None:
    """genai-prices moves a request to a tier when its total input is past the tier's start
    (``>``): at the start itself, one token either side, whichever kind the tokens are."""
    boundaries = 0
    for model in MODELS:
        for day in DAYS:
            rates = _rates(model, day, "")
            assert rates is not None
            for start in rates.starts:
                for total in (start - 1, start, start + 1, start + 2):
                    for kind in (0, 2, 3, 4):
                        counts = [0, 17, 0, 0, 0]
                        counts[kind] = total
                        got = _price.__wrapped__(model, day, counts[0], counts[1], counts[2],
                                                 counts[3] + counts[4], counts[4], "")
                        assert got.usd == float(_genai_total(model, day, None, tuple(counts))), (model, day, counts)
                        boundaries += 1
    assert boundaries  # genai-prices has tiered (long-context) Anthropic prices to check


def test_a_request_at_an_absurd_time_is_unpriced_not_an_error_that_stops_its_session() -> None:
    """The day is found from the timestamp inside the guard: a hostile one past year 9999
    (or before year 1) leaves the request unpriced instead of raising out of the derivation."""
    from enrich.cost import computed_cost
    from enrich.model import Event

    for timestamp in (2**63 - 1, -(2**63), 10**18):
        price = computed_cost(Event("org", "s", 1, "api_request", timestamp, model="claude-sonnet-4-5",
                                    input_tokens=10, output_tokens=5))
        assert not price.priced and price.unpriced_reason == "error"
    ok = computed_cost(Event("org", "s", 1, "api_request", 1_780_000_000_000_000, model="claude-sonnet-4-5",
                             input_tokens=10, output_tokens=5))
    assert ok.priced and ok.usd == float(_genai_total("claude-sonnet-4-5", "2026-05-28", None, (10, 5, 0, 0, 0)))
