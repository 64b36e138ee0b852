"""``messages.stream()``: one record however the app reads the helper, sync and async."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx2
import pydantic
import pytest
from anthropic.lib.streaming import (
    AsyncMessageStream,
    AsyncMessageStreamManager,
    BetaMessageStream,
    MessageStream,
    MessageStreamManager,
)
from anthropic.types import RawMessageStreamEvent
from pydantic import TypeAdapter

import anthropic_fakes as fake
import llmlog.testing
from llmlog._record import iso_utc
from llmlog.instrumentors._anthropic_response import summarize_events
from llmlog.testing import CapturedRecords
from stream_texts import keep_chunk_objects, spy_kept_texts

EVENTS = fake.stream_events(["Hel", "lo"], tool_json=['{"city": "Paris"}'])


@pytest.fixture
def cap() -> Iterator[CapturedRecords]:
    with llmlog.testing.capture_records(disabled_providers=("openai",)) as captured:
        yield captured


def only(cap: CapturedRecords) -> dict[str, Any]:
    records = cap.calls
    assert len(records) == 1, records
    return records[0]


def assert_complete(record: dict[str, Any]) -> None:
    assert record["method"] == "messages.stream"
    assert record["status"] == "ok"
    assert record["stream"] is True
    assert record["output"]["text"] == "Hello"
    assert record["output"]["tool_calls"][0]["arguments"] == '{"city":"Paris"}'
    assert record["usage"]["output_tokens"] == 15
    assert record["request_id"] == fake.REQUEST_ID
    assert record["ttft_ms"] is not None


def iterate_events(stream: MessageStream[Any]) -> object:
    return [event.type for event in stream]


def read_text_stream(stream: MessageStream[Any]) -> object:
    return "".join(stream.text_stream)


def final_message(stream: MessageStream[Any]) -> object:
    return stream.get_final_message().content[0]


def final_text(stream: MessageStream[Any]) -> object:
    return stream.get_final_text()


def until_done(stream: MessageStream[Any]) -> object:
    stream.until_done()
    return stream.current_message_snapshot.id


READERS: list[Callable[[MessageStream[Any]], object]] = [
    iterate_events,
    read_text_stream,
    final_message,
    final_text,
    until_done,
]


class TestSyncHelper:
    @pytest.mark.parametrize("read", READERS, ids=lambda f: f.__name__)
    def test_every_way_of_reading_ends_in_one_record(
        self, cap: CapturedRecords, read: Callable[[MessageStream[Any]], object]
    ) -> None:
        """Events, text_stream, get_final_message/text, until_done: one full record each."""
        client = fake.sync_client(fake.sse_handler(EVENTS))
        with client.messages.stream(model=fake.MODEL, max_tokens=5, messages=fake.user()) as s:
            assert read(s)
        assert_complete(only(cap))

    def test_app_gets_the_sdks_own_objects(self, cap: CapturedRecords) -> None:
        """The manager passes isinstance, and ``with`` yields the SDK's MessageStream."""
        client = fake.sync_client(fake.sse_handler(EVENTS))
        manager = client.messages.stream(model=fake.MODEL, max_tokens=5, messages=fake.user())
        assert isinstance(manager, MessageStreamManager)
        with manager as stream:
            assert type(stream) is MessageStream
            assert stream.request_id == fake.REQUEST_ID
            assert stream.get_final_text() == "Hello"

    def test_clock_starts_when_the_block_is_entered(self, cap: CapturedRecords) -> None:
        """The request is sent in ``__enter__``, so that is when the call starts."""
        client = fake.sync_client(fake.sse_handler(EVENTS))
        manager = client.messages.stream(model=fake.MODEL, max_tokens=5, messages=fake.user())
        between = time.time_ns()
        with manager as stream:
            stream.until_done()
        assert only(cap)["ts"] >= iso_utc(between)

    def test_leaving_the_block_early_is_cancelled_with_partial_output(
        self, cap: CapturedRecords
    ) -> None:
        """Breaking out after the first text: status cancelled, text so far kept."""
        client = fake.sync_client(fake.sse_handler(EVENTS))
        with client.messages.stream(model=fake.MODEL, max_tokens=5, messages=fake.user()) as s:
            for text in s.text_stream:
                assert text == "Hel"
                break
        record = only(cap)
        assert record["status"] == "cancelled"
        assert record["output"]["text"] == "Hel"

    def test_leaving_the_block_at_message_stop_is_ok(self, cap: CapturedRecords) -> None:
        """Stopping at the last event (before the SDK read the body's end) loses nothing:
        the record is whole and ``ok``, not ``cancelled``; one event earlier it is not."""
        for last, status in (("message_stop", "ok"), ("message_delta", "cancelled")):
            client = fake.sync_client(fake.sse_handler(EVENTS))
            with client.messages.stream(model=fake.MODEL, max_tokens=5, messages=fake.user()) as s:
                for event in s:
                    if event.type == last:
                        break
            record = cap.calls[-1]
            assert (record["status"], record["output"]["text"]) == (status, "Hello")
            assert record["usage"]["output_tokens"] == 15

    def test_raw_stream_closed_at_message_stop_is_ok(self, cap: CapturedRecords) -> None:
        """``create(stream=True)`` closed right after ``message_stop``: ``ok``."""
        client = fake.sync_client(fake.sse_handler(EVENTS))
        stream = client.messages.create(
            model=fake.MODEL, max_tokens=5, messages=fake.user(), stream=True
        )
        for event in stream:
            if event.type == "message_stop":
                break
        stream.close()
        assert_complete(only(cap) | {"method": "messages.stream"})

    def test_output_format_records_the_parsed_answer(self, cap: CapturedRecords) -> None:
        """messages.stream(output_format=Model): output.parsed, as messages.parse records it."""

        class City(pydantic.BaseModel):
            city: str

        events = fake.stream_events(['{"city": ', '"Paris"}'])
        client = fake.sync_client(fake.sse_handler(events))
        with client.messages.stream(
            model=fake.MODEL, max_tokens=5, messages=fake.user(), output_format=City
        ) as stream:
            assert stream.get_final_message().parsed_output == City(city="Paris")
        assert only(cap)["output"]["parsed"] == {"city": "Paris"}

    def test_request_failure_in_enter_is_an_error_record(self, cap: CapturedRecords) -> None:
        """A 529 at connect time raises from ``with`` and leaves one error record."""
        body = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
        client = fake.sync_client(fake.json_handler(body, status=529, request_id="req_529"))
        with (
            pytest.raises(anthropic.APIStatusError),
            client.messages.stream(model=fake.MODEL, max_tokens=5, messages=fake.user()),
        ):
            pass
        record = only(cap)
        assert record["status"] == "error"
        assert record["error"]["status_code"] == 529
        assert record["request_id"] == "req_529"

    def test_error_event_mid_stream(self, cap: CapturedRecords) -> None:
        """``event: error`` propagates from get_final_text and leaves a partial error record."""
        events = fake.events_failing_after_first_text()
        client = fake.sync_client(fake.sse_handler(events))
        with (
            pytest.raises(anthropic.APIStatusError),
            client.messages.stream(model=fake.MODEL, max_tokens=5, messages=fake.user()) as s,
        ):
            s.get_final_text()
        record = only(cap)
        assert (record["status"], record["output"]["text"]) == ("error", "Hel")

    @pytest.mark.parametrize("beta", [False, True], ids=["messages", "beta"])
    def test_a_manager_entered_again_sends_again_and_each_request_is_recorded(
        self, cap: CapturedRecords, beta: bool
    ) -> None:
        """The SDK's manager sends its request anew at each ``with`` (a retry loop that
        reuses it): one record per request, each with its own answer and clock."""
        answers = iter(["first", "second", "third"])

        def handler(request: httpx2.Request) -> httpx2.Response:
            body = fake.sse_body(fake.stream_events([next(answers)]))
            return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})

        client = fake.sync_client(handler)
        messages = client.beta.messages if beta else client.messages
        manager = messages.stream(model=fake.MODEL, max_tokens=5, messages=fake.user())
        texts = []
        for _ in range(3):
            with manager as stream:
                texts.append(stream.get_final_text())
            assert llmlog.flush(10)
        assert texts == ["first", "second", "third"]
        records = cap.calls
        assert [r["output"]["text"] for r in records] == texts
        assert all(r["status"] == "ok" and r["latency_ms"] >= r["ttft_ms"] > 0 for r in records)
        assert len({r["id"] for r in records}) == 3

    def test_a_manager_never_entered_sends_nothing_and_logs_nothing(
        self, cap: CapturedRecords
    ) -> None:
        """No request was made, so there is no call to record."""
        seen: list[Any] = []
        client = fake.sync_client(fake.sse_handler(EVENTS, seen=seen))
        client.messages.stream(model=fake.MODEL, max_tokens=5, messages=fake.user())
        assert (seen, cap.calls) == ([], [])

    def test_beta_helper_is_recorded_under_its_own_name(self, cap: CapturedRecords) -> None:
        """``beta.messages.stream()`` works the same way."""
        client = fake.sync_client(fake.sse_handler(EVENTS))
        with client.beta.messages.stream(
            model=fake.MODEL, max_tokens=5, messages=fake.user()
        ) as stream:
            assert type(stream) is BetaMessageStream
            assert stream.get_final_text() == "Hello"
        record = only(cap)
        assert record["method"] == "beta.messages.stream"
        assert record["output"]["text"] == "Hello"

    @pytest.mark.parametrize("how", ["helper", "create"])
    def test_a_fallback_model_answered(self, cap: CapturedRecords, how: str) -> None:
        """A ``fallback`` block names the model that served: the record says so and prices
        it, as the SDK relabels its final message (not the model asked for first)."""
        asked, served = "claude-opus-4-1", "claude-haiku-4-5"
        fallback = {"type": "fallback", "from": {"model": asked}, "to": {"model": served}}
        events = fake.stream_events(["Hi"])
        events[0]["message"]["model"] = asked
        for event in events[1:]:
            if "index" in event:  # the fallback block comes first, as the API sends it
                event["index"] += 1
        events[1:1] = [
            {"type": "content_block_start", "index": 0, "content_block": fallback},
            {"type": "content_block_stop", "index": 0},
        ]
        client = fake.sync_client(fake.sse_handler(events))
        request: dict[str, Any] = {"model": asked, "max_tokens": 5, "messages": fake.user()}
        if how == "helper":
            with client.beta.messages.stream(**request) as stream:
                assert stream.get_final_message().model == served
        else:
            assert list(client.beta.messages.create(**request, stream=True))
        record = only(cap)
        assert (record["model"], record["response_model"]) == (asked, served)
        assert record["output"]["text"] == "Hi"
        assert record["price_source"].endswith(f"anthropic:{served}")

    def test_helper_does_not_also_log_create(self, cap: CapturedRecords) -> None:
        """stream() builds its own request; a second record would double count."""
        client = fake.sync_client(fake.sse_handler(EVENTS))
        with client.messages.stream(model=fake.MODEL, max_tokens=5, messages=fake.user()) as s:
            s.until_done()
        assert [r["method"] for r in cap.calls] == ["messages.stream"]


class TestAsyncHelper:
    async def test_iterating_events(self, cap: CapturedRecords) -> None:
        """async for over the helper's events: one full record."""
        client = fake.async_client(fake.sse_handler(EVENTS))
        manager = client.messages.stream(model=fake.MODEL, max_tokens=5, messages=fake.user())
        assert isinstance(manager, AsyncMessageStreamManager)
        async with manager as stream:
            assert type(stream) is AsyncMessageStream
            async for _event in stream:
                pass
        assert_complete(only(cap))

    async def test_text_stream(self, cap: CapturedRecords) -> None:
        """text_stream: one full record."""
        client = fake.async_client(fake.sse_handler(EVENTS))
        async with client.messages.stream(
            model=fake.MODEL, max_tokens=5, messages=fake.user()
        ) as stream:
            assert "".join([t async for t in stream.text_stream]) == "Hello"
        assert_complete(only(cap))

    async def test_get_final_message_and_text(self, cap: CapturedRecords) -> None:
        """get_final_message then get_final_text: still one record."""
        client = fake.async_client(fake.sse_handler(EVENTS))
        async with client.messages.stream(
            model=fake.MODEL, max_tokens=5, messages=fake.user()
        ) as stream:
            assert (await stream.get_final_message()).id == "msg_01Stream"
            assert await stream.get_final_text() == "Hello"
        assert_complete(only(cap))

    async def test_until_done(self, cap: CapturedRecords) -> None:
        """until_done: one full record."""
        client = fake.async_client(fake.sse_handler(EVENTS))
        async with client.messages.stream(
            model=fake.MODEL, max_tokens=5, messages=fake.user()
        ) as stream:
            await stream.until_done()
        assert_complete(only(cap))

    @pytest.mark.parametrize(("last", "status"), [(None, "cancelled"), ("message_stop", "ok")])
    async def test_leaving_early(self, cap: CapturedRecords, last: str | None, status: str) -> None:
        """Leaving the async block after one event: cancelled; after the last event (before
        the SDK saw the body end): the answer is whole, ok."""
        client = fake.async_client(fake.sse_handler(EVENTS))
        async with client.messages.stream(
            model=fake.MODEL, max_tokens=5, messages=fake.user()
        ) as stream:
            async for event in stream:
                if last is None or event.type == last:
                    break
        assert only(cap)["status"] == status
        if status == "ok":
            assert_complete(only(cap))

    async def test_request_failure_in_aenter(self, cap: CapturedRecords) -> None:
        """An HTTP error raised by ``async with`` leaves one error record."""
        body = {"type": "error", "error": {"type": "api_error", "message": "boom"}}
        client = fake.async_client(fake.json_handler(body, status=500))
        with pytest.raises(anthropic.InternalServerError):
            async with client.messages.stream(model=fake.MODEL, max_tokens=5, messages=fake.user()):
                pass
        record = only(cap)
        assert (record["status"], record["error"]["status_code"]) == ("error", 500)

    async def test_a_manager_entered_again_fails_as_the_sdks_does(
        self, cap: CapturedRecords
    ) -> None:
        """The async manager holds one coroutine: a second ``async with`` raises the SDK's
        own error, recorded as a call of its own; the first record stays whole."""
        client = fake.async_client(fake.sse_handler(EVENTS))
        manager = client.messages.stream(model=fake.MODEL, max_tokens=5, messages=fake.user())
        async with manager as stream:
            assert await stream.get_final_text() == "Hello"
        with pytest.raises(RuntimeError, match="reuse already awaited"):
            async with manager:
                pass
        first, second = cap.calls
        assert_complete(first)
        assert (second["status"], second["error"]["type"]) == ("error", "RuntimeError")

    async def test_async_beta_helper(self, cap: CapturedRecords) -> None:
        """``beta.messages.stream()`` on the async client."""
        client = fake.async_client(fake.sse_handler(EVENTS))
        async with client.beta.messages.stream(
            model=fake.MODEL, max_tokens=5, messages=fake.user()
        ) as stream:
            assert await stream.get_final_text() == "Hello"
        assert only(cap)["method"] == "beta.messages.stream"


def volatile_free(record: dict[str, Any]) -> dict[str, Any]:
    """A record without what differs between two runs of the same call (ids, clocks)."""
    volatile = {"id", "ts", "latency_ms", "ttft_ms", "trace_id", "span_id", "process"}
    return {key: value for key, value in record.items() if key not in volatile}


def sdk_events(events: list[dict[str, Any]]) -> list[Any]:
    return [TypeAdapter(RawMessageStreamEvent).validate_python(e) for e in events]


FULL_EVENTS = fake.stream_events(["Hel", "lo"], thinking=["hm", "m"], tool_json=['{"a"', ":1}"])


class TestEventTexts:
    def test_decoded_events_sum_up_like_sdk_events(self) -> None:
        """Whole or cut short, decoded JSON and SDK events add up to the same summary."""
        events = sdk_events(FULL_EVENTS)
        for cut in (len(events), 9):
            assert summarize_events(FULL_EVENTS[:cut]) == summarize_events(events[:cut])
        summary = summarize_events(FULL_EVENTS)
        assert (summary.output["text"], summary.output["thinking"]) == ("Hello", "hmm")

    def test_the_capture_keeps_what_the_server_sent(
        self, cap: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The texts of the events, as sent; not one SDK event object."""
        kept = spy_kept_texts(monkeypatch)
        client = fake.sync_client(fake.sse_handler(FULL_EVENTS))
        request: dict[str, Any] = {"model": fake.MODEL, "max_tokens": 5, "messages": fake.user()}
        events = list(client.messages.create(**request, stream=True))
        assert len(events) == len(FULL_EVENTS) and not any(isinstance(e, dict) for e in events)
        sent = [json.loads(text) for text in kept[0]]
        assert [e.model_dump(exclude_unset=True) for e in events] == [
            e for e in sent if e["type"] != "ping"
        ]
        assert cap.calls[-1]["output"]["text"] == "Hello"

    @pytest.mark.parametrize("helper", [False, True], ids=["create", "stream_helper"])
    def test_records_through_the_client_are_the_same_teed_or_not(
        self, cap: CapturedRecords, monkeypatch: pytest.MonkeyPatch, helper: bool
    ) -> None:
        """create(stream=True) and messages.stream(): identical records either way."""
        client = fake.sync_client(fake.sse_handler(FULL_EVENTS))
        request: dict[str, Any] = {"model": fake.MODEL, "max_tokens": 5, "messages": fake.user()}

        def read_stream() -> dict[str, Any]:
            if helper:
                with client.messages.stream(**request) as stream:
                    stream.until_done()
            else:
                list(client.messages.create(**request, stream=True))
            record = cap.calls[-1]
            assert record["ttft_ms"] is not None
            return volatile_free(record)

        teed = read_stream()
        keep_chunk_objects(monkeypatch)
        assert read_stream() == teed
        assert teed["output"]["text"] == "Hello" and teed["output"]["thinking"] == "hmm"
        assert teed["output"]["tool_calls"] and teed["usage"]["output_tokens"]

    @staticmethod
    def unnamed_body(unnamed: str) -> bytes:
        """FULL_EVENTS with pings; ``event:`` lines dropped for deltas or for all events."""
        lines = []
        for event in FULL_EVENTS:
            named = unnamed == "deltas" and event["type"] != "content_block_delta"
            lines.append(f"event: {event['type']}\n" if named else "")
            lines.append(f"data: {json.dumps(event)}\n\n")
            lines.append('event: ping\ndata: {"type": "ping"}\n\n')
        return "".join(lines).encode()

    @pytest.mark.parametrize("unnamed", ["deltas", "all"])
    def test_events_the_sdk_skips_are_not_output(
        self, cap: CapturedRecords, monkeypatch: pytest.MonkeyPatch, unnamed: str
    ) -> None:
        """Unnamed events (a gateway that drops ``event:`` lines) and pings yield no chunk:
        the record has what the app got, the same as from the SDK's objects."""
        body = self.unnamed_body(unnamed)
        client = fake.sync_client(lambda request: httpx2.Response(200, content=body))
        request: dict[str, Any] = {"model": fake.MODEL, "max_tokens": 5, "messages": fake.user()}

        def read_stream() -> dict[str, Any]:
            received = list(client.messages.create(**request, stream=True))
            assert all(e.type not in ("content_block_delta", "ping") for e in received)
            return volatile_free(cap.calls[-1])

        teed = read_stream()
        assert not teed["output"]["text"] and not teed["output"]["thinking"]
        keep_chunk_objects(monkeypatch)
        assert read_stream() == teed

    async def test_async_events_the_sdk_skips_are_not_output(self, cap: CapturedRecords) -> None:
        """The same through ``aiter_bytes``: unnamed deltas give no text."""
        body = self.unnamed_body("deltas")
        client = fake.async_client(lambda request: httpx2.Response(200, content=body))
        request: dict[str, Any] = {"model": fake.MODEL, "max_tokens": 5, "messages": fake.user()}
        received = [e async for e in await client.messages.create(**request, stream=True)]
        assert all(e.type != "content_block_delta" for e in received) and received
        record = cap.calls[-1]
        assert record["status"] == "ok" and not record["output"]["text"]

    async def test_async_cancelled_record_is_the_same_teed_or_not(
        self, cap: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An async stream closed after two text deltas: the same partial record either way."""
        client = fake.async_client(fake.sse_handler(FULL_EVENTS))
        request: dict[str, Any] = {"model": fake.MODEL, "max_tokens": 5, "messages": fake.user()}

        async def read_stream() -> dict[str, Any]:
            stream = await client.messages.create(**request, stream=True)
            texts = 0
            async for event in stream:
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    texts += 1
                    if texts == 2:
                        break
            await stream.close()
            return volatile_free(cap.calls[-1])

        teed = await read_stream()
        keep_chunk_objects(monkeypatch)
        assert await read_stream() == teed
        assert (teed["status"], teed["output"]["text"]) == ("cancelled", "Hello")


@pytest.mark.parametrize("sync", [True, False])
async def test_a_body_cut_before_message_stop_is_an_error_with_the_partial_answer(
    cap: CapturedRecords, sync: bool
) -> None:
    """The SDK ends quietly when the body ends early (a connection closed mid-answer): the
    app has part of the answer; the record says so (``ok`` would hide it)."""
    events = [e for e in EVENTS if e["type"] not in ("message_delta", "message_stop")]
    if sync:
        with fake.sync_client(fake.sse_handler(events)).messages.stream(
            model=fake.MODEL, max_tokens=64, messages=fake.user()
        ) as stream:
            list(stream)
    else:
        async with fake.async_client(fake.sse_handler(events)).messages.stream(
            model=fake.MODEL, max_tokens=64, messages=fake.user()
        ) as astream:
            [e async for e in astream]
    record = only(cap)
    assert (record["status"], record["output"]["text"]) == ("error", "Hello")
    assert record["error"]["type"] == "StreamEndedEarly"
    assert "message_stop" in record["error"]["message"]


def test_a_stream_refused_before_its_first_event_is_still_a_stream(cap: CapturedRecords) -> None:
    """``messages.stream()`` failing in ``__enter__`` (overloaded): the record says
    ``stream: true``, as it was asked."""
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    client = fake.sync_client(fake.json_handler(body, status=529), max_retries=0)
    stream = client.messages.stream(model=fake.MODEL, max_tokens=64, messages=fake.user())
    with pytest.raises(anthropic.APIStatusError), stream:
        pass
    record = only(cap)
    assert (record["status"], record["stream"]) == ("error", True)
