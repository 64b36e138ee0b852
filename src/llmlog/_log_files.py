"""A log's files on disk: the names rotation gives, which files are rotated siblings,
their pruning, private directories, whether a file ends mid-line, and whether another
user could read or swap what is written there (:func:`open_log`).

Stateless helpers for :class:`~llmlog._file_sink.FileSink` and the CLI (which reads
the rotated files back).
"""

from __future__ import annotations

import calendar
import contextlib
import errno
import functools
import glob
import grp
import os
import pwd
import re
import stat
import time
from pathlib import Path

from llmlog._log_signature import NOT_A_LOG, is_log_file, vet_log

RECENT_SECONDS = 600.0
"""A file rotated less than this long ago (by the time in its name) is not deleted for its
age: another process may still be finishing a line in it (it reopens within
``CHECK_SECONDS``)."""

CLOCK_SKEW_SECONDS = 300.0
"""A rotated name dated later than this past now was not made by a process of ours (each
names its file by its own clock): it is neither counted nor pruned."""


class UntrustedPath(OSError):
    """A log path another user could read or swap (its folder, or the file found there)."""


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


def own_rotated_files(active: Path) -> list[Path]:
    """The :func:`rotated_files` of ``active`` this user wrote, oldest first: regular files
    (``lstat``: a symlink is never followed) owned by the effective uid, dated no later than
    ``CLOCK_SKEW_SECONDS`` from now. Another user's file under such a name (planted in a
    shared folder, dated 2099 to sort last) is never deleted, nor counted as a backup."""
    euid, latest = os.geteuid(), time.time() + CLOCK_SKEW_SECONDS
    own = []
    for p in rotated_files(active):
        try:
            st = p.lstat()
            if stat.S_ISREG(st.st_mode) and st.st_uid == euid and _rotated_at(p) <= latest:
                own.append(p)
        except (OSError, ValueError):
            continue
    return own


def _rotated_at(rotated: Path) -> float:
    """When ``rotated`` (a name :func:`rotated_files` lists) was rotated, from its name."""
    stamp = rotated.name.rpartition("-")[0].rpartition("-")[2][:15]  # 20261122T204739
    return float(calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%S")))


def prune_rotated(active: Path, backup_count: int, retention_days: float) -> None:
    """Keep at most ``backup_count`` rotated files of ``active``, none older than
    ``retention_days`` (0: no age limit). Only this user's (:func:`own_rotated_files`), and
    only llmlog logs (:func:`~llmlog._log_signature.is_log_file`): another file under such
    a name is neither deleted nor counted as a backup.

    Age is the file's mtime (its newest line), but a file rotated in the last
    ``RECENT_SECONDS`` (the time in its name) is kept: a process that had it open may
    still write a line to it. Best effort: a file that cannot be deleted stays.
    """
    backups = own_rotated_files(active)
    checked = len(backups) > backup_count  # else none goes for the count: read none yet
    if checked:
        backups = [p for p in backups if is_log_file(p)]
    doomed = backups[: max(0, len(backups) - backup_count)]
    if retention_days > 0:
        doomed += [p for p in backups[len(doomed) :] if _expired(p, retention_days)]
        if not checked:
            doomed = [p for p in doomed if is_log_file(p)]
    for p in doomed:
        with contextlib.suppress(OSError):
            p.unlink()


def _expired(rotated: Path, retention_days: float) -> bool:
    """Whether ``rotated``'s newest line is older than ``retention_days``, and it was not
    rotated in the last ``RECENT_SECONDS``."""
    now = time.time()
    try:
        old = rotated.lstat().st_mtime < now - retention_days * 86400
        return old and _rotated_at(rotated) < now - RECENT_SECONDS
    except (OSError, ValueError):
        return False


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
        with contextlib.suppress(OSError):
            if problem := trust_problem(path, path.parent.stat(), path.lstat()):
                return problem
        if path.is_file() and is_log_file(path) is False:  # (None: rotated aside just now)
            return f"{path}: {NOT_A_LOG}"
        return _append_problem(path)
    folder = path.parent
    while not os.path.lexists(folder) and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"no permission to create files in {folder}"
    if problem := _name_problem(folder, path.relative_to(folder).parts):
        return problem
    if folder == path.parent:  # a folder llmlog makes is its own
        with contextlib.suppress(OSError):
            return trust_problem(path, folder.stat(), None)
    return None


def _append_problem(path: Path) -> str | None:
    """Why the existing file ``path`` cannot be opened to append to (opened and closed, no
    byte written: ``os.access`` says yes to root for anything)."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        if not stat.S_ISREG(path.lstat().st_mode):  # a FIFO's reader would see its end
            return None
        os.close(os.open(path, flags))
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a FIFO nobody reads yet: the writer waits for one
            return None
        return f"cannot write {path}: {exc.strerror}"
    return None


def _name_problem(folder: Path, names: tuple[str, ...]) -> str | None:
    """Why the folders and file ``names`` cannot be made in the existing ``folder``: a name
    longer than its file system allows."""
    try:
        longest = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return None
    for name in names:
        if len(os.fsencode(name)) > longest:
            return f"cannot create {folder / name[:40]}...: a name longer than {longest} bytes"
    return None


UNTRUSTED = (
    "another user could read or replace what llmlog writes there, so it writes nothing "
    "(name a file in a new folder instead: llmlog makes it 0700)"
)


def trust_problem(path: Path, folder: os.stat_result, file: os.stat_result | None) -> str | None:
    """Why the log file ``path`` must not be written, ``folder`` being its folder's stat and
    ``file`` the file's (``lstat``; None: none yet), in words; None when it may."""
    if problem := folder_problem(folder):
        return f"its folder {path.parent} {problem}: {UNTRUSTED}"
    if file is not None and (problem := file_problem(file)):
        return f"{path} {problem}: {UNTRUSTED}"
    return None


def folder_problem(st: os.stat_result) -> str | None:
    """Why another user could plant, swap or delete files in the folder ``st`` (its stat),
    in words; None when only this user and root can. A sticky folder (``/tmp``) passes:
    others may add names to it but not replace ours (each file is checked as it is opened,
    :func:`file_problem`)."""
    euid = os.geteuid()
    if st.st_uid not in (euid, 0) and euid != 0:  # root: the file's own checks suffice
        return f"is owned by another user (uid {st.st_uid})"
    mode = stat.S_IMODE(st.st_mode)
    if mode & stat.S_ISVTX:
        return None
    if mode & stat.S_IWOTH:
        return f"is writable by every user (mode {mode:#o}, without the sticky bit)"
    private = _private_group(st.st_gid, st.st_uid) or _private_group(st.st_gid, euid)
    if mode & stat.S_IWGRP and not private:
        group = _group_name(st.st_gid)
        return f"is writable by group {group}, which has other members (mode {mode:#o})"
    return None


def _group_name(gid: int) -> str:
    try:
        return f"{grp.getgrgid(gid).gr_name} ({gid})"
    except (KeyError, OSError):
        return str(gid)


@functools.lru_cache(maxsize=16)
def _private_group(gid: int, uid: int) -> bool:
    """Whether user ``uid`` is the one member of group ``gid`` (a user private group: under
    the umask 002 of Debian and Ubuntu users, the folders they make are group-writable).
    As Debian's OpenSSH decides it: the group is that user's primary group and no one
    else's, and lists no other member."""
    try:
        name = pwd.getpwuid(uid).pw_name
        members = set(grp.getgrgid(gid).gr_mem)
        members.update(user.pw_name for user in pwd.getpwall() if user.pw_gid == gid)
    except (KeyError, OSError):
        return False
    return members == {name}


def file_problem(st: os.stat_result) -> str | None:
    """Why llmlog must not write to the file ``st`` found at a log path, in words; None when
    it may: a file, FIFO or device of this user or root (``mkfifo`` of one's own, a terminal,
    ``/dev/null``). Another user's never: planted in a shared folder, their FIFO would read
    every record, their 0666 file hand them the later ones."""
    if st.st_uid not in (os.geteuid(), 0):
        return f"is owned by another user (uid {st.st_uid})"
    if stat.S_ISSOCK(st.st_mode) or stat.S_ISBLK(st.st_mode):
        return "is a socket or block device, not a file"
    return None


FOLDER_FLAGS = os.O_DIRECTORY | os.O_CLOEXEC | getattr(os, "O_PATH", os.O_RDONLY)
"""To open a folder only to stat it and open files in it (``O_PATH``: no read permission
needed)."""


OPEN_ATTEMPTS = 3
"""Opens of a log path whose file is replaced between opening it and reading its start
(another process rotating it just then) before giving up for now."""


def open_log(path: Path, flags: int) -> int:
    """Open the log file ``path`` with ``flags`` (created 0600) if no other user can read or
    swap what is written to it (:func:`trust_problem`), else raise :class:`UntrustedPath`;
    and if the file found there is llmlog's (:func:`~llmlog._log_signature.vet_log`), else
    raise :class:`~llmlog._log_signature.ForeignLog` (nothing is written to it).

    The folder is opened first and the file opened in it, so the folder checked is the one
    written to; another user's file is refused before it is opened (opening their FIFO
    would wake its reader) and, should it replace ours meanwhile, after."""
    folder = os.open(path.parent, FOLDER_FLAGS)
    try:
        for _ in range(OPEN_ATTEMPTS):
            fd = _open_trusted(path, flags, folder)
            try:
                if vet_log(path, fd, folder):
                    return fd
            except OSError:
                os.close(fd)
                raise
            os.close(fd)
    finally:
        os.close(folder)
    raise OSError(errno.EAGAIN, "it kept being replaced while llmlog opened it")


def _open_trusted(path: Path, flags: int, folder: int) -> int:
    """:func:`open_log`'s open of ``path``'s name in its open ``folder``, trust checked."""
    folder_st = os.fstat(folder)
    try:
        found: os.stat_result | None = os.stat(path.name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        found = None
    if found is not None and stat.S_ISLNK(found.st_mode):
        found = None  # O_NOFOLLOW refuses it, said as a link
    if problem := trust_problem(path, folder_st, found):
        raise UntrustedPath(problem)
    fd = os.open(path.name, flags, 0o600, dir_fd=folder)
    try:
        if problem := trust_problem(path, folder_st, os.fstat(fd)):
            raise UntrustedPath(problem)
    except OSError:
        os.close(fd)
        raise
    return fd


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
