"""A sink whose writes wait until released: the writer stuck behind a slow disk."""

from __future__ import annotations

import threading


class BlockedSink:
    """Each write waits for ``release`` (at most 10 s); ``writing`` is set once the writer
    is in its first write."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.writing = threading.Event()
        self.lines: list[bytes] = []

    def write(self, line: bytes) -> None:
        self.writing.set()
        self.release.wait(10)
        self.lines.append(line)

    def close(self) -> None:
        pass
