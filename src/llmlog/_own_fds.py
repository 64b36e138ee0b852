"""llmlog's long-lived descriptors in an app that closes descriptors it did not open.

Some apps close every descriptor but 0-2 in-process (``os.closerange(3, ...)``: a daemon
library that does not detach, a test harness, a server before it opens its own files),
and the next files they open get the lowest free numbers: the ones llmlog's were on.
llmlog keeps its descriptors above those numbers (:func:`moved_high`), and before using
one checks it still names the file it opened (:func:`names`): a number the app closed
may now be the app's own file, which llmlog must neither write nor close.
"""

from __future__ import annotations

import fcntl
import os
import resource

from llmlog._log_files import identity

FLOOR = 256
"""Where llmlog's descriptors go: an app reaches this number only holding about as many
files open at once (each open takes the lowest free number)."""


def floor() -> int:
    """:data:`FLOOR`, or half the soft ``RLIMIT_NOFILE`` where that is lower (256 on
    macOS): ``F_DUPFD`` finds no number at or past the limit."""
    try:
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (OSError, ValueError):
        return FLOOR
    if soft == resource.RLIM_INFINITY:
        return FLOOR
    return min(FLOOR, soft // 2)


def moved_high(fd: int) -> int:
    """``fd`` moved to the lowest free number from :func:`floor` up (close-on-exec, as
    llmlog opens everything), the original closed; ``fd`` itself if it is there already or
    nothing is free up there."""
    low = floor()
    if fd >= low:
        return fd
    try:
        high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, low)
    except OSError:
        return fd
    os.close(fd)
    return high


def names(fd: int, file: tuple[int, int]) -> bool:
    """Whether ``fd`` is open on ``file`` (its :func:`~llmlog._log_files.identity`) still:
    one ``fstat``. False if it was closed (EBADF) or its number now holds another file."""
    try:
        return identity(fd) == file
    except OSError:
        return False
