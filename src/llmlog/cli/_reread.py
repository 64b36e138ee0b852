"""Reading chosen records again, each file in one forward pass.

``--limit`` keeps the places of the newest N records (not the records: N of them could be
gigabytes) and reads them again to write them out in time order. Time order is not file
order (a record is written when its call ends; its ``ts`` is when it started), and a
``.gz`` cannot seek back without decompressing again from its start: read in time order, a
log of 30,000 records took minutes. So the places are read in file order, once per file,
and the lines are put in a spool (memory, a private temporary file past
``SPOOL_MEMORY_BYTES``) that is then read back in time order.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import orjson

from llmlog.cli._logs import CliError, open_lines, parse_line

__all__ = ["records_at"]

SPOOL_MEMORY_BYTES = 1 << 20  # the chosen lines kept in memory up to this much (1 MiB)


def records_at(files: list[Path], places: list[tuple[int, int, Any]]) -> Iterator[dict[str, Any]]:
    """The records at ``places`` ((index in ``files``, offset, id), from
    :func:`~llmlog.cli._logs.located_records`), in that order. Each file is opened once
    and read forward only. A record not there any more (the log rotated since) is a
    :class:`CliError`."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES) as spool:
        spans = _spool_lines(files, places, spool)
        for start, length in spans:
            spool.seek(start)
            record = orjson.loads(spool.read(length))  # a record: it parsed when spooled
            yield cast(dict[str, Any], record)


def _spool_lines(
    files: list[Path], places: list[tuple[int, int, Any]], spool: IO[bytes]
) -> list[tuple[int, int]]:
    """Write the line at each place to ``spool``, reading the places in file order; where
    each one is in the spool (start, length), in the order of ``places``."""
    spans: list[tuple[int, int]] = [(0, 0)] * len(places)
    in_file_order = sorted(range(len(places)), key=lambda n: places[n][:2])
    current: tuple[int, IO[bytes]] | None = None
    try:
        for n in in_file_order:
            index, offset, record_id = places[n]
            if current is None or current[0] != index:
                if current is not None:
                    current[1].close()
                current = (index, open_lines(files[index]))
            stream = current[1]
            if stream.tell() != offset:
                stream.seek(offset)  # forward: the places of one file come in offset order
            line = stream.readline()
            record = parse_line(files[index], 0, line, [])
            if record is None or record.get("id") != record_id:
                raise CliError(f"{files[index]} changed while it was read (rotated?); run again")
            spans[n] = (spool.tell(), len(line))
            spool.write(line)
    finally:
        if current is not None:
            current[1].close()
    return spans
