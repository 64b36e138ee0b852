"""How the end of a process reaches the pipeline: the last drain, and the hooks that run
it (``atexit``, ``multiprocessing``'s finalizer in its children, ``os.exec*``, and, from
:mod:`llmlog._sigterm`, a SIGTERM nobody handles).

Calls still open then (streams, WebSocket sessions, calls waiting for their answer) are
recorded first by the :data:`before_exit` hooks the instrumentors add.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Final

from llmlog import _guard, _pipeline
from llmlog._caller_writes import start_thread
from llmlog._swapped_functions import SwappedFunction, swap

_hooks_lock = threading.Lock()
_atexit_registered = False
_finalizer: Any = None  # multiprocessing's Finalize for _at_exit, once it is imported

before_exit: list[Callable[[], None]] = []
"""Called at exit before the drain (e.g. to record streams the app left open)."""


def _undrained() -> _pipeline.Pipeline | None:
    """This process's pipeline, if its last drain has not run yet."""
    pipeline = _pipeline.current()
    if pipeline is None or pipeline._pid != os.getpid() or pipeline._exit_drained:
        return None
    return pipeline


threads_joined_after = False
"""True during the drain at exit (and at a ``multiprocessing`` child's end, whose
finalizers run before its threads are joined): the interpreter still waits for its
non-daemon threads, whose calls in flight can end and be recorded by their own thread."""


def _at_exit() -> None:
    global threads_joined_after
    pipeline = _undrained()
    try:
        if pipeline is not None:
            threads_joined_after = True
            try:
                final_drain(pipeline, pipeline.settings.flush_timeout, "at exit")
            finally:
                threads_joined_after = False
        _drain_retired()
        _release_redaction_worker()
    except KeyboardInterrupt:  # Ctrl-C while it waits: the user's to end, not a traceback
        _guard.warn_once(
            "exit_interrupted",
            "interrupted at exit (Ctrl-C) while records were still being written: "
            "those not yet written are lost",
        )
    _still_ended_by_ctrl_c()


def _release_redaction_worker() -> None:
    """The PII worker's pipes closed and the process reaped (if one was started here)."""
    worker = sys.modules.get("llmlog._redact_worker")
    if worker is not None:
        worker.client().release()


def _drain_retired() -> None:
    """The writers of pipelines replaced or removed with records left finish them too."""
    timeout = max((p.settings.flush_timeout for p in _pipeline._retired), default=0.0)
    if not _pipeline.wait_for_retired(timeout):
        _lost_after(timeout, "at exit")


def _still_ended_by_ctrl_c() -> None:
    """An app ended by Ctrl-C dies by SIGINT (status 130). CPython forgets that whenever
    code runs from a string (``exec``, ``eval``: a dataclass, a namedtuple), as the writer's
    first imports may at exit; raising it again from a string marks it again."""
    ended_by = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)
    if isinstance(ended_by, KeyboardInterrupt) and _ended_the_main_module(ended_by):
        with contextlib.suppress(KeyboardInterrupt):
            exec("raise KeyboardInterrupt")  # a constant: sets CPython's flag, then caught


def drain_deadline() -> float | None:
    """When the last drain of this process gives up (``time.monotonic()``), if it has
    begun: a stage that waits (for the redaction worker) must not wait past it, or the
    record is lost.

    Once that drain has returned, the deadline holds only for the writer (the records it
    had left then were given up on: they go out as fast as they can); a later call, written
    by its own thread (a late ``atexit`` hook, a daemon thread), has none.
    """
    pipeline = _pipeline.current()
    if pipeline is None:
        return None
    if pipeline._drain_over and threading.current_thread() is not pipeline._thread:
        return None
    return pipeline._drain_deadline


_draining_thread: int | None = None
"""The thread running :func:`final_drain`, while it does."""
_signal_after_drain: int | None = None


def end_by_signal_after_drain(signum: int) -> bool:
    """If this thread was interrupted inside :func:`final_drain`, let that drain finish and
    then end the process by ``signum``; True if so.

    A second drain would wait for the locks the interrupted one holds (a ``Pool`` worker
    exiting as ``terminate()`` signals it), until its deadline, and lose the queue.
    """
    global _signal_after_drain
    if _draining_thread != threading.get_ident():
        return False
    _signal_after_drain = signum
    return True


def final_drain(
    pipeline: _pipeline.Pipeline, timeout: float, when: str, *, report: bool = True
) -> bool:
    """The last drain of a process: open calls recorded, the queue written within ``timeout``;
    True if it was. A loss is said on stderr unless ``report`` is false (the caller says it:
    :func:`drain_aside`).

    From here on no drain follows, so later calls are written by their own thread, with
    no deadline once it has returned (:func:`drain_deadline`: a call of a late ``atexit``
    hook or a daemon thread waits for the PII worker as any call does).
    """
    global _draining_thread
    _draining_thread = threading.get_ident()
    try:
        return _drain(pipeline, timeout, when, report)
    finally:
        _draining_thread = None
        pipeline._drain_over = True
        if _signal_after_drain is not None:
            from llmlog import _self_signals

            _self_signals.kill_unwatched(os.getpid(), _signal_after_drain)


def _drain(pipeline: _pipeline.Pipeline, timeout: float, when: str, report: bool) -> bool:
    pipeline._drain_deadline, pipeline._drain_over = time.monotonic() + timeout, False
    for hook in before_exit:
        with _guard.guarded(f"recording open calls {when}"):
            hook()
    pipeline._exit_drained = True
    done = False
    with _guard.guarded(f"draining {when}"):
        done = pipeline.flush(timeout)
        if done and pipeline._queue:  # put by a thread that had just missed _exit_drained
            done = pipeline.flush(timeout)
    done = done or pipeline._written_all()  # flush(0) says False once the drain began
    if not done and report:
        _lost_after(timeout, when)
    return done


def _lost_after(timeout: float, when: str) -> None:
    _guard.warn_once("exit_timeout", _lost_message(timeout, when))


def _lost_message(timeout: float, when: str) -> str:
    return (
        f"records still pending {timeout:g}s after the drain {when} began were lost "
        "(LLMLOG_FLUSH_TIMEOUT)"
    )


def _say_lost_without_waiting(timeout: float, when: str) -> None:
    """:func:`_lost_after` from a thread that may be a signal handler cut into the holder of
    ``_guard``'s lock (its own thread): that lock is not waited for long."""
    if _guard._lock.acquire(timeout=0.1):
        _guard._lock.release()
        _lost_after(timeout, when)
        return
    with contextlib.suppress(Exception):
        sys.stderr.write(f"llmlog: {_lost_message(timeout, when)}\n")
        sys.stderr.flush()


_exec_wrappers: dict[str, SwappedFunction] = {}


def drain_before_exec_and_exit(on: bool) -> None:
    """``os.execv``/``os.execve`` and ``os._exit`` (``on``) first drain the queue: an exec
    replaces the process, its writer and queue, and neither runs an exit hook. Installed and
    removed with the pipeline (:func:`llmlog._pipeline.configure`,
    :func:`~llmlog._pipeline.shutdown`), with the drain before a signal the process sends
    itself to end (:mod:`llmlog._self_signals`)."""
    from llmlog import _self_signals

    _self_signals.drain_before_self_signals(on)
    swap(on, [(os, name, drain) for name, drain in _DRAINS.items()], _exec_wrappers)


def _before_exec(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    pipeline = _undrained()
    if pipeline is None:
        return wrapped(*args, **kwargs)
    path = args[0] if args else kwargs.get("path")
    if not isinstance(path, int) and not _runnable(path):
        return wrapped(*args, **kwargs)  # it fails (execvp tries each PATH entry): open
        # calls stay open, not recorded as cancelled by a drain that was not the last
    final_drain(pipeline, pipeline.settings.flush_timeout, "before exec")
    try:
        return wrapped(*args, **kwargs)
    finally:  # the exec failed (no such program): this process goes on as before
        pipeline._exit_drained, pipeline._drain_deadline = False, None
        pipeline._drain_over = False


def _before_os_exit(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """How a forked child usually ends (``socketserver.ForkingMixIn``'s request handlers):
    its calls would be lost. The exit happens whatever the drain does (Ctrl-C in it too),
    within LLMLOG_FLUSH_TIMEOUT even if the caller holds a lock the drain needs (a signal
    handler calling ``os._exit``)."""
    try:
        if _undrained() is not None and _draining_thread is None:
            drain_aside(None, "drain at exit", last="at os._exit")
    finally:
        wrapped(*args, **kwargs)


DRAIN_ASIDE_MARGIN = 0.1
"""At most this many seconds (a tenth of its time if less) are kept from a last drain on
a helper thread for it to end and say what it did: the process ends when the wait does."""


def drain_aside(
    drain: Callable[[_pipeline.Pipeline, float], object] | None,
    what: str,
    most: float | None = None,
    *,
    last: str | None = None,
) -> None:
    """Run ``drain(pipeline, seconds)`` on a helper thread, waiting at most that long (the
    flush timeout, or ``most``): a lock the interrupted thread holds cannot stall it longer.
    Where no thread can be started, on this thread.

    With ``last`` (``"at SIGTERM"``), the drain is the process's last (:func:`final_drain`,
    ``drain`` is None): the helper gets a little less time, and records it did not write by
    then are said lost by the waiting thread (once: the helper does not say it), before
    the process ends.
    """
    try:
        pipeline = _pipeline.current()
        # (a child forked an instant ago still has its parent's, with nothing of its own)
        if pipeline is not None and pipeline._pid == os.getpid():
            wait = pipeline.settings.flush_timeout
            wait = wait if most is None else min(wait, most)
            done: list[bool] = []
            target, seconds = drain, wait
            if last is not None:
                when = last

                def target(pipeline: _pipeline.Pipeline, seconds: float) -> None:
                    done.append(final_drain(pipeline, seconds, when, report=False))

                seconds = wait - min(DRAIN_ASIDE_MARGIN, wait / 10)
            helper = threading.Thread(target=target, args=(pipeline, seconds), name="llmlog-drain")
            helper.daemon = True
            if start_thread(helper):
                helper.join(wait)
            elif target is not None:  # no thread to be had (CPython 3.12.0-2 at exit): here,
                target(pipeline, seconds)  # bounded by the drain's own timeout
            if last is not None and done != [True] and not pipeline._written_all():
                _say_lost_without_waiting(wait, last)
    except Exception as exc:  # no llmlog lock here: a signal may have cut into its holder
        with contextlib.suppress(Exception):
            sys.stderr.write(f"llmlog: could not {what} ({type(exc).__name__}: {exc})\n")


_DRAINS: Final = {"execv": _before_exec, "execve": _before_exec, "_exit": _before_os_exit}
"""Every ``os.exec*`` function ends in ``execv`` or ``execve``."""


def _ended_the_main_module(exc: BaseException) -> bool:
    """Whether ``exc`` ended the program (its traceback starts in ``__main__``, or in runpy
    for ``-m``), not one a REPL or ``code.interact`` caught and showed."""
    if sys.flags.interactive or hasattr(sys, "ps1"):
        return False
    traceback = exc.__traceback__
    module = traceback.tb_frame.f_globals.get("__name__") if traceback is not None else None
    return module in ("__main__", "runpy")


def _runnable(path: Any) -> bool:
    """Whether an exec of ``path`` can succeed: a drain before one that fails would have
    ended the calls still open as cancelled. Refused: not executable, a directory, a
    script whose ``#!`` interpreter is missing, a text file without ``#!`` (ENOEXEC)."""
    try:
        if not os.access(path, os.X_OK) or os.path.isdir(path):
            return False
    except (TypeError, ValueError):
        return False
    try:
        with open(path, "rb") as file:
            head = file.read(256)
    except OSError:
        return True  # executable, not readable (mode 711): the kernel may still run it
    if head.startswith(b"#!"):  # the kernel ends its name at a blank or the line's end only
        interpreter = re.split(rb"[ \t]+", head[2:].split(b"\n", 1)[0].strip(b" \t"))[0]
        return os.path.isfile(interpreter) and os.access(interpreter, os.X_OK)
    return b"\0" in head  # a binary (ELF, Mach-O, a binfmt format); a text file: ENOEXEC


def register_exit_hooks() -> None:
    """atexit once per interpreter (a forked child inherits it); multiprocessing's
    finalizer wherever its registry lacks ours.

    A ``multiprocessing`` child ends with ``os._exit``: atexit never runs there, but
    ``multiprocessing.util``'s finalizers do. Its registry is emptied when a child
    starts (after a ``forkserver`` or ``spawn`` child ran the app's module-level
    ``instrument()``, and in a forked one), so this runs when a pipeline is
    configured and again when a writer starts, and adds the finalizer back if gone.
    """
    global _atexit_registered, _finalizer
    with _hooks_lock:
        if not _atexit_registered:
            _atexit_registered = True
            atexit.register(_at_exit)
        mp_util = sys.modules.get("multiprocessing.util")
        if mp_util is not None and (_finalizer is None or not _finalizer.still_active()):
            _finalizer = mp_util.Finalize(None, _at_exit, exitpriority=100)
            # and in a child whose registry is emptied after the writer started (a call
            # made while spawn or forkserver imported the app's main module)
            mp_util.register_after_fork(_register_again, _register_again)


def _register_again(_: object) -> None:
    register_exit_hooks()
