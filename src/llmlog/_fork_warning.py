"""Python 3.12+ warns at ``os.fork()`` in a process with more than one thread: a
``DeprecationWarning`` ("This process (pid=...) is multi-threaded, use of fork() may lead
to deadlocks in the child"). Without llmlog a single-threaded app never sees it; with it,
llmlog's writer thread alone would make every fork warn (shown by default for a fork in
``__main__``, and in every pytest run). llmlog's own thread is safe to fork beside (the
fork waits for the writer's slice: :mod:`llmlog._forks`): the warning is not the app's.

So ``os.fork`` and ``os.forkpty`` are wrapped while llmlog logs (as ``os._exit`` is, see
:mod:`llmlog._swapped_functions`): when every other thread of the process is one of llmlog's,
the warning is ignored for that call; an app with threads of its own still gets it, as
without llmlog. (Not an at-fork hook: Python 3.13 warns after those have run.) The
process's threads are counted as CPython counts them (``/proc/self/stat`` on Linux;
elsewhere the threads Python knows of).
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
import weakref
from typing import Any, Final

from llmlog._swapped_functions import SwappedFunction, swap

_ours: weakref.WeakSet[threading.Thread] = weakref.WeakSet()

_MESSAGE: Final = r"This process \(pid=\d+\) is multi-threaded, use of \w+\(\) may lead to"


def own(thread: threading.Thread) -> None:
    """Count ``thread`` as llmlog's (see :func:`llmlog._caller_writes.start_thread`)."""
    _ours.add(thread)


_wrappers: dict[str, SwappedFunction] = {}


def quiet_for_our_threads(on: bool) -> None:
    """Wrap (``on``) or unwrap ``os.fork`` and ``os.forkpty`` (Python 3.12+ only)."""
    if sys.version_info >= (3, 12):
        swap(on, [(os, "fork", _fork), (os, "forkpty", _fork)], _wrappers)


def _fork(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if not _only_ours_beside_me():
        return wrapped(*args, **kwargs)
    warnings.filterwarnings("ignore", _MESSAGE, DeprecationWarning)
    added = warnings.filters[0]
    try:
        return wrapped(*args, **kwargs)
    finally:  # (in the parent and in the child)
        _remove(added)


def _only_ours_beside_me() -> bool:
    me = threading.current_thread()
    ours = sum(1 for thread in list(_ours) if thread is not me and thread.is_alive())
    return ours > 0 and _process_threads() - ours <= 1


def _process_threads() -> int:
    try:
        with open("/proc/self/stat", "rb") as stat:
            return int(stat.read().rsplit(b")", 1)[1].split()[17])
    except (OSError, ValueError, IndexError):
        return threading.active_count()


def _remove(added: Any) -> None:
    filters: list[Any] = warnings.filters  # type: ignore[assignment]
    for index, entry in enumerate(filters):
        if entry is added:
            del filters[index]
            mutated = getattr(warnings, "_filters_mutated", None)
            if callable(mutated):  # (an "ignore" leaves no cached answer; still, as Python does)
                mutated()
            return
