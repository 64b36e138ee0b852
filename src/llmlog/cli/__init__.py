"""The ``llmlog`` command: read, summarise, search, check, export and replay logged calls.

Each subcommand lives in its own module with a ``register(subparsers)``
function; this module only builds the parser, forwards the two commands that
belong to other modules, and turns a user mistake into one line on stderr and
exit status 2 (a failed ``check`` exits 1), never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import sys
from collections.abc import Callable

from llmlog.cli import browse, check, export, paths, replay, sql, stats
from llmlog.cli._format import visible
from llmlog.cli._logs import CliError, reset_warnings

__all__ = ["main"]

# Commands implemented elsewhere that take their own arguments untouched.
_FORWARDED = {
    "demo": ("llmlog.demo", "run a small app that makes logged calls against a fake provider"),
    "fake-provider": ("llmlog.fake_provider", "serve a fake OpenAI/Anthropic API locally"),
}


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--log",
        metavar="PATH",
        help="log file or directory (default: $LLMLOG_OUTPUT, else ./llm_logs/llmlog.jsonl)",
    )
    parser = argparse.ArgumentParser(
        prog="llmlog",
        description="Read the LLM calls llmlog recorded: every rotated file of the log, "
        "compressed or not.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (stats, browse, sql, check, export, replay, paths):
        module.register(commands, [common])
    for name, (_, summary) in _FORWARDED.items():
        commands.add_parser(name, help=summary, add_help=False)
    return parser


def _forward(name: str, rest: list[str]) -> int:
    module_name = _FORWARDED[name][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name not in (module_name, *_parents(module_name)):
            raise
        sys.stderr.write(
            f"llmlog: error: `llmlog {name}` is not available ({module_name} is missing)\n"
        )
        return 2
    entry: Callable[[list[str]], int | None] = module.main
    try:
        return entry(rest) or 0
    except SystemExit as exc:  # argparse's --help and usage errors
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2


def _parents(dotted: str) -> list[str]:
    parts = dotted.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _tolerate_narrow_encodings() -> None:
    """Print what the terminal's encoding cannot show as escapes (``\\u4f60``), not crash:
    under a C or Latin-1 locale, logged prompts hold characters it has no byte for."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            with contextlib.suppress(ValueError, OSError):  # closed, or detached
                stream.reconfigure(errors="backslashreplace")


def main(argv: list[str] | None = None) -> int:
    """Run ``llmlog`` with ``argv`` (default: the process arguments); return the exit status."""
    args_list = sys.argv[1:] if argv is None else list(argv)
    if args_list and args_list[0] in _FORWARDED:
        return _forward(args_list[0], args_list[1:])
    _tolerate_narrow_encodings()
    parser = _parser()
    reset_warnings()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    try:
        status: int = args.func(args)
        sys.stdout.flush()
    except CliError as exc:
        sys.stderr.write(f"llmlog: error: {visible(str(exc))}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `llmlog tail | head`: the reader went away; that is not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return status
