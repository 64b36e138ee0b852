"""Transparent stream proxies that finish their call's record exactly once.

The proxy *is* the SDK's stream as far as the app can tell (``isinstance``
holds, every attribute is forwarded, ``with`` returns the proxy). What the
record needs of each chunk is the text of its server-sent event, kept by
``_sse_tee`` as the SDK decodes it; on the caller's thread the proxy only
notes when the first content came (``ttft_ms``) and when the stream ends.
Turning the texts into output and usage is the provider's ``extract``, on the
writer thread. A stream without an SDK decoder has its chunk objects kept.
``named_events``: the SDK makes chunks of named events only (anthropic).

The record is finished on the first of: exhaustion (``ok``), an exception
from the stream (``error``, partial output kept), ``close()`` or leaving a
``with`` block early (``cancelled``), garbage collection of an abandoned
stream or an exception thrown into its (sync) iterator by whoever closes it
(``cancelled``, no error: the app saw none), interpreter exit or
``uninstrument()`` while still open (``cancelled``).
Breaking out of a ``for`` loop alone finishes nothing: the app may resume
iterating.
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import TracebackType
from typing import Any

import wrapt

from llmlog import _ending, _guard
from llmlog._record import STATUS_CANCELLED, STATUS_ERROR, STATUS_OK, Capture
from llmlog.instrumentors import _base
from llmlog.instrumentors._async_pass import AsyncPassThrough
from llmlog.instrumentors._async_reading import AsyncReading
from llmlog.instrumentors._in_flight import finish
from llmlog.instrumentors._sse_tee import TeeDecoder, tee
from llmlog.instrumentors._stream_shape import ASYNC_LACKS, SYNC_LACKS, StreamShape, hide_absent

IsContent = Callable[[Any], bool]

_open: dict[int, weakref.ref[Any]] = {}
"""Streams not finished yet, so that interpreter exit can still record them."""


def end_early(stream: Any) -> None:
    """Finish ``stream``'s record as ``cancelled`` if it is one of our proxies still open.

    For SDK helpers that close the HTTP response behind the proxy's back.
    """
    if isinstance(stream, _Finisher):
        stream._self_end(early=True)


def end_failed(stream: Any, error: BaseException) -> None:
    """Finish ``stream``'s record with ``error`` if it is one of our proxies still open.

    For SDK helpers that raise over the events they read (the proxy below saw none)."""
    if isinstance(stream, _Finisher):
        stream._self_end(error)


def helper_events(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Wrapper of an SDK stream helper's event generator (``__stream__``, reading the raw
    stream in its ``_raw_stream``): see :func:`_failures_recorded`."""
    return _failures_recorded(wrapped(*args, **kwargs), instance)


def async_helper_events(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """:func:`helper_events` for an async helper."""
    return _AsyncFailuresRecorded(wrapped(*args, **kwargs).__aiter__(), instance)


def _failures_recorded(events: Iterator[Any], helper: Any) -> Iterator[Any]:
    """``events`` unchanged. An exception the helper raises over them (a structured answer
    cut short, a tool input it cannot parse, a protocol error) ends the record of the proxy
    it reads with that error: the proxy itself never sees it, and the app got it. The proxy
    is looked up then: llmlog may put it in place after the helper was made."""
    try:
        return (yield from events)
    except Exception as exc:
        with _guard.guarded("stream helper"):
            end_failed(getattr(helper, "_raw_stream", None), exc)
        raise


class _AsyncFailuresRecorded(AsyncPassThrough):
    """:func:`_failures_recorded` for an async helper."""

    __slots__ = ("_helper",)

    def __init__(self, events: AsyncIterator[Any], helper: Any) -> None:
        super().__init__(events)
        self._helper = helper

    async def __anext__(self) -> Any:
        try:
            return await self._events.__anext__()
        except StopAsyncIteration:
            raise
        except Exception as exc:
            with _guard.guarded("stream helper"):
                end_failed(getattr(self._helper, "_raw_stream", None), exc)
            raise


def finish_open_streams() -> None:
    """At exit: every stream still open ends as ``cancelled`` with what it read."""
    for ref in list(_open.values()):
        proxy = ref()
        if proxy is not None:
            proxy._self_end(early=True)


_forks = 0
"""How many ``fork()``s deep this process is: a stream opened before a fork is the
parent's to record, never the child's (not at its exit, not when it collects the copy)."""


def _after_fork_in_child() -> None:
    global _forks
    _forks += 1
    _open.clear()


_ending.before_exit.append(finish_open_streams)
_base.after_uninstall.append(finish_open_streams)
os.register_at_fork(after_in_child=_after_fork_in_child)


class _Finisher:
    """What both proxies share: set-up and the once-only ending (state kept on the capture)."""

    _self_cap: Capture
    _self_is_content: IsContent | None
    _self_tee: TeeDecoder | None
    _self_done: bool
    _self_forks: int
    _self_raw: float | None

    def __init__(
        self,
        wrapped: Any,
        cap: Capture,
        is_content: IsContent | None = None,
        *,
        named_events: bool = False,
        raw: bool = False,
    ) -> None:
        super().__init__(wrapped)  # type: ignore[call-arg]  # wrapt's proxy, next in the MRO
        cap.stream = True
        cap.chunks = []
        if cap.result is None:
            cap.result = wrapped
        self._self_cap = cap
        self._self_is_content = is_content
        self._self_tee = tee(wrapped, cap.chunks, named_only=named_events)
        self._self_done = False
        self._self_forks = _forks
        self._self_raw = time.perf_counter() if raw else None
        """A raw response's stream: when the SDK handed it over (headers in). The app may
        read the body without it (``iter_lines()``, ``parse(to=...)``), so one never read
        says nothing: metadata only, ``ok``, timed to then (when the app stopped reading
        the body is not known; the record is written when the stream is collected)."""
        self._self_open()

    def _self_open(self) -> None:
        key = id(self)
        _open[key] = weakref.ref(self, lambda _ref: _open.pop(key, None))

    def _self_teed(self) -> bool:
        """Whether the decoder keeps the events (it was in place when reading began)."""
        return self._self_tee is not None and self._self_tee.started

    def _self_add(self, chunk: Any) -> None:
        cap = self._self_cap
        if self._self_done:  # read after the end: the record is already on its way
            return
        if not self._self_teed():
            cap.chunks.append(chunk)  # type: ignore[union-attr]
        if cap.first_chunk_perf is None and self._self_has_content(chunk):
            cap.first_chunk_perf = time.perf_counter()

    def _self_has_content(self, chunk: Any) -> bool:
        if self._self_is_content is None:
            return True
        try:
            return self._self_is_content(chunk)
        except Exception as exc:  # a chunk of a shape no SDK type has (an odd server)
            if _guard.raised_by_signal_handler(exc):
                raise  # the app's own (a deadline): it reaches the app as without us
            return False

    def _self_end(self, error: BaseException | None = None, *, early: bool = False) -> None:
        if self._self_done:
            return
        self._self_done = True
        kept = self._self_cap.chunks
        try:
            self._self_finish(error, early)
        except BaseException:  # Ctrl-C, or the app's signal handler raised
            self._self_reopen(kept)
            raise

    def _self_reopen(self, kept: list[Any] | None) -> None:
        """The end was cut short before the record was queued: open again (the texts back
        where the decoder keeps them), for its close, collection or the exit to end it."""
        cap = self._self_cap
        if cap.end_perf is None:  # (else queued: the record is on its way)
            if kept is not None and cap.chunks is not kept:
                kept[:0] = cap.chunks or []
                cap.chunks = kept
            self._self_done = False
            self._self_open()

    def _self_finish(self, error: BaseException | None, early: bool) -> None:
        _open.pop(id(self), None)
        cap = self._self_cap
        if cap.end_perf is not None:
            return  # recorded already (at exit, after an interrupted end)
        if self._self_raw is not None and not self._self_teed() and not cap.chunks and not error:
            cap.chunks = None  # never read through us: what the app did with the body is its own
            with _guard.guarded(f"{cap.provider} stream"):
                finish(cap, status=STATUS_OK, end_perf=self._self_raw)
            return
        if self._self_tee is not None:  # the record's texts from here on are its own
            cap.chunks = self._self_tee.detach()
        with _guard.guarded(f"{cap.provider} stream"):
            if error is not None:
                finish(cap, error=error, status=STATUS_ERROR)
            elif early:  # the call lasted until the app stopped reading, not until it let go
                finish(cap, status=STATUS_CANCELLED, end_perf=cap.read_end_perf)
            else:
                finish(cap, status=STATUS_OK)

    def __del__(self) -> None:
        try:
            if not self._self_done and self._self_forks == _forks:
                self._self_end(early=True)
        except Exception:  # interpreter shutdown: nothing sensible left to do
            pass


class SyncStreamProxy(_Finisher, StreamShape, wrapt.BaseObjectProxy):  # type: ignore[type-arg]
    """Proxy for ``openai.Stream`` / ``anthropic.Stream`` and the like."""

    def __iter__(self) -> Iterator[Any]:
        cap = self._self_cap
        append = cap.chunks.append  # type: ignore[union-attr]
        chunks = iter(self.__wrapped__)
        thrown = False  # an exception the consumer threw in at a ``yield``, not the stream's
        cap.read_end_perf = None  # reading (again)
        try:
            if cap.first_chunk_perf is None:
                for chunk in chunks:
                    self._self_add(chunk)
                    try:
                        yield chunk
                    except BaseException:
                        thrown = True
                        raise
                    if cap.first_chunk_perf is not None:
                        break
            if self._self_teed():
                for chunk in chunks:  # the hot loop: the decoder keeps the event
                    try:
                        yield chunk
                    except BaseException:
                        thrown = True
                        raise
            else:
                for chunk in chunks:
                    if not self._self_done:
                        append(chunk)
                    try:
                        yield chunk
                    except BaseException:
                        thrown = True
                        raise
        except GeneratorExit:  # the app left its loop (or let go of the loop's iterator)
            cap.read_end_perf = time.perf_counter()
            raise
        except BaseException as exc:
            if thrown:  # the app let go of the stream, like an abandoned one
                self._self_end(early=True)
            else:
                self._self_end(exc)
            raise
        self._self_end()

    def __next__(self) -> Any:
        try:
            chunk = self.__wrapped__.__next__()
        except StopIteration:
            self._self_end()
            raise
        except BaseException as exc:
            self._self_end(exc)
            raise
        self._self_add(chunk)
        self._self_cap.read_end_perf = time.perf_counter()
        return chunk

    def __enter__(self) -> SyncStreamProxy:
        self.__wrapped__.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._self_end(early=True)

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_end(early=True)


class AsyncStreamProxy(_Finisher, StreamShape, wrapt.BaseObjectProxy):  # type: ignore[type-arg]
    """Proxy for ``openai.AsyncStream`` / ``anthropic.AsyncStream`` and the like (not
    iterable with a plain ``for``, as they are not: wrapt's base type has no ``__iter__``)."""

    def __aiter__(self) -> AsyncReading:
        return AsyncReading(self)

    async def __anext__(self) -> Any:
        try:
            chunk = await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            self._self_end()
            raise
        except BaseException as exc:
            self._self_end(exc)
            raise
        self._self_add(chunk)
        self._self_cap.read_end_perf = time.perf_counter()
        return chunk

    async def __aenter__(self) -> AsyncStreamProxy:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_end(early=True)

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            self._self_end(early=True)

    @property
    def aclose(self) -> Callable[[], Awaitable[Any]]:
        """``aclose()`` where the SDK's stream has it (openai since 3.x), ending the record too."""
        sdk_aclose = self.__wrapped__.aclose  # AttributeError where the SDK has none

        async def aclose() -> Any:
            try:
                return await sdk_aclose()
            finally:
                self._self_end(early=True)

        return aclose


hide_absent(SyncStreamProxy, SYNC_LACKS)
hide_absent(AsyncStreamProxy, ASYNC_LACKS)
