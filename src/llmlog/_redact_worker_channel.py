"""The wire to one PII worker: its descriptors, the frames sent and read, its end.

A worker is reached over two pipes (one it was started with) or one socket (a fork of
another process's worker, see :mod:`llmlog._redact_worker_address`). Every wait here
is bounded, and ends sooner when the process's last drain has begun and ends sooner.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import orjson

from llmlog import _forks
from llmlog._log_files import identity
from llmlog._own_fds import moved_high, names
from llmlog._redact_worker_process import HEADER

SAME_AS_REQUESTS: Final = -2  # replies come on the requests' descriptor (a socket)
SHARED_HELLO_TIMEOUT_S: Final = 20.0
"""A group's worker only accepts and forks, at once but while it builds presidio (seconds on
a loaded machine): one that says nothing for this long (stopped, swapped out) is given up
for a worker of our own."""
STARTER_WAIT_S: Final = 1.0  # the started process forks the worker and exits at once


class WorkerError(RuntimeError):
    """The worker process failed, died or timed out; the record's text must not be written."""


class WorkerGone(WorkerError):
    """A worker that had answered before was gone before answering this request (killed
    while idle, e.g. by the OOM killer): a new one is started and asked once more."""


class NoTimeLeft(WorkerError):
    """The process is ending and its last drain's deadline leaves no time to wait for the
    worker: the record goes out with its texts marked, rather than not at all."""


DRAIN_MARGIN_S: Final = 0.5
"""Kept from the last drain's time for writing what is left, after the worker's answer."""


class WorkerUnavailable(RuntimeError):
    """No worker process can be started here (e.g. an embedded interpreter)."""


@dataclass
class Worker:
    """A worker as the client holds it: where requests go and replies come from (one
    socket, for a worker shared with another process), and once it said hello, its pid,
    with a pidfd to signal and watch it by (no pid reuse can misdirect those)."""

    requests: int
    replies: int
    starter: subprocess.Popen[bytes] | None = None  # the process that forked it, if ours
    pid: int | None = None
    pidfd: int | None = None
    files: tuple[tuple[int, int], ...] = ()  # what requests and replies were opened on
    shared: bool = False  # a fork of the worker of another process of the group
    group_worker: int | None = None  # the process that forked ours, where we started it

    def __post_init__(self) -> None:
        """Our descriptors go where an app's files do not (see :mod:`llmlog._own_fds`)."""
        self.requests = moved_high(self.requests)
        same = self.replies == SAME_AS_REQUESTS
        self.replies = self.requests if same else moved_high(self.replies)
        self.files = (identity(self.requests), identity(self.replies))

    def intact(self) -> bool:
        """Whether our descriptors are still ours: an app that closed them and opened its
        own files on those numbers would get the texts (unredacted) written to its file."""
        return names(self.requests, self.files[0]) and names(self.replies, self.files[1])

    def greeted(self, hello: list[Any]) -> None:
        if hello[:1] != ["hello"] or not isinstance(hello[1], int):
            raise WorkerError(f"the worker process said {str(hello)[:100]} for hello")
        self.pid = hello[1]
        if self.starter is not None and len(hello) > 2 and isinstance(hello[2], int):
            self.group_worker = hello[2]  # the process that forked it: ours to reap as init
        if hasattr(os, "pidfd_open"):
            with contextlib.suppress(OSError):
                self.pidfd = moved_high(os.pidfd_open(self.pid))
        if self.starter is not None:  # it forked the worker and exits: reaped here
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.starter.wait(STARTER_WAIT_S)

    def kill(self) -> None:
        """Signal it to end, wait briefly for it (a worker the app reaps, being its init in a
        container, is reaped here), and close everything held."""
        if self.pidfd is not None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        elif self.pid is not None:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
        if self.starter is not None and self.starter.returncode is None:
            self.starter.kill()  # (never got to fork it: hung in the app's site, say)
            self.starter.wait()
        self.wait_gone(STARTER_WAIT_S)
        self.close()
        self.reap_group_worker()

    def reap_group_worker(self) -> None:
        """Once our pipes are closed, the group's worker we started exits: waited for (the
        name it held is free for the next start to bind), and reaped where the app is PID 1
        or a subreaper, whose child it then is (orphans come back to it), not left a
        zombie. Elsewhere it is not ours to reap (ChildProcessError)."""
        pid, self.group_worker = self.group_worker, None
        if pid is None:
            return
        with contextlib.suppress(OSError):
            pidfd = os.pidfd_open(pid)
            try:
                _ended(pid, pidfd, STARTER_WAIT_S)
            finally:
                os.close(pidfd)

    def wait_gone(self, timeout: float) -> bool:
        """Whether it ended within ``timeout`` seconds."""
        if self.pidfd is None or self.pid is None:
            return False
        return _ended(self.pid, self.pidfd, timeout)

    def hang_up(self) -> None:
        """Close our ends of its pipes (or socket): it reads end of file and exits."""
        for fd in {self.requests, self.replies} - {-1}:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.requests = self.replies = -1

    def close(self) -> None:
        self.hang_up()
        if self.pidfd is not None:
            with contextlib.suppress(OSError):
                os.close(self.pidfd)
            self.pidfd = None
        if self.starter is not None and self.starter.returncode is None:
            self.starter.returncode = 0  # not reaped yet: left to exit (ours are not waited)


def exchange(worker: Worker, payload: bytes, timeout: float) -> list[Any]:
    """Send ``payload`` to ``worker`` (read its hello first, if not yet): its reply."""
    if worker.pid is None:
        hello_timeout = min(timeout, SHARED_HELLO_TIMEOUT_S) if worker.shared else timeout
        worker.greeted(orjson.loads(_read_frame(worker.replies, hello_timeout)))
    _write_frame(worker.requests, payload, timeout)
    reply: list[Any] = orjson.loads(_read_frame(worker.replies, timeout))
    return reply


def how_it_ended(worker: Worker) -> str:
    """What can be told of a worker that stopped answering. Not being its parent, llmlog
    cannot learn its exit status (the out-of-memory killer's SIGKILL, say)."""
    if worker.wait_gone(1.0):  # its pipes are closed: it is exiting, if not gone
        return "ended unexpectedly (killed, or crashed)"
    return "closed its pipes"


def _ended(pid: int, pidfd: int, timeout: float) -> bool:
    """Whether process ``pid`` (watched by ``pidfd``) ended within ``timeout`` seconds;
    reaped if it is our child (where the app is init to orphans)."""
    if not _readable(pidfd, timeout):  # a pidfd reads as ready once its process ends
        return False
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    return True


def _readable(fd: int, timeout: float) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(timeout * 1000))


def _write_frame(fd: int, payload: bytes, timeout: float) -> None:
    data = memoryview(HEADER.pack(len(payload)) + payload)
    deadline = time.monotonic() + timeout
    with _no_sigpipe():
        while data:
            _wait(fd, deadline, writable=True)
            data = data[os.write(fd, data) :]


@contextlib.contextmanager
def _no_sigpipe() -> Iterator[None]:
    """Writing to a worker that died raises SIGPIPE in this thread: an app that set it back
    to its default (a CLI tool, so that ``| head`` works) would be killed by it. Blocked
    here, and consumed if it came: the write fails with EPIPE instead."""
    sigpipe = getattr(signal, "SIGPIPE", None)
    if sigpipe is None or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {sigpipe})
    try:
        yield
    finally:
        if sigpipe not in before:
            with contextlib.suppress(OSError):
                while signal.sigtimedwait([sigpipe], 0) is not None:
                    pass
            signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _read_frame(fd: int, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    (size,) = HEADER.unpack(_read_exact(fd, HEADER.size, deadline, reply_start=True))
    return _read_exact(fd, size, deadline)


def _read_exact(fd: int, size: int, deadline: float, *, reply_start: bool = False) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        _wait(fd, deadline, writable=False)
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            if reply_start and not chunks:
                raise WorkerGone("the worker process exited before answering")
            raise WorkerError("the worker process exited")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


WAIT_SLICE_S: Final = 0.1
"""A wait for the worker looks this often whether the process's last drain has begun
meanwhile: the wait then ends with that drain's deadline (a worker still starting when a
short script exits must not hold its records past it)."""


def _wait(fd: int, deadline: float, *, writable: bool) -> None:
    # poll, not select: the app may hold more than FD_SETSIZE descriptors.
    poller = select.poll()
    poller.register(fd, select.POLLOUT if writable else select.POLLIN)
    if poller.poll(0):
        return
    with _forks.open_to_forks():  # the wait may be long: an os.fork() need not wait with us
        while True:
            left = _until(deadline) - time.monotonic()
            if left <= 0:
                raise WorkerError("the worker process did not answer in time")
            if poller.poll(min(left, WAIT_SLICE_S) * 1000):
                return


def _until(deadline: float) -> float:
    """``deadline``, or sooner if the process's last drain has begun and ends sooner."""
    from llmlog._ending import drain_deadline

    ending = drain_deadline()
    return deadline if ending is None else min(deadline, ending - DRAIN_MARGIN_S)
