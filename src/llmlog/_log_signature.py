"""Whether a file is an llmlog log, told by its first line: llmlog appends to, rotates
and prunes only files it wrote, never a CSV, a report or the app's own log that
``LLMLOG_OUTPUT`` (or a rotated-looking name beside it) happens to name.

Every line llmlog writes starts the same way: ``{"event":"llm.call","schema":`` for a
call, ``{"event":"llmlog.dropped","schema":`` for its own notes (the record builder puts
``event`` first, then ``schema``; ``render`` writes compact JSON). That prefix is the
signature. Checked when a file is opened and before one is deleted, never per record.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import zlib
from pathlib import Path

HEAD_BYTES = 64 * 1024
"""At most this much of a file's start is read (decompressed, for a ``.gz``) to judge it:
enough for a first line cut short by a full disk and the line after it."""

_START = b'{"event":"llm'
_RECORD = re.compile(rb'\{\s*"event"\s*:\s*"llm(?:log)?\.[\w.]+"\s*,\s*"schema"\s*:')
"""The signature, spaces allowed (a log rewritten by ``json.dumps`` is still one)."""
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_PROC_FDS = Path("/proc/self/fd")
"""Where Linux reopens an open file for reading, renamed or not (:func:`_reader_of`)."""

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC

NOT_A_LOG = (
    "it is not an llmlog log (its first line is not a record llmlog wrote), so llmlog will "
    "not write into, rotate or delete it (name another file, or move this one away)"
)


class ForeignLog(OSError):
    """The file at the log path is not an llmlog log: llmlog leaves it exactly as it is."""


def looks_like_log(head: bytes) -> bool:
    """Whether ``head`` (a file's first bytes) starts as an llmlog log: empty (blank lines
    and a byte-order mark count as nothing: ``echo > llmlog.jsonl`` empties a log), or a
    first line with llmlog's signature. A first line cut short by a full disk (a start of
    the signature, or the signature without its end) passes if the line after it has it,
    or if nothing follows it yet."""
    head = head.removeprefix(_BOM).lstrip()
    if not head:
        return True
    first, newline, rest = head.partition(b"\n")
    if _RECORD.match(first):
        return True
    cut_short = first.startswith(_START) or _START.startswith(first)
    if not newline:
        return cut_short
    return cut_short and _RECORD.match(rest) is not None


def is_log_file(path: Path) -> bool | None:
    """Whether ``path`` is a regular file (not followed if a link) that is an llmlog log:
    empty, or its first bytes (decompressed, if gzip data) :func:`looks_like_log`.
    A file that cannot be read or decompressed is not known to be one. None when there is
    no file by that name (any more: another process may have rotated it just then)."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except FileNotFoundError:
        return None
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return False
        if st.st_size == 0:
            return True
        head = os.pread(fd, HEAD_BYTES, 0)
        return looks_like_log(_gunzip_head(head) if head.startswith(_GZIP_MAGIC) else head)
    except (OSError, zlib.error):
        return False
    finally:
        os.close(fd)


def _gunzip_head(data: bytes) -> bytes:
    """The first ``HEAD_BYTES`` that ``data``, the start of a gzip file, decompresses to
    (raises ``zlib.error`` if it is not gzip data, or too damaged to give any).

    llmlog compresses nothing itself: a ``.gz`` is ``gzip`` or logrotate's work, whose
    header says nothing of what it holds, so its content decides. Told by its magic
    bytes, not its name: a plain file named ``.gz`` is judged as it is."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    head = inflater.decompress(data, HEAD_BYTES)
    if not head and not inflater.eof:  # damaged: only a gzip of nothing gives nothing
        raise zlib.error("nothing decompressed")
    return head


def vet_log(path: Path, fd: int, folder: int) -> bool:
    """Check that the file ``fd`` (opened at ``path``'s name in the open ``folder``) is
    llmlog's to write: raise :class:`ForeignLog` if it is a regular file,
    not empty and not an llmlog log. False if the name holds another file by now (open it
    again); True otherwise. ``fd`` may be write-only: the file is opened again to read."""
    mine = os.fstat(fd)
    if not stat.S_ISREG(mine.st_mode) or mine.st_size == 0:
        return True
    try:
        reader = _reader_of(path, fd, folder)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) or exc.errno == errno.ELOOP:
            return False  # gone, or a link now: not the file ``fd`` writes to
        raise ForeignLog(
            f"it cannot be read to check that it is an llmlog log ({exc.strerror}), so "
            "llmlog will not write into or rotate it"
        ) from exc
    try:
        found = os.fstat(reader)
        if (found.st_dev, found.st_ino) != (mine.st_dev, mine.st_ino):
            return False
        if not looks_like_log(os.pread(reader, HEAD_BYTES, 0)):
            raise ForeignLog(NOT_A_LOG)
    finally:
        os.close(reader)
    return True


def _reader_of(path: Path, fd: int, folder: int) -> int:
    """A read-only descriptor of the file ``fd`` writes to: on Linux through ``/proc``, the
    very file even if another process has just rotated it aside (so a log rotated
    constantly by others is never given up on); elsewhere by its name in ``folder``."""
    if _PROC_FDS.is_dir():
        with contextlib.suppress(FileNotFoundError):  # no /proc in this sandbox after all
            return os.open(_PROC_FDS / str(fd), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    return os.open(path.name, _READ_FLAGS, dir_fd=folder)
