"""llmlog: a record of every LLM call your application makes.

``llmlog.instrument()`` once at start-up (or ``LLMLOG_ENABLED=1``, or
``llmlog-run``) and every OpenAI and Anthropic SDK call is written as one
JSON line: prompt, response, usage, cost, latency, errors.
"""

from __future__ import annotations

import threading
from typing import Any

from llmlog._context import bind, context
from llmlog._version import __version__

__all__ = ["__version__", "bind", "context", "flush", "instrument", "trouble", "uninstrument"]

_lock = threading.Lock()


def instrument(**settings: Any) -> None:
    """Start logging every LLM call of this process.

    Keyword arguments are the ``LLMLOG_*`` settings in lower case without the
    prefix (``instrument(output="calls.jsonl", redact="secrets")``) and win
    over the environment. Calling it again applies new settings; nothing is
    ever patched or logged twice. A bad value raises ``ValueError`` naming the
    variable, the value and what is allowed.
    """
    from llmlog import _pipeline, _sigterm, instrumentors, redaction
    from llmlog._config import Settings

    resolved = Settings.from_env(**settings)
    redaction.validate(resolved)
    with _lock:
        pipeline = _pipeline.current()
        if pipeline is None or pipeline.settings != resolved:
            _pipeline.configure(resolved)
        instrumentors.install(resolved.disabled_providers)
        _sigterm.handle_sigterm(resolved.sigterm == "flush")


def uninstrument() -> None:
    """Stop logging: write what is pending, then remove every patch."""
    from llmlog import _pipeline, _sigterm, instrumentors

    with _lock:
        instrumentors.uninstall()
        _pipeline.shutdown()
        _sigterm.handle_sigterm(False)


def flush(timeout: float | None = None) -> bool:
    """Block until every call made so far is written; ``False`` if ``timeout`` ran out."""
    from llmlog import _pipeline

    return _pipeline.flush(timeout)


def trouble() -> dict[str, int]:
    """What went wrong inside llmlog in this process, by kind, with how often: records lost
    by the sink (``sink_lost``), cannot-write reports per file (``sink:<path>``), internal
    errors per place (``bug:<where>``), and the other things said once on stderr (such as
    ``redact_off``). For health checks and metrics. Empty when all is well."""
    from llmlog import _guard

    return dict(_guard.counts)
