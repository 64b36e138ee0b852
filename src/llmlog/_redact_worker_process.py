"""The PII worker's own side: how it starts, answers its app, and serves other processes.

The app's writer starts a process that forks the worker and exits at once: the worker is
not the app's child, so an app that reaps its children with ``os.wait()`` until there
are none does not wait for ever on ours (unless the app is PID 1 or a subreaper: orphans
come back to it). The worker builds its detector, then serves by forking: one fork
answers the app (hello with its pid on the reply pipe, then length-prefixed JSON requests
read on stdin until stdin closes), and one fork serves each connection made by the other
processes of its group where the app bound the group's name
(:mod:`llmlog._redact_worker_address`), presidio already built (milliseconds instead of
a second's start). The worker itself only accepts, and exits when the app's end of stdin
closes (the app exited or let it go).
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


_WARM_UP: Final = "Warm up: Jane Doe, jane@example.com, +1 415 555 0100, 4111 1111 1111 1111."


def boot(reply_fd: int, listener_fd: int, config_wire: str) -> None:
    """The started process's entry point: fork the worker, and exit so the app reaps us."""
    if os.fork() != 0:
        os._exit(0)
    listener = socket.socket(fileno=listener_fd) if listener_fd >= 0 else None
    serve(reply_fd, listener, DetectorConfig.from_wire(orjson.loads(config_wire)))


def serve(reply_fd: int, listener: socket.socket | None, config: DetectorConfig) -> None:
    """Build the detector for ``config``, leave the app's requests (stdin, replies on
    ``reply_fd``) to a fork, and fork one for each connection made to ``listener``, until
    the app closes stdin. Forking the app's server too keeps this process free to accept:
    another process's first record never waits behind the app's long request."""
    _deaf_threads.unblock_all()  # started from the writer thread, whose mask it inherited
    # Background work: under CPU contention the app's own threads go first.
    with contextlib.suppress(OSError):
        os.nice(10)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the forks are reaped by the kernel
    with contextlib.suppress(Exception):  # (a request for it says what failed)
        detector = _detectors[config] = Detector(config)
        detector.find_all([_WARM_UP])  # presidio loads on first use: before any fork
    _fork_to_serve(0, reply_fd, listener)
    os.close(reply_fd)
    poller = select.poll()
    poller.register(0, 0)  # no reading: only its end (the app exited or let it go)
    if listener is not None:
        poller.register(listener.fileno(), select.POLLIN)
    while True:
        for fd, _ in poller.poll():
            if fd != 0 and listener is not None:
                _accept(listener)
            elif fd == 0:  # those already waiting are served, then the worker exits at once
                if listener is not None:  # (tearing presidio's modules down took ~200 ms)
                    listener.setblocking(False)
                    while _accept(listener):
                        pass
                os._exit(0)


def _accept(listener: socket.socket) -> bool:
    """Accept one connection and leave it to a fork of this process; False if none waited."""
    try:
        conn, _ = listener.accept()
    except OSError:
        return False
    with conn:
        conn.setblocking(True)
        if _redact_worker_address.peer_is_ours(conn):
            _fork_to_serve(conn.fileno(), conn.fileno(), listener)
    return True


def _fork_to_serve(source: int, reply_fd: int, listener: socket.socket | None) -> None:
    """A fork that says hello (its pid) and answers the requests read from ``source`` until
    it ends; it never returns here."""
    try:
        pid = os.fork()
    except OSError:
        return  # the asker sees end of file, and starts a worker of its own
    if pid != 0:
        return
    try:
        if listener is not None:
            listener.close()
        if source != 0:
            os.close(0)
        _send(reply_fd, ["hello", os.getpid(), os.getppid()])
        while _answer(source, reply_fd):
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
