"""The attempts the SDK retried within one call (``max_retries``).

The SDKs retry a 429, a 5xx, an overloaded 529 or a connection failure inside the call,
and drop each failed response: the app sees only the last one. Before each backoff they
call ``_sleep_for_retry(response=...)`` (the failed response, None after a timeout or a
connection error); that method is patched (a helper row: no record of its own) to note
the failed response, or the name of the exception handled, for the call it belongs to:
the nearest patched call on the stack (its wrapper's frame holds its capture as ``cap``).
A call that is not retried never reaches it: nothing here runs for it. The writer reads
each noted response's status and request id (see :mod:`._wire_facts`).
"""

from __future__ import annotations

import sys
from collections.abc import Collection
from types import CodeType, FrameType
from typing import Any, Final

from llmlog import _guard
from llmlog._record import Capture
from llmlog.instrumentors._base import Target, Wrapper, sync_and_async_helpers

RETRIED: Final = "retried"
"""``cap.extra`` key: a list of (failed response or None, exception name or None), in the
order the attempts failed."""

_CLIENTS: Final = (("SyncAPIClient", False), ("AsyncAPIClient", True))


def helpers(
    module: str, call_frames: Collection[CodeType]
) -> tuple[tuple[Target, ...], dict[str, Wrapper]]:
    """Patch rows and wrappers for the ``_sleep_for_retry`` of the SDK whose base client
    lives in ``module``; ``call_frames``: the code of the frames a recorded call runs in."""

    def sync_sleep(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: Any) -> Any:
        _note(kwargs.get("response"), call_frames)
        return wrapped(*args, **kwargs)

    async def async_sleep(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: Any) -> Any:
        _note(kwargs.get("response"), call_frames)
        return await wrapped(*args, **kwargs)

    return sync_and_async_helpers(module, _CLIENTS, "_sleep_for_retry", sync_sleep, async_sleep)


def _note(response: Any, call_frames: Collection[CodeType]) -> None:
    """Note one failed attempt for the call being retried (never raises)."""
    with _guard.guarded("retry"):
        cap = _call_capture(call_frames)
        if cap is None:
            return
        handled = sys.exc_info()[1]  # the timeout or connection error, when no response
        error = type(handled).__name__ if response is None and handled is not None else None
        retried = cap.extra.get(RETRIED)
        if not isinstance(retried, list):
            retried = cap.extra[RETRIED] = []
        retried.append((response, error))


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
