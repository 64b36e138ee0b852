"""A sink whose writes wait until released: the writer stuck behind a slow disk."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


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


@contextmanager
def logging_to(sink: BlockedSink, **settings: Any) -> Iterator[BlockedSink]:
    """llmlog on with ``settings``, its records going to ``sink`` (released at the end); the
    previous pipeline and patches are back afterwards."""
    from llmlog import _pipeline, instrumentors
    from llmlog._config import Settings

    previous = _pipeline.current()
    _pipeline._current = None
    pipeline = _pipeline.configure(Settings.from_env(**settings), sinks=[sink])
    instrumentors.install(())
    try:
        yield sink
    finally:
        sink.release.set()
        instrumentors.uninstall()
        pipeline.close(10)
        _pipeline._current = previous
        if previous is not None:
            instrumentors.install(previous.settings.disabled_providers)
