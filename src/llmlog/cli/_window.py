"""Which log files ``--since`` can leave unread: those every record of which is older.

A record's ``ts`` is when its call started, and it is written when the call ends, so no
record in a file can have a ``ts`` later than the file's last write. A file last written
before ``--since`` holds no call of the window: it is not read at all (a month of rotated
files is not decompressed to show the last hour).
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path

from llmlog._log_files import RECENT_SECONDS
from llmlog.cli._log_names import rotated_at

__all__ = ["files_for_window", "written_before"]

# A file's mtime may be kept to the second (or two, on FAT) and the writer's clock read a
# moment apart from the kernel's: a file is taken as last written this much later.
_MTIME_SLACK_SECONDS = 60.0


def files_for_window(files: list[Path], since: str | None) -> list[Path]:
    """``files`` without those :func:`written_before` ``since`` (all of them when None)."""
    return files if since is None else [p for p in files if not written_before(p, since)]


def written_before(path: Path, since: str) -> bool:
    """Whether no record in ``path`` can have a ``ts`` at or after ``since`` (a record-style
    UTC time): its last write (mtime) is before it, or, for a file the writer rotated, its
    rotation (the time in its name, which a copy or restore keeps) is, by more than the
    ``RECENT_SECONDS`` in which another process may still finish a line in it. A time that
    cannot be read answers False: the file is read."""
    start = _epoch(since)
    if start is None:
        return False
    rotated = rotated_at(path)
    if rotated > 0 and rotated + RECENT_SECONDS < start:
        return True
    try:
        return path.stat().st_mtime + _MTIME_SLACK_SECONDS < start
    except OSError:
        return False


def _epoch(ts: str) -> float | None:
    """A record-style UTC time (``2026-11-24T00:00:00.000000Z``) in seconds since 1970."""
    with contextlib.suppress(ValueError, OverflowError):
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    return None
