"""The pipeline: bounded queue, one writer thread, and when the writer runs.

The caller's thread only calls :func:`submit` with a finished
:class:`~llmlog._record.Capture` (one ``put`` on a bounded queue). The writer
thread runs it through the chain of :mod:`llmlog._chain` (a structlog logger
built with ``wrap_logger``, never ``structlog.configure``: the host's logging is
the host's) and hands the rendered lines to the sinks.
The queue drains on :func:`flush`, and for the last time when the process ends
(:mod:`llmlog._ending`: exit, a ``multiprocessing`` child's end, ``os.exec*``; and a
SIGTERM nobody else handles, :mod:`llmlog._sigterm`); ``fork()`` waits for the
writer's current slice to end (:mod:`llmlog._forks`), and the child starts afresh.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from llmlog import _fork_warning, _forks, _guard
from llmlog._caller_writes import CallerWrites, lost_at_shutdown, start_thread
from llmlog._chain import SinkLogger, build_processors, import_structlog
from llmlog._config import Settings
from llmlog._queue_bytes import MEASURED_FROM, QueueBytes
from llmlog._record import (
    EVENT_CALL,
    EVENT_DROPPED,
    SCHEMA_VERSION,
    Capture,
    iso_utc,
    new_id,
)
from llmlog.sinks import FileSink, Sink, sink_for

_WRITER: Final = "the llmlog writer"
"""Where a record lost in the writer (its chain or its sinks failed) is reported; each
such failure makes the next :func:`flush` say False."""

FULL_QUEUE_WAIT = 0.05
"""Seconds a caller waits for room in a full queue before its record is dropped. Once a
wait was in vain (a writer stuck on its output, or far slower than the app), later
records are dropped at once, without waiting, until there is room again: a stuck
writer must not slow every call of the app."""

# How the writer shares the GIL with the app --------------------------------------
#
# In CPython a thread that wakes up needs the GIL before it can run. While the
# app's thread holds it and keeps letting go of it for an instant (every
# syscall: the SDK's getrandom for request ids, socket reads), each instant
# signals the waiting thread, which wakes on another core only to find the GIL
# taken again, and waits on: measured in the CPU-bound benchmark as +40 µs of
# app-thread CPU per call, with a writer that did no work at all.
#
# So the writer never asks for the GIL while the app is busy. The app's thread
# hands it over: after HANDOVER_BATCH records, or when the oldest queued record
# has waited BATCH_LINGER, it wakes the writer and blocks until the writer holds
# the GIL. The writer works for at most GIL_SLICE of CPU without letting go of
# the GIL (one os.write per slice, ids and hashes that do not release it), then
# blocks again. Only an app gone quiet leaves the writer to wake itself
# (WRITER_WAIT), and then the GIL is free.

HANDOVER_BATCH = 32
"""Queued records at which the app's thread hands the GIL to the writer."""

BATCH_LINGER = 0.05
"""Seconds the oldest queued record may wait before a hand-over of a smaller batch."""

WRITER_WAIT = 0.1
"""Seconds the writer sleeps with records queued when nobody hands over: the records
of an app gone quiet land within this."""

IDLE_WAIT = 1.0
"""Seconds the writer sleeps with nothing queued (each wake-up needs the GIL)."""

QUIET_AFTER = 0.1
"""A record that comes to an empty queue this long after the last batch began wakes the
writer (one lock release): an app this quiet is not busy with the GIL, and its record
lands now, not up to IDLE_WAIT later (a process killed meanwhile would lose it). A busy
app's records keep coming sooner, and wait for a hand-over as before."""

ALONE_WAIT = 0.05
"""At most this many seconds of sleep for the writer of a child forked from a thread: it
checks this often whether it is the last thread left (:func:`llmlog._forks.writer_alone`),
so that the child ends about when its threads do, as without llmlog."""

HANDOVER_WAIT = 0.002
"""Seconds a handing-over app thread waits for the writer to take the GIL."""

GIL_SLICE = 0.002
"""Seconds of writer CPU per hand-over (well inside the 5 ms switch interval, so the
app's thread gets the GIL back without a forced switch)."""


class _Flush:
    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


_STOP = object()


def _new_signal() -> threading.Lock:
    """A lock used as a one-shot signal: ``release()`` signals, ``acquire()`` waits.

    Not a ``threading.Event``: signalling never blocks and takes no other lock,
    so it is safe from anywhere, even a finalizer run in the middle of a wait.
    """
    signal = threading.Lock()
    signal.acquire()
    return signal


def _send(signal: threading.Lock) -> None:
    with contextlib.suppress(RuntimeError):  # already signalled
        signal.release()


class Pipeline(CallerWrites, QueueBytes):
    """One process's queue, writer thread and sinks."""

    def __init__(self, settings: Settings, sinks: Sequence[Sink] | None = None) -> None:
        self.settings = settings
        self._sinks = list(sinks) if sinks is not None else [_default_sink(settings)]
        self._starting = False  # a writer is being started: a re-entrant submit just queues
        self._reset()

    def _reset(self) -> None:
        # A deque, not queue.Queue: append/popleft are atomic under the GIL and
        # cost ~50 ns, where Queue.put takes a lock and a condition every time.
        self._queue: deque[Any] = deque()
        self._limit = self.settings.queue_size or 1
        self._go = _new_signal()  # the writer waits on it
        self._taken = _new_signal()  # a handing-over thread waits on it
        self._queued_at = 0.0  # when the oldest queued record arrived (monotonic)
        self._urgent_sent = 0  # flushes and stops queued; the writer counts those done
        self._urgent_done = 0
        self._writer_ident: int | None = None
        self._writer_waiting = False
        self._wakes = 0  # the writer's wake-ups, counted by the writer (see _idle)
        self._thread: threading.Thread | None = None
        # Re-entrant: a garbage collection while it is held (building the writer) can
        # finish an abandoned stream, whose record comes back here through submit().
        self._start_lock = threading.RLock()
        self._pid = os.getpid()
        self._retired = False  # closed with records left: the writer closes the sinks
        self._dropped = 0
        self._queued_bytes = 0  # measured texts of the queued records (see _queue_bytes)
        # A call's wait for its record (sync_writes, a call cut short as the process ends)
        # timed out: no call waits again until the writer has finished a flush.
        self.waited_in_vain = False
        self._stalled = False  # a full queue has made a caller wait in vain (FULL_QUEUE_WAIT)
        self._lines = SinkLogger(self._sinks)
        self._logger: Any = None
        self._exit_drained = False  # then each call is written on its own thread: _write_now
        self._threadless = False  # no thread could be started: each call writes its own record
        self._writing_here: list[int] = []  # the threads writing their own records then
        self._drain_deadline: float | None = None  # the last drain's (see drain_deadline)
        self._drain_over = False  # it has returned: its deadline holds for the writer only

    # caller thread -------------------------------------------------------------
    def prepare(self) -> None:
        """A call has started: start the writer now, so that it imports and builds its chain
        while the call runs. Left to the first record, that can happen at exit (a script
        stopped by Ctrl-C in its first call), and an import while the interpreter exits
        turns the exit status of a Ctrl-C (130) into 1."""
        if (self._thread is None or self._pid != os.getpid()) and not sys.is_finalizing():
            self._start()

    def submit(self, cap: Capture) -> None:
        """Enqueue a finished call; never blocks the caller for long, never raises."""
        if self._exit_drained and threading.current_thread() is not self._thread:
            self._write_now(cap)  # (on the writer itself, e.g. a stream collected mid-drain,
            return  # the queue it is draining takes it: never re-enter its chain)
        if self._thread is None or self._pid != os.getpid():
            if sys.is_finalizing():  # too late to start a thread; atexit already drained
                lost_at_shutdown()
                return
            self._start()
            if self._threadless:  # (reset by a fork: this process's own finding)
                self._write_without_writer(cap)
                return
        queued = len(self._queue)
        if queued >= self._limit and (self._stalled or not self._wait_for_room()):
            self._stalled = True  # no more waits until the writer has made room again
            self._drop("the record queue is full (raise LLMLOG_QUEUE_SIZE?)")
            return
        if queued >= MEASURED_FROM and self.settings.queue_bytes and not self._room_for(cap):
            self._drop("the queued records hold LLMLOG_QUEUE_BYTES (raise it?)")
            return
        self._put(cap)

    def _drop(self, why: str) -> None:
        with self._start_lock:
            self._dropped += 1
        _guard.warn_once(
            why, f"{why}; records are being dropped and counted in an llmlog.dropped record"
        )

    def _put(self, item: Capture) -> None:
        self._stalled = False
        queue = self._queue
        item.queued = True  # no signal handler runs between this and the append
        queue.append(item)
        queued = len(queue)
        if queued == 1:
            now = time.monotonic()
            if now - self._queued_at >= QUIET_AFTER:
                _send(self._go)  # the first record after a quiet spell: the GIL is free
            self._queued_at = now
        elif (
            queued >= HANDOVER_BATCH
            or queued * 2 > self._limit
            or time.monotonic() - self._queued_at >= BATCH_LINGER
        ):
            self._hand_over()

    def _hand_over(self) -> None:
        """Wake the writer and let go of the GIL until it has it (see the top of this module).

        Only while the writer waits for a hand-over (or has just woken and needs the
        GIL): a writer busy with I/O needs none, and must not cost the app a wait.
        """
        if not self._writer_waiting or threading.get_ident() == self._writer_ident:
            return  # busy, or a record finished on the writer thread itself (a collected stream)
        self._taken.acquire(False)  # forget a hand-over nobody waited for
        _send(self._go)
        self._taken.acquire(True, HANDOVER_WAIT)

    def _put_urgent(self, item: Any) -> None:
        """Queue a control item the writer must act on now, however long that takes."""
        with self._start_lock:
            self._urgent_sent += 1
        self._queue.append(item)
        _send(self._go)

    def _wait_for_room(self) -> bool:
        deadline = time.monotonic() + FULL_QUEUE_WAIT
        while time.monotonic() < deadline:
            _send(self._go)
            time.sleep(0.002)
            if len(self._queue) < self._limit:
                return True
        return False

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far is written; False on timeout."""
        if self._thread is None and self._threadless and self._pid == os.getpid():
            return self._written_here(timeout)
        if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
            return not self._queue
        if self._idle():
            return True
        marker = _Flush()
        self._put_urgent(marker)
        return marker.done.wait(timeout)

    def _idle(self) -> bool:
        """Everything submitted is written and the writer waits: ``flush(0)`` can say so.

        Read between two reads of the writer's wake-up count: when it did not wake in
        between and was waiting at both ends, it took nothing from the queue meanwhile
        (it sets ``_writer_waiting`` only after a slice, with that slice's lines pending).
        """
        wakes = self._wakes
        idle = self._writer_waiting and not self._exit_drained
        idle = idle and not self._queue and not self._lines.pending and not self._dropped
        return idle and self._writer_waiting and wakes == self._wakes

    def _written_all(self) -> bool:
        """Every record submitted is written (read without a lock: a signal may have cut into
        its holder; a flush request may still be queued). A wake-up keeps the writer busy for
        a moment with nothing to do: waited for, 50 ms at most."""
        if self._threadless:
            return self._written_here(0.0)
        deadline = time.monotonic() + 0.05
        while not self._writer_waiting and time.monotonic() < deadline:
            time.sleep(0.002)
        queued = [item for item in list(self._queue) if not isinstance(item, _Flush)]
        return self._writer_waiting and not queued and not self._lines.pending

    def close(self, timeout: float | None) -> None:
        """Drain (bounded by ``timeout``), stop the writer, close the sinks.

        A writer with records left when ``timeout`` runs out writes them on in the
        background and then closes the sinks itself: the next :func:`flush` and the exit
        wait for it (:data:`_retired`), so replacing or removing llmlog loses nothing.
        """
        drained = self.flush(timeout)
        thread = self._thread
        if thread is not None and thread.is_alive() and self._pid == os.getpid():
            self._put_urgent(_STOP)
            thread.join(0.5 if drained else 0.0)
            if thread.is_alive():
                self._retired = True
                _retired.append(self)
                if thread.is_alive():  # (else it may have stopped before it saw _retired)
                    return
        self._close_sinks()

    def _close_sinks(self) -> None:
        """Once, by whichever of the closing thread and a retired writer comes last."""
        with self._start_lock:
            sinks, self._sinks = self._sinks, []
        for sink in sinks:
            sink.close()

    def after_fork_in_child(self) -> None:
        """A forked child must not inherit the parent's queue, thread or descriptors."""
        for sink in self._sinks:
            if isinstance(sink, FileSink):
                sink.forget_after_fork()
        self._reset()

    # writer thread -------------------------------------------------------------
    def _start(self) -> None:
        with self._start_lock:
            if self._starting:  # re-entered (a finalizer's submit): its record is queued
                return
            self._starting = True
            try:
                if self._pid != os.getpid():
                    self.after_fork_in_child()
                if self._thread is not None or self._threadless:
                    return
                thread = threading.Thread(target=self._run, name="llmlog-writer", daemon=True)
                if not start_thread(thread):
                    self._threadless = True  # for good: this process starts no more threads
                    return
                self._thread = thread
                from llmlog import _ending

                _ending.register_exit_hooks()  # (again: a child's finalizers may be gone)
            finally:
                self._starting = False

    def _run(self) -> None:
        self._writer_ident = threading.get_ident()
        with _forks.guard:
            self._chain_ready()
        while True:
            self._writer_waiting = True  # until it holds the GIL again: see _hand_over
            busy = self._queue or self._lines.pending
            wait = WRITER_WAIT if busy else IDLE_WAIT
            self._go.acquire(True, min(wait, ALONE_WAIT) if _forks.main_is_a_thread else wait)
            self._wakes += 1  # before _writer_waiting: see _idle
            self._writer_waiting = False
            with _forks.guard:
                # I/O first: its syscalls let go of the GIL, and only now, while a
                # handing-over app thread still waits on _taken, is nobody there to
                # take it (later the writer would have to win it back from the app).
                self._write_out()
                _send(self._taken)  # a handing-over app thread may go on (once we let go)
                going_on = self._work()
                if going_on and _forks.writer_alone():  # write everything, then let the process end
                    while self._queue and self._work():
                        pass
                    going_on = False
                if not going_on:
                    self._write_out()
                    if self._retired:
                        self._close_sinks()
                    return

    def _work(self) -> bool:
        """One slice: records until the queue is empty or ``GIL_SLICE`` is used up
        (no limit while a flush or stop waits). False once told to stop.

        Lines are written at the start of the next slice (or for a flush), not here.
        """
        queue = self._queue
        started = time.thread_time()
        try:
            while queue:
                item = queue.popleft()
                if item is _STOP:
                    self._urgent_done += 1
                    self._report_dropped()
                    return False
                if isinstance(item, _Flush):
                    self._urgent_done += 1
                    self._report_dropped()
                    self._write_out()
                    item.done.set()
                    self.waited_in_vain = False
                    continue
                self._emit(EVENT_CALL, {"_capture": item})
                if self._queued_bytes:
                    self._count_out(item)
                if (
                    time.thread_time() - started > GIL_SLICE
                    and self._urgent_done == self._urgent_sent
                ):
                    break
            self._report_dropped()
            if self._queued_bytes and not queue:  # all out (also those drained elsewhere)
                with self._start_lock:
                    self._queued_bytes = 0
            return True
        finally:
            if queue:
                self._queued_at = time.monotonic()

    def _write_out(self) -> None:
        try:
            self._lines.write_out()
        except Exception as exc:
            _guard.report_internal_error(exc, _WRITER)

    def _chain_ready(self) -> Any:
        """The structlog logger and its processors, built on first use."""
        if self._logger is None:
            structlog = import_structlog()  # here, on the writer thread: ~0.3 s
            self._logger = structlog.wrap_logger(
                self._lines,
                processors=build_processors(self.settings, self._log_file()),
                wrapper_class=structlog.BoundLogger,
                cache_logger_on_first_use=False,
            )
        return self._logger

    def _log_file(self) -> Path | None:
        """The file this pipeline writes to, if it writes to one."""
        return next((s.path for s in self._sinks if isinstance(s, FileSink)), None)

    def _emit(self, event: str, fields: dict[str, Any]) -> None:
        try:
            self._chain_ready().info(event, **fields)
        except Exception as exc:
            _guard.report_internal_error(exc, _WRITER)

    def _report_dropped(self) -> None:
        if self._dropped:
            count, self._dropped = self._dropped, 0
            self._emit(
                EVENT_DROPPED,
                {
                    "schema": SCHEMA_VERSION,
                    "id": new_id(),
                    "ts": iso_utc(time.time_ns()),
                    "count": count,
                },
            )


def _default_sink(settings: Settings) -> Sink:
    return sink_for(
        settings.output,
        max_bytes=settings.max_bytes,
        backup_count=settings.backup_count,
        retention_days=settings.retention_days,
    )


# The process's pipeline ---------------------------------------------------------

_current: Pipeline | None = None


def current() -> Pipeline | None:
    return _current


def configure(settings: Settings, sinks: Sequence[Sink] | None = None) -> Pipeline:
    """Install a pipeline for ``settings``, draining the previous one first."""
    global _current
    previous = _current
    _current = Pipeline(settings, sinks)
    from llmlog import _ending

    _ending.register_exit_hooks()
    _ending.drain_before_exec_and_exit(True)
    _fork_warning.quiet_for_our_threads(True)
    if previous is not None:
        previous.close(settings.flush_timeout)
    return _current


def prepare() -> None:
    pipeline = _current
    if pipeline is not None:
        pipeline.prepare()


def submit(cap: Capture) -> None:
    pipeline = _current
    if pipeline is not None:
        pipeline.submit(cap)


_lost_at_last_flush = 0
"""Records lost (queue full, unwritable file, a failure in the writer) as of the last
:func:`flush`."""

_retired: list[Pipeline] = []
"""Pipelines closed (``instrument()`` again, ``uninstrument()``) while their writer still
had records to write: it goes on, and flushes and the exit wait for it."""


def wait_for_retired(timeout: float | None) -> bool:
    """Wait up to ``timeout`` for the writers of :data:`_retired` to end; True if all did."""
    deadline = None if timeout is None else time.monotonic() + timeout
    for pipeline in list(_retired):
        thread = pipeline._thread
        if thread is not None and pipeline._pid == os.getpid():
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                continue
        with contextlib.suppress(ValueError):  # (a concurrent wait took it)
            _retired.remove(pipeline)
    return not _retired


def flush(timeout: float | None = None) -> bool:
    """Whether every record so far is written: False if ``timeout`` ran out, or if a
    record was lost since the last flush (``llmlog.trouble()`` says how)."""
    global _lost_at_last_flush
    pipeline = _current
    written = True if pipeline is None else pipeline.flush(timeout)
    written = wait_for_retired(timeout) and written
    counts = _guard.counts
    lost = counts["sink_lost"] + counts["queue_full"] + counts[f"bug:{_WRITER}"]
    complete, _lost_at_last_flush = lost <= _lost_at_last_flush, lost  # (counts reset: tests)
    return written and complete


def shutdown() -> None:
    """Drain and stop; no pipeline afterwards."""
    global _current
    from llmlog import _ending

    _ending.drain_before_exec_and_exit(False)
    _fork_warning.quiet_for_our_threads(False)
    pipeline, _current = _current, None
    if pipeline is not None:
        pipeline.close(pipeline.settings.flush_timeout)


def _after_fork_in_child() -> None:
    _retired.clear()  # their writers are the parent's
    if _current is not None:
        _current.after_fork_in_child()
        _current._starting = False  # (a fork while another thread started the writer)


os.register_at_fork(after_in_child=_after_fork_in_child)  # after _forks' own: its guard is new
