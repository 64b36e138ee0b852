"""Async iterators of llmlog's own, as classes, never async generators.

Event loops track every async generator, and trio (asyncio too, in debug mode) warns of
each one collected unfinished: a stream the app left would name llmlog in its warnings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any


class AsyncPassThrough:
    """An async iterator over ``events`` whose subclass's ``__anext__`` acts on each as it
    passes; ``aclose()`` closes ``events``, as closing a generator over them would."""

    __slots__ = ("_events",)

    def __init__(self, events: AsyncIterator[Any]) -> None:
        self._events = events

    def __aiter__(self) -> AsyncPassThrough:
        return self

    async def aclose(self) -> None:
        await aclose_of(self._events)


async def aclose_of(iterator: Any) -> None:
    """Close ``iterator`` if it can be closed (an async generator; not every iterator)."""
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()
