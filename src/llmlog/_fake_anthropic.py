"""Anthropic wire format for the fake provider: messages (plain and SSE) and token counting."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from llmlog._fake_answer import (
    ERROR_MODELS,
    STREAM_ERROR_MODEL,
    Answer,
    Plain,
    Prompt,
    Tool,
    answer,
    count_tokens,
    marks_cache,
    random_id,
    sse,
)

_ERROR_TYPES = {
    400: "invalid_request_error",
    404: "not_found_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}
Reply = Plain | Iterator[bytes]


def error(status: int, message: str) -> Plain:
    """An error body in Anthropic's shape."""
    kind = _ERROR_TYPES.get(status, "api_error")
    return Plain(status, {"type": "error", "error": {"type": kind, "message": message}})


def messages(body: Mapping[str, Any]) -> Reply:
    """POST /v1/messages, plain or SSE."""
    invalid = _invalid(body, needs_max_tokens=True)
    if invalid:
        return invalid
    model = str(body["model"])
    status = ERROR_MODELS.get(model)
    if status == 429:
        return error(429, f"Number of requests has exceeded your rate limit ({model}, fake).")
    if status is not None:
        return error(status, "Internal server error (fake provider).")
    thinking = (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")
    result = answer(_prompt(body), thinking=thinking)
    blocks = _blocks(result)
    message = {
        "id": random_id("msg_01", 22),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": _stop_reason(result),
        "stop_sequence": None,
        "usage": _usage(result),
    }
    if body.get("stream"):
        return _stream(message, result, model == STREAM_ERROR_MODEL)
    return Plain(200, message)


def count_tokens_endpoint(body: Mapping[str, Any]) -> Reply:
    """POST /v1/messages/count_tokens."""
    invalid = _invalid(body, needs_max_tokens=False)
    if invalid:
        return invalid
    return Plain(200, {"input_tokens": max(1, count_tokens(_prompt(body).all_text))})


def _invalid(body: Mapping[str, Any], *, needs_max_tokens: bool) -> Plain | None:
    if not body.get("model"):
        return error(400, "model: Field required")
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return error(400, "messages: Field required")
    if needs_max_tokens and not isinstance(body.get("max_tokens"), int):
        return error(400, "max_tokens: Field required")
    return None


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, Sequence):
        return ""
    texts = []
    for block in content:
        if not isinstance(block, Mapping):
            continue
        if block.get("type") == "tool_result":
            texts.append(_text_of(block.get("content")))
        elif "text" in block:
            texts.append(str(block["text"]))
    return " ".join(texts)


def _prompt(body: Mapping[str, Any]) -> Prompt:
    turns = body["messages"]
    system = _text_of(body.get("system") or "")
    last = turns[-1]
    results = [
        b
        for b in (last.get("content") if isinstance(last.get("content"), list) else [])
        if isinstance(b, Mapping) and b.get("type") == "tool_result"
    ]
    users = [t for t in turns if t.get("role") == "user"]
    tools = [
        Tool(t["name"], t.get("input_schema") or {})
        for t in body.get("tools") or ()
        if "name" in t and t.get("type", "custom") == "custom"
    ]
    return Prompt(
        model=str(body["model"]),
        system=system,
        user_text=_text_of(users[-1].get("content")) if users else "",
        all_text=" ".join([system, *(_text_of(t.get("content")) for t in turns)]),
        tool_result=_text_of(results) if results else None,
        tools=tools,
        max_tokens=body.get("max_tokens"),
        cacheable=marks_cache(body),
    )


def _blocks(result: Answer) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if result.thinking:
        signature = random_id("EqQBCkgIAR", 40)
        blocks.append({"type": "thinking", "thinking": result.thinking, "signature": signature})
    if result.tool_call:
        blocks.append(
            {
                "type": "tool_use",
                "id": random_id("toolu_01", 22),
                "name": result.tool_call.name,
                "input": json.loads(result.tool_call.arguments),
            }
        )
    else:
        blocks.append({"type": "text", "text": result.text, "citations": None})
    return blocks


def _stop_reason(result: Answer) -> str:
    return "tool_use" if result.tool_call else "max_tokens" if result.truncated else "end_turn"


def _usage(result: Answer) -> dict[str, Any]:
    """Anthropic counts cache reads apart from ``input_tokens`` (unlike OpenAI)."""
    return {
        "input_tokens": result.input_tokens - result.cached_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": result.cached_tokens,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": result.output_tokens,
        "service_tier": "standard",
    }


def _stream(message: dict[str, Any], result: Answer, break_off: bool) -> Iterator[bytes]:
    def event(kind: str, **fields: Any) -> bytes:
        return sse({"type": kind, **fields}, event=kind)

    usage = message["usage"]
    opening = {**usage, "output_tokens": 1}
    started = {**message, "content": [], "stop_reason": None, "usage": opening}
    yield event("message_start", message=started)
    yield event("ping")
    for index, block in enumerate(message["content"]):
        kind = block["type"]
        if kind == "thinking":
            yield event(
                "content_block_start",
                index=index,
                content_block={"type": "thinking", "thinking": "", "signature": ""},
            )
            delta = {"type": "thinking_delta", "thinking": block["thinking"]}
            yield event("content_block_delta", index=index, delta=delta)
            delta = {"type": "signature_delta", "signature": block["signature"]}
            yield event("content_block_delta", index=index, delta=delta)
        elif kind == "tool_use":
            yield event("content_block_start", index=index, content_block={**block, "input": {}})
            assert result.tool_call is not None
            arguments = result.tool_call.arguments
            for start in range(0, len(arguments), 8):
                delta = {"type": "input_json_delta", "partial_json": arguments[start : start + 8]}
                yield event("content_block_delta", index=index, delta=delta)
        else:
            opened = {"type": "text", "text": "", "citations": None}
            yield event("content_block_start", index=index, content_block=opened)
            for position, piece in enumerate(result.chunks):
                if break_off and position == 2:
                    body = error(529, "Overloaded (fake provider, mid-stream).").body
                    yield sse(body, event="error")
                    return
                delta = {"type": "text_delta", "text": piece}
                yield event("content_block_delta", index=index, delta=delta)
        yield event("content_block_stop", index=index)
    yield event(
        "message_delta",
        delta={"stop_reason": message["stop_reason"], "stop_sequence": None},
        usage={
            "input_tokens": usage["input_tokens"],
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": usage["cache_read_input_tokens"],
            "output_tokens": usage["output_tokens"],
        },
    )
    yield event("message_stop")
