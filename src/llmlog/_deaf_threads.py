"""llmlog's own threads take none of the process's signals.

The kernel hands a signal sent to the process to any thread that does not block it. An
app that blocks a signal in its threads for a while (billiard, celery's pool, blocks
SIGTERM in its worker's thread while it holds a lock shared with its other processes)
expects the signal to wait until it unblocks it; a thread of ours that takes it instead
ends the process then, the lock still held. So our threads block every signal they can
from their first instruction (the mask is set around their start, inherited by them),
and the app's threads alone take them, when they let them in. The handlers Python runs
are unaffected: they always run on the main thread.

The faults the kernel raises in the thread that caused them (SIGSEGV, SIGBUS, ...) stay
open, so that ``faulthandler`` still reports a crash in one of our threads.
"""

from __future__ import annotations

import signal
import threading
from typing import Final

_FAULTS: Final = frozenset(
    getattr(signal, name)
    for name in ("SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGTRAP", "SIGSYS")
    if hasattr(signal, name)
)
_BLOCKABLE: Final = (
    frozenset(signal.valid_signals()) - _FAULTS if hasattr(signal, "pthread_sigmask") else None
)


def start_deaf(thread: threading.Thread) -> None:
    """Start ``thread`` with every signal but the faults blocked in it.

    The starting thread blocks them for the start (a new thread inherits its mask), then
    gets its own mask back: a signal sent to it meanwhile is delivered then.
    """
    if _BLOCKABLE is None:  # no per-thread masks here (Windows)
        thread.start()
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKABLE)
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def unblock_all() -> None:
    """In a process started from one of our threads (the redaction worker): the mask it
    inherited is ours, not one a process should start with."""
    if _BLOCKABLE is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, ())
