"""Which file a replayed call is logged to: the active file of the log its original is in.

A ``--log`` directory may hold several logs (``api.jsonl``, ``worker.jsonl``) and their
rotated files (``api-20261125T000000.000000Z-1.jsonl``). The replay's record belongs
beside its original, in the file that log is written to now: never a rotated file
(rotation is done with it), never another log's file. When that log has no active file
any more (only rotated ones are left), the name it rotated from is started again.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from llmlog._record import EVENT_CALL
from llmlog.cli._log_names import active_name
from llmlog.cli._logs import CliError, LogLocation, iter_lines, known_schema

__all__ = ["replay_log_files", "replay_target"]


def replay_target(location: LogLocation, files: list[Path], record_id: str) -> Path:
    """The file the replay of ``record_id`` (read from ``files``) is logged to.

    A log named as a file is that file (its rotated siblings are its own rotations); in a
    directory, the log the record was found in."""
    if not location.is_dir:
        return active_name(location.path)
    return active_name(source_file(files, record_id))


def source_file(files: list[Path], record_id: str) -> Path:
    """The last of ``files`` holding the call record ``record_id``: the one
    :func:`~llmlog.cli._select.find_record` took it from (it takes the last one read)."""
    needle = record_id.encode()
    for path in reversed(files):
        if any(needle in line and _is_the_call(line, record_id) for _, line in iter_lines(path)):
            return path
    raise CliError(f"record {record_id} is not in the log any more (rotated away?); run again")


def _is_the_call(line: bytes, record_id: str) -> bool:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return (
        isinstance(record, dict)
        and record.get("event") == EVENT_CALL
        and record.get("id") == record_id
        and known_schema(record)
    )


def replay_log_files(location: LogLocation, target: Path) -> list[Path]:
    """The log's files to find the replay's record in: ``target`` too when the log does not
    list it (``--log`` naming a rotated file, whose replay went to the active one)."""
    files = location.files()
    if target in files or not target.is_file():
        return files
    return files + location.trusted([target])
