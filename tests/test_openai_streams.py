"""OpenAI stream accumulation (pure) and how streams end through real clients."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

import llmlog.testing
import openai_fakes as fakes
from llmlog.instrumentors import _openai_streams as streams
from llmlog.testing import CapturedRecords

MESSAGES = [{"role": "user", "content": "Say hello"}]


@pytest.fixture
def llm() -> Iterator[CapturedRecords]:
    with llmlog.testing.capture_records(redact="off") as cap:
        yield cap


def chunk(choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "id": "c1",
        "model": "m",
        "object": "chat.completion.chunk",
        "created": 1,
        "choices": choices,
        **extra,
    }


class TestChatAccumulation:
    def test_sdk_chunks_and_json_chunks_give_the_same_record(self) -> None:
        """Accumulation reads ChatCompletionChunk models and plain dicts alike."""
        raw = fakes.chat_chunks(("a", "b"), tool_call=("call_1", "f", ["{", "}"]), usage=True)
        models = [ChatCompletionChunk.model_validate(c) for c in raw]
        assert streams.accumulate_chat(models) == streams.accumulate_chat(raw)
        reply = streams.accumulate_chat(models)
        assert reply["output"]["text"] == "ab"
        assert reply["output"]["tool_calls"] == [
            {"id": "call_1", "type": "function", "name": "f", "arguments": "{}"}
        ]
        assert reply["usage"]["total_tokens"] == 25

    def test_parallel_tool_calls_are_assembled_per_index(self) -> None:
        """Fragments of two tool calls interleaved by index end up in the right call."""

        def call(index: int, **fields: Any) -> dict[str, Any]:
            return chunk([{"index": 0, "delta": {"tool_calls": [{"index": index, **fields}]}}])

        reply = streams.accumulate_chat(
            [
                call(0, id="a", type="function", function={"name": "f", "arguments": ""}),
                call(1, id="b", type="function", function={"name": "g", "arguments": '{"y"'}),
                call(0, function={"arguments": '{"x":1}'}),
                call(1, function={"arguments": ":2}"}),
            ]
        )
        assert [(c["id"], c["name"], c["arguments"]) for c in reply["output"]["tool_calls"]] == [
            ("a", "f", '{"x":1}'),
            ("b", "g", '{"y":2}'),
        ]

    def test_empty_choices_and_filter_chunks_are_tolerated(self) -> None:
        """Azure's prompt_filter_results chunk and the usage chunk have no choices: no harm."""
        reply = streams.accumulate_chat(
            [
                chunk([], prompt_filter_results=[{"prompt_index": 0}]),
                chunk([{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}]),
            ]
        )
        assert reply["output"]["text"] == "ok" and reply["usage"] is None

    def test_several_choices_stream_side_by_side(self) -> None:
        """n=2: each choice accumulates its own text."""
        reply = streams.accumulate_chat(
            [
                chunk(
                    [
                        {"index": 0, "delta": {"content": "x"}},
                        {"index": 1, "delta": {"content": "y"}},
                    ]
                ),
                chunk([{"index": 1, "delta": {"content": "y"}}]),
            ]
        )
        assert reply["output"]["text"] == "x"
        assert [c["text"] for c in reply["output"]["choices"]] == ["x", "yy"]

    def test_nothing_received_is_an_empty_output(self) -> None:
        """A stream closed before any chunk: empty output, no ids, usage None."""
        reply = streams.accumulate_chat([])
        assert (
            reply["output"]["text"] is None
            and reply["response_id"] is None
            and reply["usage"] is None
        )


class TestResponsesAccumulation:
    def test_partial_stream_rebuilds_text_and_function_arguments(self) -> None:
        """Without a terminal event, text and function-call arguments come from the deltas."""
        call = {
            "type": "function_call",
            "id": "fc",
            "call_id": "call_7",
            "name": "f",
            "arguments": "",
        }
        events = [
            *fakes.response_events(("Hel", "lo"), complete=False),
            {
                "type": "response.output_item.added",
                "output_index": 1,
                "sequence_number": 10,
                "item": call,
            },
            {
                "type": "response.function_call_arguments.delta",
                "output_index": 1,
                "item_id": "fc",
                "delta": '{"a":',
                "sequence_number": 11,
            },
        ]
        models = [TypeAdapter(ResponseStreamEvent).validate_python(e) for e in events]
        reply = streams.accumulate_responses(models)
        assert reply["output"]["text"] == "Hello"
        assert reply["output"]["tool_calls"] == [
            {"id": "call_7", "type": "function", "name": "f", "arguments": '{"a":'}
        ]
        assert reply["response_id"] == fakes.RESPONSE_ID and reply["usage"] is None


class TestStreamEnds:
    def test_abandoned_stream_is_recorded_when_collected(self, llm: CapturedRecords) -> None:
        """A stream the app drops half-read is recorded as cancelled when garbage-collected."""
        client = fakes.sync_client(fakes.default_fake())
        stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        next(stream)
        next(stream)
        del stream
        gc.collect()
        [record] = llm.calls
        assert record["status"] == "cancelled" and record["output"]["text"] == "Hel"

    def test_with_block_returns_the_proxy(self, llm: CapturedRecords) -> None:
        """`with stream as s`: s is the recorded proxy, still an openai.Stream."""
        client = fakes.sync_client(fakes.default_fake())
        with client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True
        ) as stream:
            assert isinstance(stream, openai.Stream)
            assert stream.response.status_code == 200
            texts = [c.choices[0].delta.content for c in stream if c.choices]
        assert "".join(t or "" for t in texts) == "Hello!"
        assert len(llm.calls) == 1 and llm.calls[0]["status"] == "ok"

    async def test_async_close_early_is_cancelled(self, llm: CapturedRecords) -> None:
        """AsyncStream.close() before the end: one cancelled record."""
        client = fakes.async_client(fakes.default_fake())
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True
        )
        await stream.__anext__()
        await stream.close()
        [record] = llm.calls
        assert record["status"] == "cancelled"

    async def test_async_mid_stream_error(self, llm: CapturedRecords) -> None:
        """An async stream error chunk: APIError for the app, an error record with partial text."""
        error = {"error": {"message": "overloaded"}}
        fake = fakes.FakeOpenAI(
            routes={
                "/chat/completions": lambda _: fakes.sse_response(
                    [*fakes.chat_chunks(("ab",))[:2], error]
                )
            }
        )
        client = fakes.async_client(fake)
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True
        )
        with pytest.raises(openai.APIError):
            async for _ in stream:
                pass
        [record] = llm.calls
        assert record["status"] == "error" and record["output"]["text"] == "ab"

    def test_image_stream(self, llm: CapturedRecords) -> None:
        """images.generate(stream=True): the completed image is a stub; usage from that event."""
        usage = fakes.images_object()["usage"]
        base = {
            "background": "auto",
            "created_at": 1,
            "output_format": "png",
            "quality": "low",
            "size": "auto",
        }
        events = [
            {
                **base,
                "type": "image_generation.partial_image",
                "b64_json": "cGFydA==",
                "partial_image_index": 0,
            },
            {**base, "type": "image_generation.completed", "b64_json": "ZnVsbA==", "usage": usage},
        ]
        fake = fakes.FakeOpenAI(
            routes={"/images/generations": lambda _: fakes.sse_response(events, named=True)}
        )
        client = fakes.sync_client(fake)
        list(client.images.generate(model="gpt-image-1", prompt="cat", stream=True))
        [record] = llm.calls
        assert record["output"]["images"][0]["b64_json"]["bytes"] == 4
        assert record["usage"]["total_tokens"] == 150 and record["ttft_ms"] is not None

    def test_transcription_stream(self, llm: CapturedRecords) -> None:
        """audio.transcriptions.create(stream=True): text from the done event, with usage."""
        events = [
            {"type": "transcript.text.delta", "delta": "hel"},
            {"type": "transcript.text.delta", "delta": "lo"},
            {
                "type": "transcript.text.done",
                "text": "hello",
                "usage": {
                    "type": "tokens",
                    "input_tokens": 5,
                    "output_tokens": 2,
                    "total_tokens": 7,
                },
            },
        ]
        fake = fakes.FakeOpenAI(
            routes={"/audio/transcriptions": lambda _: fakes.sse_response(events)}
        )
        client = fakes.sync_client(fake)
        list(
            client.audio.transcriptions.create(
                model="gpt-4o-transcribe", file=("a.wav", b"RIFF", "audio/wav"), stream=True
            )
        )
        [record] = llm.calls
        assert record["output"]["text"] == "hello" and record["usage"]["total_tokens"] == 7
