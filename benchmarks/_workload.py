"""The calls every benchmark makes: fixed requests and canned provider answers.

Standard library only (plus the SDKs), because this module is imported in
every peer's virtualenv, where llmlog is not installed. The answers are
built once, so the in-process transport costs the same for every variant.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

OPENAI_MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "claude-sonnet-4-5-20250929"

SYSTEM = (
    "You are the support assistant of an online bookshop. Answer in at most three short "
    "paragraphs, cite the order number when the customer gives one, never promise a refund "
    "before checking the order status, and hand over to a human for payment disputes. "
)
USER = (
    "Hello, I ordered two books last Tuesday (order 58213) and only one of them arrived. "
    "The parcel looked intact, the invoice lists both titles, and the tracking page says "
    "delivered. The missing one is the second volume of a history of the Byzantine empire, "
    "hardcover edition. Could you tell me whether it was shipped separately, and if not, "
    "whether you can send it again or refund it? I would prefer a replacement because it "
    "was a gift. You can reach me at jane.doe@example.com or on +44 20 7946 0958 during "
    "office hours. Thank you for your help, and sorry for the long message, I wanted to "
    "give you every detail at once so that we do not need to go back and forth."
)
"""About 1 KB of prompt with one e-mail and one phone number, as support apps send."""

ANSWER_WORDS = [
    "Thank",
    "you",
    "for",
    "the",
    "details.",
    "I",
    "checked",
    "order",
    "58213:",
    "the",
    "second",
    "volume",
    "was",
    "packed",
    "separately",
    "and",
    "left",
    "our",
    "warehouse",
    "one",
    "day",
    "later,",
    "so",
    "it",
    "should",
    "arrive",
    "within",
    "two",
    "working",
    "days.",
    "If",
    "it",
    "has",
    "not",
    "arrived",
    "by",
    "Friday,",
    "reply",
    "here",
    "and",
    "I",
    "will",
    "send",
    "a",
    "replacement",
    "at",
    "once,",
    "free",
    "of",
    "charge.",
]


def answer_text(words: int) -> str:
    return " ".join(ANSWER_WORDS[i % len(ANSWER_WORDS)] for i in range(words))


def openai_request(stream: bool) -> dict[str, Any]:
    request: dict[str, Any] = {
        "model": OPENAI_MODEL,
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}],
        "temperature": 0.2,
        "max_tokens": 600,
    }
    if stream:
        request.update(stream=True, stream_options={"include_usage": True})
    return request


def anthropic_request(stream: bool) -> dict[str, Any]:
    request: dict[str, Any] = {
        "model": ANTHROPIC_MODEL,
        "system": SYSTEM,
        "messages": [{"role": "user", "content": USER}],
        "max_tokens": 600,
    }
    if stream:
        request["stream"] = True
    return request


_OPENAI_USAGE = {
    "prompt_tokens": 240,
    "completion_tokens": 90,
    "total_tokens": 330,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}
_OPENAI_BASE = {
    "id": "chatcmpl-BENCH0000000000000000000001",
    "created": 1767225600,
    "model": "gpt-4o-mini-2024-07-18",
    "service_tier": "default",
    "system_fingerprint": "fp_bench",
}


def openai_body(words: int) -> bytes:
    body = {
        **_OPENAI_BASE,
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer_text(words), "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": _OPENAI_USAGE,
    }
    return json.dumps(body).encode()


def openai_sse(chunks: int) -> bytes:
    def frame(choices: list[Any], usage: Any = None) -> bytes:
        chunk = {**_OPENAI_BASE, "object": "chat.completion.chunk", "choices": choices}
        chunk["usage"] = usage
        return b"data: " + json.dumps(chunk).encode() + b"\n\n"

    def choice(delta: dict[str, Any], finish: str | None = None) -> list[Any]:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]

    frames = [frame(choice({"role": "assistant", "content": "", "refusal": None}))]
    frames += [frame(choice({"content": word + " "})) for word in answer_text(chunks).split()]
    frames.append(frame(choice({}, "stop")))
    frames.append(frame([], _OPENAI_USAGE))
    frames.append(b"data: [DONE]\n\n")
    return b"".join(frames)


_ANTHROPIC_MESSAGE = {
    "id": "msg_01BENCH000000000000000001",
    "type": "message",
    "role": "assistant",
    "model": ANTHROPIC_MODEL,
    "stop_sequence": None,
}
_ANTHROPIC_USAGE = {
    "input_tokens": 240,
    "output_tokens": 90,
    "cache_creation_input_tokens": 0,
    "cache_read_input_tokens": 0,
}


def anthropic_body(words: int) -> bytes:
    body = {
        **_ANTHROPIC_MESSAGE,
        "content": [{"type": "text", "text": answer_text(words)}],
        "stop_reason": "end_turn",
        "usage": _ANTHROPIC_USAGE,
    }
    return json.dumps(body).encode()


def anthropic_sse(chunks: int) -> bytes:
    def event(name: str, data: dict[str, Any]) -> bytes:
        return f"event: {name}\ndata: ".encode() + json.dumps(data).encode() + b"\n\n"

    start = {**_ANTHROPIC_MESSAGE, "content": [], "stop_reason": None}
    start["usage"] = {**_ANTHROPIC_USAGE, "output_tokens": 1}
    frames = [event("message_start", {"type": "message_start", "message": start})]
    frames.append(
        event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        )
    )
    for word in answer_text(chunks).split():
        delta = {"type": "text_delta", "text": word + " "}
        frames.append(
            event(
                "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
            )
        )
    frames.append(event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    frames.append(
        event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": chunks},
            },
        )
    )
    frames.append(event("message_stop", {"type": "message_stop"}))
    return b"".join(frames)


def mock_handler(answer_words: int, stream_chunks: int) -> Callable[[Any], Any]:
    """An ``httpx2.MockTransport`` handler answering both providers from canned bytes."""
    import httpx2

    canned = {
        ("openai", False): (openai_body(answer_words), "application/json"),
        ("openai", True): (openai_sse(stream_chunks), "text/event-stream"),
        ("anthropic", False): (anthropic_body(answer_words), "application/json"),
        ("anthropic", True): (anthropic_sse(stream_chunks), "text/event-stream"),
    }

    def handle(request: Any) -> Any:
        provider = "anthropic" if request.url.path.endswith("/messages") else "openai"
        stream = b'"stream": true' in request.content or b'"stream":true' in request.content
        content, mime = canned[(provider, stream)]
        headers = {"content-type": mime, "x-request-id": "req_bench", "request-id": "req_bench"}
        return httpx2.Response(200, content=content, headers=headers)

    return handle


def make_client(provider: str, transport: str, url: str | None, handler: Any) -> Any:
    """A real SDK client over the in-process mock transport or the loopback server."""
    import httpx2

    if transport == "mock":
        http_client = httpx2.Client(transport=httpx2.MockTransport(handler))
        base = "http://bench.invalid"
    else:
        http_client = httpx2.Client()
        base = str(url)
    if provider == "openai":
        import openai

        return openai.OpenAI(
            api_key="bench", base_url=base + "/v1", http_client=http_client, max_retries=0
        )
    import anthropic

    return anthropic.Anthropic(
        api_key="bench", base_url=base, http_client=http_client, max_retries=0
    )


def one_call(client: Any, provider: str, stream: bool) -> int:
    """Make one call the way an app does; return the number of stream chunks read."""
    if provider == "openai":
        result = client.chat.completions.create(**openai_request(stream))
    else:
        result = client.messages.create(**anthropic_request(stream))
    if not stream:
        return 0
    chunks = 0
    for _chunk in result:
        chunks += 1
    return chunks
