"""Several processes writing one pipe or FIFO take turns: :func:`pipe_turn` (a pipe write
over ``PIPE_BUF`` is not atomic, a regular ``O_APPEND`` file's is)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from collections.abc import Iterator


@contextlib.contextmanager
def pipe_turn(fd: int | None) -> Iterator[None]:
    """Hold the pipe or FIFO ``fd`` to ourselves while writing (None: not a pipe, no need).

    A write to a pipe is atomic only up to ``PIPE_BUF`` (4096 bytes): a longer record
    written by two processes sharing one (forked workers logging to stdout, a FIFO) comes
    out interleaved. An exclusive POSIX record lock makes llmlog's processes take turns:
    ``lockf`` locks belong to a process (forked children contend; none is inherited), and
    a regular file needs none (``O_APPEND``). Writers that take no lock (the app's own
    ``print``) are not held back. Where the lock is refused the write goes ahead unlocked.
    """
    locked = None
    if fd is not None:
        with contextlib.suppress(OSError):
            fcntl.lockf(fd, fcntl.LOCK_EX)
            locked = fd
    try:
        yield
    finally:
        if locked is not None:
            with contextlib.suppress(OSError):
                fcntl.lockf(locked, fcntl.LOCK_UN)


def is_pipe(fd: int) -> bool:
    """Whether ``fd`` is a pipe or FIFO (to take turns at with :func:`pipe_turn`)."""
    try:
        return stat.S_ISFIFO(os.fstat(fd).st_mode)
    except OSError:
        return False
