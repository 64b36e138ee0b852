"""Per-group call statistics, computed by DuckDB or by streaming in Python.

Both engines return the same :class:`GroupStats` rows for the same records
(the tests hold them to it): DuckDB for speed over big logs, Python so that
``stats`` and ``check`` work without the optional extra. Percentiles are
linear-interpolated, like DuckDB's ``quantile_cont``. A stream's output speed is its
output tokens over the time from its first token to its end (``latency_ms - ttft_ms``).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmlog._record import EVENT_CALL, EVENT_DROPPED, STATUS_ERROR
from llmlog.cli import _duck
from llmlog.cli._filters import Filters, template_name
from llmlog.cli._logs import CliError, iter_records, warn, warn_unknown_schema
from llmlog.cli._match import ERROR_KEY_SQL, error_key, service
from llmlog.cli._window import files_for_window

__all__ = ["GROUP_KEYS", "Aggregation", "GroupStats", "aggregate"]

QUANTILES = (0.5, 0.95, 0.99)
SPEED_QUANTILES = (0.5, 0.95)  # of output tokens per second

# --by value -> (key of a record in Python, the same key in SQL)
GROUP_KEYS: dict[str, str] = {
    "model": "model",
    "provider": "provider",
    "template": "template_name",
    "session": "session_id",
    "user": "user_id",
    "day": "substr(ts, 1, 10)",
    "status": "status",
    "server": "server_address",
    "service": "service",
    "error": ERROR_KEY_SQL,  # type:code; None for a call without an error
}

# --by values whose key a record holds somewhere else than under GROUP_KEYS[by].
_PYTHON_KEYS: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "template": template_name,
    "day": lambda record: record["ts"][:10] if isinstance(record.get("ts"), str) else None,
    "service": service,
    "error": error_key,
}

# Output tokens per second of a stream (see the module's docstring): only where both times
# and the output tokens are known and some time passed after the first token.
_SPEED_SQL = (
    "CASE WHEN stream AND latency_ms > ttft_ms AND usage.output_tokens IS NOT NULL "
    "THEN usage.output_tokens::DOUBLE / ((latency_ms - ttft_ms) / 1000) END"
)


# A failed call that reported no usage and streamed nothing (a 429, a 500) was not billed:
# without a cost it is still not unpriced (no ``*`` on its group's cost; for ``check`` no
# lower bound on its day). A stream that failed after its first content (``ttft_ms``) had
# tokens generated, and billed: unpriced. The one rule, for the Python reader and DuckDB.
_NOT_BILLED_SQL = (
    f"coalesce(status = '{STATUS_ERROR}' AND usage IS NULL AND ttft_ms IS NULL, false)"
)


def _not_billed(record: dict[str, Any]) -> bool:
    """A failed call without usage or content (see :data:`_NOT_BILLED_SQL`)."""
    return (
        record.get("status") == STATUS_ERROR
        and not isinstance(record.get("usage"), dict)
        and record.get("ttft_ms") is None
    )


class _DuckDBFailed(Exception):
    """DuckDB refused a file (e.g. a damaged .gz) that the Python reader can skip past."""


@dataclass
class GroupStats:
    """What ``stats`` reports for one group of calls."""

    key: str | None
    calls: int = 0
    errors: int = 0
    latency_ms: list[float | None] = field(default_factory=lambda: [None, None, None])
    ttft_ms: list[float | None] = field(default_factory=lambda: [None, None, None])
    output_tokens_per_s: list[float | None] = field(default_factory=lambda: [None, None])
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cost_usd: float | None = None
    unpriced: int = 0  # calls without a cost, failed calls without usage left out (not billed)
    unknown_usage: int = 0  # calls whose usage is null: not in the token sums

    @property
    def error_rate(self) -> float:
        """Share of calls with status ``error`` (0 when there are no calls)."""
        return self.errors / self.calls if self.calls else 0.0

    def as_json(self) -> dict[str, Any]:
        """The group as ``stats --json`` prints it (rates and times rounded; cost exact:
        a real call can cost less than a millionth of a dollar)."""
        return {
            "key": self.key,
            "calls": self.calls,
            "errors": self.errors,
            "error_rate": round(self.error_rate, 6),
            "latency_ms": _named_quantiles(self.latency_ms),
            "ttft_ms": _named_quantiles(self.ttft_ms),
            "output_tokens_per_s": _named_quantiles(self.output_tokens_per_s, SPEED_QUANTILES),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "unknown_usage_calls": self.unknown_usage,
            "cost_usd": self.cost_usd,
            "unpriced_calls": self.unpriced,
        }


@dataclass
class Aggregation:
    """The groups, and how many calls of the window went unlogged: the writer's queue was
    full and it logged an ``llmlog.dropped`` notice with their count instead."""

    groups: list[GroupStats]
    dropped: int = 0


def _named_quantiles(
    values: list[float | None], quantiles: tuple[float, ...] = QUANTILES
) -> dict[str, float | None]:
    return {
        f"p{round(q * 100)}": None if v is None else round(v, 3)
        for q, v in zip(quantiles, values, strict=True)
    }


def aggregate(
    files: list[Path], filters: Filters, by: str | None, engine: str = "auto"
) -> Aggregation:
    """One :class:`GroupStats` per group (or one for everything when ``by`` is None), and
    the calls dropped in the window (``filters``' time window only: a notice has no model)."""
    if by is not None and by not in GROUP_KEYS:
        raise CliError(f"cannot group by {by!r}; choose one of {', '.join(GROUP_KEYS)}")
    files = files_for_window(files, filters.since)  # a file older than --since: no call in it
    # No files (``check`` before the first call) are no calls; DuckDB refuses to read none.
    use_duckdb = bool(files) and (engine == "duckdb" or (engine == "auto" and _duck.available()))
    try:
        result = (
            _with_duckdb(files, filters, by) if use_duckdb else _with_python(files, filters, by)
        )
    except _DuckDBFailed as exc:
        if engine == "duckdb":
            raise CliError(f"DuckDB could not read the log ({exc}); try --engine python") from None
        warn(f"DuckDB could not read the log ({exc}); using the slower Python reader")
        result = _with_python(files, filters, by)
    _warn_dropped(result.dropped)
    if by == "day":
        result.groups.sort(key=lambda g: g.key or "")
    else:
        result.groups.sort(key=lambda g: (-g.calls, g.key or ""))
    return result


def _with_duckdb(files: list[Path], filters: Filters, by: str | None) -> Aggregation:
    con = _duck.connect()
    where, params = filters.sql_where()
    window, window_params = filters.window().sql_where()
    key = f"CAST({GROUP_KEYS[by]} AS VARCHAR)" if by else "NULL"
    quantiles = "[" + ", ".join(str(q) for q in QUANTILES) + "]"
    speed_quantiles = "[" + ", ".join(str(q) for q in SPEED_QUANTILES) + "]"
    query = f"""
        SELECT other,
               {key} AS key,
               count(*) AS calls,
               count(*) FILTER (WHERE status = 'error') AS errors,
               quantile_cont(latency_ms, {quantiles}) AS latency,
               quantile_cont(ttft_ms, {quantiles}) AS ttft,
               coalesce(sum(usage.input_tokens), 0),
               coalesce(sum(usage.output_tokens), 0),
               coalesce(sum(usage.cached_input_tokens), 0),
               fsum(cost_usd),
               count(*) FILTER (WHERE cost_usd IS NULL AND NOT {_NOT_BILLED_SQL}),
               count(*) FILTER (WHERE usage IS NULL),
               quantile_cont({_SPEED_SQL}, {speed_quantiles}),
               coalesce(sum("count"), 0)
        FROM {_duck.stats_source(files)}
        WHERE other LIKE 'broken:%' OR other = 'unknown-schema'
           OR (other = 'dropped' AND {window})
           OR (other IS NULL AND {where})
        GROUP BY ALL
    """
    import duckdb

    try:
        rows = con.execute(query, window_params + params).fetchall()
    except duckdb.Error as exc:
        raise _DuckDBFailed((str(exc).strip().splitlines() or [type(exc).__name__])[0]) from None
    finally:
        con.close()
    result = []
    dropped = unknown = 0  # summed: there is one such row per group (--by day: per day)
    broken: dict[str, int] = {}
    for other, *row in rows:
        if other == "dropped":
            dropped += row[-1]
            continue
        if other == "unknown-schema":
            unknown += row[1]
            continue
        if other is not None:  # one row per group (--by day: per day), one warning per file
            name = other.removeprefix("broken:")
            broken[name] = broken.get(name, 0) + row[1]
            continue
        latency, ttft, speed = row[3], row[4], row[11]
        result.append(
            GroupStats(
                key=row[0],
                calls=row[1],
                errors=row[2],
                latency_ms=list(latency) if latency is not None else [None] * len(QUANTILES),
                ttft_ms=list(ttft) if ttft is not None else [None] * len(QUANTILES),
                output_tokens_per_s=(
                    list(speed) if speed is not None else [None] * len(SPEED_QUANTILES)
                ),
                input_tokens=int(row[5]),
                output_tokens=int(row[6]),
                cached_input_tokens=int(row[7]),
                cost_usd=row[8],
                unpriced=row[9],
                unknown_usage=row[10],
            )
        )
    for name, count in broken.items():
        _duck.warn_broken_lines(name, count)
    warn_unknown_schema(unknown)
    if by is None and not result:
        result = [GroupStats(key=None)]
    return Aggregation(result, dropped)


def _warn_dropped(count: int) -> None:
    if count:
        warn(f"{count} calls in this window were not logged (llmlog's queue was full)")


class _Accumulator:
    """Running totals for one group; latencies kept as packed doubles (8 bytes each)."""

    __slots__ = ("cost_parts", "latencies", "speeds", "stats", "ttfts")

    def __init__(self, key: str | None) -> None:
        self.stats = GroupStats(key=key)
        self.latencies = array("d")
        self.ttfts = array("d")
        self.speeds = array("d")
        self.cost_parts: list[float] = []

    def add(self, record: dict[str, Any]) -> None:
        """Count one call record into the group."""
        stats = self.stats
        stats.calls += 1
        if record.get("status") == "error":
            stats.errors += 1
        _append_number(self.latencies, record.get("latency_ms"))
        _append_number(self.ttfts, record.get("ttft_ms"))
        usage = record.get("usage")
        if isinstance(usage, dict):
            stats.input_tokens += _whole(usage.get("input_tokens"))
            stats.output_tokens += _whole(usage.get("output_tokens"))
            stats.cached_input_tokens += _whole(usage.get("cached_input_tokens"))
            _append_number(self.speeds, _speed(record, usage))
        else:
            stats.unknown_usage += 1
        cost = record.get("cost_usd")
        if isinstance(cost, int | float) and not isinstance(cost, bool):
            self.cost_parts.append(float(cost))
            if len(self.cost_parts) > 4096:
                self.cost_parts = [math.fsum(self.cost_parts)]
        elif not _not_billed(record):
            stats.unpriced += 1

    def finish(self) -> GroupStats:
        """The group's statistics, percentiles computed."""
        stats = self.stats
        stats.latency_ms = _quantiles(self.latencies)
        stats.ttft_ms = _quantiles(self.ttfts)
        stats.output_tokens_per_s = _quantiles(self.speeds, SPEED_QUANTILES)
        stats.cost_usd = math.fsum(self.cost_parts) if self.cost_parts else None
        return stats


def _append_number(values: array[float], value: Any) -> None:
    if (number := _number(value)) is not None:
        values.append(number)


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _speed(record: dict[str, Any], usage: dict[str, Any]) -> float | None:
    """A stream's output tokens per second (see :data:`_SPEED_SQL`), or None."""
    tokens = usage.get("output_tokens")
    latency, ttft = _number(record.get("latency_ms")), _number(record.get("ttft_ms"))
    if record.get("stream") is not True or type(tokens) is not int:
        return None
    if latency is None or ttft is None or not latency > ttft:
        return None
    return float(tokens) / ((latency - ttft) / 1000)


def _whole(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _quantiles(
    values: array[float], quantiles: tuple[float, ...] = QUANTILES
) -> list[float | None]:
    if not values:
        return [None] * len(quantiles)
    ordered = sorted(values)
    result: list[float | None] = []
    for q in quantiles:
        position = q * (len(ordered) - 1)
        low = math.floor(position)
        high = min(low + 1, len(ordered) - 1)
        result.append(ordered[low] + (ordered[high] - ordered[low]) * (position - low))
    return result


def python_key(record: dict[str, Any], by: str | None) -> str | None:
    """The group a record falls in for ``--by`` (None: no grouping, or no value)."""
    if by is None:
        return None
    if by in _PYTHON_KEYS:
        return _PYTHON_KEYS[by](record)
    value = record.get(GROUP_KEYS[by])
    return value if isinstance(value, str) else None  # another type: missing, as in DuckDB


def _with_python(files: list[Path], filters: Filters, by: str | None) -> Aggregation:
    groups: dict[str | None, _Accumulator] = {}
    if by is None:
        groups[None] = _Accumulator(None)
    keep, in_window = filters.predicate(), filters.window().predicate()
    dropped = 0
    for record in iter_records(files):
        event = record.get("event")
        if event == EVENT_DROPPED and in_window(record):
            dropped += _whole(record.get("count"))
        if event != EVENT_CALL or not keep(record):
            continue
        key = python_key(record, by)
        accumulator = groups.get(key)
        if accumulator is None:
            accumulator = groups[key] = _Accumulator(key)
        accumulator.add(record)
    return Aggregation([accumulator.finish() for accumulator in groups.values()], dropped)
