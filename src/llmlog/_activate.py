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
stays silent.

No SDK in sight is not a failure: ``site`` may add the folder holding it after
the ``.pth`` line ran (a venv with ``--system-site-packages``, the user site
before the system's, Debian's ``dist-packages``), and an interpreter that never
imports one has nothing to log. Activation then waits, silently, for the SDK's
import (a post-import hook) and logs from then on; a wrapper without an SDK is
never stopped and says nothing.

Settings an application gives ``instrument()`` as keywords reach its child
processes when the environment activates them (``LLMLOG_ENABLED`` on): they are
written back as ``LLMLOG_*`` variables (:func:`share`). The one exception is the
redaction key: it never goes into the environment (every descendant, Python or
not, would get it). A fingerprint of it does (:data:`KEY_ID`), and a child
activating from the environment without that key refuses, rather than hashing
with another key or none.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import sys
import zlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from llmlog._config import Settings

__all__ = [
    "EXIT_CODE",
    "KEY_ID",
    "REPORTED",
    "activate",
    "activate_from_env",
    "check_portable",
    "env_text",
    "fail",
    "first_report",
    "is_off",
    "is_on",
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
#: Marker for children: a fingerprint of the ``redact_key`` given to ``instrument()``,
#: which is never written to the environment itself (see :func:`share`).
KEY_ID = "_LLMLOG_KEY_ID"

_outcome: bool | None = None  # None until an attempt ended (also while waiting for an SDK)
_said_here = False  # a failure was said by this process (see activate's "after all")
_pending: dict[str, Any] | None = None  # settings to activate with once an SDK is imported
_hooked = False  # the post-import hooks for the SDKs are registered


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

    The message is said once per process tree (:func:`first_report`); the
    environment's ``LLMLOG_ENABLED`` is left alone, so children still activate
    (module docstring).

    ``os._exit`` rather than ``SystemExit``: during interpreter start-up
    (``.pth``, ``sitecustomize``) a ``SystemExit`` becomes a "Fatal Python
    error" with a traceback instead of a clean exit.
    """
    global _said_here
    if strict:
        _say(f"llmlog: activation failed and LLMLOG_STRICT=1, stopping: {problem}")
        stop(EXIT_CODE)
    if not first_report(problem):
        return
    _said_here = True
    _say(
        "llmlog: not activated, the application runs without LLM logging: "
        f"{problem} (set LLMLOG_STRICT=1 to stop instead)"
    )


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


def share(given: Mapping[str, Any], resolved: Settings) -> None:
    """Write the settings ``given`` to ``instrument()`` into the environment, as ``resolved``,
    so that the child processes the environment activates (``LLMLOG_ENABLED`` on) log
    the way this process does: keywords win over the environment in them too.

    A file output goes as an absolute path (one file for the whole app). ``strict`` is
    only ever passed on switched on (a ``sitecustomize``'s ``strict=False`` must not
    undo an operator's ``LLMLOG_STRICT=1``). ``enabled=False`` passes ``LLMLOG_ENABLED=0``
    on. The redaction key stays out of the environment: only its fingerprint goes, as
    :data:`KEY_ID`, for children to refuse to log without that key (module docstring).
    """
    from llmlog._config import absolute_output, env_name

    if not is_on(os.environ.get(env_name("enabled"))):
        return  # children do not activate from the environment: nothing to pass on
    for name, value in given.items():
        if value is None or (name == "strict" and not resolved.strict):
            continue
        if name == "redact_key":
            _share_key(resolved.redact_key)
            continue
        chosen = getattr(resolved, name)
        text = absolute_output(chosen) if name == "output" else env_text(chosen)
        os.environ[env_name(name)] = text


def env_text(value: Any) -> str:
    """A setting's value as its ``LLMLOG_*`` variable spells it (read back the same)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Mapping):
        return json.dumps(dict(value))
    if isinstance(value, (tuple, list)):
        return ",".join(str(item) for item in value)
    return str(value)


def check_portable(resolved: Settings) -> None:
    """``redaction.validate``'s checks whose answer is the same in every interpreter (the
    key, the hash operator, the patterns); not those that depend on what this one has
    installed (presidio, the spaCy model). Raises ``ValueError``.

    For ``llmlog-run``, before the app's interpreter runs, and for activation waiting for
    an SDK (``site`` may not have added the folders of presidio or the model yet either).
    """
    from llmlog import redaction

    redaction.validate(dataclasses.replace(resolved, redact="secrets"))


def _share_key(key: str) -> None:
    from llmlog._config import env_name

    if key == os.environ.get(env_name("redact_key"), ""):
        os.environ.pop(KEY_ID, None)  # children have it already
    elif not key:  # no key at all: removing one from the environment leaks nothing
        os.environ[env_name("redact_key")] = ""
        os.environ.pop(KEY_ID, None)
    else:
        os.environ[KEY_ID] = _key_id(key)


def _key_id(key: str) -> str:
    """A fingerprint of ``key`` that tells keys apart without giving any away."""
    import hashlib
    import hmac

    mac = hmac.new(key.encode("utf-8", "surrogatepass"), b"llmlog redact key id", hashlib.sha256)
    return mac.hexdigest()[:16]


def _check_key(resolved: Settings) -> None:
    """Refuse a child activating without the key its application gave ``instrument()``."""
    wanted = os.environ.get(KEY_ID)
    if wanted and _key_id(resolved.redact_key) != wanted:
        raise ValueError(
            "LLMLOG_REDACT_KEY is not the redact_key given to instrument() by the process "
            "that started this one (llmlog never puts a key in the environment): set "
            "LLMLOG_REDACT_KEY to that key for the whole application"
        )


def _attempt(settings: Mapping[str, Any]) -> str | bool | None:
    """Instrument with ``settings``: ``True`` once on, ``False`` when ``enabled=False``
    switched logging off, ``None`` while waiting for an SDK (:func:`_wait_for_sdk`),
    or what stands in the way, in words."""
    from llmlog._config import Settings, absolute_output, env_name

    try:
        resolved = Settings.from_env(**settings)
    except ValueError as exc:
        return str(exc)
    import llmlog

    if settings.get("enabled") is not None and not resolved.enabled:
        llmlog.instrument(**settings)  # switches off, and passes that on
        return False
    try:
        _check_key(resolved)
        check_portable(resolved)
    except ValueError as exc:
        return str(exc)
    output = absolute_output(resolved.output)
    if settings.get("output") is None:  # from the environment or the default: share it
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
    """Inside the app's ``import openai``: activate with what was waiting; never raises."""
    settings = _pending
    if settings is None or _outcome:
        return
    try:
        activate(**settings)
    except Exception as exc:  # activate() contains everything; this is for an llmlog bug
        _say(f"llmlog: not activated: {type(exc).__name__}: {exc}")


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
