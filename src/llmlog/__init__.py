"""llmlog: a record of every LLM call your application makes.

``llmlog.instrument()`` once at start-up (or ``LLMLOG_ENABLED=1``, or
``llmlog-run``) and every OpenAI and Anthropic SDK call is written as one
JSON line: prompt, response, usage, cost, latency, errors.
"""

from __future__ import annotations

import threading
from typing import Any

from llmlog import _context
from llmlog._context import bind, context
from llmlog._version import __version__

__all__ = [
    "__version__",
    "bind",
    "context",
    "flush",
    "instrument",
    "trouble",
    "unbind",
    "uninstrument",
]

_lock = threading.Lock()
_given: dict[str, Any] = {}
"""The keyword settings in force, from this process's ``instrument()`` calls so far."""
_output: tuple[str, str] = ("", "")
"""The output in force: as the settings spell it, and the absolute path it was resolved to
where logging started (``("", "")`` while logging is off)."""


def instrument(**settings: Any) -> None:
    """Start logging every LLM call of this process.

    Keyword arguments are the ``LLMLOG_*`` settings in lower case without the
    prefix (``instrument(output="calls.jsonl", redact="secrets")``) and win
    over the environment. Calling it again changes the settings it names and keeps
    those earlier calls gave (``instrument(service="api")`` keeps the output and
    redaction chosen before; a provider now in ``disabled_providers`` is unpatched; a
    setting given as ``None`` goes back to the environment's or the default); after
    ``uninstrument()`` a call starts afresh.
    Nothing is ever patched or logged twice. A bad value raises ``ValueError``
    naming the variable, the value and what is allowed. A relative output (the default
    too) is resolved once, where logging starts: a later call after a ``chdir`` keeps
    writing to the same file.

    When the environment turns logging on for child processes (``LLMLOG_ENABLED=1``,
    ``llmlog-run``), the settings given here are passed on to them, as keywords there too
    (a relative output as an absolute path; the redaction key excepted, see
    ``llmlog._activate.share``). ``enabled=False`` does not instrument: it switches
    logging off (as ``uninstrument()`` does, when it was on) and, in that environment,
    for the child processes started from then on.
    """
    from dataclasses import replace

    from llmlog import _activate, _pipeline, _sigterm, instrumentors, redaction
    from llmlog._config import Settings
    from llmlog.instrumentors import _base

    global _output
    pipeline = _pipeline.current()
    if not settings and pipeline is not None and _base.is_active():
        # (a patch another tool's uninstrument took off is put back: _patch_presence)
        instrumentors.install(pipeline.settings.disabled_providers)
        return
    given = dict(_given)
    for name, value in settings.items():
        if value is None:
            given.pop(name, None)
        elif name != "enabled":
            given[name] = value
    switch = {"enabled": settings["enabled"]} if settings.get("enabled") is not None else {}
    resolved = Settings.from_env(**{**_activate.inherited(), **given, **switch})
    _activate.stop_waiting()  # the app's own call wins over activation waiting for an SDK
    if settings.get("enabled") is not None and not resolved.enabled:
        if _pipeline.current() is not None or _base.is_active():
            uninstrument()
        _activate.share(settings, resolved)
        _activate.settled()
        return
    redaction.validate(resolved)
    _activate.say_unknown_variables()
    with _lock:
        spelled = resolved.output
        resolved = replace(resolved, output=_output_in_force(spelled))
        pipeline = _pipeline.current()
        if pipeline is None or pipeline.settings != resolved:
            _pipeline.configure(resolved)
        instrumentors.install(resolved.disabled_providers)
        _sigterm.handle_sigterm(resolved.sigterm == "flush")
        _given.clear()
        _given.update(given)
        _output = (spelled, resolved.output)
    _activate.share({**given, **settings}, resolved)
    _activate.settled()


def _output_in_force(spelled: str) -> str:
    """Where the output ``spelled`` writes: where it did since logging started, if it is the
    one in force (a relative path is resolved once, see ``instrument()``), else resolved
    against the current directory now."""
    from llmlog._config import absolute_output

    kept, path = _output
    return path if spelled == kept else absolute_output(spelled)


def uninstrument() -> None:
    """Stop logging: remove every patch, record what is still open, write what is pending.

    Calls started from now on are not recorded. Each call already started gets its one
    record: calls waiting for their answer on other threads get up to
    ``LLMLOG_FLUSH_TIMEOUT`` seconds to end and are recorded as they end; those still
    waiting then, and those of this thread or of the event loop it runs (which cannot end
    while it waits here), are recorded as ``cancelled`` with what is known (their answer,
    when it comes, reaches the app unrecorded). Streams still open are recorded as
    ``cancelled`` with what was read so far; the app may go on reading them. Then the
    records are written, again within ``LLMLOG_FLUSH_TIMEOUT``.
    """
    from llmlog import _activate, _pipeline, _sigterm
    from llmlog.instrumentors import _base

    global _output
    _activate.stop_waiting()  # an activation waiting for an SDK's import does not happen
    _activate.settled()  # logging is off as asked: no longer an activation's failure
    with _lock:
        pipeline = _pipeline.current()
        _base.uninstall_all(wait=pipeline.settings.flush_timeout if pipeline is not None else 0.0)
        _pipeline.shutdown()
        _sigterm.handle_sigterm(False)
        _given.clear()
        _output = ("", "")


def unbind() -> None:
    """Forget every value ``bind()`` set in the current thread or asyncio task.

    A pooled thread (``ThreadPoolExecutor``, gunicorn's ``gthread`` workers) keeps its
    context from one work item to the next: call this where an item starts, so a user id
    bound for the previous one is not written on the next one's calls. Inside a
    ``with llmlog.context(...)`` block it forgets that block's values too, until the
    block ends.
    """
    _context.clear()


def flush(timeout: float | None = None) -> bool:
    """Block until every call made so far is written; ``False`` if ``timeout`` ran out, if
    a record was lost since the last flush (queue full, a log file it cannot write:
    :func:`trouble` says which), or while logging asked for at start-up is off because
    its activation failed (``activation_failed``)."""
    from llmlog import _activate, _pipeline

    written = _pipeline.flush(timeout)
    return written and not _activate.failed()


def trouble() -> dict[str, int]:
    """What went wrong inside llmlog in this process, by kind, with how often: records lost
    by the sink (``sink_lost``), cannot-write reports per file (``sink:<path>``), internal
    errors per place (``bug:<where>``), start-up activations that failed, leaving this
    process unlogged (``activation_failed``), and the other things said once on stderr
    (such as ``redact_off``). For health checks and metrics. Empty when all is well."""
    from llmlog import _guard

    return dict(_guard.counts)


_SUBMODULES = frozenset({"fake_provider", "redaction", "testing", "cost", "processors", "sinks"})


def __getattr__(name: str) -> Any:
    """``llmlog.testing``, ``llmlog.fake_provider``... after a plain ``import llmlog``, as
    the README writes them; imported when first named, so ``import llmlog`` stays cheap."""
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"llmlog.{name}")
    raise AttributeError(f"module 'llmlog' has no attribute {name!r}")
