"""A log's files on disk: the names rotation gives, which files are rotated siblings,
their pruning, private directories, and whether a file ends mid-line.

Stateless helpers for :class:`~llmlog._file_sink.FileSink` and the CLI (which reads
the rotated files back).
"""

from __future__ import annotations

import calendar
import contextlib
import glob
import os
import re
import stat
import time
from pathlib import Path

RECENT_SECONDS = 600.0
"""A file rotated less than this long ago (by the time in its name) is not deleted for its
age: another process may still be finishing a line in it (it reopens within
``CHECK_SECONDS``)."""


def rotated_name(active: Path, now_ns: int | None = None, pid: int | None = None) -> Path:
    """``llmlog.jsonl`` -> ``llmlog-20261122T204739.123456Z-4242.jsonl`` (sorts by time)."""
    ns = time.time_ns() if now_ns is None else now_ns
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(ns // 1_000_000_000))
    micros = (ns // 1000) % 1_000_000
    return active.with_name(
        f"{active.stem}-{stamp}.{micros:06d}Z-{os.getpid() if pid is None else pid}{active.suffix}"
    )


def rotated_pattern(active: Path) -> re.Pattern[str]:
    """The file names :func:`rotated_name` gives ``active``'s rotations (or their ``.gz``)."""
    stem, suffix = re.escape(active.stem), re.escape(active.suffix)
    return re.compile(rf"{stem}-\d{{8}}T\d{{6}}(\.\d{{6}})?Z-\d+{suffix}(\.gz)?")


def rotated_files(active: Path) -> list[Path]:
    """The rotated siblings of ``active``, oldest first (plain or gzip-compressed).

    Only names :func:`rotated_name` makes: another log sharing the prefix
    (``app-worker.jsonl`` next to ``app.jsonl``) is not ours to prune.
    """
    pattern = rotated_pattern(active)
    siblings = active.parent.glob(f"{glob.escape(active.stem)}-*")  # a name may hold `[`
    found = [p for p in siblings if pattern.fullmatch(p.name)]
    return sorted(found, key=lambda p: p.name)


def _rotated_at(rotated: Path) -> float:
    """When ``rotated`` (a name :func:`rotated_files` lists) was rotated, from its name."""
    stamp = rotated.name.rpartition("-")[0].rpartition("-")[2][:15]  # 20261122T204739
    return float(calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%S")))


def prune_rotated(active: Path, backup_count: int, retention_days: float) -> None:
    """Keep at most ``backup_count`` rotated files of ``active``, none older than
    ``retention_days`` (0: no age limit).

    Age is the file's mtime (its newest line), but a file rotated in the last
    ``RECENT_SECONDS`` (the time in its name) is kept: a process that had it open may
    still write a line to it. Best effort: a file that cannot be deleted stays.
    """
    backups = rotated_files(active)
    doomed = backups[: max(0, len(backups) - backup_count)]
    if retention_days > 0:
        now = time.time()
        cutoff = now - retention_days * 86400
        for p in backups[len(doomed) :]:
            try:
                if p.stat().st_mtime < cutoff and _rotated_at(p) < now - RECENT_SECONDS:
                    doomed.append(p)
            except (OSError, ValueError):
                continue
    for p in doomed:
        with contextlib.suppress(OSError):
            p.unlink()


def identity(fd: int) -> tuple[int, int]:
    """(device, inode): which file a descriptor writes to, whatever its name now."""
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


_SETTLE = (0.001, 0.004, 0.016, 0.032)
"""Pauses (s) before a file ending mid-line is taken for a fragment (rare: paid once per
fragment found, on the writer thread)."""


def ends_mid_line(path: Path, st: os.stat_result) -> bool:
    """Whether the regular file ``st`` (at ``path``) ends without a newline: a line cut short
    by a full disk, by another process or an earlier run. Our next line must not be glued on."""
    if not stat.S_ISREG(st.st_mode) or st.st_size == 0:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        mine = os.fstat(fd)
        same = (mine.st_dev, mine.st_ino) == (st.st_dev, st.st_ino)
        if not same or os.pread(fd, 1, mine.st_size - 1) in (b"\n", b""):
            return False
        # Grown meanwhile: another process's big line being appended (the size grows page
        # by page; its writer may be descheduled between pages on a loaded machine), no
        # fragment: taken for one, our newline before the next line would leave a blank
        # line once that write ends. Still that size after a while: a fragment.
        for pause in _SETTLE:
            time.sleep(pause)
            if os.fstat(fd).st_size != mine.st_size:
                return False
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def write_problem(path: Path) -> str | None:
    """Why a log file at ``path`` could not be created or appended to now, in words; None
    when it can (a check without creating anything, for strict start-up)."""
    if os.path.lexists(path):
        if path.is_symlink():
            return f"{path} is a symbolic link (llmlog does not write through one)"
        if path.is_dir():
            return f"{path} is a folder"
        return None if os.access(path, os.W_OK) else f"no permission to write {path}"
    folder = path.parent
    while not os.path.lexists(folder) and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"no permission to create files in {folder}"
    return None


def make_private_dirs(directory: Path) -> None:
    """Create ``directory`` and every missing parent 0700 (``mkdir(parents=True)`` would
    give the parents the umask's mode, 0777 under umask 000)."""
    missing: list[Path] = []
    while not directory.exists() and directory != directory.parent:
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            path.mkdir(mode=0o700)
