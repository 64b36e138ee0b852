"""SDK objects whose items llmlog follows as the app reads them (the anthropic and
openai SDKs'): a stream stays the SDK's own object, its source iterator handing every
item to a ``follow`` callback (:func:`tapped`), so every way of reading it is seen
(iteration, ``next()``, the SDK's own helpers); pages and async paginators are wrapped
in a proxy that does the same and is otherwise the SDK's object (``isinstance`` holds).
Each proxy class adds only the methods its SDK class has (a page has no ``__next__``, a
stream no pages). Used for managed-agent session events and dreams, where the items
themselves (not a call) make the records; the wrappers that hand such methods' results
over are made here too (:func:`after_call`, :func:`helper_rows`), and the bounded memory
of event ids already read (:class:`SeenIds`).
"""

from __future__ import annotations

import sys
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Generator,
    Hashable,
    Iterable,
    Iterator,
)
from types import AsyncGeneratorType, GeneratorType
from typing import Any

import wrapt

from llmlog import _guard
from llmlog.instrumentors import _base
from llmlog.instrumentors._base import Target, Wrapper
from llmlog.instrumentors._observed import RecordedOnce

Follow = Callable[[Iterable[Any]], None]
After = Callable[[Any, tuple[Any, ...], dict[str, Any]], Any]
"""What a patched SDK method's result becomes: ``(result, args, kwargs) -> result``."""
_PROVIDER = "anthropic"


def is_sdk(result: Any, module: str, *names: str) -> bool:
    """``result`` is an instance of one of the SDK's ``module`` classes ``names``."""
    found = sys.modules.get(module)
    return any(isinstance(result, getattr(found, name, ())) for name in names)


class SeenIds(RecordedOnce):
    """Event ids already taken in, across every session a module follows, the oldest
    forgotten past ``limit``. One bounded window for all sessions (not one per session)
    so that memory stays a few MB however many sessions are followed: ids are kept as
    64-bit hashes of ``(session, event id)`` (~120 bytes each, whatever the ids' length).
    The trade-off: an event is known as read again only while it is among the last
    ``limit`` ids taken in by the whole process, so a replay (a reconnect, a listing after
    the stream) of events older than that is taken in again: a turn or request still open
    may then get some of its output twice (within the per-request caps), while one that
    ended is never recorded twice (that is by its own id, in a separate memory). 16,384
    ids (a module's default) are about 2 MB."""

    def __contains__(self, key: object) -> bool:
        return super().__contains__(hash(key))

    def first(self, key: Hashable) -> bool:
        """Remember ``key``; False if it was remembered already."""
        return super().first(hash(key))


def tapped(result: Any, follow: Follow, is_async: bool) -> Any:
    """An SDK stream as the app gets it: the SDK's own object whose source iterator
    (``_iterator``, what ``__iter__``, ``__next__`` and every helper that reads the
    stream, such as ``get_final_result()``, consume) hands each item to ``follow`` on
    its way; a proxy when the stream has no such iterator."""
    with _guard.guarded("followed stream"):
        source = getattr(result, "_iterator", None)
        if is_async and isinstance(source, AsyncGeneratorType):
            result._iterator = _tap_async(source, follow)
            return result
        if not is_async and isinstance(source, GeneratorType):
            result._iterator = _tap(source, follow)
            return result
    return AsyncStream(result, follow) if is_async else Stream(result, follow)


def _tap(source: Generator[Any, None, None], follow: Follow) -> Iterator[Any]:
    try:
        for item in source:
            follow((item,))
            yield item
    finally:
        source.close()


async def _tap_async(source: AsyncGenerator[Any, None], follow: Follow) -> AsyncIterator[Any]:
    try:
        async for item in source:
            follow((item,))
            yield item
    finally:
        await source.aclose()


class Followed(wrapt.ObjectProxy):  # type: ignore[type-arg]
    """An SDK object whose events are followed as the app reads them. Each subclass adds
    only the methods its SDK class has (a page has no ``__next__``, a stream no pages)."""

    def __init__(self, wrapped: Any, follow: Follow) -> None:
        super().__init__(wrapped)
        self._self_follow = follow


class Stream(Followed):
    def __iter__(self) -> Iterator[Any]:
        follow = self._self_follow
        for event in self.__wrapped__:
            follow((event,))
            yield event

    def __next__(self) -> Any:
        event = self.__wrapped__.__next__()
        self._self_follow((event,))
        return event

    def __enter__(self) -> Stream:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        return self.__wrapped__.__exit__(*exc_info)


class AsyncStream(Followed):
    async def __aiter__(self) -> AsyncIterator[Any]:
        follow = self._self_follow
        async for event in self.__wrapped__:
            follow((event,))
            yield event

    async def __anext__(self) -> Any:
        event = await self.__wrapped__.__anext__()
        self._self_follow((event,))
        return event

    async def __aenter__(self) -> AsyncStream:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        return await self.__wrapped__.__aexit__(*exc_info)


class Page(Followed):
    """A page of listed events; the pages after it are followed as the app fetches them."""

    def __iter__(self) -> Iterator[Any]:
        follow = self._self_follow
        for event in self.__wrapped__:
            follow((event,))
            yield event

    def get_next_page(self) -> Any:
        return followed_page(self.__wrapped__.get_next_page(), self._self_follow)

    def iter_pages(self) -> Iterator[Any]:
        for page in self.__wrapped__.iter_pages():
            self._self_follow(page.data)
            yield page


class AsyncPage(Followed):
    async def __aiter__(self) -> AsyncIterator[Any]:
        follow = self._self_follow
        async for event in self.__wrapped__:
            follow((event,))
            yield event

    async def get_next_page(self) -> Any:
        return followed_page(await self.__wrapped__.get_next_page(), self._self_follow)

    async def iter_pages(self) -> AsyncIterator[Any]:
        async for page in self.__wrapped__.iter_pages():
            self._self_follow(page.data)
            yield page


class Paginator(Followed):
    """What async ``list()`` returns: ``await`` gives the first page, ``async for`` every
    event (``with_raw_response`` awaits to the raw response: left as it is)."""

    __aiter__ = AsyncPage.__aiter__

    def __await__(self) -> Generator[Any, None, Any]:
        result = yield from self.__wrapped__.__await__()
        return followed_page(result, self._self_follow)


def followed_page(result: Any, follow: Follow) -> Any:
    """``result`` as the app gets it: a page, followed (its events at once), else itself."""
    with _guard.guarded("followed page"):
        for sdk in _SDKS:
            if is_sdk(result, sdk, "BaseSyncPage"):
                follow(result.data)
                return Page(result, follow)
            if is_sdk(result, sdk, "BaseAsyncPage"):
                follow(result.data)
                return AsyncPage(result, follow)
    return result


_SDKS = ("anthropic._base_client", "openai._base_client")
"""Where the SDKs' page classes are (a page of either is followed the same way)."""


def listing(result: Any, follow: Follow) -> Any:
    """What a ``list()`` call's result becomes: its items followed (else ``result``)."""
    if any(is_sdk(result, sdk, "AsyncPaginator") for sdk in _SDKS):
        return Paginator(result, follow)
    return followed_page(result, follow)


def after_call(after: After, is_async: bool) -> Wrapper:
    """A wrapt wrapper that runs the SDK method, then hands its result to ``after`` while
    llmlog instruments anthropic (a bound method kept across ``uninstrument()`` passes
    through); ``is_async``: the method is a coroutine function."""
    if is_async:

        async def async_wrapped(
            wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            result = await wrapped(*args, **kwargs)
            return after(result, args, kwargs) if _base.is_active(_PROVIDER) else result

        return async_wrapped

    def wrapped_call(
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        result = wrapped(*args, **kwargs)
        return after(result, args, kwargs) if _base.is_active(_PROVIDER) else result

    return wrapped_call


def helper_rows(
    module: str, cls: str, label: str, async_is_coroutine: bool, after: After
) -> tuple[list[Target], dict[str, Wrapper]]:
    """Patch rows for ``cls`` and ``Async{cls}``'s method named by ``label``'s last part,
    and their wrappers by ``module:qualname`` (helpers: no record per call)."""
    name = label.rpartition(".")[2]
    rows, wrappers = [], {}
    for qualname, is_async in (
        (f"{cls}.{name}", False),
        (f"Async{cls}.{name}", async_is_coroutine),
    ):
        rows.append(Target(module, qualname, label, "helper", is_async))
        wrappers[f"{module}:{qualname}"] = after_call(after, is_async)
    return rows, wrappers
