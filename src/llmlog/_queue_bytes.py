"""How much the records waiting for the writer hold, so that a writer far behind cannot
take the app's memory.

A queued capture holds the call's whole request (the prompt, inline images as base64):
cutting and stubbing happen on the writer. ``queue_size`` bounds the records, not their
size: 10,000 queued calls of 1 MB prompts hold 10 GB. So once the writer is behind (more
than :data:`MEASURED_FROM` records queued: a hand-over batch is 32), each new record's
texts are measured before it is queued, and a record that would take the measured total
past ``LLMLOG_QUEUE_BYTES`` is dropped and counted as any dropped record. Nothing is
measured while the writer keeps up: a call then pays nothing for this.
"""

from __future__ import annotations

import threading
from typing import Any, Final

from llmlog import _guard
from llmlog._config import Settings
from llmlog._record import Capture

MEASURED_FROM: Final = 64
"""Queued records past which a new record is measured (fewer: the writer keeps up)."""
QUEUED_BYTES: Final = "queued_bytes"
"""``cap.extra`` key of a measured record's size, taken off the total once written."""


def measured(cap: Capture) -> int:
    """About how many bytes ``cap``'s request and answer text hold (at least 1), noted
    on it for the writer."""
    size = max(1, _size(cap.kwargs) + _size(cap.result))
    cap.extra[QUEUED_BYTES] = size
    return size


def taken(cap: Any) -> int:
    """A written record's measured size (0 for one not measured)."""
    extra = getattr(cap, "extra", None)
    size = extra.get(QUEUED_BYTES, 0) if isinstance(extra, dict) else 0
    return size if isinstance(size, int) else 0


def _size(value: Any, depth: int = 0) -> int:
    """The characters and bytes of the texts in ``value`` (the copied arguments: dicts,
    lists and leaves; an SDK answer's fields), to 32 levels down."""
    kind = type(value)
    if kind is str:
        return len(value)  # a byte per character: most prompt text is ASCII, base64 media is
    if kind is bytes or kind is bytearray:
        return len(value)
    if depth > 32:
        return 0
    if kind is dict:
        return sum(_size(item, depth + 1) for item in value.values())
    if kind is list or kind is tuple:
        return sum(_size(item, depth + 1) for item in value)
    if not hasattr(kind, "__pydantic_fields__"):  # not an SDK answer's model: not walked
        return 0
    fields = getattr(value, "__dict__", None)  # a pydantic model's fields
    return _size(fields, depth + 1) if type(fields) is dict else 0


class QueueBytes:
    """The pipeline's count of the measured bytes queued (mixed into
    :class:`llmlog._pipeline.Pipeline`)."""

    settings: Settings
    _start_lock: threading.RLock
    _queued_bytes: int

    def _room_for(self, cap: Capture) -> bool:
        """The writer is behind: whether ``cap``'s texts fit in what the queue may hold (see
        the module's text); if so they are counted in."""
        try:
            size = measured(cap)
        except Exception as exc:  # never the caller's problem: queued unmeasured
            _guard.report_internal_error(exc, "the queue's byte count")
            return True
        with self._start_lock:
            if self._queued_bytes + size > self.settings.queue_bytes:
                return False
            self._queued_bytes += size
        return True

    def _count_out(self, item: Any) -> None:
        """``item`` is written: its measured size is no longer queued."""
        size = taken(item)
        if size:
            with self._start_lock:
                self._queued_bytes = max(0, self._queued_bytes - size)
