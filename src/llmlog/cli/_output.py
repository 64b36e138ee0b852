"""Where an export is written: standard output, a new file that replaces the target whole
(private to its owner, like the log), or a device or FIFO written in place."""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, cast

from llmlog.cli._logs import CliError

__all__ = ["gzip_named", "opened", "output_stream"]


@contextmanager
def opened(path: str | None, binary: bool) -> Iterator[IO[Any]]:
    with output_stream(path) as raw, _compressed(raw, path) as out:
        if binary:
            yield out
            return
        # Text in UTF-8 whatever the locale or the stream's encoding (a Windows redirect, a
        # Latin-1 terminal): prompts hold characters ASCII has no byte for.
        text = io.TextIOWrapper(out, encoding="utf-8", newline="")
        try:
            yield text
        finally:
            text.flush()
            text.detach()  # leave the binary stream to its owner


def gzip_named(path: str) -> bool:
    """``-o`` names a gzip file (``.gz``, as the log readers decide: they read such a file
    decompressed)."""
    return path.endswith(".gz")


@contextmanager
def _compressed(out: IO[bytes], path: str | None) -> Iterator[IO[bytes]]:
    """``out`` itself, or for a ``.gz`` name a gzip stream into it, finished (its trailer
    written) when the block ends: plain lines under that name would be read back by
    ``stats`` and ``check`` as a damaged gzip file, i.e. no calls."""
    if path is None or not gzip_named(path):
        yield out
        return
    # The header names the file inside as the target's name (not the temporary file's).
    with gzip.GzipFile(filename=os.path.basename(path), mode="wb", fileobj=out) as packed:
        yield cast(IO[bytes], packed)


@contextmanager
def output_stream(path: str | None) -> Iterator[IO[bytes]]:
    """Standard output (no ``-o``), else a new file that replaces ``path`` once it is
    whole (:func:`_replacing`), else the device or FIFO ``path`` names (``/dev/null``)."""
    if path is None:
        sys.stdout.flush()
        yield sys.stdout.buffer
        return
    try:
        if _in_place(path):
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
            mode = os.fstat(fd).st_mode
            if not (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
                os.close(fd)  # swapped for a file since it was looked at: not written
                raise CliError(f"-o {path} changed while it was opened; run again")
            with os.fdopen(fd, "wb") as stream:
                yield stream
        else:
            with _replacing(path) as stream:
                yield stream
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None


def _in_place(path: str) -> bool:
    """Whether ``-o path`` is written in place: a character device or FIFO of this user or
    root (``/dev/null``, ``mkfifo``; ``/dev/stdout`` through its link). False: a new file
    replaces ``path`` (absent, or a regular file of this user). Anything else is refused
    before anything is opened: a symbolic link (planted in a shared folder, it would have
    the export truncate the file it points at), another user's file (they would get the
    prompts), a folder or socket."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    ours = (os.geteuid(), 0)
    if stat.S_ISLNK(st.st_mode):
        with contextlib.suppress(OSError):
            target = os.stat(path)
            if (stat.S_ISCHR(target.st_mode) or stat.S_ISFIFO(target.st_mode)) and (
                target.st_uid in ours
            ):
                return True
        raise CliError(
            f"-o {path} is a symbolic link: export does not write through one (it would "
            "overwrite whatever it points at); name the file itself"
        )
    if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
        if st.st_uid in ours:
            return True
    elif stat.S_ISREG(st.st_mode):
        if st.st_uid == os.geteuid():
            return False
        raise CliError(
            f"-o {path} is another user's file (uid {st.st_uid}): they could read the "
            "prompts exported into it; name a file of your own"
        )
    raise CliError(f"-o {path} is not a regular file of yours; name another")


@contextmanager
def _replacing(path: str) -> Iterator[IO[bytes]]:
    """A new file beside ``path``, readable by its owner only (an export holds the log's
    prompts, which llmlog keeps 0600), renamed over ``path`` when the block ends without
    an error, and removed when it does not. Nothing at ``path`` is opened or followed."""
    target = Path(path)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    made = os.fstat(fd)
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
        now = os.lstat(temp)
        if (now.st_dev, now.st_ino) != (made.st_dev, made.st_ino):
            raise CliError(f"the file written for -o {path} was replaced meanwhile; run again")
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            if os.path.samestat(os.lstat(temp), made):
                os.unlink(temp)
        raise
