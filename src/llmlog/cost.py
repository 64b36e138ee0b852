"""Cost at write time: ``cost_usd`` and ``price_source`` from the genai-prices table.

Prices come only from the ``genai-prices`` package (a maintained table with
historic prices and cache/reasoning partitions); none are written here. An
unpriced call gets ``cost_usd: None``, never 0, and ``price_source`` says why.

The processor runs on the writer thread for every record, so it is built to be
cheap after the first call per model: which price table a server's calls use
(``_cost_where``) and the model lookup are cached, and the per-token rates (linear below
any volume tier) are derived once from genai-prices itself and verified (``_cost_table``),
so a record costs a few multiplications instead of genai-prices' full decomposition.
The conditions that change a price (tier, fast mode, geo) are read by ``_cost_mode``.
"""

from __future__ import annotations

import math
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any, Final

from llmlog import _cost_mode
from llmlog._cost_by_model import parts_by_model
from llmlog._cost_table import current_table, exact_price
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
from llmlog._guard import report_internal_error
from llmlog._record import EVENT_DROPPED

__all__ = ["add_cost", "price"]


def warm_up() -> None:
    """Load the price table and price one made-up call now, as the writer starts: left to
    the first record, the imports can run while the interpreter exits, which turns the
    exit status of a Ctrl-C (130) into 1."""
    try:
        price({"provider": "openai", "model": "gpt-4o", "usage": {"input_tokens": 1}})
    except Exception as exc:
        report_internal_error(exc, "cost")


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
    table = current_table()
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
            return None, _why_no_usage(record)
        counts = (0, 0, 0, 0, 0, 0)  # one per genai-prices usage key (KEYS)
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
            cost = float(exact_price(priced.model_price, counts, extras))
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


def _why_no_usage(record: MutableMapping[str, Any]) -> str:
    """:data:`NO_USAGE`, with the fix when the app could have had it: an OpenAI chat or
    completions stream reports usage only when asked (llmlog never asks for the app: the
    extra chunk it adds has no choices, and code reading ``chunk.choices[0]`` breaks)."""
    params = record.get("params")
    options = params.get("stream_options") if isinstance(params, dict) else None
    asked = isinstance(options, dict) and options.get("include_usage")
    if (
        record.get("stream") is True
        and record.get("provider") == "openai"
        and record.get("operation") in ("chat.completions", "completions")
        and not asked
    ):
        return f"{NO_USAGE} (streamed without stream_options={{'include_usage': True}})"
    return NO_USAGE


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
