"""The PII worker's own side: how it starts, answers its app, and serves other processes.

The app's writer starts a process that forks the worker and exits at once: the worker is
not the app's child, so an app that reaps its children with ``os.wait()`` until there
are none does not wait for ever on ours. The worker says hello (its pid) on its reply
pipe, then answers length-prefixed JSON requests read on stdin until stdin closes (the
app exited or let it go).

It also listens where the other processes of its group look for one
(:mod:`llmlog._redact_worker_address`). Each connection is served by a fork of the
worker, its presidio engine already built (milliseconds instead of a second's start),
which ends when the connection closes; the worker itself goes on answering its app.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import struct
from typing import Any, Final

import orjson

from llmlog import _deaf_threads, _redact_worker_address
from llmlog._redact_detect import Detector, DetectorConfig

HEADER: Final = struct.Struct(">I")
"""Each request and reply is this 4-byte length, then that many bytes of JSON."""

_detectors: dict[DetectorConfig, Detector] = {}
"""Built once per configuration; a fork for another process starts with them built."""


def boot(reply_fd: int, address: str) -> None:
    """The started process's entry point: fork the worker, and exit so the app reaps us."""
    if os.fork() != 0:
        os._exit(0)
    serve(reply_fd, address or None)


def serve(reply_fd: int, address: str | None) -> None:
    """Answer requests on stdin (replies on ``reply_fd``) and hand the connections made at
    ``address`` to forks, until stdin closes."""
    _deaf_threads.unblock_all()  # started from the writer thread, whose mask it inherited
    # Background work: under CPU contention the app's own threads go first.
    with contextlib.suppress(OSError):
        os.nice(10)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the forks are reaped by the kernel
    listener = _redact_worker_address.listen(address) if address else None
    _send(reply_fd, ["hello", os.getpid()])
    poller = select.poll()
    poller.register(0, select.POLLIN)
    if listener is not None:
        poller.register(listener.fileno(), select.POLLIN)
    while True:
        ready = {fd for fd, _ in poller.poll()}
        if 0 in ready and not _answer(0, reply_fd):
            os._exit(0)  # at once: tearing down presidio's modules took ~200 ms
        if listener is not None and listener.fileno() in ready:
            _serve_in_a_fork(listener, reply_fd)


def _serve_in_a_fork(listener: socket.socket, reply_fd: int) -> None:
    """Accept one connection and leave it to a fork of this process."""
    try:
        conn, _ = listener.accept()
    except OSError:
        return
    with conn:
        if not _redact_worker_address.peer_is_ours(conn):
            return
        try:
            pid = os.fork()
        except OSError:
            return  # the asker sees the connection close, and starts a worker of its own
        if pid != 0:
            return
        try:  # the fork: it serves this connection only, and never returns to the loop
            listener.close()
            os.close(0)
            os.close(reply_fd)
            fd = conn.fileno()
            _send(fd, ["hello", os.getpid()])
            while _answer(fd, fd):
                pass
        finally:
            os._exit(0)


def _answer(source: int, reply_fd: int) -> bool:
    """Read one request from ``source`` and answer it; False at end of file."""
    header = _read_exact(source, HEADER.size)
    if header is None:
        return False
    (size,) = HEADER.unpack(header)
    body = _read_exact(source, size)
    if body is None:
        return False
    reply: list[Any]
    try:
        config_wire, texts = orjson.loads(body)
        config = DetectorConfig.from_wire(config_wire)
        detector = _detectors.get(config)
        if detector is None:
            detector = _detectors[config] = Detector(config)
        reply = ["ok", detector.find_all(texts)]
    except ImportError as exc:  # this interpreter lacks presidio: the app may have it
        reply = ["unavailable", f"{type(exc).__name__}: {str(exc)[:300]}"]
    except Exception as exc:  # answer, never die: the app side reports it
        reply = ["error", f"{type(exc).__name__}: {str(exc)[:300]}"]
    try:
        _send(reply_fd, reply)
    except OSError:  # the asker is gone
        return False
    return True


def _send(fd: int, message: list[Any]) -> None:
    body = orjson.dumps(message)
    data = memoryview(HEADER.pack(len(body)) + body)
    while data:
        data = data[os.write(fd, data) :]


def _read_exact(fd: int, size: int) -> bytes | None:
    """``size`` bytes from ``fd`` (blocking), or None if it ends first."""
    chunks: list[bytes] = []
    while size:
        try:
            chunk = os.read(fd, min(size, 1 << 20))
        except OSError:
            return None
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)
