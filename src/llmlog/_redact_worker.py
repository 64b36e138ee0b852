"""The presidio tier in a worker process, so it never holds the app's GIL.

A writer *thread* running presidio makes every app thread that wants the GIL
back wait up to one switch interval (5 ms) per wake-up. Here the writer thread
sends the texts over a pipe and waits on it (waiting releases the GIL); a child
process does the matching and sends back spans only.

The child is started lazily on first use, once per process (a forked child
starts its own). It reads length-prefixed JSON requests on stdin and answers on a
pipe of its own (its descriptor number in ``argv``), never on stdout: whatever
start-up code runs in it -- a ``sitecustomize`` or a ``.pth`` line that prints, a
library that chats on import -- can write to stdout without breaking a reply. It
is started with ``python -P`` (the app's working directory cannot shadow modules),
the app's ``PYTHONPATH`` and site (so it finds presidio where the app does: a venv,
a user install) and
``LLMLOG_ENABLED=0`` (it must not log itself), and it exits when its stdin
closes, i.e. when the app exits or dies, so it never holds up interpreter exit.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import orjson

from llmlog import _deaf_threads, _guard
from llmlog._redact_detect import Detector, DetectorConfig
from llmlog._redact_secrets import Span

_HEADER: Final = struct.Struct(">I")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
# Generous: the first request waits for importing presidio and building the
# engine (seconds on a loaded machine, more with a large spaCy model).
START_TIMEOUT_S: Final = 120.0
# A request takes ~3 ms for a typical record and grows with its text: at worst ~1 s per
# 50 KB (1 MB of dense phone numbers: 20 s, of e-mail addresses: 16 s, on 2 idle cores).
# About 5x that, so a hung worker costs seconds, not a minute, and is then replaced.
REQUEST_TIMEOUT_S: Final = 5.0
REQUEST_TIMEOUT_PER_BYTE_S: Final = 5.0 / 50_000
REQUEST_TIMEOUT_MAX_S: Final = 300.0  # a slow machine's 2 MB of phone numbers: ~100 s
RELEASE_WAIT_S: Final = 0.1  # at exit: an idle worker is gone in a few ms
_BOOT: Final = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from llmlog._redact_worker import serve; serve(int(sys.argv[2]))"
)


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


class WorkerClient:
    """The app side of one worker process; used from the writer thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid = os.getpid()
        self._answered = False  # a worker has worked in this process
        self._unavailable: str | None = None
        # The last drain's deadline (time.monotonic()), if it passed while waiting for the
        # worker: later records of that drain do not wait. Tied to that deadline, which
        # the drain clears as it ends: calls made after it (a late atexit hook, a daemon
        # thread) wait for the worker as any call does.
        self._out_of_time: float | None = None

    def find_all(self, config: DetectorConfig, texts: Sequence[str]) -> list[list[Span]]:
        """Spans for each text, computed in the worker process."""
        with self._lock:
            if self._pid != os.getpid():  # forked: the pipes belong to the parent
                self.forget()
            if self._unavailable is not None:
                raise WorkerUnavailable(self._unavailable)
            payload = _encode_request(config, texts)
            try:
                reply = self._ask(payload)
            except WorkerGone as exc:  # a new worker (started by _ask) gets one more try
                _guard.warn_once(
                    "redact_worker_died",
                    f"the PII redaction worker {exc}; a new one was started and the record "
                    "sent again (said once, counted as redact_worker_died)",
                )
                reply = self._ask(payload)
            if reply[0] == "unavailable":  # the worker's interpreter lacks presidio
                problem = (
                    f"the redaction worker ({sys.executable}) cannot import presidio: {reply[1]}"
                )
                if not self._answered:  # none has worked here: stop trying
                    self._kill()
                    self._unavailable = problem
                raise WorkerUnavailable(problem)
            if reply[0] == "error":
                raise WorkerError(f"redaction worker failed: {reply[1]}")
            self._answered = True
            return [[(s, e, str(kind)) for s, e, kind in spans] for spans in reply[1]]

    def _ask(self, payload: bytes) -> list[Any]:
        """One request to the worker (started first if there is none): its decoded reply."""
        first = self._proc is None
        timeout = min(
            REQUEST_TIMEOUT_S + len(payload) * REQUEST_TIMEOUT_PER_BYTE_S, REQUEST_TIMEOUT_MAX_S
        )
        if first:
            timeout += START_TIMEOUT_S
        from llmlog._ending import drain_deadline

        deadline = drain_deadline()
        if deadline is not None:
            left = deadline - DRAIN_MARGIN_S - time.monotonic()
            if self._out_of_time == deadline or left <= 0:
                raise NoTimeLeft("no time left before the process ends")
            timeout = min(timeout, left)
        proc = self._proc or self._start()
        try:
            _write_frame(proc, payload, timeout)
            reply: list[Any] = orjson.loads(_read_frame(proc, timeout))
        except (OSError, WorkerError, orjson.JSONDecodeError) as exc:
            # Gone before any reply byte, having answered before: it died while idle.
            gone = not first and isinstance(exc, (BrokenPipeError, WorkerGone))
            how = _how_it_ended(proc) if gone else ""
            self._kill()
            deadline = drain_deadline()  # (it may have begun while this waited)
            if deadline is not None and time.monotonic() >= deadline - DRAIN_MARGIN_S:
                self._out_of_time = deadline
                raise NoTimeLeft(f"no answer before the process ends: {exc}") from None
            if gone:
                raise WorkerGone(f"(pid {proc.pid}) {how}") from None
            if not self._answered:  # it cannot even start here: stop trying
                self._unavailable = f"the redaction worker cannot start: {exc}"
                raise WorkerUnavailable(self._unavailable) from None
            raise WorkerError(f"redaction worker failed: {exc}") from None
        return reply

    def _start(self) -> subprocess.Popen[bytes]:
        if not sys.executable or not hasattr(select, "poll"):
            raise WorkerUnavailable("no interpreter to start, or no poll() on this platform")
        package_root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env.update(
            LLMLOG_ENABLED="0",
            TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="",
            HF_HUB_OFFLINE="1",
            PYTHONWARNINGS="ignore",
        )
        try:
            replies, reply_end = os.pipe()  # both non-inheritable but for pass_fds below
        except OSError as exc:
            raise WorkerError(f"cannot make a pipe: {exc}") from None
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-P", "-c", _BOOT, package_root, str(reply_end)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                close_fds=True,
                pass_fds=(reply_end,),
                start_new_session=True,  # Ctrl-C in a terminal is for the app, not for us
            )
        except OSError as exc:
            os.close(replies)
            self._unavailable = f"cannot start {sys.executable}: {exc}"
            raise WorkerUnavailable(self._unavailable) from None
        finally:
            os.close(reply_end)  # the worker's end: ours closed, so its exit reads as EOF
        # The replies pipe stands in for the stdout that is not used: closed with it.
        self._proc.stdout = os.fdopen(replies, "rb", buffering=0)
        return self._proc

    def forget(self) -> None:
        """In a forked child: drop the parent's worker without touching it."""
        proc, self._proc = self._proc, None
        self._pid, self._answered, self._out_of_time = os.getpid(), False, None
        if proc is not None:
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()
            proc.returncode = 0  # not ours to reap: the parent owns that process

    def release(self) -> None:
        """At exit, after the last drain: the worker is let go (its stdin closes, it exits)
        and reaped, so the app's exit leaves no process or pipe open behind it (Python says
        so under ``-W default`` / ``-X dev``: three ResourceWarnings). A call made later (a
        daemon thread's) starts another. A worker still busy (a drain that ran out of time)
        is left to exit by itself."""
        if not self._lock.acquire(timeout=RELEASE_WAIT_S):
            return
        try:
            proc = self._proc
            if proc is None or self._pid != os.getpid():
                return
            self._proc = None
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    with contextlib.suppress(OSError):
                        pipe.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(RELEASE_WAIT_S)
        finally:
            self._lock.release()

    @property
    def worker_pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait()
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()


def _how_it_ended(proc: subprocess.Popen[bytes]) -> str:
    try:
        code = proc.wait(timeout=1.0)  # its pipes are closed: it is exiting, if not gone
    except subprocess.TimeoutExpired:
        return "closed its pipes"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with status {code}"


def _encode_request(config: DetectorConfig, texts: Sequence[str]) -> bytes:
    try:
        return orjson.dumps([config.to_wire(), list(texts)])
    except TypeError:  # lone surrogates are not UTF-8; one U+FFFD each keeps every offset
        clean = [_SURROGATE.sub("\ufffd", text) for text in texts]
        return orjson.dumps([config.to_wire(), clean])


def _write_frame(proc: subprocess.Popen[bytes], payload: bytes, timeout: float) -> None:
    assert proc.stdin is not None
    fd, data = proc.stdin.fileno(), memoryview(_HEADER.pack(len(payload)) + payload)
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


def _read_frame(proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    assert proc.stdout is not None
    fd, deadline = proc.stdout.fileno(), time.monotonic() + timeout
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline, reply_start=True))
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


_client = WorkerClient()


def client() -> WorkerClient:
    """This process's worker client (the worker itself starts on first use)."""
    return _client


def _after_fork_in_child() -> None:
    _client._lock = threading.Lock()  # the parent's lock may have been held at fork
    _client.forget()


os.register_at_fork(after_in_child=_after_fork_in_child)


def serve(reply_fd: int) -> None:
    """The worker's main loop: read a request, answer on ``reply_fd``, until stdin closes."""
    _deaf_threads.unblock_all()  # started from the writer thread, whose mask it inherited
    # Background work: under CPU contention the app's own threads go first.
    with contextlib.suppress(OSError):
        os.nice(10)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = os.fdopen(reply_fd, "wb")  # not stdout: stray prints cannot corrupt the protocol
    source = sys.stdin.buffer
    detectors: dict[DetectorConfig, Detector] = {}
    while True:
        header = source.read(_HEADER.size)
        if len(header) < _HEADER.size:  # the app has exited or let us go: every reply sent
            os._exit(0)  # at once: tearing down presidio's modules took ~200 ms
        (size,) = _HEADER.unpack(header)
        reply: list[Any]
        try:
            config_wire, texts = orjson.loads(source.read(size))
            config = DetectorConfig.from_wire(config_wire)
            detector = detectors.get(config)
            if detector is None:
                detector = detectors[config] = Detector(config)
            reply = ["ok", detector.find_all(texts)]
        except ImportError as exc:  # this interpreter lacks presidio: the app may have it
            reply = ["unavailable", f"{type(exc).__name__}: {str(exc)[:300]}"]
        except Exception as exc:  # answer, never die: the app side reports it
            reply = ["error", f"{type(exc).__name__}: {str(exc)[:300]}"]
        body = orjson.dumps(reply)
        out.write(_HEADER.pack(len(body)) + body)
        out.flush()
