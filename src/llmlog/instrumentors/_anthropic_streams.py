"""The ``messages.stream()`` helper: one record however the app consumes it.

``messages.stream()`` does not call ``create``: it returns a manager that sends
the request only in ``__enter__`` / ``__aenter__``. The manager proxy starts the
call there (its clock, llmlog's context, the trace ids: the call starts when the
request is sent), lets the SDK build its ``MessageStream``, then puts the
stream proxy in place of the message stream's raw event stream. Every way of
reading the helper (iterating events, ``text_stream``, ``get_final_message()``,
``get_final_text()``, ``until_done()``) pulls from that raw stream, and
``close()`` closes it, so each path ends in exactly one record while the app
keeps the SDK's own ``MessageStream`` object.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, Final

import wrapt

from llmlog import _context, _guard, _pipeline
from llmlog._record import STATUS_CANCELLED, STATUS_ERROR, Capture, is_cancellation
from llmlog.instrumentors._anthropic_response import HttpFacts
from llmlog.instrumentors._base import Target, _trace_ids
from llmlog.instrumentors._in_flight import enter_flight, finish, leave_flight
from llmlog.instrumentors._stream import (
    AsyncStreamProxy,
    IsContent,
    SyncStreamProxy,
    async_helper_events,
    helper_events,
)


def _start(cap: Capture) -> None:
    """The request leaves in ``__enter__``, not when ``stream()`` built the manager: the
    call's clock, llmlog's context and the trace ids are taken here. In flight from now."""
    _pipeline.prepare()  # the writer gets ready while the call runs
    with _guard.guarded(f"{cap.provider} {cap.method}"):
        cap.context = _context.snapshot()
        cap.trace_ids = _trace_ids()
    cap.start_ns = time.time_ns()
    cap.start_perf = time.perf_counter()
    cap.stream = True  # also when it fails before the first event
    enter_flight(cap)


def _failed(cap: Capture, exc: BaseException) -> None:
    if not leave_flight(cap):
        return  # recorded at exit or uninstrument() already
    with _guard.guarded(f"{cap.provider} {cap.method}"):
        finish(cap, error=exc, status=STATUS_CANCELLED if is_cancellation(exc) else STATUS_ERROR)


def _intercept(
    message_stream: Any,
    cap: Capture,
    proxy_type: type,
    is_content: IsContent,
) -> None:
    """Route the helper's raw events through a stream proxy (the helper reads only those)."""
    try:
        raw_stream = message_stream._raw_stream
        cap.result = HttpFacts(raw_stream.response.headers)
        message_stream._raw_stream = proxy_type(raw_stream, cap, is_content, named_events=True)
    except Exception as exc:
        # An SDK version without ``_raw_stream``: no events, but still one record.
        _guard.report_internal_error(exc, f"{cap.provider} {cap.method}")
        with _guard.guarded(f"{cap.provider} {cap.method}"):
            finish(cap)


_STREAM_CLASSES: Final = {
    "anthropic.lib.streaming._messages": ("MessageStream", "AsyncMessageStream"),
    "anthropic.lib.streaming._beta_messages": ("BetaMessageStream", "BetaAsyncMessageStream"),
}
HELPERS: Final = tuple(
    Target(module, f"{name}.__stream__", f"{name}.__stream__", "helper", "Async" in name)
    for module, names in _STREAM_CLASSES.items()
    for name in names
)
"""The message stream helpers' event generators: what they raise over the events (an
``output_format`` answer that does not validate, tool input JSON they cannot parse) is
the call's error. Also for the streams threads and tool runners make over ``create``."""
HELPER_WRAPPERS: Final = {
    f"{row.module}:{row.qualname}": async_helper_events if row.is_async else helper_events
    for row in HELPERS
}


class _ManagerProxy(wrapt.ObjectProxy[Any]):
    """What the sync and async manager proxies hold: the call's capture and stream hooks."""

    def __init__(self, wrapped: Any, cap: Capture, is_content: IsContent) -> None:
        super().__init__(wrapped)
        self._self_cap = cap
        self._self_is_content = is_content
        self._self_extra = dict(cap.extra)  # as the call was made, for a second entry
        self._self_entered = False

    def _self_call(self) -> Capture:
        """The capture of this entry: the SDK's manager sends its request again each time
        it is entered (a retry loop reusing it), and each request is a call of its own."""
        cap = self._self_cap
        if self._self_entered:
            cap = Capture(
                provider=cap.provider,
                method=cap.method,
                operation=cap.operation,
                kwargs=cap.kwargs,
                extract=cap.extract,
                extra=dict(self._self_extra),
                client=cap.client,
            )
        self._self_entered = True
        return cap


class MessageStreamManagerProxy(_ManagerProxy):
    """Stands in for ``MessageStreamManager`` (and the beta one); ``isinstance`` holds."""

    def __enter__(self) -> Any:
        if _context.logging_off():  # entered inside llmlog.context(log=False)
            return self.__wrapped__.__enter__()
        cap = self._self_call()
        _start(cap)
        try:
            message_stream = self.__wrapped__.__enter__()
        except BaseException as exc:
            _failed(cap, exc)
            raise
        if leave_flight(cap):
            _intercept(message_stream, cap, SyncStreamProxy, self._self_is_content)
        return message_stream

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Any:
        return self.__wrapped__.__exit__(exc_type, exc, tb)


class AsyncMessageStreamManagerProxy(_ManagerProxy):
    """Stands in for ``AsyncMessageStreamManager`` (and the beta one)."""

    async def __aenter__(self) -> Any:
        if _context.logging_off():  # entered inside llmlog.context(log=False)
            return await self.__wrapped__.__aenter__()
        cap = self._self_call()
        _start(cap)
        try:
            message_stream = await self.__wrapped__.__aenter__()
        except BaseException as exc:
            _failed(cap, exc)
            raise
        if leave_flight(cap):
            _intercept(message_stream, cap, AsyncStreamProxy, self._self_is_content)
        return message_stream

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Any:
        return await self.__wrapped__.__aexit__(exc_type, exc, tb)
