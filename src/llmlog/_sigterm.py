"""SIGTERM at its default would end the process with records still queued (``docker
stop``, Kubernetes, ``multiprocessing.Pool`` terminating its workers).

:func:`handle_sigterm` (called by ``instrument()``) puts a handler in its place
that drains the pipeline, then lets the signal end the process as it would have.
Other signals whose default ends the process (SIGHUP, SIGUSR1, SIGALRM, ...) are left
alone: a handler there is seen by the app (``signal.getsignal(SIGHUP) != SIG_DFL`` is how
programs tell they run under ``nohup``).

A handler in Python has one gap the default has not: a forked child inherits it, and a
signal that reaches the child before the interpreter has set itself up there is dropped
(CPython clears the signals noted as pending then, so the handler never runs). The default
would have ended the child. ``multiprocessing.Pool``'s ``terminate()`` (``with Pool() as
pool:`` at its end) sends SIGTERM to workers that may have been forked an instant before: one
left alive blocks the app's exit for ever. So while a fork is under way the forking thread
blocks SIGTERM; the kernel keeps one sent meanwhile pending, and it is delivered, to the
handler, once the child (or the parent) is ready for it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from types import ModuleType

import wrapt

from llmlog import _ending, _self_signals
from llmlog.instrumentors import _in_flight

SIGTERM_WAIT = 5.0
"""At most this many seconds of drain on SIGTERM (less if LLMLOG_FLUSH_TIMEOUT is less):
``docker stop`` kills 10 s after its SIGTERM."""


def handle_sigterm(on: bool) -> None:
    """Install (``on``) or remove the SIGTERM drain of :func:`_on_sigterm`.

    Installed only over the default disposition, never over the app's own handler (or
    an ignored SIGTERM); removed only if still installed. Only the main thread may set
    signal handlers: elsewhere this does nothing. Not in a ``multiprocessing`` child
    (see :func:`_in_a_multiprocessing_child`).
    """
    global _watched
    if on and not _watched:
        _watched = True
        wrapt.register_post_import_hook(_watch_for_children, "multiprocessing.util")
    if on and not _a_child and _started_by_multiprocessing():
        _in_a_multiprocessing_child(None)  # (spawn, forkserver: no after-fork hooks run)
    if threading.current_thread() is not threading.main_thread() or _a_child:
        return
    installed = signal.getsignal(signal.SIGTERM)
    if on and installed is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)
    elif not on and installed is _on_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM with default handling would lose the queue: write it, then die by the signal.

    The default disposition comes back first (a second SIGTERM kills at once) and is
    used at the end, so the exit status is the one the app would have had. The drain
    runs on a helper thread: a lock the interrupted main thread holds cannot stall it
    past the deadline; records it could not write by then are said lost on stderr. A
    signal that cuts into the exit's own drain lets it finish first.

    Called by a handler the app installed later, which chains to the one it replaced
    (``if callable(previous): previous(...)``), the process is the app's to end: the
    queue is written and the app goes on (its shutdown may still make calls). So in PID 1
    (a container's entrypoint run without an init, ``docker stop``'s target): the kernel
    ignores a default-action signal there, the app goes on as without llmlog, and a call
    in flight must not be ended as cancelled; what is queued is written before the
    ``SIGKILL`` that follows.
    """
    if signal.getsignal(signal.SIGTERM) is not _on_sigterm or os.getpid() == 1:
        _ending.drain_aside(
            lambda pipeline, wait: pipeline.flush(wait), "flush at SIGTERM", SIGTERM_WAIT
        )
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if _ending.end_by_signal_after_drain(signum):
        return  # it cut into the exit's own drain, which goes on
    try:
        _ending.drain_aside(None, "drain at SIGTERM", SIGTERM_WAIT, last="at SIGTERM")
    finally:
        with contextlib.suppress(Exception):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _self_signals.kill_unwatched(os.getpid(), signal.SIGTERM)  # drained: no second drain


_blocked_for_fork: set[int] = set()
"""The threads that blocked SIGTERM for the fork they are making (a child has the one)."""


def _before_fork() -> None:
    if signal.getsignal(signal.SIGTERM) is not _on_sigterm:
        return
    was_blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    if signal.SIGTERM not in was_blocked:
        _blocked_for_fork.add(threading.get_ident())


def _after_fork_in_parent() -> None:
    """SIGTERM as the thread had it; one sent meanwhile is delivered now."""
    me = threading.get_ident()
    if me in _blocked_for_fork:
        _blocked_for_fork.discard(me)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


def _after_fork_in_child() -> None:
    """As in the parent, once CPython has cleared the signals it had noted; the other
    threads' entries went with their threads."""
    _after_fork_in_parent()
    _blocked_for_fork.clear()


if hasattr(os, "register_at_fork") and hasattr(signal, "pthread_sigmask"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )


_a_child = False
_watched = False


class _Watching:
    """What ``multiprocessing.util.register_after_fork`` keeps (weakly) for our hook."""


_watching = _Watching()


def _watch_for_children(util: ModuleType) -> None:
    util.register_after_fork(_watching, _in_a_multiprocessing_child)


def _started_by_multiprocessing() -> bool:
    """Whether this process is a ``multiprocessing`` child: one it is still preparing (a
    ``spawn`` or ``forkserver`` child importing the app's main module), or one running."""
    process = sys.modules.get("multiprocessing.process")
    if process is None:
        return False
    preparing = getattr(process.current_process(), "_inheriting", False)
    return bool(preparing) or process.parent_process() is not None


def _in_a_multiprocessing_child(_: object) -> None:
    """In a ``multiprocessing`` child (a forked one runs this as multiprocessing's own
    after-fork hook; ``spawn`` and ``forkserver`` ones as ``instrument()`` finds them), SIGTERM
    goes back to its default, and each call there waits for its record instead.

    ``Pool.terminate()`` (``with Pool() as pool:`` at its end) sends SIGTERM to workers
    waiting for their next task in a semaphore; a handler in Python runs only once the
    waiting thread wakes, and a SIGTERM that comes just before the wait begins wakes
    nothing: the worker, and the app's exit with it, then waited for ever (1 run in ~40 of
    16 pools under load). At its default the kernel ends the worker at once; its records
    were written as each call ended. (A call in flight at that SIGTERM has no record.)"""
    global _a_child
    _in_flight.each_call_written = True
    handle_sigterm(False)
    _a_child = True
