"""When llmlog has no writer thread to hand a record to, the caller's thread writes it.

Two cases: a call made after the exit drain (a later ``atexit`` hook, a daemon thread),
and an interpreter that refuses new threads (CPython 3.12.0 to 3.12.2 once the main thread
has returned, and in ``atexit`` hooks). Mixed into :class:`llmlog._pipeline.Pipeline`.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from llmlog import _deaf_threads, _fork_warning, _forks, _guard
from llmlog._config import Settings
from llmlog._record import EVENT_CALL, Capture


class CallerWrites:
    """The pipeline's writing on the caller's thread (see the module's text)."""

    settings: Settings
    _queue: deque[Any]
    _start_lock: threading.RLock
    _writing_here: list[int]

    if TYPE_CHECKING:  # the pipeline's own

        def _emit(self, event: str, fields: dict[str, Any]) -> None: ...

        def _write_out(self) -> None: ...

    def _write_now(self, cap: Capture) -> None:
        """A call made after the exit drain (a later atexit hook, a daemon thread), or with no
        writer thread to be had: nothing else would write it, so the caller's thread does,
        between the writer's slices."""
        if sys.is_finalizing():  # the writer may be frozen mid-slice: not even this can wait
            lost_at_shutdown()
            return
        if not _forks.guard.acquire(timeout=self.settings.flush_timeout):
            lost_at_shutdown()
            return
        try:
            self._emit(EVENT_CALL, {"_capture": cap})
            self._write_out()
        finally:
            _forks.guard.release()

    def _write_without_writer(self, cap: Capture) -> None:
        """No writer thread could be started (:meth:`_start`): the caller's thread writes its
        record, and any a finalizer queued while the start failed."""
        ident = threading.get_ident()
        with self._start_lock:
            self._writing_here.append(ident)
        try:
            while self._queue:
                item = self._queue.popleft()
                if isinstance(item, Capture):
                    self._write_now(item)
            self._write_now(cap)
        finally:
            with self._start_lock:
                self._writing_here.remove(ident)

    def _written_here(self, timeout: float | None) -> bool:
        """Wait up to ``timeout`` for the other threads writing their own records (no writer):
        the exit drain must not end the process under a daemon thread's record. (This
        thread's own write, cut into by a signal whose handler drains, cannot be waited for.)"""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._others_writing() and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.002)
        return not self._others_writing() and not self._queue

    def _others_writing(self) -> bool:
        me = threading.get_ident()
        return any(ident != me for ident in list(self._writing_here))


def start_thread(thread: threading.Thread) -> bool:
    """Start one of llmlog's threads; False if the interpreter refuses. CPython 3.12.0 to
    3.12.2 refuse any new thread once the main thread has returned (while the exit waits
    for the app's other threads, and in ``atexit`` hooks), ``sys.is_finalizing()`` still
    False: the caller then does the thread's work itself."""
    try:
        _deaf_threads.start_deaf(thread)  # the app's signals are the app's threads'
    except RuntimeError:
        return False
    _fork_warning.own(thread)  # a fork beside it alone does not warn (Python 3.12+)
    return True


def lost_at_shutdown() -> None:
    _guard.warn_once(
        "lost_at_shutdown",
        "a call made while the interpreter was shutting down could not be recorded "
        "(too late to write it; later ones are counted, not printed)",
    )
