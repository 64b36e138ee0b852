"""Which files make up a log, by their names, and their order (oldest first).

A log is its active file (``llmlog.jsonl``) and the files rotated from it: the
writer's own (``llmlog-<UTC time>-<pid>.jsonl``), logrotate's numbered ones
(``llmlog.jsonl.1``, ``llmlog.jsonl.2.gz``) and logrotate's dated ones (``dateext``, the
default on RHEL, Fedora and Amazon Linux: ``llmlog.jsonl-20261122``, and with a
``dateformat`` of ``-%Y%m%d%H`` or ``-%s``), any of them gzipped.
"""

from __future__ import annotations

import calendar
import glob
import math
import re
import time
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "LOG_SUFFIXES",
    "READ_NAMES",
    "active_name",
    "age_key",
    "dated_files",
    "dated_pattern",
    "is_rotated",
    "log_name",
    "numbered_files",
    "numbered_pattern",
    "one_copy",
    "rotated_at",
    "unread_siblings",
]

LOG_SUFFIXES = (".jsonl", ".jsonl.gz")
# The time stamp of a rotated name (``_log_files.rotated_name``): ``-20261122T204739.123456Z-42``.
_STAMP = r"-(\d{8}T\d{6})(\.\d{6})?Z-\d+"
_ROTATED_STAMP = re.compile(_STAMP + r"\.jsonl(?:\.gz)?$")
# Any active file's rotated name: its stem, the stamp, then its suffix (none if it had none).
_ROTATED_NAME = re.compile(r"(?P<stem>.+)" + _STAMP + r"(?P<suffix>\.[^.]+)?")
# logrotate's names for rotated files of ``X.jsonl`` (without ``dateext``): ``X.jsonl.1``, the
# newest, then ``X.jsonl.2.gz`` and so on (``compress``), each renamed to the next at rotation.
_NUMBERED = re.compile(r"\.jsonl\.(\d+)(?:\.gz)?$")
# logrotate's names with ``dateext``: ``X.jsonl-20261122`` (its default ``-%Y%m%d``), or a
# ``dateformat`` of digits only: ``-%Y%m%d%H`` (10 digits), ``-%s`` (10), ``-%Y%m%d%H%M%S``.
_DATE = r"-(\d{8}|\d{10,})"
_DATED = re.compile(r"\.jsonl" + _DATE + r"(?:\.gz)?$")
READ_NAMES = (
    "*.jsonl and *.jsonl.gz files (and logrotate's *.jsonl.1, *.jsonl.2.gz, "
    "*.jsonl-20261122, *.jsonl-20261122.gz)"
)


def log_name(name: str) -> bool:
    """A name read as a log file in a ``--log`` directory."""
    return name.endswith(LOG_SUFFIXES) or _logrotated(name)


def _logrotated(name: str) -> bool:
    """A name logrotate gives a rotated ``*.jsonl``: numbered, or dated (``dateext``)."""
    return _NUMBERED.search(name) is not None or _DATED.search(name) is not None


def numbered_pattern(active: Path) -> re.Pattern[str]:
    """logrotate's names for ``active``'s rotated files: ``llmlog.jsonl.1``, ``.2.gz``."""
    return re.compile(rf"{re.escape(active.name)}\.\d+(\.gz)?")


def numbered_files(active: Path) -> list[Path]:
    """``active``'s rotated files under logrotate's names (in no order: :func:`age_key`)."""
    pattern = numbered_pattern(active)
    siblings = active.parent.glob(f"{glob.escape(active.name)}.*")  # a name may hold `[`
    return [p for p in siblings if pattern.fullmatch(p.name)]


def dated_pattern(active: Path) -> re.Pattern[str]:
    """logrotate's ``dateext`` names for ``active``'s rotated files: ``llmlog.jsonl-20261122``,
    ``llmlog.jsonl-20261121.gz``."""
    return re.compile(re.escape(active.name) + _DATE + r"(\.gz)?")


def dated_files(active: Path) -> list[Path]:
    """``active``'s rotated files under logrotate's ``dateext`` names (in no order)."""
    pattern = dated_pattern(active)
    siblings = active.parent.glob(f"{glob.escape(active.name)}-*")
    return [p for p in siblings if pattern.fullmatch(p.name)]


def unread_siblings(active: Path, read: Iterable[Path]) -> list[str]:
    """The names in ``active``'s folder that begin with its name (``llmlog.jsonl.bak``,
    ``llmlog.jsonl.1.bz2``, ``llmlog.jsonl-2026-11-22``) but are not among ``read`` nor a
    ``.gz`` copy of one of them: most likely rotated files of the log under a name llmlog
    does not know, whose calls would otherwise be missing without a word."""
    known = {p.name for p in read} | {active.name}
    found = active.parent.glob(f"{glob.escape(active.name)}?*")
    return sorted(
        p.name
        for p in found
        if p.name not in known and p.name.removesuffix(".gz") not in known and p.is_file()
    )


def active_name(path: Path) -> Path:
    """The active file ``path`` is (or was rotated from): ``app.jsonl`` for
    ``app-20261125T000000.000000Z-1.jsonl``, its ``.gz``, ``app.jsonl.gz``, and
    logrotate's ``app.jsonl.1``, ``app.jsonl.2.gz`` and ``app.jsonl-20261122``."""
    name = path.name
    numbered = _NUMBERED.search(name) or _DATED.search(name)
    if numbered is not None:
        name = name[: numbered.start()] + ".jsonl"
    name = name.removesuffix(".gz") or name
    rotated = _ROTATED_NAME.fullmatch(name)
    if rotated is not None:
        name = rotated.group("stem") + (rotated.group("suffix") or "")
    return path.with_name(name)


def one_copy(paths: Iterable[Path]) -> list[Path]:
    """``paths`` without a ``.gz`` whose plain file is there too (``gzip -k``, or logrotate
    between compressing and deleting): the same records twice. The plain one is read: the
    ``.gz`` may still be being written."""
    found = list(paths)
    plain = {p.name for p in found if not p.name.endswith(".gz")}
    return [p for p in found if not (p.name.endswith(".gz") and p.name[:-3] in plain)]


def is_rotated(path: Path) -> bool:
    """The file is a rotated one (a time stamp in its name, or logrotate's number or date):
    no longer written to."""
    return _ROTATED_STAMP.search(path.name) is not None or _logrotated(path.name)


def rotated_at(path: Path) -> float:
    """The UTC time in a rotated name (inf for a stamp that is no date); 0 when unstamped."""
    match = _ROTATED_STAMP.search(path.name)
    if match is None:
        return 0.0
    try:
        return calendar.timegm(time.strptime(match.group(1), "%Y%m%dT%H%M%S"))
    except ValueError:
        return math.inf


def age_key(path: Path) -> tuple[int, str, int, str]:
    """The sort key putting a log's files in time order, oldest first."""
    # Oldest first by the time the writer put in the rotated name (a copy, a restore
    # or ``touch`` changes a file's mtime, not its name); active files, unstamped, last.
    # logrotate's numbered files carry no time: the highest number (the oldest) first, then
    # its dated ones by their date, all before the writer's own rotated files (which of
    # them is older is not known).
    numbered = _NUMBERED.search(path.name)
    if numbered is not None:
        return (0, "", -int(numbered.group(1)), path.name)
    dated = _DATED.search(path.name)
    if dated is not None:
        return (0, "", int(dated.group(1)), path.name)
    match = _ROTATED_STAMP.search(path.name)
    if match is None:
        return (1, "", 0, path.name)
    return (0, match.group(1) + (match.group(2) or ".000000"), 0, path.name)
