"""A call that asked for a stream and got back something llmlog does not know as one.

Another tool activated before llmlog may hand back its own stream wrapper, a plain class
rather than a proxy (OpenTelemetry's openai-v2 ``ChatStreamWrapper``, OpenLLMetry's
``WrappedMessageStreamManager``): llmlog then cannot watch the stream, and the call's
record is written at once, without its answer. Said once on stderr (and counted as
``foreign_stream``), with the way out: llmlog activated first (``llmlog-run`` and
``LLMLOG_ENABLED`` always are) sees the SDK's own stream beneath any such wrapper.
"""

from __future__ import annotations

from typing import Any

from llmlog import _guard
from llmlog._record import Capture


def note(cap: Capture, result: Any) -> None:
    cls = result.__class__
    _guard.warn_once(
        "foreign_stream",
        f"{cap.provider} {cap.method} asked for a stream and got a "
        f"{cls.__module__}.{cls.__qualname__}, another tool's wrapper: its record has no "
        "answer. Activate llmlog before that tool (llmlog-run or LLMLOG_ENABLED=1 always do)",
    )
