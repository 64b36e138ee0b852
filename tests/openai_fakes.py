"""A fake OpenAI API for tests: realistic JSON and SSE bodies over ``httpx2.MockTransport``.

Real ``openai.OpenAI`` / ``AsyncOpenAI`` clients talk to :class:`FakeOpenAI`,
so every test runs the SDK's own request building, retries, parsing and
stream decoding. Bodies follow the shapes the API documents.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai

REQUEST_ID = "req_fake_123"
CHAT_ID = "chatcmpl-fake1"
RESPONSE_ID = "resp_fake1"
SERVED_MODEL = "gpt-4o-2024-08-06"

Handler = Callable[[httpx2.Request], httpx2.Response]


def json_response(body: Any, status: int = 200, request_id: str = REQUEST_ID) -> httpx2.Response:
    return httpx2.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json", "x-request-id": request_id},
    )


def sse_response(
    events: Iterable[Any], *, named: bool = False, done: bool = True, request_id: str = REQUEST_ID
) -> httpx2.Response:
    """An SSE body: ``data: {...}`` per event (``event:`` lines too if ``named``)."""
    lines = []
    for event in events:
        prefix = f"event: {event['type']}\n" if named and "type" in event else ""
        lines.append(f"{prefix}data: {json.dumps(event)}\n\n")
    if done:
        lines.append("data: [DONE]\n\n")
    return httpx2.Response(
        200,
        content="".join(lines).encode(),
        headers={"content-type": "text/event-stream", "x-request-id": request_id},
    )


def usage_chat(
    prompt: int = 20, completion: int = 5, cached: int = 8, reasoning: int = 2
) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0},
    }


def chat_completion(
    text: str | None = "Hello there!",
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str = "stop",
    model: str = SERVED_MODEL,
    refusal: str | None = None,
    n: int = 1,
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": refusal}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": CHAT_ID,
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [
            {"index": i, "message": message, "finish_reason": finish_reason, "logprobs": None}
            for i in range(n)
        ],
        "usage": usage_chat(),
    }


def chat_chunks(
    pieces: Iterable[str] = ("Hel", "lo", "!"),
    *,
    tool_call: tuple[str, str, list[str]] | None = None,
    usage: bool = False,
    model: str = SERVED_MODEL,
) -> list[dict[str, Any]]:
    """Chunks as the API streams them: role first, content deltas, finish, optional usage."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": CHAT_ID,
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": piece}) for piece in pieces]
    finish = "stop"
    if tool_call is not None:
        call_id, name, fragments = tool_call
        chunks.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": call_id,
                            "type": "function",
                            "function": {"name": name, "arguments": ""},
                        }
                    ]
                }
            )
        )
        chunks += [
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]})
            for fragment in fragments
        ]
        finish = "tool_calls"
    chunks.append(chunk({}, finish))
    if usage:
        chunks.append({**chunk({}), "choices": [], "usage": usage_chat()})
    return chunks


def response_object(
    text: str = "Hi from responses",
    *,
    status: str = "completed",
    function_call: tuple[str, str, str] | None = None,
    model: str = SERVED_MODEL,
) -> dict[str, Any]:
    output: list[dict[str, Any]] = [
        {
            "id": "rs_1",
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "thinking briefly"}],
        },
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        },
    ]
    if function_call is not None:
        call_id, name, arguments = function_call
        output.append(
            {
                "id": "fc_1",
                "type": "function_call",
                "call_id": call_id,
                "name": name,
                "arguments": arguments,
                "status": "completed",
            }
        )
    return {
        "id": RESPONSE_ID,
        "object": "response",
        "created_at": 1_700_000_000,
        "model": model,
        "status": status,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "usage": input_output_usage(30, 10, 4, 12, 3),
    }


def response_events(
    pieces: Iterable[str] = ("Hi ", "from ", "responses"), *, complete: bool = True
) -> list[dict[str, Any]]:
    """A Responses event stream; ``complete=False`` stops before the terminal event."""
    text = "".join(pieces)
    in_progress = {**response_object(text), "status": "in_progress", "output": [], "usage": None}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": in_progress},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "status": "in_progress",
                "content": [],
            },
        },
        {
            "type": "response.content_part.added",
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "output_text", "text": "", "annotations": []},
        },
    ]
    events += [
        {
            "type": "response.output_text.delta",
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "delta": piece,
            "logprobs": [],
        }
        for piece in pieces
    ]
    if complete:
        events.append({"type": "response.completed", "response": response_object(text)})
    for number, event in enumerate(events):
        event["sequence_number"] = number
    return events


def completion_object(text: str = " world") -> dict[str, Any]:
    return {
        "id": "cmpl-fake1",
        "object": "text_completion",
        "created": 1_700_000_000,
        "model": "gpt-3.5-turbo-instruct",
        "choices": [{"index": 0, "text": text, "finish_reason": "length", "logprobs": None}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def embedding_object(count: int = 2, dims: int = 8) -> dict[str, Any]:
    return {
        "object": "list",
        "model": "text-embedding-3-small",
        "data": [
            {"object": "embedding", "index": i, "embedding": [0.5] * dims} for i in range(count)
        ],
        "usage": {"prompt_tokens": 7, "total_tokens": 7},
    }


def images_object() -> dict[str, Any]:
    return {
        "created": 1_700_000_000,
        "data": [{"b64_json": "aW1hZ2UtYnl0ZXM=", "revised_prompt": "a red cat, digital art"}],
        "usage": {
            "input_tokens": 50,
            "input_tokens_details": {"text_tokens": 40, "image_tokens": 10},
            "output_tokens": 100,
            "total_tokens": 150,
        },
    }


def transcription_object() -> dict[str, Any]:
    return {
        "text": "hello from audio",
        "usage": {"type": "tokens", "input_tokens": 14, "output_tokens": 4, "total_tokens": 18},
    }


def input_output_usage(
    inputs: int, cached: int, cache_write: int, outputs: int, reasoning: int
) -> dict[str, Any]:
    """Usage as Responses and Decisions report it."""
    return {
        "input_tokens": inputs,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": cache_write},
        "output_tokens": outputs,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": inputs + outputs,
    }


def decision_object() -> dict[str, Any]:
    """Two answers and a refusal, as POST /decisions returns them."""
    return {
        "model": "gpt-6-luna",
        "answers": [
            {"type": "predicate", "name": "is_spam", "probability": 0.93},
            {
                "type": "choice",
                "name": "tone",
                "choice": "angry",
                "confidence": 0.8,
                "probabilities": [
                    {"value": "angry", "probability": 0.8},
                    {"value": "calm", "probability": 0.2},
                ],
            },
            {"type": "refusal", "name": "age"},
        ],
        "usage": input_output_usage(40, 8, 0, 3, 0),
    }


def batch_object(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "batch_1",
        "object": "batch",
        "endpoint": body["endpoint"],
        "input_file_id": body["input_file_id"],
        "completion_window": body["completion_window"],
        "status": "validating",
        "created_at": 1,
    }


def moderation_object() -> dict[str, Any]:
    categories = {"violence": True, "harassment": False}
    return {
        "id": "modr-1",
        "model": "omni-moderation-latest",
        "results": [
            {
                "flagged": True,
                "categories": categories,
                "category_scores": {"violence": 0.9, "harassment": 0.01},
                "category_applied_input_types": {"violence": ["text"], "harassment": ["text"]},
            }
        ],
    }


def error_body(
    message: str = "Rate limit reached", kind: str = "rate_limit_exceeded"
) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}


@dataclass
class FakeOpenAI:
    """A handler answering by path; ``requests`` keeps every request it saw (retries too)."""

    routes: dict[str, Callable[[dict[str, Any]], httpx2.Response]] = field(default_factory=dict)
    requests: list[httpx2.Request] = field(default_factory=list)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/v1")
        for prefix, answer in self.routes.items():
            if path.startswith(prefix) or path.endswith(prefix):
                content_type = request.headers.get("content-type", "")
                body = (
                    json.loads(request.content)
                    if "json" in content_type and request.content
                    else {}
                )
                return answer(body)
        return json_response(error_body(f"no fake route for {path}", "not_found"), 404)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.content and r.content[:1] == b"{"]


def default_fake() -> FakeOpenAI:
    """Every endpoint llmlog records, answering plain or streamed as the request asks."""

    def chat(body: dict[str, Any]) -> httpx2.Response:
        if body.get("stream"):
            include = bool((body.get("stream_options") or {}).get("include_usage"))
            return sse_response(chat_chunks(usage=include))
        return json_response(chat_completion())

    def responses(body: dict[str, Any]) -> httpx2.Response:
        if body.get("stream"):
            return sse_response(response_events(), named=True, done=False)
        return json_response(response_object())

    def completions(body: dict[str, Any]) -> httpx2.Response:
        if body.get("stream"):
            chunks = [{**completion_object(t), "usage": None} for t in (" wor", "ld")]
            return sse_response(chunks)
        return json_response(completion_object())

    return FakeOpenAI(
        routes={
            "/chat/completions": chat,
            "/responses/input_tokens": lambda body: json_response(  # before "/responses"
                {"object": "response.input_tokens", "input_tokens": 11}
            ),
            "/responses": responses,
            "/completions": completions,
            "/embeddings": lambda body: json_response(embedding_object()),
            "/images/generations": lambda body: json_response(images_object()),
            "/images/edits": lambda body: json_response(images_object()),
            "/images/variations": lambda body: json_response(images_object()),
            "/audio/transcriptions": lambda body: json_response(transcription_object()),
            "/audio/translations": lambda body: json_response({"text": "hello translated"}),
            "/audio/speech": lambda body: httpx2.Response(
                200,
                content=b"ID3fake-mp3-bytes",
                headers={
                    "content-type": "audio/mpeg",
                    "content-length": "17",
                    "x-request-id": REQUEST_ID,
                },
            ),
            "/moderations": lambda body: json_response(moderation_object()),
            "/decisions": lambda body: json_response(decision_object()),
            "/batches": lambda body: json_response(batch_object(body)),
            "/live/sessions": lambda body: json_response(
                {"session": {"id": "live_rtc_1"}, "transport": {"type": "webrtc", "sdp": "v=0"}}
            ),
        }
    )


def importable(module: str) -> bool:
    """Whether the installed openai has ``module`` (older SDKs lack some resources)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing too
        return False


HAS_DECISIONS = importable("openai.resources.decisions")
HAS_LIVE = importable("openai.resources.live")


def sync_client(handler: Handler, **options: Any) -> openai.OpenAI:
    options.setdefault("max_retries", 0)
    return openai.OpenAI(
        api_key="sk-test-key-do-not-log",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        **options,
    )


def async_client(handler: Handler, **options: Any) -> openai.AsyncOpenAI:
    options.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(
        api_key="sk-test-key-do-not-log",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
        **options,
    )


def azure_client(handler: Handler) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(
        api_key="azure-key-do-not-log",
        api_version="2024-10-21",
        azure_endpoint="https://example-resource.openai.azure.com",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        max_retries=0,
    )
