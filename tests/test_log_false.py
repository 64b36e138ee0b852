"""``llmlog.context(log=False)`` / ``bind(log=False)``: the calls started inside have no
record, are not counted as dropped, and the app gets the SDK's own objects; the calls
around them are logged as ever. Through the real SDKs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import orjson
import pytest
from anthropic._response import APIResponse as AnthropicRaw
from openai._legacy_response import LegacyAPIResponse as OpenAIRaw

import anthropic_fakes as afake
import llmlog
import openai_fakes as ofake
from llmlog.cli import main
from llmlog.testing import CapturedRecords, capture_records

SKIPPED = "HEALTH-CHECK-PING"
"""Text of every request made inside ``log=False``: in no record."""

OpenAICall = Callable[[openai.OpenAI], Any]
AnthropicCall = Callable[[anthropic.Anthropic], Any]


def kept(record: dict[str, Any]) -> bool:
    return SKIPPED not in json.dumps(record)


def only_the_logged(cap: CapturedRecords, count: int) -> list[dict[str, Any]]:
    """The records: ``count`` calls, none of a skipped one, and no other event (no
    ``llmlog.dropped`` notice, nothing llmlog reports about itself)."""
    records = cap.records
    assert [r["event"] for r in records] == ["llm.call"] * count
    assert all(kept(r) for r in records)
    return records


@pytest.fixture
def llm() -> Iterator[CapturedRecords]:
    with capture_records(redact="off") as cap:
        yield cap


# OpenAI -------------------------------------------------------------------------------

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": SKIPPED}]}
RESPONSE = {"model": "gpt-4o", "input": SKIPPED}


def read_stream(stream: Any) -> list[Any]:
    with stream:
        return list(stream)


def read_streamed_body(response: Any) -> bytes:
    with response as body:
        return b"".join(body.iter_bytes())


def read_helper(manager: Any) -> Any:
    with manager as stream:
        return stream.get_final_completion()


def read_responses_helper(manager: Any) -> Any:
    with manager as stream:
        return stream.get_final_response()


OPENAI_CALLS: dict[str, tuple[OpenAICall, type | None]] = {
    "plain": (lambda c: c.chat.completions.create(**CHAT), openai.types.chat.ChatCompletion),
    "stream": (
        lambda c: read_stream(c.chat.completions.create(**CHAT, stream=True)),
        list,
    ),
    "stream object": (lambda c: c.chat.completions.create(**CHAT, stream=True), openai.Stream),
    "raw": (
        lambda c: c.chat.completions.with_raw_response.create(**CHAT),
        OpenAIRaw,
    ),
    "raw stream parsed": (
        lambda c: c.chat.completions.with_raw_response.create(**CHAT, stream=True).parse(),
        openai.Stream,
    ),
    "streaming response": (
        lambda c: read_streamed_body(
            c.chat.completions.with_streaming_response.create(**CHAT, stream=True)
        ),
        bytes,
    ),
    "chat helper": (lambda c: read_helper(c.chat.completions.stream(**CHAT)), None),
    "responses": (lambda c: c.responses.create(**RESPONSE), openai.types.responses.Response),
    "responses helper": (
        lambda c: read_responses_helper(c.responses.stream(**RESPONSE)),
        openai.types.responses.ParsedResponse,
    ),
}


class TestOpenAI:
    @pytest.mark.parametrize("name", list(OPENAI_CALLS))
    def test_a_call_inside_has_no_record_and_the_app_gets_the_sdks_object(
        self, name: str, llm: CapturedRecords
    ) -> None:
        """One logged call before and one after; the one inside ``log=False`` is the SDK's
        own (no proxy in place of a stream) and leaves no trace."""
        make, returned = OPENAI_CALLS[name]
        client = ofake.sync_client(ofake.default_fake())
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "a"}])
        with llmlog.context(log=False, tags={"flow": "health"}):
            result = make(client)
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "b"}])
        if returned is not None:
            assert type(result) is returned
        before, after = only_the_logged(llm, 2)
        assert [before["messages"][0]["content"], after["messages"][0]["content"]] == ["a", "b"]

    def test_async_calls_inside_have_no_record(self, llm: CapturedRecords) -> None:
        """Plain, streamed, raw and the helper, from an async client; a task beside them
        outside ``log=False`` is logged."""
        client = ofake.async_client(ofake.default_fake())
        got: dict[str, Any] = {}

        @llmlog.context(log=False)
        async def skipped() -> None:
            got["plain"] = await client.chat.completions.create(**CHAT)
            stream = await client.chat.completions.create(**CHAT, stream=True)
            got["stream"] = stream
            got["chunks"] = [chunk async for chunk in stream]
            raw = await client.chat.completions.with_raw_response.create(**CHAT, stream=True)
            got["raw"] = raw.parse()  # (the legacy raw response parses synchronously)
            async with client.chat.completions.stream(**CHAT) as helper:
                await helper.get_final_completion()
            async with client.responses.stream(**RESPONSE) as responses_helper:
                await responses_helper.get_final_response()

        async def logged() -> None:
            await client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "logged"}]
            )

        async def both() -> None:
            await asyncio.gather(skipped(), logged())

        asyncio.run(both())
        assert type(got["stream"]) is openai.AsyncStream and type(got["raw"]) is openai.AsyncStream
        assert got["chunks"] and type(got["plain"]) is openai.types.chat.ChatCompletion
        [record] = only_the_logged(llm, 1)
        assert record["messages"] == [{"role": "user", "content": "logged"}]


# Anthropic ----------------------------------------------------------------------------

MESSAGE = {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": afake.user(SKIPPED)}


def anthropic_handler(request: httpx2.Request) -> httpx2.Response:
    if json.loads(request.content).get("stream"):
        return afake.sse_handler(afake.stream_events(["Hello"]))(request)
    return afake.json_handler(afake.message("Hello"))(request)


def read_message_stream(manager: Any) -> Any:
    with manager as stream:
        return stream.get_final_message()


ANTHROPIC_CALLS: dict[str, tuple[AnthropicCall, type | None]] = {
    "plain": (lambda c: c.messages.create(**MESSAGE), anthropic.types.Message),
    "stream": (lambda c: c.messages.create(**MESSAGE, stream=True), anthropic.Stream),
    "raw": (
        lambda c: c.messages.with_raw_response.create(**MESSAGE),
        AnthropicRaw,
    ),
    "raw stream parsed": (
        lambda c: c.messages.with_raw_response.create(**MESSAGE, stream=True).parse(),
        anthropic.Stream,
    ),
    "messages.stream": (
        lambda c: read_message_stream(c.messages.stream(**MESSAGE)),
        anthropic.types.ParsedMessage,
    ),
}


class TestAnthropic:
    @pytest.mark.parametrize("name", list(ANTHROPIC_CALLS))
    def test_a_call_inside_has_no_record_and_the_app_gets_the_sdks_object(
        self, name: str, llm: CapturedRecords
    ) -> None:
        make, returned = ANTHROPIC_CALLS[name]
        client = afake.sync_client(anthropic_handler)
        client.messages.create(**{**MESSAGE, "messages": afake.user("a")})
        with llmlog.context(log=False):
            result = make(client)
            if name == "stream":
                assert [event.type for event in result]  # read inside or out: no record
        client.messages.create(**{**MESSAGE, "messages": afake.user("b")})
        assert type(result) is returned
        only_the_logged(llm, 2)

    def test_a_message_stream_made_outside_and_entered_inside_has_no_record(
        self, llm: CapturedRecords
    ) -> None:
        """``messages.stream()`` sends its request at ``__enter__``: the call starts there,
        and the helper reads the SDK's own event stream (no proxy of llmlog's)."""
        client = afake.sync_client(anthropic_handler)
        manager = client.messages.stream(**MESSAGE)
        with llmlog.context(log=False), manager as stream:
            message = stream.get_final_message()
        assert type(stream._raw_stream) is anthropic.Stream
        assert type(message) is anthropic.types.ParsedMessage
        only_the_logged(llm, 0)

    def test_a_message_stream_made_inside_and_entered_outside_is_logged(
        self, llm: CapturedRecords
    ) -> None:
        """The request leaves when the manager is entered: decided there, as documented."""
        client = afake.sync_client(anthropic_handler)
        with llmlog.context(log=False):
            manager = client.messages.stream(**MESSAGE)
        with manager as stream:
            stream.get_final_message()
        assert [r["event"] for r in llm.records] == ["llm.call"]

    def test_async_calls_inside_have_no_record(self, llm: CapturedRecords) -> None:
        client = afake.async_client(anthropic_handler)

        async def calls() -> list[Any]:
            with llmlog.context(log=False):
                message = await client.messages.create(**MESSAGE)
                stream = await client.messages.create(**MESSAGE, stream=True)
                events = [event async for event in stream]
                raw = await client.messages.with_raw_response.create(**MESSAGE)
                async with client.messages.stream(**MESSAGE) as helper:
                    final = await helper.get_final_message()
            await client.messages.create(**{**MESSAGE, "messages": afake.user("logged")})
            return [message, stream, events, raw, final]

        message, stream, events, raw, final = asyncio.run(calls())
        assert type(message) is anthropic.types.Message
        assert type(final) is anthropic.types.ParsedMessage
        assert type(stream) is anthropic.AsyncStream and events
        assert type(raw) is anthropic._response.AsyncAPIResponse
        [record] = only_the_logged(llm, 1)
        assert record["messages"] == [{"role": "user", "content": "logged"}]


# The context's rules --------------------------------------------------------------------


def ask(client: openai.OpenAI, text: str) -> None:
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": text}])


class TestTheRules:
    def test_the_stricter_wins_and_bind_holds_until_unbind(self, llm: CapturedRecords) -> None:
        """An inner ``log=True`` (a library's) keeps the outer ``log=False``, as an inner
        ``capture="full"`` keeps ``"metadata"``; ``bind(log=False)`` holds for the thread
        until ``unbind()``; a context left restores logging."""
        client = ofake.sync_client(ofake.default_fake())
        with llmlog.context(log=False), llmlog.context(log=True, tags={"lib": "x"}):
            ask(client, SKIPPED)
        ask(client, "after the context")
        llmlog.bind(log=False)
        try:
            ask(client, SKIPPED)
            llmlog.bind(log=True)
            ask(client, SKIPPED)
        finally:
            llmlog.unbind()
        ask(client, "after unbind")
        first, second = only_the_logged(llm, 2)
        assert first["messages"][0]["content"] == "after the context"
        assert second["messages"][0]["content"] == "after unbind"

    @pytest.mark.parametrize("value", ["no", "false", 0, None, [False]])
    def test_a_value_not_a_bool_is_refused_where_it_is_given(self, value: Any) -> None:
        """``log="false"`` is truthy: taken as given it would log what was to be left out."""
        for api in (llmlog.context, llmlog.bind):
            with pytest.raises(TypeError, match="log must be True or False"):
                api(log=value)

    def test_the_context_is_not_read_for_a_call_left_out(self, llm: CapturedRecords) -> None:
        """A tag that is the app's object (read as the call starts) is not even read."""
        reads = []

        class Lazy:
            def __repr__(self) -> str:
                reads.append(1)
                return "lazy"

        client = ofake.sync_client(ofake.default_fake())
        with llmlog.context(log=False, tags={"who": Lazy()}):
            ask(client, SKIPPED)
        assert reads == []
        with llmlog.context(tags={"who": Lazy()}):
            ask(client, "logged")
        assert reads and only_the_logged(llm, 1)[0]["tags"] == {"who": "lazy"}

    def test_stats_and_check_see_only_the_logged_calls_and_no_dropped_ones(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An eval harness's many calls inside ``log=False``: the log has the app's two
        calls, ``stats`` counts no dropped call and ``check --max-dropped 0`` passes."""
        client = ofake.sync_client(ofake.default_fake())
        with capture_records(redact="off") as cap:
            ask(client, "one")
            with llmlog.context(log=False):
                for _ in range(200):
                    ask(client, SKIPPED)
            ask(client, "two")
            records = only_the_logged(cap, 2)
        log = tmp_path / "calls.jsonl"
        log.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
        assert main(["stats", "--json", "--log", str(log), "--engine", "python"]) == 0
        result = orjson.loads(capsys.readouterr().out)
        assert result["dropped_calls"] == 0 and result["groups"][0]["calls"] == 2
        assert main(["check", "--log", str(log), "--max-dropped", "0"]) == 0


# Calls llmlog must follow even when it does not log them ------------------------------


class TestFollowedCalls:
    def test_a_websocket_response_inside_has_no_record_and_the_next_keeps_its_answer(
        self, llm: CapturedRecords
    ) -> None:
        """On one connection the answers are paired with the requests in order: the
        request sent inside ``log=False`` is followed, not logged, and the next request's
        record gets its own answer."""
        pytest.importorskip("websockets")
        from openai_ws_fake import serve_responses
        from ws_testing import client, read_until

        with serve_responses() as url, client(url).responses.connect() as connection:
            with llmlog.context(log=False):
                connection.response.create(model="gpt-5", input=SKIPPED)
            skipped = read_until(connection, "response.completed")
            connection.response.create(model="gpt-5", input="logged")
            logged = read_until(connection, "response.completed")
        [record] = only_the_logged(llm, 1)
        assert record["messages"] == [{"role": "user", "content": "logged"}]
        assert record["response_id"] == logged[0].response.id != skipped[0].response.id

    def test_a_background_response_created_and_polled_inside_has_no_record(
        self, llm: CapturedRecords
    ) -> None:
        """Its answer, seen finished by a poll (a call llmlog observes), is not logged
        either; the same poll outside ``log=False`` is."""
        from test_openai_responses import background_fake

        client = ofake.sync_client(background_fake("queued", "completed"))
        with llmlog.context(log=False):
            created = client.responses.create(model="o3", input=SKIPPED, background=True)
            polls = [client.responses.retrieve(created.id) for _ in range(3)]
        assert [p.status for p in polls] == ["queued", "completed", "completed"]
        assert all(type(p) is openai.types.responses.Response for p in polls)
        only_the_logged(llm, 0)
