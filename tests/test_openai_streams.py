"""OpenAI stream accumulation (pure) and how streams end through real clients."""

from __future__ import annotations

import base64
import gc
import hashlib
import json
import math
import weakref
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
from stream_texts import keep_chunk_objects, spy_kept_texts

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

    def test_a_stream_read_to_its_end_is_not_kept_alive(self, llm: CapturedRecords) -> None:
        """Once its record is written, the last call's stream (its response, its prompt) is
        llmlog's no longer: the pipeline kept the last queued capture until the next call,
        so a tool that ends its span when the stream is collected (Logfire) waited for it."""
        client = fakes.sync_client(fakes.default_fake())
        stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        for _ in stream:
            pass
        sdk_stream = weakref.ref(stream.__wrapped__)
        assert llm.calls[0]["status"] == "ok"
        del stream
        gc.collect()
        assert sdk_stream() is None

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

    @pytest.mark.parametrize(
        ("usage", "stop_after", "status"),
        [
            (False, "finish", "ok"),
            (True, "usage", "ok"),
            (True, "finish", "cancelled"),  # the usage chunk asked for is still to come
            (False, "text", "cancelled"),
        ],
    )
    def test_closing_after_the_last_chunk_is_ok(
        self, llm: CapturedRecords, usage: bool, stop_after: str, status: str
    ) -> None:
        """An app that stops at the finish chunk (or the usage chunk it asked for) has the
        whole answer, though the SDK never read ``[DONE]``: ``ok``, not ``cancelled``."""
        chunks = fakes.chat_chunks(("Hel", "lo"), usage=usage)
        fake = fakes.FakeOpenAI(routes={"/chat/completions": lambda _: fakes.sse_response(chunks)})
        client = fakes.sync_client(fake)
        options = {"stream_options": {"include_usage": True}} if usage else {}
        with client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, **options
        ) as stream:
            for chunk in stream:
                last = {
                    "finish": bool(chunk.choices and chunk.choices[0].finish_reason),
                    "usage": chunk.usage is not None,
                    "text": bool(chunk.choices and chunk.choices[0].delta.content),
                }
                if last[stop_after]:
                    break
        [record] = llm.calls
        text = "Hel" if stop_after == "text" else "Hello"
        assert (record["status"], record["output"]["text"]) == (status, text)

    @pytest.mark.parametrize("asked", [False, True])
    def test_a_stream_without_usage_says_how_to_get_it(
        self, llm: CapturedRecords, asked: bool
    ) -> None:
        """A chat stream the app did not ask usage of is unpriced, and its price_source says
        what would price it; one that asked but got none (a server that ignores the option)
        says only that there was no usage."""
        chunks = fakes.chat_chunks(("Hel", "lo"), usage=False)
        fake = fakes.FakeOpenAI(routes={"/chat/completions": lambda _: fakes.sse_response(chunks)})
        client = fakes.sync_client(fake)
        options = {"stream_options": {"include_usage": True}} if asked else {}
        for _ in client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, **options
        ):
            pass
        [record] = llm.calls
        assert (record["usage"], record["cost_usd"]) == (None, None)
        hint = " (streamed without stream_options={'include_usage': True})"
        assert record["price_source"] == "unpriced: no usage" + ("" if asked else hint)

    @pytest.mark.parametrize(("complete", "status"), [(True, "ok"), (False, "cancelled")])
    async def test_responses_closed_after_the_terminal_event_is_ok(
        self, llm: CapturedRecords, complete: bool, status: str
    ) -> None:
        """A Responses stream left right after ``response.completed``: ``ok``."""
        events = fakes.response_events(complete=complete)
        fake = fakes.FakeOpenAI(routes={"/responses": lambda _: fakes.sse_response(events)})
        client = fakes.async_client(fake)
        stream = await client.responses.create(model="gpt-4o", input="hi", stream=True)
        async for event in stream:
            if event.type == events[-1]["type"]:
                break
        await stream.close()
        [record] = llm.calls
        assert record["status"] == status

    def test_a_chunk_of_an_unexpected_shape_reaches_the_app_as_without_llmlog(
        self, llm: CapturedRecords
    ) -> None:
        """A compatible server's odd chunk (``choices`` not a list) breaks nothing of the
        app's: the SDK yields it, so must the proxy; the record keeps the rest."""
        odd = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "choices": 5}
        chunks = [odd, *fakes.chat_chunks(("Hel", "lo"))]
        fake = fakes.FakeOpenAI(routes={"/chat/completions": lambda _: fakes.sse_response(chunks)})
        client = fakes.sync_client(fake)
        got = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
        assert len(got) == len(chunks)
        [record] = llm.calls
        assert (record["status"], record["output"]["text"]) == ("ok", "Hello")

    def test_azure_filter_chunk_first_leaves_ids_and_model_to_the_next(
        self, llm: CapturedRecords
    ) -> None:
        """Azure streams a prompt-filter chunk first, with empty ``id`` and ``model``: the
        record takes them from the first chunk that has them (and is priced by that model)."""
        filter_chunk = {
            "id": "",
            "object": "",
            "created": 0,
            "model": "",
            "choices": [],
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
        }
        chunks = [filter_chunk, *fakes.chat_chunks(("Hel", "lo"))]
        client = fakes.azure_client(lambda _: fakes.sse_response(chunks))
        list(client.chat.completions.create(model="my-deployment", messages=MESSAGES, stream=True))
        [record] = llm.calls
        assert record["response_id"] == fakes.CHAT_ID
        assert record["response_model"] == fakes.SERVED_MODEL
        assert record["output"]["text"] == "Hello"

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


@pytest.mark.parametrize("teed", [True, False])
def test_a_streamed_spoken_answer_keeps_its_transcript_and_a_stub_of_the_audio(
    llm: CapturedRecords, monkeypatch: pytest.MonkeyPatch, teed: bool
) -> None:
    """``modalities=["text", "audio"]`` streams the answer as ``delta.audio`` pieces: the
    record has the transcript, the audio as one stub (never the data) and a ttft, like
    the same call without ``stream``."""
    pcm = [bytes(range(i, i + 48)) for i in (0, 100)]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"} | {
            "choices": [choice]
        }

    chunks = [
        chunk({"role": "assistant", "content": None}),
        chunk({"audio": {"id": "audio_1", "transcript": "Hello "}}),
        *(chunk({"audio": {"data": base64.b64encode(p).decode()}}) for p in pcm),
        chunk({"audio": {"transcript": "there."}}),
        chunk({"audio": {"expires_at": 123}}, finish="stop"),
    ]
    if not teed:
        keep_chunk_objects(monkeypatch)
    fake = fakes.FakeOpenAI(routes={"/chat/completions": lambda _: fakes.sse_response(chunks)})
    client = fakes.sync_client(fake)
    list(
        client.chat.completions.create(model="gpt-4o-audio-preview", messages=MESSAGES, stream=True)
    )
    [record] = llm.calls
    audio = record["output"]["audio"]
    assert (audio["id"], audio["transcript"]) == ("audio_1", "Hello there.")
    assert audio["data"]["bytes"] == 96
    assert audio["data"]["sha256"] == hashlib.sha256(b"".join(pcm)).hexdigest()
    assert record["ttft_ms"] is not None and record["status"] == "ok"


class TestStreamCutShort:
    """A body that ends before the stream's last event, with no error from the SDK (a
    connection or proxy closed mid-answer): the app got part of an answer, the record
    says so instead of ``ok``."""

    @pytest.mark.parametrize(
        ("cut", "done", "status"),
        [(True, False, "error"), (False, False, "ok"), (True, True, "ok")],
    )
    def test_chat_stream(self, llm: CapturedRecords, cut: bool, done: bool, status: str) -> None:
        """Cut before the finish chunk: error with the text so far. A server that said
        ``[DONE]`` without a finish_reason (some compatible servers) is trusted."""
        chunks = fakes.chat_chunks(("Hel", "lo"))
        if cut:
            chunks = [c for c in chunks if not c["choices"][0]["finish_reason"]]
        fake = fakes.FakeOpenAI(
            routes={"/chat/completions": lambda _: fakes.sse_response(chunks, done=done)}
        )
        client = fakes.sync_client(fake)
        list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
        [record] = llm.calls
        assert (record["status"], record["output"]["text"]) == (status, "Hello")
        if status == "error":
            assert record["error"]["type"] == "StreamEndedEarly"
            assert "finish_reason" in record["error"]["message"]

    @pytest.mark.parametrize("complete", [False, True])
    async def test_responses_stream(self, llm: CapturedRecords, complete: bool) -> None:
        events = fakes.response_events(("Hel", "lo"), complete=complete)
        fake = fakes.FakeOpenAI(
            routes={"/responses": lambda _: fakes.sse_response(events, named=True, done=False)}
        )
        client = fakes.async_client(fake)
        stream = await client.responses.create(model="gpt-4o", input="hi", stream=True)
        async for _ in stream:
            pass
        [record] = llm.calls
        assert record["status"] == ("ok" if complete else "error")
        assert record["output"]["text"] == "Hello"
        assert (record["error"] or {}).get("type") == (None if complete else "StreamEndedEarly")


class TestEventTexts:
    def test_the_capture_keeps_what_the_server_sent(
        self, llm: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The texts of the events, as sent; not one SDK chunk object."""
        raw = fakes.chat_chunks(("Hel", "lo"), usage=True)
        fake = fakes.FakeOpenAI(routes={"/chat/completions": lambda _: fakes.sse_response(raw)})
        kept = spy_kept_texts(monkeypatch)
        request: dict[str, Any] = {"model": "gpt-4o", "messages": MESSAGES, "stream": True}
        chunks = list(fakes.sync_client(fake).chat.completions.create(**request))
        assert all(isinstance(c, ChatCompletionChunk) for c in chunks) and len(chunks) == len(raw)
        assert kept == [[*(json.dumps(c) for c in raw), "[DONE]"]]
        assert llm.calls[-1]["output"]["text"] == "Hello"

    def test_a_half_read_stream_keeps_only_what_the_app_read(
        self, llm: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The SDK decodes an event per chunk it yields: nothing is read ahead."""
        raw = fakes.chat_chunks(("Hel", "lo", "!"))
        fake = fakes.FakeOpenAI(routes={"/chat/completions": lambda _: fakes.sse_response(raw)})
        kept = spy_kept_texts(monkeypatch)
        request: dict[str, Any] = {"model": "gpt-4o", "messages": MESSAGES, "stream": True}
        stream = fakes.sync_client(fake).chat.completions.create(**request)
        assert [next(stream).choices[0].delta.content for _ in range(3)] == ["", "Hel", "lo"]
        stream.close()
        assert len(kept[0]) == 3
        record = llm.calls[-1]
        assert (record["status"], record["output"]["text"]) == ("cancelled", "Hello")

    def test_what_is_read_after_the_end_is_not_the_records(self, llm: CapturedRecords) -> None:
        """Closed before the first chunk, then read anyway (a buffered body allows it): the
        record, already written, has nothing of it."""
        raw = fakes.chat_chunks(("Hel", "lo"))
        fake = fakes.FakeOpenAI(routes={"/chat/completions": lambda _: fakes.sse_response(raw)})
        request: dict[str, Any] = {"model": "gpt-4o", "messages": MESSAGES, "stream": True}
        stream = fakes.sync_client(fake).chat.completions.create(**request)
        stream.close()
        list(stream)
        [record] = llm.calls
        assert (record["status"], record["output"]["text"]) == ("cancelled", None)

    async def test_aclose_ends_the_record(self, llm: CapturedRecords) -> None:
        """``await stream.aclose()`` (openai's alias of close) ends the record at once."""
        raw = fakes.chat_chunks(("Hel", "lo"))
        fake = fakes.FakeOpenAI(routes={"/chat/completions": lambda _: fakes.sse_response(raw)})
        request: dict[str, Any] = {"model": "gpt-4o", "messages": MESSAGES, "stream": True}
        stream = await fakes.async_client(fake).chat.completions.create(**request)
        if not hasattr(stream.__wrapped__, "aclose"):
            assert not hasattr(stream, "aclose")  # as on the SDK's own stream
            pytest.skip("this openai's AsyncStream has no aclose()")
        await stream.__anext__(), await stream.__anext__()
        await stream.aclose()
        [record] = llm.calls
        assert (record["status"], record["output"]["text"]) == ("cancelled", "Hel")

    def test_the_plain_text_reading_matches_the_general_one(self) -> None:
        """Decoded chunks read through the plain-text shortcut or as objects: the same reply."""
        raw = [
            *fakes.chat_chunks(("a", "", "b"), tool_call=("call_1", "f", ["{", "}"]), usage=True),
            chunk([{"index": 0, "delta": {"content": "c", "reasoning_content": "hm"}}]),
            chunk([{"index": 0, "delta": {"content": "d", "role": None, "refusal": None}}]),
            chunk([{"index": 0, "delta": {"content": "x"}, "logprobs": {"content": []}}]),
            chunk([{"index": 1, "delta": {"content": "y"}}]),
            chunk([{"index": 0, "delta": {"content": "z", "refusal": "no"}}]),
        ]
        decoded = json.loads(json.dumps(raw))
        assert streams.accumulate_chat(decoded) == streams.accumulate_chat(chat_models(raw))
        output = streams.accumulate_chat(decoded)["output"]
        assert [c["text"] for c in output["choices"]] == ["abcdxz", "y"]
        assert (output["thinking"], output["refusal"]) == ("hm", "no")

    def test_which_decoded_chunks_are_plain_text(self) -> None:
        """Only one choice, index 0, text and nothing else set: the shortcut's text."""
        assert streams._plain_text(chunk([{"index": 0, "delta": {"content": "x"}}])) == "x"
        nulls = {"content": "x", "role": None, "tool_calls": None}
        assert streams._plain_text(chunk([{"index": 0, "delta": nulls}])) == "x"
        others = [
            chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}}]),
            chunk([{"index": 1, "delta": {"content": "y"}}]),
            chunk([{"index": 0, "delta": {"content": "x"}}, {"index": 1, "delta": {}}]),
            chunk([{"index": 0, "delta": {"content": "x"}, "finish_reason": "stop"}]),
            chunk([{"index": 0, "delta": {"content": "x"}, "logprobs": {"content": []}}]),
            chunk([{"index": 0, "delta": {"content": "x", "reasoning_content": "hm"}}]),
            chunk([{"index": 0, "delta": {"content": None}}]),
            chunk([{"index": 0, "delta": {"content": "x"}}], usage={"total_tokens": 1}),
            chunk([]),
        ]
        assert [streams._plain_text(c) for c in others] == [None] * len(others)

    def test_legacy_completion_record_is_the_same_teed_or_not(
        self, llm: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Legacy completions: text, finish and usage alike from texts or chunk objects."""
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

        def read_stream() -> dict[str, Any]:
            list(client.completions.create(model="m", prompt="hi", stream=True))
            return volatile_free(llm.calls[-1])

        teed = read_stream()
        keep_chunk_objects(monkeypatch)
        assert read_stream() == teed
        assert teed["output"]["text"] == "hello" and teed["response_id"] == "cmpl"
        assert teed["usage"]["total_tokens"] == 3

    @pytest.mark.parametrize("usage", [False, True])
    def test_chat_records_are_the_same_teed_or_not(
        self, llm: CapturedRecords, monkeypatch: pytest.MonkeyPatch, usage: bool
    ) -> None:
        """A real client's stream gives the same record from texts or chunk objects."""
        raw = fakes.chat_chunks(("Hel", "lo", "!"), tool_call=("c", "f", ["{}"]), usage=usage)
        fake = fakes.FakeOpenAI(routes={"/chat/completions": lambda _: fakes.sse_response(raw)})
        client = fakes.sync_client(fake)

        def read_stream() -> dict[str, Any]:
            request: dict[str, Any] = {"model": "gpt-4o", "messages": MESSAGES, "stream": True}
            list(client.chat.completions.create(**request))
            record = llm.calls[-1]
            assert record["ttft_ms"] is not None
            return volatile_free(record)

        teed = read_stream()
        keep_chunk_objects(monkeypatch)
        assert read_stream() == teed
        assert teed["output"]["text"] == "Hello!" and teed["output"]["tool_calls"]

    @pytest.mark.parametrize(
        "odd",
        [
            {"content": " world", "logprobs": -math.inf},
            {"content": " w\ud83d"},
            {"content": " world", "logprobs": math.nan},
        ],
        ids=["infinity", "lone_surrogate", "nan"],
    )
    def test_json_only_pythons_parser_reads_still_counts(
        self, llm: CapturedRecords, monkeypatch: pytest.MonkeyPatch, odd: dict[str, Any]
    ) -> None:
        """The SDK reads NaN, infinities and lone surrogates (json.loads): so does the record."""
        logprobs = odd.pop("logprobs", None)
        raw = fakes.chat_chunks(("Hel", "X", "!"))
        raw[2]["choices"][0]["delta"] = odd
        if logprobs is not None:
            raw[2]["choices"][0]["logprobs"] = {"content": [{"token": "w", "logprob": logprobs}]}
        fake = fakes.FakeOpenAI(routes={"/chat/completions": lambda _: fakes.sse_response(raw)})
        client = fakes.sync_client(fake)

        def read_stream() -> dict[str, Any]:
            request: dict[str, Any] = {"model": "gpt-4o", "messages": MESSAGES, "stream": True}
            received = list(client.chat.completions.create(**request))
            assert received[2].choices[0].delta.content == odd["content"]
            return volatile_free(llm.calls[-1])

        teed = read_stream()
        assert teed["output"]["text"].startswith("Hel w")
        keep_chunk_objects(monkeypatch)
        assert read_stream() == teed

    def test_an_error_event_the_sdk_raises_on_is_not_output(
        self, llm: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A mid-stream chunk carrying ``error`` (and choices): the app gets APIError, not it."""
        raw = fakes.chat_chunks(("Hel", "lo"))[:2]
        failing = chunk([{"index": 0, "delta": {"content": "x"}, "finish_reason": "error"}])
        raw.append({**failing, "error": {"message": "upstream overloaded", "code": 502}})
        fake = fakes.FakeOpenAI(routes={"/chat/completions": lambda _: fakes.sse_response(raw)})
        client = fakes.sync_client(fake)

        def read_stream() -> dict[str, Any]:
            request: dict[str, Any] = {"model": "gpt-4o", "messages": MESSAGES, "stream": True}
            with pytest.raises(openai.APIError, match="upstream overloaded"):
                list(client.chat.completions.create(**request))
            return volatile_free(llm.calls[-1])

        teed = read_stream()
        assert (teed["status"], teed["output"]["text"]) == ("error", "Hel")
        assert teed["output"]["finish_reason"] is None
        keep_chunk_objects(monkeypatch)
        assert read_stream() == teed

    def test_an_ended_stream_leaves_no_text_to_the_sdk_cycle(self, llm: CapturedRecords) -> None:
        """Left early: the texts go with the record, none stay on the SDK's decoder (which
        the stream's generator keeps alive until a cyclic GC)."""
        raw = fakes.chat_chunks(("Hel", "lo", "!"))
        fake = fakes.FakeOpenAI(routes={"/chat/completions": lambda _: fakes.sse_response(raw)})
        request: dict[str, Any] = {"model": "gpt-4o", "messages": MESSAGES, "stream": True}
        stream = fakes.sync_client(fake).chat.completions.create(**request)
        with stream:
            next(stream), next(stream)
        assert stream._decoder._kept == []
        assert (llm.calls[-1]["status"], llm.calls[-1]["output"]["text"]) == ("cancelled", "Hel")

    @pytest.mark.parametrize("complete", [False, True])
    async def test_async_responses_record_is_the_same_teed_or_not(
        self, llm: CapturedRecords, monkeypatch: pytest.MonkeyPatch, complete: bool
    ) -> None:
        """An async Responses stream, whole or cut short: the same record either way."""
        events = fakes.response_events(("Hel", "lo"), complete=complete)
        fake = fakes.FakeOpenAI(
            routes={"/responses": lambda _: fakes.sse_response(events, named=True)}
        )
        client = fakes.async_client(fake)

        async def read_stream() -> dict[str, Any]:
            stream = await client.responses.create(model="gpt-4o", input="hi", stream=True)
            [event async for event in stream]
            return volatile_free(llm.calls[-1])

        teed = await read_stream()
        keep_chunk_objects(monkeypatch)
        assert await read_stream() == teed
        assert teed["output"]["text"] == "Hello"
