"""Wrappers for the openai SDK's stream helpers (``chat.completions.stream()``,
``responses.stream()``): they read the raw stream llmlog proxies, so what they do past
it (close the HTTP response, raise over an event) must reach the proxy's record."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from llmlog import _guard
from llmlog.instrumentors._base import Wrapper, labelled
from llmlog.instrumentors._stream import async_helper_events, end_early, helper_events


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


CHAT_STREAMING: Final = "openai.lib.streaming.chat._completions"
RESPONSES_STREAMING: Final = "openai.lib.streaming.responses._responses"
STREAM_HELPERS: Final[Mapping[str, Wrapper]] = {
    "ChatCompletionStream.close": _helper_close,
    "AsyncChatCompletionStream.close": _async_helper_close,
    "ResponseStream.close": _helper_close,
    "ChatCompletionStream.__stream__": helper_events,
    "AsyncChatCompletionStream.__stream__": async_helper_events,
    "ResponseStream.__stream__": helper_events,
    "AsyncResponseStream.__stream__": async_helper_events,
    "AsyncResponseStream.close": _async_helper_close,
    # The call made inside is the helper's, also when it fails (see ``_base.labelled``).
    "ResponseStreamManager.__enter__": labelled("responses.stream", is_async=False),
    "AsyncResponseStreamManager.__aenter__": labelled("responses.stream", is_async=True),
}
