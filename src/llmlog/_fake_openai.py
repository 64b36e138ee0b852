"""OpenAI wire format for the fake provider: chat, responses, completions, embeddings.

Shapes follow what the real API sends closely enough that the official SDK,
its stream helpers and an instrumentor see nothing unusual.
"""

from __future__ import annotations

import time
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
    embedding,
    embedding_base64,
    random_id,
    sse,
)

_ERROR_TYPES = {400: "invalid_request_error", 404: "not_found", 429: "rate_limit_exceeded"}
Reply = Plain | Iterator[bytes]


def error(status: int, message: str) -> Plain:
    """An error body in OpenAI's shape."""
    kind = _ERROR_TYPES.get(status, "server_error")
    code = kind if status == 429 else None
    return Plain(status, {"error": {"message": message, "type": kind, "param": None, "code": code}})


def chat_completions(body: Mapping[str, Any]) -> Reply:
    """POST /v1/chat/completions, plain or SSE."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return error(400, "'messages' must be a non-empty array.")
    failure = _failure(body)
    if failure:
        return failure
    prompt = _chat_prompt(body, messages)
    result = answer(prompt)
    base = {
        "id": random_id("chatcmpl-", 29),
        "created": int(time.time()),
        "model": _served_model(prompt.model),
        "service_tier": "default",
        "system_fingerprint": "fp_fake0001",
    }
    if body.get("stream"):
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return _chat_stream(base, result, include_usage, prompt.model == STREAM_ERROR_MODEL)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": None if result.tool_call else result.text,
        "refusal": None,
        "annotations": [],
    }
    if result.tool_call:
        message["tool_calls"] = [_tool_call(result, random_id("call_"))]
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": _finish(result)}
    return Plain(
        200,
        {**base, "object": "chat.completion", "choices": [choice], "usage": _chat_usage(result)},
    )


def responses(body: Mapping[str, Any]) -> Reply:
    """POST /v1/responses, plain or as typed SSE events."""
    if "input" not in body:
        return error(400, "Missing required parameter: 'input'.")
    failure = _failure(body)
    if failure:
        return failure
    prompt = _responses_prompt(body)
    result = answer(prompt)
    if result.tool_call:
        item: dict[str, Any] = {
            "type": "function_call",
            "id": random_id("fc_", 40),
            "call_id": random_id("call_"),
            "name": result.tool_call.name,
            "arguments": result.tool_call.arguments,
            "status": "completed",
        }
    else:
        part = {"type": "output_text", "text": result.text, "annotations": [], "logprobs": []}
        item = {
            "type": "message",
            "id": random_id("msg_", 40),
            "status": "completed",
            "role": "assistant",
            "content": [part],
        }
    final = {
        "id": random_id("resp_", 48),
        "object": "response",
        "created_at": int(time.time()),
        "status": "incomplete" if result.truncated else "completed",
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if result.truncated else None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": _served_model(prompt.model),
        "output": [item],
        "parallel_tool_calls": True,
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None},
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools", []),
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": _responses_usage(result),
        "metadata": body.get("metadata") or {},
    }
    if body.get("stream"):
        return _responses_stream(final, result, prompt.model == STREAM_ERROR_MODEL)
    return Plain(200, final)


def completions(body: Mapping[str, Any]) -> Reply:
    """POST /v1/completions (legacy text completions), plain or SSE."""
    raw = body.get("prompt", "")
    text = raw if isinstance(raw, str) else " ".join(str(p) for p in raw)
    failure = _failure(body)
    if failure:
        return failure
    model = str(body.get("model", ""))
    result = answer(Prompt(model, user_text=text, all_text=text, max_tokens=body.get("max_tokens")))
    base = {
        "id": random_id("cmpl-", 29),
        "object": "text_completion",
        "created": int(time.time()),
        "model": _served_model(model),
        "system_fingerprint": "fp_fake0001",
    }
    finish = "length" if result.truncated else "stop"
    usage = _completion_usage(result)
    if not body.get("stream"):
        choice = {"text": result.text, "index": 0, "logprobs": None, "finish_reason": finish}
        return Plain(200, {**base, "choices": [choice], "usage": usage})
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def frames() -> Iterator[bytes]:
        pieces = [*result.chunks, ""]
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            choice = {
                "text": piece,
                "index": 0,
                "logprobs": None,
                "finish_reason": finish if last else None,
            }
            yield sse({**base, "choices": [choice], **({"usage": None} if include_usage else {})})
        if include_usage:
            yield sse({**base, "choices": [], "usage": usage})
        yield sse("[DONE]")

    return frames()


def embeddings(body: Mapping[str, Any]) -> Reply:
    """POST /v1/embeddings: one deterministic vector per input."""
    raw = body.get("input")
    if raw is None:
        return error(400, "Missing required parameter: 'input'.")
    failure = _failure(body)
    if failure:
        return failure
    texts = [raw] if isinstance(raw, str) else [str(item) for item in raw]
    size = int(body.get("dimensions") or 8)
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for index, text in enumerate(texts):
        vector = embedding(text, size)
        encoded: Any = embedding_base64(vector) if as_base64 else vector
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(max(1, count_tokens(text)) for text in texts)
    return Plain(
        200,
        {
            "object": "list",
            "data": data,
            "model": str(body.get("model", "")),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        },
    )


def _failure(body: Mapping[str, Any]) -> Plain | None:
    model = str(body.get("model", ""))
    if not model:
        return error(400, "Missing required parameter: 'model'.")
    status = ERROR_MODELS.get(model)
    if status is None:
        return None
    if status == 429:
        return error(429, f"Rate limit reached for {model} (fake provider).")
    return error(status, "The server had an error while processing your request (fake provider).")


def _served_model(model: str) -> str:
    """Real responses name a dated snapshot of the requested alias."""
    return model if model[-10:-8] == "20" else f"{model}-2025-01-01"


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return ""


def _chat_prompt(body: Mapping[str, Any], messages: list[Any]) -> Prompt:
    system = " ".join(
        _text_of(m.get("content")) for m in messages if m.get("role") in ("system", "developer")
    )
    users = [m for m in messages if m.get("role") == "user"]
    last = messages[-1]
    tools = [
        Tool(t["function"]["name"], t["function"].get("parameters") or {})
        for t in body.get("tools") or ()
        if t.get("type") == "function"
    ]
    return Prompt(
        model=str(body.get("model")),
        system=system,
        user_text=_text_of(users[-1].get("content")) if users else "",
        all_text=" ".join(_text_of(m.get("content")) for m in messages),
        tool_result=_text_of(last.get("content")) if last.get("role") == "tool" else None,
        tools=tools,
        max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"),
    )


def _responses_prompt(body: Mapping[str, Any]) -> Prompt:
    raw = body["input"]
    items = [{"role": "user", "content": raw}] if isinstance(raw, str) else list(raw)
    texts = [_text_of(i.get("content")) for i in items if "content" in i]
    users = [_text_of(i.get("content")) for i in items if i.get("role") == "user"]
    last = items[-1] if items else {}
    instructions = str(body.get("instructions") or "")
    tools = [
        Tool(t["name"], t.get("parameters") or {})
        for t in body.get("tools") or ()
        if t.get("type") == "function"
    ]
    return Prompt(
        model=str(body.get("model")),
        system=instructions,
        user_text=users[-1] if users else "",
        all_text=" ".join([instructions, *texts]),
        tool_result=str(last.get("output")) if last.get("type") == "function_call_output" else None,
        tools=tools,
        max_tokens=body.get("max_output_tokens"),
    )


def _finish(result: Answer) -> str:
    return "tool_calls" if result.tool_call else "length" if result.truncated else "stop"


def _tool_call(result: Answer, call_id: str) -> dict[str, Any]:
    assert result.tool_call is not None
    function = {"name": result.tool_call.name, "arguments": result.tool_call.arguments}
    return {"id": call_id, "type": "function", "function": function}


def _chat_usage(result: Answer) -> dict[str, Any]:
    return {
        **_completion_usage(result),
        "prompt_tokens_details": {"cached_tokens": result.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _completion_usage(result: Answer) -> dict[str, Any]:
    return {
        "prompt_tokens": result.input_tokens,
        "completion_tokens": result.output_tokens,
        "total_tokens": result.input_tokens + result.output_tokens,
    }


def _responses_usage(result: Answer) -> dict[str, Any]:
    return {
        "input_tokens": result.input_tokens,
        "input_tokens_details": {"cached_tokens": result.cached_tokens},
        "output_tokens": result.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": result.input_tokens + result.output_tokens,
    }


def _chat_stream(
    base: dict[str, Any], result: Answer, include_usage: bool, break_off: bool
) -> Iterator[bytes]:
    usage_slot = {"usage": None} if include_usage else {}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return sse({**base, "object": "chat.completion.chunk", "choices": [choice], **usage_slot})

    if result.tool_call:
        yield chunk({"role": "assistant", "content": None, "refusal": None})
        call = _tool_call(result, random_id("call_"))
        arguments = call["function"]["arguments"]
        call["function"] = {"name": call["function"]["name"], "arguments": ""}
        yield chunk({"tool_calls": [{"index": 0, **call}]})
        for start in range(0, len(arguments), 8):
            fragment = {"index": 0, "function": {"arguments": arguments[start : start + 8]}}
            yield chunk({"tool_calls": [fragment]})
    else:
        yield chunk({"role": "assistant", "content": "", "refusal": None})
        for index, piece in enumerate(result.chunks):
            if break_off and index == 2:
                yield sse(error(500, "The model stopped mid-stream (fake provider).").body)
                return
            yield chunk({"content": piece})
    yield chunk({}, _finish(result))
    if include_usage:
        yield sse(
            {
                **base,
                "object": "chat.completion.chunk",
                "choices": [],
                "usage": _chat_usage(result),
            }
        )
    yield sse("[DONE]")


def _responses_stream(final: dict[str, Any], result: Answer, break_off: bool) -> Iterator[bytes]:
    sequence = iter(range(1_000_000))

    def event(kind: str, **fields: Any) -> bytes:
        return sse({"type": kind, "sequence_number": next(sequence), **fields}, event=kind)

    pending = {**final, "status": "in_progress", "output": [], "usage": None}
    yield event("response.created", response=pending)
    yield event("response.in_progress", response=pending)
    item = final["output"][0]
    place = {"item_id": item["id"], "output_index": 0}
    if item["type"] == "function_call":
        yield event("response.output_item.added", output_index=0, item={**item, "arguments": ""})
        arguments = item["arguments"]
        for start in range(0, len(arguments), 8):
            yield event(
                "response.function_call_arguments.delta",
                **place,
                delta=arguments[start : start + 8],
            )
        yield event(
            "response.function_call_arguments.done",
            **place,
            arguments=arguments,
            name=item["name"],
        )
    else:
        opened = {**item, "status": "in_progress", "content": []}
        yield event("response.output_item.added", output_index=0, item=opened)
        empty = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        yield event("response.content_part.added", **place, content_index=0, part=empty)
        for index, piece in enumerate(result.chunks):
            if break_off and index == 2:
                failed = {
                    **pending,
                    "status": "failed",
                    "error": {"code": "server_error", "message": "The model stopped mid-stream."},
                }
                yield event("response.failed", response=failed)
                return
            yield event(
                "response.output_text.delta", **place, content_index=0, delta=piece, logprobs=[]
            )
        yield event(
            "response.output_text.done",
            **place,
            content_index=0,
            text=result.text,
            logprobs=[],
        )
        yield event("response.content_part.done", **place, content_index=0, part=item["content"][0])
    yield event("response.output_item.done", output_index=0, item=item)
    terminal = "response.incomplete" if result.truncated else "response.completed"
    yield event(terminal, response=final)
