"""A signal the process sends itself to end: the queue is drained first.

uvicorn handles SIGTERM itself while it serves, then puts back the handler it found and
sends itself the signal again (``signal.raise_signal``) so that the process ends as the
signal says. In its workers (``uvicorn --workers``, gunicorn's ``UvicornWorker``) the
handler it found is the default one: the process dies at once, its queue unwritten, and
no handler of llmlog's can run (:mod:`llmlog._sigterm` only ever takes SIGTERM's default
place, when ``instrument()`` runs). Apps that end themselves the same way from their own
handler (``signal.signal(sig, SIG_DFL); os.kill(os.getpid(), sig)``) lost it too.

So ``signal.raise_signal``, ``os.kill`` and ``os.killpg`` (installed with the pipeline, as
``os._exit`` is in :mod:`llmlog._ending`) drain first when the signal is one whose default
ends the process, that default is in force, the signal is not blocked in the sending
thread (else it waits, and the process goes on), and it goes to this process (its own id,
its process group). The drain is bounded as at a SIGTERM; then the signal goes out
unchanged, whatever the drain did, and ends the process with the status it would have had.
"""

from __future__ import annotations

import os
import signal
from typing import Any, Final

from llmlog import _ending
from llmlog._swapped_functions import SwappedFunction, swap

SELF_SIGNAL_WAIT: Final = 5.0
"""At most this many seconds of drain (less if LLMLOG_FLUSH_TIMEOUT is less), as at a
SIGTERM from outside (:data:`llmlog._sigterm.SIGTERM_WAIT`)."""

_ENDING: Final = frozenset(
    getattr(signal, name)
    for name in (
        "SIGTERM",
        "SIGINT",
        "SIGHUP",
        "SIGQUIT",
        "SIGABRT",
        "SIGUSR1",
        "SIGUSR2",
        "SIGALRM",
        "SIGKILL",
    )
    if hasattr(signal, name)
)
"""Signals whose default action ends the process (and that apps send themselves)."""


_wrappers: dict[str, SwappedFunction] = {}


def drain_before_self_signals(on: bool) -> None:
    """Wrap (``on``) or unwrap the functions that send a signal: see the module's text."""
    swap(on, _SENDERS, _wrappers)


def kill_unwatched(pid: int, signum: int) -> None:
    """``os.kill`` without a drain first: for llmlog's own handlers, which drained already."""
    wrapper = _wrappers.get("kill")
    (os.kill if wrapper is None else wrapper.__wrapped__)(pid, signum)


def _raise_signal(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    return _sent_after_drain(wrapped, args, kwargs, _argument(args, kwargs, 0, "signalnum"))


def _kill(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    pid = _argument(args, kwargs, 0, "pid")
    if isinstance(pid, int) and pid in (os.getpid(), 0, -os.getpgrp()):
        return _sent_after_drain(wrapped, args, kwargs, _argument(args, kwargs, 1, "signal"))
    return wrapped(*args, **kwargs)


def _killpg(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    group = _argument(args, kwargs, 0, "pgid")
    if isinstance(group, int) and group in (0, os.getpgrp()):
        return _sent_after_drain(wrapped, args, kwargs, _argument(args, kwargs, 1, "signal"))
    return wrapped(*args, **kwargs)


def _sent_after_drain(
    wrapped: Any, args: tuple[Any, ...], kwargs: dict[str, Any], signum: Any
) -> Any:
    """The drain, then the signal: sent also when something interrupts the drain (a Ctrl-C,
    the app's own handler raising), whose exception then goes on to the app."""
    try:
        _drain_if_ending(signum)
    except BaseException:
        wrapped(*args, **kwargs)
        raise
    return wrapped(*args, **kwargs)


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str) -> Any:
    return args[index] if len(args) > index else kwargs.get(name)


def _drain_if_ending(signum: Any) -> None:
    """The last drain, if ``signum`` sent to this thread's process now ends it. Never raises
    but what interrupts it (Ctrl-C): the signal is sent all the same by the caller."""
    try:
        if not _ends_the_process(signum):
            return
        if _ending._undrained() is None or _ending._draining_thread is not None:
            return  # drained already, or the drain is under way (a signal cut into it)
        name = signal.Signals(signum).name
    except Exception:  # a value os.kill itself refuses: it says so
        return
    _ending.drain_aside(None, "drain at exit", SELF_SIGNAL_WAIT, last=f"at {name}")


def _ends_the_process(signum: Any) -> bool:
    if not isinstance(signum, int) or signum not in _ENDING or os.getpid() == 1:
        return False  # (a container's init ignores a default-action signal it sends itself)
    if signal.getsignal(signum) != signal.SIG_DFL:  # (a handler: the app's to decide)
        return False
    blocked = (
        signal.pthread_sigmask(signal.SIG_BLOCK, ()) if hasattr(signal, "pthread_sigmask") else ()
    )
    return signum not in blocked


_SENDERS: Final = (
    (signal, "raise_signal", _raise_signal),
    (os, "kill", _kill),
    (os, "killpg", _killpg),
)
