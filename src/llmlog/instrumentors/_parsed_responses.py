"""The SDK response a parsed answer came from.

The object a plain call returns (a ``ChatCompletion``, a ``Message``) keeps nothing of
its HTTP response but the request id; the record wants more of it (allow-listed headers,
the SDK's retry count, Bedrock's request id, which the SDK leaves out). So the SDK's
``APIResponse.parse`` is patched (a helper row: no record of its own) to note, for the
object it returns, the response's headers and the SDK's retry count: a context variable
holding a weak reference to that object and the two values, nothing read from them. Only
the headers: the whole HTTP response (its request, body, stream) kept alive until the
writer reads it would be many more objects for the app's garbage collector to walk. The
wrapper's ``on_result`` runs in the same context right after and takes the note only if
its result is that very object (never another call's); the writer reads the headers. A
stream is not noted: its ``response`` is on it.
"""

from __future__ import annotations

import contextlib
import weakref
from contextvars import ContextVar
from typing import Any, Final

from llmlog.instrumentors import _base
from llmlog.instrumentors._base import Target, Wrapper, sync_and_async_helpers

NOTED: Final = "noted_headers"
"""``cap.extra`` key of (headers, SDK's retry count) of the HTTP response a plain call's
answer was parsed from (see :func:`take_noted`)."""

_noted: ContextVar[tuple[weakref.ref[Any], Any, Any] | None] = ContextVar(
    "llmlog_parsed_response", default=None
)

# (class, its parse is a coroutine): the SDKs' parsed responses, sync and async.
_PARSERS: Final = (("APIResponse", False), ("AsyncAPIResponse", True))


def take_noted(result: Any) -> tuple[Any, Any] | None:
    """(response headers, SDK's retry count) noted for ``result`` (None: none noted, or
    noted for another object); the note is cleared."""
    noted = _noted.get()
    if noted is None:
        return None
    _noted.set(None)
    reference, headers, retries_taken = noted
    return (headers, retries_taken) if reference() is result else None


def noted_headers(cap: Any) -> tuple[Any, Any]:
    """Writer thread: (response headers, SDK's retry count) noted for ``cap``, or (None,
    None)."""
    noted = cap.extra.get(NOTED)
    return noted if isinstance(noted, tuple) else (None, None)


def _note(api_response: Any, parsed: Any) -> None:
    """Note what ``parsed`` came from (never raises: read with defaults)."""
    if getattr(api_response, "_is_sse_stream", False):
        return  # a stream keeps its response: nothing to note
    headers = getattr(getattr(api_response, "http_response", None), "headers", None)
    retries_taken = getattr(api_response, "retries_taken", None)
    try:  # noqa: SIM105 (suppress() would cost the caller a context manager)
        _noted.set((weakref.ref(parsed), headers, retries_taken))
    except TypeError:  # no weak reference to it (a str, bytes): nothing to note it for
        pass


def helpers(provider: str, module: str) -> tuple[tuple[Target, ...], dict[str, Wrapper]]:
    """Patch rows and wrappers for the ``parse`` of ``provider``'s responses in ``module``
    (a class missing from an SDK version is skipped with a debug line)."""

    def sync_parse(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: Any) -> Any:
        parsed = wrapped(*args, **kwargs)
        if _base.is_active(provider):  # a bound method kept across uninstrument() passes
            _note(instance, parsed)
        return parsed

    async def noting_parse(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: Any) -> Any:
        parsed = await wrapped(*args, **kwargs)
        if _base.is_active(provider):
            _note(instance, parsed)
        return parsed

    def async_parse(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: Any) -> Any:
        """The coroutine named as the SDK's ``parse`` (a warning that it was never awaited
        names ``AsyncAPIResponse.parse``, as bare)."""
        coroutine: Any = noting_parse(wrapped, instance, args, kwargs)
        with contextlib.suppress(AttributeError, TypeError):
            coroutine.__name__ = wrapped.__name__
            coroutine.__qualname__ = wrapped.__qualname__
        return coroutine

    return sync_and_async_helpers(module, _PARSERS, "parse", sync_parse, async_parse)
