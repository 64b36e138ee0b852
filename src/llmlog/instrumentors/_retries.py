"""The attempts the SDK retried within one call (``max_retries``).

The SDKs retry a 429, a 5xx, an overloaded 529 or a connection failure inside the call,
and drop each failed response: the app sees only the last one. Before each backoff they
call ``_sleep_for_retry(response=...)`` (the failed response, None after a timeout or a
connection error); that method is patched (a helper row: no record of its own) to note
the failed response, or the name of the exception handled, for the call it belongs to:
the nearest patched call on the stack (its wrapper's frame holds its capture as ``cap``),
with the exception's message and the time the backoff then took. A call that is not
retried never reaches it: nothing here runs for it. The writer reads each noted response's
status, request id and error message (see :mod:`._wire_facts`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Collection
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import Any, Final

from llmlog import _guard
from llmlog._error_record import attempt_message
from llmlog._record import Capture
from llmlog.instrumentors._base import Target, Wrapper, sync_and_async_helpers

RETRIED: Final = "retried"
"""``cap.extra`` key: a list of :class:`FailedAttempt`, in the order the attempts failed."""


@dataclass(slots=True)
class FailedAttempt:
    """One attempt the SDK retried, as noted on the caller's thread."""

    response: Any
    """The failed response; None after a timeout or a connection error."""
    error: str | None
    """The name of the exception handled, when there was no response."""
    message: str | None
    """That exception's message, with its causes' (the SDKs say only "Connection error.")."""
    backoff_ms: float | None = None
    """How long the SDK then slept before the next attempt (None until it has)."""


_CLIENTS: Final = (("SyncAPIClient", False), ("AsyncAPIClient", True))


def helpers(
    module: str, call_frames: Collection[CodeType]
) -> tuple[tuple[Target, ...], dict[str, Wrapper]]:
    """Patch rows and wrappers for the ``_sleep_for_retry`` of the SDK whose base client
    lives in ``module``; ``call_frames``: the code of the frames a recorded call runs in."""

    def sync_sleep(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: Any) -> Any:
        attempt = _note(kwargs.get("response"), call_frames)
        started = time.perf_counter()
        try:
            return wrapped(*args, **kwargs)
        finally:
            _slept(attempt, started)

    async def async_sleep(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: Any) -> Any:
        attempt = _note(kwargs.get("response"), call_frames)
        started = time.perf_counter()
        try:
            return await wrapped(*args, **kwargs)
        finally:
            _slept(attempt, started)

    return sync_and_async_helpers(module, _CLIENTS, "_sleep_for_retry", sync_sleep, async_sleep)


def _note(response: Any, call_frames: Collection[CodeType]) -> FailedAttempt | None:
    """Note one failed attempt for the call being retried (never raises); None when the
    call is not recorded."""
    with _guard.guarded("retry"):
        cap = _call_capture(call_frames)
        if cap is None:
            return None
        handled = sys.exc_info()[1]  # the timeout or connection error, when no response
        failed = handled if response is None else None
        attempt = FailedAttempt(
            response,
            type(failed).__name__ if failed is not None else None,
            attempt_message(failed) if failed is not None else None,
        )
        retried = cap.extra.get(RETRIED)
        if not isinstance(retried, list):
            retried = cap.extra[RETRIED] = []
        retried.append(attempt)
        return attempt
    return None


def _slept(attempt: FailedAttempt | None, started: float) -> None:
    """The backoff after ``attempt``: the time the SDK's sleep took (never raises)."""
    if attempt is not None:
        attempt.backoff_ms = round((time.perf_counter() - started) * 1000.0, 3)


def _call_capture(call_frames: Collection[CodeType]) -> Capture | None:
    """The capture of the nearest patched call on the stack; None when that call is not
    recorded (or there is none)."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        if frame.f_code in call_frames:
            cap = frame.f_locals.get("cap")
            return cap if isinstance(cap, Capture) else None
        frame = frame.f_back
    return None
