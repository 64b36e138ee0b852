"""The genai-prices table as the cost processor reads it: cached lookups of where a call is
priced, the model, and its price in force, and per-token rates derived from it.

genai-prices' own calculation decomposes a usage each time (~100 µs); a price that is a
fixed rate per token (below any volume tier) is turned into rates once, proven at a probe
point, and a record then costs a few multiplications (see :func:`_linear_rates`). Every
cache starts again past a bound and when genai-prices switches to another snapshot.
"""

from __future__ import annotations

import copy
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final, NamedTuple

from llmlog import _cost_mode
from llmlog._cost_where import HF_ROUTER, Where, resolve

_MTOK: Final = 1_000_000
# genai-prices usage keys, in the order of the tuples below. input_tokens and
# output_tokens are totals; the others are partitions of them, which is how
# genai-prices avoids charging a cached token twice.
KEYS: Final = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_reasoning_tokens",
)
# A point inside the valid region (partitions never exceed their totals, even
# after adding one more million of any key) at which the rates are probed.
_PROBE: Final = (8 * _MTOK, 8 * _MTOK, 2 * _MTOK, 2 * _MTOK, _MTOK, 2 * _MTOK)


class Rates(NamedTuple):
    """USD per token for each of ``KEYS``, valid while input tokens <= ``max_input``."""

    per_token: tuple[float, ...]
    max_input: int | None


class Priced(NamedTuple):
    """What a call is priced with: genai's ModelPrice, its rates (None: not linear), the
    conditions it was priced at, and the first one genai-prices lists no price for."""

    model_price: Any
    rates: Rates | None
    conditions: _cost_mode.Context
    missing: tuple[str, str] | None = None


_MAX_CACHED: Final = 4_096
"""Lookups kept per cache; past it the cache starts again (a long-running app may see a new
model name per tenant, fine-tune or deployment, and a tiered price per day)."""


class Table:
    """genai-prices lookups, cached for the life of one price snapshot."""

    def __init__(self) -> None:
        import genai_prices
        from genai_prices import data_snapshot

        self._snapshot_module = data_snapshot
        self.snapshot: Any = data_snapshot.get_snapshot()
        self.version = f"genai-prices {genai_prices.__version__}"
        if self.snapshot.from_auto_update:
            self.version += f" (updated {self.snapshot.timestamp:%Y-%m-%dT%H:%M})"
        self._wheres: dict[tuple[str | None, str | None, bool], Where | str] = {}
        self._models: dict[tuple[tuple[str | None, ...], str], tuple[Any, Any] | None] = {}
        # (id(standard ModelPrice), price context, day) -> (that ModelPrice, kept alive
        # so the id stays its own; what to price with)
        self._prices: dict[tuple[int, _cost_mode.Context, date | None], tuple[Any, Priced]] = {}

    def is_current(self) -> bool:
        """False once genai-prices switched to another snapshot (e.g. an update)."""
        return self._snapshot_module.get_snapshot() is self.snapshot

    def where(self, provider: str | None, host: Any, operation: Any) -> Where | str:
        """Which providers' prices apply to a call to ``host`` (see ``_cost_where``)."""
        host = host if isinstance(host, str) and host else None
        key = (provider, host, operation == "decisions")
        found = self._wheres.get(key)
        if found is None:
            if len(self._wheres) >= _MAX_CACHED:  # a host per tenant or gateway: no end
                self._wheres.clear()
            found = self._wheres[key] = resolve(self.snapshot, provider, host, operation)
        return found

    def model(self, providers: tuple[str | None, ...], model_ref: str) -> tuple[Any, Any] | None:
        """(genai Provider, ModelInfo) for a model name, or None when unknown."""
        key = (providers, model_ref)
        if key not in self._models:
            if len(self._models) >= _MAX_CACHED:  # a name per tenant or fine-tune: no end
                self._models.clear()
            self._models[key] = self._find(providers, model_ref)
        return self._models[key]

    def _find(self, providers: tuple[str | None, ...], model_ref: str) -> tuple[Any, Any] | None:
        for provider_id in providers:
            if provider_id == HF_ROUTER:
                model_ref, _, served_by = model_ref.rpartition(":")
                if not model_ref:
                    continue
                provider_id = f"huggingface_{served_by}"
            if provider_id is None and _OPEN_WEIGHTS_COPY.search(model_ref):
                continue  # see _OPEN_WEIGHTS_COPY: no host said who served it
            try:
                found: tuple[Any, Any] = self.snapshot.find_provider_model(
                    model_ref, None, provider_id, None
                )
            except LookupError:
                continue
            return found
        return None

    def prices(self, model_info: Any, when: datetime, context: _cost_mode.Context) -> Priced:
        """The genai ModelPrice in force at ``when`` under ``context``, and its per-token
        rates; ``missing`` names a condition genai-prices lists no price for."""
        standard = model_info.get_prices(when)
        # Variant prices start on a date (genai-prices tracks them from then on).
        key = (id(standard), context, when.date() if context else None)
        cached = self._prices.get(key)
        if cached is None or cached[0] is not standard:
            if len(self._prices) >= _MAX_CACHED:  # a variant's key holds the day
                self._prices.clear()
            if not context:
                priced = Priced(standard, _linear_rates(standard), ())
            elif missing := _cost_mode.unlisted(model_info, when, context):
                priced = Priced(standard, None, (), missing)
            else:
                variant = model_info.get_prices(when, dict(context))
                priced = Priced(variant, _linear_rates(variant), context)
            cached = self._prices[key] = (standard, priced)
        return cached[1]


def exact_price(
    model_price: Any, counts: tuple[int, ...], modalities: dict[str, Any] | None = None
) -> Decimal:
    from genai_prices import Usage

    usage = Usage(**dict(zip(KEYS, counts, strict=True)), **(modalities or {}))
    return Decimal(model_price.calc_price(usage)["total_price"])


def _linear_rates(model_price: Any) -> Rates | None:
    """Derive per-token rates from genai-prices, and prove them at the probe point.

    Volume tiers charge every token a higher rate once input passes a
    threshold; below the lowest threshold the base prices apply, so the rates
    come from a copy with only base prices and hold up to that threshold.
    Anything else that is not a fixed rate per token fails the proof, and
    those models keep going through genai-prices' own calculation.
    """
    from genai_prices.types import TieredPrices

    base_only = copy.copy(model_price)
    limit: int | None = None
    for key, value in vars(model_price).items():
        if isinstance(value, TieredPrices):
            vars(base_only)[key] = value.base
            lowest = min((tier.start for tier in value.tiers), default=None)
            if lowest is not None:
                limit = lowest if limit is None else min(limit, lowest)
    try:
        at_probe = exact_price(base_only, _PROBE)
        rates = []
        for index in range(len(KEYS)):
            bumped = list(_PROBE)
            bumped[index] += _MTOK
            rates.append((exact_price(base_only, tuple(bumped)) - at_probe) / _MTOK)
    except (ValueError, ArithmeticError, LookupError):
        return None
    predicted = sum((rate * count for rate, count in zip(rates, _PROBE, strict=True)), Decimal(0))
    if abs(predicted - at_probe) > Decimal("1e-9"):
        return None
    return Rates(tuple(float(rate) for rate in rates), limit)


_table: Table | None = None


def current_table() -> Table:
    global _table
    if _table is None or not _table.is_current():
        _table = Table()
    return _table


_OPEN_WEIGHTS_COPY: Final = re.compile(
    r"distill|:(?:latest|\d+(?:\.\d+)?[bm](?![a-z])|\d+x\d+b|[\w.-]*(?:q[2-8]_|fp16|bf16|gguf))",
    re.IGNORECASE,
)
"""A name of an open model's copy run by the app's own server: a distillation
(``deepseek-r1-distill-qwen-32b``) or an Ollama tag of size or quantization
(``deepseek-r1:7b``, ``llama3:latest``, ``qwen2.5:14b-instruct-q4_K_M``); not a Bedrock
version (``...-v1:0``) or a fine-tune (``ft:gpt-4o:...``). Not priced from any provider's
table (genai-prices' DeepSeek rule takes any ``deepseek-r1*`` name for its API's
``deepseek-reasoner``) where no host said who served the call."""
