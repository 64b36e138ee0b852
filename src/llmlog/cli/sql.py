"""``llmlog sql``: DuckDB SQL over the logs, as a view named ``calls``."""

from __future__ import annotations

import argparse
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from llmlog.cli import _duck
from llmlog.cli._filters import Subcommands
from llmlog.cli._format import clip, counted, json_visible, table
from llmlog.cli._logs import CliError, locate

__all__ = ["register"]


def register(commands: Subcommands, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``sql``."""
    parser = commands.add_parser(
        "sql",
        parents=parents,
        help="run DuckDB SQL over the view `calls` (needs llmlog[query])",
        description="Every call record is a row of the view `calls`, typed as the record "
        "schema says. output, usage, error, template and process are structs (output.text, "
        "usage.input_tokens, template.name); params, messages, tags, redactions, truncated "
        "and the variable parts of structs (output.tool_calls, usage.raw) are JSON "
        "(messages->0->>'content', params->>'temperature'). ts is a TIMESTAMP in UTC, and "
        "the session's time zone is UTC. Broken lines and records of another schema are left "
        "out, with a warning; so is a value that does not fit its column's type (it reads as "
        "NULL), and the part of a damaged .gz file past the damage.",
        epilog='example: llmlog sql "SELECT model, count(*), sum(cost_usd) FROM calls '
        'GROUP BY model"',
    )
    parser.add_argument("query", help="a SQL query over the view `calls`")
    parser.add_argument("--json", action="store_true", help="rows as JSON lines")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the query over the view ``calls`` and print the rows."""
    con = _duck.connect()
    files = locate(args.log).existing_files()
    import duckdb

    try:
        with tempfile.TemporaryDirectory(prefix="llmlog-sql-") as scratch:
            _duck.create_calls_view(con, files, Path(scratch))
            result = _without_time_zones(con.sql(args.query))
            headers = list(result.columns) if result is not None else []
            rows = result.fetchall() if result is not None else []
    except duckdb.Error as exc:
        raise CliError(f"query failed: {_first_line(exc)}") from None
    finally:
        con.close()
    if args.json:
        for row in rows:
            sys.stdout.write(_json(dict(zip(headers, row, strict=True))) + "\n")
        return 0
    text_rows = [[_cell(value) for value in row] for row in rows]
    sys.stdout.write(table(headers, text_rows, right=frozenset()) + "\n")
    sys.stdout.write(f"({counted(len(rows), 'row')})\n")
    return 0


def _json(value: Any) -> str:
    """``value`` as JSON, whatever DuckDB returned; timestamps of the view are UTC: say so
    (``+00:00``). Values JSON has no type for (INTERVAL, BLOB) are their text."""
    data = orjson.dumps(_numbers_exact(value), default=str, option=orjson.OPT_NAIVE_UTC)
    return json_visible(data).decode()


def _numbers_exact(value: Any) -> Any:
    """DECIMAL and HUGEINT values as JSON numbers with every digit (``sum(cost_usd)::DECIMAL``
    is a number, not the text ``"0.5"``), which orjson alone cannot write; a MAP's keys as
    text (``histogram()`` has numbers for keys), as JSON's must be."""
    if isinstance(value, Decimal) and value.is_finite():
        return orjson.Fragment(str(value))
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return orjson.Fragment(str(value))
    if isinstance(value, dict):
        return {_key(key): _numbers_exact(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_numbers_exact(item) for item in value]
    return value


def _key(key: Any) -> str:
    # The key's JSON text, unquoted: 3, 2.5, 2026-01-02T10:00:00+00:00, null.
    if isinstance(key, str):
        return key
    text = _json(key)
    return str(orjson.loads(text)) if text.startswith('"') else text


def _without_time_zones(relation: Any) -> Any:
    """Zoned timestamps as plain UTC ones: the Python client needs pytz to fetch the former."""
    if relation is None or not any(str(t) == _ZONED for t in relation.types):
        return relation
    columns = [
        f"#{n}{'::TIMESTAMP' if str(kind) == _ZONED else ''} AS {_duck.quote_id(name)}"
        for n, (name, kind) in enumerate(zip(relation.columns, relation.types, strict=True), 1)
    ]
    return relation.project(", ".join(columns))


_ZONED = "TIMESTAMP WITH TIME ZONE"


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        # Costs are small numbers: 0.000073, not 7.3e-05.
        return f"{value:.8f}".rstrip("0").rstrip(".") if abs(value) < 1e9 else f"{value:.6g}"
    text = _json(value) if isinstance(value, dict | list | tuple) else str(value)
    return clip(text, 80)
