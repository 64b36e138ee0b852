"""``llmlog tail``, ``show`` and ``search``: looking at individual calls."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from llmlog._record import EVENT_CALL
from llmlog.cli._filters import Filters, Subcommands, add_filter_args
from llmlog.cli._format import one_line
from llmlog.cli._logs import (
    CliError,
    LogLocation,
    known_schema,
    locate,
    parse_line,
    report_bad_lines,
    warn_unknown_schema,
)
from llmlog.cli._select import find_record, select
from llmlog.cli._show import render_record
from llmlog.cli._texts import searchable_texts

__all__ = ["follow", "register", "text_matcher"]

TAIL_DEFAULT = 10


def register(commands: Subcommands, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``tail``, ``show`` and ``search``."""
    tail = commands.add_parser(
        "tail", parents=parents, help="one line per call, the most recent last"
    )
    tail.add_argument("-f", "--follow", action="store_true", help="keep printing new calls")
    add_filter_args(tail)
    tail.set_defaults(func=run_tail)

    show = commands.add_parser("show", parents=parents, help="one whole call, pretty")
    show.add_argument("id", help="record id, or a unique prefix of it")
    show.add_argument("--json", action="store_true", help="the record as indented JSON")
    show.set_defaults(func=run_show)

    search = commands.add_parser(
        "search",
        parents=parents,
        help="calls whose prompt or output contains TEXT",
        description="Look for TEXT (any case) in what was written: the system prompt, the "
        "messages' text, the answer's text, reasoning summary and refusal, and the names and "
        "arguments of tool calls. Not in roles, part types, ids, finish reasons or params. "
        "Exit 1 when no call matches.",
    )
    search.add_argument("text", help="case-insensitive text to look for")
    add_filter_args(search)
    search.set_defaults(func=run_search)


def _print(line: str) -> None:
    sys.stdout.write(line + "\n")


def run_tail(args: argparse.Namespace) -> int:
    """The most recent calls, one line each; with ``-f``, new ones as they are written."""
    location = locate(args.log)
    filters = Filters.from_args(args)
    files = location.files() if args.follow else location.existing_files()
    for record in select(files, filters, default_limit=TAIL_DEFAULT):
        _print(one_line(record))
    if args.follow:
        sys.stdout.flush()
        keep = filters.predicate()
        for record in follow(location):
            if record.get("event") == EVENT_CALL and keep(record):
                _print(one_line(record))
                sys.stdout.flush()
    return 0


def follow(
    location: LogLocation,
    poll_s: float = 0.25,
    should_stop: Callable[[], bool] = lambda: False,
) -> Iterator[dict[str, Any]]:
    """Records appended to the active log file from now on, across rotations.

    Like ``tail -F``: the open file is read to its end even after the writer
    renames it away; when a new file appears under the watched name, reading
    moves to it from its start. A half-written line waits for its newline.
    """
    path = _watched_path(location)
    stream = _open_at(path, end=True) if path is not None else None
    pending = b""
    try:
        while not should_stop():
            if stream is not None:
                pending += stream.read()
                *lines, pending = pending.split(b"\n")
                yield from _parse_all(path, lines)
            path = path or _watched_path(location)
            if path is not None and _replaced(path, stream):
                if stream is not None:
                    # The writer may have appended to the old file after the read above
                    # and before renaming it: read it to its end first.
                    rest = (pending + stream.read()).split(b"\n")
                    yield from _parse_all(path, rest)
                    stream.close()
                stream, pending = _open_at(path, end=False), b""
                continue
            time.sleep(poll_s)
    finally:
        if stream is not None:
            stream.close()


def _watched_path(location: LogLocation) -> Path | None:
    if not location.is_dir:
        return location.path
    current = [p for p in location.files() if not p.name.endswith(".gz")]
    return current[-1] if current else None


def _open_at(path: Path | None, end: bool) -> BinaryIO | None:
    if path is None:
        return None
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


def _parse_all(path: Path | None, lines: list[bytes]) -> Iterator[dict[str, Any]]:
    bad: list[int] = []
    shown = path or Path("log")
    unknown = 0
    for line in lines:
        if line.strip() and (record := parse_line(shown, 0, line, bad)) is not None:
            if known_schema(record):
                yield record
            else:
                unknown += 1
    report_bad_lines(shown, bad)
    warn_unknown_schema(unknown)


def run_show(args: argparse.Namespace) -> int:
    """One record, found by id prefix, laid out for reading (or as JSON)."""
    record = find_record(locate(args.log).existing_files(), args.id)
    if args.json:
        _print(orjson.dumps(record, option=orjson.OPT_INDENT_2).decode())
    else:
        _print(render_record(record))
    return 0


def text_matcher(text: str) -> Callable[[dict[str, Any]], bool]:
    """True for a record whose texts (see ``_texts``) contain ``text``, in any case."""
    wanted = text.casefold()
    return lambda record: any(wanted in piece.casefold() for piece in searchable_texts(record))


def run_search(args: argparse.Namespace) -> int:
    """Calls whose prompt or output contains the text; exit 1 when none do."""
    if not args.text.strip():
        raise CliError("give some text to search for")
    files = locate(args.log).existing_files()
    records = select(files, Filters.from_args(args), also=text_matcher(args.text))
    count = 0
    for record in records:
        _print(one_line(record))
        count += 1
    if count == 0:
        sys.stderr.write(f"llmlog: no calls contain {args.text!r}\n")
        return 1
    return 0
