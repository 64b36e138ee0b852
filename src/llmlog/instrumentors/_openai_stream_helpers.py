"""Wrappers for the openai SDK's stream helpers (``chat.completions.stream()``,
``responses.stream()``): they read the raw stream llmlog proxies, so what they do past
it (close the HTTP response, raise over an event) must reach the proxy's record."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, Final

from llmlog import _guard
from llmlog.instrumentors._base import Wrapper, labelled
from llmlog.instrumentors._stream import end_early, end_failed


def _close_raw_stream(instance: Any) -> None:
    end_early(getattr(instance, "_raw_stream", None))


def _helper_close(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``ChatCompletionStream.close()`` closes the HTTP response, bypassing our proxy: finish it."""
    try:
        return wrapped(*args, **kwargs)
    finally:
        with _guard.guarded("openai stream helper close"):
            _close_raw_stream(instance)


async def _async_helper_close(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    try:
        return await wrapped(*args, **kwargs)
    finally:
        with _guard.guarded("openai stream helper close"):
            _close_raw_stream(instance)


def _watched_events(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """A stream helper's event generator (``__stream__``), watched for what it raises."""
    return _raise_through(wrapped(*args, **kwargs), instance)


def _raise_through(events: Iterator[Any], helper: Any) -> Iterator[Any]:
    """``events``, unchanged. An exception the helper itself raises over them (the
    ``LengthFinishReasonError`` of a structured answer cut short, a protocol error) is the
    call's error, as ``parse()``'s would be: the raw stream below it never sees it."""
    try:
        return (yield from events)
    except Exception as exc:
        with _guard.guarded("openai stream helper"):
            end_failed(getattr(helper, "_raw_stream", None), exc)
        raise


def _async_watched_events(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    return _async_raise_through(wrapped(*args, **kwargs), instance)


async def _async_raise_through(events: AsyncIterator[Any], helper: Any) -> AsyncIterator[Any]:
    try:
        async for event in events:
            yield event
    except Exception as exc:
        with _guard.guarded("openai stream helper"):
            end_failed(getattr(helper, "_raw_stream", None), exc)
        raise


CHAT_STREAMING: Final = "openai.lib.streaming.chat._completions"
RESPONSES_STREAMING: Final = "openai.lib.streaming.responses._responses"
STREAM_HELPERS: Final[Mapping[str, Wrapper]] = {
    "ChatCompletionStream.close": _helper_close,
    "AsyncChatCompletionStream.close": _async_helper_close,
    "ResponseStream.close": _helper_close,
    "ChatCompletionStream.__stream__": _watched_events,
    "AsyncChatCompletionStream.__stream__": _async_watched_events,
    "ResponseStream.__stream__": _watched_events,
    "AsyncResponseStream.__stream__": _async_watched_events,
    "AsyncResponseStream.close": _async_helper_close,
    # The call made inside is the helper's, also when it fails (see ``_base.labelled``).
    "ResponseStreamManager.__enter__": labelled("responses.stream", is_async=False),
    "AsyncResponseStreamManager.__aenter__": labelled("responses.stream", is_async=True),
}
