"""Activation at interpreter start: the one function behind every zero-code path.

The ``.pth`` line, ``llmlog-run``'s bootstrap ``sitecustomize`` and the copyable
``sitecustomize_example`` all end here. It runs before the application, so it
must never take the application down: whatever goes wrong is said once on
stderr and the app runs on unlogged -- unless ``LLMLOG_STRICT=1`` asks to stop,
for deployments that must not run without a log.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

__all__ = ["EXIT_CODE", "activate", "activate_from_env", "fail", "is_off", "is_on"]

#: Exit status under strict mode: EX_CONFIG from sysexits.h ("configuration error").
EXIT_CODE = 78
_SDKS = ("openai", "anthropic")
_ON = frozenset({"1", "true", "yes", "on"})
_OFF = frozenset({"0", "false", "no", "off", ""})

_outcome: bool | None = None  # None until the first attempt in this process


def is_on(value: str | None) -> bool:
    """The same truthy spellings as the settings table (``1``, ``true``, ``yes``, ``on``)."""
    return (value or "").strip().lower() in _ON


def is_off(value: str | None) -> bool:
    """The settings table's falsy spellings (``0``, ``false``, ``no``, ``off``, empty, unset)."""
    return (value or "").strip().lower() in _OFF


def activate_from_env() -> bool:
    """Instrument when ``LLMLOG_ENABLED`` is truthy, with settings from the environment.

    Returns whether logging is on. Safe to call more than once (the ``.pth``
    line and the bootstrap ``sitecustomize`` may both run): later calls are no-ops.
    A value that is neither on nor off (``2``, ``enabled``) is an activation failure,
    said on stderr: silently running unlogged would look like logging that works.
    """
    value = os.environ.get("LLMLOG_ENABLED")
    if is_on(value):
        return activate()
    if not is_off(value):
        fail(_enabled_problem(value), strict=is_on(os.environ.get("LLMLOG_STRICT")))
    return bool(_outcome)


def activate(**settings: Any) -> bool:
    """Instrument with ``settings`` (over the environment), never raising into the app.

    On failure: one message on stderr, ``LLMLOG_ENABLED=0`` in the environment
    so child processes do not repeat it, and ``False``. Under strict mode (the
    ``strict`` setting or ``LLMLOG_STRICT``) the process exits with
    :data:`EXIT_CODE` instead. Repeated calls without settings do nothing;
    explicit settings are applied even after an activation from the environment
    (a ``sitecustomize`` runs after the ``.pth`` line and should win).
    """
    global _outcome
    if _outcome is not None and not settings:
        return _outcome
    _outcome = False
    strict = is_on(str(settings.get("strict", ""))) or is_on(os.environ.get("LLMLOG_STRICT"))
    try:
        problem = _activation_problem(settings)
    except Exception as exc:  # a broken install or an llmlog bug: still never the app's problem
        problem = f"{type(exc).__name__}: {exc}"
    if problem is not None:
        fail(problem, strict=strict)
        return False
    _outcome = True
    return True


def fail(problem: str, *, strict: bool, stop: Callable[[int], NoReturn] = os._exit) -> None:
    """Report an activation failure; stop the process under strict mode.

    ``os._exit`` rather than ``SystemExit``: during interpreter start-up
    (``.pth``, ``sitecustomize``) a ``SystemExit`` becomes a "Fatal Python
    error" with a traceback instead of a clean exit.
    """
    if strict:
        _say(f"llmlog: activation failed and LLMLOG_STRICT=1, stopping: {problem}")
        stop(EXIT_CODE)
    _say(
        f"llmlog: not activated, the application runs without LLM logging: {problem} "
        "(set LLMLOG_STRICT=1 to stop instead)"
    )
    os.environ["LLMLOG_ENABLED"] = "0"


def _enabled_problem(value: str | None) -> str:
    """The settings table's own words for a bad ``LLMLOG_ENABLED`` (variable, allowed values)."""
    from llmlog._config import Settings

    try:
        Settings.from_env({"LLMLOG_ENABLED": value or ""})
    except ValueError as exc:
        return str(exc)
    return f"LLMLOG_ENABLED={value!r} is not valid"


def _activation_problem(settings: Mapping[str, Any]) -> str | None:
    """What stands in the way of logging, in words; ``None`` once instrumented."""
    from llmlog._config import Settings

    try:
        resolved = Settings.from_env(**settings)
    except ValueError as exc:
        return str(exc)
    wanted = [sdk for sdk in _SDKS if sdk not in resolved.disabled_providers]
    if wanted and not any(_installed(sdk) for sdk in wanted):
        return f"no supported SDK is installed in this interpreter ({', '.join(wanted)})"
    import llmlog

    try:
        llmlog.instrument(**settings)
    except ValueError as exc:
        return str(exc)
    return None


def _installed(module: str) -> bool:
    """Whether ``module`` could be imported, without importing it (start-up stays cheap)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _say(message: str) -> None:
    try:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    except Exception:  # no usable stderr (pythonw, closed fd): stay silent rather than fail
        pass
