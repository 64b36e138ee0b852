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
:data:`REPORTED` (checksums of the messages already said in this process and its descendants):
a child that fails the same way (the same bad value, the same interpreter)
stays silent.

No SDK in sight is not a failure: ``site`` may add the folder holding it after
the ``.pth`` line ran (a venv with ``--system-site-packages``, the user site
before the system's, Debian's ``dist-packages``), and an interpreter that never
imports one has nothing to log. Activation then waits, silently, for the SDK's
import (a post-import hook) and logs from then on; a wrapper without an SDK is
never stopped and says nothing.

Settings an application gives ``instrument()`` as keywords reach its child
processes when the environment activates them (``LLMLOG_ENABLED`` on), as keywords
there too (:data:`SHARED`, :func:`share`), never as ``LLMLOG_*`` variables this
process would read back. The one exception is the redaction key: it never goes
into the environment (every descendant, Python or not, would get it).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from llmlog._config import Settings

__all__ = [
    "EXIT_CODE",
    "REPORTED",
    "SHARED",
    "activate",
    "activate_from_env",
    "fail",
    "failed",
    "first_report",
    "inherited",
    "is_off",
    "is_on",
    "settled",
    "share",
    "stop_waiting",
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
#: The settings given to ``instrument()`` in code, as JSON, for child processes (:func:`share`).
SHARED = "_LLMLOG_SETTINGS"
#: The ``LLMLOG_OUTPUT`` llmlog wrote itself where none was given (the default, made
#: absolute, by the launcher or an activation): no choice of the user's to override.
OUTPUT_DEFAULTED = "_LLMLOG_OUTPUT_DEFAULTED"
_HASH_NEEDS_KEY = "_hash_needs_key"  # in SHARED: the parent hashed with a key given in code

_outcome: bool | None = None  # None until an attempt ended (also while waiting for an SDK)
_said_here = False  # a failure was said by this process (see activate's "after all")
_pending: dict[str, Any] | None = None  # settings to activate with once an SDK is imported
_hooked = False  # the post-import hooks for the SDKs are registered
_inherited: dict[str, Any] | None = None  # SHARED as this process found it (inherited())
_switched_off = False  # instrument(enabled=False) set LLMLOG_ENABLED=0 for children
_failed = False  # logging was asked for and is off: activation failed (see failed())


def is_on(value: str | None) -> bool:
    """The same truthy spellings as the settings table (``1``, ``true``, ``yes``, ``on``)."""
    return (value or "").strip().lower() in _ON


def is_off(value: str | None) -> bool:
    """The settings table's falsy spellings (``0``, ``false``, ``no``, ``off``, empty, unset)."""
    return (value or "").strip().lower() in _OFF


def activate_from_env() -> bool:
    """Instrument when ``LLMLOG_ENABLED`` is truthy, with settings from the environment.

    Returns whether logging is on. Safe to call more than once (the ``.pth``
    line and the bootstrap ``sitecustomize`` may both run): later calls are no-ops,
    but while the first waits for an SDK (:func:`activate`) they look for one again.
    A value that is neither on nor off (``2``, ``enabled``) is an activation failure,
    said on stderr: silently running unlogged would look like logging that works.
    """
    value = os.environ.get("LLMLOG_ENABLED")
    if is_on(value):
        return activate()
    if not is_off(value):
        fail(_setting_problem("enabled", value), strict=_strict_env())
    return bool(_outcome)


def activate(**settings: Any) -> bool:
    """Instrument with ``settings`` (over the environment), never raising into the app.

    On failure: one message on stderr (once per process and its descendants, see
    :data:`REPORTED`) and ``False``. Under strict mode (the ``strict`` setting or
    ``LLMLOG_STRICT``) the process exits with :data:`EXIT_CODE` instead. Repeated
    calls without settings do nothing; explicit settings are applied even after an
    activation from the environment (a ``sitecustomize`` runs after the ``.pth``
    line and should win, also over a bad ``LLMLOG_*`` value the line failed on).

    With no SDK importable yet, ``False`` and nothing said: activation happens when
    one is imported (module docstring); a later call tries again. ``enabled=False``
    switches logging off, silently.

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
        result = _attempt(settings)
    except Exception as exc:  # a broken install or an llmlog bug: still never the app's problem
        result = f"{type(exc).__name__}: {exc}"
    if isinstance(result, str):
        fail(result, strict=strict)
        return False
    if result is None:  # waiting for an SDK: a later call (the bootstrap's) tries again
        _outcome = None
        return False
    if result and _said_here:
        _say("llmlog: activated after all, with the settings given to activate()")
        _said_here = False
    _outcome = result
    return result


def fail(problem: str, *, strict: bool, stop: Callable[[int], NoReturn] = os._exit) -> None:
    """Report an activation failure; stop the process under strict mode.

    The message is said once per process and its descendants (:func:`first_report`); the
    environment's ``LLMLOG_ENABLED`` is left alone, so children still activate
    (module docstring). Each process counts its own failure (``activation_failed`` in
    ``llmlog.trouble()``), and ``llmlog.flush()`` is ``False`` while it lasts
    (:func:`failed`): a health check must not read "all is well" from a process
    running unlogged.

    ``os._exit`` rather than ``SystemExit``: during interpreter start-up
    (``.pth``, ``sitecustomize``) a ``SystemExit`` becomes a "Fatal Python
    error" with a traceback instead of a clean exit.
    """
    global _said_here, _failed
    from llmlog import _guard

    if strict:
        _say(f"llmlog: activation failed in strict mode, stopping: {problem}")
        stop(EXIT_CODE)
    with _guard._lock:
        _guard.counts["activation_failed"] += 1
    logging_on = _logging_on()
    _failed = _failed or not logging_on
    if not first_report(problem):
        return
    _said_here = True
    outcome = (
        "these settings were not applied, logging goes on with those already in force"
        if logging_on
        else "not activated, the application runs without LLM logging"
    )
    _say(f"llmlog: {outcome}: {problem} (set LLMLOG_STRICT=1 to stop instead)")


def _logging_on() -> bool:
    """Whether an earlier activation (or the app) has logging on in this process."""
    base = sys.modules.get("llmlog.instrumentors._base")
    return base is not None and bool(base.is_active())


def failed() -> bool:
    """Whether logging was asked for and is off because activation failed: until the app
    (or a later activation) instruments, or ``uninstrument()`` says logging is not wanted."""
    return _failed


def settled() -> None:
    """Logging is now as the app asked (instrumented, or switched off on purpose): an
    earlier activation failure no longer leaves it off (:func:`failed`)."""
    global _failed
    _failed = False


def first_report(problem: str) -> bool:
    """Whether ``problem`` was not yet said in this process and its descendants; marks it said.

    The mark lives in :data:`REPORTED` in the environment, inherited by children.
    """
    key = format(zlib.crc32(problem.encode("utf-8", "surrogatepass")), "08x")
    said = [k for k in os.environ.get(REPORTED, "").split(",") if k]
    if key in said:
        return False
    os.environ[REPORTED] = ",".join([*said, key][-_KEEP_REPORTED:])
    return True


def say_unknown_variables() -> None:
    """Once per process and its descendants: the ``LLMLOG_*`` variables that are no
    setting are ignored."""
    from llmlog import _guard
    from llmlog._config import unknown_variables

    names = unknown_variables(os.environ)
    if names:
        what = "not an llmlog setting" if len(names) == 1 else "not llmlog settings"
        message = f"ignoring {', '.join(names)}: {what}"
        if first_report(message):
            _guard.warn_once("unknown_variables", message)


def _strict_env() -> bool:
    """``LLMLOG_STRICT`` asks to stop: any value but an off one (``2``, ``ture``) counts.

    Fails closed: whoever set a value meant something, and a typo must not quietly
    turn "never run unlogged" into "run unlogged"; the value itself is reported as
    invalid, which stops the process.
    """
    return not is_off(os.environ.get("LLMLOG_STRICT"))


def _setting_problem(name: str, value: str | None) -> str:
    """The settings table's own words for a bad ``LLMLOG_<NAME>`` (variable, allowed values)."""
    from llmlog._config import Settings, env_name

    variable = env_name(name)
    try:
        Settings.from_env({variable: value or ""})
    except ValueError as exc:
        return str(exc)
    return f"{variable}={value!r} is not valid"


def _strict_problem() -> str | None:
    """A ``LLMLOG_STRICT`` neither on nor off, refused even when the code passed ``strict``
    (a copy of the sitecustomize example that passes ``strict=False``): the keyword would
    otherwise hide the variable's typo, and strict mode fails closed (:func:`_strict_env`)."""
    value = os.environ.get("LLMLOG_STRICT")
    if is_on(value) or is_off(value):
        return None
    return _setting_problem("strict", value)


def share(given: Mapping[str, Any], resolved: Settings) -> None:
    """Pass the settings ``given`` to ``instrument()`` on to the child processes the
    environment activates (``LLMLOG_ENABLED`` on), as :data:`SHARED`: in them they count
    as keywords, as here. This process never reads its own (see :func:`inherited`), so
    a later ``instrument()`` here is not changed by an earlier one.

    Each call replaces what the previous one passed on. A file output goes as an absolute
    path (one file for the whole app). The redaction key never goes (every descendant,
    Python or not, would get it): a ``hash`` operator given with a key in code is ``tag``
    (still redacted, not joinable) in a child without ``LLMLOG_REDACT_KEY``. ``strict``
    only ever goes switched on. ``enabled=False`` switches children off
    (``LLMLOG_ENABLED=0``); any later call that instruments switches them back on, named
    ``enabled=True`` or not (as ``uninstrument()`` then ``instrument()`` would).
    """
    global _switched_off
    from llmlog._config import absolute_output, env_name

    enabled = env_name("enabled")
    switching_off = given.get("enabled") is not None and not resolved.enabled
    if switching_off and is_on(os.environ.get(enabled)):
        os.environ[enabled], _switched_off = "0", True
    elif not switching_off and _switched_off:
        os.environ[enabled], _switched_off = "1", False
    if not is_on(os.environ.get(enabled)):
        return  # children do not activate from the environment: nothing to pass on
    passed: dict[str, Any] = {}
    for name, value in given.items():
        if value is None or name in ("enabled", "redact_key"):
            continue
        if name == "strict" and not resolved.strict:
            continue
        chosen = getattr(resolved, name)
        passed[name] = absolute_output(chosen) if name == "output" else _plain(chosen)
    keyed = resolved.redact_operator == "hash"
    if keyed and resolved.redact_key != os.environ.get(env_name("redact_key"), ""):
        passed[_HASH_NEEDS_KEY] = True
    if passed:
        os.environ[SHARED] = json.dumps(passed)
    else:
        os.environ.pop(SHARED, None)


def inherited() -> dict[str, Any]:
    """The settings this process's parent gave ``instrument()`` (:func:`share`), read
    from the environment as this process started; ``{}`` if none or unreadable."""
    global _inherited
    if _inherited is None:
        try:
            found = json.loads(os.environ.get(SHARED) or "{}")
        except ValueError:
            found = {}
        _inherited = found if isinstance(found, dict) else {}
        if _inherited.pop(_HASH_NEEDS_KEY, False) and not os.environ.get("LLMLOG_REDACT_KEY"):
            _inherited["redact_operator"] = "tag"  # the parent's key is not here to hash with
    return dict(_inherited)


def _plain(value: Any) -> Any:
    """A resolved setting as JSON (tuples as lists, mappings as dicts)."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _attempt(settings: Mapping[str, Any]) -> str | bool | None:
    """Instrument with ``settings``: ``True`` once on, ``False`` when ``enabled=False``
    switched logging off, ``None`` while waiting for an SDK (:func:`_wait_for_sdk`),
    or what stands in the way, in words."""
    from llmlog._config import Settings, absolute_output, env_name

    given = {k: v for k, v in settings.items() if v is not None}
    say_overridden(given)
    settings = {**inherited(), **given}
    try:
        resolved = Settings.from_env(**settings)
    except ValueError as exc:
        return str(exc)
    import llmlog

    if settings.get("enabled") is not None and not resolved.enabled:
        llmlog.instrument(**settings)  # switches off, and passes that on
        return False
    if problem := _strict_problem():
        return problem
    output = absolute_output(resolved.output)
    strict = resolved.strict or _strict_env()  # LLMLOG_STRICT=1 over strict=False, as in activate()
    if strict and (problem := _output_problem(output, "output" in given)):
        return problem  # strict: running with every record lost is running unlogged
    if settings.get("output") is None:  # from the environment or the default: share it
        if env_name("output") not in os.environ:
            os.environ[OUTPUT_DEFAULTED] = output
        os.environ[env_name("output")] = output
    wanted = [sdk for sdk in _SDKS if sdk not in resolved.disabled_providers]
    if wanted and not any(_installed(sdk) for sdk in wanted):
        _wait_for_sdk({**settings, "output": output})
        return None
    try:
        llmlog.instrument(**{**settings, "output": output})
    except ValueError as exc:
        return str(exc)
    return True


def _output_problem(output: str, keyword: bool = False) -> str | None:
    """Why the log file cannot be written, naming where it was set (``LLMLOG_OUTPUT``,
    or the keyword ``output``); None if it can."""
    from llmlog._config import STREAMS
    from llmlog._log_files import write_problem

    problem = None if output in STREAMS else write_problem(Path(output))
    where = "keyword output" if keyword else "LLMLOG_OUTPUT"
    return f"{where}={output} cannot be written: {problem}" if problem else None


def say_overridden(given: Mapping[str, Any]) -> None:
    """Once per process tree: each keyword given to :func:`activate` (a sitecustomize's
    settings) that overrides a different ``LLMLOG_*`` value of the environment, such as
    ``llmlog-run --output``: the keyword wins, as documented, but never silently."""
    from llmlog._config import Settings, absolute_output, env_name

    for name, value in given.items():
        var = env_name(name)
        if name == "strict" or var not in os.environ:
            continue
        if name == "output" and os.environ[var] == os.environ.get(OUTPUT_DEFAULTED):
            continue  # llmlog's own default, not a value the user chose
        try:
            ours = getattr(Settings.from_env({}, **{name: value}), name)
            theirs = getattr(Settings.from_env({var: os.environ[var]}), name)
        except ValueError:  # a bad value on either side is reported where it is used
            continue
        if name == "output":
            ours, theirs = absolute_output(ours), absolute_output(theirs)
        if ours != theirs:
            # values shown for the output only: others may be secret (redact_key, deny terms)
            message = (
                f"keyword {name}={value!r} overrides {var}={os.environ[var]}"
                if name == "output"
                else f"keyword {name} overrides a different {var}"
            )
            if first_report(message):
                _say(f"llmlog: {message} (settings given to activate() win)")


def _wait_for_sdk(settings: dict[str, Any]) -> None:
    """Activate with ``settings`` when an SDK is imported (post-import hooks fire also for
    a module found in a folder ``site`` added after the ``.pth`` line ran)."""
    global _pending, _hooked
    _pending = settings
    if _hooked:
        return
    import wrapt

    for sdk in _SDKS:
        wrapt.register_post_import_hook(_sdk_imported, sdk)
    _hooked = True


def stop_waiting() -> None:
    """The app called ``instrument()`` itself: an SDK import no longer activates."""
    global _pending
    _pending = None


def _sdk_imported(module: object) -> None:
    """Inside the app's ``import openai``: activate with what was waiting; never raises,
    and never stops the process, strict or not: the app is running by now (its side
    effects done), so a failure here is said as it would be without strict mode."""
    global _outcome, _pending
    settings = _pending
    if settings is None or _outcome:
        return
    _pending = None
    try:
        result = _attempt(settings)
    except Exception as exc:  # a broken install or an llmlog bug
        result = f"{type(exc).__name__}: {exc}"
    if isinstance(result, str):
        fail(result, strict=False)
    else:
        _outcome = bool(result)


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
