"""DuckDB over the log files (the optional ``llmlog[query]`` extra).

DuckDB is imported here only, and only when a command needs it, so every
other command works without it. Two relations are offered: ``stats_source``
reads just the columns ``stats`` needs with fixed types (fast, and a record of
an unexpected shape cannot change the types), and ``create_calls_view``
exposes whole records for ``llmlog sql``, also with the schema's types: types
DuckDB guessed from a sample would turn values past the sample into NULL.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from llmlog._record import EVENT_CALL, EVENT_DROPPED, FIELDS, SCHEMA_VERSION, USAGE_FIELDS
from llmlog.cli._format import counted
from llmlog.cli._held import held_name, shown_name
from llmlog.cli._logs import CliError, iter_lines, warn, warn_unknown_schema

__all__ = [
    "available",
    "connect",
    "create_calls_view",
    "literal",
    "quote_id",
    "stats_source",
    "warn_broken_lines",
]

INSTALL_HINT = "DuckDB is not installed; install it with: pip install 'llmlog[query]'"
# DuckDB's reader keeps buffers of this size per thread, so memory grows with
# it (16 MB: ~170 MB peak; 512 MB: ~780 MB). A record larger than this (many
# fields near LLMLOG_MAX_FIELD_CHARS) is skipped like a damaged line.
MAX_OBJECT_BYTES = 16 * 1024 * 1024

# What ``stats`` reads, as JSON: a value of the wrong type (``"cost_usd": "12.5"``) is then
# missing, as for the Python reader, instead of whatever DuckDB's cast makes of it.
_STATS_TEXT = (
    *("ts", "provider", "model", "response_model", "status", "session_id", "user_id"),
    "server_address",
    *("request_id", "response_id", "prompt_hash"),  # --request-id and the like
)
_STATS_NUMBERS = ("latency_ms", "ttft_ms", "cost_usd")
_STATS_TOKENS = ("input_tokens", "output_tokens", "cached_input_tokens")
_STATS_COLUMNS = {
    "event": "VARCHAR",
    "id": "VARCHAR",
    **dict.fromkeys((*_STATS_TEXT, *_STATS_NUMBERS, "usage", "template", "schema"), "JSON"),
    "error": "JSON",  # for --error: its type, message, code, causes and status code
    "process": "JSON",  # for --service
    "output": "JSON",  # for --tool
    "stream": "JSON",  # for the output tokens per second of streams
    "count": "JSON",  # of an llmlog.dropped event: calls the writer had to drop
}


def _text(value: str) -> str:
    return f"CASE WHEN json_type({value}) = 'VARCHAR' THEN ({value})->>'$' END"


def _number(value: str) -> str:
    numeric = "('BIGINT', 'UBIGINT', 'DOUBLE')"
    return f"CASE WHEN json_type({value}) IN {numeric} THEN ({value})::DOUBLE END"


def _whole(value: str) -> str:
    return f"CASE WHEN json_type({value}) IN ('BIGINT', 'UBIGINT') THEN ({value})::HUGEINT END"


def _texts(value: str, path: str) -> str:
    """The strings at the JSON ``path`` (``$.a[*].b``) of ``value``, as a list."""
    found = f"list_filter(json_extract({value}, '{path}'), lambda v: json_type(v) = 'VARCHAR')"
    return f"list_transform({found}, lambda v: v->>'$')"


def _typed_stats_columns() -> str:
    usage = ", ".join(f"{key} := {_whole(f'usage->{_quote(key)}')}" for key in _STATS_TOKENS)
    errors = ("type", "message", "code")
    causes = ", ".join(_texts("error", f"$.cause[*].{key}") for key in ("type", "message"))
    return ", ".join(
        [
            "event",
            "id",
            *(f"{_text(name)} AS {name}" for name in _STATS_TEXT),
            *(f"{_number(name)} AS {name}" for name in _STATS_NUMBERS),
            f"CASE WHEN json_type(usage) = 'OBJECT' THEN struct_pack({usage}) END AS usage",
            f"{_whole(quote_id('count'))} AS {quote_id('count')}",
            *(f"{_text(f'error->{_quote(key)}')} AS error_{key}" for key in errors),
            f"list_concat({causes}) AS error_causes",  # see ``_match``: the Python reader's twins
            f"{_whole('error->' + _quote('status_code'))} AS error_status_code",
            f"coalesce({_text('template->' + _quote('name'))}, {_text('template')}) "
            "AS template_name",
            f"{_text('process->' + _quote('service'))} AS service",
            f"{_texts('output', '$.tool_calls[*].name')} AS tool_names",
            "coalesce(json_type(stream) = 'BOOLEAN' AND stream::BOOLEAN, false) AS stream",
        ]
    )


# The ``calls`` view's types: a dict is a struct (keys the log holds beyond these are
# added as JSON); JSON for values whose shape varies. Any other top-level field is VARCHAR.
_CALL_TYPES: dict[str, str | dict[str, str]] = {
    "schema": "BIGINT",
    "ts": "TIMESTAMP",  # UTC: the record's ts always is; TIMESTAMPTZ would need pytz to fetch
    "params": "JSON",
    "messages": "JSON",
    "output": {
        "text": "VARCHAR",
        "tool_calls": "JSON",
        "finish_reason": "VARCHAR",
        "refusal": "VARCHAR",
        "parsed": "JSON",
        "thinking": "VARCHAR",
    },
    "usage": {
        **dict.fromkeys(USAGE_FIELDS, "BIGINT"),
        "raw": "JSON",
    },
    "cost_usd": "DOUBLE",
    "latency_ms": "DOUBLE",
    "ttft_ms": "DOUBLE",
    "stream": "BOOLEAN",
    "error": {"type": "VARCHAR", "message": "VARCHAR", "status_code": "BIGINT", "body": "JSON"},
    "template": {"name": "VARCHAR", "version": "VARCHAR", "variables": "JSON"},
    "tags": "JSON",
    "redactions": "JSON",
    "truncated": "JSON",
    "process": {
        "service": "VARCHAR",
        "pid": "BIGINT",
        "host": "VARCHAR",
        "sdk": "JSON",
        "llmlog": "VARCHAR",
    },
}
_LOSSLESS = ("VARCHAR", "JSON")  # every JSON value fits these


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
    con.execute("SET TimeZone = 'UTC'")  # the log's times are UTC, not this machine's zone
    return con


def _file_list(files: list[Path]) -> str:
    """The files as DuckDB reads them: an active file through the descriptor the command
    opened it with (:mod:`llmlog.cli._held`), so a rotation meanwhile loses no call."""
    return "[" + ", ".join(_quote(literal(held_name(path))) for path in files) + "]"


_GLOB_CHARS = re.compile(r"([*?\[])")


def literal(path: str) -> str:
    """``path`` as a DuckDB glob matching only itself: DuckDB expands ``*``, ``?`` and
    ``[`` in every file name it reads, so ``llm*.jsonl`` would read other files too."""
    return _GLOB_CHARS.sub(r"[\1]", path)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def stats_source(files: list[Path]) -> str:
    """A SQL subquery yielding one typed row per line, with ``template_name`` and ``other``.

    ``other`` is NULL for a call record, ``'dropped'`` for a notice of calls
    the writer dropped, ``'unknown-schema'`` for a record of another schema, and
    ``'broken:<file>'`` for a line that is not a JSON object (a writer that
    crashed mid-line), so the caller can count those apart and say so. Other
    events are left out.
    """
    columns = "{" + ", ".join(f"{_quote(k)}: {_quote(v)}" for k, v in _STATS_COLUMNS.items()) + "}"
    return (
        f"(SELECT {_typed_stats_columns()}, "
        "CASE WHEN event IS NULL THEN 'broken:' || filename "
        f"WHEN NOT {_schema_is_ours('schema')} THEN 'unknown-schema' "
        f"WHEN event = '{EVENT_DROPPED}' THEN 'dropped' END AS other "
        f"FROM read_json({_file_list(files)}, format='newline_delimited', columns={columns}, "
        f"ignore_errors=true, filename=true, maximum_object_size={MAX_OBJECT_BYTES}) "
        f"WHERE event IS NULL OR event IN ('{EVENT_CALL}', '{EVENT_DROPPED}'))"
    )


def _schema_is_ours(column: str) -> str:
    # Exactly the integer 1, as the Python reader checks (not "1", not 1.0).
    return (
        f"coalesce(json_type({column}) IN ('UBIGINT', 'BIGINT') "
        f"AND {column}::BIGINT = {SCHEMA_VERSION}, false)"
    )


def _struct(fields: dict[str, str]) -> str:
    return "STRUCT(" + ", ".join(f"{quote_id(name)} {kind}" for name, kind in fields.items()) + ")"


def _survey(con: Any, files: list[Path]) -> dict[str, Any]:
    """One pass over the call records as untyped JSON: how many are of another schema,
    the keys of each struct column, values the view's types would turn into NULL, and
    the broken lines of each file (as ``stats_source`` counts them: no event)."""
    untyped = {name: "VARCHAR" if name == "event" else "JSON" for name in FIELDS}
    read = (
        f"read_json({_file_list(files)}, format='newline_delimited', "
        "columns={" + ", ".join(f"{_quote(k)}: {_quote(v)}" for k, v in untyped.items()) + "}, "
        f"ignore_errors=true, filename=true, maximum_object_size={MAX_OBJECT_BYTES})"
    )
    ours = _schema_is_ours("schema")
    checks: dict[str, str] = {
        "broken": "histogram(filename) FILTER (WHERE event IS NULL)",
        "unknown_schema": f"count(*) FILTER (WHERE event IS NOT NULL AND NOT {ours})",
    }
    for name, kind in _CALL_TYPES.items():
        if isinstance(kind, dict):
            # DISTINCT: a list per distinct key set (a handful), not one per record, which
            # held every record's keys in memory at once (1.4 GB for a 1 GB log).
            checks[f"keys:{name}"] = (
                f"list_distinct(flatten(list(DISTINCT json_keys({name})) "
                f"FILTER (WHERE {ours} AND json_type({name}) = 'OBJECT')))"
            )
            checks[f"bad:{name}"] = (
                f"count(*) FILTER (WHERE {ours} AND json_type({name}) NOT IN ('OBJECT', 'NULL'))"
            )
            for key, leaf in kind.items():
                if leaf not in _LOSSLESS:
                    value = f"json_extract({name}, '$.{key}')"
                    checks[f"bad:{name}.{key}"] = _misfits(ours, value, leaf)
        elif kind not in _LOSSLESS:
            checks[f"bad:{name}"] = _misfits(ours, name, kind)
    select = ", ".join(f"{expr} AS {quote_id(label)}" for label, expr in checks.items())
    where = f"event IS NULL OR event = '{EVENT_CALL}'"
    row = con.execute(f"SELECT {select} FROM {read} WHERE {where}").fetchone()
    return dict(zip(checks, row, strict=True))


def _readable_survey(con: Any, files: list[Path], scratch: Path) -> dict[str, Any]:
    """:func:`_survey`, with each .gz file DuckDB cannot read (cut short, empty) replaced
    in ``files`` by a copy of its readable part: DuckDB fails the whole query on it, where
    the Python reader warns and reads on. ``"broken"`` names the log's files."""
    import duckdb

    copies: dict[str, str] = {}  # the copy's name -> the file it stands for
    while True:
        try:
            survey = _survey(con, files)
        except duckdb.IOException as exc:
            damaged = [n for n, f in enumerate(files) if f.suffix == ".gz" and str(f) in str(exc)]
            if not damaged:
                raise
            n = max(damaged, key=lambda n: len(str(files[n])))
            copy = scratch / f"{len(copies)}.jsonl"
            _copy_readable_part(files[n], copy)
            copies[str(copy)] = str(files[n])
            files[n] = copy
            continue
        broken = survey["broken"] or {}
        survey["broken"] = {copies.get(name, name): count for name, count in broken.items()}
        return survey


def _copy_readable_part(path: Path, copy: Path) -> None:
    with copy.open("wb") as out:
        for _, line in iter_lines(path):  # warns where it stops
            out.write(line if line.endswith(b"\n") else line + b"\n")
    if not path.stat().st_size:  # Python reads no gzip data as nothing, DuckDB as an error
        warn(f"{path}: stopped reading at a damaged part (an empty file, not gzip data)")


def warn_broken_lines(name: str, count: int) -> None:
    """The warning for lines DuckDB skipped in one file, worded as the Python reader's."""
    warn(
        f"{shown_name(name)}: skipped {counted(count, 'line')} (not a complete JSON record, "
        f"or not llmlog's, or larger than {MAX_OBJECT_BYTES // 2**20} MB)"
    )


def _misfits(ours: str, value: str, kind: str) -> str:
    """SQL counting the records whose ``value`` is there but does not convert to ``kind``."""
    return (
        f"count(*) FILTER (WHERE {ours} AND json_type({value}) <> 'NULL' "
        f"AND TRY_CAST({value} AS {kind}) IS NULL)"
    )


def quote_id(name: str) -> str:
    """``name`` as a SQL identifier, whatever characters it holds."""
    return '"' + name.replace('"', '""') + '"'


def create_calls_view(con: Any, files: list[Path], scratch: Path) -> None:
    """The ``calls`` view: every schema-1 call record of every file, nested fields as structs.

    Warns, once each, about broken lines and records of another schema (left
    out), about values that do not fit the view's types (NULL in the view), and
    about a damaged .gz file, whose readable part is copied to ``scratch``
    (which must outlive the view).
    """
    files = list(files)
    survey = _readable_survey(con, files, scratch)
    for name, count in survey.pop("broken").items():
        warn_broken_lines(name, count)
    warn_unknown_schema(survey["unknown_schema"] or 0)
    columns: dict[str, str] = {}
    misfits: list[str] = []
    for name in FIELDS:
        kind = _CALL_TYPES.get(name, "VARCHAR")
        if isinstance(kind, dict):
            fields = dict(kind)
            for key in sorted(survey[f"keys:{name}"] or ()):
                fields.setdefault(key, "JSON")  # a key the log has beyond the schema's
            kind = _struct(fields)
        columns[name] = kind
    for label, value in survey.items():
        if label.startswith("bad:") and value:
            misfits.append(f"{label[4:]} ({value})")
    if misfits:
        warn(
            "some values do not fit the type of their column and read as NULL in `calls`: "
            + ", ".join(misfits)
        )
    # Read as JSON to keep exactly the records the warning did not count as skipped:
    # a BIGINT column would turn "schema": "1" into 1.
    columns["schema"] = "JSON"
    spec = "{" + ", ".join(f"{_quote(k)}: {_quote(v)}" for k, v in columns.items()) + "}"
    con.execute(
        "CREATE VIEW calls AS SELECT * REPLACE (schema::BIGINT AS schema) FROM read_json("
        f"{_file_list(files)}, format='newline_delimited', columns={spec}, "
        f"ignore_errors=true, maximum_object_size={MAX_OBJECT_BYTES}) "
        f"WHERE event = '{EVENT_CALL}' AND {_schema_is_ours('schema')}"
    )
