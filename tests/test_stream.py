"""Stream proxies: transparent, and exactly one record on every way a stream ends."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from llmlog._record import Capture
from llmlog.instrumentors._stream import AsyncStreamProxy, SyncStreamProxy
from llmlog.testing import CapturedRecords
from support import toy_instrumentor, toy_sdk

MESSAGES = [{"role": "user", "content": "one two three four"}]


def open_stream(**kwargs: object) -> toy_sdk.Stream:
    return toy_sdk.Client().create(messages=MESSAGES, model="toy-1", stream=True, **kwargs)


class TestSyncStreams:
    def test_the_proxy_passes_isinstance_and_attributes(self, toy: CapturedRecords) -> None:
        """isinstance holds and the SDK object's attributes are reachable."""
        stream = open_stream()
        assert isinstance(stream, toy_sdk.Stream)
        assert stream.closed is False
        list(stream)

    def test_exhaustion_gives_one_ok_record_with_ttft(self, toy: CapturedRecords) -> None:
        """Reading to the end: status ok, every chunk in the output, ttft measured."""
        assert list(open_stream()) == ["one", "two", "three", "four"]
        [record] = toy.calls
        assert record["stream"] is True
        assert record["status"] == "ok"
        assert record["output"]["text"] == "one two three four"
        assert 0 <= record["ttft_ms"] <= record["latency_ms"]

    def test_next_works_like_iteration(self, toy: CapturedRecords) -> None:
        """Explicit next() until StopIteration finishes the record once."""
        stream = open_stream()
        got = [next(stream) for _ in range(4)]
        with pytest.raises(StopIteration):
            next(stream)
        assert got == ["one", "two", "three", "four"]
        assert len(toy.calls) == 1

    def test_with_returns_the_proxy_and_leaving_early_cancels(self, toy: CapturedRecords) -> None:
        """`with stream as s` gives the proxy; leaving after one chunk records cancelled."""
        stream = open_stream()
        with stream as inner:
            assert inner is stream
            for word in inner:
                assert word == "one"
                break
        [record] = toy.calls
        assert record["status"] == "cancelled"
        assert record["output"]["text"] == "one"

    def test_close_cancels_once(self, toy: CapturedRecords) -> None:
        """close() then exhaustion attempts: still exactly one record."""
        stream = open_stream()
        next(stream)
        stream.close()
        stream.close()
        assert list(stream) == []
        assert [r["status"] for r in toy.calls] == ["cancelled"]

    def test_an_error_mid_stream_keeps_partial_output(self, toy: CapturedRecords) -> None:
        """The SDK's exception propagates as is; status error, the partial text kept."""
        stream = open_stream(fail_after=2)
        seen = []
        with pytest.raises(toy_sdk.ToyError) as info:
            for word in stream:
                seen.append(word)
        assert seen == ["one", "two"]
        [record] = toy.calls
        assert record["status"] == "error"
        assert record["error"]["message"] == info.value.message
        assert record["output"]["text"] == "one two"

    def test_an_abandoned_stream_is_recorded_when_collected(self, toy: CapturedRecords) -> None:
        """A stream the app drops half-read still yields its one record."""
        stream = open_stream()
        next(stream)
        del stream
        gc.collect()
        [record] = toy.calls
        assert record["status"] == "cancelled"
        assert record["output"]["text"] == "one"

    def test_breaking_a_loop_does_not_end_the_record(self, toy: CapturedRecords) -> None:
        """The app may resume iterating after `break`: the record waits for the real end."""
        stream = open_stream()
        first = next(iter(stream))
        rest = list(stream)
        assert [first, *rest] == ["one", "two", "three", "four"]
        [record] = toy.calls
        assert record["status"] == "ok"
        assert record["output"]["text"] == "one two three four"

    @pytest.mark.parametrize("how", ["loop", "next"])
    def test_a_stream_left_unread_lasted_until_the_app_stopped_reading(
        self, toy: CapturedRecords, how: str
    ) -> None:
        """Broken out of (or read by ``next()``) and let go later: ``latency_ms`` ends when
        the app stopped reading, not when it let go of the stream (its own work between)."""
        started = time.perf_counter()
        stream = open_stream()
        if how == "loop":
            for _ in stream:
                break
        else:
            next(stream)
        stopped = time.perf_counter()
        time.sleep(HELD)
        del stream
        gc.collect()
        [record] = toy.calls
        assert record["status"] == "cancelled"
        assert record["latency_ms"] <= (stopped - started) * 1000 + EPSILON_MS

    def test_a_block_left_after_the_apps_own_work_ends_where_reading_stopped(
        self, toy: CapturedRecords
    ) -> None:
        started = time.perf_counter()
        with open_stream() as stream:
            for _ in stream:
                break
            stopped = time.perf_counter()
            time.sleep(HELD)
        [record] = toy.calls
        assert record["latency_ms"] <= (stopped - started) * 1000 + EPSILON_MS


HELD = 0.5
"""Seconds the app holds a stream it stopped reading (its own work, never in the record)."""
EPSILON_MS = 1  # latencies are time.perf_counter() spans, rounded to the microsecond


class TestAsyncStreams:
    async def test_a_loop_left_early_ends_when_the_app_stopped_reading(
        self, toy: CapturedRecords
    ) -> None:
        started = time.perf_counter()
        stream = await toy_sdk.Client().acreate(messages=MESSAGES, model="toy-1", stream=True)
        async for _ in stream:
            break
        stopped = time.perf_counter()
        await asyncio.sleep(HELD)
        del stream
        gc.collect()
        [record] = toy.calls
        assert record["status"] == "cancelled"
        assert record["latency_ms"] <= (stopped - started) * 1000 + EPSILON_MS

    async def test_async_iteration_records_once(self, toy: CapturedRecords) -> None:
        """`async for` to the end: one ok record with the whole text."""
        stream = await toy_sdk.Client().acreate(messages=MESSAGES, model="toy-1", stream=True)
        assert isinstance(stream, toy_sdk.AsyncStream)
        words = [w async for w in stream]
        assert words == ["one", "two", "three", "four"]
        [record] = toy.calls
        assert (record["status"], record["output"]["text"]) == ("ok", "one two three four")

    async def test_async_with_returns_proxy_and_early_exit_cancels(
        self, toy: CapturedRecords
    ) -> None:
        """`async with` yields the proxy; leaving early records cancelled with partial text."""
        stream = await toy_sdk.Client().acreate(messages=MESSAGES, model="toy-1", stream=True)
        async with stream as inner:
            assert inner is stream
            assert await inner.__anext__() == "one"
        [record] = toy.calls
        assert (record["status"], record["output"]["text"]) == ("cancelled", "one")

    async def test_async_close_cancels(self, toy: CapturedRecords) -> None:
        """await stream.close() ends the record once."""
        stream = await toy_sdk.Client().acreate(messages=MESSAGES, model="toy-1", stream=True)
        await stream.close()
        await stream.close()
        assert [r["status"] for r in toy.calls] == ["cancelled"]


class _Event:
    """A server-sent event as the SDKs' decoders yield it."""

    def __init__(self, data: str) -> None:
        self.data = data


class _Decoder:
    def iter_bytes(self, iterator: Iterator[bytes]) -> Iterator[_Event]:
        for line in iterator:
            yield _Event(line.decode())

    async def aiter_bytes(self, iterator: AsyncIterator[bytes]) -> AsyncIterator[_Event]:
        async for line in iterator:
            yield _Event(line.decode())


class Chunk(str):
    """A chunk object the SDK builds of an event (here: the word, as a ``str`` subclass)."""


class DecodedStream:
    """Shaped like the SDKs' ``Stream``: the decoder is read when iteration starts,
    each event becomes a ``Chunk``."""

    def __init__(self, words: list[str]) -> None:
        self._lines = [word.encode() for word in words]
        self._decoder: Any = _Decoder()
        self._iterator = self.__stream__()

    def __stream__(self) -> Iterator[Chunk]:
        for event in self._decoder.iter_bytes(iter(self._lines)):
            yield Chunk(event.data)

    def __iter__(self) -> Iterator[Chunk]:
        yield from self._iterator

    def __next__(self) -> Chunk:
        return next(self._iterator)


class AsyncDecodedStream(DecodedStream):
    def __init__(self, words: list[str]) -> None:
        super().__init__(words)
        self._aiterator = self.__astream__()

    async def __astream__(self) -> AsyncIterator[Chunk]:
        async def lines() -> AsyncIterator[bytes]:
            for line in self._lines:
                yield line

        async for event in self._decoder.aiter_bytes(lines()):
            yield Chunk(event.data)

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self._aiterator


def decoded_proxy(proxy_type: type, stream: object) -> tuple[Any, Capture]:
    cap = Capture("toy", "create", "chat", {}, toy_instrumentor.extract)
    return proxy_type(stream, cap, lambda chunk: chunk != ""), cap


class TestEventTexts:
    def test_the_capture_keeps_the_event_texts_not_the_chunks(self, toy: CapturedRecords) -> None:
        """The app gets the chunk objects; the capture holds the decoder's event texts."""
        proxy, cap = decoded_proxy(SyncStreamProxy, DecodedStream(["", "one", "two"]))
        assert list(proxy) == ["", "one", "two"]
        assert cap.chunks == ["", "one", "two"] and {type(c) for c in cap.chunks} == {str}
        assert [r["output"]["text"] for r in toy.calls] == [" one two"]

    def test_ttft_is_the_first_content_chunk(self, toy: CapturedRecords) -> None:
        """is_content still sees the chunk objects: an empty first chunk is no content."""
        proxy, cap = decoded_proxy(SyncStreamProxy, DecodedStream(["", "one"]))
        next(proxy)
        assert cap.first_chunk_perf is None and cap.chunks == [""]
        next(proxy)
        assert cap.first_chunk_perf is not None and cap.chunks == ["", "one"]

    def test_next_and_iteration_keep_each_text_once(self, toy: CapturedRecords) -> None:
        """next() then a for loop over the rest: every event kept once, in order."""
        proxy, cap = decoded_proxy(SyncStreamProxy, DecodedStream(["one", "two", "three"]))
        assert next(proxy) == "one"
        assert list(proxy) == ["two", "three"]
        assert cap.chunks == ["one", "two", "three"]

    async def test_async_iteration_keeps_the_texts(self, toy: CapturedRecords) -> None:
        """`async for`: the same, through the decoder's ``aiter_bytes``."""
        proxy, cap = decoded_proxy(AsyncStreamProxy, AsyncDecodedStream(["one", "two"]))
        assert [chunk async for chunk in proxy] == ["one", "two"]
        assert cap.chunks == ["one", "two"]

    def test_a_stream_read_before_the_proxy_keeps_its_chunks(self, toy: CapturedRecords) -> None:
        """The decoder was already reading: the proxy keeps the chunk objects instead."""
        stream = DecodedStream(["one", "two", "three"])
        first = next(stream)
        proxy, cap = decoded_proxy(SyncStreamProxy, stream)
        rest = list(proxy)
        assert first == "one" and cap.chunks is not None
        assert [a is b for a, b in zip(cap.chunks, rest, strict=True)] == [True, True]
        assert [r["output"]["text"] for r in toy.calls] == ["two three"]

    def test_without_a_decoder_every_chunk_is_kept_as_is(self, toy: CapturedRecords) -> None:
        """A stream not shaped like the SDKs': the capture holds the very objects received."""
        words = ["one", "two"]
        cap = Capture("toy", "create", "chat", {}, toy_instrumentor.extract)
        assert list(SyncStreamProxy(toy_sdk.Stream(words), cap)) == words
        assert cap.chunks is not None and all(
            a is b for a, b in zip(cap.chunks, words, strict=True)
        )
