"""``tail -f``: records appended to the log from now on, across rotations.

A log directory may hold several logs (``api.jsonl`` and ``worker.jsonl``,
each with its rotated files): every active file in it is followed, and a log
that appears later is read from its start. So is a log that did not exist yet
when following began (the app has not made its first call). Following ends
when standard output is a pipe whose reader has gone (``tail -f | head``).
"""

from __future__ import annotations

import os
import select
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from llmlog._log_files import rotated_files
from llmlog.cli._log_names import age_key, is_rotated
from llmlog.cli._logs import LogLocation, parse_records, warn_unknown_schema

__all__ = ["follow"]


class _Watch:
    """One watched name, like ``tail -F``: the open file is read to its end even after
    the writer renames it away; when a new file has the name, reading moves to it from
    its start. A half-written line waits for its newline."""

    def __init__(self, path: Path, end: bool, known: set[Path]) -> None:
        self.path = path
        self.stream = _open_at(path, end=end) if end else None
        self.pending = b""
        # Rotated files there when following began: printed already, or not wanted. One
        # rotated since (a log started and rotated between two polls) is read at the first.
        self.rotated = {p for p in _rotated(path) if p in known}

    def poll(self) -> Iterator[dict[str, Any]]:
        """The records completed since the last poll."""
        while True:
            if self.stream is not None:
                self.pending += self.stream.read()
                *lines, self.pending = self.pending.split(b"\n")
                yield from _parse_all(self.path, lines)
            if not _replaced(self.path, self.stream):
                return
            read, renamed = None, True
            if self.stream is not None:
                # The writer may have appended to the old file after the read above
                # and before renaming it: read it to its end first.
                yield from _parse_all(self.path, (self.pending + self.stream.read()).split(b"\n"))
                read = os.fstat(self.stream.fileno()).st_ino
                renamed = _inode(self.path) != read  # not truncated in place
                self.stream.close()
            # Rotated more than once since the last poll: the files in between are read too.
            yield from self._rotated_since(read, renamed)
            self.stream, self.pending = _open_at(self.path, end=False), b""
            if self.stream is None:  # unreadable for now: try again at the next poll
                return

    def _rotated_since(self, read: int | None, renamed: bool) -> Iterator[dict[str, Any]]:
        """Records of the files rotated since the last look, oldest first, except the one
        just read to its end (inode ``read``). None when the file was truncated in place: a
        rotated file new since then is a copy of what was read."""
        for path in _rotated(self.path):
            if path in self.rotated:
                continue
            self.rotated.add(path)
            stream = _open_at(path, end=False) if renamed else None
            if stream is None:
                continue
            with stream:
                if os.fstat(stream.fileno()).st_ino != read:
                    yield from _parse_all(path, stream.read().split(b"\n"))

    def close(self) -> None:
        """Let go of the open file."""
        if self.stream is not None:
            self.stream.close()


def follow(
    location: LogLocation,
    poll_s: float = 0.25,
    should_stop: Callable[[], bool] = lambda: False,
    shown: list[Path] | None = None,
) -> Iterator[dict[str, Any]]:
    """Records appended from now on to the log file, or to every log of a directory.

    ``shown``: the files whose records were already printed (default: every file there now).
    A file not among them was created since, by the app's first call say: all of it is new.
    """
    active = _active_files(location)
    known = set(shown) if shown is not None else {p for a in active for p in _rotated(a)}
    watches = {path: _Watch(path, shown is None or path in shown, known) for path in active}
    reader = _ReaderWatch()
    try:
        while not should_stop():
            for watch in list(watches.values()):
                yield from watch.poll()
            for path in _active_files(location):
                if path not in watches:  # a log started since: all of it is new
                    watches[path] = _Watch(path, end=False, known=known)
            if reader.gone_after(poll_s):
                return
    finally:
        for watch in watches.values():
            watch.close()


class _ReaderWatch:
    """Whether the reader of standard output has gone, when it is a pipe or socket: ``tail
    -f | grep -m1 X`` must end when grep does, not at its next write of a record that may
    be hours away (as coreutils' ``tail -f`` does, by polling its output for an error)."""

    def __init__(self) -> None:
        self.poller: select.poll | None = None
        try:
            mode = os.fstat(1).st_mode
        except OSError:
            return
        if hasattr(select, "poll") and (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
            self.poller = select.poll()
            # A hang-up or an error is reported whatever the mask; POLLRDBAND (as coreutils
            # asks) is an event a pipe's write end never has, so nothing else wakes the wait.
            self.poller.register(1, select.POLLRDBAND)

    def gone_after(self, seconds: float) -> bool:
        """Wait ``seconds`` (less if the reader goes meanwhile); True if it has gone."""
        if self.poller is None:
            time.sleep(seconds)
            return False
        gone = select.POLLERR | select.POLLHUP | select.POLLNVAL
        return any(events & gone for _, events in self.poller.poll(seconds * 1000))


def _active_files(location: LogLocation) -> list[Path]:
    """The files written to: the log file, or the active file of each log in the directory.

    A name that was nothing yet when ``tail -f`` started (``--log llm_logs`` before the
    app's first call) was taken for a file; if a directory appears under it, as the writer
    makes ``llm_logs/llmlog.jsonl``, that directory is followed (the watch on the name
    itself then finds no file to open, and stays idle).
    """
    if location.path.is_dir():
        files = LogLocation(location.path, is_dir=True).files()
        return [p for p in files if not p.name.endswith(".gz") and not is_rotated(p)]
    return [] if location.is_dir else [location.path]


def _rotated(active: Path) -> list[Path]:
    """The uncompressed rotated files of ``active``, oldest first (the writer compresses none;
    a ``.gz`` made later holds records read before)."""
    found = [p for p in rotated_files(active) if not p.name.endswith(".gz") and p.is_file()]
    return sorted(LogLocation(active, is_dir=False).trusted(found), key=age_key)


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


def _open_at(path: Path, end: bool) -> BinaryIO | None:
    try:
        stream = path.open("rb")
    except OSError:
        return None
    if end:
        stream.seek(0, os.SEEK_END)
    return stream


def _replaced(path: Path, stream: BinaryIO | None) -> bool:
    """A different file now has the watched name, or the file was truncated."""
    try:
        now = path.stat()
    except OSError:
        return False  # rotated away, the new one not there yet: keep reading the old one
    if stream is None:
        return True
    return now.st_ino != os.fstat(stream.fileno()).st_ino or now.st_size < stream.tell()


def _parse_all(path: Path, lines: list[bytes]) -> Iterator[dict[str, Any]]:
    unknown = 0
    for record in parse_records(path, ((0, line) for line in lines if line.strip())):
        if record is None:
            unknown += 1
        else:
            yield record
    warn_unknown_schema(unknown)
