"""What a record's usage bills, for :mod:`llmlog.cost`: token counts by genai-prices key,
audio and image tokens, searches, and the quantities some calls are billed by instead
(seconds of audio, characters spoken). Reads the record only; prices nothing."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, Final

Counts = tuple[int, int, int, int, int, int]
"""Input, output, cache read, cache write, 1-hour cache write and reasoning tokens: the
genai-prices keys ``_cost_table.KEYS`` names, in that order (totals first, then partitions)."""


class Unpriced(Exception):
    """The call cannot be priced for an ordinary reason (not an llmlog bug)."""


def _count(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Unpriced("unpriced: usage has a token count that is not a whole number")
    return value


NO_USAGE: Final = "unpriced: no usage"


class NoUsage(Unpriced):
    """No token counts: the call may still be billed by seconds or characters."""


def _cache_write_1h(provider: str | None, usage: dict[str, Any]) -> int:
    """Anthropic splits cache writes by lifetime; the 1-hour kind costs more."""
    raw = usage.get("raw")
    if provider != "anthropic" or not isinstance(raw, dict):
        return 0
    creation = raw.get("cache_creation")
    if not isinstance(creation, dict):
        return 0
    value = creation.get("ephemeral_1h_input_tokens")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _compactions(provider: str | None, usage: dict[str, Any]) -> list[dict[str, Any]]:
    """Anthropic's context compactions (``usage.iterations`` entries of type
    ``compaction``): billed, but not in the top-level counts, unlike the other entries."""
    raw = usage.get("raw")
    iterations = (
        raw.get("iterations") if provider == "anthropic" and isinstance(raw, dict) else None
    )
    if not isinstance(iterations, list):
        return []
    return [i for i in iterations if isinstance(i, dict) and i.get("type") == "compaction"]


def token_counts(provider: str | None, usage: Any) -> Counts:
    """The record's ``usage`` as :data:`Counts` (Anthropic's compactions added in); raises
    :class:`NoUsage` without counts, :class:`Unpriced` for counts that cannot be billed."""
    if not isinstance(usage, dict):
        raise NoUsage(NO_USAGE)
    if usage.get("input_tokens") is None and usage.get("output_tokens") is None:
        raise NoUsage(NO_USAGE)
    input_tokens = _count(usage.get("input_tokens"))
    output_tokens = _count(usage.get("output_tokens"))
    cached = _count(usage.get("cached_input_tokens"))
    cache_write = _count(usage.get("cache_write_tokens"))
    cache_write_1h = min(_cache_write_1h(provider, usage), cache_write)
    reasoning = _count(usage.get("reasoning_tokens"))
    for extra in _compactions(provider, usage):
        extra_read, extra_write = (
            _count(extra.get("cache_read_input_tokens")),
            _count(extra.get("cache_creation_input_tokens")),
        )
        input_tokens += _count(extra.get("input_tokens")) + extra_read + extra_write
        cached += extra_read
        cache_write += extra_write
        output_tokens += _count(extra.get("output_tokens"))
    if cached + cache_write > input_tokens:
        raise Unpriced("unpriced: cached tokens exceed input tokens")
    if reasoning > output_tokens:
        # Both providers bill reasoning inside output; a count outside it is
        # priced as plain output rather than dropped.
        reasoning = 0
    return (input_tokens, output_tokens, cached, cache_write, cache_write_1h, reasoning)


# Audio and image tokens, priced apart from text (realtime, audio chat, transcription,
# image generation and edits): where the provider's raw usage reports them -> genai-prices
# keys. Chat says ``*_tokens_details``; realtime and transcription ``*_token_details``.
_MODALITIES: Final = (
    ("prompt_tokens_details", "audio_tokens", "input_audio_tokens"),
    ("completion_tokens_details", "audio_tokens", "output_audio_tokens"),
    ("input_tokens_details", "image_tokens", "input_image_tokens"),
    ("input_token_details", "audio_tokens", "input_audio_tokens"),
    ("input_token_details", "image_tokens", "input_image_tokens"),
    ("output_token_details", "audio_tokens", "output_audio_tokens"),
    ("output_tokens_details", "image_tokens", "output_image_tokens"),
)
_CACHED_MODALITIES: Final = (
    ("audio_tokens", "cache_audio_read_tokens"),
    ("image_tokens", "cache_image_read_tokens"),
)


def _modalitytoken_counts(usage: Any) -> dict[str, int]:
    """Audio and image token counts in the raw usage, zeros included (genai-prices wants
    every part of an overlap spelled out); empty for text-only calls (the fast path)."""
    raw = usage.get("raw") if isinstance(usage, dict) else None
    if not isinstance(raw, dict):
        return {}
    for container, name, _ in _MODALITIES:
        details = raw.get(container)
        if isinstance(details, dict) and details.get(name):
            break
    else:
        return {}  # none, or zeros alone: a text-only call
    found: dict[str, int] = {}
    for container, name, key in _MODALITIES:
        details = raw.get(container)
        value = details.get(name) if isinstance(details, dict) else None
        if value is not None:
            found[key] = _count(value)
    for name, key in _CACHED_MODALITIES:
        value = _cached_modality(raw, name)
        # Without the split the cached tokens are taken as text: the lowest estimate.
        found[key] = 0 if value is None else _count(value)
    return found


def _cached_modality(raw: dict[str, Any], name: str) -> Any:
    """Cached audio or image tokens: realtime's ``input_token_details.cached_tokens_details``
    says ``image_tokens``, the Responses image tool's ``cached_tokens_details`` says
    ``cached_image_tokens``."""
    details = raw.get("input_token_details")
    cached = details.get("cached_tokens_details") if isinstance(details, dict) else None
    if isinstance(cached, dict) and name in cached:
        return cached[name]
    cached = raw.get("cached_tokens_details")
    return cached.get(f"cached_{name}") if isinstance(cached, dict) else None


# Responses output items billed per call, on top of tokens -> genai-prices keys.
_TOOL_CALLS: Final = {"web_search_call": "web_searches", "file_search_call": "storage_searches"}


def billed_extras(provider: str | None, record: MutableMapping[str, Any]) -> dict[str, int]:
    """What is billed apart from text tokens; empty for text-only calls (the fast path).
    Anthropic counts web searches in its usage; OpenAI splits audio and image tokens in
    its usage, counts billable web searches in a Response's ``tool_usage`` and lists one
    Responses output item per web search action or file search."""
    usage = record.get("usage")
    if provider == "anthropic":
        raw = usage.get("raw") if isinstance(usage, dict) else None
        server = raw.get("server_tool_use") if isinstance(raw, dict) else None
        count = server.get("web_search_requests") if isinstance(server, dict) else None
        return {"web_searches": _count(count)} if count else {}
    found = _modalitytoken_counts(usage)
    if record.get("operation") == "images":
        _image_output(usage, found)
    searches = _billed_web_searches(usage)
    if searches:
        found["web_searches"] = searches
    output = record.get("output")
    calls = output.get("tool_calls") if isinstance(output, dict) else None
    for call in calls if isinstance(calls, list) else ():
        kind = call.get("type") if isinstance(call, dict) else None
        if isinstance(kind, str) and (key := _TOOL_CALLS.get(kind)):
            if key == "web_searches" and searches is not None:
                continue  # counted by the usage, which leaves out opening a page
            found[key] = found.get(key, 0) + 1
    return found


def _tool_usage(usage: Any) -> dict[str, Any] | None:
    """The Responses hosted tools' usage, which ``read_response`` keeps in the raw usage."""
    raw = usage.get("raw") if isinstance(usage, dict) else None
    found = raw.get("tool_usage") if isinstance(raw, dict) else None
    return found if isinstance(found, dict) else None


def _billed_web_searches(usage: Any) -> int | None:
    """``tool_usage.web_search.num_requests``: the searches billed (the SDK: "actions such
    as opening a page are excluded", and so is a ``web_search_call`` item for each). None
    where it is not reported (older SDKs, other servers): every such item is one search."""
    web_search = (_tool_usage(usage) or {}).get("web_search")
    if not isinstance(web_search, dict) or web_search.get("num_requests") is None:
        return None
    return _count(web_search["num_requests"])


def _image_output(usage: Any, found: dict[str, int]) -> None:
    """An image generation or edit without an output split (the stream's completed event,
    an older answer): its output tokens are the image's. The SDK's usage of the streamed
    events says so ("The number of image tokens in the output image"); priced as text
    they would cost a third of the bill (gpt-image-1.5: $10 against $32 a million)."""
    raw = usage.get("raw") if isinstance(usage, dict) else None
    if not isinstance(raw, dict) or isinstance(raw.get("output_tokens_details"), dict):
        return
    tokens = _count(raw.get("output_tokens"))
    if tokens:
        found["output_image_tokens"] = tokens


IMAGE_TOOL_DEFAULT: Final = "gpt-image-2.6-sunburst"
"""The image_generation tool's model when the request names none, as openai 3.57 documents
it (gpt-image-1, the default before, was shut down on 2026-10-23)."""


def image_tool_part(record: MutableMapping[str, Any]) -> dict[str, Any] | None:
    """The Responses image_generation tool's tokens (``tool_usage.image_gen``, apart from the
    model's usage) as a record of their own, to price at the tool's image model, read from
    the request; None when there are none. Raises :class:`Unpriced` when the request names
    no such tool (it came from a stored prompt): the image model is unknown."""
    if record.get("provider") != "openai":
        return None
    image = (_tool_usage(record.get("usage")) or {}).get("image_gen")
    if not isinstance(image, dict):
        return None
    input_tokens, output_tokens = (
        _count(image.get("input_tokens")),
        _count(image.get("output_tokens")),
    )
    if not input_tokens and not output_tokens:
        return None
    part = dict(record)
    part.update(
        operation="images",  # priced as an image generation's usage, the same shape
        model=_image_tool_model(record.get("params")),
        response_model=None,
        output=None,
        usage={
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cached_input_tokens": image.get("cached_tokens"),
            "raw": image,
        },
    )
    return part


def _image_tool_model(params: Any) -> str:
    tools = params.get("tools") if isinstance(params, dict) else None
    for tool in tools if isinstance(tools, list) else ():
        if isinstance(tool, dict) and tool.get("type") == "image_generation":
            model = tool.get("model")
            return model if isinstance(model, str) and model else IMAGE_TOOL_DEFAULT
    raise Unpriced(
        "unpriced: tool_usage reports image_gen tokens but the request names no "
        "image_generation tool, so the image model is unknown"
    )


def quantities(record: MutableMapping[str, Any], model_price: Any) -> dict[str, Any] | None:
    """What a call billed by quantity instead of tokens used, when its model has that rate:
    seconds of audio transcribed (whisper-1 and others report ``{"type": "duration"}``),
    characters spoken (tts-1 bills the input text). None: nothing to price by."""
    usage = record.get("usage")
    raw = usage.get("raw") if isinstance(usage, dict) else None
    if isinstance(raw, dict) and raw.get("type") == "duration":
        seconds = raw.get("seconds")
        if (
            isinstance(seconds, int | float)
            and not isinstance(seconds, bool)
            and seconds >= 0
            and getattr(model_price, "audio_hours", None) is not None
        ):
            return {"audio_seconds": seconds, "input_audio_seconds": seconds}
    if (
        record.get("operation") == "audio.speech"
        and record.get("status") == "ok"
        and getattr(model_price, "input_mchars", None) is not None
    ):
        messages = record.get("messages")
        messages = messages if isinstance(messages, list) else []
        texts = [m.get("content") for m in messages if isinstance(m, dict)]
        if texts and all(isinstance(text, str) for text in texts):
            return {"input_characters": sum(len(text) for text in texts if isinstance(text, str))}
    return None
