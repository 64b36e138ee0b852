"""The Anthropic instrumentor end to end: real ``anthropic`` clients over a fake transport.

Each entry point, sync and async, leaves exactly one record with the prompt,
the answer, usage and ids.
"""

from __future__ import annotations

import base64
import copy
import gc
import hashlib
import importlib
import inspect
import json
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pydantic
import pytest

import anthropic_fakes as fake
import llmlog.testing
from llmlog.instrumentors import _anthropic_batch_results as _batch_results
from llmlog.instrumentors import anthropic as instrumentor
from llmlog.testing import CapturedRecords


@pytest.fixture
def cap() -> Iterator[CapturedRecords]:
    with llmlog.testing.capture_records(disabled_providers=("openai",)) as captured:
        yield captured


def only(cap: CapturedRecords) -> dict[str, Any]:
    records = cap.calls
    assert len(records) == 1, records
    return records[0]


class Answer(pydantic.BaseModel):
    city: str


ANSWER_JSON = '{"city": "Paris"}'


class TestCreate:
    def test_plain_call_is_recorded_with_prompt_answer_and_usage(
        self, cap: CapturedRecords
    ) -> None:
        """One record: ids, model, params, system, messages, output, normalized usage."""
        body = fake.message(usage_body=fake.usage(12, 7, cache_read=8, cache_write=3))
        client = fake.sync_client(fake.json_handler(body))
        client.messages.create(
            model=fake.MODEL,
            max_tokens=64,
            system=[{"type": "text", "text": "Be brief."}],
            messages=fake.user("Hi"),
            metadata={"user_id": "u-1"},
            extra_body={"temperature": 0.1},
        )
        record = only(cap)
        assert record["provider"] == "anthropic"
        assert record["method"] == "messages.create"
        assert record["operation"] == "messages"
        assert record["request_id"] == fake.REQUEST_ID
        assert record["response_id"] == "msg_01Test"
        assert record["model"] == record["response_model"] == fake.MODEL
        assert record["params"] == {
            "max_tokens": 64,
            "metadata": {"user_id": "u-1"},
            "temperature": 0.1,  # sent in the body's top level, as extra_body puts it
        }
        assert record["system"] == "Be brief."
        assert record["messages"] == [{"role": "user", "content": "Hi"}]
        assert record["output"]["text"] == "Hello there."
        assert record["output"]["finish_reason"] == "end_turn"
        assert record["usage"]["input_tokens"] == 23
        assert record["usage"]["cached_input_tokens"] == 8
        assert record["usage"]["cache_write_tokens"] == 3
        assert (record["status"], record["stream"]) == ("ok", False)

    def test_system_blocks_with_cache_control_are_kept_as_sent(self, cap: CapturedRecords) -> None:
        """Where the prompt cache breakpoints were is part of what was sent: blocks that
        carry more than text are in ``params.system`` as sent; ``system`` is still the text."""
        client = fake.sync_client(fake.json_handler(fake.message()))
        blocks = [
            {"type": "text", "text": "Policy", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Today"},
        ]
        client.messages.create(model=fake.MODEL, max_tokens=5, system=blocks, messages=fake.user())
        client.messages.create(
            model=fake.MODEL,
            max_tokens=5,
            system=[{"type": "text", "text": "Plain"}],
            messages=fake.user(),
        )
        cached, plain = cap.calls
        assert cached["system"] == "Policy\nToday"
        assert cached["params"]["system"] == blocks
        assert plain["system"] == "Plain"
        assert "system" not in plain["params"]

    def test_the_stop_sequence_that_ended_the_answer_is_recorded(
        self, cap: CapturedRecords
    ) -> None:
        """``stop_reason: stop_sequence`` says a stop sequence ended it; which one is kept."""
        body = fake.message(stop_reason="stop_sequence", stop_sequence="END")
        client = fake.sync_client(fake.json_handler(body))
        client.messages.create(
            model=fake.MODEL, max_tokens=5, messages=fake.user(), stop_sequences=["END", "STOP"]
        )
        output = only(cap)["output"]
        assert (output["finish_reason"], output["stop_sequence"]) == ("stop_sequence", "END")

    async def test_async_call_is_recorded(self, cap: CapturedRecords) -> None:
        """``AsyncAnthropic`` records the same fields."""
        client = fake.async_client(fake.json_handler(fake.message()))
        await client.messages.create(model=fake.MODEL, max_tokens=5, messages=fake.user())
        record = only(cap)
        assert record["method"] == "messages.create"
        assert record["output"]["text"] == "Hello there."
        assert record["request_id"] == fake.REQUEST_ID

    def test_messages_are_a_snapshot(self, cap: CapturedRecords) -> None:
        """The app appending to its history after the call does not change the record."""
        history: list[dict[str, Any]] = [
            {"role": "user", "content": [{"type": "text", "text": "Q"}]}
        ]
        client = fake.sync_client(fake.json_handler(fake.message()))
        reply = client.messages.create(model=fake.MODEL, max_tokens=5, messages=history)
        history.append({"role": "assistant", "content": reply.content})
        history[0]["content"][0]["text"] = "edited"
        assert only(cap)["messages"] == [
            {"role": "user", "content": [{"type": "text", "text": "Q"}]}
        ]

    def test_inline_image_is_never_written(self, cap: CapturedRecords) -> None:
        """A base64 image in the prompt is a stub in the record."""
        image = {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": fake.PNG_B64},
        }
        client = fake.sync_client(fake.json_handler(fake.message()))
        client.messages.create(
            model=fake.MODEL, max_tokens=5, messages=[{"role": "user", "content": [image]}]
        )
        record = only(cap)
        assert fake.PNG_B64 not in json.dumps(record)  # nowhere: not in a nested source either
        stub = record["messages"][0]["content"][0]
        png = base64.b64decode(fake.PNG_B64)
        assert stub == {
            "type": "image",
            "mime": "image/png",
            "bytes": len(png),
            "sha256": hashlib.sha256(png).hexdigest(),
        }

    def test_tool_use_and_thinking_are_recorded(self, cap: CapturedRecords) -> None:
        """Tool calls and thinking come out of the content blocks."""
        content = [
            {"type": "thinking", "thinking": "Weather tool.", "signature": "s"},
            fake.tool_use_block(),
        ]
        client = fake.sync_client(
            fake.json_handler(fake.message(content=content, stop_reason="tool_use"))
        )
        client.messages.create(
            model=fake.MODEL,
            max_tokens=5,
            messages=fake.user(),
            tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
            tool_choice={"type": "auto"},
            thinking={"type": "enabled", "budget_tokens": 1024},
        )
        record = only(cap)
        assert record["output"]["tool_calls"][0]["name"] == "get_weather"
        assert record["output"]["thinking"] == "Weather tool."
        assert record["output"]["finish_reason"] == "tool_use"
        assert set(record["params"]) >= {"tools", "tool_choice", "thinking"}

    def test_http_error_is_recorded_with_request_id(self, cap: CapturedRecords) -> None:
        """A 400 leaves an error record with status code, body and the error's request id."""
        body = {"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}}
        client = fake.sync_client(fake.json_handler(body, status=400, request_id="req_bad"))
        with pytest.raises(anthropic.BadRequestError):
            client.messages.create(model=fake.MODEL, max_tokens=5, messages=fake.user())
        record = only(cap)
        assert record["status"] == "error"
        assert record["error"]["type"] == "BadRequestError"
        assert record["error"]["status_code"] == 400
        assert record["request_id"] == "req_bad"
        assert record["output"] is None


class TestCreateStream:
    def test_streamed_call_is_one_record_with_assembled_output(self, cap: CapturedRecords) -> None:
        """stream=True: text, tool call and cumulative usage assembled, ttft present."""
        events = fake.stream_events(["Hel", "lo"], tool_json=['{"city"', ': "Paris"}'])
        client = fake.sync_client(fake.sse_handler(events))
        stream = client.messages.create(
            model=fake.MODEL, max_tokens=5, messages=fake.user(), stream=True
        )
        seen = [event.type for event in stream]
        assert "message_stop" in seen
        record = only(cap)
        assert record["stream"] is True
        assert record["status"] == "ok"
        assert record["output"]["text"] == "Hello"
        assert record["output"]["tool_calls"][0]["arguments"] == '{"city":"Paris"}'
        assert record["usage"]["output_tokens"] == 15
        assert record["usage"]["input_tokens"] == 33
        assert record["ttft_ms"] is not None
        assert record["request_id"] == fake.REQUEST_ID
        assert record["response_id"] == "msg_01Stream"

    def test_a_streamed_stop_sequence_is_recorded(self, cap: CapturedRecords) -> None:
        """The ``message_delta`` event names the stop sequence."""
        events = fake.stream_events(["a"], stop_reason="stop_sequence", stop_sequence="###")
        client = fake.sync_client(fake.sse_handler(events))
        with client.messages.stream(
            model=fake.MODEL, max_tokens=5, messages=fake.user(), stop_sequences=["###"]
        ) as stream:
            assert stream.get_final_message().stop_sequence == "###"
        assert only(cap)["output"]["stop_sequence"] == "###"

    async def test_async_streamed_call_is_one_record(self, cap: CapturedRecords) -> None:
        """``AsyncStream`` is proxied the same way."""
        client = fake.async_client(fake.sse_handler(fake.stream_events(["a", "b"])))
        stream = await client.messages.create(
            model=fake.MODEL, max_tokens=5, messages=fake.user(), stream=True
        )
        async for _event in stream:
            pass
        record = only(cap)
        assert record["output"]["text"] == "ab"
        assert record["stream"] is True

    def test_error_event_mid_stream_keeps_partial_output(self, cap: CapturedRecords) -> None:
        """``event: error`` raises in the app and leaves an error record with the text so far."""
        events = fake.events_failing_after_first_text()
        client = fake.sync_client(fake.sse_handler(events))
        stream = client.messages.create(
            model=fake.MODEL, max_tokens=5, messages=fake.user(), stream=True
        )
        with pytest.raises(anthropic.APIStatusError):
            for _event in stream:
                pass
        record = only(cap)
        assert record["status"] == "error"
        assert record["output"]["text"] == "Hel"
        assert record["request_id"] == fake.REQUEST_ID

    async def test_async_error_event_mid_stream(self, cap: CapturedRecords) -> None:
        """The async twin records the same partial error."""
        events = fake.events_failing_after_first_text()
        client = fake.async_client(fake.sse_handler(events))
        stream = await client.messages.create(
            model=fake.MODEL, max_tokens=5, messages=fake.user(), stream=True
        )
        with pytest.raises(anthropic.APIStatusError):
            async for _event in stream:
                pass
        record = only(cap)
        assert (record["status"], record["output"]["text"]) == ("error", "Hel")

    def test_closing_early_is_a_cancelled_record(self, cap: CapturedRecords) -> None:
        """Leaving a ``with`` block after one event: status cancelled, partial kept."""
        client = fake.sync_client(fake.sse_handler(fake.stream_events(["Hel", "lo"])))
        stream = client.messages.create(
            model=fake.MODEL, max_tokens=5, messages=fake.user(), stream=True
        )
        with stream:
            for event in stream:
                if event.type == "content_block_delta":
                    break
        record = only(cap)
        assert record["status"] == "cancelled"
        assert record["output"]["text"] == "Hel"


def test_the_service_tier_the_answer_reports_is_recorded(cap: CapturedRecords) -> None:
    """Anthropic says which tier served the call in ``usage.service_tier``."""
    body = fake.message(usage_body=fake.usage(service_tier="priority"))
    client = fake.sync_client(fake.json_handler(body))
    client.messages.create(model=fake.MODEL, max_tokens=5, messages=fake.user())
    assert only(cap)["service_tier"] == "priority"


def test_structured_output_asked_in_output_config_is_parsed(cap: CapturedRecords) -> None:
    """Threads and tool runners ask for structured output as ``output_config.format`` through
    ``create`` and parse the answer themselves: the record has it parsed too."""
    body = fake.message('{"answer": "y"}')
    client = fake.sync_client(fake.json_handler(body))
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    if "output_config" not in inspect.signature(client.beta.messages.create).parameters:
        pytest.skip("this anthropic has no output_config")
    client.beta.messages.create(
        model=fake.MODEL,
        max_tokens=5,
        messages=fake.user(),
        output_config={"format": {"type": "json_schema", "schema": schema}},
    )
    assert only(cap)["output"]["parsed"] == {"answer": "y"}


class TestParse:
    def test_parse_is_recorded_with_the_parsed_object(self, cap: CapturedRecords) -> None:
        """``messages.parse`` (not routed through create) logs once, with ``parsed``."""
        client = fake.sync_client(fake.json_handler(fake.message(ANSWER_JSON)))
        result = client.messages.parse(
            model=fake.MODEL, max_tokens=5, messages=fake.user(), output_format=Answer
        )
        assert result.parsed_output == Answer(city="Paris")
        record = only(cap)
        assert record["method"] == "messages.parse"
        assert record["output"]["parsed"] == {"city": "Paris"}
        assert record["params"]["output_format"]["class"].endswith("Answer")

    async def test_async_parse_is_recorded(self, cap: CapturedRecords) -> None:
        """The async twin logs once with ``parsed``."""
        client = fake.async_client(fake.json_handler(fake.message(ANSWER_JSON)))
        await client.messages.parse(
            model=fake.MODEL, max_tokens=5, messages=fake.user(), output_format=Answer
        )
        assert only(cap)["output"]["parsed"] == {"city": "Paris"}

    def test_parse_with_a_format_in_output_config_records_the_answer_decoded(
        self, cap: CapturedRecords
    ) -> None:
        """A JSON-schema format given in ``output_config`` (the SDK leaves ``parsed_output``
        None): decoded from the answer's text, as ``create`` with the same format is."""
        schema = {"type": "object", "properties": {"city": {"type": "string"}}}
        config = {"format": {"type": "json_schema", "schema": schema}}
        client = fake.sync_client(fake.json_handler(fake.message(ANSWER_JSON)))
        client.messages.parse(
            model=fake.MODEL, max_tokens=5, messages=fake.user(), output_config=config
        )
        client.messages.create(
            model=fake.MODEL, max_tokens=5, messages=fake.user(), output_config=config
        )
        assert [r["output"]["parsed"] for r in cap.calls] == [{"city": "Paris"}] * 2


class TestMetadataCalls:
    def test_count_tokens_is_a_metadata_record(self, cap: CapturedRecords) -> None:
        """count_tokens bills nothing: the count is in output, usage stays null, cost 0."""
        client = fake.sync_client(fake.json_handler({"input_tokens": 42}))
        client.messages.count_tokens(model=fake.MODEL, messages=fake.user(), system="S")
        record = only(cap)
        assert record["operation"] == "messages.count_tokens"
        assert record["output"]["token_count"] == 42
        assert record["usage"] is None
        assert (record["cost_usd"], record["price_source"]) == (
            0.0,
            "not billed: counting tokens is free",
        )

    async def test_async_count_tokens(self, cap: CapturedRecords) -> None:
        """The async twin gives the same record."""
        client = fake.async_client(fake.json_handler({"input_tokens": 42}))
        await client.messages.count_tokens(model=fake.MODEL, messages=fake.user())
        assert only(cap)["output"]["token_count"] == 42

    def test_batch_create_is_a_metadata_record(self, cap: CapturedRecords) -> None:
        """A batch job: its id and status, the request count and model, no prompts."""
        requests = [
            {"custom_id": str(i), "params": {"model": fake.MODEL, "max_tokens": 5, "messages": []}}
            for i in range(2)
        ]
        client = fake.sync_client(fake.json_handler(batch_body()))
        client.messages.batches.create(requests=requests)  # type: ignore[arg-type]
        record = only(cap)
        assert record["method"] == "messages.batches.create"
        assert record["operation"] == "messages.batches"
        assert record["response_id"] == "msgbatch_01"
        assert record["model"] == fake.MODEL
        assert record["params"] == {"requests": 2}
        assert record["output"]["batch_status"] == "in_progress"
        assert record["messages"] is None

    async def test_async_batch_create(self, cap: CapturedRecords) -> None:
        """The async twin gives the same record."""
        client = fake.async_client(fake.json_handler(batch_body()))
        await client.messages.batches.create(requests=[])
        assert only(cap)["response_id"] == "msgbatch_01"


def batch_body() -> dict[str, Any]:
    return {
        "id": "msgbatch_01",
        "type": "message_batch",
        "processing_status": "in_progress",
        "request_counts": {
            "processing": 2,
            "succeeded": 0,
            "errored": 0,
            "canceled": 0,
            "expired": 0,
        },
        "created_at": "2026-01-01T00:00:00Z",
        "expires_at": "2026-01-02T00:00:00Z",
        "ended_at": None,
        "archived_at": None,
        "cancel_initiated_at": None,
        "results_url": None,
    }


def batch_results_handler(*, prefix: str = "/v1/messages/batches") -> fake.Handler:
    """A finished batch and its results: one succeeded, one errored, one canceled, one
    expired request (the JSONL file the SDK streams)."""
    succeeded = fake.message("Paris.", usage_body=fake.usage(100_000, 10_000, service_tier="batch"))
    error = {"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}}
    lines = [
        {"custom_id": "q1", "result": {"type": "succeeded", "message": succeeded}},
        {"custom_id": "q2", "result": {"type": "errored", "error": error}},
        {"custom_id": "q3", "result": {"type": "canceled"}},
        {"custom_id": "q4", "result": {"type": "expired"}},
    ]
    batch = batch_body() | {
        "processing_status": "ended",
        "results_url": f"https://api.anthropic.com{prefix}/msgbatch_01/results",
    }
    jsonl = "".join(json.dumps(line) + "\n" for line in lines).encode()

    def handle(request: httpx2.Request) -> httpx2.Response:
        headers = {"request-id": fake.REQUEST_ID}
        if request.url.path.endswith("/results"):
            return httpx2.Response(200, content=jsonl, headers=headers)
        return httpx2.Response(200, json=batch, headers=headers)

    return handle


class TestBatchResults:
    """Each request of a batch is a record when the app reads its result, once."""

    @pytest.fixture(autouse=True)
    def _results_not_read_yet(self) -> None:
        _batch_results._recorded.clear()  # each test reads msgbatch_01 as if for the first time

    def test_results_read_again_after_instrumenting_again_are_not_recorded_again(
        self, tmp_path: Any
    ) -> None:
        """The process read them: a second record would bill them twice."""
        client = fake.sync_client(batch_results_handler())
        output = tmp_path / "calls.jsonl"
        try:
            llmlog.instrument(output=str(output), redact="off")
            list(client.messages.batches.results("msgbatch_01"))
            llmlog.uninstrument()
            llmlog.instrument(output=str(output), redact="off")
            list(client.messages.batches.results("msgbatch_01"))
            assert llmlog.flush(10)
        finally:
            llmlog.uninstrument()
        assert len(output.read_text().splitlines()) == 4

    def test_each_result_read_is_one_record(self, cap: CapturedRecords) -> None:
        client = fake.sync_client(batch_results_handler())
        results = client.messages.batches.results("msgbatch_01")
        assert isinstance(results, anthropic._decoders.jsonl.JSONLDecoder)
        read = list(results)
        assert [r.custom_id for r in read] == ["q1", "q2", "q3", "q4"]
        assert type(read[0]) is anthropic.types.messages.MessageBatchIndividualResponse
        list(client.messages.batches.results("msgbatch_01"))  # read again: no new records
        ok, errored, canceled, expired = cap.calls
        assert (ok["operation"], ok["method"], ok["status"]) == (
            "messages",
            "messages.batches.results",
            "ok",
        )
        assert ok["params"] == {"batch_id": "msgbatch_01", "custom_id": "q1"}
        assert ok["output"]["text"] == "Paris." and ok["response_id"] == "msg_01Test"
        assert ok["model"] == fake.MODEL and ok["service_tier"] == "batch"
        assert ok["usage"]["input_tokens"] == 100_000
        # claude-haiku-4-5 at the batch price: $0.50 / MTok in, $2.50 / MTok out (half)
        assert ok["cost_usd"] == pytest.approx(0.05 + 0.025)
        assert ok["latency_ms"] is None and ok["messages"] is None
        assert (errored["status"], errored["error"]["type"]) == ("error", "invalid_request_error")
        assert errored["error"]["message"] == "bad" and errored["cost_usd"] is None
        assert canceled["status"] == "cancelled"
        assert (expired["status"], expired["error"]["type"]) == ("error", "expired")

    async def test_async_beta_results(self, cap: CapturedRecords) -> None:
        client = fake.async_client(batch_results_handler())
        results = await client.beta.messages.batches.results("msgbatch_01")
        assert isinstance(results, anthropic._decoders.jsonl.AsyncJSONLDecoder)
        first = await results.__anext__()
        assert first.custom_id == "q1"
        [record] = cap.calls  # only what the app read
        assert record["method"] == "beta.messages.batches.results"
        assert record["output"]["text"] == "Paris."

    async def test_the_decoder_is_the_sdks_as_far_as_the_app_can_tell(
        self, cap: CapturedRecords
    ) -> None:
        """Not a context manager (the same TypeError), copied like the SDK's, async too."""
        results = fake.sync_client(batch_results_handler()).messages.batches.results("msgbatch_01")
        with pytest.raises(TypeError, match="does not support the context manager"), results:  # type: ignore[attr-defined]
            pass
        assert [r.custom_id for r in copy.copy(results)] == ["q1", "q2", "q3", "q4"]
        aclient = fake.async_client(batch_results_handler())
        aresults = await aclient.messages.batches.results("msgbatch_01")
        with pytest.raises(TypeError, match="asynchronous context manager"):
            async with aresults:  # type: ignore[attr-defined]
                pass
        assert len(cap.calls) == 4

    def test_a_model_without_a_batch_price_is_unpriced(self, cap: CapturedRecords) -> None:
        """The standard price would be twice the bill: no guess."""
        handler = batch_results_handler()

        def old_model(request: httpx2.Request) -> httpx2.Response:
            response = handler(request)
            if request.url.path.endswith("/results"):
                body = response.content.replace(fake.MODEL.encode(), b"claude-3-haiku-20240307")
                return httpx2.Response(200, content=body, headers=response.headers)
            return response

        client = fake.sync_client(old_model)
        next(iter(client.messages.batches.results("msgbatch_01")))
        [record] = cap.calls
        assert record["cost_usd"] is None
        assert "no batch price" in record["price_source"]


class TestBeta:
    def test_beta_create_is_recorded(self, cap: CapturedRecords) -> None:
        """``beta.messages.create`` is its own entry point with its own method name."""
        client = fake.sync_client(fake.json_handler(fake.message()))
        client.beta.messages.create(model=fake.MODEL, max_tokens=5, messages=fake.user())
        record = only(cap)
        assert record["method"] == "beta.messages.create"
        assert record["output"]["text"] == "Hello there."

    def test_tool_objects_are_recorded_as_the_sdk_sends_them(self, cap: CapturedRecords) -> None:
        """``@beta_tool`` functions in ``tools``: the definitions the model saw, not a repr."""

        @anthropic.beta_tool
        def get_weather(city: str) -> str:
            """The weather in a city."""
            return "sunny"

        seen: list[Any] = []
        client = fake.sync_client(fake.json_handler(fake.message(), seen=seen))
        client.beta.messages.create(
            model=fake.MODEL, max_tokens=5, messages=fake.user(), tools=[get_weather]
        )
        sent = seen[0]["tools"]
        assert only(cap)["params"]["tools"] == sent
        assert sent[0]["name"] == "get_weather"

    async def test_async_beta_streamed_create(self, cap: CapturedRecords) -> None:
        """Beta streams are proxied like first-party ones."""
        client = fake.async_client(fake.sse_handler(fake.stream_events(["x"])))
        stream = await client.beta.messages.create(
            model=fake.MODEL, max_tokens=5, messages=fake.user(), stream=True
        )
        async for _event in stream:
            pass
        assert only(cap)["output"]["text"] == "x"

    def test_beta_parse_and_count_tokens(self, cap: CapturedRecords) -> None:
        """beta parse and count_tokens log one record each."""
        client = fake.sync_client(
            fake.routed_handler(
                {
                    "/v1/messages": fake.json_handler(fake.message(ANSWER_JSON)),
                    "/v1/messages/count_tokens": fake.json_handler({"input_tokens": 3}),
                }
            )
        )
        client.beta.messages.parse(
            model=fake.MODEL, max_tokens=5, messages=fake.user(), output_format=Answer
        )
        client.beta.messages.count_tokens(model=fake.MODEL, messages=fake.user())
        methods = [record["method"] for record in cap.calls]
        assert methods == ["beta.messages.parse", "beta.messages.count_tokens"]

    async def test_async_beta_batch_create(self, cap: CapturedRecords) -> None:
        """beta batches.create is covered too."""
        client = fake.async_client(fake.json_handler(batch_body()))
        await client.beta.messages.batches.create(requests=[])
        assert only(cap)["method"] == "beta.messages.batches.create"


class TestPlatforms:
    def bedrock(self, body: dict[str, Any]) -> anthropic.AnthropicBedrock:
        return anthropic.AnthropicBedrock(
            api_key="k",
            aws_region="us-east-1",
            http_client=fake.httpx2.Client(
                transport=fake.httpx2.MockTransport(fake.json_handler(body))
            ),
        )

    def vertex(self, body: dict[str, Any]) -> anthropic.AnthropicVertex:
        return anthropic.AnthropicVertex(
            access_token="t",
            region="us-east5",
            project_id="p",
            http_client=fake.httpx2.Client(
                transport=fake.httpx2.MockTransport(fake.json_handler(body))
            ),
        )

    def test_bedrock_messages_and_beta_copy(self, cap: CapturedRecords) -> None:
        """Bedrock's first-party messages and its copied beta functions each log once."""
        client = self.bedrock(fake.message())
        client.messages.create(model=fake.MODEL, max_tokens=5, messages=fake.user())
        client.beta.messages.create(model=fake.MODEL, max_tokens=5, messages=fake.user())
        assert [r["method"] for r in cap.calls] == ["messages.create", "beta.messages.create"]

    def test_vertex_beta_copy_including_count_tokens(self, cap: CapturedRecords) -> None:
        """Vertex's beta class copies count_tokens as well; it is patched too."""
        client = self.vertex(fake.message() | {"input_tokens": 9})
        client.beta.messages.create(model=fake.MODEL, max_tokens=5, messages=fake.user())
        client.beta.messages.count_tokens(model=fake.MODEL, messages=fake.user())
        methods = [r["method"] for r in cap.calls]
        assert methods == ["beta.messages.create", "beta.messages.count_tokens"]

    async def test_async_bedrock_beta_copy(self, cap: CapturedRecords) -> None:
        """The async Bedrock beta copy is its own target."""
        client = anthropic.AsyncAnthropicBedrock(
            api_key="k",
            aws_region="us-east-1",
            http_client=fake.httpx2.AsyncClient(
                transport=fake.httpx2.MockTransport(fake.json_handler(fake.message()))
            ),
        )
        await client.beta.messages.create(model=fake.MODEL, max_tokens=5, messages=fake.user())
        assert only(cap)["method"] == "beta.messages.create"

    def test_every_platform_copy_is_in_the_patch_table(self) -> None:
        """The table names each copied function object that exists in this SDK."""
        from anthropic.lib.bedrock import _beta_messages as bedrock
        from anthropic.lib.vertex import _beta_messages as vertex

        rows = {(t.module, t.qualname) for t in instrumentor.TARGETS}
        for module in (bedrock, vertex):
            for cls in ("Messages", "AsyncMessages"):
                for name in ("create", "stream", "parse", "count_tokens"):
                    if name in vars(getattr(module, cls)):
                        assert (module.__name__, f"{cls}.{name}") in rows


class TestPatchTable:
    def test_every_row_exists_in_the_installed_sdk(self) -> None:
        """No row of the table is silently skipped on the SDK version we test against."""
        for target in instrumentor.TARGETS:
            cls, name = target.qualname.split(".")
            owner = getattr(importlib.import_module(target.module), cls)
            assert name in vars(owner), target

    def test_every_result_class_the_instrumentor_knows_exists(self) -> None:
        """Streams, stream managers and raw responses are all recognised on this SDK version."""
        for path, _handler in instrumentor._HANDLED_CLASSES:
            module_name, _, class_name = path.partition(":")
            assert isinstance(getattr(importlib.import_module(module_name), class_name), type)

    def test_async_rows_match_the_sdk_functions(self) -> None:
        """A row is async exactly when the SDK function (under its decorators) is a coroutine."""
        for target in instrumentor.TARGETS:
            cls, name = target.qualname.split(".")
            function = vars(getattr(importlib.import_module(target.module), cls))[name]
            original = inspect.unwrap(getattr(function, "__wrapped__", function))
            assert inspect.iscoroutinefunction(original) == target.is_async, target


class TestRawResponses:
    def test_with_raw_response_reads_the_body_without_parsing_for_the_app(
        self, cap: CapturedRecords
    ) -> None:
        """The app gets the SDK's APIResponse; the record has output and usage from the body."""
        client = fake.sync_client(fake.json_handler(fake.message()))
        response = client.messages.with_raw_response.create(
            model=fake.MODEL, max_tokens=5, messages=fake.user()
        )
        assert isinstance(response, anthropic._response.APIResponse)
        record = only(cap)
        assert record["output"]["text"] == "Hello there."
        assert record["usage"]["output_tokens"] == 7
        assert record["request_id"] == fake.REQUEST_ID
        assert record["params"] == {"max_tokens": 5}
        assert response.parse().content[0].text == "Hello there."

    def test_a_body_that_is_no_json_is_no_output_not_an_error(self, cap: CapturedRecords) -> None:
        """An empty (or non-JSON) 200 body read by the SDK: a record without output, and no
        llmlog error (the SDK's own tests send such bodies)."""
        client = fake.sync_client(lambda request: httpx2.Response(200, content=b""))
        response = client.messages.with_raw_response.create(
            model=fake.MODEL, max_tokens=5, messages=fake.user()
        )
        assert response.http_response.content == b""
        record = only(cap)
        assert (record["status"], record["output"]) == ("ok", None)

    def test_raw_parse_leaves_the_post_parser_to_the_app(self, cap: CapturedRecords) -> None:
        """beta ``with_raw_response.parse``: llmlog decodes the JSON answer itself, the app's
        parse still builds its model."""
        client = fake.sync_client(fake.json_handler(fake.message(ANSWER_JSON)))
        response = client.beta.messages.with_raw_response.parse(
            model=fake.MODEL, max_tokens=5, messages=fake.user(), output_format=Answer
        )
        record = only(cap)
        assert record["output"]["text"] == ANSWER_JSON
        assert record["output"]["parsed"] == {"city": "Paris"}
        assert response.parse().parsed_output == Answer(city="Paris")

    def test_with_streaming_response_is_metadata_only(self, cap: CapturedRecords) -> None:
        """An unread body belongs to the app: the record has the request id, no output."""
        client = fake.sync_client(fake.json_handler(fake.message()))
        with client.messages.with_streaming_response.create(
            model=fake.MODEL, max_tokens=5, messages=fake.user()
        ) as response:
            assert response.parse().content[0].text == "Hello there."
        record = only(cap)
        assert record["request_id"] == fake.REQUEST_ID
        assert record["output"] is None
        assert record["usage"] is None
        assert record["status"] == "ok"

    async def test_async_raw_and_streaming_response(self, cap: CapturedRecords) -> None:
        """Async twins: raw read gives output, streaming response stays metadata only."""
        client = fake.async_client(fake.json_handler(fake.message()))
        raw = await client.messages.with_raw_response.create(
            model=fake.MODEL, max_tokens=5, messages=fake.user()
        )
        assert (await raw.parse()).content[0].text == "Hello there."
        async with client.messages.with_streaming_response.create(
            model=fake.MODEL, max_tokens=5, messages=fake.user()
        ) as response:
            await response.read()
        first, second = cap.calls
        assert first["output"]["text"] == "Hello there."
        assert second["output"] is None
        assert second["request_id"] == fake.REQUEST_ID

    def test_raw_streamed_create_records_what_parse_reads(self, cap: CapturedRecords) -> None:
        """Raw + stream=True: the stream ``.parse()`` gives the app is recorded like a plain
        stream (output, usage, cost), and stays the SDK's stream, the same object each time."""
        client = fake.sync_client(fake.sse_handler(fake.stream_events(["a", "b"])))
        response = client.messages.with_raw_response.create(
            model=fake.MODEL, max_tokens=5, messages=fake.user(), stream=True
        )
        assert cap.calls == []  # nothing read yet
        stream = response.parse()
        assert isinstance(stream, anthropic.Stream) and response.parse() is stream
        assert [e.type for e in stream][-1] == "message_stop"
        record = only(cap)
        assert (record["status"], record["stream"]) == ("ok", True)
        assert record["output"]["text"] == "ab"
        assert record["usage"]["output_tokens"] == 15
        assert record["cost_usd"] is not None
        assert record["request_id"] == fake.REQUEST_ID

    async def test_async_raw_streamed_create_records_what_parse_reads(
        self, cap: CapturedRecords
    ) -> None:
        client = fake.async_client(fake.sse_handler(fake.stream_events(["a", "b"])))
        response = await client.messages.with_raw_response.create(
            model=fake.MODEL, max_tokens=5, messages=fake.user(), stream=True
        )
        stream = await response.parse()
        assert isinstance(stream, anthropic.AsyncStream) and await response.parse() is stream
        assert [e.type async for e in stream][-1] == "message_stop"
        record = only(cap)
        assert (record["status"], record["output"]["text"]) == ("ok", "ab")

    def test_raw_stream_read_another_way_is_metadata_only_and_ok(
        self, cap: CapturedRecords
    ) -> None:
        """Raw + stream=True read with ``iter_lines()`` (never through ``.parse()``): llmlog
        saw none of it, so the record says only what it knows, not ``cancelled``."""
        client = fake.sync_client(fake.sse_handler(fake.stream_events(["a"])))
        started = time.perf_counter()
        response = client.messages.with_raw_response.create(
            model=fake.MODEL, max_tokens=5, messages=fake.user(), stream=True
        )
        handed_over = time.perf_counter()
        assert any("message_stop" in line for line in response.http_response.iter_lines())
        time.sleep(0.5)  # the app goes on holding the response
        del response
        gc.collect()
        record = only(cap)
        assert (record["status"], record["stream"], record["output"]) == ("ok", True, None)
        # timed to when the SDK handed the response over, not to its collection
        assert record["latency_ms"] <= (handed_over - started) * 1000 + 1

    def test_streaming_response_of_a_stream_is_metadata_only(self, cap: CapturedRecords) -> None:
        """``with_streaming_response`` + stream=True: the app reads the body itself."""
        client = fake.sync_client(fake.sse_handler(fake.stream_events(["a"])))
        with client.messages.with_streaming_response.create(
            model=fake.MODEL, max_tokens=5, messages=fake.user(), stream=True
        ) as response:
            assert any(b"message_stop" in line.encode() for line in response.iter_lines())
        record = only(cap)
        assert (record["status"], record["stream"], record["output"]) == ("ok", True, None)
