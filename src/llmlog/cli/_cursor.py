"""``llmlog export --cursor FILE``: every call written since the last run, exactly once.

A record's ``ts`` is when its call started, but records are written when calls end: a long
stream started before a short call is written after it. A time watermark (``--since`` the
last ``ts`` exported) therefore both repeats and loses calls. The cursor instead remembers
where in each log file the last run stopped: the file's identity (device and inode), its
name, a hash of its first bytes (:data:`HEAD_BYTES`, decompressed) and the byte offset up
to which its complete lines were read. The next run reads each file from there, in the
order the lines were written, then replaces the cursor file (0600, written aside and
renamed).

The hash of the first bytes finds a file again under another inode: the copy logrotate's
``copytruncate`` makes, or the ``.gz`` of a rotated file (``gzip``, logrotate's
``compress``), read from the same offset of its decompressed lines. A file whose start no
longer matches, or that is shorter than its offset, was truncated or rewritten: read again
from its start, with a warning. A file gone from the log is forgotten.

Every file is looked at (identity, first bytes) before any is read, but a folder may hold
more files than the process may have open (one log per worker): only as many stay open
until their turn as the open-file limit leaves room for (:func:`room_to_hold`), the others
are closed and opened again by name when read. One that is then another file (renamed,
gzipped or removed meanwhile) is not read: its mark keeps where it was, and the next run
finds it by inode or first bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import stat
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from llmlog._record import EVENT_CALL
from llmlog.cli._filters import Filters
from llmlog.cli._held import is_held, room_to_hold
from llmlog.cli._log_names import log_name
from llmlog.cli._logs import (
    CliError,
    LogLocation,
    known_schema,
    open_lines,
    parse_line,
    report_bad_lines,
    warn,
    warn_unknown_schema,
)

__all__ = ["HEAD_BYTES", "Cursor", "add_cursor_option", "open_cursor"]

# How much of a file's start (decompressed) is hashed to know it again under another inode.
HEAD_BYTES = 4096
_VERSION = 1

CURSOR_HELP = (
    "export only the calls written to the log since the last run with this FILE, each "
    "exactly once, then update FILE (created on the first run, which exports everything). "
    "Calls come in the order they were written (when they ended), not by ts. Calls left "
    "out by the filters (--model, --since ...) are passed over for good: the next run "
    "starts after them. Not with --limit."
)


def add_cursor_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--cursor FILE`` to ``export``."""
    parser.add_argument("--cursor", metavar="FILE", help=CURSOR_HELP)


@dataclass(frozen=True)
class Mark:
    """Where the last run stopped in one file."""

    name: str
    dev: int
    ino: int
    offset: int  # of the decompressed lines: the end of the last complete line read
    head: str  # sha256 of the first ``head_len`` bytes
    head_len: int
    packed: int | None = None  # a .gz's size on disk when read: the same size, nothing new


@dataclass
class _Source:
    """One log file of this run, with what identifies it (and open, if kept open)."""

    path: Path
    stream: IO[bytes] | None  # None: opened again by name when read
    dev: int
    ino: int
    size: int  # on disk
    head: bytes
    start: int | None = None  # where to read from; None until decided
    end: int = 0  # the end of the last complete line read
    done: bool = False  # nothing new since the last run: not read
    unread: bool = False  # another file under its name when read: left for the next run

    @property
    def packed(self) -> bool:
        return self.path.name.endswith(".gz")

    def matches(self, mark: Mark) -> bool:
        """This file begins with the bytes ``mark`` hashed."""
        return (
            mark.head_len > 0
            and len(self.head) >= mark.head_len
            and _digest(self.head[: mark.head_len]) == mark.head
        )

    def mark(self) -> Mark:
        """Where this run stopped in the file."""
        return Mark(
            name=self.path.name,
            dev=self.dev,
            ino=self.ino,
            offset=self.end,
            head=_digest(self.head),
            head_len=len(self.head),
            packed=self.size if self.packed and not self.unread else None,
        )


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def open_cursor(
    args: argparse.Namespace, location: LogLocation, files: list[Path]
) -> Cursor | None:
    """The cursor ``--cursor`` names (None without it), after refusing what cannot work."""
    if args.cursor is None:
        return None
    if getattr(args, "limit", None) is not None:
        raise CliError(
            "--limit cannot be used with --cursor: the calls past the limit would be skipped "
            "for good, or exported again next run; drop --limit (each run exports what was "
            "written since the last one)"
        )
    path = Path(args.cursor).expanduser()
    _refuse_cursor_path(path, location, files, args.output)
    _lock(path)
    return Cursor.load(path, location)


# Lock files held by this process (one per cursor), until it ends.
_locks: dict[Path, int] = {}


def _lock(path: Path) -> None:
    """Hold ``.FILE.lock`` beside the cursor until the process ends: two runs at once (an
    overlapping cron job) would both read from the same marks and export the calls twice."""
    lock = path.with_name(f".{path.name}.lock")
    if lock in _locks:
        return
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise CliError(f"cannot lock --cursor {path}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise CliError(
            f"another llmlog export is running with --cursor {path}; run again when it is done"
        ) from None
    except OSError:
        pass  # no locks on this filesystem: go on unlocked
    _locks[lock] = fd


def _refuse_cursor_path(
    path: Path, location: LogLocation, files: list[Path], output: str | None
) -> None:
    """The cursor must not be a file of the log (it would be replaced, or read as calls)
    nor the export's own ``-o``."""
    folder = path.resolve().parent
    in_log = (
        location.is_dir and folder == location.path.resolve() and log_name(path.name)
    ) or location.rotated_name(path)
    others = [*files, location.path] + ([Path(output)] if output else [])
    same = any(_same_file(path, other) for other in others)
    if in_log or same:
        raise CliError(
            f"--cursor {path} is {'the -o file or ' if output else ''}a file of the log, or "
            "named like one: keep the cursor in a file of its own, outside the log's files"
        )


def _same_file(one: Path, other: Path) -> bool:
    if one.resolve() == other.expanduser().resolve():
        return True
    with contextlib.suppress(OSError):
        return os.path.samefile(one, other.expanduser())
    return False


class Cursor:
    """The marks of one cursor file; :meth:`records` reads past them, :meth:`save` stores
    the new ones once every record read was exported."""

    def __init__(self, path: Path, marks: list[Mark], log: Path) -> None:
        self.path = path
        self._marks = marks
        self._log = log
        self._next: list[Mark] | None = None

    @classmethod
    def load(cls, path: Path, location: LogLocation) -> Cursor:
        """The cursor file's marks; none when it does not exist yet (a first run)."""
        log = location.path.resolve()
        try:
            data = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return cls(path, [], log)
        except OSError as exc:
            raise CliError(f"cannot read --cursor {path}: {exc.strerror or exc}") from None
        except orjson.JSONDecodeError:
            data = None
        try:
            if data.get("llmlog_cursor") != _VERSION:
                raise TypeError
            marks = [_checked_mark(entry) for entry in data["files"]]
            last_log = data.get("log")
        except (AttributeError, KeyError, TypeError, ValueError):
            raise CliError(
                f"--cursor {path} is not an llmlog export cursor (or is damaged); name "
                "another file, or delete it to export every call again"
            ) from None
        if last_log != str(log):
            warn(
                f"--cursor {path} was last used with the log {last_log}, not {location.path}: "
                "files it does not know are exported from their start"
            )
        return cls(path, marks, log)

    def records(self, files: list[Path], filters: Filters) -> Iterator[dict[str, Any]]:
        """Every call record written since the last run that passes ``filters``, file by
        file (oldest file first) in the order the lines were written."""
        keep = filters.predicate()
        sources = self._open(files)
        marks: list[Mark] = []
        unknown = 0
        try:
            for source in sources:
                bad: list[int] = []
                for line in _complete_lines(source):
                    record = parse_line(source.path, 0, line, bad) if line.strip() else None
                    if record is None:
                        continue
                    if not known_schema(record):
                        unknown += 1
                    elif record.get("event") == EVENT_CALL and keep(record):
                        yield record
                report_bad_lines(source.path, bad)
                marks.append(source.mark())
        finally:
            _close_all(sources)
        warn_unknown_schema(unknown)
        self._next = marks

    def _open(self, files: list[Path]) -> list[_Source]:
        """Every file looked at, each with where to start reading it; kept open while the
        open-file limit leaves room (a held file is read through its held descriptor)."""
        sources: list[_Source] = []
        room = room_to_hold()
        try:
            for path in files:
                keep = room > 0 and not is_held(path)
                source = _opened_source(path, keep)
                if source is not None:
                    sources.append(source)
                    room -= keep
        except BaseException:
            _close_all(sources)
            raise
        unclaimed = list(self._marks)
        for source in sources:  # the same file first, then one that begins the same way
            _resume_same_file(source, unclaimed)
        for source in sources:
            if source.start is None:
                _resume_copy(source, unclaimed)
        return sources

    def save(self) -> None:
        """Replace the cursor file with the marks of this run (readable by its owner only)."""
        if self._next is None:
            raise RuntimeError("the cursor is saved only after its records were all read")
        data = {
            "llmlog_cursor": _VERSION,
            "log": str(self._log),
            "files": [asdict(mark) for mark in self._next],
        }
        _write_replacing(self.path, orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")


def _checked_mark(entry: Any) -> Mark:
    """One file's mark as the cursor file holds it (ValueError if it is not one)."""
    mark = Mark(**entry)
    numbers = (mark.dev, mark.ino, mark.offset, mark.head_len)
    if not all(type(n) is int and n >= 0 for n in numbers):
        raise ValueError(entry)
    if not isinstance(mark.name, str) or not isinstance(mark.head, str):
        raise ValueError(entry)
    if mark.packed is not None and type(mark.packed) is not int:
        raise ValueError(entry)
    return mark


def _opened_source(path: Path, keep: bool) -> _Source | None:
    """``path`` opened, its identity and first bytes read, then closed unless ``keep``;
    None if it is gone already."""
    looked = _looked_at(path, HEAD_BYTES)
    if looked is None:
        return None
    stream, st, head = looked
    if not keep:
        stream.close()
    return _Source(path, stream if keep else None, st.st_dev, st.st_ino, st.st_size, head)


def _reopened(source: _Source) -> IO[bytes] | None:
    """``source`` opened again by its name, if that is still the file first looked at (its
    inode, beginning the same way); None, with a warning, if it is gone or another one."""
    looked = _looked_at(source.path, len(source.head))
    if looked is not None:
        stream, st, head = looked
        if (st.st_dev, st.st_ino) == (source.dev, source.ino) and head == source.head:
            return stream
        stream.close()
    warn(f"{source.path}: renamed or removed while the log was read: left for the next run")
    return None


def _looked_at(path: Path, head_bytes: int) -> tuple[IO[bytes], os.stat_result, bytes] | None:
    """``path`` opened, with its identity and first ``head_bytes`` (decompressed); None if
    it is gone."""
    try:
        stream = open_lines(path)
    except CliError:
        if not path.exists():
            return None
        raise
    try:
        return stream, os.fstat(stream.fileno()), stream.read(head_bytes)
    except (OSError, EOFError, zlib.error) as exc:
        stream.close()  # not skipped: the cursor would forget the file and export it again
        raise CliError(f"cannot read {path} ({exc}); the cursor is left as it was") from None


def _close_all(sources: list[_Source]) -> None:
    for source in sources:
        if source.stream is not None:
            source.stream.close()
            source.stream = None


def _resume_same_file(source: _Source, unclaimed: list[Mark]) -> None:
    """Continue ``source`` from its mark if it is the same file as last time (its inode,
    still beginning the same way); else it was truncated or rewritten: from its start."""
    for mark in unclaimed:
        if (mark.dev, mark.ino) != (source.dev, source.ino):
            continue
        if not source.matches(mark) and mark.head_len:
            if any(source.matches(other) for other in unclaimed if other is not mark):
                return  # the inode was freed and reused (gzip, copytruncate): by its head
            warn(f"{source.path}: rewritten or truncated since the last run: read from its start")
            source.start = 0  # the mark is left for a copy of the old file (copytruncate)
            return
        if not source.packed and source.size < mark.offset:
            warn(
                f"{source.path}: truncated since the last run ({source.size} bytes, "
                f"{mark.offset} read then): read from its start"
            )
            unclaimed.remove(mark)
            source.start = 0
            return
        unclaimed.remove(mark)
        source.start = mark.offset
        source.done = source.packed and mark.packed == source.size
        return


def _resume_copy(source: _Source, unclaimed: list[Mark]) -> None:
    """Continue ``source`` from the mark of a file it is a copy of: a rotated file gzipped
    (its decompressed lines), or logrotate's ``copytruncate`` copy."""
    for mark in unclaimed:
        if source.matches(mark):
            unclaimed.remove(mark)
            source.start = mark.offset
            return


def _complete_lines(source: _Source) -> Iterator[bytes]:
    """Each complete line from where the last run stopped, ``source.end`` moved past it; a
    last line without its newline is not read (a writer is still writing it)."""
    source.end = source.start or 0
    if source.done:
        return
    stream = source.stream if source.stream is not None else _reopened(source)
    source.stream, source.unread = stream, stream is None
    if stream is None:
        return
    try:
        stream.seek(source.end)
        for line in stream:
            if not line.endswith(b"\n"):
                return
            source.end += len(line)
            yield line
    except (OSError, EOFError, zlib.error) as exc:  # a .gz damaged, or still being written
        warn(f"{source.path}: stopped reading at a damaged part ({exc})")
    finally:
        stream.close()
        source.stream = None


def _write_replacing(path: Path, data: bytes) -> None:
    """Write ``data`` to a new private file beside ``path``, then rename it over ``path``:
    a crash leaves the old cursor or the new one, never half of one."""
    try:
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise CliError(f"cannot write --cursor {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if stat.S_IMODE(os.stat(temp).st_mode) != 0o600:
            os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
