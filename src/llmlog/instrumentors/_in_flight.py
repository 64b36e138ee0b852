"""Calls in flight: begun, their answer not yet back; and :func:`finish`, which closes a
capture and hands it to the pipeline, once.

A call is *in flight* from the wrapper's start until the SDK method returns or raises:
``_in_flight`` maps its capture to the ident of the thread running it (not the task: a
task the app abandons must stay collectable). Leaving it (``dict.pop``, atomic) is the
claim on finishing the call: at exit, or at ``uninstrument()``, calls still in it are
recorded as ``cancelled`` by whoever takes them first, and a wrapper that finds its
capture taken hands the app its result without a second record.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from llmlog import _context, _ending, _guard, _pipeline
from llmlog._record import STATUS_CANCELLED, STATUS_ERROR, STATUS_OK, Capture, is_cancellation

_in_flight: dict[Capture, int] = {}
_GONE = object()
_get_ident = threading.get_ident


def finish(
    cap: Capture,
    *,
    result: Any = None,
    error: BaseException | None = None,
    status: str | None = None,
    end_perf: float | None = None,
) -> None:
    """Close a capture (end time, now unless ``end_perf``; status, outcome) and submit it;
    once only."""
    if cap.end_perf is not None:
        return
    if _context.left_out(cap.context):  # llmlog.context(log=False) where it started
        cap.end_perf = time.perf_counter()
        return
    try:
        cap.end_perf = time.perf_counter() if end_perf is None else end_perf
        if result is not None:
            cap.result = result
        if error is not None:
            cap.error = error
        cap.status = status or (STATUS_ERROR if error is not None else STATUS_OK)
        _pipeline.submit(cap)
    except BaseException:
        _unfinish(cap)
        raise
    _wait_until_written(
        ENDING_CALL_WAIT if isinstance(error, SystemExit | KeyboardInterrupt) else None
    )


ENDING_CALL_WAIT = 1.0
"""At most this many seconds (less if LLMLOG_FLUSH_TIMEOUT is less) a call cut short by
``SystemExit`` or Ctrl-C waits for its record to be written: the process is ending, and may
be killed before its exit drain runs (celery's cold shutdown raises ``SystemExit`` in the
task, and its pool kills the worker with SIGTERM a moment later)."""


each_call_written = False
"""True in a ``multiprocessing`` child: it is ended by a SIGTERM at its default (see
:mod:`llmlog._sigterm`), so each call waits for its record as under LLMLOG_SYNC_WRITES."""


def _wait_until_written(wait: float | None) -> None:
    """The queue is written now and the calling thread waits for it, never longer than
    LLMLOG_FLUSH_TIMEOUT: ``wait`` seconds at most for a call cut short as the process ends;
    None for any other call, which waits only under ``LLMLOG_SYNC_WRITES`` (a serverless
    runtime freezes the process once the handler returns)."""
    pipeline = _pipeline.current()
    if (
        pipeline is None
        or (wait is None and not (pipeline.settings.sync_writes or each_call_written))
        or pipeline._drain_deadline is not None  # the last drain has begun: it writes all
        or pipeline.waited_in_vain
        or _get_ident() == pipeline._writer_ident  # (it cannot wait for itself)
    ):
        return
    timeout = pipeline.settings.flush_timeout
    if not pipeline.flush(timeout if wait is None else min(wait, timeout)):
        pipeline.waited_in_vain = True  # a writer stuck (a hung disk) costs one wait, not each


def _unfinish(cap: Capture) -> None:
    """:func:`finish` was interrupted (Ctrl-C, an exception the app's signal handler
    raised): unless ``cap`` was queued, it is open again and back in flight, for a later
    ``finish`` (a stream's end, its collection) or the exit to record it, once."""
    if not cap.queued:
        cap.end_perf = None
        _in_flight[cap] = _get_ident()


def finish_in_flight(spared: frozenset[int] = frozenset()) -> None:
    """Calls still waiting for their answer end now as ``cancelled`` with what is known
    (at exit; at ``uninstrument()``), but those of the threads ``spared``. A thread or task
    that gets its answer later hands it to the app with no second record."""
    for cap, thread in list(_in_flight.items()):
        if thread not in spared and _in_flight.pop(cap, _GONE) is not _GONE:
            with _guard.guarded(f"{cap.provider} {cap.method}"):
                finish(cap, status=STATUS_CANCELLED)


def _finish_in_flight_at_exit() -> None:
    """At the last drain, :func:`finish_in_flight`; but where the interpreter still waits
    for its threads (at exit after all, a ``multiprocessing`` child's end: its finalizers run
    before the join), the calls of live non-daemon threads are left to end: their own
    thread records them then (written at once, as every call after the drain)."""
    spared: frozenset[int] = frozenset()
    if _ending.threads_joined_after:
        here = _get_ident()
        spared = frozenset(
            t.ident
            for t in threading.enumerate()
            if t.ident is not None and t.ident != here and not t.daemon and t.is_alive()
        )
    finish_in_flight(spared)


class _LastWord:
    """Says, as the interpreter clears ``sys`` at its very end (its daemon threads stopped
    for good, every ``atexit`` hook done), how many calls were still in flight then: begun
    after the exit drain (by a daemon thread) and never ended, they have no record.
    Kept in ``sys`` (cleared last and for sure, where a module of ours may never be);
    written with ``os.write``: ``sys.stderr`` may be gone by then."""

    def __init__(self) -> None:
        self.in_flight = _in_flight  # (the module's globals are cleared around it)
        self.finalizing = sys.is_finalizing
        self.write = os.write
        self.counts = _guard.counts

    def __del__(self) -> None:
        try:
            left = len(self.in_flight)
            if not left or not self.finalizing():
                return
            self.counts["lost_at_shutdown"] += left
            self.write(
                2,
                f"llmlog: {left} call(s) still in flight when the interpreter stopped its "
                "threads (daemon threads) have no record\n".encode(),
            )
        except Exception:  # nothing may be left to report with
            pass


sys._llmlog_last_word = _LastWord()  # type: ignore[attr-defined]


def wait_for_in_flight(timeout: float) -> None:
    """Wait up to ``timeout`` seconds for the calls in flight on other threads to end
    (those of this thread, or of tasks of the event loop it runs, cannot)."""
    here = _get_ident()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(thread == here for thread in list(_in_flight.values())):
            return
        time.sleep(0.005)


def enter_flight(cap: Capture) -> None:
    """``cap``'s request is on its way (for helpers that send it outside the wrapper)."""
    _in_flight[cap] = _get_ident()


def leave_flight(cap: Capture) -> bool:
    """``cap``'s request came back: True if the caller is the one to finish it (False if
    exit or ``uninstrument()`` has recorded it already)."""
    return _in_flight.pop(cap, _GONE) is not _GONE


def failed(cap: Capture, exc: BaseException) -> None:
    """The SDK method raised ``exc``: the call's record, unless exit or ``uninstrument()``
    made it already."""
    try:
        if leave_flight(cap):
            with _guard.guarded(f"{cap.provider} {cap.method}"):
                status = STATUS_CANCELLED if is_cancellation(exc) else STATUS_ERROR
                finish(cap, error=exc, status=status)
    except BaseException:
        _back_in_flight(cap)
        raise


def deliver(cap: Capture, result: Any, on_result: Callable[[Capture, Any], Any]) -> Any:
    """The SDK method returned ``result``: what ``on_result`` makes of it (the record, or the
    stream proxy that will make it), unless exit or ``uninstrument()`` recorded the call
    already. Should ``on_result`` fail, the call is recorded as it is; an llmlog bug is
    reported, Ctrl-C or what the app's signal handler raised goes on to the app."""
    try:
        if not leave_flight(cap):
            return result
        return on_result(cap, result)
    except BaseException as exc:
        try:
            if not isinstance(exc, Exception):
                raise
            _guard.report_internal_error(exc, f"{cap.provider} {cap.method}")
        finally:
            try:
                with _guard.guarded(f"{cap.provider} {cap.method}"):
                    finish(cap, result=result)
            finally:
                _back_in_flight(cap)
        return result


def _back_in_flight(cap: Capture) -> None:
    """Interrupted (Ctrl-C, the app's signal handler) after taking ``cap`` out of flight
    and before its record was queued: back in, for the exit to record it."""
    if cap.end_perf is None:
        _in_flight[cap] = _get_ident()


def _after_fork_in_child() -> None:
    """The parent's calls are the parent's to record (a call forked mid-flight too)."""
    _in_flight.clear()


_ending.before_exit.append(_finish_in_flight_at_exit)
os.register_at_fork(after_in_child=_after_fork_in_child)
