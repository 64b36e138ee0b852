"""``llmlog path``: where the logs are, and which files make them up."""

from __future__ import annotations

import argparse
import sys

from llmlog.cli._filters import Subcommands
from llmlog.cli._format import visible
from llmlog.cli._logs import locate

__all__ = ["register"]


def register(commands: Subcommands, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``path``."""
    parser = commands.add_parser("path", parents=parents, help="print where the logs are")
    parser.add_argument(
        "--files", action="store_true", help="list every log file (rotated ones too)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the log location (``--files``: every file, with its size)."""
    location = locate(args.log)
    if not args.files:
        sys.stdout.write(f"{visible(str(location.path.resolve()))}\n")
        return 0
    for path in location.existing_files():
        sys.stdout.write(f"{visible(str(path.resolve()))}\t{path.stat().st_size}\n")
    return 0
