"""Other providers' chat-completion shapes through the real openai client: Mistral's content
chunks, OpenRouter's errors in a 200 body, ``reasoning`` (vLLM, OpenRouter, Ollama, Groq),
Groq's stream usage in ``x_groq``, DeepSeek's cache hits."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from importlib import resources
from typing import Any

import jsonschema
import pytest

import anthropic_fakes as afakes
import llmlog.testing
import openai_fakes as fakes
from llmlog.testing import CapturedRecords
from stream_texts import keep_chunk_objects

MESSAGES = [{"role": "user", "content": "hi"}]
SCHEMA = json.loads(resources.files("llmlog").joinpath("record.schema.json").read_text())
USAGE = {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}


@pytest.fixture
def llm() -> Iterator[CapturedRecords]:
    with llmlog.testing.capture_records(redact="off") as cap:
        yield cap


@pytest.fixture(params=["teed", "chunk objects"])
def read_as(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """A stream's record read from the event texts kept, or from the SDK's chunk objects."""
    if request.param == "chunk objects":
        keep_chunk_objects(monkeypatch)
    return str(request.param)


def answer(message: dict[str, Any], **extra: Any) -> dict[str, Any]:
    choice = {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": "stop"}
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": "served-model",
        "choices": [choice],
        **extra,
    }


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {
        "id": "c2",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "served-model",
        "choices": [choice],
        **extra,
    }


def call(body: Any, *, stream: bool = False, pause_after_first: float = 0.0) -> None:
    """One chat call answered with ``body`` (a JSON answer, or the chunks of a stream)."""
    reply = fakes.sse_response(body) if stream else fakes.json_response(body)
    client = fakes.sync_client(lambda _: reply, base_url="https://gateway.example/v1")
    result = client.chat.completions.create(model="asked", messages=MESSAGES, stream=stream)
    if stream:
        for index, _ in enumerate(result):  # type: ignore[arg-type]
            if index == 0:
                time.sleep(pause_after_first)


THINKING = {"type": "thinking", "thinking": [{"type": "text", "text": "Let me think."}]}


class TestContentAsChunks:
    """Mistral's Magistral: ``content`` a list of ``thinking`` and ``text`` chunks."""

    def test_an_answers_chunks_are_its_text_and_thinking(self, llm: CapturedRecords) -> None:
        """Text parts are the text, thinking parts' text the thinking; parts of any other
        kind (a reference, a stray value) are left out."""
        content = [
            THINKING,
            {"type": "reference", "reference_ids": [1]},
            {"type": "text", "text": "Hel"},
            42,
            None,
            {"type": "thinking", "thinking": [{"type": "image"}, "odd"]},
            {"type": "text", "text": "lo!"},
        ]
        call(answer({"content": content}, usage=USAGE))
        [record] = llm.calls
        output = record["output"]
        assert (output["text"], output["thinking"]) == ("Hello!", "Let me think.")
        assert record["usage"]["input_tokens"] == 1000

    def test_a_stream_of_chunks_keeps_the_whole_record(
        self, llm: CapturedRecords, read_as: str
    ) -> None:
        """Deltas whose content is a list: nothing of the record is lost (prompt, model,
        output, usage), the thinking is the thinking."""
        chunks = [
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": [THINKING]}),
            chunk({"content": [{"type": "text", "text": "Hel"}]}),
            chunk({"content": "lo!"}),
            chunk({"content": ""}, "stop", usage=USAGE),
        ]
        call(chunks, stream=True)
        [record] = llm.calls
        assert (record["model"], record["messages"], record["status"]) == ("asked", MESSAGES, "ok")
        assert (record["output"]["text"], record["output"]["thinking"]) == (
            "Hello!",
            "Let me think.",
        )
        assert record["usage"]["total_tokens"] == 1100

    def test_content_of_no_known_shape_never_loses_the_record(
        self, llm: CapturedRecords, read_as: str
    ) -> None:
        """A delta's content that is neither a string nor a list of chunks is left out."""
        chunks = [
            chunk({"content": "He"}),
            chunk({"content": {"odd": 1}}),
            chunk({"content": 7}),
            chunk({"content": [{"type": "audio"}, "x"]}),
            chunk({"content": "llo"}, "stop", usage=USAGE),
        ]
        call(chunks, stream=True)
        [record] = llm.calls
        assert (record["output"]["text"], record["usage"]["total_tokens"]) == ("Hello", 1100)
        assert "thinking" not in record["output"]


OPENROUTER_ERRORS = {
    "top-level": (
        {
            "error": {
                "code": 502,
                "message": "Provider returned error",
                "metadata": {"provider_name": "OpenAI", "raw": "upstream 500"},
            },
            "user_id": "user_abc",
        },
        "502",
        "Provider returned error",
    ),
    "in a choice": (
        {
            "id": "gen-5",
            "object": "chat.completion",
            "created": 1,
            "model": "openai/gpt-4o",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": ""},
                    "finish_reason": "error",
                    "error": {"code": 502, "message": "Upstream error"},
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 0, "total_tokens": 10},
        },
        "502",
        "Upstream error",
    ),
    "finish reason only": (
        {
            "id": "gen-6",
            "object": "chat.completion",
            "created": 1,
            "model": "openai/gpt-4o",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hal"},
                    "finish_reason": "error",
                }
            ],
        },
        "provider_error",
        None,
    ),
}


class TestErrorsInA200Body:
    """OpenRouter answers errors during generation with HTTP 200 and the error in the body."""

    @pytest.mark.parametrize("raw", [False, True], ids=["parsed", "with_raw_response"])
    @pytest.mark.parametrize("case", sorted(OPENROUTER_ERRORS))
    def test_the_error_is_the_records(self, llm: CapturedRecords, case: str, raw: bool) -> None:
        body, kind, message = OPENROUTER_ERRORS[case]
        client = fakes.sync_client(lambda _: fakes.json_response(body))
        chat = client.chat.completions.with_raw_response if raw else client.chat.completions
        chat.create(model="openai/gpt-4o", messages=MESSAGES)
        [record] = llm.calls
        jsonschema.validate(record, SCHEMA)
        error = body.get("error") or body["choices"][0].get("error")
        assert record["status"] == "error"
        assert record["error"] == {
            "type": kind,
            "message": message,
            "status_code": None,
            "code": str(error["code"]) if error else None,
            "body": error,
            "cause": None,
        }
        choices = body.get("choices")
        assert record["output"]["text"] == (choices[0]["message"]["content"] if choices else None)
        assert (record["usage"] or {}).get("input_tokens") == (10 if "usage" in body else None)

    def test_a_null_error_is_no_error(self, llm: CapturedRecords) -> None:
        call(answer({"content": "Hi"}, error=None))
        [record] = llm.calls
        assert (record["status"], record["error"], record["output"]["text"]) == ("ok", None, "Hi")


class TestReasoningField:
    """vLLM (which renamed ``reasoning_content``), OpenRouter, Ollama and Groq send the
    model's reasoning as ``reasoning``."""

    def test_an_answers_reasoning_is_its_thinking(self, llm: CapturedRecords) -> None:
        call(answer({"content": "Hello!", "reasoning": "thinking hard"}))
        [record] = llm.calls
        assert record["output"]["thinking"] == "thinking hard"

    def test_reasoning_content_is_read_first(self, llm: CapturedRecords) -> None:
        """A server sending both (the same text under both names) is not read twice."""
        both = {"reasoning_content": "hm", "reasoning": "hm"}
        call(answer({"content": "Hello!", **both}))
        call([chunk({"content": "", **both}), chunk({"content": "Hi"}, "stop")], stream=True)
        assert [r["output"]["thinking"] for r in llm.calls] == ["hm", "hm"]

    def test_streamed_reasoning_is_thinking_and_the_first_output(
        self, llm: CapturedRecords, read_as: str
    ) -> None:
        """Reasoning deltas are the thinking, and the first of them is the first output
        (``ttft_ms``), though the app reads the text a while later."""
        chunks = [
            chunk({"role": "assistant", "content": "", "reasoning": "think "}),
            chunk({"reasoning": "hard"}),
            chunk({"content": "Hello!"}),
            chunk({}, "stop"),
        ]
        pause = 0.15
        call(chunks, stream=True, pause_after_first=pause)
        [record] = llm.calls
        assert record["output"]["thinking"] == "think hard"
        assert record["output"]["text"] == "Hello!"
        assert record["ttft_ms"] + pause * 1000 <= record["latency_ms"]


def test_groq_streams_usage_in_x_groq(llm: CapturedRecords, read_as: str) -> None:
    """Groq's last chunk has its usage in ``x_groq.usage`` (``usage`` null)."""
    groq_usage = {"queue_time": 0.01, **USAGE, "total_time": 0.1}
    chunks = [
        chunk({"role": "assistant", "content": ""}, x_groq={"id": "req_01"}),
        chunk({"content": "Hello!"}),
        chunk({}, "stop", x_groq={"id": "req_01", "usage": groq_usage}),
    ]
    call(chunks, stream=True)
    [record] = llm.calls
    usage = record["usage"]
    assert (usage["input_tokens"], usage["output_tokens"], usage["raw"]) == (1000, 100, groq_usage)


def test_a_streams_own_usage_comes_before_x_groq(llm: CapturedRecords) -> None:
    """``usage`` in a chunk (asked with ``include_usage``) is the one recorded."""
    chunks = [
        chunk({"content": "Hello!"}),
        chunk({}, "stop", x_groq={"usage": {"prompt_tokens": 1, "completion_tokens": 1}}),
        {**chunk({}), "choices": [], "usage": USAGE},
    ]
    call(chunks, stream=True)
    [record] = llm.calls
    assert record["usage"]["input_tokens"] == 1000


@pytest.mark.parametrize("details", [None, 600], ids=["hits only", "cached_tokens too"])
def test_deepseeks_cache_hits_are_cached_input(llm: CapturedRecords, details: int | None) -> None:
    """DeepSeek says its cache hits in ``prompt_cache_hit_tokens``; a
    ``prompt_tokens_details.cached_tokens`` beside it is read first."""
    usage: dict[str, Any] = {
        **USAGE,
        "prompt_cache_hit_tokens": 800,
        "prompt_cache_miss_tokens": 200,
    }
    if details is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": details}
    call(answer({"content": "Hello!"}, usage=usage))
    [record] = llm.calls
    assert record["usage"]["cached_input_tokens"] == (details or 800)
    assert record["usage"]["input_tokens"] == 1000


class TestFinishReasonNotAString:
    """A server that says its finish reason as a number: the record stays valid against
    the schema (``finish_reason`` is a string or null), the answer kept."""

    @pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
    def test_openai_chat(self, llm: CapturedRecords, stream: bool) -> None:
        if stream:
            call([chunk({"content": "Hi"}), chunk({}, finish=1)], stream=True)  # type: ignore[arg-type]
        else:
            body = answer({"content": "Hi"})
            body["choices"][0]["finish_reason"] = 1
            call(body)
        [record] = llm.calls
        assert record["output"]["text"] == "Hi"
        assert record["output"]["finish_reason"] is None
        jsonschema.validate(record, SCHEMA)

    def test_anthropic_message(self, llm: CapturedRecords) -> None:
        body = afakes.message("Hi", stop_reason=1)  # type: ignore[arg-type]
        client = afakes.sync_client(afakes.json_handler(body))
        client.messages.create(model=afakes.MODEL, max_tokens=5, messages=afakes.user())
        [record] = llm.calls
        assert record["output"]["text"] == "Hi"
        assert record["output"]["finish_reason"] is None
        jsonschema.validate(record, SCHEMA)
