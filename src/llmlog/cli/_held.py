"""Active log files held open from the moment the log is listed until they are read.

A command lists the log's files, then reads them. If the app rotates the active file in
between, the name then holds a new, nearly empty file, and the calls of the old one are
under a rotated name the list does not have: they would be missing from the answer. So the
active file is opened before its rotated siblings are listed, and read through that
descriptor whatever its name is by then (:func:`open_held`); a sibling that turns out to be
that same file (rotated between the two) is left out of the list (:func:`held_identity`).

A folder may hold more active files than the process may have open (one log per worker:
400 files, ``ulimit -n 256``): only as many are held as the open-file limit leaves room
for (:func:`hold_some`); the others are read by their name, as every file was before
holding existed (a rotation in between then loses the calls of that one file).
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, cast

__all__ = [
    "held_identity",
    "held_name",
    "hold",
    "hold_some",
    "is_held",
    "open_held",
    "release_all",
    "shown_name",
]

# Absolute path of an active file -> the descriptor opened when the log was listed.
_held: dict[str, int] = {}

# Descriptors kept free of held files: the command's own (the output, DuckDB's threads and
# the files it reads, a .gz being decompressed), as a share of the soft open-file limit...
_SHARE_KEPT_FREE = 2
# ...and at least this many, whatever the limit.
_KEPT_FREE = 64
# Where the limit cannot be asked (no ``resource`` module: Windows), the files held at most.
_HELD_WITHOUT_LIMIT = 256
# With no soft limit, the system's own (nr_open: 1M on Linux) is the bound; hold this many.
_HELD_UNLIMITED = 1 << 16


def _key(path: Path) -> str:
    return os.path.abspath(path)


def hold(path: Path) -> tuple[int, int] | None:
    """Open ``path`` and keep it open for :func:`open_held`; its (device, inode), or None
    when it cannot be opened (not there yet: nothing to hold). Holding a path again lets go
    of the file held before under it."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)  # a FIFO: no wait
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
    except OSError:
        st = None
    if st is None or not stat.S_ISREG(st.st_mode):  # a folder or a pipe is no log file
        os.close(fd)
        return None
    _let_go(_key(path))
    _held[_key(path)] = fd
    return st.st_dev, st.st_ino


def hold_some(paths: Iterable[Path]) -> dict[Path, tuple[int, int] | None]:
    """:func:`hold` each of ``paths`` in turn while the open-file limit leaves room for
    another (:func:`most_held`): each one held or tried, with its (device, inode) or None.
    A path not in the answer was not tried: it is read by its name. Files held before under
    one of ``paths`` are let go first (a path not held now is not read through them)."""
    paths = list(paths)
    for path in paths:
        _let_go(_key(path))
    room = room_to_hold()
    return {path: hold(path) for path in paths[:room]}


def room_to_hold() -> int:
    """How many more files may be open for the command's length (held, or kept open by a
    reader that must see them unchanged) within :func:`most_held`."""
    return max(0, most_held() - len(_held))


def is_held(path: Path) -> bool:
    """A file is held under ``path``: reading it again reads that same file."""
    return _key(path) in _held


def most_held() -> int:
    """How many files may be held at once: what the soft open-file limit leaves after
    keeping half of it, and at least :data:`_KEPT_FREE`, for what else the command opens."""
    try:
        import resource
    except ImportError:  # no such limit to ask for (Windows)
        return _HELD_WITHOUT_LIMIT
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):
        return _HELD_WITHOUT_LIMIT
    if soft == resource.RLIM_INFINITY or soft < 0:
        return _HELD_UNLIMITED
    return max(0, soft - max(soft // _SHARE_KEPT_FREE, _KEPT_FREE))


def held_identity(path: Path) -> tuple[int, int] | None:
    """The (device, inode) of a file, None if it cannot be looked at."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


def open_held(path: Path) -> BinaryIO | None:
    """The file held under ``path`` read from its start, None if none is held. Each reader
    has its own position (readers of one file do not move each other)."""
    fd = _held.get(_key(path))
    if fd is None:
        return None
    return cast(BinaryIO, io.BufferedReader(_PositionedReader(os.dup(fd))))


def held_name(path: Path) -> str:
    """A name another reader (DuckDB) can open the file held under ``path`` by, whatever it
    is called now: ``/dev/fd/N`` where the system has it; else ``path`` itself."""
    fd = _held.get(_key(path))
    # (a `.gz` given as the log keeps its name: DuckDB tells gzip by the name's ending)
    if fd is None or not os.path.isdir("/dev/fd") or path.name.endswith(".gz"):
        return str(path)
    return f"/dev/fd/{fd}"


def shown_name(name: str) -> str:
    """The path a :func:`held_name` stands for, for messages (another name as it is)."""
    for key, fd in _held.items():
        if name == f"/dev/fd/{fd}":
            return key
    return name


def release_all() -> None:
    """Close every held file (a new command run lists the log afresh)."""
    for key in list(_held):
        _let_go(key)


def _let_go(key: str) -> None:
    fd = _held.pop(key, None)
    if fd is not None:
        os.close(fd)


class _PositionedReader(io.RawIOBase):
    """A descriptor read with ``pread`` from a position of its own: a ``dup`` shares the
    file offset with the held descriptor and with every other ``dup`` of it."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = os.pread(self._fd, len(buffer), self._position)
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_CUR:
            offset += self._position
        elif whence == os.SEEK_END:
            offset += os.fstat(self._fd).st_size
        if offset < 0:
            raise OSError(f"negative seek position {offset}")
        self._position = offset
        return offset

    def tell(self) -> int:
        return self._position

    def fileno(self) -> int:
        return self._fd

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()
