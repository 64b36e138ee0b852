"""Responses API through real openai clients: create, stream, parse, the stream helper, retrieve."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pydantic
import pytest

import llmlog.testing
import openai_fakes as fakes
from llmlog.testing import CapturedRecords
from ws_testing import VALIDATOR


@pytest.fixture
def llm() -> Iterator[CapturedRecords]:
    with llmlog.testing.capture_records(redact="off") as cap:
        yield cap


class Weather(pydantic.BaseModel):
    city: str


def retrieve_fake() -> fakes.FakeOpenAI:
    """GET /responses/{id}: the stored response, or its events again with ?stream=true."""

    fake = fakes.FakeOpenAI()

    def route(_body: dict[str, Any]) -> httpx2.Response:
        if fake.requests[-1].url.params.get("stream") == "true":
            return fakes.sse_response(fakes.response_events(), named=True, done=False)
        return fakes.json_response(fakes.response_object())

    fake.routes["/responses"] = route
    return fake


class TestCreate:
    def test_plain_response(self, llm: CapturedRecords) -> None:
        """instructions are the system prompt; text, reasoning, usage and ids are recorded."""
        client = fakes.sync_client(fakes.default_fake())
        result = client.responses.create(
            model="gpt-4o", instructions="Be brief.", input="Hi", max_output_tokens=50
        )
        assert result.output_text == "Hi from responses"
        [record] = llm.calls
        assert (record["operation"], record["method"]) == ("responses", "responses.create")
        assert record["system"] == "Be brief."
        assert record["messages"] == [{"role": "user", "content": "Hi"}]
        assert record["params"] == {"max_output_tokens": 50}
        assert record["output"]["text"] == "Hi from responses"
        assert record["output"]["thinking"] == "thinking briefly"
        assert record["usage"]["input_tokens"] == 30 and record["usage"]["reasoning_tokens"] == 3
        assert (record["response_id"], record["request_id"]) == (
            fakes.RESPONSE_ID,
            fakes.REQUEST_ID,
        )

    def test_a_tool_loops_items_are_kept_as_sent_and_the_record_is_valid(
        self, llm: CapturedRecords
    ) -> None:
        """The second turn of a tool loop sends the first answer's items back (reasoning,
        function call) and the tool's output: items with a ``type`` and no ``role``,
        recorded as sent, and the record still matches the published schema."""
        client = fakes.sync_client(fakes.default_fake())
        first = client.responses.create(model="gpt-4o", input="Weather in Oslo?")
        items: list[Any] = [{"role": "user", "content": "Weather in Oslo?"}, *first.output]
        items.append({"type": "function_call_output", "call_id": "call_1", "output": "sunny"})
        client.responses.create(model="gpt-4o", input=items)
        record = llm.calls[1]
        assert [m.get("role") or m["type"] for m in record["messages"]] == [
            "user",
            "reasoning",
            "assistant",
            "function_call_output",
        ]
        for record in llm.calls:
            VALIDATOR.validate(record)

    def test_stream_uses_the_terminal_event(self, llm: CapturedRecords) -> None:
        """A streamed response: full output and usage from response.completed."""
        client = fakes.sync_client(fakes.default_fake())
        events = list(client.responses.create(model="gpt-4o", input="Hi", stream=True))
        assert events[-1].type == "response.completed"
        [record] = llm.calls
        assert record["stream"] is True and record["status"] == "ok"
        assert (
            record["output"]["text"] == "Hi from responses"
            and record["usage"]["total_tokens"] == 42
        )
        assert record["ttft_ms"] is not None

    def test_stream_closed_early_keeps_the_partial_text(self, llm: CapturedRecords) -> None:
        """Closing a stream before response.completed: cancelled, with the deltas read so far."""
        client = fakes.sync_client(fakes.default_fake())
        stream = client.responses.create(model="gpt-4o", input="Hi", stream=True)
        for event in stream:
            if event.type == "response.output_text.delta":
                break
        stream.close()
        [record] = llm.calls
        assert record["status"] == "cancelled"
        assert record["output"]["text"] == "Hi "
        assert record["usage"] is None and record["response_id"] == fakes.RESPONSE_ID

    def test_error_event_makes_an_error_record(self, llm: CapturedRecords) -> None:
        """An `error` event in the stream makes the record an error, with its message."""
        events = fakes.response_events(complete=False)
        events.append(
            {
                "type": "error",
                "code": "server_error",
                "message": "overloaded",
                "param": None,
                "sequence_number": 99,
            }
        )
        fake = fakes.FakeOpenAI(
            routes={"/responses": lambda body: fakes.sse_response(events, named=True, done=False)}
        )
        client = fakes.sync_client(fake)
        list(client.responses.create(model="gpt-4o", input="Hi", stream=True))
        [record] = llm.calls
        assert record["status"] == "error"
        assert record["error"]["message"] == "overloaded"
        assert record["output"]["text"] == "Hi from responses"

    def test_beta_responses_are_recorded(self, llm: CapturedRecords) -> None:
        """client.beta.responses.create is a patch point of its own, read the same way."""
        client = fakes.sync_client(fakes.default_fake())
        client.beta.responses.create(model="gpt-4o", input="Hi")
        [record] = llm.calls
        assert record["method"] == "beta.responses.create"
        assert record["output"]["text"] == "Hi from responses"

    async def test_async_create_and_stream(self, llm: CapturedRecords) -> None:
        """AsyncOpenAI responses, plain and streamed."""
        client = fakes.async_client(fakes.default_fake())
        await client.responses.create(model="gpt-4o", input="Hi")
        stream = await client.responses.create(model="gpt-4o", input="Hi", stream=True)
        assert isinstance(stream, openai.AsyncStream)
        _ = [event async for event in stream]
        assert [r["output"]["text"] for r in llm.calls] == ["Hi from responses"] * 2


class TestHelpers:
    def test_parse(self, llm: CapturedRecords) -> None:
        """responses.parse posts on its own: one record with the parsed object."""
        body = fakes.response_object('{"city":"Oslo"}')
        fake = fakes.FakeOpenAI(routes={"/responses": lambda _: fakes.json_response(body)})
        client = fakes.sync_client(fake)
        parsed = client.responses.parse(model="gpt-4o", input="Where?", text_format=Weather)
        assert parsed.output_parsed == Weather(city="Oslo")
        [record] = llm.calls
        assert record["method"] == "responses.parse" and record["output"]["parsed"] == {
            "city": "Oslo"
        }

    def test_raw_parse_decodes_the_json_answer(self, llm: CapturedRecords) -> None:
        """responses.with_raw_response.parse: output.parsed from the JSON text, as with parse()."""
        body = fakes.response_object('{"city":"Oslo"}')
        fake = fakes.FakeOpenAI(routes={"/responses": lambda _: fakes.json_response(body)})
        client = fakes.sync_client(fake)
        raw = client.responses.with_raw_response.parse(
            model="gpt-4o", input="Where?", text_format=Weather
        )
        [record] = llm.calls
        assert record["output"]["parsed"] == {"city": "Oslo"}
        assert raw.parse().output_parsed == Weather(city="Oslo")

    def test_stream_helper_is_one_record_labelled_with_the_helper(
        self, llm: CapturedRecords
    ) -> None:
        """responses.stream() calls create: one record, method responses.stream."""
        client = fakes.sync_client(fakes.default_fake())
        with client.responses.stream(model="gpt-4o", input="Hi") as stream:
            final = stream.get_final_response()
        assert final.output_text == "Hi from responses"
        [record] = llm.calls
        assert record["method"] == "responses.stream" and record["status"] == "ok"

    def test_stream_helper_left_early_records_at_once(self, llm: CapturedRecords) -> None:
        """Leaving the responses.stream() block early records cancelled without waiting for GC."""
        client = fakes.sync_client(fakes.default_fake())
        gc.disable()
        try:
            with client.responses.stream(model="gpt-4o", input="Hi") as stream:
                for _event in stream:
                    break
            [record] = llm.calls
        finally:
            gc.enable()
        assert record["status"] == "cancelled"

    def test_stream_helper_with_a_format_records_the_parsed_answer(
        self, llm: CapturedRecords
    ) -> None:
        """responses.stream(text_format=Model): output.parsed as the SDK's final object has it."""
        events = fakes.response_events(['{"city": ', '"Oslo"}'])
        fake = fakes.FakeOpenAI(routes={"/responses": lambda _: fakes.sse_response(events)})
        client = fakes.sync_client(fake)
        with client.responses.stream(model="gpt-4o", input="Hi", text_format=Weather) as stream:
            assert stream.get_final_response().output_parsed == Weather(city="Oslo")
        [record] = llm.calls
        assert record["output"]["parsed"] == {"city": "Oslo"}

    async def test_async_stream_helper(self, llm: CapturedRecords) -> None:
        """The async responses.stream() helper: one record labelled responses.stream."""
        client = fakes.async_client(fakes.default_fake())
        async with client.responses.stream(model="gpt-4o", input="Hi") as stream:
            await stream.get_final_response()
        [record] = llm.calls
        assert (
            record["method"] == "responses.stream"
            and record["output"]["text"] == "Hi from responses"
        )


def background_fake(
    *statuses: str, created: float = 1_700_000_000.0, tool_usage: dict[str, Any] | None = None
) -> fakes.FakeOpenAI:
    """A background response: ``create`` answers ``queued``; each later GET or cancel the
    next of ``statuses`` (the last repeats), with output and usage once it ended."""
    fake = fakes.FakeOpenAI()
    pending = list(statuses)

    def answer(status: str) -> dict[str, Any]:
        body = {**fakes.response_object(), "background": True, "status": status}
        body["created_at"] = created
        if tool_usage is not None:
            body["tool_usage"] = tool_usage
        if status in ("queued", "in_progress"):
            body.update(output=[], usage=None)
        else:
            body["completed_at"] = created + 42.5 if status == "completed" else None
        if status == "failed":
            body["error"] = {"code": "server_error", "message": "the model crashed"}
        return body

    def route(body: dict[str, Any]) -> httpx2.Response:
        request = fake.requests[-1]
        if request.method == "POST" and not request.url.path.endswith("/cancel"):
            if body.get("stream"):
                return fakes.sse_response(fakes.response_events(), named=True, done=False)
            return fakes.json_response(answer("queued"))
        if request.url.params.get("stream") == "true":
            return fakes.sse_response(fakes.response_events(), named=True, done=False)
        status = pending.pop(0) if len(pending) > 1 else pending[0]
        return fakes.json_response(answer(status))

    fake.routes["/responses"] = route
    return fake


class TestBackground:
    """A background response is recorded when created (queued, no usage), and its answer
    once this process sees it finished (polling with plain retrieve, or cancel)."""

    def test_tool_usage_on_the_queued_answer_is_no_usage(self, llm: CapturedRecords) -> None:
        """Every 3.57 answer carries ``tool_usage`` (zeros while queued): the queued
        create still has no usage, and the answer polled later is still recorded."""
        fake = background_fake("completed", tool_usage={"web_search": {"num_requests": 0}})
        client = fakes.sync_client(fake)
        created = client.responses.create(model="o3", input="Hi", background=True)
        client.responses.retrieve(created.id)
        create, answer = llm.calls
        assert (create["usage"], create["output"]["finish_reason"]) == (None, "queued")
        assert answer["method"] == "responses.retrieve" and answer["usage"]["input_tokens"] == 30
        assert answer["usage"]["raw"]["tool_usage"] == {"web_search": {"num_requests": 0}}

    @pytest.mark.parametrize("created", [1_700_000_000_000.0, 1e20], ids=["ms", "huge"])
    def test_a_server_clock_out_of_range_still_records_the_answer(
        self, llm: CapturedRecords, created: float
    ) -> None:
        """A gateway's ``created_at`` in milliseconds (or garbage): the answer is recorded,
        its latency unknown, not lost."""
        client = fakes.sync_client(background_fake("completed", created=created))
        created_response = client.responses.create(model="o3", input="Hi", background=True)
        client.responses.retrieve(created_response.id)
        _, answer = llm.calls
        assert (answer["method"], answer["status"]) == ("responses.retrieve", "ok")
        assert answer["output"]["text"] == "Hi from responses"

    def test_polled_to_its_end_is_one_record_with_the_answer(self, llm: CapturedRecords) -> None:
        client = fakes.sync_client(background_fake("queued", "in_progress", "completed"))
        created = client.responses.create(model="o3-deep-research", input="Hi", background=True)
        polls = [client.responses.retrieve(created.id) for _ in range(4)]
        assert [p.status for p in polls] == ["queued", "in_progress", "completed", "completed"]
        assert all(type(p) is openai.types.responses.Response for p in polls)
        create, answer = llm.calls
        assert (create["method"], create["usage"], create["cost_usd"]) == (
            "responses.create",
            None,
            None,
        )
        assert create["output"]["finish_reason"] == "queued"
        assert (answer["method"], answer["operation"], answer["status"]) == (
            "responses.retrieve",
            "responses",
            "ok",
        )
        assert answer["response_id"] == create["response_id"] == fakes.RESPONSE_ID
        assert answer["output"]["text"] == "Hi from responses"
        assert answer["usage"]["input_tokens"] == 30 and answer["cost_usd"] > 0
        assert answer["model"] == fakes.SERVED_MODEL and answer["params"]["background"] is True
        assert answer["latency_ms"] == 42_500.0
        assert answer["ts"].startswith("2023-11-14T22:13:20")
        assert answer["request_id"] == fakes.REQUEST_ID

    async def test_async_poll_and_a_failure(self, llm: CapturedRecords) -> None:
        client = fakes.async_client(background_fake("in_progress", "failed"))
        created = await client.responses.create(model="o3", input="Hi", background=True)
        while (await client.responses.retrieve(created.id)).status != "failed":
            pass
        await client.responses.retrieve(created.id)
        _, answer = llm.calls
        assert (answer["status"], answer["error"]["type"]) == ("error", "server_error")
        assert answer["error"]["message"] == "the model crashed"
        assert answer["latency_ms"] is None  # no completed_at: the server did not say

    def test_cancel_records_the_cancelled_response(self, llm: CapturedRecords) -> None:
        client = fakes.sync_client(background_fake("cancelled"))
        created = client.responses.create(model="o3", input="Hi", background=True)
        assert client.responses.cancel(created.id).status == "cancelled"
        client.responses.retrieve(created.id)  # seen again: no second record
        _, answer = llm.calls
        assert (answer["method"], answer["status"]) == ("responses.cancel", "cancelled")

    def test_a_replay_after_the_poll_is_not_priced_again(self, llm: CapturedRecords) -> None:
        client = fakes.sync_client(background_fake("completed"))
        client.responses.retrieve(fakes.RESPONSE_ID)
        list(client.responses.retrieve(fakes.RESPONSE_ID, stream=True))
        answer, replay = llm.calls
        assert answer["cost_usd"] is not None
        assert replay["cost_usd"] == 0.0 and replay["price_source"].startswith("not billed again")

    @pytest.mark.parametrize("how", ["create", "retrieve"])
    def test_a_streamed_answer_is_not_recorded_again_when_polled(
        self, llm: CapturedRecords, how: str
    ) -> None:
        """create(background=True, stream=True) or retrieve(stream=True) recorded the
        answer with its usage: a poll right after, finding the response completed, makes
        no second record (however far behind the writer is)."""
        client = fakes.sync_client(background_fake("completed"))
        if how == "create":
            stream = client.responses.create(model="o3", input="Hi", background=True, stream=True)
        else:
            stream = client.responses.retrieve(fakes.RESPONSE_ID, stream=True)
        list(stream)
        client.responses.retrieve(fakes.RESPONSE_ID)
        [streamed] = llm.calls
        assert streamed["stream"] is True and streamed["cost_usd"] is not None

    def test_a_poll_that_records_the_answer_before_the_stream_ends(
        self, llm: CapturedRecords
    ) -> None:
        """The app streams the answer while another thread polls: the poll finds it
        finished first and records it priced; the stream's record is not priced again."""
        client = fakes.sync_client(background_fake("completed"))
        stream = client.responses.create(model="o3", input="Hi", background=True, stream=True)
        next(iter(stream))
        client.responses.retrieve(fakes.RESPONSE_ID)  # (from another thread, in an app)
        llmlog.flush()
        list(stream)
        polled, streamed = llm.calls
        assert polled["method"] == "responses.retrieve" and polled["cost_usd"] is not None
        assert streamed["method"] == "responses.create" and streamed["cost_usd"] == 0.0
        assert streamed["price_source"].startswith("not billed again")

    def test_polling_through_a_stale_bound_method_after_uninstrument(self) -> None:
        """A retrieve method kept across uninstrument() records nothing, even while a
        later capture (with OpenAI left uninstrumented) is there to receive records."""
        fake = background_fake("completed")
        with llmlog.testing.capture_records(redact="off"):
            client = fakes.sync_client(fake)
            retrieve = client.responses.retrieve
        with llmlog.testing.capture_records(redact="off", disabled_providers=("openai",)) as later:
            assert retrieve(fakes.RESPONSE_ID).status == "completed"
            llmlog.flush()
            assert later.calls == []


class TestCompact:
    async def test_compact_is_a_model_call(self, llm: CapturedRecords) -> None:
        """responses.compact runs a model over the conversation: recorded, with usage."""
        body = {
            "id": "cmp_1",
            "created_at": 1,
            "object": "response.compaction",
            "output": [],
            "usage": fakes.response_object()["usage"],
        }
        fake = fakes.FakeOpenAI(routes={"/responses/compact": lambda _: fakes.json_response(body)})
        client = fakes.async_client(fake)
        await client.responses.compact(model="gpt-5.2", input="a long conversation")
        [record] = llm.calls
        assert (record["method"], record["response_id"]) == ("responses.compact", "cmp_1")
        assert record["messages"] == [{"role": "user", "content": "a long conversation"}]
        assert record["usage"]["input_tokens"] == 30


class TestRetrieve:
    def test_retrieve_stream_is_recorded(self, llm: CapturedRecords) -> None:
        """responses.retrieve(stream=True) resumes generation: it is recorded."""
        client = fakes.sync_client(retrieve_fake())
        list(client.responses.retrieve(fakes.RESPONSE_ID, stream=True))
        [record] = llm.calls
        assert (
            record["method"] == "responses.retrieve"
            and record["output"]["text"] == "Hi from responses"
        )

    def test_replaying_a_response_recorded_before_is_not_priced_again(
        self, llm: CapturedRecords
    ) -> None:
        """create, then retrieve(stream=True) of the same id: the events are replayed, not
        generated (or billed) again; the first record has the cost, the replay none. A
        response first seen through retrieve (a background one) is priced there."""
        client = fakes.sync_client(retrieve_fake())
        list(client.responses.retrieve(fakes.RESPONSE_ID, stream=True))
        list(client.responses.retrieve(fakes.RESPONSE_ID, stream=True))
        first, replay = llm.calls
        assert first["cost_usd"] is not None and first["usage"] is not None
        assert replay["usage"] == first["usage"] and replay["cost_usd"] == 0.0
        assert replay["price_source"].startswith("not billed again")

    def test_plain_retrieve_is_not_a_model_call(self, llm: CapturedRecords) -> None:
        """Fetching a stored response (no stream) makes no record."""
        client = fakes.sync_client(retrieve_fake())
        assert client.responses.retrieve(fakes.RESPONSE_ID).id == fakes.RESPONSE_ID
        assert llm.calls == []

    def test_a_failing_plain_retrieve_is_not_recorded_either(self, llm: CapturedRecords) -> None:
        """Not a model call whatever its outcome: a 404 on a stored response makes no record,
        and the app gets the SDK's own exception."""
        fake = fakes.FakeOpenAI()
        fake.routes["/responses"] = lambda _body: fakes.json_response(
            fakes.error_body("no such response", "not_found"), 404
        )
        client = fakes.sync_client(fake)
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(fakes.RESPONSE_ID)
        assert llm.calls == []

    async def test_a_failing_streamed_retrieve_is_recorded(self, llm: CapturedRecords) -> None:
        """With stream=True it is a model call: its failure is one error record (async client)."""
        fake = fakes.FakeOpenAI()
        fake.routes["/responses"] = lambda _body: fakes.json_response(
            fakes.error_body("no such response", "not_found"), 404
        )
        client = fakes.async_client(fake)
        with pytest.raises(openai.NotFoundError) as raised:
            await client.responses.retrieve(fakes.RESPONSE_ID, stream=True)
        [record] = llm.calls
        assert (record["method"], record["status"]) == ("responses.retrieve", "error")
        assert record["error"]["status_code"] == 404 == raised.value.status_code
