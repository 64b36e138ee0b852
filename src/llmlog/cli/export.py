"""``llmlog export``: evaluation datasets and fine-tuning files from real traffic."""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import orjson

from llmlog.cli._chat import to_openai_chat
from llmlog.cli._cursor import add_cursor_option, open_cursor
from llmlog.cli._filters import Filters, Subcommands, add_filter_args, template_name
from llmlog.cli._format import json_visible, mapping, output_text, prompt_text, visible
from llmlog.cli._logs import CliError, LogLocation, locate
from llmlog.cli._output import gzip_named, opened, output_stream
from llmlog.cli._select import select

__all__ = ["FLAT_COLUMNS", "csv_safe", "flat_row", "register", "typed_row"]

FORMATS = ("jsonl", "csv", "parquet", "openai-chat")

# Columns of the csv and parquet exports; nested values are JSON text.
FLAT_COLUMNS = (
    "id", "ts", "provider", "operation", "model", "response_model", "server_address", "status",
    "latency_ms", "ttft_ms", "input_tokens", "output_tokens", "cached_input_tokens",
    "reasoning_tokens", "cost_usd", "price_source", "session_id", "user_id", "template",
    "template_version",
    "system", "prompt", "messages", "output", "finish_reason", "tool_calls", "error_type",
    "error_message", "prompt_hash",
)  # fmt: skip


def register(commands: Subcommands, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``export``."""
    parser = commands.add_parser(
        "export",
        parents=parents,
        help="write calls as jsonl, csv, parquet or an OpenAI fine-tuning file",
        description="jsonl: the records as logged. csv/parquet: one flat row per call "
        "(a csv text cell starting with = + - @ gets a leading ' so spreadsheets show it as text). "
        "openai-chat: {messages: [...], tools: [...]} per successful chat call (chat "
        "completions, Responses, Anthropic messages; text only), for fine-tuning and evals. "
        "Files are written in UTF-8; jsonl, openai-chat and csv are gzipped when -o ends "
        "in .gz.",
    )
    parser.add_argument("--format", choices=FORMATS, default="jsonl")
    parser.add_argument(
        "-o",
        "--output",
        type=_output_file,
        help="file to write (default, or -: standard output)",
    )
    add_filter_args(parser)
    add_cursor_option(parser)
    parser.set_defaults(func=run)


def _output_file(text: str) -> str | None:
    """``-o -`` is standard output, as for most tools (a file named ``-`` is ``-o ./-``)."""
    return None if text == "-" else text


def _json_text(value: Any) -> str | None:
    if value is None or value == [] or value == {}:
        return None
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def flat_row(record: dict[str, Any]) -> dict[str, Any]:
    """One call as a flat row of :data:`FLAT_COLUMNS` (numbers stay numbers)."""
    usage, output, error = (
        mapping(record, "usage"),
        mapping(record, "output"),
        mapping(record, "error"),
    )
    template = record.get("template")
    return {
        "id": record.get("id"),
        "ts": record.get("ts"),
        "provider": record.get("provider"),
        "operation": record.get("operation"),
        "model": record.get("model"),
        "response_model": record.get("response_model"),
        "server_address": record.get("server_address"),
        "status": record.get("status"),
        "latency_ms": record.get("latency_ms"),
        "ttft_ms": record.get("ttft_ms"),
        "input_tokens": usage.get("input_tokens"),
        "output_tokens": usage.get("output_tokens"),
        "cached_input_tokens": usage.get("cached_input_tokens"),
        "reasoning_tokens": usage.get("reasoning_tokens"),
        "cost_usd": record.get("cost_usd"),
        "price_source": record.get("price_source"),
        "session_id": record.get("session_id"),
        "user_id": record.get("user_id"),
        "template": template_name(record),
        "template_version": template.get("version") if isinstance(template, dict) else None,
        "system": _json_text(record.get("system")),
        "prompt": prompt_text(record) or None,
        "messages": _json_text(record.get("messages")),
        "output": output_text(record) or None,
        "finish_reason": output.get("finish_reason"),
        "tool_calls": _json_text(output.get("tool_calls")),
        "error_type": error.get("type"),
        "error_message": error.get("message"),
        "prompt_hash": record.get("prompt_hash"),
    }


# A spreadsheet reads a cell starting with one of these as a formula (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with every text cell that a spreadsheet would run as a formula made inert.

    Logged prompts and answers are untrusted; a leading ``'`` makes Excel, LibreOffice
    and Google Sheets show such a cell as text. Numbers are left as they are.
    """
    return {
        key: "'" + value if isinstance(value, str) and value.startswith(_FORMULA_STARTS) else value
        for key, value in row.items()
    }


def _refuse_inputs(output: str, location: LogLocation, files: list[Path]) -> None:
    """Refuse ``-o`` naming a file the log is read from, now or next time, before anything
    is opened: exporting into it would destroy the log or be counted as calls."""
    target = Path(output).expanduser()
    _refuse_files_read(output, target, location, files)
    _refuse_files_read_later(output, target, location)


def _refuse_files_read(output: str, target: Path, location: LogLocation, files: list[Path]) -> None:
    """``-o`` naming the log (or any file read, through a link too) would empty it before
    it is read."""
    inputs = [*files] if location.is_dir else [*files, location.path]
    for path in inputs:
        same = target.resolve() == path.resolve()
        with contextlib.suppress(OSError):  # one of them does not exist: not the same file
            same = same or os.path.samefile(target, path)
        if same:
            raise CliError(
                f"-o {output} is {'the log' if path == location.path else 'a file of the log'}"
                f" ({path}); exporting into it would destroy it: write to another file"
            )


def _refuse_files_read_later(output: str, target: Path, location: LogLocation) -> None:
    """``-o`` where the next read of the log would find it (a file of a ``--log`` directory,
    a name rotation gives the log): every exported call would then be counted twice."""
    if location.is_dir and target.resolve().parent == location.path.resolve():
        raise CliError(
            f"-o {output} is in the log directory {location.path}, whose files are all read as "
            "the log: the export would be counted as calls next time; write it elsewhere"
        )
    if location.rotated_name(target):
        raise CliError(
            f"-o {output} is named like a rotated file of the log {location.path}, so it would "
            "be read as part of the log: the export would be counted as calls next time; "
            "write it elsewhere"
        )


def run(args: argparse.Namespace) -> int:
    """Write the selected calls in the chosen format; the count goes to stderr."""
    location = locate(args.log)
    files = location.existing_files()
    if args.output is not None:
        _refuse_inputs(args.output, location, files)
    cursor = open_cursor(args, location, files)  # None without --cursor
    filters = Filters.from_args(args)
    records = select(files, filters) if cursor is None else cursor.records(files, filters)
    if args.format == "parquet":
        if args.output is None:
            raise CliError("parquet needs a file: add -o FILE.parquet")
        if gzip_named(args.output):
            raise CliError(
                f"-o {args.output}: a parquet file is compressed inside and is not gzipped; "
                "name it FILE.parquet"
            )
        _parquet_writer_available()  # before the file is created: no empty file on failure
        with output_stream(args.output) as out:
            count = _write_parquet(out, (flat_row(r) for r in records))
    elif args.format == "csv":
        # On a terminal a cell is read, not parsed: its control characters are spelled out.
        to_terminal = args.output is None and sys.stdout.isatty()
        with opened(args.output, binary=False) as out:
            writer = csv.DictWriter(out, fieldnames=FLAT_COLUMNS)
            writer.writeheader()
            count = 0
            for count, record in enumerate(records, start=1):  # noqa: B007 - count is used after
                row = csv_safe(flat_row(record))
                writer.writerow(_visible_cells(row) if to_terminal else row)
    elif args.format == "openai-chat":
        count = _write_chat(args.output, records)
    else:
        with opened(args.output, binary=True) as out:
            count = 0
            for record in records:
                out.write(_json_line(record, args.output))
                count += 1
    if cursor is not None:
        cursor.save()  # only now: the calls read are all written out
    if args.output is not None:
        sys.stderr.write(f"llmlog: wrote {count} calls to {args.output}\n")
    return 0


def _visible_cells(row: dict[str, Any]) -> dict[str, Any]:
    return {key: visible(value) if isinstance(value, str) else value for key, value in row.items()}


def _json_line(value: Any, output: str | None) -> bytes:
    """One JSON line: a file gets the exact bytes; standard output the same JSON with the
    characters a terminal acts on written as escapes (:func:`json_visible`)."""
    line = orjson.dumps(value) + b"\n"
    return line if output is not None else json_visible(line)


def _write_chat(output: str | None, records: Iterable[dict[str, Any]]) -> int:
    skipped: Counter[str] = Counter()
    count = 0
    with opened(output, binary=True) as out:
        for record in records:
            example, reason = to_openai_chat(record)
            if example is None:
                skipped[reason] += 1
                continue
            out.write(_json_line(example, output))
            count += 1
    if skipped:
        reasons = ", ".join(f"{n} {why}" for why, n in skipped.most_common())
        sys.stderr.write(f"llmlog: skipped {sum(skipped.values())} calls ({reasons})\n")
    return count


def _parquet_writer_available() -> None:
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        from llmlog.cli import _duck

        if not _duck.available():
            raise CliError(_NO_PARQUET) from None


_NO_PARQUET = "parquet needs pyarrow or DuckDB: pip install 'llmlog[parquet]' (or 'llmlog[query]')"


# Typed columns of the parquet export; every other column is text.
_NUMBERS = ("latency_ms", "ttft_ms", "cost_usd")
_COUNTS = ("input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens")
_INT64 = range(-(2**63), 2**63)


def typed_row(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with every value its parquet column cannot hold made missing (None), as
    ``stats`` counts it: ``"cost_usd": "12.5"`` is unpriced, ``"ts": 5`` no time."""
    typed: dict[str, Any] = {}
    for name, value in row.items():
        if name in _NUMBERS:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        elif name in _COUNTS:
            ok = isinstance(value, int) and not isinstance(value, bool) and value in _INT64
        else:
            ok = isinstance(value, str)
        typed[name] = value if ok else None
    return typed


def _write_parquet(out: IO[bytes], rows: Iterable[dict[str, Any]]) -> int:
    """Parquet through pyarrow (``llmlog[parquet]``), else DuckDB (``llmlog[query]``)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return _write_parquet_duckdb(out, rows)
    types = {**dict.fromkeys(_NUMBERS, pa.float64()), **dict.fromkeys(_COUNTS, pa.int64())}
    schema = pa.schema([(name, types.get(name, pa.string())) for name in FLAT_COLUMNS])
    rows = (typed_row(row) for row in rows)
    count = 0
    try:
        with pq.ParquetWriter(out, schema) as writer:
            batch: list[dict[str, Any]] = []
            for row in rows:
                batch.append(row)
                count += 1
                if len(batch) >= 10_000:
                    writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                    batch = []
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    except OSError as exc:
        raise CliError(f"cannot write the parquet file: {exc}") from None
    return count


def _write_parquet_duckdb(path: Path | IO[bytes], rows: Iterable[dict[str, Any]]) -> int:
    """Parquet through DuckDB, to the file ``path`` (moved there when finished) or into
    the stream ``path``."""
    from llmlog.cli import _duck

    con = _duck.connect() if _duck.available() else None
    if con is None:
        raise CliError(_NO_PARQUET)
    # Staging file and DuckDB's output in a directory of their own, readable by the owner
    # only (both hold the prompts); the finished file is then moved to its place.
    folder = path.parent if isinstance(path, Path) else None
    private = Path(tempfile.mkdtemp(dir=folder, prefix=".llmlog-export-"))
    tmp, written = private / "rows.jsonl", private / "out.parquet"
    count = 0
    try:
        with tmp.open("wb") as staging:
            for row in rows:
                staging.write(orjson.dumps(typed_row(row)) + b"\n")
                count += 1
        columns = ", ".join(
            f"'{name}': '{_DUCK_TYPES.get(name, 'VARCHAR')}'" for name in FLAT_COLUMNS
        )
        target = str(written).replace("'", "''")
        source = _duck.literal(str(tmp)).replace("'", "''")
        con.execute(
            f"COPY (SELECT * FROM read_json('{source}', format='newline_delimited', "
            f"columns={{{columns}}})) TO '{target}' (FORMAT parquet)"
        )
        if isinstance(path, Path):
            os.chmod(written, 0o600)
            os.replace(written, path)
        else:
            with written.open("rb") as finished:
                shutil.copyfileobj(finished, path)
    finally:
        shutil.rmtree(private, ignore_errors=True)
        con.close()
    return count


_DUCK_TYPES = {**dict.fromkeys(_NUMBERS, "DOUBLE"), **dict.fromkeys(_COUNTS, "BIGINT")}
