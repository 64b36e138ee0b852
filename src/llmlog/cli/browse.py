"""``llmlog tail``, ``show`` and ``search``: looking at individual calls."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from llmlog._record import EVENT_CALL
from llmlog.cli._filters import Filters, Subcommands, add_filter_args
from llmlog.cli._format import one_line
from llmlog.cli._logs import CliError, LogLocation, locate, parse_line, report_bad_lines
from llmlog.cli._select import find_record, select
from llmlog.cli._show import render_record

__all__ = ["follow", "register", "text_matcher"]

TAIL_DEFAULT = 10


def register(commands: Subcommands, parents: list[argparse.ArgumentParser]) -> None:
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
        "search", parents=parents, help="calls whose prompt or output contains TEXT"
    )
    search.add_argument("text", help="case-insensitive text to look for")
    add_filter_args(search)
    search.set_defaults(func=run_search)


def _print(line: str) -> None:
    sys.stdout.write(line + "\n")


def run_tail(args: argparse.Namespace) -> int:
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
    """Records appended to the newest log file from now on, across rotations.

    Starts at the current end of the newest file. When the writer rotates (a
    newer file appears, or the file is replaced or shrinks), the rest of the old
    file is read and reading continues at the start of the new one.
    """
    current, position = _newest(location), 0
    if current is not None:
        position = current.stat().st_size
    pending = b""
    while not should_stop():
        newest = _newest(location)
        if current is not None:
            chunk, position = _read_from(current, position)
            pending += chunk
            *lines, pending = pending.split(b"\n")
            bad: list[int] = []
            for line in lines:
                if line.strip() and (record := parse_line(current, 0, line, bad)) is not None:
                    yield record
            report_bad_lines(current, bad)
        if newest is not None and (newest != current or _shrunk(newest, position)):
            current, position, pending = newest, 0, b""
            continue
        time.sleep(poll_s)


def _newest(location: LogLocation) -> Path | None:
    files = [p for p in location.files() if not p.name.endswith(".gz")]
    return files[-1] if files else None


def _shrunk(path: Path, position: int) -> bool:
    try:
        return path.stat().st_size < position
    except OSError:
        return False


def _read_from(path: Path, position: int) -> tuple[bytes, int]:
    try:
        with path.open("rb") as stream:
            stream.seek(position)
            data = stream.read()
    except OSError:
        return b"", position
    return data, position + len(data)


def run_show(args: argparse.Namespace) -> int:
    record = find_record(locate(args.log).existing_files(), args.id)
    if args.json:
        _print(orjson.dumps(record, option=orjson.OPT_INDENT_2).decode())
    else:
        _print(render_record(record))
    return 0


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def text_matcher(text: str) -> Callable[[dict[str, Any]], bool]:
    """True for a record whose system prompt, messages or output contain ``text`` (any case)."""
    wanted = text.casefold()

    def matches(record: dict[str, Any]) -> bool:
        for field in ("system", "messages", "output"):
            if any(wanted in piece.casefold() for piece in _texts(record.get(field))):
                return True
        return False

    return matches


def run_search(args: argparse.Namespace) -> int:
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
