"""The private rotating JSONL file: :class:`FileSink` (see its docstring for what it
guarantees when several processes, a full disk or a deletion are involved)."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import math
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from llmlog._guard import counts, warn_once
from llmlog._log_files import (
    UntrustedPath,
    ends_mid_line,
    identity,
    make_private_dirs,
    open_log,
    prune_rotated,
    rotated_name,
)
from llmlog._log_signature import ForeignLog
from llmlog._own_fds import moved_high, names
from llmlog._pipe_turn import is_pipe as is_pipe  # (sinks.py imports it from here)
from llmlog._pipe_turn import pipe_turn as pipe_turn

RETRY_SECONDS = 1.0
CHECK_SECONDS = 0.1
"""How often a file sink looks whether another process rotated the file (a stat per
line costs more than rendering it); lines written in between land in the rotated file,
or, if the file was deleted, are written again to the new one."""

KEEP_BYTES = 1 << 20
"""At most about this much of what a file sink wrote since its last check is kept (the
newest lines, at least half as much; rendered already) to write again if the check finds
the file deleted."""

PRUNE_SECONDS = 3600.0
"""How often a file sink that keeps writing enforces retention (also once when it opens):
a quiet app that never reaches ``max_bytes`` still expires its old files."""


def _parts(lines: list[bytes], limit: int) -> Iterator[list[bytes]]:
    """Consecutive lines in groups of at most ``limit`` bytes (a longer line on its own)."""
    part: list[bytes] = []
    size = 0
    for line in lines:
        if part and size + len(line) > limit:
            yield part
            part, size = [], 0
        part.append(line)
        size += len(line)
    if part:
        yield part


class _GaveUp(Exception):
    """Writing a deleted file's lines again failed (counted and reported there)."""


class FileSink:
    """Append-only JSONL file: 0600 file, 0700 directory, size rotation, retention.

    Whole lines only, one ``os.write`` per line or per batch of lines, to an
    ``O_APPEND`` descriptor, so several processes can share the file without
    interleaving. A FIFO at the path is written under :func:`pipe_turn` (a pipe
    write over ``PIPE_BUF`` is not atomic).
    Rotation renames the file under an exclusive ``flock``; other processes
    notice the new inode before their next write and reopen, so a line written
    in between lands in the rotated file, never nowhere. On a filesystem without
    ``flock`` (Lustre, some NFS: ENOSYS, ENOLCK) it rotates without the lock rather
    than never: the lock only keeps two processes from both rotating; unlocked, the
    loser renames a file another process has just begun (a small extra rotated file)
    or finds the name gone. A rename loses no line either way, and rotated names
    hold the pid, so none overwrites another.

    A file exceeds ``max_bytes`` only by a single line bigger than that (it gets
    a file of its own) or by what other processes append between two size checks
    (``CHECK_SECONDS``): a batch that would cross the limit goes to a new file,
    one bigger than ``max_bytes`` is spread over several.

    A full disk cuts a write short: the whole lines written stay, the others are
    counted lost, and our next record in that file starts with a newline: the
    fragment stays one unparseable line that readers skip.

    Retention is enforced when the sink first opens the file and then every
    ``PRUNE_SECONDS`` while it writes, not only when it rotates: rotated files beyond
    ``backup_count`` are deleted, and those last written more than ``retention_days`` ago
    unless rotated in the last ``RECENT_SECONDS`` (another process may be finishing a line
    in one). The file being written is never deleted: if its newest line is that old, it is
    rotated aside (when a sink opens it, or at an hourly check) and goes at a later check.

    A file deleted while we write (``rm``, ``rm -rf`` of its folder, another file moved
    over it) is made again at the next check, and the lines written since the previous check
    are written again to the new file: they may have gone to the deleted one. Not when the
    deleted file's ctime (set by the unlink) is later than its mtime (our last write): then
    they were all written before the deletion and went with it on purpose. Only a deleted
    file's lines are written again: a renamed one (rotation, logrotate ``create``) keeps
    them, a truncated one (``copytruncate``) is still ours. So nothing is lost, and at most
    ``CHECK_SECONDS`` of lines written just before a deletion come back in the new file;
    beyond about ``KEEP_BYTES`` in that window the older lines are counted lost and
    reported. Lines a deletion takes in a process's last ``CHECK_SECONDS`` are written
    again only if it closes the sink.

    A file whose first line is not llmlog's (a CSV, the app's own log) is never written,
    rotated or pruned (:mod:`llmlog._log_signature`): refused as an unwritable path is.

    The descriptor sits above the numbers an app's files get first, and each write checks
    it still names the file opened (:mod:`llmlog._own_fds`): one the app closed (its number
    perhaps the app's own file now) is neither written nor closed; the log is reopened.

    The log path itself must not be a symlink (``O_NOFOLLOW``); its directories may.
    Nothing is written to a folder another user owns or may write to (a sticky one
    excepted), nor to a file there another user owns (their FIFO, or their file moved
    over ours): each open checks, the reopen after a rotation or deletion too.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int = 0,
        backup_count: int = 20,
        retention_days: float = 0.0,
    ) -> None:
        # Absolute once, here: an app that chdirs later keeps writing to the same file.
        self.path = Path(os.path.abspath(path))
        self.max_bytes = max_bytes
        self.backup_count = backup_count
        self.retention_days = retention_days
        self._fd: int | None = None
        self._file = (0, 0)
        """(device, inode) of the file ``_fd`` was opened on (:meth:`_ours`)."""
        self._pipe: int | None = None
        """``_fd`` if it is a FIFO (written under :func:`pipe_turn`), decided when opened."""
        self._retry_at = 0.0
        self._checked_at = -CHECK_SECONDS
        self._expire_at = -math.inf
        """When (monotonic) to enforce retention next: at the first write, then hourly."""
        self._size = 0  # of the file, as of the last check plus what we wrote since
        self._rotate_after = 0.0  # (monotonic) a rotation that could not rename waits
        self._torn: tuple[int, int] | None = None
        """(device, inode) of the file our last write left ending mid-line (a full disk)."""
        self._kept: list[bytes] = []
        """Whole lines written to ``_fd`` since the last check, in case that file turns out
        deleted: the newest, up to half of ``KEEP_BYTES``, after the ``_older`` half."""
        self._kept_bytes = 0
        self._kept_lines = 0
        self._older: list[bytes] = []
        self._older_lines = 0
        self._dropped = 0
        """Lines written to ``_fd`` since the last check that ``_kept`` had no room for."""
        self._orphans: list[bytes] = []
        """Kept lines of a file found deleted, to write to the new file first."""

    def write(self, line: bytes) -> None:
        self._write(line, 1)

    def write_many(self, lines: list[bytes]) -> None:
        """A batch of whole lines in one ``os.write`` (still atomic on an ``O_APPEND`` file);
        a batch bigger than ``max_bytes`` in file-sized parts, so rotation keeps its bound."""
        data = b"".join(lines)
        if self.max_bytes and len(data) > self.max_bytes and len(lines) > 1:
            for part in _parts(lines, self.max_bytes):
                self._write(b"".join(part), len(part))
        elif lines:
            self._write(data, len(lines))

    def _write(self, data: bytes, lines: int) -> None:
        now = time.monotonic()
        if now < self._retry_at:
            counts["sink_lost"] += lines
            return
        written = 0
        prefix = 0
        try:
            fd = self._ours()
            if fd is None or now - self._checked_at >= CHECK_SECONDS:
                fd = self._current_fd()
                if now >= self._expire_at:
                    self._expire_at = now + PRUNE_SECONDS
                    fd = self._expire(fd)
                st = os.fstat(fd)
                if (
                    self._torn is None
                    and st.st_size != self._size  # someone else wrote (or a file new to us)
                    and ends_mid_line(self.path, st)
                ):
                    self._torn = (st.st_dev, st.st_ino)  # another writer's fragment
                self._size = st.st_size
                self._checked_at = now
                self._forget_kept()  # written to a file that still has its name: safe
                if self._orphans:  # but it did not: it was deleted
                    fd = self._write_orphans(len(data))
            if (
                self.max_bytes
                and self._size + len(data) > self.max_bytes
                and now >= self._rotate_after
            ):
                fd = self._rotate(fd)
                self._size = os.fstat(fd).st_size
                if self._orphans:
                    fd = self._write_orphans(len(data))
            if self._torn is not None and self._torn == identity(fd):
                data, prefix = b"\n" + data, 1  # our fragment stays a line of its own
            with pipe_turn(self._pipe):
                written = os.write(fd, data)
                while written < len(data):  # a short count: the disk is filling up
                    more = os.write(fd, memoryview(data)[written:])
                    if more <= 0:
                        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                    written += more
            self._torn = None
            self._kept.append(data[1:] if prefix else data)
            self._kept_bytes += len(data) - prefix
            self._kept_lines += lines
            if 2 * self._kept_bytes > KEEP_BYTES:
                self._shift_kept()
        except _GaveUp:  # rewriting a deleted file's lines failed (counted, reported): this too
            counts["sink_lost"] += lines
        except OSError as exc:  # the line cut short is lost too
            if written:  # a fragment is ended in its own file only (a rotated one starts clean)
                self._torn = None
                if data[written - 1] != ord("\n") and self._fd is not None:
                    with contextlib.suppress(OSError):
                        self._torn = identity(self._fd)
            self._fail(exc, lines - max(0, data.count(b"\n", 0, written) - prefix))
        finally:
            self._size += written

    def _write_orphans(self, then: int) -> int:
        """Write again the lines a deleted file took, before a write of ``then`` bytes (and a
        rotation for it if need be); the descriptor for that write."""
        fd = self._fd
        while self._orphans:
            orphans, self._orphans = self._orphans, []
            for chunk in orphans:
                self._write(chunk, chunk.count(b"\n"))
            fd = self._fd
            if fd is not None and self.max_bytes and self._size + then > self.max_bytes:
                fd = self._rotate(fd)
                self._size = os.fstat(fd).st_size
        if fd is None:
            raise _GaveUp
        return fd

    def _shift_kept(self) -> None:
        """``_kept`` has half of ``KEEP_BYTES``: it becomes ``_older``, whose lines are no
        longer kept (all at once: no work at each write). A batch bigger than
        ``KEEP_BYTES`` is not kept at all."""
        self._dropped += self._older_lines
        if self._kept_bytes > KEEP_BYTES:
            self._dropped += self._kept_lines
            self._older, self._older_lines = [], 0
        else:
            self._older, self._older_lines = self._kept, self._kept_lines
        self._kept, self._kept_bytes, self._kept_lines = [], 0, 0

    def _forget_kept(self) -> None:
        if self._kept or self._older:
            self._kept, self._kept_bytes, self._kept_lines = [], 0, 0
            self._older, self._older_lines = [], 0
        self._dropped = 0

    def close(self) -> None:
        """Close the file, first writing again what its deletion since the last check took."""
        self._release()
        if self._orphans:
            self._write(b"", 0)
            self._release()
        self._lose_orphans()  # still failing (reported): lost

    def _lose_orphans(self) -> None:
        """Count the lines a deleted file took that could not be written again as lost."""
        if self._orphans:
            counts["sink_lost"] += sum(chunk.count(b"\n") for chunk in self._orphans)
            self._orphans = []

    def forget_after_fork(self) -> None:
        """In a forked child: close the inherited descriptor (reopened on next write; kept
        open, a rotated-away file would stay on disk as long as the child lives) and drop
        the parent's lines (the parent writes them again if it must)."""
        if (fd := self._ours()) is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fd = None
        self._forget_kept()
        self._orphans = []

    def _ours(self) -> int | None:
        """``_fd`` if it still names the file opened on it, else None (:meth:`_let_go`)."""
        if self._fd is not None and not names(self._fd, self._file):
            self._let_go()
        return self._fd

    def _let_go(self) -> None:
        """The app closed our descriptor (``os.closerange``) and may have opened a file of its
        own on the number since: forget it, never writing to it nor closing it. Whatever we
        wrote is in our file; the next write opens the log again."""
        warn_once(
            f"sink_closed:{self.path}",
            f"the app closed llmlog's descriptor of {self.path} (fd {self._fd}): llmlog "
            "reopens the file and goes on there (it writes nothing to, and does not close, "
            "a file the app opens on that number)",
        )
        self._fd = self._pipe = None
        self._forget_kept()

    def _release(self, mine: os.stat_result | None = None) -> None:
        """Close our descriptor (if the app closed it, only forget it). If its file (``mine``:
        its ``fstat``) has been deleted since our last write to it, the lines written since
        the last check may have gone nowhere: they become ``_orphans``, written again to the
        new file."""
        fd = self._ours()
        if fd is None:
            return
        if self._kept or self._older or self._dropped:
            try:
                st = os.fstat(fd) if mine is None else mine
                if st.st_nlink == 0 and st.st_ctime_ns <= st.st_mtime_ns:
                    self._orphans += self._older + self._kept
                    if self._dropped:
                        counts["sink_lost"] += self._dropped
                        warn_once(
                            f"sink_deleted:{self.path}",
                            f"{self.path} was deleted while llmlog wrote to it; "
                            f"{self._dropped} records written to it just then were too many "
                            f"to keep (KEEP_BYTES in {CHECK_SECONDS}s) and are lost "
                            "(llmlog goes on in a new file)",
                        )
            except OSError:
                pass
            self._forget_kept()
        with contextlib.suppress(OSError):
            os.close(fd)
        self._fd = None

    def _fail(self, exc: OSError, lines: int) -> None:
        self._release()
        counts["sink_lost"] += lines
        self._lose_orphans()
        self._retry_at = time.monotonic() + RETRY_SECONDS
        if isinstance(exc, (UntrustedPath, ForeignLog)):
            kind = "untrusted" if isinstance(exc, UntrustedPath) else "foreign"
            warn_once(
                f"sink_{kind}:{self.path}",
                f"refusing to write {self.path} (LLMLOG_OUTPUT): {exc}; records are being "
                "lost (the app is unaffected; llmlog keeps checking)",
            )
            return
        if exc.errno == errno.ELOOP and self.path.is_symlink():
            warn_once(
                f"sink_link:{self.path}",
                f"{self.path} is a symbolic link, which llmlog does not write through (it "
                "could point at anyone's file); records are being lost (the app is "
                "unaffected; log to the file itself, not a link)",
            )
            return
        warn_once(
            f"sink:{self.path}",
            f"cannot write to {self.path} (LLMLOG_OUTPUT): {exc.strerror or exc}; records are "
            "being lost (the app is unaffected; llmlog keeps retrying)",
        )

    def _open(self) -> int:
        """Open (create 0600) the log; never through a symlink at the path itself, nor where
        another user could read or swap it (:func:`~llmlog._log_files.open_log`)."""
        make_private_dirs(self.path.parent)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        # Non-blocking only to open: a FIFO nobody reads yet fails (ENXIO: retried later)
        # instead of hanging the writer, and with it every os.fork() and the exit.
        fd = moved_high(open_log(self.path, flags | os.O_NONBLOCK))
        try:
            os.set_blocking(fd, True)
            st = os.fstat(fd)
        except OSError:
            os.close(fd)
            raise
        self._file = (st.st_dev, st.st_ino)
        self._pipe = fd if stat.S_ISFIFO(st.st_mode) else None
        mode = stat.S_IMODE(st.st_mode)
        # An existing file someone made readable: say so, leave it be. Only a regular
        # file: /dev/null, a FIFO or a terminal are 0666 by design and keep nothing.
        if stat.S_ISREG(st.st_mode) and mode & 0o077:
            warn_once(
                f"sink_mode:{self.path}",
                f"{self.path} has mode {mode:#o}: other users may read the logged prompts "
                f"(llmlog creates its files 0600; chmod 600 {self.path} to fix)",
            )
        return fd

    def _current_fd(self) -> int:
        """Our descriptor, reopened if another process rotated the file away or it was
        deleted (then what we wrote to it since the last check becomes ``_orphans``)."""
        if self._fd is not None:
            mine = os.fstat(self._fd)
            try:
                on_disk = os.stat(self.path)
                if (on_disk.st_ino, on_disk.st_dev) == (mine.st_ino, mine.st_dev):
                    return self._fd
            except FileNotFoundError:
                pass
            self._release(mine)
        self._fd = self._open()
        return self._fd

    def _rotate(self, fd: int) -> int:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            locked = True
        except OSError:  # no flock on this filesystem: rotate unlocked (see the class)
            locked = False
        try:
            # Another process may have rotated while we waited for the lock.
            on_disk = os.stat(self.path)
            mine = os.fstat(fd)
            same_file = (on_disk.st_ino, on_disk.st_dev) == (mine.st_ino, mine.st_dev)
            if same_file and mine.st_size > 0:
                os.rename(self.path, rotated_name(self.path))
        except FileNotFoundError:
            pass
        except OSError as exc:  # a folder we may not rename in: the file still takes lines
            warn_once(
                f"sink_rotate:{self.path}",
                f"cannot rotate {self.path} ({exc.strerror or exc}): it grows past "
                "LLMLOG_MAX_BYTES until it can (no record is lost)",
            )
            self._rotate_after = time.monotonic() + RETRY_SECONDS
            return fd
        finally:
            if locked:
                with contextlib.suppress(OSError):
                    fcntl.flock(fd, fcntl.LOCK_UN)
        self._release()  # renamed: the lines are in the rotated file; deleted: orphans
        prune_rotated(self.path, self.backup_count, self.retention_days)
        return self._current_fd()

    def _expire(self, fd: int) -> int:
        """Enforce retention now; the descriptor to write to (a new file if ``fd``'s was
        rotated aside for being all older than the retention)."""
        if self.retention_days > 0:
            st = os.fstat(fd)
            if (
                stat.S_ISREG(st.st_mode)
                and st.st_size > 0
                and st.st_mtime < time.time() - self.retention_days * 86400
            ):
                return self._rotate(fd)  # prunes the others; this one goes at a later check
        prune_rotated(self.path, self.backup_count, self.retention_days)
        return fd
