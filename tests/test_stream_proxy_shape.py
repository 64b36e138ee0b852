"""A recorded stream looks like the SDK's own to introspection, and a refused entry is no call."""

from __future__ import annotations

import collections.abc as abc
import copy
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

import anthropic_fakes as afake
import llmlog.testing
import openai_fakes as ofake
from llmlog.instrumentors._stream import AsyncStreamProxy, SyncStreamProxy
from llmlog.testing import CapturedRecords

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def cap() -> Iterator[CapturedRecords]:
    with llmlog.testing.capture_records(redact="off") as captured:
        yield captured


async def openai_async_stream() -> Any:
    client = ofake.async_client(lambda _: ofake.sse_response(ofake.chat_chunks()))
    return await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)


async def anthropic_async_stream() -> Any:
    client = afake.async_client(afake.sse_handler(afake.stream_events()))
    return await client.messages.create(
        model=afake.MODEL, max_tokens=5, messages=afake.user(), stream=True
    )


async def openai_sync_stream() -> Any:
    client = ofake.sync_client(lambda _: ofake.sse_response(ofake.chat_chunks()))
    return client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)


async def anthropic_sync_stream() -> Any:
    client = afake.sync_client(afake.sse_handler(afake.stream_events()))
    return client.messages.create(
        model=afake.MODEL, max_tokens=5, messages=afake.user(), stream=True
    )


OPENERS = [openai_async_stream, anthropic_async_stream, openai_sync_stream, anthropic_sync_stream]
Opener = Callable[[], Awaitable[Any]]


async def bare_and_proxy(open_stream: Opener) -> tuple[Any, Any]:
    """The SDK's stream as the app gets it without llmlog, and with it."""
    bare = await open_stream()
    with llmlog.testing.capture_records(redact="off"):
        proxy = await open_stream()
    assert isinstance(proxy, (SyncStreamProxy, AsyncStreamProxy))
    return bare, proxy


def outcome(operation: Callable[[Any], Any], stream: Any) -> tuple[str, Any]:
    """What ``operation`` gives on ``stream``: its result's type, or the exception's message."""
    try:
        return ("returns", type(operation(stream)))
    except TypeError as exc:
        return ("TypeError", str(exc))


@pytest.mark.parametrize("open_stream", OPENERS, ids=lambda f: f.__name__)
class TestLooksLikeTheSdkStream:
    async def test_iterable_as_the_sdk_stream_is(self, open_stream: Opener) -> None:
        """An async stream is not ``Iterable`` (nor has ``__iter__``); a sync one is."""
        bare, proxy = await bare_and_proxy(open_stream)
        for kind in (abc.Iterable, abc.AsyncIterable, abc.Iterator, abc.AsyncIterator):
            assert isinstance(proxy, kind) == isinstance(bare, kind), kind
        assert hasattr(proxy, "__iter__") == hasattr(bare, "__iter__")

    async def test_special_methods_the_sdk_stream_lacks_are_absent(
        self, open_stream: Opener
    ) -> None:
        """``hasattr`` agrees with the bare stream for the methods wrapt's proxy defines."""
        bare, proxy = await bare_and_proxy(open_stream)
        names = ["__len__", "__reversed__", "__index__", "__round__", "__copy__", "__deepcopy__"]
        names += ["__enter__", "__exit__", "__aenter__", "__aexit__"]
        for name in names:
            assert hasattr(proxy, name) == hasattr(bare, name), name

    async def test_len_and_reversed_raise_the_bare_streams_type_error(
        self, open_stream: Opener
    ) -> None:
        """``len(s)``, ``reversed(s)``, ``round(s)``: the TypeError the bare stream raises."""
        bare, proxy = await bare_and_proxy(open_stream)
        for operation in (len, reversed, round):
            assert outcome(operation, proxy) == outcome(operation, bare), operation

    async def test_repr_is_the_sdk_streams(self, open_stream: Opener) -> None:
        """``repr`` names the SDK's class, not llmlog's proxy."""
        bare, proxy = await bare_and_proxy(open_stream)
        assert repr(proxy) == repr(proxy.__wrapped__)
        assert repr(proxy).split(" at ")[0] == repr(bare).split(" at ")[0]

    async def test_copy_makes_what_it_makes_of_the_bare_stream(self, open_stream: Opener) -> None:
        """``copy.copy`` gives an SDK stream; ``deepcopy`` fails as on the bare one."""
        bare, proxy = await bare_and_proxy(open_stream)
        assert type(copy.copy(proxy)) is type(copy.copy(bare))
        assert outcome(copy.deepcopy, proxy) == outcome(copy.deepcopy, bare)


class TestAsyncStreamStillWorks:
    async def test_async_for_and_async_with_record_once(self, cap: CapturedRecords) -> None:
        """Hiding the sync protocols leaves ``async with`` / ``async for`` as they were."""
        async with await openai_async_stream() as stream:
            texts = [chunk.choices[0].delta.content async for chunk in stream if chunk.choices]
        assert "".join(filter(None, texts)) == "Hello!"
        assert [record["status"] for record in cap.calls] == ["ok"]


class TestReenteredManagers:
    """(An async manager entered again: the SDK's RuntimeError, recorded as a failed call
    like every call the SDK refuses before sending; see tests/test_anthropic_streams.py.)"""

    def test_reentering_a_sync_manager_is_a_second_call(self, cap: CapturedRecords) -> None:
        """A sync manager sends its request again: two calls, two records."""
        seen: list[Any] = []
        client = afake.sync_client(afake.sse_handler(afake.stream_events(), seen=seen))
        manager = client.messages.stream(model=afake.MODEL, max_tokens=5, messages=afake.user())
        for _ in range(2):
            with manager as stream:
                stream.get_final_text()
        assert len(seen) == 2
        assert [record["status"] for record in cap.calls] == ["ok", "ok"]
