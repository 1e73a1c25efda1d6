"""Computed cost of an api_request from its tokens, with the genai-prices library. Pure
(genai-prices works offline from its bundled price data; loomline never asks it to update).

* Claude Code's ``input_tokens`` are the uncached input only (the Anthropic API's meaning);
  genai-prices counts ``input_tokens`` as all input including cache reads and writes, so
  the three are added up before pricing.
* Cache creation is priced by TTL where Claude Code reports the split
  (``cache_creation_5m_tokens`` / ``cache_creation_1h_tokens``); unsplit creation tokens
  are priced as 5-minute writes (the API default).
* Prices are looked up as of the request's time, so re-deriving old sessions after a price
  change does not rewrite their history.
* A model genai-prices does not know is priced as the newest known model of the same
  family (``claude-opus-9-9`` → the newest ``claude-opus-*``), and counted in
  ``unpriced_request_count`` only when not even the family is known (computed cost 0).
  The fixtures' ``claude-opus-5-5`` is known to genai-prices 0.2.x and priced directly.
* Service tier: ``api_request`` carries ``speed`` (``normal``, or ``fast`` for fast mode,
  which costs a multiple of standard). A request is never priced at a tier it was not
  served at: a non-standard speed is priced with genai-prices' price variant for it
  (``{"speed": "fast"}``) when the model has one, and otherwise left unpriced (computed
  cost 0) with the reason ``speed:<speed>`` counted in ``unpriced_reasons``. genai-prices
  silently falls back to standard prices for a variant it does not know, so the variant is
  looked up first. Unpriced reasons: ``unknown_model``, ``speed:<speed>``, ``error``.
* Speed: genai-prices takes ~70 µs to price one request (it decomposes the usage and
  checks its units every call), and a live fleet's every api_request is a new request.
  Within one model price (model, day, tier) a price is an affine function of the five
  token counts, and where tiers apply (long-context prices) it is affine within each
  range of total input tokens. So the coefficients are found once per (model, day, tier,
  input range) by asking genai-prices for a base request and for one token more of each
  kind, checked against genai-prices at a further request, and a request is then priced
  from them in ``Decimal``: the same number genai-prices gives, exactly
  (``tests/test_enrich_cost.py`` checks this over generated requests for every Anthropic
  model). Anything outside that (a range too narrow to probe, a check that disagrees,
  counts past ``EXACT_TOKENS_MAX``) is priced by genai-prices itself.
"""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from genai_prices import Usage, calc_price
from genai_prices.types import PriceCalculation, TieredPrices

from enrich.model import Event

PROVIDER = "anthropic"
_DATE_SUFFIX = re.compile(r"-\d{8}$")
_FAMILY = re.compile(r"claude-(?:[\d-]+-)?([a-z]+)")


STANDARD_SPEEDS = frozenset({"", "normal", "standard", "default"})
# Prices are remembered per distinct request (a re-derivation prices a session's requests
# again; computed_cost of a new one is ~3.6 µs from the coefficients below, ~70 µs where
# genai-prices prices it, of a remembered one ~0.6 µs) and per model name,
# both bounded: ~490 bytes a request, and a long-running server sees a new request with
# every api_request, a hostile client a new model name with every record.
PRICE_CACHE_SIZE = 65_536
MODEL_CACHE_SIZE = 1_024
RATES_CACHE_SIZE = 4_096  # per (model, day, tier): a few per model and day in practice
# Token counts up to this are priced from the coefficients: their products and sums stay
# far inside Decimal's 28 digits, so no rounding can differ from genai-prices' own order.
EXACT_TOKENS_MAX = 10**12


@dataclass(frozen=True)
class Price:
    usd: float
    priced: bool  # False: no price known for the model (or tier); usd is 0
    priced_as: str = ""  # the genai-prices model id used
    unpriced_reason: str = ""  # unknown_model, speed:<speed>, error


def _family(model: str) -> str:
    match = _FAMILY.match(model)
    return match.group(1) if match else ""


def _version_key(model_id: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", _DATE_SUFFIX.sub("", model_id)))


@functools.cache
def _known_models() -> tuple[str, ...]:
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    provider = data_snapshot.find_provider_by_id(snapshot.providers, PROVIDER)
    return tuple(model.id for model in provider.models) if provider else ()


@functools.lru_cache(maxsize=MODEL_CACHE_SIZE)
def resolve_model(model: str) -> str:
    """The genai-prices model ref to price ``model`` with ('' if none)."""
    if not model:
        return ""
    try:
        calc_price(Usage(input_tokens=1), model_ref=model, provider_id=PROVIDER)
        return model
    except LookupError:
        pass
    family = _family(model)
    same_family = [m for m in _known_models() if family and _family(m) == family and "latest" not in m]
    return max(same_family, key=_version_key, default="")


@functools.cache
def tier_variants(ref: str) -> frozenset[tuple[str, str]]:
    """The (key, value) price-variant conditions genai-prices has for model ``ref``."""
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    provider = data_snapshot.find_provider_by_id(snapshot.providers, PROVIDER)
    found: set[tuple[str, str]] = set()
    for model in provider.models if provider else ():
        if model.id == ref or model.is_match(ref):
            for variant in model.price_variants or ():
                if len(variant.when) == 1:
                    found.update(variant.when.items())
            break
    return frozenset(found)


@functools.lru_cache(maxsize=PRICE_CACHE_SIZE)
def _price(model: str, day: str, input_tokens: int, output_tokens: int, cache_read: int,
           cache_write: int, cache_write_1h: int, speed: str = "") -> Price:
    ref = resolve_model(model)
    if not ref:
        return Price(0.0, False, unpriced_reason="unknown_model")
    context: dict[str, str] | None = None
    if speed not in STANDARD_SPEEDS:
        if ("speed", speed) not in tier_variants(ref):
            return Price(0.0, False, ref, unpriced_reason=f"speed:{speed}")
        context = {"speed": speed}
    counts = (input_tokens, output_tokens, cache_read, cache_write - cache_write_1h, cache_write_1h)
    if 0 <= min(counts) and max(counts) <= EXACT_TOKENS_MAX:
        rates = _rates(ref, day, speed if context else "")
        usd = rates.usd(counts) if rates is not None else None
        if usd is not None:
            return Price(usd, True, ref)
    try:
        total = _genai_total(ref, day, context, counts)
    except (LookupError, ValueError):
        return Price(0.0, False, unpriced_reason="error")
    return Price(float(total), True, ref)


def _genai_total(ref: str, day: str, context: dict[str, str] | None, counts: tuple[int, ...]) -> Decimal:
    """genai-prices' total for one request; ``counts`` are (uncached input, output, cache
    read, 5-minute cache write, 1-hour cache write) tokens."""
    return _genai(ref, day, context, counts).total_price


def _genai(ref: str, day: str, context: dict[str, str] | None, counts: tuple[int, ...]) -> PriceCalculation:
    input_tokens, output_tokens, cache_read, write_5m, write_1h = counts
    usage = Usage(
        input_tokens=input_tokens + cache_read + write_5m + write_1h,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read,
        cache_write_tokens=write_5m + write_1h,
        cache_write_1h_tokens=write_1h,
    )
    when = datetime.fromisoformat(day).replace(tzinfo=UTC)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return calc_price(usage, model_ref=ref, provider_id=PROVIDER, genai_request_timestamp=when,
                          price_context=context)


# a range of total input: the base request probed there, its price, one more token's price by kind
_Range = tuple[tuple[int, ...], Decimal, tuple[Decimal, ...]]
_UNITS = ((1, 0, 0, 0, 0), (0, 1, 0, 0, 0), (0, 0, 1, 0, 0), (0, 0, 0, 1, 0), (0, 0, 0, 0, 1))


@dataclass(frozen=True)
class _Rates:
    """A model price as coefficients: per range of total input tokens (the tiers' starts,
    genai-prices' ``total_input_tokens > start``), the price of a base request there and
    what one more token of each kind adds; None for a range that could not be probed."""

    starts: tuple[int, ...]
    ranges: tuple[_Range | None, ...]

    def total(self, counts: tuple[int, ...]) -> Decimal | None:
        found = self.ranges[self._range_of(counts)]
        if found is None:
            return None
        base, price, slopes = found
        return price + sum((slope * (count - at) for slope, count, at in zip(slopes, counts, base, strict=True)),
                           Decimal(0))

    def usd(self, counts: tuple[int, ...]) -> float | None:
        """float(total(counts)), computed in integers: every coefficient times _scale is
        a whole number, the sum is then exact, and dividing two ints rounds correctly, as
        float() of the exact Decimal does, so the float is the same (~0.7 µs against ~1.8)."""
        found = self._scaled[self._range_of(counts)]
        if found is None:
            return None
        base, price, slopes = found
        a, b, c, d, e = slopes
        return (price + a * (counts[0] - base[0]) + b * (counts[1] - base[1]) + c * (counts[2] - base[2])
                + d * (counts[3] - base[3]) + e * (counts[4] - base[4])) / self._scale

    def _range_of(self, counts: tuple[int, ...]) -> int:
        total_input = counts[0] + counts[2] + counts[3] + counts[4]
        return sum(1 for start in self.starts if total_input > start)

    @functools.cached_property
    def _exponent(self) -> int:
        """The fewest decimal places that write every finite coefficient."""
        exponents = [value.as_tuple().exponent for found in self.ranges if found is not None
                     for value in (found[1], *found[2])]
        return max([0, *(-e for e in exponents if isinstance(e, int))])

    @functools.cached_property
    def _scale(self) -> int:
        return 10 ** self._exponent

    @functools.cached_property
    def _scaled(self) -> tuple[tuple[tuple[int, ...], int, tuple[int, ...]] | None, ...]:
        """The ranges' coefficients as whole multiples of 1/_scale, from their digits (no
        Decimal context, so nothing rounds); None where one is not finite (total() then)."""
        scaled: list[tuple[tuple[int, ...], int, tuple[int, ...]] | None] = []
        for found in self.ranges:
            values = () if found is None else (found[1], *found[2])
            whole = [w for w in (_whole(value, self._exponent) for value in values) if w is not None]
            if found is None or len(whole) != len(values):
                scaled.append(None)
            else:
                scaled.append((found[0], whole[0], tuple(whole[1:])))
        return tuple(scaled)


def _whole(value: Decimal, exponent: int) -> int | None:
    """``value`` times 10**exponent as an int, from its digits (None if not finite)."""
    sign, digits, places = value.as_tuple()
    if not isinstance(places, int):  # NaN or infinity
        return None
    magnitude = int("".join(map(str, digits)) or "0") * 10 ** (places + exponent)
    return -magnitude if sign else magnitude


@functools.lru_cache(maxsize=RATES_CACHE_SIZE)
def _rates(ref: str, day: str, speed: str) -> _Rates | None:
    """The coefficients of ``ref``'s price on ``day`` at ``speed`` ('' standard), or None
    (price every request with genai-prices)."""
    context = {"speed": speed} if speed else None
    try:
        model_price = _genai(ref, day, context, (0, 0, 0, 0, 0)).model_price
        starts = tuple(sorted({tier.start for value in vars(model_price).values() if isinstance(value, TieredPrices)
                               for tier in value.tiers}))
        ranges: list[_Range | None] = []
        for index in range(len(starts) + 1):
            low = 0 if index == 0 else starts[index - 1] + 1  # the range's smallest total input
            high = starts[index] if index < len(starts) else None  # its largest (None: no end)
            if high is not None and low + 3 > high:  # too narrow for the probes and the check
                ranges.append(None)
                continue
            base = (low, 0, 0, 0, 0)
            price = _genai_total(ref, day, context, base)
            slopes = tuple(_genai_total(ref, day, context, tuple(b + u for b, u in zip(base, unit, strict=True))) - price
                           for unit in _UNITS)
            ranges.append((base, price, slopes))
        rates = _Rates(starts, tuple(ranges))
        for index, found in enumerate(rates.ranges):  # one more request per range, priced both ways
            if found is None:
                continue
            low = found[0][0]
            check = (low + 1, 3, 0, 1, 0) if index < len(starts) else (low + 7, 11, 5, 3, 2)
            want = _genai_total(ref, day, context, check)
            if rates.total(check) != want or rates.usd(check) not in (None, float(want)):
                return None
        return rates
    except (LookupError, ValueError):
        return None


DAY_US = 86_400 * 1_000_000


@functools.lru_cache(maxsize=RATES_CACHE_SIZE)
def _day(days: int) -> str:
    """The UTC date ``days`` days after the epoch, as genai-prices is asked for it (cached:
    strftime per request was ~1.7 µs, most of pricing a request seen before)."""
    return datetime.fromtimestamp(days * 86_400, UTC).strftime("%Y-%m-%d")


def computed_cost(event: Event) -> Price:
    """Price one api_request event. Never raises."""
    cache_write = max(event.cache_creation_tokens, event.cache_creation_5m_tokens + event.cache_creation_1h_tokens)
    cache_write_1h = min(event.cache_creation_1h_tokens, cache_write)
    try:
        day = _day(event.timestamp // DAY_US)
        return _price(event.model, day, event.input_tokens, event.output_tokens,
                      event.cache_read_tokens, cache_write, cache_write_1h, event.speed.strip().lower()[:32])
    except Exception:  # a price library bug must not stop enrichment
        return Price(0.0, False, unpriced_reason="error")
