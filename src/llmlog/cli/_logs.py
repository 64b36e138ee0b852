"""Finding the log files and streaming their records.

The CLI finds the log the way the writer does (``LLMLOG_OUTPUT`` or the
default path), and reads every rotated file next to it, compressed or not, in
time order: the writer's own (``llmlog-<UTC time>-<pid>.jsonl``) and logrotate's
(``llmlog.jsonl.1``, ``llmlog.jsonl.2.gz``, ``llmlog.jsonl-20261122``). A line that does
not parse (a writer that crashed mid-line) is skipped with one warning per file,
never a traceback.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import stat
import sys
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

import orjson

from llmlog._config import Settings
from llmlog._log_files import rotated_files, rotated_pattern
from llmlog._record import SCHEMA_VERSION
from llmlog.cli._format import counted, visible
from llmlog.cli._held import held_identity, hold, hold_some, open_held, release_all
from llmlog.cli._log_names import (
    LOG_SUFFIXES,
    READ_NAMES,
    age_key,
    dated_files,
    dated_pattern,
    is_rotated,
    log_name,
    numbered_files,
    numbered_pattern,
    one_copy,
    rotated_at,
    unread_siblings,
)
from llmlog.cli._window import written_before

__all__ = [
    "CliError",
    "LogLocation",
    "is_rotated",
    "iter_records",
    "known_schema",
    "locate",
    "located_records",
]

# A rotated name dated later than this from now was not given by a writer (each names its
# file by its own clock): it is not read (:meth:`LogLocation.trusted`).
FUTURE_SECONDS = 300.0


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


@dataclass(frozen=True)
class LogLocation:
    """Where the log is: a directory, or one file and its rotated siblings."""

    path: Path
    is_dir: bool

    def files(self) -> list[Path]:
        """Every log file, oldest first; the active file (no timestamp) last.

        The active files are opened first and read through those descriptors (``_held``):
        one the app rotates meanwhile is still read whole, and not twice."""
        if self.is_dir:
            return self._files_in_folder()
        parent = self.path.parent
        if not parent.is_dir():
            raise CliError(f"log directory {parent} does not exist (no logs written yet?)")
        # (a .gz given as the log is an archive: read by name, decompressed)
        active = None if self.path.name.endswith(".gz") else hold(self.path)
        # Only the rotated names of this log: ``app-worker.jsonl`` beside ``app.jsonl`` is
        # another log, not part of this one.
        siblings = [
            *rotated_files(self.path),
            *numbered_files(self.path),
            *dated_files(self.path),
        ]
        _warn_unread(self.path, siblings)
        rotated = [p for p in siblings if p.is_file() and held_identity(p) != active]
        found = sorted(one_copy(self.trusted(rotated)), key=age_key)
        if active is not None or (self.path.name.endswith(".gz") and self.path.is_file()):
            found.append(self.path)
        return found

    def _files_in_folder(self) -> list[Path]:
        """:meth:`files` of a ``--log`` directory: its active files held first, as one."""
        if not self.path.is_dir():
            raise CliError(f"log directory {self.path} does not exist")
        actives = [p for p in self._log_files() if _active(p)]
        # (past the open-file limit's room, the files written to longest ago are read by name)
        held = hold_some(sorted(actives, key=_last_written, reverse=True))
        opened = {identity for identity in held.values() if identity is not None}
        found = [p for p in held if held[p] is not None]
        for path in self._log_files():
            if path not in held and held_identity(path) not in opened:
                found.append(path)
        for active in actives:
            _warn_unread(active, found)
        return sorted(one_copy(self.trusted(found)), key=age_key)

    def _log_files(self) -> list[Path]:
        return [p for p in self.path.iterdir() if p.is_file() and log_name(p.name)]

    def trusted(self, paths: list[Path]) -> list[Path]:
        """``paths`` without the files another user could have planted, with one warning
        naming them: a file (or a link to one) owned by neither the log's owner (of the log
        file, else of its folder; of the directory for a ``--log`` directory) nor this
        user, and a rotated name dated more than five minutes from now. In a folder others
        may write to, such a file under a rotated name (``llmlog-20991231T000000Z-1.jsonl``)
        would otherwise be read as calls of the app: forged records for ``stats``, ``check``
        and ``replay``. An admin reading an app's log as root still reads the app's files,
        and root's files are read by anyone (root could change this user's anyway)."""
        owners = {os.geteuid(), 0, *self._owner()}  # root's files: root could write ours
        latest = time.time() + FUTURE_SECONDS
        kept, skipped = [], []
        for path in paths:
            try:
                uids = {path.lstat().st_uid, path.stat().st_uid}
            except OSError:
                continue  # gone since it was listed
            if not uids <= owners:
                skipped.append(f"{path.name} (uid {max(uids - owners)})")
            elif rotated_at(path) > latest:
                skipped.append(f"{path.name} (dated ahead of now)")
            else:
                kept.append(path)
        if skipped:
            shown = ", ".join(skipped[:3]) + (
                f" and {len(skipped) - 3} more" if skipped[3:] else ""
            )
            warn(
                f"not read as the log, as another user may have put them there: {shown} "
                f"(files of the log are owned by uid {' or '.join(map(str, sorted(owners)))})"
            )
        return kept

    def _owner(self) -> list[int]:
        """The uid owning the log: its file if there is one, else its folder (none if
        neither can be looked at)."""
        places = [self.path] if self.is_dir else [self.path, self.path.parent]
        for place in places:
            with contextlib.suppress(OSError):
                return [place.stat().st_uid]
        return []

    def rotated_name(self, path: Path) -> bool:
        """Whether ``path`` is in the log's folder under a name rotation gives it
        (``llmlog-20260101T000000Z-1.jsonl``, logrotate's ``llmlog.jsonl.1``, or their
        ``.gz``): :meth:`files` reads such a file as part of the log, so one written there
        later is read too. Never for a directory."""
        if self.is_dir:
            return False
        active = self.path
        patterns = (rotated_pattern(active), numbered_pattern(active), dated_pattern(active))
        folder = active.parent.resolve()
        named, linked = path.parent.resolve() / path.name, path.resolve()
        return any(
            p.parent == folder and any(pattern.fullmatch(p.name) for pattern in patterns)
            for p in (named, linked)
        )

    def files_so_far(self) -> list[Path]:
        """Like :meth:`files`, but a log whose folder is not there yet has no files: the app
        has made no call so far (the writer creates the folder with its first record).
        For ``tail -f``, which waits for the log, and ``check``, for which it is no calls."""
        folder = self.path if self.is_dir else self.path.parent
        return self.files() if folder.is_dir() else []

    def logs_beside(self) -> list[Path]:
        """For a log file that is not there: the llmlog logs in its folder (files whose first
        line is an llmlog record). A name beside them that matches none is likely a typo,
        not a log still to come; for a directory, or a folder holding none, nothing."""
        folder = self.path.parent
        if self.is_dir or self.path.exists() or not folder.is_dir():
            return []
        return [p for p in sorted(folder.iterdir()) if p.name.endswith(LOG_SUFFIXES) and _is_log(p)]

    def existing_files(self) -> list[Path]:
        """Like :meth:`files`, but an empty log is an error the user should hear about."""
        found = self.files()
        if not found:
            raise CliError(self._none_found())
        return found

    def _none_found(self) -> str:
        """Why :meth:`existing_files` found nothing: nothing logged yet, or a directory
        holding only files under other names (``calls.log``), which are not read."""
        others = self._other_files()
        if not others:
            return f"no log files at {self.path} (nothing logged yet?)"
        shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if others[3:] else "")
        return (
            f"no log files in {self.path}: it holds {shown}, but in a log directory only "
            f"{READ_NAMES} are read; pass --log FILE to read one of them"
        )

    def _other_files(self) -> list[str]:
        """For a directory: the names of its files that are not read as logs, hidden ones
        left out (the writer's ``.llmlog-hash-key`` is there before the first record)."""
        if not self.is_dir:
            return []
        with contextlib.suppress(OSError):
            names = (p.name for p in self.path.iterdir() if p.is_file())
            return sorted(name for name in names if not name.startswith(".") and not log_name(name))
        return []


def _warn_unread(active: Path, read: list[Path]) -> None:
    """One warning naming the files beside ``active`` that look like its rotated files under
    a name llmlog does not read (``llmlog.jsonl.1.bz2``): their calls would be missing
    without a word."""
    unread = unread_siblings(active, read)
    if unread:
        shown = ", ".join(unread[:3]) + (f" and {len(unread) - 3} more" if unread[3:] else "")
        warn(
            f"not read as part of the log {active.name}: {shown} (llmlog reads its rotated "
            "files under the writer's names and logrotate's numbered and dated ones, plain or "
            ".gz; pass --log FILE to read another)"
        )


def _active(path: Path) -> bool:
    """A file a writer appends to (no rotated name, not compressed): held when listed."""
    return not is_rotated(path) and not path.name.endswith(".gz")


def _last_written(path: Path) -> float:
    """When ``path`` was last written to (0 if it cannot be looked at): a file written to
    lately is the likeliest to be rotated while the command runs, so it is held first."""
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _is_log(path: Path) -> bool:
    """The first line of ``path`` is an llmlog record (has ``event`` and ``schema``)."""
    try:
        with open_lines(path) as stream:
            first = stream.readline(1 << 20)
        record = orjson.loads(first)
    except (CliError, OSError, EOFError, zlib.error, orjson.JSONDecodeError):
        return False
    return isinstance(record, dict) and "event" in record and "schema" in record


def locate(log: str | None) -> LogLocation:
    """``--log`` if given, else ``LLMLOG_OUTPUT``, else the default path."""
    if log is None:
        try:
            output = Settings.from_env().output
        except ValueError as exc:
            raise CliError(str(exc)) from None
        if output in ("stdout", "stderr"):
            raise CliError(
                f"LLMLOG_OUTPUT is {output!r}, so there is no log file to read; "
                "pass --log PATH (a file or a directory)"
            )
        log = output
    elif log == "-" or _is_stream(log):
        raise CliError(
            f"cannot read the log from {'standard input' if log == '-' else log}: a pipe or "
            "device can be read only once, and llmlog reads a log more than once (DuckDB's "
            "passes, check's per-day pass); save it to a file first "
            "(docker logs app > calls.jsonl) and pass --log calls.jsonl"
        )
    path = Path(log).expanduser()
    return LogLocation(path, is_dir=path.is_dir() or log.endswith(("/", "\\")))


def _is_stream(log: str) -> bool:
    """``log`` is a pipe, socket or device (``/dev/stdin`` piped into, ``<(...)``), whose
    lines can be read only once; a file redirected to ``/dev/stdin`` is a file."""
    try:
        mode = os.stat(Path(log).expanduser()).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


def open_lines(path: Path) -> BinaryIO:
    """The file as a binary stream, decompressed when it ends in ``.gz``; an active file
    through the descriptor opened when the log was listed (:meth:`LogLocation.files`)."""
    try:
        held = open_held(path)
        if held is not None:
            return held
        if path.name.endswith(".gz"):
            return cast(BinaryIO, gzip.open(path, "rb"))
        return path.open("rb")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, raw line) for every non-empty line of one file."""
    return ((number, line) for number, _, line in _lines_at(path))


def _lines_at(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """(line number, offset in the uncompressed bytes, raw line) for every non-empty line."""
    offset = 0
    with open_lines(path) as stream:
        try:
            for number, line in enumerate(stream, start=1):
                if line.strip():
                    yield number, offset, line
                offset += len(line)
        except (OSError, EOFError, zlib.error) as exc:  # zlib's: a rotated .gz damaged inside
            warn(f"{path}: stopped reading at a damaged part ({exc})")


_warned: set[str] = set()


def warn(message: str) -> None:
    """One warning on stderr; the same one is not repeated within a command."""
    if message in _warned:
        return
    _warned.add(message)
    sys.stderr.write(f"llmlog: warning: {visible(message)}\n")


def reset_warnings() -> None:
    """Forget warnings given so far, and close the files an earlier listing of the log
    held open (each command run starts afresh)."""
    _warned.clear()
    release_all()


def parse_line(path: Path, number: int, line: bytes, bad: list[int]) -> dict[str, Any] | None:
    """One record, or None (remembered in ``bad``) for a line that is not a record."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        bad.append(number)
        return None
    if not isinstance(record, dict) or record.get("event") is None:
        # Not an llmlog record at all (another program's JSON line): skipped like a broken
        # line, as DuckDB does, not taken for a record of a newer schema.
        bad.append(number)
        return None
    return record


def known_schema(record: dict[str, Any]) -> bool:
    """The record is of the schema this CLI reads; another one's fields may mean other things."""
    schema = record.get("schema")
    return type(schema) is int and schema == SCHEMA_VERSION


def warn_unknown_schema(count: int) -> None:
    """The one warning for records skipped because their schema is not ours."""
    if count:
        warn(
            f"{counted(count, 'record')} of an unknown schema skipped (this llmlog reads schema "
            f"{SCHEMA_VERSION}; a newer llmlog may read them)"
        )


def iter_records(
    files: list[Path], needle: bytes | None = None, since: str | None = None
) -> Iterator[dict[str, Any]]:
    """Every record of every file, in file order; records of another schema are skipped.

    ``needle`` skips, before parsing, lines that do not contain those bytes:
    a cheap prefilter for commands that look for one id or one word. ``since`` (a record
    ``ts``) skips the files written to before then (:func:`~llmlog.cli._window.written_before`):
    none of their records can be that recent; the caller still filters the others.
    """
    return (record for _, _, record in located_records(files, needle, since))


def located_records(
    files: list[Path], needle: bytes | None = None, since: str | None = None
) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """Like :func:`iter_records`, each record with where it is: (index in ``files``, offset
    of its line), so that it can be read again (:func:`~llmlog.cli._reread.records_at`)."""
    unknown = 0
    for index, path in enumerate(files):
        if since is not None and written_before(path, since):
            continue
        lines = _lines_at(path)
        if needle is not None:
            lines = (item for item in lines if needle in item[2])
        bad: list[int] = []
        for number, offset, line in lines:
            record = parse_line(path, number, line, bad)
            if record is None:
                continue
            if known_schema(record):
                yield index, offset, record
            else:
                unknown += 1
        report_bad_lines(path, bad)
    warn_unknown_schema(unknown)


def parse_records(
    path: Path, lines: Iterable[tuple[int, bytes]]
) -> Iterator[dict[str, Any] | None]:
    """The record of each line of ``path``, None for one of another schema; one warning
    for the lines that are not records (numbered 0: read while following the file)."""
    bad: list[int] = []
    for number, line in lines:
        record = parse_line(path, number, line, bad)
        if record is not None:
            yield record if known_schema(record) else None
    report_bad_lines(path, bad)


def report_bad_lines(path: Path, bad: list[int]) -> None:
    """One warning for all the lines of ``path`` that did not parse."""
    if not bad:
        return
    if not bad[0]:  # lines read without numbering (following a growing file)
        where = "a line" if len(bad) == 1 else f"{len(bad)} lines"
    elif len(bad) == 1:
        where = f"line {bad[0]}"
    else:
        where = f"{len(bad)} lines (first: line {bad[0]})"
    warn(f"{path}: skipped {where} (not a complete JSON record, or not llmlog's)")
