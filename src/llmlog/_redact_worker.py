"""The presidio tier in a worker process, so it never holds the app's GIL.

A writer *thread* running presidio makes every app thread that wants the GIL
back wait up to one switch interval (5 ms) per wake-up. Here the writer thread
sends the texts over a pipe and waits on it (waiting releases the GIL); a child
process does the matching and sends back spans only.

The worker is started lazily on first use, or found: another llmlog process of the
same process group (the app whose ``multiprocessing`` worker this is, say) may have one
listening (:mod:`llmlog._redact_worker_address`), and a fork of it serves us at once.
Its own side is :mod:`llmlog._redact_worker_process`. Started here, it answers
length-prefixed JSON requests on stdin on a pipe of its own (its descriptor number in
``argv``), never on stdout: whatever start-up code runs in it -- a ``sitecustomize`` or
a ``.pth`` line that prints, a library that chats on import -- can write to stdout
without breaking a reply. It is started with ``python -P`` (the app's working
directory cannot shadow modules), the app's ``PYTHONPATH`` and site (so it finds
presidio where the app does: a venv, a user install) and ``LLMLOG_ENABLED=0`` (it must
not log itself), and it exits when its stdin closes, i.e. when the app exits or dies,
so it never holds up interpreter exit.
"""

from __future__ import annotations

import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import orjson

from llmlog import _guard, _redact_worker_address
from llmlog._redact_detect import DetectorConfig
from llmlog._redact_secrets import Span
from llmlog._redact_worker_channel import (
    DRAIN_MARGIN_S,
    SAME_AS_REQUESTS,
    NoTimeLeft,
    Worker,
    WorkerError,
    WorkerGone,
    WorkerUnavailable,
    exchange,
    how_it_ended,
)

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
GROUP_WORKER_GONE_S: Final = 0.05  # a group worker whose app left exits within ms
RELEASE_WAIT_S: Final = 0.1  # at exit: an idle worker is gone in a few ms
_BOOT: Final = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from llmlog._redact_worker_process import boot; "
    "boot(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])"
)


class WorkerClient:
    """The app side of one worker process; used from the writer thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._worker: Worker | None = None
        self._pid = os.getpid()
        self._answered = False  # a worker has worked in this process
        self._unavailable: str | None = None
        self._restarted = False  # a worker that ended before answering was started again
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
                reply = self._ask(payload, config)
            except WorkerGone as exc:  # a new worker (started by _ask) gets one more try
                _guard.warn_once(
                    "redact_worker_died",
                    f"the PII redaction worker {exc}; a new one was started and the record "
                    "sent again (said once, counted as redact_worker_died)",
                )
                reply = self._ask(payload, config)
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

    def _ask(self, payload: bytes, config: DetectorConfig) -> list[Any]:
        """One request to the worker (found or started first if there is none): its
        decoded reply."""
        if self._worker is not None and not self._worker.intact():
            self._let_go(self._worker)
        first = self._worker is None
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
        worker = self._worker or self._start(config)
        try:
            try:
                return exchange(worker, payload, timeout)
            except (OSError, WorkerError, orjson.JSONDecodeError):
                if not worker.shared or worker.pid is not None:
                    raise
                self._kill()  # the group's worker was ending as we connected: once it is
                time.sleep(GROUP_WORKER_GONE_S)  # gone, start ours (and bind the name)
                worker = self._start(config)
                if worker.shared:  # another process's, since: no third try
                    self._kill()
                    worker = self._start(config, share=False)
                return exchange(worker, payload, timeout)
        except (OSError, WorkerError, orjson.JSONDecodeError) as exc:
            # Gone before any reply byte, having answered before: it died while idle.
            gone = not first and isinstance(exc, (BrokenPipeError, WorkerGone))
            how = how_it_ended(worker) if gone else ""
            self._kill()
            deadline = drain_deadline()  # (it may have begun while this waited)
            if deadline is not None and time.monotonic() >= deadline - DRAIN_MARGIN_S:
                self._out_of_time = deadline
                raise NoTimeLeft(f"no answer before the process ends: {exc}") from None
            if gone:
                raise WorkerGone(f"(pid {worker.pid}) {how}") from None
            if not self._answered and isinstance(exc, WorkerGone) and not self._restarted:
                self._restarted = True  # ended before its hello (killed as it loaded
                return self._ask(payload, config)  # presidio, say): a second start, once
            if not self._answered:  # it cannot even start here: stop trying
                self._unavailable = f"the redaction worker cannot start: {exc}"
                raise WorkerUnavailable(self._unavailable) from None
            raise WorkerError(f"redaction worker failed: {exc}") from None

    def _start(self, config: DetectorConfig, *, share: bool = True) -> Worker:
        """This process group's worker if one listens (:mod:`_redact_worker_address`), else
        a worker of our own (its detector built for ``config``), which listens for the
        group's next processes. The name is bound here, before the worker starts, so that
        processes whose first records come together wait for one worker, not start one
        each."""
        address = _redact_worker_address.group_address() if share else None
        listener = None
        if address is not None:
            if (shared := _redact_worker_address.connect(address)) is None:
                listener = _redact_worker_address.listen(address)
                if listener is None:  # another process bound it just now
                    shared = _redact_worker_address.connect_soon(address)
            if shared is not None:
                self._worker = Worker(requests=shared, replies=SAME_AS_REQUESTS, shared=True)
                return self._worker
        try:
            return self._start_own(config, listener)
        finally:
            if listener is not None:  # the worker's now (or nobody's: askers see it closed)
                listener.close()

    def _start_own(self, config: DetectorConfig, listener: socket.socket | None) -> Worker:
        if not sys.executable or not hasattr(select, "poll"):
            raise WorkerUnavailable("no interpreter to start, or no poll() on this platform")
        package_root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ)
        env.update(
            LLMLOG_ENABLED="0",
            TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="",
            HF_HUB_OFFLINE="1",
            PYTHONWARNINGS="ignore",
            OPENBLAS_NUM_THREADS="1",  # numpy's thread pool: idle memory, and a fork hazard
        )
        try:  # all non-inheritable, but for what Popen hands on below
            requests, request_end = os.pipe()
            replies, reply_end = os.pipe()
        except OSError as exc:
            raise WorkerError(f"cannot make a pipe: {exc}") from None
        try:
            starter = subprocess.Popen(
                [
                    *(sys.executable, "-P", "-c", _BOOT, package_root, str(reply_end)),
                    str(listener.fileno() if listener is not None else -1),
                    orjson.dumps(config.to_wire()).decode(),
                ],
                stdin=requests,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                close_fds=True,
                pass_fds=(reply_end,) if listener is None else (reply_end, listener.fileno()),
                start_new_session=True,  # Ctrl-C in a terminal is for the app, not for us
            )
        except OSError as exc:
            os.close(replies)
            os.close(request_end)
            self._unavailable = f"cannot start {sys.executable}: {exc}"
            raise WorkerUnavailable(self._unavailable) from None
        finally:  # the worker's ends: ours closed, so its exit reads as end of file
            os.close(requests)
            os.close(reply_end)
        self._worker = Worker(requests=request_end, replies=replies, starter=starter)
        return self._worker

    def forget(self) -> None:
        """In a forked child: drop the parent's worker without touching it."""
        worker, self._worker = self._worker, None
        self._pid, self._answered, self._out_of_time = os.getpid(), False, None
        self._restarted = False
        if worker is not None:
            worker.close()  # (its starter is the parent's to reap: marked, not waited for)

    def release(self) -> None:
        """At exit, after the last drain: the worker is let go (its stdin closes, it exits)
        and waited for briefly, so the app's exit leaves no process or pipe behind it (Python
        says so under ``-W default`` / ``-X dev``: ResourceWarnings). A call made later (a
        daemon thread's) starts another. A worker still busy (a drain that ran out of time)
        is left to exit by itself."""
        if not self._lock.acquire(timeout=RELEASE_WAIT_S):
            return
        try:
            worker = self._worker
            if worker is None or self._pid != os.getpid():
                return
            self._worker = None
            worker.hang_up()
            worker.wait_gone(RELEASE_WAIT_S)
            worker.close()
            worker.reap_group_worker()
        finally:
            self._lock.release()

    @property
    def worker_pid(self) -> int | None:
        return self._worker.pid if self._worker is not None else None

    def _let_go(self, worker: Worker) -> None:
        """The app closed our descriptors of ``worker`` (``os.closerange``): they are not
        touched again, not even closed (their numbers may be the app's files now). The
        worker, its requests pipe closed, exits; the next request starts another."""
        self._worker = None
        _guard.warn_once(
            "redact_worker_closed",
            f"the app closed llmlog's descriptors of its PII redaction worker (fds "
            f"{worker.requests}, {worker.replies}): a new worker is used (nothing is written "
            "to, or closed on, those numbers)",
        )

    def _kill(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.kill()


def _encode_request(config: DetectorConfig, texts: Sequence[str]) -> bytes:
    try:
        return orjson.dumps([config.to_wire(), list(texts)])
    except TypeError:  # lone surrogates are not UTF-8; one U+FFFD each keeps every offset
        clean = [_SURROGATE.sub("\ufffd", text) for text in texts]
        return orjson.dumps([config.to_wire(), clean])


_client = WorkerClient()


def client() -> WorkerClient:
    """This process's worker client (the worker itself starts on first use)."""
    return _client


def _after_fork_in_child() -> None:
    _client._lock = threading.Lock()  # the parent's lock may have been held at fork
    _client.forget()


os.register_at_fork(after_in_child=_after_fork_in_child)
