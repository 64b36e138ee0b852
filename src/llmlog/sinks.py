"""Where rendered records go: a private rotating JSONL file, or stdout/stderr.

A sink takes rendered lines (bytes ending in a newline), on the writer thread. A sink
never raises: trouble (disk full, permission denied, directory deleted) is reported once
on stderr, counted, and the sink tries again a little later. The file sink is
:mod:`llmlog._file_sink`; its files' names and pruning are :mod:`llmlog._log_files`.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Protocol, TextIO

from llmlog._config import STREAMS
from llmlog._file_sink import FileSink
from llmlog._guard import counts, warn_once

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
