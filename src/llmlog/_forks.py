"""What ``os.fork()`` does to the writer.

The fork waits for the writer's current slice, so a child never inherits a half-done
import (which would stay broken in the child for good) or a half-done write; the child
starts with a new guard. A child forked from a thread other than the main one has no
interpreter exit when that thread ends: :func:`writer_alone` tells the writer so.
"""

from __future__ import annotations

import contextlib
import logging  # noqa: F401 - before our at-fork hook: see register_at_fork at the end
import os
import threading
from collections.abc import Iterator
from typing import Any

FORK_WAIT = 5.0
"""Seconds ``os.fork()`` waits for the writer to finish the slice it is in."""

guard = threading.RLock()
"""Held by the writer for each slice (the first one imports and builds its chain, which
can take long); ``os.fork()`` waits for it. Re-entrant: a fork from the writer thread
itself does not wait on itself."""
taken = False
"""Whether the fork under way got :data:`guard` (False: it waited FORK_WAIT in vain)."""

_forking_from_main = True
main_is_a_thread = False
"""True in a child forked from a thread other than the main one (or in its children):
that thread became the child's main thread, and when it ends no interpreter exit runs.
The writer would be left alone, keeping the child alive forever; see :func:`writer_alone`."""


def _before_fork() -> None:
    global taken, _forking_from_main
    _forking_from_main = threading.current_thread() is threading.main_thread()
    taken = guard.acquire(timeout=FORK_WAIT)


def _after_fork_in_parent() -> None:
    global taken
    if taken:
        taken = False
        guard.release()


@contextlib.contextmanager
def open_to_forks() -> Iterator[None]:
    """Around a wait for another process (the PII worker's answer: a second and more while it
    starts) during which this thread holds :data:`guard` but nothing a child could inherit
    half-done: ``os.fork()`` goes ahead instead of waiting for it. Every level of the
    re-entrant guard is let go and taken back after, as ``threading.Condition`` does."""
    lock: Any = guard
    if not lock._is_owned():
        yield
        return
    held = lock._release_save()
    try:
        yield
    finally:
        lock._acquire_restore(held)


def writer_alone() -> bool:
    """Whether the writer is the last thread of a child forked from a thread (see
    :data:`main_is_a_thread`): without it the child would have ended already."""
    if not main_is_a_thread:
        return False
    me = threading.current_thread()
    return not any(t.is_alive() for t in threading.enumerate() if t is not me)


def _after_fork_in_child() -> None:
    global guard, taken, main_is_a_thread
    main_is_a_thread = main_is_a_thread or not _forking_from_main
    guard, taken = threading.RLock(), False


# Before-fork hooks run in the reverse order of their registration: ours must run before
# logging's, which takes logging's lock, as the writer may need it to finish its turn
# (its first record imports modules that create loggers). Hence logging is imported first.
os.register_at_fork(
    before=_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)
