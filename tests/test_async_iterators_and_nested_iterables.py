"""What llmlog puts between the app and the SDK stays invisible: reading an async stream
starts no async generator of llmlog's (event loops track those and warn of each one left
unfinished), and iterables nested in a message reach the server and the record as sent."""

from __future__ import annotations

import asyncio
import gc
import json
import re
import sys
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
import pytest

import anthropic_fakes
import openai_fakes
from llmlog.instrumentors._arguments import read_iterators
from llmlog.testing import CapturedRecords, capture_records

MESSAGES = [{"role": "user", "content": "hi"}]

Scenario = Callable[[], Awaitable[None]]


@contextmanager
def async_generators_started() -> Iterator[list[str]]:
    """The names (module and qualified name) of the async generators started in the block:
    the ones an event loop registers, and warns about if collected unfinished."""
    started: list[str] = []
    firstiter, finalizer = sys.get_asyncgen_hooks()

    def note(agen: Any) -> None:
        started.append(f"{agen.ag_frame.f_globals['__name__']}.{agen.__qualname__}")
        if firstiter is not None:
            firstiter(agen)

    sys.set_asyncgen_hooks(firstiter=note, finalizer=finalizer)
    try:
        yield started
    finally:
        sys.set_asyncgen_hooks(firstiter=firstiter, finalizer=finalizer)


async def openai_read_to_the_end() -> None:
    client = openai_fakes.async_client(openai_fakes.default_fake())
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    async for _ in stream:
        pass


async def openai_left_and_closed() -> None:
    client = openai_fakes.async_client(openai_fakes.default_fake())
    stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    async for _ in stream:
        break
    await stream.close()
    del stream
    gc.collect()


async def anthropic_read_to_the_end() -> None:
    handler = anthropic_fakes.sse_handler(anthropic_fakes.stream_events())
    client = anthropic_fakes.async_client(handler)
    stream = await client.messages.create(
        model=anthropic_fakes.MODEL, max_tokens=5, messages=MESSAGES, stream=True
    )
    async for _ in stream:
        pass


async def anthropic_left_unclosed() -> None:
    handler = anthropic_fakes.sse_handler(anthropic_fakes.stream_events())
    client = anthropic_fakes.async_client(handler)
    stream = await client.messages.create(
        model=anthropic_fakes.MODEL, max_tokens=5, messages=MESSAGES, stream=True
    )
    async for _ in stream:
        break
    del stream
    gc.collect()


async def openai_helper_read_to_the_end() -> None:
    client = openai_fakes.async_client(openai_fakes.default_fake())
    async with client.chat.completions.stream(model="m", messages=MESSAGES) as stream:
        async for _ in stream:
            pass


async def anthropic_helper_left_early() -> None:
    handler = anthropic_fakes.sse_handler(anthropic_fakes.stream_events())
    client = anthropic_fakes.async_client(handler)
    async with client.messages.stream(
        model=anthropic_fakes.MODEL, max_tokens=5, messages=MESSAGES
    ) as stream:
        async for _ in stream:
            break


SCENARIOS = [
    openai_read_to_the_end,
    openai_left_and_closed,
    anthropic_read_to_the_end,
    anthropic_left_unclosed,
    openai_helper_read_to_the_end,
    anthropic_helper_left_early,
]


class TestNoAsyncGeneratorsOfOurOwn:
    @pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
    async def test_reading_a_stream_starts_only_the_sdks_async_generators(
        self, scenario: Scenario
    ) -> None:
        """Read to the end, left and closed, left open: the event loop sees the very async
        generators it sees without llmlog (so any warning about one names the SDK's)."""
        with async_generators_started() as without_llmlog:
            await scenario()
        with capture_records(redact="off") as cap, async_generators_started() as with_llmlog:
            await scenario()
        assert with_llmlog == without_llmlog
        assert not [name for name in with_llmlog if name.startswith("llmlog")]
        assert len(cap.calls) == 1

    @pytest.mark.parametrize(
        "scenario", [openai_left_and_closed, anthropic_left_unclosed], ids=lambda s: s.__name__
    )
    def test_under_trio_a_stream_left_warns_only_of_the_sdks_generators(
        self, scenario: Scenario
    ) -> None:
        """trio warns of each async generator collected unfinished: with llmlog too, of the
        SDK's only. (Which of the SDK's: whether its ``__stream__`` is collected before
        trio closes it at its end varies from run to run, with llmlog or without.)"""
        trio = pytest.importorskip("trio")

        def warned() -> list[str]:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                trio.run(scenario)
            texts = [str(w.message) for w in caught]
            return sorted(re.findall(r"Async generator '([^']+)'", " ".join(texts)))

        without_llmlog = warned()
        with capture_records(redact="off") as cap:
            with_llmlog = warned()
        assert without_llmlog and with_llmlog  # a scenario trio warns about
        assert not [name for name in with_llmlog if name.startswith("llmlog")]
        assert [r["status"] for r in cap.calls] == ["cancelled"]


def gated_chat_stream(reached: asyncio.Event, gate: asyncio.Event) -> Any:
    """A chat stream whose body stops after its first chunk until ``gate`` is set."""
    lines = [f"data: {json.dumps(c)}\n\n".encode() for c in openai_fakes.chat_chunks()]
    lines.append(b"data: [DONE]\n\n")

    class Body(httpx2.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield lines[0]
            reached.set()
            await gate.wait()
            for line in lines[1:]:
                yield line

    def handle(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, stream=Body())

    return openai_fakes.async_client(handle)


class TestTheLoopIterator:
    async def test_aclose_stops_reading_and_leaves_the_stream_open(self) -> None:
        """``aclose()`` on the iterator an ``async for`` takes, as on the SDK's own: it reads
        as exhausted afterwards; the stream is still open until the app closes it."""
        with capture_records(redact="off") as cap:
            client = openai_fakes.async_client(openai_fakes.default_fake())
            stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
            chunks = aiter(stream)
            await anext(chunks)
            await chunks.aclose()
            with pytest.raises(StopAsyncIteration):
                await anext(chunks)
            assert cap.calls == []
            await stream.close()
        assert [r["status"] for r in cap.calls] == ["cancelled"]

    @pytest.mark.parametrize("instrumented", [False, True])
    async def test_one_iterator_read_twice_at_once_raises_and_reading_goes_on(
        self, instrumented: bool
    ) -> None:
        """A second ``anext()`` while the first waits: ``RuntimeError``, with llmlog as
        without; the first then gets its chunk, and the stream reads to its end (ok)."""
        context = capture_records(redact="off") if instrumented else _nothing()
        with context as cap:
            reached, gate = asyncio.Event(), asyncio.Event()
            client = gated_chat_stream(reached, gate)
            stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
            chunks = aiter(stream)
            await anext(chunks)
            waiting = asyncio.ensure_future(anext(chunks))
            await reached.wait()
            with pytest.raises(RuntimeError, match="already running"):
                await anext(chunks)
            gate.set()
            await waiting
            rest = [chunk async for chunk in chunks]
        assert rest
        if cap is not None:
            [record] = cap.calls
            assert (record["status"], record["output"]["text"]) == ("ok", "Hello!")


@contextmanager
def _nothing() -> Iterator[CapturedRecords | None]:
    yield None


def openai_conversation(given: Callable[[list[Any]], Any]) -> list[dict[str, Any]]:
    """A chat history whose content parts and tool calls are passed through ``given``."""
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    return [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": given([{"type": "text", "text": "inner gen"}])},
        {"role": "assistant", "content": None, "tool_calls": given([call])},
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": given([{"type": "text", "text": "4"}]),
        },
    ]


def anthropic_conversation(given: Callable[[list[Any]], Any]) -> list[dict[str, Any]]:
    """A history whose content blocks, a tool result's content and a text's citations are
    passed through ``given``."""
    text = {"type": "text", "text": "42", "citations": given([])}
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": given([text])}
    use = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}
    return [
        {"role": "user", "content": given([{"type": "text", "text": "inner gen"}])},
        {"role": "assistant", "content": [use]},
        {"role": "user", "content": [result]},
    ]


def as_generator(items: list[Any]) -> Iterator[Any]:
    return (item for item in items)


def as_list(items: list[Any]) -> list[Any]:
    return items


def openai_call(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """What the server got for a chat call with ``messages``."""
    fake = openai_fakes.default_fake()
    openai_fakes.sync_client(fake).chat.completions.create(model="gpt-4o", messages=messages)
    [body] = fake.bodies()
    return body


def anthropic_call(messages: list[dict[str, Any]]) -> dict[str, Any]:
    seen: list[Any] = []
    handler = anthropic_fakes.json_handler(anthropic_fakes.message(), seen=seen)
    anthropic_fakes.sync_client(handler).messages.create(
        model=anthropic_fakes.MODEL, max_tokens=5, messages=messages
    )
    [body] = seen
    return body  # type: ignore[no-any-return]


def responses_input(given: Callable[[list[Any]], Any]) -> list[dict[str, Any]]:
    """Responses input items whose content parts are passed through ``given``."""
    return [{"role": "user", "content": given([{"type": "input_text", "text": "inner gen"}])}]


def responses_call(items: list[dict[str, Any]]) -> dict[str, Any]:
    """What the server got for a Responses call with ``items`` as input."""
    fake = openai_fakes.default_fake()
    openai_fakes.sync_client(fake).responses.create(model="gpt-4o", input=items)
    [body] = fake.bodies()
    return body


CALLS = {
    "openai": (openai_call, openai_conversation),
    "anthropic": (anthropic_call, anthropic_conversation),
    "responses": (responses_call, responses_input),
}


class TestIterablesInsideMessages:
    @pytest.mark.parametrize("provider", CALLS)
    def test_the_server_and_the_record_get_what_was_sent(self, provider: str) -> None:
        """Generators as a message's content, a tool result's content, a text's citations,
        openai's tool calls: the server gets what it gets without llmlog, and the record
        holds what the same call with lists holds (not the generators' repr)."""
        call, conversation = CALLS[provider]
        without_llmlog = call(conversation(as_generator))
        with capture_records(redact="off") as cap:
            with_llmlog = call(conversation(as_generator))
            call(conversation(as_list))
        assert with_llmlog == without_llmlog
        given_generators, given_lists = cap.calls
        assert given_generators["messages"] == given_lists["messages"]
        assert "inner gen" in json.dumps(given_generators["messages"])

    async def test_async_calls_read_them_too(self) -> None:
        """The async twin: the anthropic async client, a generator of content blocks."""
        seen: list[Any] = []
        handler = anthropic_fakes.json_handler(anthropic_fakes.message(), seen=seen)
        client = anthropic_fakes.async_client(handler)
        blocks = [{"type": "text", "text": "inner gen"}]
        with capture_records(redact="off") as cap:
            await client.messages.create(
                model=anthropic_fakes.MODEL,
                max_tokens=5,
                messages=[{"role": "user", "content": as_generator(blocks)}],
            )
        assert seen[0]["messages"] == [{"role": "user", "content": blocks}]
        assert cap.calls[0]["messages"] == [{"role": "user", "content": blocks}]

    def test_the_apps_messages_are_left_as_they_were(self) -> None:
        """The SDK gets a copy of each message that held an iterator, and the very same
        object of every other; the app's list and dicts keep what they held."""
        parts = as_generator([{"type": "text", "text": "inner gen"}])
        plain = {"role": "system", "content": "Be terse."}
        holding = {"role": "user", "content": parts}
        messages = [plain, holding]
        kwargs: dict[str, Any] = {"model": "m", "messages": messages}
        read_iterators(kwargs)
        sent = kwargs["messages"]
        assert sent is not messages and messages == [plain, holding]
        assert sent[0] is plain and holding["content"] is parts
        assert sent[1] == {"role": "user", "content": [{"type": "text", "text": "inner gen"}]}

    def test_messages_without_iterators_are_passed_on_as_they_are(self) -> None:
        """Nothing to read: the SDK gets the app's own list."""
        messages = anthropic_conversation(as_list)
        kwargs: dict[str, Any] = {"messages": messages}
        read_iterators(kwargs)
        assert kwargs["messages"] is messages

    def test_a_failing_inner_generator_fails_the_call_as_without_llmlog(self) -> None:
        """The app's generator raising mid-way: the SDK meets the same exception object,
        and the record says so."""
        boom = ValueError("no more parts")

        def parts() -> Iterator[dict[str, Any]]:
            yield {"type": "text", "text": "first"}
            raise boom

        with capture_records(redact="off") as cap, pytest.raises(ValueError) as raised:
            openai_call([{"role": "user", "content": parts()}])
        assert raised.value is boom
        [record] = cap.calls
        assert record["status"] == "error" and record["error"]["message"] == "no more parts"
