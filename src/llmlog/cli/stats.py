"""``llmlog stats``: calls, errors, latency and TTFT percentiles, tokens and cost per group."""

from __future__ import annotations

import argparse
import sys

import orjson

from llmlog.cli._aggregate import GROUP_KEYS, GroupStats, aggregate
from llmlog.cli._filters import Filters, Subcommands, add_filter_args
from llmlog.cli._format import cost, counted, duration_ms, table, tokens
from llmlog.cli._logs import locate

__all__ = ["register"]


def register(commands: Subcommands, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``stats``."""
    parser = commands.add_parser(
        "stats",
        parents=parents,
        help="calls, error rate, latency/TTFT percentiles, tokens and cost",
        description="Summarise calls, overall or per group. Cost marked * leaves out "
        "calls that could not be priced; token counts marked * leave out calls whose usage "
        "is unknown (not reported, e.g. a failed call or a stream without include_usage). "
        "--json gives the counts of both (unpriced_calls, unknown_usage_calls) and the "
        "cost unrounded. Calls the app made but llmlog could not log (its queue was full) "
        "are not in the groups: a line under the table counts them, as does dropped_calls "
        "in --json. tok/s is the output tokens per second of streamed calls, from the "
        "first token to the end (output_tokens_per_s in --json); --by error groups failed "
        "calls by error type and code.",
    )
    parser.add_argument("--by", help=f"group by one of: {', '.join(GROUP_KEYS)}")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--engine",
        choices=("auto", "duckdb", "python"),
        default="auto",
        help="auto uses DuckDB when installed (fast on big logs)",
    )
    add_filter_args(parser, limit=False)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the statistics as a table, or as JSON with ``--json``."""
    files = locate(args.log).existing_files()
    result = aggregate(files, Filters.from_args(args), args.by, engine=args.engine)
    if args.json:
        summary = {
            "by": args.by,
            "groups": [g.as_json() for g in result.groups],
            "dropped_calls": result.dropped,
        }
        sys.stdout.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    sys.stdout.write(render(result.groups, args.by) + "\n")
    if result.dropped:
        sys.stdout.write(f"{_dropped_line(result.dropped)}\n")
    return 0


def _dropped_line(count: int) -> str:
    """Under the table: calls that are in no group because llmlog could not log them."""
    return f"not logged: {counted(count, 'call')} (llmlog's queue was full), not in the table"


def _speed(value: float | None) -> str:
    """Output tokens per second of streams; ``-`` without a stream to measure."""
    return "-" if value is None else f"{value:.1f}"


def render(groups: list[GroupStats], by: str | None) -> str:
    """The groups as a text table, one row each."""
    headers = [
        by or "all",
        "calls",
        "errors",
        "err%",
        "p50",
        "p95",
        "p99",
        "ttft p50",
        "ttft p95",
        "tok/s p50",
        "in",
        "out",
        "cached",
        "cost",
    ]
    rows = [
        [
            "(none)" if g.key is None and by else (g.key or "all"),
            str(g.calls),
            str(g.errors),
            f"{g.error_rate * 100:.1f}",
            *(duration_ms(v) for v in g.latency_ms),
            *(duration_ms(v) for v in g.ttft_ms[:2]),
            _speed(g.output_tokens_per_s[0]),
            tokens(g.input_tokens, g.unknown_usage),
            tokens(g.output_tokens, g.unknown_usage),
            tokens(g.cached_input_tokens, g.unknown_usage),
            cost(g.cost_usd, g.unpriced),
        ]
        for g in groups
    ]
    return table(headers, rows, right=frozenset(range(1, len(headers))))
