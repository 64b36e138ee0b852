"""What the writer runs for each record: the processor chain, and the structlog
"logger" at its end that collects the rendered lines for the sinks.

Built on the writer thread (:mod:`llmlog._pipeline` decides when it runs);
optional stages are imported there too, never on the app's thread.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from llmlog._config import Settings
from llmlog._guard import counts
from llmlog._hash_key import prompt_hash_key
from llmlog._per_call import MetadataWhereAsked, context_defaults
from llmlog._record_builder import CaptureToRecord
from llmlog._record_cap import CapRecord
from llmlog.processors import PromptHash, Truncate
from llmlog.sinks import Sink, write_lines

WRITE_BATCH = 64
"""Lines written with one ``os.write`` at most."""

Processor = Callable[[Any, str, Any], Any]


def build_processors(settings: Settings, log_file: Path | None = None) -> list[Processor]:
    """The chain, in order. Optional stages are imported here, on the writer thread.

    ``log_file``: the file the records go to, beside which the prompt hash key is kept
    (:mod:`llmlog._hash_key`)."""
    key = prompt_hash_key(settings.redact_key, log_file)
    chain: list[Processor] = [
        CaptureToRecord(settings),
        *context_defaults(settings),
        PromptHash(key),
    ]
    try:
        from llmlog.cost import add_cost, warm_up
    except ImportError:  # pragma: no cover - the cost module ships with llmlog
        pass
    else:
        warm_up()
        chain.append(add_cost)
    chain.append(MetadataWhereAsked(everywhere=settings.capture == "metadata"))
    from llmlog.redaction import Redact

    chain.append(Truncate(settings.max_field_chars, early=True))  # before the costly search
    chain.append(Redact(settings))
    chain.append(Truncate(settings.max_field_chars))
    chain.append(CapRecord(settings.max_record_bytes))  # renders; shrinks a line too long
    return chain


def import_structlog() -> Any:
    """structlog asks ``sys.stdout.isatty()`` as it is imported (to colour its own default
    output): an app that had closed its stdout made that import fail, the writer died with
    it, and every record was lost. Such a stdout is stood in for by ``os.devnull`` while
    structlog is imported."""
    stdout = sys.stdout
    if not getattr(stdout, "closed", False):
        import structlog

        return structlog
    with open(os.devnull, "w") as stand_in:
        sys.stdout = stand_in
        try:
            import structlog
        finally:
            if sys.stdout is stand_in:
                sys.stdout = stdout
    return structlog


class SinkLogger:
    """The structlog "logger" at the end of the chain: collects lines for the sinks."""

    def __init__(self, sinks: Sequence[Sink]) -> None:
        self.sinks = list(sinks)
        self.pending: list[bytes] = []

    def msg(self, line: bytes) -> None:
        self.pending.append(line)
        if len(self.pending) >= WRITE_BATCH:  # a long drain still rotates files on time
            self.write_out()

    info = msg

    def write_out(self) -> None:
        """The lines collected so far, to every sink (once per slice: one syscall).

        A sink handles its write errors itself; anything else it raises (a bug, a
        ``ValueError`` from the OS layer) means these lines are lost to it: counted as
        lost, so ``flush()`` says False, and raised for the writer to report once, after
        the other sinks had them."""
        lines, self.pending = self.pending, []
        if not lines:
            return
        failed: Exception | None = None
        for sink in self.sinks:
            try:
                write_lines(sink, lines)
            except Exception as exc:
                counts["sink_lost"] += len(lines)
                failed = failed or exc
        if failed is not None:
            raise failed
