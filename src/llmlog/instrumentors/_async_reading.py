"""One ``async for`` over an async stream proxy (:class:`~llmlog.instrumentors._stream.
AsyncStreamProxy`): what ``aiter(stream)`` gives, read as the SDK's own async generator
would be (``anext``, ``asend``, ``athrow``, ``aclose``), the proxy told how reading went.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from llmlog.instrumentors._async_pass import aclose_of

if TYPE_CHECKING:
    from llmlog.instrumentors._stream import AsyncStreamProxy


class AsyncReading:
    """One ``async for`` over an :class:`AsyncStreamProxy`, reading the SDK's own iterator.

    A class, not an async generator (see :mod:`~llmlog.instrumentors._async_pass`). Like
    a generator it reads as exhausted once it ended (the stream's end, an error,
    ``aclose()``), and raises ``RuntimeError`` when read twice at once. Letting go of it,
    or ``aclose()``, is where the app stopped reading.
    """

    __slots__ = ("_chunks", "_over", "_proxy", "_running", "_teed")

    def __init__(self, proxy: AsyncStreamProxy) -> None:
        self._proxy = proxy
        self._over = False
        self._running = False
        self._teed: bool | None = None
        """Whether the decoder keeps the events; known once the first content came."""
        try:
            self._chunks = aiter(proxy.__wrapped__)
        except BaseException as exc:  # not async-iterable: the stream cannot be read
            self._over = True
            proxy._self_end(exc)
            raise
        proxy._self_cap.read_end_perf = None  # reading (again)

    def __aiter__(self) -> AsyncReading:
        return self

    async def __anext__(self) -> Any:
        return await self._read(self._chunks.__anext__)

    async def asend(self, value: Any) -> Any:
        """As the SDK's generator's ``asend()``: ``value`` goes to its ``yield``."""
        return await self._read(lambda: self._chunks.asend(value))

    async def athrow(self, *thrown: Any) -> Any:
        """As the SDK's generator's ``athrow()``; what comes out of it is the app's own
        exception: the app let go of the stream, as with one thrown in at a sync ``yield``."""
        if self._over:
            return await self._chunks.athrow(*thrown)
        if self._running:
            raise RuntimeError("athrow(): asynchronous generator is already running")
        self._running = True
        try:
            chunk = await self._chunks.athrow(*thrown)
        except BaseException:
            self._over = True
            self._stopped_reading()
            self._proxy._self_end(early=True)
            raise
        finally:
            self._running = False
        self._keep(chunk)
        return chunk

    async def _read(self, step: Callable[[], Awaitable[Any]]) -> Any:
        """The next chunk, by ``step``, as the stream's end or error tells the proxy."""
        if self._over:
            raise StopAsyncIteration
        if self._running:
            raise RuntimeError("anext(): asynchronous generator is already running")
        self._running = True
        try:
            chunk = await step()
        except StopAsyncIteration:
            self._over = True
            self._proxy._self_end()
            raise
        except GeneratorExit:  # the app's coroutine was closed while it waited here
            self._over = True
            self._stopped_reading()
            raise
        except BaseException as exc:
            self._over = True
            self._proxy._self_end(exc)
            raise
        finally:
            self._running = False
        self._keep(chunk)
        return chunk

    def _keep(self, chunk: Any) -> None:
        proxy = self._proxy
        cap = proxy._self_cap
        if cap.first_chunk_perf is None:
            proxy._self_add(chunk)
        elif not proxy._self_done:
            if self._teed is None:
                self._teed = proxy._self_teed()
            if not self._teed:  # no decoder keeps the event texts: the chunk itself
                cap.chunks.append(chunk)  # type: ignore[union-attr]

    async def aclose(self) -> None:
        """Stop reading, as an async generator's ``aclose()`` does; the stream stays open."""
        if self._over:
            return
        self._over = True
        self._stopped_reading()
        await aclose_of(self._chunks)

    def _stopped_reading(self) -> None:
        if not self._proxy._self_done:
            self._proxy._self_cap.read_end_perf = time.perf_counter()

    def __del__(self) -> None:
        try:
            if not self._over:  # the app left its loop (or let go of the loop's iterator)
                self._stopped_reading()
        except Exception:  # interpreter shutdown: nothing sensible left to do
            pass
