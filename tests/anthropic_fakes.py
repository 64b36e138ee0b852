"""Fake Anthropic API: realistic JSON and SSE bodies served through ``httpx2.MockTransport``.

The bodies follow the wire format of the Messages API (``message_start`` ...
``message_stop`` events, ``request-id`` header), so the real SDK parses them the
way it parses production traffic.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import anthropic
import httpx2

Handler = Callable[[httpx2.Request], httpx2.Response]

MODEL = "claude-haiku-4-5"
REQUEST_ID = "req_011CTestRequest"
PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ"
    "AAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def usage(
    input_tokens: int = 12,
    output_tokens: int = 7,
    cache_read: int | None = 0,
    cache_write: int | None = 0,
    **extra: Any,
) -> dict[str, Any]:
    """A ``usage`` object as the API returns it."""
    body: dict[str, Any] = {"input_tokens": input_tokens, "output_tokens": output_tokens}
    if cache_read is not None:
        body["cache_read_input_tokens"] = cache_read
    if cache_write is not None:
        body["cache_creation_input_tokens"] = cache_write
    return body | extra


def message(
    text: str | None = "Hello there.",
    *,
    content: list[dict[str, Any]] | None = None,
    stop_reason: str = "end_turn",
    message_id: str = "msg_01Test",
    model: str = MODEL,
    usage_body: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A non-streamed ``Message`` body."""
    blocks = content if content is not None else [{"type": "text", "text": text}]
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage_body if usage_body is not None else usage(),
    } | extra


def tool_use_block(name: str = "get_weather", tool_input: Any = None) -> dict[str, Any]:
    return {
        "type": "tool_use",
        "id": "toolu_01A",
        "name": name,
        "input": {"city": "Paris"} if tool_input is None else tool_input,
    }


def stream_events(
    texts: Iterable[str] = ("Hel", "lo", " world"),
    *,
    thinking: Iterable[str] = (),
    tool_json: Iterable[str] | None = None,
    stop_reason: str = "end_turn",
    stop_sequence: str | None = None,
    start_usage: dict[str, Any] | None = None,
    delta_usage: dict[str, Any] | None = None,
    message_id: str = "msg_01Stream",
) -> list[dict[str, Any]]:
    """The raw events of one streamed message: optional thinking, text, optional tool use."""
    start = usage(25, 1, cache_read=8, cache_write=0) if start_usage is None else start_usage
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": message(
                content=[], message_id=message_id, usage_body=start, stop_reason=None
            )
            | {"stop_reason": None},
        }
    ]
    index = 0
    thoughts = list(thinking)
    if thoughts:
        events.append(
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            }
        )
        for part in thoughts:
            delta = {"type": "thinking_delta", "thinking": part}
            events.append({"type": "content_block_delta", "index": index, "delta": delta})
        signature = {"type": "signature_delta", "signature": "sig"}
        events.append({"type": "content_block_delta", "index": index, "delta": signature})
        events.append({"type": "content_block_stop", "index": index})
        index += 1
    parts = list(texts)
    if parts:
        block = {"type": "text", "text": ""}
        events.append({"type": "content_block_start", "index": index, "content_block": block})
        for part in parts:
            delta = {"type": "text_delta", "text": part}
            events.append({"type": "content_block_delta", "index": index, "delta": delta})
        events.append({"type": "content_block_stop", "index": index})
        index += 1
    if tool_json is not None:
        block = {"type": "tool_use", "id": "toolu_01S", "name": "get_weather", "input": {}}
        events.append({"type": "content_block_start", "index": index, "content_block": block})
        for part in tool_json:
            delta = {"type": "input_json_delta", "partial_json": part}
            events.append({"type": "content_block_delta", "index": index, "delta": delta})
        events.append({"type": "content_block_stop", "index": index})
    final_usage = {"output_tokens": 15} if delta_usage is None else delta_usage
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
            "usage": final_usage,
        }
    )
    events.append({"type": "message_stop"})
    return events


def block_events(*blocks: dict[str, Any], **delta: Any) -> list[dict[str, Any]]:
    """A streamed message whose content blocks each arrive whole in their start event;
    ``delta`` goes into its ``message_delta`` (a stop reason, its details, the container)."""
    head, stop, end = stream_events([])
    starts = [
        event
        for index, block in enumerate(blocks)
        for event in (
            {"type": "content_block_start", "index": index, "content_block": block},
            {"type": "content_block_stop", "index": index},
        )
    ]
    return [head, *starts, stop | {"delta": stop["delta"] | delta}, end]


def sse_body(events: Iterable[dict[str, Any]], *, ping: bool = True) -> bytes:
    """Server-sent events as the API writes them (with a ``ping`` the SDK skips)."""
    lines: list[str] = []
    for number, event in enumerate(events):
        if ping and number == 1:
            lines.append('event: ping\ndata: {"type": "ping"}\n\n')
        lines.append(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n")
    return "".join(lines).encode()


def error_event(message: str = "Overloaded") -> dict[str, Any]:
    return {"type": "error", "error": {"type": "overloaded_error", "message": message}}


def events_failing_after_first_text() -> list[dict[str, Any]]:
    """A stream that sends "Hel", then an ``event: error`` (the SDK raises mid-iteration)."""
    return [*stream_events(["Hel", "lo"])[:3], error_event()]


def json_handler(
    body: Any, *, status: int = 200, request_id: str = REQUEST_ID, seen: list[Any] | None = None
) -> Handler:
    """A transport answering every request with ``body`` as JSON."""

    def handle(request: httpx2.Request) -> httpx2.Response:
        if seen is not None:
            seen.append(json.loads(request.content or b"null"))
        return httpx2.Response(status, json=body, headers={"request-id": request_id})

    return handle


def sse_handler(
    events: Iterable[dict[str, Any]], *, request_id: str = REQUEST_ID, seen: list[Any] | None = None
) -> Handler:
    """A transport answering every request with ``events`` as an SSE stream."""
    payload = sse_body(events)

    def handle(request: httpx2.Request) -> httpx2.Response:
        if seen is not None:
            seen.append(json.loads(request.content or b"null"))
        headers = {"request-id": request_id, "content-type": "text/event-stream"}
        return httpx2.Response(200, content=payload, headers=headers)

    return handle


def routed_handler(routes: dict[str, Handler]) -> Handler:
    """Dispatch on the URL path, e.g. ``/v1/messages`` vs ``/v1/messages/count_tokens``."""

    def handle(request: httpx2.Request) -> httpx2.Response:
        return routes[request.url.path](request)

    return handle


def flaky_handler(then: Handler, *, failures: int = 1, seen: list[int] | None = None) -> Handler:
    """``failures`` overloaded answers (the SDK retries them), then ``then``."""
    calls = [0]

    def handle(request: httpx2.Request) -> httpx2.Response:
        calls[0] += 1
        if seen is not None:
            seen.append(calls[0])
        if calls[0] <= failures:
            body = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
            headers = {"request-id": f"req_retry_{calls[0]}", "retry-after-ms": "1"}
            return httpx2.Response(529, json=body, headers=headers)
        return then(request)

    return handle


def sync_client(handler: Handler, **options: Any) -> anthropic.Anthropic:
    transport = httpx2.MockTransport(handler)
    options.setdefault("max_retries", 0)
    return anthropic.Anthropic(
        api_key="sk-ant-test", http_client=httpx2.Client(transport=transport), **options
    )


def async_client(handler: Handler, **options: Any) -> anthropic.AsyncAnthropic:
    transport = httpx2.MockTransport(handler)
    options.setdefault("max_retries", 0)
    return anthropic.AsyncAnthropic(
        api_key="sk-ant-test", http_client=httpx2.AsyncClient(transport=transport), **options
    )


def user(text: str = "Say hello") -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]
