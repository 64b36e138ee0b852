"""Activation at interpreter start: the one function behind every zero-code path.

The ``.pth`` line, ``llmlog-run``'s bootstrap ``sitecustomize`` and the copyable
``sitecustomize_example`` all end here. It runs before the application, so it
must never take the application down: whatever goes wrong is said once on
stderr and the app runs on unlogged -- unless ``LLMLOG_STRICT=1`` asks to stop,
for deployments that must not run without a log.

A failure never switches logging off for child processes (no ``LLMLOG_ENABLED=0``
written back): a child may well be another interpreter -- ``poetry run``, ``tox``
or a supervisor script runs in a Python without llmlog or without an SDK, and
starts the real app in one that has both. Whether *this* interpreter can log
says nothing about the next. "Said once" is kept with a separate marker,
:data:`REPORTED` (checksums of the messages already said in this process tree):
a child that fails the same way (the same bad value, the same interpreter)
stays silent. Under strict mode, a failure stops the process only when this
interpreter could make a call that would go unlogged: with no SDK installed
there is nothing here to log, so a wrapper without one never stops the app.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import zlib
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

__all__ = [
    "EXIT_CODE",
    "REPORTED",
    "activate",
    "activate_from_env",
    "fail",
    "first_report",
    "is_off",
    "is_on",
]

#: Exit status under strict mode: EX_CONFIG from sysexits.h ("configuration error").
EXIT_CODE = 78
_SDKS = ("openai", "anthropic")
_ON = frozenset({"1", "true", "yes", "on"})
_OFF = frozenset({"0", "false", "no", "off", ""})

#: Marker for children: checksums (crc32, hex, comma-separated) of failures already said.
#: Not an ``LLMLOG_*`` setting; the ``.pth`` line and the bootstrap write it the same way.
REPORTED = "_LLMLOG_REPORTED"
_KEEP_REPORTED = 32

_outcome: bool | None = None  # None until the first attempt in this process
_said_here = False  # a failure was said by this process (see activate's "after all")


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
        fail(_enabled_problem(value), strict=_strict_env())
    return bool(_outcome)


def activate(**settings: Any) -> bool:
    """Instrument with ``settings`` (over the environment), never raising into the app.

    On failure: one message on stderr (once per process tree, see
    :data:`REPORTED`) and ``False``. Under strict mode (the ``strict`` setting or
    ``LLMLOG_STRICT``) the process exits with :data:`EXIT_CODE` instead. Repeated
    calls without settings do nothing; explicit settings are applied even after an
    activation from the environment (a ``sitecustomize`` runs after the ``.pth``
    line and should win, also over a bad ``LLMLOG_*`` value the line failed on).

    A file output taken from the environment (or the default) is written back to
    ``LLMLOG_OUTPUT`` as an absolute path, so that child processes with another
    working directory append to the same file.
    """
    global _outcome, _said_here
    if _outcome is not None and not settings:
        return _outcome
    _outcome = False
    explicit = settings.get("strict")
    strict = _strict_env() or (explicit is not None and not is_off(str(explicit)))
    try:
        problem = _activation_problem(settings)
    except Exception as exc:  # a broken install or an llmlog bug: still never the app's problem
        problem = (f"{type(exc).__name__}: {exc}", True)
    if problem is not None:
        fail(problem[0], strict=strict, fatal=problem[1])
        return False
    if _said_here:
        _say("llmlog: activated after all, with the settings given to activate()")
        _said_here = False
    _outcome = True
    return True


def fail(
    problem: str,
    *,
    strict: bool,
    stop: Callable[[int], NoReturn] = os._exit,
    fatal: bool = True,
) -> None:
    """Report an activation failure; stop the process under strict mode.

    ``fatal=False`` marks a failure that loses nothing here (no SDK in this
    interpreter): said, but strict mode does not stop for it. The message is said
    once per process tree (:func:`first_report`); the environment's
    ``LLMLOG_ENABLED`` is left alone, so children still activate (module docstring).

    ``os._exit`` rather than ``SystemExit``: during interpreter start-up
    (``.pth``, ``sitecustomize``) a ``SystemExit`` becomes a "Fatal Python
    error" with a traceback instead of a clean exit.
    """
    global _said_here
    if strict and fatal:
        _say(f"llmlog: activation failed and LLMLOG_STRICT=1, stopping: {problem}")
        stop(EXIT_CODE)
    if not first_report(problem):
        return
    _said_here = True
    hint = " (set LLMLOG_STRICT=1 to stop instead)" if fatal else ""
    _say(f"llmlog: not activated, the application runs without LLM logging: {problem}{hint}")


def first_report(problem: str) -> bool:
    """Whether ``problem`` was not yet said in this process tree; marks it said.

    The mark lives in :data:`REPORTED` in the environment, inherited by children.
    """
    key = format(zlib.crc32(problem.encode("utf-8", "surrogatepass")), "08x")
    said = [k for k in os.environ.get(REPORTED, "").split(",") if k]
    if key in said:
        return False
    os.environ[REPORTED] = ",".join([*said, key][-_KEEP_REPORTED:])
    return True


def _strict_env() -> bool:
    """``LLMLOG_STRICT`` asks to stop: any value but an off one (``2``, ``ture``) counts.

    Fails closed: whoever set a value meant something, and a typo must not quietly
    turn "never run unlogged" into "run unlogged"; the value itself is reported as
    invalid, which stops the process.
    """
    return not is_off(os.environ.get("LLMLOG_STRICT"))


def _enabled_problem(value: str | None) -> str:
    """The settings table's own words for a bad ``LLMLOG_ENABLED`` (variable, allowed values)."""
    from llmlog._config import Settings

    try:
        Settings.from_env({"LLMLOG_ENABLED": value or ""})
    except ValueError as exc:
        return str(exc)
    return f"LLMLOG_ENABLED={value!r} is not valid"


def _activation_problem(settings: Mapping[str, Any]) -> tuple[str, bool] | None:
    """What stands in the way of logging, in words, and whether it is ``fatal`` (records
    of this interpreter would be lost: see :func:`fail`); ``None`` once instrumented."""
    from llmlog._config import Settings, absolute_output, env_name

    try:
        resolved = Settings.from_env(**settings)
    except ValueError as exc:
        return str(exc), True
    wanted = [sdk for sdk in _SDKS if sdk not in resolved.disabled_providers]
    if wanted and not any(_installed(sdk) for sdk in wanted):
        # Interpreter-specific (the message names it, so another one reports anew) and
        # harmless: nothing here can make a call to log.
        return (
            f"no supported SDK is installed in this interpreter, {sys.executable} "
            f"({', '.join(wanted)}); nothing to log in it",
            False,
        )
    import llmlog

    output = absolute_output(resolved.output)
    try:
        llmlog.instrument(**{**settings, "output": output})
    except ValueError as exc:
        return str(exc), True
    if settings.get("output") is None:  # from the environment or the default: share it
        os.environ[env_name("output")] = output
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
