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
"""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime

from genai_prices import Usage, calc_price

from enrich.model import Event

PROVIDER = "anthropic"
_DATE_SUFFIX = re.compile(r"-\d{8}$")
_FAMILY = re.compile(r"claude-(?:[\d-]+-)?([a-z]+)")


STANDARD_SPEEDS = frozenset({"", "normal", "standard", "default"})
# Prices are remembered per distinct request (a re-derivation prices a session's requests
# again; the first pricing of one is ~90 µs, a remembered one ~3 µs) and per model name,
# both bounded: ~490 bytes a request, and a long-running server sees a new request with
# every api_request, a hostile client a new model name with every record.
PRICE_CACHE_SIZE = 65_536
MODEL_CACHE_SIZE = 1_024


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
    usage = Usage(
        input_tokens=input_tokens + cache_read + cache_write,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=cache_write_1h,
    )
    when = datetime.fromisoformat(day).replace(tzinfo=UTC)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = calc_price(usage, model_ref=ref, provider_id=PROVIDER, genai_request_timestamp=when,
                                price_context=context)
    except (LookupError, ValueError):
        return Price(0.0, False, unpriced_reason="error")
    return Price(float(result.total_price), True, ref)


def computed_cost(event: Event) -> Price:
    """Price one api_request event. Never raises."""
    day = datetime.fromtimestamp(event.timestamp / 1_000_000, UTC).strftime("%Y-%m-%d")
    cache_write = max(event.cache_creation_tokens, event.cache_creation_5m_tokens + event.cache_creation_1h_tokens)
    cache_write_1h = min(event.cache_creation_1h_tokens, cache_write)
    try:
        return _price(event.model, day, event.input_tokens, event.output_tokens,
                      event.cache_read_tokens, cache_write, cache_write_1h, event.speed.strip().lower()[:32])
    except Exception:  # a price library bug must not stop enrichment
        return Price(0.0, False, unpriced_reason="error")
