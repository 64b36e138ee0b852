"""Choosing records: call records that pass the filters, the most recent N of them."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from llmlog._record import EVENT_CALL
from llmlog.cli._filters import Filters
from llmlog.cli._logs import CliError, iter_records

__all__ = ["call_records", "find_record", "select"]


def call_records(
    files: list[Path],
    filters: Filters,
    needle: bytes | None = None,
    also: Callable[[dict[str, Any]], bool] | None = None,
) -> Iterator[dict[str, Any]]:
    """Every call record passing ``filters`` (and ``also``), oldest first, no limit.

    Other events in the log (such as notices of dropped records) are skipped.
    """
    keep = filters.predicate()
    for record in iter_records(files, needle=needle):
        if record.get("event") != EVENT_CALL or not keep(record):
            continue
        if also is None or also(record):
            yield record


def select(
    files: list[Path],
    filters: Filters,
    needle: bytes | None = None,
    also: Callable[[dict[str, Any]], bool] | None = None,
    default_limit: int | None = None,
) -> Iterable[dict[str, Any]]:
    """Like :func:`call_records`, keeping only the most recent ``--limit`` records.

    Most recent by the records' time, not by file: a directory may hold several logs
    (``api.jsonl``, ``worker.jsonl``), each file covering any stretch of time. The
    ones kept come oldest first; records of the same time stay in the order read.
    """
    records = call_records(files, filters, needle, also)
    limit = filters.limit or default_limit
    if limit is None:
        return records
    newest = heapq.nlargest(limit, enumerate(records), key=_time_then_order)
    return [record for _, record in sorted(newest, key=_time_then_order)]


def _time_then_order(item: tuple[int, dict[str, Any]]) -> tuple[str, int]:
    ts = item[1].get("ts")
    return (ts if isinstance(ts, str) else "", item[0])


def find_record(files: list[Path], prefix: str) -> dict[str, Any]:
    """The one call record whose id starts with ``prefix``; a clear error otherwise."""
    prefix = prefix.strip().upper()  # ULIDs are read in any case
    if not prefix:
        raise CliError("give a record id (or a unique prefix of it)")
    found = [
        record
        for record in call_records(files, Filters(), needle=prefix.encode())
        if str(record.get("id", "")).startswith(prefix)
    ]
    if not found:
        raise CliError(f"no record with an id starting {prefix!r}")
    ids = sorted({str(record.get("id")) for record in found})
    if len(ids) > 1:
        shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
        raise CliError(f"{prefix!r} matches {len(ids)} records ({shown}); give more characters")
    return found[-1]
