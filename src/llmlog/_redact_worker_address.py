"""Where the PII worker of a process group listens, so others need not start one.

Each worker costs ~1 s to start and ~100 MB to keep. The processes of one job -- an
app and its ``multiprocessing`` workers (every start method), the subprocesses it runs,
the two ends of a shell pipeline -- share one process group, and would each start their
own. So the first one's worker also listens on an abstract Unix socket whose name says
for whom it is: the same user, process group and pid namespace (a container's
processes never meet another's), the same interpreter, ``PYTHONPATH`` and llmlog (a
worker that imports what the asker would). Both ends check the other's user with
``SO_PEERCRED``. Linux only: elsewhere every process starts its own worker, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Final

from llmlog._version import __version__

CONNECT_TIMEOUT_S: Final = 2.0
_PEER: Final = struct.Struct("3i")  # struct ucred: pid, uid, gid


def group_address() -> str | None:
    """The name of this process group's worker (an abstract socket's, without its leading
    NUL, so that it can go on a command line), or None where there is none."""
    if not sys.platform.startswith("linux") or not hasattr(socket, "SO_PEERCRED"):
        return None
    try:
        pid_namespace = os.stat("/proc/self/ns/pid").st_ino
        group = os.getpgid(0)
    except OSError:
        return None
    whose = "\0".join(
        str(part)
        for part in (
            __version__,
            Path(__file__).resolve().parent,
            sys.executable,
            os.environ.get("PYTHONPATH", ""),
            os.getuid(),
            pid_namespace,
            group,
        )
    )
    return "llmlog-pii-" + hashlib.sha256(whose.encode(errors="replace")).hexdigest()[:32]


def peer_is_ours(sock: socket.socket) -> bool:
    """Whether the process at the other end runs as this user, in this pid namespace
    (a pid of 0 is one the kernel cannot name here)."""
    try:
        pid, uid, _ = _PEER.unpack(
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEER.size)
        )
    except OSError:
        return False
    return bool(uid == os.getuid() and pid > 0)


def connect(address: str) -> int | None:
    """A connected descriptor to the worker listening at ``address``, if one is there."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        sock.settimeout(CONNECT_TIMEOUT_S)  # a full backlog would block a connect
        sock.connect("\0" + address)
        sock.setblocking(True)
        if not peer_is_ours(sock):
            return None
        return sock.detach()
    except OSError:  # nobody listens (ECONNREFUSED), or sockets are not allowed here
        return None
    finally:
        sock.close()


BOUND_WAIT_S: Final = 0.5
"""How long a name just bound by another process may take to listen (bind and listen are
two steps); connections refused meanwhile are tried again."""


def connect_soon(address: str) -> int | None:
    """:func:`connect` to a name another process has just bound, allowing it to listen."""
    deadline = time.monotonic() + BOUND_WAIT_S
    while (fd := connect(address)) is None and time.monotonic() < deadline:
        time.sleep(0.005)
    return fd


def listen(address: str) -> socket.socket | None:
    """A socket listening at ``address``, or None if another worker holds the name."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        sock.bind("\0" + address)
        sock.listen(64)
    except OSError:
        with contextlib.suppress(OSError):
            sock.close()
        return None
    return sock
