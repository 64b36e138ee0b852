"""The key ``prompt_hash`` is made with, so that a hash cannot be reversed by guessing.

An unkeyed sha256 of a prompt whose record shows everything but a redacted value (an SSN,
a phone number, a short secret: values with few possibilities) gives that value back to
anyone who tries them all. So the hash is always an HMAC: with ``LLMLOG_REDACT_KEY`` when
set; else with a random key kept beside the log file (created once, 0600, read by every
process that writes that log, so equal prompts keep equal hashes across processes and
restarts); else (output to stdout/stderr, or no file can be kept) a random key per process.

A key file is used only if this user owns it and no one else may read it, in a folder no
other user may write to (:func:`~llmlog._log_files.folder_problem`): a key planted by
another user (whose value they know) would let them hash guesses again.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from llmlog._guard import warn_once
from llmlog._log_files import FOLDER_FLAGS, UntrustedPath, folder_problem, make_private_dirs

KEY_FILE = ".llmlog-hash-key"
"""Beside the log file; not a ``.jsonl``, so log shippers and the CLI leave it alone."""


def prompt_hash_key(redact_key: str, log_file: Path | None) -> str:
    """``LLMLOG_REDACT_KEY``, else the key kept beside ``log_file``, else one for this process."""
    if redact_key:
        return redact_key
    if log_file is not None:
        try:
            return _kept_key(log_file.parent / KEY_FILE)
        except UntrustedPath as exc:
            warn_once(
                "hash_key",
                f"not using the prompt_hash key beside {log_file}: {exc} (another user may "
                "know it and hash guesses of redacted values); hashes are keyed per process "
                "instead (set LLMLOG_REDACT_KEY to share one)",
            )
        except OSError as exc:
            warn_once(
                "hash_key",
                f"cannot keep the prompt_hash key beside {log_file} ({exc.strerror or exc}): "
                "hashes are keyed per process, so equal prompts of other processes hash "
                "differently (set LLMLOG_REDACT_KEY to share one)",
            )
    return secrets.token_hex(32)


def _kept_key(path: Path) -> str:
    """The key in ``path``, made there first if there is none (by exactly one process:
    written whole to a file of its own, then linked into place). All in the folder opened
    once; none kept in a folder another user may write to, and never another user's file
    (:class:`UntrustedPath`)."""
    make_private_dirs(path.parent)
    folder = os.open(path.parent, FOLDER_FLAGS)
    try:
        if folder_problem(os.fstat(folder)):  # the log is not written there either (said)
            return secrets.token_hex(32)
        key = _read(path, folder)
        if key:
            return key
        mine = f"{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(mine, flags, 0o600, dir_fd=folder)
        try:
            os.write(fd, secrets.token_hex(32).encode())
        finally:
            os.close(fd)
        try:
            with contextlib.suppress(FileExistsError):  # another process was first: its key
                os.link(mine, KEY_FILE, src_dir_fd=folder, dst_dir_fd=folder)
        finally:
            os.unlink(mine, dir_fd=folder)
        key = _read(path, folder)
    finally:
        os.close(folder)
    if not key:
        raise OSError(f"{path} holds no key")
    return key


def _read(path: Path, folder: int) -> str:
    """The key in ``path`` (in the open ``folder``), "" if there is none; refused
    (:class:`UntrustedPath`) unless a file of this user's that no one else may read."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a FIFO: no hang
    try:
        fd = os.open(path.name, flags, dir_fd=folder)
    except FileNotFoundError:
        return ""
    try:
        st = os.fstat(fd)
        mode = stat.S_IMODE(st.st_mode)
        if not stat.S_ISREG(st.st_mode):
            raise UntrustedPath(f"{path} is not a regular file")
        if st.st_uid != os.geteuid():
            raise UntrustedPath(f"{path} is owned by another user (uid {st.st_uid})")
        if mode & 0o077:
            raise UntrustedPath(f"{path} has mode {mode:#o}: other users may read it")
        return os.read(fd, 256).decode("ascii", "replace").strip()
    finally:
        os.close(fd)
