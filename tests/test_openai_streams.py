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
from llmlog.instrumentors import _openai_chunks
from llmlog.instrumentors import _openai_streams as streams
from llmlog.instrumentors import openai as openai_instrumentor
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


def chat_models(raw: list[dict[str, Any]]) -> list[ChatCompletionChunk]:
    return [ChatCompletionChunk.model_validate(c) for c in raw]


def volatile_free(record: dict[str, Any]) -> dict[str, Any]:
    """A record without what differs between two runs of the same call (ids, clocks)."""
    volatile = {"id", "ts", "latency_ms", "ttft_ms", "trace_id", "span_id", "process"}
    return {key: value for key, value in record.items() if key not in volatile}


class TestCompaction:
    def test_a_plain_content_chunk_becomes_its_text(self) -> None:
        """One choice, index 0, a delta with only content: stored as the str itself."""
        [_, content, *_] = chat_models(fakes.chat_chunks(("Hel",)))
        assert _openai_chunks.compact_chat_chunk(content) == "Hel"

    def test_every_other_chat_chunk_is_kept_whole(self) -> None:
        """Role, tool calls, finish, usage, several choices, logprobs, extras: the chunk itself."""
        raw = fakes.chat_chunks(("a",), tool_call=("call_1", "f", ["{}"]), usage=True)
        role, _, call_start, call_piece, finish, usage = chat_models(raw)
        others = [
            role,
            call_start,
            call_piece,
            finish,
            usage,
            *chat_models(
                [
                    chunk([{"index": 1, "delta": {"content": "y"}}]),
                    chunk(
                        [
                            {"index": 0, "delta": {"content": "x"}},
                            {"index": 1, "delta": {"content": "y"}},
                        ]
                    ),
                    chunk([{"index": 0, "delta": {"content": "x"}, "logprobs": {"content": []}}]),
                    chunk([{"index": 0, "delta": {"content": "x", "reasoning_content": "hm"}}]),
                    chunk([{"index": 0, "delta": {"content": "x", "refusal": "no"}}]),
                ]
            ),
        ]
        assert all(_openai_chunks.compact_chat_chunk(c) is c for c in others)
        plain_json = chunk([{"index": 0, "delta": {"content": "x"}}])
        assert _openai_chunks.compact_chat_chunk(plain_json) is plain_json

    def test_chat_accumulation_is_the_same_compacted_or_not(self) -> None:
        """Text, tool calls, finish reason, ids and usage come out identical."""
        raw = [
            *fakes.chat_chunks(("a", "", "b"), tool_call=("call_1", "f", ["{", "}"]), usage=True),
            chunk([{"index": 0, "delta": {"content": "c", "reasoning_content": "hm"}}]),
            chunk([{"index": 1, "delta": {"content": "y"}}]),
        ]
        models = chat_models(raw)
        compacted = [_openai_chunks.compact_chat_chunk(c) for c in models]
        assert compacted.count("a") == 1 and "" in compacted
        assert streams.accumulate_chat(compacted) == streams.accumulate_chat(models)

    def test_legacy_completion_record_is_the_same_compacted_or_not(
        self, llm: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Plain text chunks of choice 0 compact to str; finish and usage chunks stay whole."""
        base = {"id": "cmpl", "object": "text_completion", "created": 1, "model": "m"}

        def piece(text: str, finish: str | None = None) -> dict[str, Any]:
            choice = {"index": 0, "text": text, "finish_reason": finish, "logprobs": None}
            return {**base, "choices": [choice]}

        usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
        raw = [
            piece("he"),
            piece("llo"),
            piece("", "stop"),
            {**base, "choices": [], "usage": usage},
        ]
        fake = fakes.FakeOpenAI(routes={"/completions": lambda _: fakes.sse_response(raw)})
        client = fakes.sync_client(fake)

        def read_stream() -> tuple[list[Any], dict[str, Any]]:
            chunks = list(client.completions.create(model="m", prompt="hi", stream=True))
            return chunks, volatile_free(llm.calls[-1])

        chunks, compacted = read_stream()
        stored = [_openai_chunks.compact_completion_chunk(c) for c in chunks]
        assert stored[:2] == ["he", "llo"] and stored[2:] == chunks[2:]
        monkeypatch.setattr(openai_instrumentor, "COMPACTORS", {})
        assert read_stream()[1] == compacted
        assert compacted["output"]["text"] == "hello" and compacted["response_id"] == "cmpl"

    def test_partial_responses_stream_is_the_same_compacted_or_not(self) -> None:
        """Only output_text deltas compact (to their text); a cut-off stream rebuilds alike."""
        events = fakes.response_events(("Hel", "lo"), complete=False)
        models = [TypeAdapter(ResponseStreamEvent).validate_python(e) for e in events]
        compacted = [_openai_chunks.compact_responses_event(e) for e in models]
        assert compacted[-2:] == ["Hel", "lo"] and compacted[:-2] == models[:-2]
        assert streams.accumulate_responses(compacted) == streams.accumulate_responses(models)

    @pytest.mark.parametrize("usage", [False, True])
    def test_records_through_the_client_are_the_same_compacted_or_not(
        self, llm: CapturedRecords, monkeypatch: pytest.MonkeyPatch, usage: bool
    ) -> None:
        """A real client's stream gives the same record with and without compaction."""
        raw = fakes.chat_chunks(("Hel", "lo", "!"), tool_call=("c", "f", ["{}"]), usage=usage)
        fake = fakes.FakeOpenAI(routes={"/chat/completions": lambda _: fakes.sse_response(raw)})
        client = fakes.sync_client(fake)

        def read_stream() -> tuple[list[Any], dict[str, Any]]:
            request: dict[str, Any] = {"model": "gpt-4o", "messages": MESSAGES, "stream": True}
            chunks = list(client.chat.completions.create(**request))
            record = llm.calls[-1]
            assert record["ttft_ms"] is not None
            return chunks, volatile_free(record)

        chunks, compacted = read_stream()
        stored = [_openai_chunks.compact_chat_chunk(c) for c in chunks]
        assert [c for c in stored if type(c) is str] == ["Hel", "lo", "!"]
        monkeypatch.setattr(openai_instrumentor, "COMPACTORS", {})
        assert read_stream()[1] == compacted
        assert compacted["output"]["text"] == "Hello!"

    async def test_async_responses_record_is_the_same_compacted_or_not(
        self, llm: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An async Responses stream cut short: the same record either way."""
        events = fakes.response_events(("Hel", "lo"), complete=False)
        fake = fakes.FakeOpenAI(
            routes={"/responses": lambda _: fakes.sse_response(events, named=True)}
        )
        client = fakes.async_client(fake)

        async def read_stream() -> dict[str, Any]:
            stream = await client.responses.create(model="gpt-4o", input="hi", stream=True)
            [event async for event in stream]
            return volatile_free(llm.calls[-1])

        compacted = await read_stream()
        monkeypatch.setattr(openai_instrumentor, "COMPACTORS", {})
        assert await read_stream() == compacted
        assert compacted["output"]["text"] == "Hello"
