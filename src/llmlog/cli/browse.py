"""``llmlog tail``, ``show`` and ``search``: looking at individual calls."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from typing import Any

import orjson

from llmlog._record import EVENT_CALL
from llmlog.cli._filters import Filters, Subcommands, add_filter_args
from llmlog.cli._follow import follow
from llmlog.cli._format import json_visible, one_line
from llmlog.cli._logs import CliError, locate, warn
from llmlog.cli._select import find_record, nth_latest, select
from llmlog.cli._show import render_record
from llmlog.cli._texts import fold, searchable_texts

__all__ = ["follow", "register", "text_matcher"]

TAIL_DEFAULT = 10


def register(commands: Subcommands, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``tail``, ``show`` and ``search``."""
    tail = commands.add_parser(
        "tail", parents=parents, help="one line per call, the most recent last"
    )
    tail.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="keep printing new calls (waiting for a log not written yet)",
    )
    add_filter_args(tail)
    tail.set_defaults(func=run_tail)

    show = commands.add_parser(
        "show",
        parents=parents,
        help="one whole call, pretty",
        description="Show one call: by its id, or the latest (-1, or latest), the one "
        "before (-2), and so on, by time. The filters narrow what latest and -N count "
        "(show latest --status error: the last failure).",
    )
    show.add_argument(
        "id",
        help="record id, or a unique prefix of it; the call's request id or response id; "
        "latest, or -N: the N-th most recent call (-1 is the latest)",
    )
    show.add_argument("--json", action="store_true", help="the record as indented JSON")
    add_filter_args(show, limit=False)
    show.set_defaults(func=run_show)

    search = commands.add_parser(
        "search",
        parents=parents,
        help="calls whose prompt or output contains TEXT",
        description="Look for TEXT (any case; an accented letter matches whether logged as "
        "one character or as a letter and a combining accent) in what was written: the "
        "system prompt, the messages' text, the answer's text, reasoning summary and refusal, "
        "and the names and arguments of tool calls. Not in roles, part types, ids, finish "
        "reasons or params (for ids: --request-id, --response-id, --prompt-hash). Exit 1 "
        "when no call matches.",
    )
    search.add_argument("text", help="text to look for, in any case")
    add_filter_args(search)
    search.set_defaults(func=run_search)


def _print(line: str) -> None:
    sys.stdout.write(line + "\n")


def run_tail(args: argparse.Namespace) -> int:
    """The most recent calls, one line each; with ``-f``, new ones as they are written."""
    location = locate(args.log)
    filters = Filters.from_args(args)
    files = location.files_so_far() if args.follow else location.existing_files()
    if args.follow and not files:  # started before the app's first call: wait for the log
        warn(f"nothing logged at {location.path} yet; waiting for the first call")
    for record in select(files, filters, default_limit=TAIL_DEFAULT):
        _print(one_line(record))
    if args.follow:
        sys.stdout.flush()
        keep = filters.predicate()
        for record in follow(location, shown=files):
            if record.get("event") == EVENT_CALL and keep(record):
                _print(one_line(record))
                sys.stdout.flush()
    return 0


_RECENT = re.compile(r"\s*(?:latest|-([0-9]+))\s*", re.IGNORECASE)


def run_show(args: argparse.Namespace) -> int:
    """One record, found by id prefix or as the N-th most recent, laid out for reading (or
    as JSON)."""
    files = locate(args.log).existing_files()
    filters = Filters.from_args(args)
    recent = _RECENT.fullmatch(args.id)
    if recent is not None:
        n = int(recent.group(1) or 1)
        if n < 1:
            raise CliError("-1 is the latest call, -2 the one before: there is no -0")
        record = nth_latest(files, filters, n)
    elif filters != Filters():
        raise CliError(
            "the filters choose among calls for show latest or show -N; an id names one call"
        )
    else:
        record = find_record(files, args.id)
    if args.json:
        _print(json_visible(orjson.dumps(record, option=orjson.OPT_INDENT_2)).decode())
    else:
        _print(render_record(record))
    return 0


def text_matcher(text: str) -> Callable[[dict[str, Any]], bool]:
    """True for a record whose texts (see ``_texts``) contain ``text``, in any case and
    whatever the Unicode form of its accents (:func:`fold`)."""
    wanted = fold(text)
    return lambda record: any(wanted in fold(piece) for piece in searchable_texts(record))


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
        sys.stderr.write(f"llmlog: no calls contain {args.text!r}\n{_id_hint(args.text)}")
        return 1
    return 0


# Ids people paste into ``search``: a prompt hash (sha256), a request id, a response id.
_ID_SHAPES = (
    (re.compile(r"[0-9a-fA-F]{64}"), "--prompt-hash"),
    (
        re.compile(r"req_\w+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
        "--request-id",
    ),
    (re.compile(r"(chatcmpl-|resp_|msg_|msgbatch_|cmpl-)[\w-]+"), "--response-id"),
)


def _id_hint(text: str) -> str:
    """For a ``search`` text shaped like an id (which is not searched: only what was
    written is), the option that finds a call by it; else nothing."""
    for shape, option in _ID_SHAPES:
        if shape.fullmatch(text.strip()):
            return (
                f"llmlog: {text.strip()!r} looks like an id, and search looks only in what "
                f"was written; to find a call by its id: llmlog tail {option} "
                f"{text.strip()} (or llmlog show {text.strip()} for a request or response "
                "id)\n"
            )
    return ""
