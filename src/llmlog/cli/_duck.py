"""DuckDB over the log files (the optional ``llmlog[query]`` extra).

DuckDB is imported here only, and only when a command needs it, so every
other command works without it. Two relations are offered: ``stats_source``
reads just the columns ``stats`` needs with fixed types (fast, and a record of
an unexpected shape cannot change the types), and ``create_calls_view``
exposes whole records, types inferred, for ``llmlog sql``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmlog._record import EVENT_CALL, EVENT_DROPPED
from llmlog.cli._logs import CliError

__all__ = ["available", "connect", "create_calls_view", "stats_source"]

INSTALL_HINT = "DuckDB is not installed; install it with: pip install 'llmlog[query]'"
# DuckDB's reader keeps buffers of this size per thread, so memory grows with
# it (16 MB: ~170 MB peak; 512 MB: ~780 MB). A record larger than this (many
# fields near LLMLOG_MAX_FIELD_CHARS) is skipped like a damaged line.
MAX_OBJECT_BYTES = 16 * 1024 * 1024

_STATS_COLUMNS = {
    "event": "VARCHAR",
    "id": "VARCHAR",
    "ts": "VARCHAR",
    "provider": "VARCHAR",
    "model": "VARCHAR",
    "response_model": "VARCHAR",
    "status": "VARCHAR",
    "latency_ms": "DOUBLE",
    "ttft_ms": "DOUBLE",
    "usage": "STRUCT(input_tokens BIGINT, output_tokens BIGINT, cached_input_tokens BIGINT)",
    "cost_usd": "DOUBLE",
    "session_id": "VARCHAR",
    "user_id": "VARCHAR",
    "template": "JSON",
    "count": "BIGINT",  # of an llmlog.dropped event: calls the writer had to drop
}


def available() -> bool:
    """Whether the optional DuckDB extra is installed (without importing it twice)."""
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return False
    return True


def connect() -> Any:
    """An in-memory DuckDB connection, or a :class:`CliError` saying how to install it."""
    try:
        import duckdb
    except ImportError:
        raise CliError(INSTALL_HINT) from None
    con = duckdb.connect(":memory:")
    con.execute("SET enable_progress_bar = false")  # it would draw on our stderr
    return con


def _file_list(files: list[Path]) -> str:
    return "[" + ", ".join(_quote(str(path)) for path in files) + "]"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def stats_source(files: list[Path]) -> str:
    """A SQL subquery yielding one typed row per line, with ``template_name`` and ``other``.

    ``other`` is NULL for a call record, ``'dropped'`` for a notice of calls
    the writer dropped, and ``'broken:<file>'`` for a line that is not a JSON
    object (a writer that crashed mid-line), so the caller can count those
    apart and say so. Other events are left out.
    """
    columns = "{" + ", ".join(f"{_quote(k)}: {_quote(v)}" for k, v in _STATS_COLUMNS.items()) + "}"
    return (
        "(SELECT *, coalesce(template->>'name', "
        "CASE WHEN json_type(template) = 'VARCHAR' THEN template->>'$' END) AS template_name, "
        "CASE WHEN event IS NULL THEN 'broken:' || filename "
        f"WHEN event = '{EVENT_DROPPED}' THEN 'dropped' END AS other "
        f"FROM read_json({_file_list(files)}, format='newline_delimited', columns={columns}, "
        f"ignore_errors=true, filename=true, maximum_object_size={MAX_OBJECT_BYTES}) "
        f"WHERE event IS NULL OR event IN ('{EVENT_CALL}', '{EVENT_DROPPED}'))"
    )


def create_calls_view(con: Any, files: list[Path]) -> None:
    """The ``calls`` view: every record of every file, nested fields as structs."""
    con.execute(
        "CREATE VIEW calls AS SELECT * FROM read_json("
        f"{_file_list(files)}, format='newline_delimited', union_by_name=true, "
        f"ignore_errors=true, maximum_object_size={MAX_OBJECT_BYTES}) "
        "WHERE event = 'llm.call'"
    )
