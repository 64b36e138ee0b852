"""OpenAI usage objects -> the record's ``usage``: the two shapes (chat's prompt/completion
tokens, the others' input/output tokens), the details compatible hosts put elsewhere, and
the usage as it arrived (``raw``).

Pure functions run on the writer thread; each accepts the SDK's pydantic model or the same
data as decoded JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any, Final

from llmlog._record import usage_record
from llmlog.instrumentors._sdk_field import field


def int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def raw_usage(usage: Any) -> Any:
    """The provider's usage object exactly as it arrived (only the keys it sent)."""
    if isinstance(usage, Mapping):
        return dict(usage)
    if isinstance(usage, SimpleNamespace):  # a decoded-JSON chunk read as attributes
        return {
            k: raw_usage(v) if isinstance(v, SimpleNamespace) else v for k, v in vars(usage).items()
        }
    sent = _as_sent(usage)
    if sent is not None:
        return sent
    dump = getattr(usage, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json", exclude_unset=True, warnings=False)
        except Exception:
            return None
    return None


_AS_SENT: Final = (int, float, str, bool, dict, list)


def _as_sent(obj: Any) -> dict[str, Any] | None:
    """What ``model_dump(mode="json", exclude_unset=True)`` gives for a pydantic object of
    numbers (a usage), read from its ``__dict__`` at a fifth of the cost; None when a value
    is anything else (then ``model_dump`` converts it). Values are the SDK's own, not copies:
    the record is never changed in place (see :mod:`llmlog.processors`)."""
    try:
        sent, values, extras = obj.__pydantic_fields_set__, obj.__dict__, obj.__pydantic_extra__
    except AttributeError:
        return None
    out: dict[str, Any] = {}
    for key, value in (values | extras if extras else values).items():
        if key not in sent and key in values:
            continue
        if value is None or type(value) in _AS_SENT:  # (a dict or list: undeclared, as sent)
            out[key] = value
        else:
            nested = _as_sent(value)
            if nested is None:
                return None
            out[key] = nested
    return out


def completion_usage(usage: Any) -> dict[str, Any] | None:
    """Chat / legacy ``CompletionUsage``; ``prompt_tokens`` already includes cached ones."""
    return counted_usage(usage, "prompt_tokens", "completion_tokens")


def input_output_usage(usage: Any) -> dict[str, Any] | None:
    """Responses / images / transcription usage (``input_tokens`` + ``output_tokens``)."""
    return counted_usage(usage, "input_tokens", "output_tokens")


def counted_usage(usage: Any, input_key: str, output_key: str) -> dict[str, Any] | None:
    """The two OpenAI usage shapes differ only in names; details sit in ``<key>_details``."""
    if usage is None:
        return None
    input_details = field(usage, f"{input_key}_details")
    output_details = field(usage, f"{output_key}_details")
    input_tokens = int_or_none(field(usage, input_key))
    output_tokens = int_or_none(field(usage, output_key))
    reasoning = int_or_none(field(output_details, "reasoning_tokens"))
    total = int_or_none(field(usage, "total_tokens"))
    if (
        reasoning
        and output_tokens is not None
        and input_tokens is not None
        and (reasoning > output_tokens or total == input_tokens + output_tokens + reasoning)
    ):
        output_tokens += reasoning  # counted apart from the answer's (xAI), billed as output
    cached = int_or_none(field(input_details, "cached_tokens"))
    if cached is None:  # DeepSeek's own name for it
        cached = int_or_none(field(usage, "prompt_cache_hit_tokens"))
    if cached is None:  # hosts that say it at the top, as Anthropic does (Databricks)
        cached = int_or_none(field(usage, "cache_read_input_tokens"))
    raw = raw_usage(usage)
    written = int_or_none(field(input_details, "cache_write_tokens"))
    if written is None and isinstance(raw, dict):  # Anthropic's name (LiteLLM, Databricks)
        written = _anthropic_cache_writes(raw, f"{input_key}_details")
    return usage_record(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_input_tokens=cached,
        cache_write_tokens=written,
        reasoning_tokens=reasoning,
        total_tokens=total,
        raw=raw,
    )


def _anthropic_cache_writes(raw: dict[str, Any], details_key: str) -> int | None:
    """Cache writes in Anthropic's name, from OpenAI-compatible hosts: in the details
    (LiteLLM), else at the top beside ``cache_read_input_tokens`` (Databricks). Read from
    the usage as sent (``raw``): no SDK declares the name, so no field lookup misses."""
    details = raw.get(details_key)
    written = details.get("cache_creation_input_tokens") if isinstance(details, dict) else None
    if written is None:
        written = raw.get("cache_creation_input_tokens")
    return written if written is None else int_or_none(written)
