"""The key ``prompt_hash`` is made with, so that a hash cannot be reversed by guessing.

An unkeyed sha256 of a prompt whose record shows everything but a redacted value (an SSN,
a phone number, a short secret: values with few possibilities) gives that value back to
anyone who tries them all. So the hash is always an HMAC: with ``LLMLOG_REDACT_KEY`` when
set; else with a random key kept beside the log file (created once, 0600, read by every
process that writes that log, so equal prompts keep equal hashes across processes and
restarts); else (output to stdout/stderr, or no file can be kept) a random key per process.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from llmlog._guard import warn_once
from llmlog._log_files import make_private_dirs

KEY_FILE = ".llmlog-hash-key"
"""Beside the log file; not a ``.jsonl``, so log shippers and the CLI leave it alone."""


def prompt_hash_key(redact_key: str, log_file: Path | None) -> str:
    """``LLMLOG_REDACT_KEY``, else the key kept beside ``log_file``, else one for this process."""
    if redact_key:
        return redact_key
    if log_file is not None:
        try:
            return _kept_key(log_file.parent / KEY_FILE)
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
    written whole to a file of its own, then linked into place)."""
    key = _read(path)
    if key:
        return key
    make_private_dirs(path.parent)
    mine = path.with_name(f"{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(mine, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, secrets.token_hex(32).encode())
    finally:
        os.close(fd)
    try:
        with contextlib.suppress(FileExistsError):  # another process was first: its key
            os.link(mine, path)
    finally:
        os.unlink(mine)
    key = _read(path)
    if not key:
        raise OSError(f"{path} holds no key")
    return key


def _read(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return ""
    try:
        return os.read(fd, 256).decode("ascii", "replace").strip()
    finally:
        os.close(fd)
