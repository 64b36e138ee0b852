"""Cost at write time: ``cost_usd`` and ``price_source`` from the genai-prices table.

Prices come only from the ``genai-prices`` package (a maintained table with
historic prices and cache/reasoning partitions); none are written here. An
unpriced call gets ``cost_usd: None``, never 0, and ``price_source`` says why.

The processor runs on the writer thread for every record, so it is built to be
cheap after the first call per model: which price table a server's calls use
(``_cost_where``) and the model lookup are cached, and the per-token rates (linear
below any volume tier) are derived once from genai-prices itself and verified, so a
record costs a few multiplications instead of genai-prices' full decomposition (~100 µs).
The conditions that change a price (tier, fast mode, geo) are read by ``_cost_mode``.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import MutableMapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final, NamedTuple

from llmlog import _cost_mode
from llmlog._cost_by_model import parts_by_model
from llmlog._cost_usage import (
    NO_USAGE,
    Counts,
    NoUsage,
    Unpriced,
    billed_extras,
    image_tool_part,
    quantities,
    token_counts,
)
from llmlog._cost_where import HF_ROUTER, Where, resolve
from llmlog._guard import report_internal_error
from llmlog._record import EVENT_DROPPED

__all__ = ["add_cost", "price"]

_MTOK: Final = 1_000_000
# genai-prices usage keys, in the order of the tuples below. input_tokens and
# output_tokens are totals; the others are partitions of them, which is how
# genai-prices avoids charging a cached token twice.
_KEYS: Final = (
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


class _Rates(NamedTuple):
    """USD per token for each of ``_KEYS``, valid while input tokens <= ``max_input``."""

    per_token: tuple[float, ...]
    max_input: int | None


class _Priced(NamedTuple):
    """What a call is priced with: genai's ModelPrice, its rates (None: not linear), the
    conditions it was priced at, and the first one genai-prices lists no price for."""

    model_price: Any
    rates: _Rates | None
    conditions: _cost_mode.Context
    missing: tuple[str, str] | None = None


_MAX_CACHED: Final = 4_096
"""Lookups kept per cache; past it the cache starts again (a long-running app may see a new
model name per tenant, fine-tune or deployment, and a tiered price per day)."""


class _Table:
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
        self._prices: dict[tuple[int, _cost_mode.Context, date | None], tuple[Any, _Priced]] = {}

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

    def prices(self, model_info: Any, when: datetime, context: _cost_mode.Context) -> _Priced:
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
                priced = _Priced(standard, _linear_rates(standard), ())
            elif missing := _cost_mode.unlisted(model_info, when, context):
                priced = _Priced(standard, None, (), missing)
            else:
                variant = model_info.get_prices(when, dict(context))
                priced = _Priced(variant, _linear_rates(variant), context)
            cached = self._prices[key] = (standard, priced)
        return cached[1]


def _exact_price(
    model_price: Any, counts: tuple[int, ...], modalities: dict[str, Any] | None = None
) -> Decimal:
    from genai_prices import Usage

    usage = Usage(**dict(zip(_KEYS, counts, strict=True)), **(modalities or {}))
    return Decimal(model_price.calc_price(usage)["total_price"])


def _linear_rates(model_price: Any) -> _Rates | None:
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
        at_probe = _exact_price(base_only, _PROBE)
        rates = []
        for index in range(len(_KEYS)):
            bumped = list(_PROBE)
            bumped[index] += _MTOK
            rates.append((_exact_price(base_only, tuple(bumped)) - at_probe) / _MTOK)
    except (ValueError, ArithmeticError, LookupError):
        return None
    predicted = sum((rate * count for rate, count in zip(rates, _PROBE, strict=True)), Decimal(0))
    if abs(predicted - at_probe) > Decimal("1e-9"):
        return None
    return _Rates(tuple(float(rate) for rate in rates), limit)


def warm_up() -> None:
    """Load the price table and price one made-up call now, as the writer starts: left to
    the first record, the imports can run while the interpreter exits, which turns the
    exit status of a Ctrl-C (130) into 1."""
    try:
        price({"provider": "openai", "model": "gpt-4o", "usage": {"input_tokens": 1}})
    except Exception as exc:
        report_internal_error(exc, "cost")


_table: _Table | None = None


def _current_table() -> _Table:
    global _table
    if _table is None or not _table.is_current():
        _table = _Table()
    return _table


# What genai-prices would price wrongly without its own rate (audio as text, a search as
# free): usage key, the rate it needs, and its name in the reason.
_NEEDS_RATE: Final = (
    ("input_audio_tokens", "input_audio_mtok", "audio input"),
    ("output_audio_tokens", "output_audio_mtok", "audio output"),
    ("web_searches", "web_searches_kcount", "web search"),
    ("storage_searches", "storage_searches_kcount", "file search"),
)


def _missing_rate(extras: dict[str, Any], model_price: Any) -> str | None:
    """The rate a usage needs and the price does not list, as ``name (price key)``."""
    for key, rate, name in _NEEDS_RATE:
        if extras.get(key) and getattr(model_price, rate, None) is None:
            return f"{name} rate ({rate})"
    return None


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


def _bills_tokens(model_price: Any) -> bool:
    """Whether a genai-prices price has any per-token rate (a zero rate counts: free)."""
    rates = vars(model_price).items()
    return any(key.endswith("_mtok") and value is not None for key, value in rates)


def _when(ts: Any) -> datetime:
    if isinstance(ts, str):
        try:
            parsed = datetime.fromisoformat(ts)
        except ValueError:
            return datetime.now(UTC)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.now(UTC)


def price(record: MutableMapping[str, Any]) -> tuple[float | None, str]:
    """``(cost_usd, price_source)`` for one record; ``cost_usd`` is None when unpriced.

    A call several models worked on is priced one model at a time, and unpriced if any is;
    so is the image generation a Responses call ran as a tool, at the tool's image model.
    What OpenRouter says it billed is taken as it is (it picks the upstream provider, each
    with its own price).
    """
    billed = _openrouter_billed(record)
    if billed is not None:
        return billed
    try:
        image_tool = image_tool_part(record)
    except Unpriced as reason:
        return None, str(reason)
    parts = parts_by_model(record)
    if parts is None and image_tool is None:
        return _price_one_model(record)
    labelled: list[tuple[MutableMapping[str, Any], str]] = [(record, "")]
    if parts is not None:
        labelled = [(part, "") for part in parts]
    if image_tool is not None:
        labelled.append((image_tool, _IMAGE_TOOL))
    costs, sources = [], []
    for part, label in labelled:
        cost, source = _price_one_model(part)
        if cost is None:
            return None, source + label
        costs.append(cost)
        sources.append(source + label)
    return round(math.fsum(costs), 12), " + ".join(sources)


_IMAGE_TOOL: Final = " (image_generation tool)"
"""How ``price_source`` names the part priced at the Responses image tool's model."""


OPENROUTER: Final = "openrouter.ai"


def _openrouter_billed(record: MutableMapping[str, Any]) -> tuple[float, str] | None:
    """``usage.cost`` of an OpenRouter answer (credits: US dollars), plus, for a call made
    with the app's own provider key (``is_byok``), the ``upstream_inference_cost`` that
    provider bills apart; None when the answer does not say."""
    usage = record.get("usage")
    raw = usage.get("raw") if isinstance(usage, dict) else None
    if record.get("server_address") != OPENROUTER or not isinstance(raw, dict):
        return None
    cost = _amount(raw.get("cost"))
    if cost is None:
        return None
    source = "openrouter usage.cost"
    details = raw.get("cost_details")
    upstream = _amount(
        details.get("upstream_inference_cost") if isinstance(details, dict) else None
    )
    if raw.get("is_byok") is True and upstream is not None:
        cost += upstream
        source += " + upstream_inference_cost (BYOK)"
    return round(cost, 12), source


def _amount(value: Any) -> float | None:
    """A reported amount of money (None: not one)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


def _price_one_model(record: MutableMapping[str, Any]) -> tuple[float | None, str]:
    """Prefers ``response_model`` (the model that actually ran, often a dated
    snapshot) and falls back to the requested ``model``."""
    provider = record.get("provider")
    provider = provider if isinstance(provider, str) else None
    usage = record.get("usage")
    try:
        counts: Counts | None = token_counts(provider, usage)
        extras = billed_extras(provider, record)
    except NoUsage:
        counts, extras = None, {}  # it may be billed by seconds or characters
    except Unpriced as reason:
        return None, str(reason)
    table = _current_table()
    where = table.where(provider, record.get("server_address"), record.get("operation"))
    if isinstance(where, str):
        return None, where
    found = None
    names = [record.get("response_model"), record.get("model")]
    if where.requested_first:
        names.reverse()
    for name in names:
        if isinstance(name, str) and name and (found := table.model(where.providers, name)):
            break
    if found is None:
        shown = next((n for n in names if isinstance(n, str) and n), None)
        listed = "" if None in where.providers else f" for {', '.join(map(str, where.providers))}"
        return None, f"unpriced: model {shown!r} is not in {table.version}{listed}"
    genai_provider, model_info = found
    when = _when(record.get("ts"))
    priced = table.prices(model_info, when, _cost_mode.context(record, provider))
    if priced.missing is not None:
        return None, _cost_mode.unpriced_reason(priced.missing, table.version, model_info.id, when)
    if counts is None:
        extras = quantities(record, priced.model_price) or {}
        if not extras:
            return None, NO_USAGE
        counts = (0, 0, 0, 0, 0, 0)  # one per _KEYS
    elif extras and (missing := _missing_rate(extras, priced.model_price)):
        return None, f"unpriced: {table.version} lists no {missing} for {model_info.id}"
    elif provider == "anthropic" and (
        beyond := _cost_mode.beyond_listed_context(usage, model_info, priced.model_price)
    ):
        # Anthropic only: OpenAI reports one total for all the model calls a Responses
        # request makes (deep research), which may pass one call's window.
        return None, f"unpriced: {beyond} in {table.version}"
    rates = None if extras else priced.rates  # genai-prices itself prices the extras
    if rates is not None and (rates.max_input is None or counts[0] <= rates.max_input):
        cost = math.fsum(rate * n for rate, n in zip(rates.per_token, counts, strict=True))
    else:
        try:
            cost = float(_exact_price(priced.model_price, counts, extras))
        except (ValueError, ArithmeticError) as exc:
            return None, f"unpriced: {table.version} could not price this usage ({exc})"
    if cost == 0 and any(counts) and not _bills_tokens(priced.model_price):
        # e.g. tokens reported for a model listed only by the hour of audio: not free
        return None, f"unpriced: {table.version} lists no token rate for {model_info.id}"
    source = f"{table.version} {genai_provider.id}:{model_info.id}"
    if where.via is not None:
        source += f" via {where.via}"
    if priced.conditions:
        source += _cost_mode.label(priced.conditions)
    return round(cost, 12), source


FREE_OPERATIONS: Final[dict[tuple[Any, Any], str]] = {
    ("openai", "moderations"): "moderations are free",
    ("openai", "responses.input_tokens"): "counting input tokens is free",
    ("anthropic", "messages.count_tokens"): "counting tokens is free",
}
"""Calls the provider bills nothing for: their cost is 0, not unknown (a day of them is
fully priced for ``llmlog check``)."""


def _refused(record: dict[str, Any]) -> str | None:
    """Why a call the provider answered with an HTTP error, reporting no usage and sending
    no content, cost nothing (None: it was not such a call; a timeout or a dropped
    connection may have been billed, and stays unpriced)."""
    if record.get("status") != "error" or record.get("usage") is not None:
        return None
    error = record.get("error")
    code = error.get("status_code") if isinstance(error, dict) else None
    if not isinstance(code, int) or isinstance(code, bool) or code < 400:
        return None
    if record.get("ttft_ms") is not None:  # a stream failed after its first content
        return None
    return f"the provider refused the call (HTTP {code})"


NOT_BILLED: Final = "not billed"
"""How a ``price_source`` of a call that cost nothing starts (its ``cost_usd`` is 0)."""


def add_cost(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Processor: fill ``cost_usd`` and ``price_source`` (never raises into the pipeline).

    A ``price_source`` set already (the instrumentor knows the call is not billed, e.g. a
    replay of a response recorded before: ``not billed again: ...``) is kept, with a cost
    of 0 if it says the call is not billed, else none."""
    if event_dict.get("event") == EVENT_DROPPED:  # llmlog's own line costs nothing
        return event_dict
    free = FREE_OPERATIONS.get((event_dict.get("provider"), event_dict.get("operation")))
    if free is None:
        free = _refused(event_dict)
    if free is not None and event_dict.get("price_source") is None:
        event_dict["price_source"] = f"{NOT_BILLED}: {free}"
    source = event_dict.get("price_source")
    if isinstance(source, str):
        event_dict["cost_usd"] = 0.0 if source.startswith(NOT_BILLED) else None
        return event_dict
    try:
        event_dict["cost_usd"], event_dict["price_source"] = price(event_dict)
    except Exception as exc:
        event_dict["cost_usd"], event_dict["price_source"] = None, "unpriced: internal error"
        report_internal_error(exc, "cost")
    return event_dict
