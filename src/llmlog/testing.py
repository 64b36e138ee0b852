"""Helpers for the app's tests (and ours): capture records in memory.

>>> with llmlog.testing.capture_records(redact="secrets") as cap:
...     client.chat.completions.create(...)
>>> cap.records[0]["usage"]["output_tokens"]
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from llmlog import _pipeline, instrumentors, redaction
from llmlog._config import Settings
from llmlog.sinks import MemorySink


class CapturedRecords:
    """The records written while the ``capture_records`` block is active."""

    def __init__(self, sink: MemorySink) -> None:
        self._sink = sink

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every record so far (pending ones are flushed first), as written."""
        _pipeline.flush(60.0)  # returns once written: the bound is for a cold PII worker
        return [orjson.loads(line) for line in self._sink.lines]

    @property
    def calls(self) -> list[dict[str, Any]]:
        """Only the ``llm.call`` records."""
        return [r for r in self.records if r.get("event") == "llm.call"]


@contextmanager
def capture_records(**settings: Any) -> Iterator[CapturedRecords]:
    """Instrument with ``settings`` and keep every record in memory, not in files.

    The previous llmlog state (pipeline and patches) is restored afterwards. A stream
    still open when the block ends is recorded in it as ``cancelled`` (as by
    ``uninstrument()``) when llmlog was off before; when it was on, its record goes to
    the app's log when the stream ends.
    """
    resolved = Settings.from_env(**settings)
    redaction.validate(resolved)
    sink = MemorySink()
    previous = _pipeline.current()
    _pipeline._current = None  # keep the previous pipeline alive, untouched
    pipeline = _pipeline.configure(resolved, sinks=[sink])
    instrumentors.install(resolved.disabled_providers)
    try:
        yield CapturedRecords(sink)
    finally:
        try:
            if previous is None:  # what is still open is recorded (cancelled) here, not lost
                instrumentors.uninstall()
        finally:
            pipeline.close(resolved.flush_timeout)
            _pipeline._current = previous
            if previous is not None:  # the providers it patched, also one the capture left out
                instrumentors.install(previous.settings.disabled_providers)
