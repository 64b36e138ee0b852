"""Calls llmlog observes rather than wraps: a hosted agent's model request, a finished
job. The app did not make them with a call llmlog could time, so their capture is made
when llmlog sees them, timed by the server's clock, and each is recorded once.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Any

from llmlog import _context, _pipeline
from llmlog._record import Capture
from llmlog.instrumentors._base import _trace_ids
from llmlog.instrumentors._in_flight import finish


def observed_capture(
    provider: str,
    method: str,
    operation: str,
    extract: Callable[[Capture], dict[str, Any]],
    **fields: Any,
) -> Capture:
    """A capture for a call the app did not make itself but llmlog sees happen, with the
    app's llmlog context now."""
    _pipeline.prepare()  # the writer gets ready now, not at the first record (maybe at exit)
    return Capture(
        provider=provider,
        method=method,
        operation=operation,
        kwargs={},
        extract=extract,
        context=_context.snapshot(),
        trace_ids=_trace_ids(),
        **fields,
    )


def epoch_ns(moment: Any) -> int | None:
    """A server timestamp (``datetime``) in nanoseconds since the epoch; else None."""
    return int(moment.timestamp() * 1e9) if isinstance(moment, datetime) else None


def finish_by_server_clock(
    cap: Capture, started: Any, ended: Any, status: str | None = None
) -> None:
    """Finish ``cap`` with the server's timestamps: ``ts`` at ``started``, latency from
    ``started`` to ``ended``; either unknown: ``extra["latency_unknown"]`` (the provider's
    extract writes null)."""
    started_ns, ended_ns = epoch_ns(started), epoch_ns(ended)
    if started_ns is not None:
        cap.start_ns = started_ns
    if started_ns is None or ended_ns is None:
        cap.extra["latency_unknown"] = True
        finish(cap, status=status)
        return
    now = time.perf_counter()
    cap.start_perf = now - max(ended_ns - started_ns, 0) / 1e9
    finish(cap, status=status, end_perf=now)


class RecordedOnce:
    """Ids of what was recorded already, the oldest forgotten past ``limit``."""

    def __init__(self, limit: int) -> None:
        self._ids: OrderedDict[Hashable, None] = OrderedDict()
        self._limit = limit

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, key: object) -> bool:
        return key in self._ids

    def first(self, key: Hashable) -> bool:
        """Note ``key`` as recorded; False if it already was."""
        if key in self._ids:
            return False
        self._ids[key] = None
        if len(self._ids) > self._limit:
            self._ids.popitem(last=False)
        return True

    def clear(self) -> None:
        self._ids.clear()
