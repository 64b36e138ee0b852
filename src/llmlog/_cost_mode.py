"""The conditions a call ran under that change its price: tier, fast mode, geo, long context.

Each is a key of genai-prices' price context, matched against the price variants the
table lists for a model: ``service_tier`` (OpenAI flex / priority / scale, Anthropic
priority), ``processing: batch``, Anthropic's ``speed: fast`` and ``inference_geo``. A
condition other than the standard one that genai-prices lists no price for (on the
call's date: it tracks some from a date on) leaves the call unpriced with the reason;
the standard price would be a silent guess (flex costs half, priority and fast mode
more, a US-only geo 1.1x); so does input past the context window listed for a model
without a long-context price. Kept apart from ``cost``, which prices what this selects.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

__all__ = ["Context", "beyond_listed_context", "context", "label", "unlisted", "unpriced_reason"]

Context = tuple[tuple[str, str], ...]
"""genai-prices' price context as ``(key, value)`` pairs, in a fixed order; ``()``: standard."""

# Tier names that mean the standard price: OpenAI's ``auto`` / ``default``, Anthropic's
# ``standard`` and the ``auto`` / ``standard_only`` it takes as a request parameter.
# `on_demand`: Groq's standard tier, in every one of its answers.
_STANDARD_TIERS: Final = frozenset({"auto", "default", "standard", "standard_only", "on_demand"})
# Anthropic's `inference_geo` values with no residency premium.
_NO_GEO_PREMIUM: Final = frozenset({"global", "not_available"})
_BATCH: Final = ("processing", "batch")  # Anthropic's batch tier in genai-prices' terms


def context(record: Mapping[str, Any], provider: str | None) -> Context:
    """The price context of a call: what served it (the record's ``service_tier``, the
    raw usage's ``speed`` and ``inference_geo``), else what the app asked for (an answer
    that never came, or a server that does not say)."""
    params = record.get("params")
    tier = _served_or_asked(record.get("service_tier"), params, "service_tier")
    if tier is None or tier in _STANDARD_TIERS:
        pairs: Context = ()
    else:
        pairs = (_BATCH,) if tier == "batch" else (("service_tier", tier),)
    if provider != "anthropic":  # speed and geo are Anthropic's
        return pairs
    usage = record.get("usage")
    raw = usage.get("raw") if isinstance(usage, dict) else None
    raw = raw if isinstance(raw, dict) else {}
    speed = _served_or_asked(raw.get("speed"), params, "speed")
    if speed is not None and speed != "standard":
        pairs += (("speed", speed),)
    geo = _served_or_asked(raw.get("inference_geo"), params, "inference_geo")
    if geo is not None and geo not in _NO_GEO_PREMIUM:
        pairs += (("inference_geo", geo),)
    return pairs


def _served_or_asked(served: Any, params: Any, name: str) -> str | None:
    if isinstance(served, str):
        return served
    asked = params.get(name) if isinstance(params, dict) else None
    return asked if isinstance(asked, str) else None


def unlisted(model_info: Any, when: datetime, wanted: Context) -> tuple[str, str] | None:
    """The first condition of ``wanted`` genai-prices lists no price for at ``when`` (a
    price variant in force whose conditions the call meets, naming that one); else None."""
    variants = model_info.price_variants or ()
    given = dict(wanted)
    for key, value in wanted:
        if not any(
            variant.when.get(key) == value
            and all(given.get(k) == v for k, v in variant.when.items())
            and (variant.constraint is None or variant.constraint.active(when))
            for variant in variants
        ):
            return key, value
    return None


def label(priced: Context) -> str:
    """How ``price_source`` names the conditions a call was priced at: ``(flex tier)``."""
    names = []
    for key, value in priced:
        if key == "inference_geo":
            names.append(f"inference_geo {value}")
        else:
            names.append(f"{value} mode" if key == "speed" else f"{value} tier")
    return f" ({', '.join(names)})"


def unpriced_reason(missing: tuple[str, str], version: str, model: str, when: datetime) -> str:
    """Why a call under a condition genai-prices lists no price for is unpriced."""
    key, value = missing
    if (key, value) == _BATCH:  # the standard price would be twice too high
        return f"unpriced: {version} lists no batch price for {model}"
    if key == "service_tier":
        return f"unpriced: {version} lists no {value} tier price for {model} on {when:%Y-%m-%d}"
    if key == "speed":
        return f"unpriced: {version} lists no {value} mode price (speed: {value}) for {model}"
    if key == "inference_geo":
        return (
            f"unpriced: inference_geo {value!r} bills a premium over the global price that "
            f"{version} does not list for {model}"
        )
    return f"unpriced: {version} lists no price for {key} {value!r} for {model}"


def beyond_listed_context(usage: Any, model_info: Any, model_price: Any) -> str | None:
    """Why a call's input is past the context window genai-prices lists for its model and
    the price has no volume tier for it, else None. Such a call ran in a mode the table
    does not price (Anthropic's 1M-context beta bills every token at a premium), so the
    standard price would be a silent guess.
    """
    window = getattr(model_info, "context_window", None)
    tokens = usage.get("input_tokens") if isinstance(usage, dict) else None
    if not isinstance(window, int) or not isinstance(tokens, int) or tokens <= window:
        return None
    from genai_prices.types import TieredPrices

    if any(isinstance(value, TieredPrices) for value in vars(model_price).values()):
        return None
    return (
        f"{tokens} input tokens exceed the {window}-token context listed for "
        f"{model_info.id}, which has no long-context price"
    )
