"""A tiny SDK shaped like the real ones: a client method, streams, errors.

It lets the pipeline and the patch mechanics be tested in processes that
have no provider SDK, without mocking anything of llmlog.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any


class ToyError(Exception):
    """What the toy API raises; carries a status code like the SDKs' errors."""

    def __init__(self, message: str, status_code: int = 500) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.body = {"error": {"message": message}}


@dataclass(frozen=True)
class Answer:
    text: str
    input_tokens: int
    output_tokens: int


class Stream:
    """Yields words; closing it stops it; fails mid-way when asked to."""

    def __init__(self, words: list[str], fail_after: int | None = None) -> None:
        self._words = words
        self._fail_after = fail_after
        self._position = 0
        self.closed = False

    def __iter__(self) -> Iterator[str]:
        while True:
            try:
                yield self.__next__()
            except StopIteration:
                return

    def __next__(self) -> str:
        if self.closed or self._position >= len(self._words):
            raise StopIteration
        if self._fail_after is not None and self._position >= self._fail_after:
            raise ToyError("stream broke", 500)
        word = self._words[self._position]
        self._position += 1
        return word

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.closed = True


class AsyncStream:
    def __init__(self, words: list[str]) -> None:
        self._words = list(words)
        self.closed = False

    def __aiter__(self) -> AsyncIterator[str]:
        return self._gen()

    async def _gen(self) -> AsyncIterator[str]:
        while self._words and not self.closed:
            yield self._words.pop(0)

    async def __anext__(self) -> str:
        if not self._words or self.closed:
            raise StopAsyncIteration
        return self._words.pop(0)

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        self.closed = True


class Client:
    """``create(messages=..., model=...)`` answers by echoing the last message."""

    def create(
        self,
        *,
        messages: list[dict[str, Any]],
        model: str,
        stream: bool = False,
        fail: bool = False,
        fail_after: int | None = None,
        **params: Any,
    ) -> Any:
        if fail:
            raise ToyError("overloaded", 529)
        words = str(messages[-1]["content"]).split()
        if stream:
            return Stream(words, fail_after)
        return Answer(" ".join(words), input_tokens=len(words), output_tokens=len(words))

    async def acreate(
        self,
        *,
        messages: list[dict[str, Any]],
        model: str,
        stream: bool = False,
        fail: bool = False,
        **params: Any,
    ) -> Any:
        if fail:
            raise ToyError("overloaded", 529)
        words = str(messages[-1]["content"]).split()
        if stream:
            return AsyncStream(words)
        return Answer(" ".join(words), input_tokens=len(words), output_tokens=len(words))
