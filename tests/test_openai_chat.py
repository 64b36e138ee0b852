"""Chat Completions through real openai clients: create, parse, stream helper, raw, Azure."""

from __future__ import annotations

import collections
import gc
import inspect
import warnings
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pydantic
import pytest

import llmlog.testing
import openai_fakes as fakes
from llmlog.testing import CapturedRecords

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Say hello"},
]


@pytest.fixture
def llm() -> Iterator[CapturedRecords]:
    with llmlog.testing.capture_records(redact="off") as cap:
        yield cap


CUT_ANSWER_ERRORS = [
    ("length", openai.LengthFinishReasonError),
    ("content_filter", openai.ContentFilterFinishReasonError),
]
"""What the SDK raises over a structured answer cut short, by finish reason."""


class City(pydantic.BaseModel):
    name: str


def parse_fake() -> fakes.FakeOpenAI:
    return fakes.FakeOpenAI(
        routes={
            "/chat/completions": lambda body: fakes.json_response(
                fakes.chat_completion('{"name":"Oslo"}')
            )
        }
    )


@pytest.mark.parametrize("stream", [False, True])
def test_the_service_tier_the_answer_reports_is_recorded(
    llm: CapturedRecords, stream: bool
) -> None:
    """``service_tier="auto"`` asked, ``priority`` served: the record says what ran (the
    price depends on it; only the answer knows)."""
    answer = fakes.chat_completion() | {"service_tier": "priority"}
    chunks = [c | {"service_tier": "priority"} for c in fakes.chat_chunks(("Hi",))]
    reply = fakes.sse_response(chunks) if stream else fakes.json_response(answer)
    fake = fakes.FakeOpenAI(routes={"/chat/completions": lambda _: reply})
    client = fakes.sync_client(fake)
    result = client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, service_tier="auto", stream=stream
    )
    if stream:
        list(result)  # type: ignore[arg-type]
    [record] = llm.calls
    assert (record["params"]["service_tier"], record["service_tier"]) == ("auto", "priority")


class TestCreate:
    def test_one_record_with_the_whole_call(self, llm: CapturedRecords) -> None:
        """A plain call: model, params, system, messages, output, usage, ids, latency."""
        client = fakes.sync_client(fakes.default_fake())
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, temperature=0.1, seed=7)
        [record] = llm.calls
        assert record["provider"] == "openai"
        assert (record["operation"], record["method"]) == (
            "chat.completions",
            "chat.completions.create",
        )
        assert (record["model"], record["response_model"]) == ("gpt-4o", fakes.SERVED_MODEL)
        assert record["params"] == {"temperature": 0.1, "seed": 7}
        assert record["system"] == "You are terse."
        assert record["messages"] == [{"role": "user", "content": "Say hello"}]
        assert record["output"]["text"] == "Hello there!"
        assert record["usage"]["input_tokens"] == 20 and record["usage"]["cached_input_tokens"] == 8
        assert (record["request_id"], record["response_id"]) == (fakes.REQUEST_ID, fakes.CHAT_ID)
        assert record["status"] == "ok" and record["stream"] is False and record["latency_ms"] > 0

    def test_messages_are_a_snapshot(self, llm: CapturedRecords) -> None:
        """The app appending to its messages list after the call does not change the record."""
        client = fakes.sync_client(fakes.default_fake())
        messages: list[dict[str, Any]] = [{"role": "user", "content": "first"}]
        client.chat.completions.create(model="gpt-4o", messages=messages)
        messages.append({"role": "assistant", "content": "later"})
        messages[0]["content"] = "changed"
        assert llm.calls[0]["messages"] == [{"role": "user", "content": "first"}]

    @pytest.mark.parametrize("kind", ["generator", "iterator", "deque"])
    def test_messages_and_tools_from_any_iterable(self, llm: CapturedRecords, kind: str) -> None:
        """The SDK takes any iterable: a generator (read once, by the SDK) is recorded as
        sent, and the SDK still sends every message."""
        tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]

        def given(items: list[dict[str, Any]]) -> Any:
            if kind == "generator":
                return (item for item in items)
            return iter(items) if kind == "iterator" else collections.deque(items)

        fake = fakes.default_fake()
        client = fakes.sync_client(fake)
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, tools=tools)
        client.chat.completions.create(model="gpt-4o", messages=given(MESSAGES), tools=given(tools))
        as_lists, as_given = llm.calls
        assert fake.bodies()[1]["messages"] == MESSAGES
        for name in ("system", "messages", "params", "prompt_hash"):
            assert as_given[name] == as_lists[name], name
        assert as_given["messages"] and as_given["params"]["tools"] == tools

    def test_a_failing_generator_fails_the_call_as_without_llmlog(
        self, llm: CapturedRecords
    ) -> None:
        """The app's generator raising mid-way: the SDK meets the same exception object."""
        boom = ValueError("no more messages")

        def messages() -> Iterator[dict[str, Any]]:
            yield MESSAGES[0]
            raise boom

        client = fakes.sync_client(fakes.default_fake())
        with pytest.raises(ValueError) as raised:
            client.chat.completions.create(model="gpt-4o", messages=messages())
        assert raised.value is boom
        [record] = llm.calls
        assert record["status"] == "error" and record["error"]["message"] == "no more messages"

    def test_api_key_never_reaches_the_record(self, llm: CapturedRecords) -> None:
        """Neither the client's key nor an Authorization header passed per call is logged."""
        client = fakes.sync_client(fakes.default_fake())
        client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, extra_headers={"Authorization": "Bearer sk-per-call"}
        )
        [record] = llm.calls  # recorded: so a key left out is left out of a record
        assert record["status"] == "ok"
        text = repr(llm.records)
        assert "sk-test-key-do-not-log" not in text and "sk-per-call" not in text

    def test_stream_records_text_tool_calls_and_ttft(self, llm: CapturedRecords) -> None:
        """A streamed answer: text joined, tool-call fragments assembled, ttft, usage null."""
        fake = fakes.FakeOpenAI(
            routes={
                "/chat/completions": lambda body: fakes.sse_response(
                    fakes.chat_chunks(
                        ("Let me ", "check."),
                        tool_call=("call_1", "weather", ['{"ci', 'ty":"Oslo"}']),
                    )
                )
            }
        )
        client = fakes.sync_client(fake)
        stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        assert isinstance(stream, openai.Stream)
        chunks = list(stream)
        assert len(chunks) == 7
        [record] = llm.calls
        assert record["stream"] is True and record["status"] == "ok"
        assert record["output"]["text"] == "Let me check."
        assert record["output"]["tool_calls"] == [
            {"id": "call_1", "type": "function", "name": "weather", "arguments": '{"city":"Oslo"}'}
        ]
        assert record["output"]["finish_reason"] == "tool_calls"
        assert record["usage"] is None
        assert 0 <= record["ttft_ms"] <= record["latency_ms"]
        assert record["request_id"] == fakes.REQUEST_ID

    def test_stream_usage_comes_from_the_include_usage_chunk(self, llm: CapturedRecords) -> None:
        """With stream_options.include_usage the final empty-choices chunk gives usage."""
        fake = fakes.default_fake()
        client = fakes.sync_client(fake)
        stream = client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        for _ in stream:
            pass
        assert llm.calls[0]["usage"]["output_tokens"] == 5
        assert llm.calls[0]["params"]["stream_options"] == {"include_usage": True}

    def test_stream_options_are_never_injected(self, llm: CapturedRecords) -> None:
        """The request the SDK sends is exactly the app's: no stream_options added."""
        fake = fakes.default_fake()
        client = fakes.sync_client(fake)
        list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
        assert "stream_options" not in fake.bodies()[0]

    async def test_async_create_and_stream(self, llm: CapturedRecords) -> None:
        """AsyncOpenAI: a plain call and a stream each give one complete record."""
        client = fakes.async_client(fakes.default_fake())
        await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True
        )
        assert isinstance(stream, openai.AsyncStream)
        async with stream as entered:
            assert entered is stream
            texts = [c.choices[0].delta.content async for c in entered if c.choices]
        assert "".join(t or "" for t in texts) == "Hello!"
        plain, streamed = llm.calls
        assert plain["output"]["text"] == "Hello there!"
        assert streamed["output"]["text"] == "Hello!" and streamed["status"] == "ok"


def test_a_tracers_headers_stay_out_of_params(llm: CapturedRecords) -> None:
    """OpenLLMetry and Sentry add trace headers to each call: the record has the trace's ids,
    and kept they made params differ per call (and a replay resend a stale trace). The
    app's own headers stay; the server still gets every header."""
    fake = fakes.default_fake()
    client = fakes.sync_client(fake)
    headers = {
        "traceparent": "00-c6150000000000000000000000000001-12430f2cdad975b0-03",
        "tracestate": "vendor=1",
        "baggage": "user=1",
        "sentry-trace": "c6150000000000000000000000000001-12430f2cdad975b0-1",
        "X-Team": "search",
    }
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES, extra_headers=headers)
    [record] = llm.calls
    assert record["params"]["extra_headers"] == {"X-Team": "search"}
    assert fake.requests[-1].headers["traceparent"] == headers["traceparent"]


class TestParse:
    def test_an_apps_helper_header_does_not_rename_the_method(self, llm: CapturedRecords) -> None:
        """The SDK's helpers name themselves in ``X-Stainless-Helper-Method``; the same
        header sent by the app with another value leaves the record's ``method`` alone."""
        client = fakes.sync_client(fakes.default_fake())
        headers = {"X-Stainless-Helper-Method": "anything the app says"}
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, extra_headers=headers)
        client.chat.completions.parse(model="gpt-4o", messages=MESSAGES)
        assert [r["method"] for r in llm.calls] == [
            "chat.completions.create",
            "chat.completions.parse",
        ]

    def test_parse_is_recorded_with_the_parsed_object(self, llm: CapturedRecords) -> None:
        """parse() bypasses create: it has its own record, with output.parsed."""
        client = fakes.sync_client(parse_fake())
        completion = client.chat.completions.parse(
            model="gpt-4o", messages=MESSAGES, response_format=City
        )
        assert completion.choices[0].message.parsed == City(name="Oslo")
        [record] = llm.calls
        assert record["method"] == "chat.completions.parse"
        assert record["output"]["parsed"] == {"name": "Oslo"}
        assert record["params"]["response_format"]["class"].endswith("City")

    def test_raw_parse_decodes_the_json_answer(self, llm: CapturedRecords) -> None:
        """with_raw_response.parse: the record decodes the JSON answer; the app's parse() still
        builds its own model, and nothing was parsed behind its back."""
        client = fakes.sync_client(parse_fake())
        raw = client.chat.completions.with_raw_response.parse(
            model="gpt-4o", messages=MESSAGES, response_format=City
        )
        assert raw._parsed_by_type == {}
        [record] = llm.calls
        assert record["output"]["parsed"] == {"name": "Oslo"}
        assert raw.parse().choices[0].message.parsed == City(name="Oslo")

    def test_raw_create_with_json_text_is_not_parsed(self, llm: CapturedRecords) -> None:
        """Only a .parse call with a format gets output.parsed: create() answers stay text."""
        client = fakes.sync_client(parse_fake())
        client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
        [record] = llm.calls
        assert record["output"]["text"] == '{"name":"Oslo"}'
        assert record["output"]["parsed"] is None

    def test_raw_create_with_a_response_format_dict_keeps_its_answer(
        self, llm: CapturedRecords
    ) -> None:
        """A chat call's ``response_format`` is a dict (a transcript's is text, "srt"...)."""
        client = fakes.sync_client(parse_fake())
        client.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=MESSAGES, response_format={"type": "json_object"}
        )
        [record] = llm.calls
        assert record["output"]["text"] == '{"name":"Oslo"}'

    @pytest.mark.parametrize(("finish_reason", "error"), CUT_ANSWER_ERRORS)
    def test_parse_refusing_a_billed_answer_keeps_its_usage(
        self, llm: CapturedRecords, finish_reason: str, error: type[Exception]
    ) -> None:
        """parse() raises after the call succeeded (cut short, filtered): the error record
        still has what was billed and answered, from the completion the error carries."""
        if "completion" not in inspect.signature(error).parameters:
            pytest.skip(f"this openai's {error.__name__} carries no completion")
        answer = fakes.chat_completion('{"name": "Os', finish_reason=finish_reason)
        fake = fakes.FakeOpenAI(routes={"/chat/completions": lambda _: fakes.json_response(answer)})
        client = fakes.sync_client(fake)
        with pytest.raises(error):
            client.chat.completions.parse(model="gpt-4o", messages=MESSAGES, response_format=City)
        [record] = llm.calls
        assert (record["status"], record["error"]["type"]) == ("error", error.__name__)
        assert record["usage"]["input_tokens"] == answer["usage"]["prompt_tokens"]
        assert record["output"]["text"] == '{"name": "Os'
        assert record["output"]["finish_reason"] == finish_reason
        assert record["response_id"] == fakes.CHAT_ID
        assert record["cost_usd"] is not None
        assert record["request_id"] == fakes.REQUEST_ID  # from the HTTP response it came in

    async def test_async_parse(self, llm: CapturedRecords) -> None:
        """AsyncCompletions.parse is recorded once."""
        client = fakes.async_client(parse_fake())
        await client.chat.completions.parse(model="gpt-4o", messages=MESSAGES, response_format=City)
        [record] = llm.calls
        assert record["method"] == "chat.completions.parse" and record["output"]["parsed"] == {
            "name": "Oslo"
        }


class TestStreamHelperFormat:
    @pytest.mark.parametrize(("pieces", "parsed"), [(('{"name":', '"Oslo"}'), {"name": "Oslo"})])
    def test_helper_with_a_format_records_the_parsed_answer(
        self, llm: CapturedRecords, pieces: tuple[str, ...], parsed: Any
    ) -> None:
        """chat.completions.stream(response_format=Model): output.parsed, as for parse()."""
        chunks = fakes.chat_chunks(pieces)
        fake = fakes.FakeOpenAI(routes={"/chat/completions": lambda _: fakes.sse_response(chunks)})
        client = fakes.sync_client(fake)
        with client.chat.completions.stream(
            model="gpt-4o", messages=MESSAGES, response_format=City
        ) as stream:
            final = stream.get_final_completion()
        assert final.choices[0].message.parsed == City(name="Oslo")
        [record] = llm.calls
        assert record["output"]["parsed"] == parsed

    @pytest.mark.parametrize(("finish_reason", "error"), CUT_ANSWER_ERRORS)
    def test_helper_raising_over_a_cut_answer_records_its_error(
        self, llm: CapturedRecords, finish_reason: str, error: type[Exception]
    ) -> None:
        """The helper itself raises over the last chunk (the raw stream ended well): the app
        got that error, so the record is it, with the partial answer, as ``parse()``'s is."""
        chunks = fakes.chat_chunks(('{"name": "Os',))
        chunks[-1]["choices"][0]["finish_reason"] = finish_reason
        fake = fakes.FakeOpenAI(routes={"/chat/completions": lambda _: fakes.sse_response(chunks)})
        with (
            pytest.raises(error),
            fakes.sync_client(fake).chat.completions.stream(
                model="gpt-4o", messages=MESSAGES, response_format=City
            ) as stream,
        ):
            stream.until_done()
        [record] = llm.calls
        assert (record["status"], record["error"]["type"]) == ("error", error.__name__)
        assert record["output"]["text"] == '{"name": "Os'
        assert record["output"]["finish_reason"] == finish_reason

    async def test_async_helper_error_caught_inside_the_block(self, llm: CapturedRecords) -> None:
        """Caught by the app inside the block, the helper's error is still the record's."""
        chunks = fakes.chat_chunks(('{"name": "Os',))
        chunks[-1]["choices"][0]["finish_reason"] = "length"
        fake = fakes.FakeOpenAI(routes={"/chat/completions": lambda _: fakes.sse_response(chunks)})
        async with fakes.async_client(fake).chat.completions.stream(
            model="gpt-4o", messages=MESSAGES, response_format=City
        ) as stream:
            with pytest.raises(openai.LengthFinishReasonError):
                async for _event in stream:
                    pass
        [record] = llm.calls
        assert (record["status"], record["error"]["type"]) == ("error", "LengthFinishReasonError")

    def test_helper_without_a_format_parses_nothing(self, llm: CapturedRecords) -> None:
        """JSON-looking text without a requested format stays text."""
        chunks = fakes.chat_chunks(('{"name":', '"Oslo"}'))
        fake = fakes.FakeOpenAI(routes={"/chat/completions": lambda _: fakes.sse_response(chunks)})
        with fakes.sync_client(fake).chat.completions.stream(
            model="gpt-4o", messages=MESSAGES
        ) as stream:
            stream.until_done()
        [record] = llm.calls
        assert record["output"]["parsed"] is None


class TestStreamHelper:
    def test_helper_read_to_the_end_is_one_record(self, llm: CapturedRecords) -> None:
        """chat.completions.stream() calls create: one record, labelled with the helper."""
        client = fakes.sync_client(fakes.default_fake())
        with client.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream:
            final = stream.get_final_completion()
        assert final.choices[0].message.content == "Hello!"
        [record] = llm.calls
        assert record["method"] == "chat.completions.stream"
        assert record["status"] == "ok" and record["output"]["text"] == "Hello!"

    def test_leaving_the_helper_block_early_records_at_once(self, llm: CapturedRecords) -> None:
        """Leaving the helper's with-block early records cancelled at once, not at GC."""
        client = fakes.sync_client(fakes.default_fake())
        gc.disable()
        try:
            with client.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream:
                for _event in stream:
                    break
            [record] = llm.calls
        finally:
            gc.enable()
        assert record["status"] == "cancelled" and record["method"] == "chat.completions.stream"

    async def test_async_helper_early_exit(self, llm: CapturedRecords) -> None:
        """The async helper: leaving early records cancelled at once."""
        client = fakes.async_client(fakes.default_fake())
        gc.disable()
        try:
            async with client.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream:
                async for _event in stream:
                    break
            [record] = llm.calls
        finally:
            gc.enable()
        assert record["status"] == "cancelled"


class TestRawResponses:
    def test_with_raw_response_gives_the_sdk_object_and_a_full_record(
        self, llm: CapturedRecords
    ) -> None:
        """with_raw_response: the app's object is untouched; the record has output and usage."""
        client = fakes.sync_client(fakes.default_fake())
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
        assert type(raw).__name__ == "LegacyAPIResponse"
        assert raw._parsed_by_type == {}  # nothing parsed behind the app's back
        assert raw.parse().choices[0].message.content == "Hello there!"
        [record] = llm.calls
        assert record["output"]["text"] == "Hello there!" and record["usage"]["total_tokens"] == 25
        assert record["request_id"] == fakes.REQUEST_ID

    def test_raw_stream_parse_yields_a_recorded_stream(self, llm: CapturedRecords) -> None:
        """with_raw_response + stream=True: .parse() gives a Stream whose chunks are recorded."""
        client = fakes.sync_client(fakes.default_fake())
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=MESSAGES, stream=True
        )
        stream = raw.parse()
        assert isinstance(stream, openai.Stream) and raw.parse() is stream
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Hello!"
        [record] = llm.calls
        assert record["stream"] is True and record["output"]["text"] == "Hello!"

    def test_with_streaming_response_is_metadata_only(self, llm: CapturedRecords) -> None:
        """with_streaming_response: the body is the app's; the record keeps request id, prompt."""
        client = fakes.sync_client(fakes.default_fake())
        with client.chat.completions.with_streaming_response.create(
            model="gpt-4o", messages=MESSAGES
        ) as response:
            assert response.parse().choices[0].message.content == "Hello there!"
        [record] = llm.calls
        assert record["request_id"] == fakes.REQUEST_ID
        assert record["messages"] == [{"role": "user", "content": "Say hello"}]
        assert record["output"] is None and record["usage"] is None

    def test_a_stream_read_through_with_streaming_response_is_a_stream(
        self, llm: CapturedRecords
    ) -> None:
        """``stream=True`` through ``with_streaming_response``: the app reads the events
        itself; the record (metadata only) still says it was a stream."""
        client = fakes.sync_client(fakes.default_fake())
        with client.chat.completions.with_streaming_response.create(
            model="gpt-4o", messages=MESSAGES, stream=True
        ) as response:
            assert b"data:" in b"".join(response.iter_bytes())
        [record] = llm.calls
        assert record["stream"] is True and record["output"] is None

    async def test_async_raw_response(self, llm: CapturedRecords) -> None:
        """Async with_raw_response is recorded with output."""
        client = fakes.async_client(fakes.default_fake())
        raw = await client.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=MESSAGES
        )
        assert raw.parse().choices[0].message.content == "Hello there!"
        assert llm.calls[0]["output"]["text"] == "Hello there!"


class TestClients:
    def test_azure_deployment_is_the_model_and_the_real_model_is_reported(
        self, llm: CapturedRecords
    ) -> None:
        """AzureOpenAI: model = deployment name; response_model = what the service says."""
        fake = fakes.default_fake()
        client = fakes.azure_client(fake)
        client.chat.completions.create(model="my-gpt4o-deployment", messages=MESSAGES)
        assert "/deployments/my-gpt4o-deployment/" in str(fake.requests[0].url)
        [record] = llm.calls
        assert (record["model"], record["response_model"]) == (
            "my-gpt4o-deployment",
            fakes.SERVED_MODEL,
        )
        assert "azure-key-do-not-log" not in repr(record)

    def test_a_client_made_for_one_deployment_records_that_deployment(
        self, llm: CapturedRecords
    ) -> None:
        """``AzureOpenAI(azure_deployment=...)``: the SDK sends chat to that deployment whatever
        ``model`` says, so the record's model is the deployment; Responses goes by ``model``."""
        fake = fakes.default_fake()
        client = openai.AzureOpenAI(
            api_key="azure-key-do-not-log",
            api_version="2024-10-21",
            azure_endpoint="https://example-resource.openai.azure.com",
            azure_deployment="prod-gpt4o",
            http_client=httpx2.Client(transport=httpx2.MockTransport(fake)),
            max_retries=0,
        )
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        client.responses.create(model="my-responses-deployment", input="hi")
        assert "/deployments/prod-gpt4o/chat/completions" in str(fake.requests[0].url)
        assert "/deployments/" not in str(fake.requests[1].url)
        chat, responses = llm.calls
        assert (chat["model"], chat["response_model"]) == ("prod-gpt4o", fakes.SERVED_MODEL)
        assert responses["model"] == "my-responses-deployment"

    def test_a_client_made_with_a_deployments_base_url_sends_every_call_there(
        self, llm: CapturedRecords
    ) -> None:
        """``base_url=.../deployments/<name>``: the SDK sends image variations (not one of its
        deployment endpoints) there too, so the record's model is that deployment."""
        fake = fakes.default_fake()
        client = openai.AzureOpenAI(
            api_key="azure-key-do-not-log",
            api_version="2024-10-21",
            base_url="https://example-resource.openai.azure.com/openai/deployments/my-dalle2",
            http_client=httpx2.Client(transport=httpx2.MockTransport(fake)),
            max_retries=0,
        )
        with warnings.catch_warnings():  # newer SDKs deprecate variations; older do not
            warnings.simplefilter("ignore", DeprecationWarning)
            client.images.create_variation(image=("a.png", b"\x89PNG" * 10), model="dall-e-2")
        assert "/deployments/my-dalle2/images/variations" in str(fake.requests[0].url)
        assert llm.calls[0]["model"] == "my-dalle2"

    def test_a_capture_leaving_openai_out_gives_it_back_afterwards(self, tmp_path: Any) -> None:
        """capture_records(disabled_providers=...) restores the app's own patches."""
        log = tmp_path / "l.jsonl"
        llmlog.instrument(output=str(log), redact="off")
        try:
            with llmlog.testing.capture_records(disabled_providers=("openai",)):
                pass
            client = fakes.sync_client(fakes.default_fake())
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            llmlog.flush(30)
        finally:
            llmlog.uninstrument()
        assert len(log.read_text().splitlines()) == 1

    def test_a_stream_still_open_when_a_capture_ends_is_recorded_in_it(self) -> None:
        """The block ends with a stream half read (as ``uninstrument()`` would): its record
        is in the capture, ``cancelled``; it was lost (or, with llmlog on, went to the
        app's log)."""
        client = fakes.sync_client(fakes.default_fake())
        with llmlog.testing.capture_records(redact="off") as cap:
            stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
            next(iter(stream))
        assert [(r["stream"], r["status"]) for r in cap.calls] == [(True, "cancelled")]
        stream.close()

    def test_module_level_client(
        self, llm: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """openai.chat.completions.create(...) through the module-level client is recorded."""
        monkeypatch.setattr(openai, "api_key", "sk-module")
        monkeypatch.setattr(
            openai,
            "http_client",
            httpx2.Client(transport=httpx2.MockTransport(fakes.default_fake())),
        )
        monkeypatch.setattr(openai, "max_retries", 0)
        monkeypatch.setattr(openai, "_client", None)
        openai.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        assert [r["method"] for r in llm.calls] == ["chat.completions.create"]

    def test_client_created_before_instrumenting(self) -> None:
        """A client (and its resources) made before instrument() is recorded too."""
        client = fakes.sync_client(fakes.default_fake())
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # resources cached now
        with llmlog.testing.capture_records(redact="off") as llm:
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            assert len(llm.calls) == 1

    def test_errors_are_recorded_with_status_and_body(self, llm: CapturedRecords) -> None:
        """A 429: the app gets the SDK exception; the record has type, status, body, request id."""
        fake = fakes.FakeOpenAI(
            routes={
                "/chat/completions": lambda body: fakes.json_response(
                    fakes.error_body(), 429, "req_err"
                )
            }
        )
        client = fakes.sync_client(fake)
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        [record] = llm.calls
        assert record["status"] == "error" and record["request_id"] == "req_err"
        assert record["error"]["type"] == "RateLimitError" and record["error"]["status_code"] == 429
        assert record["error"]["body"]["code"] == "rate_limit_exceeded"

    def test_a_stream_refused_before_its_first_event_is_still_a_stream(
        self, llm: CapturedRecords
    ) -> None:
        """``stream=True`` answered by a 429: the record says ``stream: true`` (it was asked)."""
        fake = fakes.FakeOpenAI(
            routes={"/chat/completions": lambda _: fakes.json_response(fakes.error_body(), 429)}
        )
        with pytest.raises(openai.RateLimitError):
            fakes.sync_client(fake).chat.completions.create(
                model="gpt-4o", messages=MESSAGES, stream=True
            )
        [record] = llm.calls
        assert (record["status"], record["stream"]) == ("error", True)
