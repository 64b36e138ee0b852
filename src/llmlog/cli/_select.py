"""Choosing records: call records that pass the filters, the most recent N of them."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from llmlog._record import EVENT_CALL
from llmlog.cli._filters import Filters
from llmlog.cli._logs import CliError, located_records
from llmlog.cli._reread import records_at

__all__ = ["call_records", "find_record", "nth_latest", "select"]


def call_records(
    files: list[Path],
    filters: Filters,
    needle: bytes | None = None,
    also: Callable[[dict[str, Any]], bool] | None = None,
) -> Iterator[dict[str, Any]]:
    """Every call record passing ``filters`` (and ``also``), oldest first, no limit.

    Other events in the log (such as notices of dropped records) are skipped.
    """
    return (record for _, _, record in _located_calls(files, filters, needle, also))


def _located_calls(
    files: list[Path],
    filters: Filters,
    needle: bytes | None,
    also: Callable[[dict[str, Any]], bool] | None,
) -> Iterator[tuple[int, int, dict[str, Any]]]:
    keep = filters.predicate()
    needle = filters.needle() if needle is None else needle
    for index, number, record in located_records(files, needle=needle, since=filters.since):
        if record.get("event") != EVENT_CALL or not keep(record):
            continue
        if also is None or also(record):
            yield index, number, record


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
    limit = filters.limit or default_limit
    if limit is None:
        return call_records(files, filters, needle, also)
    # Only where each record is and what it is sorted by is kept while choosing (a record
    # can be large: N of them at once could be gigabytes); the N chosen are read again, one
    # at a time, as they are written out, each file read forward once (``_reread``).
    keys = (
        (_time(record), order, index, offset, record.get("id"))
        for order, (index, offset, record) in enumerate(
            _located_calls(files, filters, needle, also)
        )
    )
    newest = sorted(heapq.nlargest(limit, keys, key=lambda key: key[:2]))
    return records_at(files, [key[2:] for key in newest])


def nth_latest(files: list[Path], filters: Filters, n: int) -> dict[str, Any]:
    """The ``n``-th most recent call passing ``filters`` (1: the latest), by the records'
    time as for ``--limit``; a clear error when there are fewer."""
    chosen = list(select(files, filters, default_limit=n))
    if len(chosen) < n:
        count = f"only {len(chosen)}" if chosen else "no"
        calls = "call" if len(chosen) == 1 else "calls"
        matching = "" if filters == Filters() else " matching the filters"
        raise CliError(
            f"cannot show call -{n}: the log has {count} {calls}{matching} "
            "(-1 is the latest, -2 the one before)"
        )
    return chosen[0]


def _time(record: dict[str, Any]) -> str:
    ts = record.get("ts")
    return ts if isinstance(ts, str) else ""


def find_record(files: list[Path], wanted: str) -> dict[str, Any]:
    """The one call record whose id starts with ``wanted``, else whose request id or response
    id is ``wanted`` (the id an error message or the provider's dashboard shows); a clear
    error otherwise."""
    prefix = wanted.strip().upper()  # ULIDs are read in any case
    if not prefix:
        raise CliError("give a record id (or a unique prefix of it)")
    found = [
        record
        for record in call_records(files, Filters(), needle=prefix.encode())
        if str(record.get("id", "")).startswith(prefix)
    ]
    if not found:
        return _by_provider_id(files, wanted.strip(), prefix)
    ids = sorted({str(record.get("id")) for record in found})
    if len(ids) > 1:
        shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
        raise CliError(f"{prefix!r} matches {len(ids)} records ({shown}); give more characters")
    return found[-1]


def _by_provider_id(files: list[Path], wanted: str, prefix: str) -> dict[str, Any]:
    """The one call record whose request id or response id is ``wanted`` exactly."""
    fields = ("request_id", "response_id")
    found = list(
        call_records(
            files,
            Filters(),
            needle=Filters(request_id=wanted).needle(),
            also=lambda record: any(record.get(field) == wanted for field in fields),
        )
    )
    if not found:
        raise CliError(
            f"no record with an id starting {prefix!r}, nor a call with request id or "
            f"response id {wanted!r}"
        )
    if len(found) > 1:
        shown = ", ".join(str(record.get("id")) for record in found[:5])
        raise CliError(
            f"{len(found)} calls have the request or response id {wanted!r} ({shown}"
            f"{', ...' if len(found) > 5 else ''}); show one by its record id, or list them "
            f"with: llmlog tail --request-id {wanted} (or --response-id)"
        )
    return found[0]
