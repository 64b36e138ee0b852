"""Where rendered records go: a private rotating JSONL file, or stdout/stderr.

All I/O of llmlog lives here. A sink takes one rendered line (bytes ending in
a newline) at a time, on the writer thread. A sink never raises: trouble
(disk full, permission denied, directory deleted) is reported once on
stderr, counted, and the sink tries again a little later.
"""

from __future__ import annotations

import calendar
import contextlib
import errno
import fcntl
import glob
import json
import math
import os
import re
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, TextIO

from llmlog._config import STREAMS
from llmlog._guard import counts, warn_once

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

RECENT_SECONDS = 600.0
"""A file rotated less than this long ago (by the time in its name) is not deleted for its
age: another process may still be finishing a line in it (it reopens within
``CHECK_SECONDS``)."""


class Sink(Protocol):
    """Anything that takes rendered lines."""

    def write(self, line: bytes) -> None: ...

    def close(self) -> None: ...


def write_lines(sink: Sink, lines: list[bytes]) -> None:
    """Hand a batch to ``sink``: in one call if it takes batches (``write_many``)."""
    write_many = getattr(sink, "write_many", None)
    if write_many is not None:
        write_many(lines)
    else:
        for line in lines:
            sink.write(line)


def rotated_name(active: Path, now_ns: int | None = None, pid: int | None = None) -> Path:
    """``llmlog.jsonl`` -> ``llmlog-20261122T204739.123456Z-4242.jsonl`` (sorts by time)."""
    ns = time.time_ns() if now_ns is None else now_ns
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(ns // 1_000_000_000))
    micros = (ns // 1000) % 1_000_000
    return active.with_name(
        f"{active.stem}-{stamp}.{micros:06d}Z-{os.getpid() if pid is None else pid}{active.suffix}"
    )


def rotated_files(active: Path) -> list[Path]:
    """The rotated siblings of ``active``, oldest first (plain or gzip-compressed).

    Only names :func:`rotated_name` makes: another log sharing the prefix
    (``app-worker.jsonl`` next to ``app.jsonl``) is not ours to prune.
    """
    pattern = re.compile(
        rf"{re.escape(active.stem)}-\d{{8}}T\d{{6}}(\.\d{{6}})?Z-\d+{re.escape(active.suffix)}(\.gz)?"
    )
    siblings = active.parent.glob(f"{glob.escape(active.stem)}-*")  # a name may hold `[`
    found = [p for p in siblings if pattern.fullmatch(p.name)]
    return sorted(found, key=lambda p: p.name)


def _rotated_at(rotated: Path) -> float:
    """When ``rotated`` (a name :func:`rotated_files` lists) was rotated, from its name."""
    stamp = rotated.name.rpartition("-")[0].rpartition("-")[2][:15]  # 20261122T204739
    return float(calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%S")))


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


def _identity(fd: int) -> tuple[int, int]:
    """(device, inode): which file a descriptor writes to, whatever its name now."""
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def _ends_mid_line(path: Path, st: os.stat_result) -> bool:
    """Whether the regular file ``st`` (at ``path``) ends without a newline: a line cut short
    by a full disk, by another process or an earlier run. Our next line must not be glued on."""
    if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        mine = os.fstat(fd)
        same = (mine.st_dev, mine.st_ino) == (st.st_dev, st.st_ino)
        if not same or os.pread(fd, 1, mine.st_size - 1) in (b"\n", b""):
            return False
        # Still that size: a fragment. Grown meanwhile: another process's big line being
        # appended (the size grows page by page), no fragment.
        return os.fstat(fd).st_size == mine.st_size
    except OSError:
        return False
    finally:
        os.close(fd)


def make_private_dirs(directory: Path) -> None:
    """Create ``directory`` and every missing parent 0700 (``mkdir(parents=True)`` would
    give the parents the umask's mode, 0777 under umask 000)."""
    missing: list[Path] = []
    while not directory.exists() and directory != directory.parent:
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            path.mkdir(mode=0o700)


class _GaveUp(Exception):
    """Writing a deleted file's lines again failed (counted and reported there)."""


class FileSink:
    """Append-only JSONL file: 0600 file, 0700 directory, size rotation, retention.

    Whole lines only, one ``os.write`` per line or per batch of lines, to an
    ``O_APPEND`` descriptor, so several processes can share the file without
    interleaving.
    Rotation renames the file under an exclusive ``flock``; other processes
    notice the new inode before their next write and reopen, so a line written
    in between lands in the rotated file, never nowhere.

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

    The log path itself must not be a symlink (``O_NOFOLLOW``); its directories may.
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
            fd = self._fd
            if fd is None or now - self._checked_at >= CHECK_SECONDS:
                fd = self._current_fd()
                if now >= self._expire_at:
                    self._expire_at = now + PRUNE_SECONDS
                    fd = self._expire(fd)
                st = os.fstat(fd)
                if (
                    self._torn is None
                    and st.st_size != self._size  # someone else wrote (or a file new to us)
                    and _ends_mid_line(self.path, st)
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
            if self._torn is not None and self._torn == _identity(fd):
                data, prefix = b"\n" + data, 1  # our fragment stays a line of its own
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
                        self._torn = _identity(self._fd)
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
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = None
        self._forget_kept()
        self._orphans = []

    def _release(self, mine: os.stat_result | None = None) -> None:
        """Close our descriptor. If its file (``mine``: its ``fstat``) has been deleted since
        our last write to it, the lines written since the last check may have gone nowhere:
        they become ``_orphans``, written again to the new file."""
        if self._fd is None:
            return
        if self._kept or self._older or self._dropped:
            try:
                st = os.fstat(self._fd) if mine is None else mine
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
            os.close(self._fd)
        self._fd = None

    def _fail(self, exc: OSError, lines: int) -> None:
        self._release()
        counts["sink_lost"] += lines
        self._lose_orphans()
        self._retry_at = time.monotonic() + RETRY_SECONDS
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
            f"cannot write to {self.path}: {exc.strerror or exc}; records are being lost "
            "(the app is unaffected; llmlog keeps retrying)",
        )

    def _open(self) -> int:
        """Open (create 0600) the log; never through a symlink at the path itself."""
        make_private_dirs(self.path.parent)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        # Non-blocking only to open: a FIFO nobody reads yet fails (ENXIO: retried later)
        # instead of hanging the writer, and with it every os.fork() and the exit.
        fd = os.open(self.path, flags | os.O_NONBLOCK, 0o600)
        try:
            os.set_blocking(fd, True)
            st = os.fstat(fd)
        except OSError:
            return fd
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
        fcntl.flock(fd, fcntl.LOCK_EX)
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
            fcntl.flock(fd, fcntl.LOCK_UN)
        self._release()  # renamed: the lines are in the rotated file; deleted: orphans
        self._prune()
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
        self._prune()
        return fd

    def _prune(self) -> None:
        """Keep at most ``backup_count`` rotated files, none older than the retention.

        Age is the file's mtime (its newest line), but a file rotated in the last
        ``RECENT_SECONDS`` (the time in its name) is kept: a process that had it open may
        still write a line to it. Best effort: a file that cannot be deleted stays.
        """
        backups = rotated_files(self.path)
        doomed = backups[: max(0, len(backups) - self.backup_count)]
        if self.retention_days > 0:
            now = time.time()
            cutoff = now - self.retention_days * 86400
            for p in backups[len(doomed) :]:
                try:
                    if p.stat().st_mtime < cutoff and _rotated_at(p) < now - RECENT_SECONDS:
                        doomed.append(p)
                except (OSError, ValueError):
                    continue
        for p in doomed:
            with contextlib.suppress(OSError):
                p.unlink()


class StreamSink:
    """``stdout`` or ``stderr``, looked up at each write (tests and apps swap them).

    A record goes to the stream's binary ``buffer`` as UTF-8 (JSON's encoding) in one
    write, whatever the stream's text encoding (``ascii`` under ``LANG=C``, ``cp1252``):
    the text layer could not encode it and the record would be lost. The app's text
    still in the text layer is flushed first, so it comes out before, not after. A
    stream with no ``buffer`` (``io.StringIO``, a logging proxy) gets text, with every
    non-ASCII character JSON-escaped if its encoding refuses it.

    Limit: a record starts wherever the app's own output to the same stream stands; after
    a partial line (``print(..., end="")``, or another thread in the middle of a
    ``print``) it is glued to that line. What was last written to a pipe or a terminal
    cannot be read back, so this cannot be detected: log to a file or to the stream
    the app does not write to.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, line: bytes) -> None:
        try:
            _write_stream(getattr(sys, self.name), line)
        except (OSError, ValueError, AttributeError) as exc:
            counts["sink_lost"] += 1
            warn_once(f"sink:{self.name}", f"cannot write to {self.name}: {exc}")

    def close(self) -> None:
        pass


def _write_stream(stream: TextIO, line: bytes) -> None:
    buffer = getattr(stream, "buffer", None)
    if buffer is not None and callable(getattr(buffer, "write", None)):
        stream.flush()
        data = memoryview(line)
        while data:  # a non-blocking stream may take part of it
            written = buffer.write(data)
            data = data[len(data) if written is None else written :]
        buffer.flush()
        return
    text = line.decode("utf-8")
    try:
        stream.write(text)
    except UnicodeError:  # a text-only stream whose encoding lacks a character: escape it
        stream.write(_NON_ASCII.sub(lambda m: json.dumps(m.group())[1:-1], text))
    stream.flush()


_NON_ASCII = re.compile(r"[^\x00-\x7f]")
"""Outside ASCII; in a record that is only ever inside a JSON string, where ``\\uXXXX``
escapes (``json.dumps``' own, surrogate pairs included) mean the same."""


class MemorySink:
    """Keeps lines in a list (``llmlog.testing``)."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def write(self, line: bytes) -> None:
        self.lines.append(line)

    def close(self) -> None:
        pass


def sink_for(output: str, *, max_bytes: int, backup_count: int, retention_days: float) -> Sink:
    """The sink ``LLMLOG_OUTPUT`` names."""
    if output in STREAMS:
        return StreamSink(output)
    return FileSink(
        output, max_bytes=max_bytes, backup_count=backup_count, retention_days=retention_days
    )
