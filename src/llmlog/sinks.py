"""Where rendered records go: a private rotating JSONL file, or stdout/stderr.

A sink takes rendered lines (bytes ending in a newline), on the writer thread. A sink
never raises: trouble (disk full, permission denied, directory deleted) is reported once
on stderr, counted, and the sink tries again a little later. The file sink is
:mod:`llmlog._file_sink`; its files' names and pruning are :mod:`llmlog._log_files`.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import select
import sys
import time
from typing import BinaryIO, Protocol, TextIO

from llmlog._config import STREAMS
from llmlog._file_sink import FileSink, is_pipe, pipe_turn
from llmlog._guard import counts, warn_once

STREAM_WAIT_SECONDS = 5.0
"""How long a record waits for a non-blocking stream (stdout a parent such as node set
``O_NONBLOCK``, read slowly) to take its first byte before it is counted lost. Once the
stream took part of it, the rest is waited for as long as it takes, as a blocking stream
would: cut short, the next record would be glued to the piece."""

__all__ = ["FileSink", "MemorySink", "Sink", "StreamSink", "sink_for", "write_lines"]


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


class StreamSink:
    """``stdout`` or ``stderr``, looked up at each write (tests and apps swap them).

    A record goes as UTF-8 (JSON's encoding) to the descriptor under the stream's binary
    ``buffer`` (or to the ``buffer`` itself if it has none), whatever the stream's text
    encoding (``ascii`` under ``LANG=C``, ``cp1252``): the text layer could not encode it
    and the record would be lost. The app's text still in the stream is flushed first, so
    it comes out before, not after. A stream with no ``buffer`` (``io.StringIO``, a logging
    proxy) gets text, with every non-ASCII character JSON-escaped if its encoding refuses it.

    A pipe (``| tee``, a container's log driver) is written under
    :func:`~llmlog._file_sink.pipe_turn`, so several processes' records do not interleave.
    A descriptor in ``O_NONBLOCK`` mode (set by a parent such as node) that has no room is
    waited for (:data:`STREAM_WAIT_SECONDS`), not taken for a failure.

    Limit: a record starts wherever the app's own output to the same stream stands; after
    a partial line (``print(..., end="")``, or another thread in the middle of a
    ``print``) it is glued to that line. What was last written to a pipe or a terminal
    cannot be read back, so this cannot be detected: log to a file or to the stream
    the app does not write to.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._buffer: BinaryIO | None = None
        self._fd: int | None = None
        """``_buffer``'s descriptor (None: it has none), looked up once per stream."""
        self._pipe = False

    def write(self, line: bytes) -> None:
        try:
            stream = getattr(sys, self.name)
            buffer: BinaryIO | None = getattr(stream, "buffer", None)
            if buffer is None or not callable(getattr(buffer, "write", None)):
                _write_text(stream, line)
                return
            if buffer is not self._buffer:
                self._buffer, self._fd = buffer, _fd_of(buffer)
                self._pipe = self._fd is not None and is_pipe(self._fd)
            with pipe_turn(self._fd if self._pipe else None):
                _write_binary(stream, buffer, self._fd, line)
        except (OSError, ValueError, AttributeError) as exc:
            counts["sink_lost"] += 1
            warn_once(f"sink:{self.name}", f"cannot write to {self.name}: {exc}")

    def close(self) -> None:
        pass


def _fd_of(buffer: BinaryIO) -> int | None:
    try:
        return buffer.fileno()
    except (OSError, ValueError, AttributeError):  # io.BytesIO, a test's capture
        return None


def _write_binary(stream: TextIO, buffer: BinaryIO, fd: int | None, line: bytes) -> None:
    """The app's pending text, then ``line``. With a descriptor, ``line`` goes straight to
    it (``os.write`` says exactly what went out, where ``buffer`` may keep what a
    non-blocking descriptor refused), waiting while it has no room."""
    if fd is None:  # in memory: never full
        stream.flush()
        buffer.write(line)
        buffer.flush()
        return
    deadline = time.monotonic() + STREAM_WAIT_SECONDS
    while True:
        try:
            stream.flush()
            break
        except BlockingIOError:  # buffer keeps what it could not write: wait, try again
            _wait_for_room(fd, deadline)
    data = memoryview(line)
    while data:
        try:
            data = data[os.write(fd, data) :]
        except BlockingIOError:  # once begun, waited for until done: cut, it would glue
            _wait_for_room(fd, deadline if len(data) == len(line) else None)


def _wait_for_room(fd: int, deadline: float | None) -> None:
    """Until ``fd`` is writable (or broken: the next write says how); past ``deadline``
    (None: none) the record is lost."""
    timeout = None if deadline is None else deadline - time.monotonic()
    if timeout is not None and timeout <= 0:
        raise TimeoutError(
            errno.EAGAIN,
            f"no room in {STREAM_WAIT_SECONDS:g} s (a non-blocking stream read too slowly)",
        )
    poll = select.poll()
    poll.register(fd, select.POLLOUT)
    poll.poll(None if timeout is None else max(1, math.ceil(timeout * 1000)))


def _write_text(stream: TextIO, line: bytes) -> None:
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
