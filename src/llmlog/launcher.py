"""``llmlog-run [options] COMMAND [ARGS...]``: run any Python program with llmlog on.

Every option is a ``LLMLOG_*`` setting (generated from the settings table, so
the two cannot drift). The launcher checks the values, exports them with
``LLMLOG_ENABLED=1``, puts the bootstrap folder (which holds nothing but a
``sitecustomize.py``) first on ``PYTHONPATH`` and then *execs* the command:
the app keeps the launcher's pid, receives its signals directly and its exit
status is the launcher's. Child Python processes inherit the environment and
are logged too. ``python -S`` skips ``site`` and so runs unlogged; ``-I`` and
``-E`` ignore ``PYTHONPATH``, so the bootstrap is not found and only an
installed ``llmlog.pth`` (which reads ``LLMLOG_ENABLED``) can still activate.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from llmlog._activate import OUTPUT_DEFAULTED
from llmlog._config import Settings, absolute_output, default_label, env_name, type_label

__all__ = ["BOOTSTRAP_DIR", "child_environment", "main"]

#: The folder put first on ``PYTHONPATH``; it holds only ``sitecustomize.py``.
BOOTSTRAP_DIR = str(Path(__file__).resolve().parent / "_bootstrap")
#: Settings the launcher sets itself rather than taking as options.
_IMPLIED = frozenset({"enabled"})
_PROG = "llmlog-run"
#: Options whose values may well start with a dash, which argparse reads as an option.
_DASHED_VALUES = frozenset({"redact_deny"})


def main(argv: Sequence[str] | None = None) -> int:
    """Parse options, validate them, and exec the command (returns only on failure)."""
    parser = _parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        parser.print_usage(sys.stderr)
        print(f"{_PROG}: error: no command given, e.g. {_PROG} python app.py", file=sys.stderr)
        return 2
    overrides = {
        f.name: getattr(args, f.name) for f in _option_fields() if getattr(args, f.name) is not None
    }
    try:
        env = child_environment(os.environ, overrides)
    except _BadValue as bad:
        print(f"{_PROG}: error: {bad}", file=sys.stderr)
        return 2
    _exec(command, env)


def child_environment(base: Mapping[str, str], overrides: Mapping[str, Any]) -> dict[str, str]:
    """The app's environment: ``base`` + ``LLMLOG_ENABLED=1`` + the options, bootstrap first.

    A file output (the default included) is exported as an absolute path, resolved
    here once, so every process of the app appends to the same file whatever its
    working directory. ``PYTHONPATH`` keeps its empty entries, in place: for Python
    an empty entry is the current directory, which apps may import from.
    Raises :class:`_BadValue` (a ``ValueError``) naming the option or variable
    and the allowed values when a value is not valid, or when values that are valid
    alone cannot work together (``hash`` without a key, a key too short): what
    ``instrument()`` would refuse, except what depends on the app's interpreter
    (whether presidio or the spaCy model for ``ner`` is installed there).
    """
    env = dict(base)
    for name, value in overrides.items():
        env[env_name(name)] = _env_text(value)
    env[env_name("enabled")] = "1"
    for name in overrides:
        try:
            Settings.from_env({env_name(name): env[env_name(name)]})
        except ValueError as exc:
            raise _BadValue(f"argument --{_flag(name)}: {exc}") from None
    try:
        resolved = Settings.from_env(env)
    except ValueError as exc:
        raise _BadValue(f"from the environment: {exc}") from None
    try:  # as instrument() would, but for what depends on the app's interpreter (ner model)
        _check_portable(resolved)
    except ValueError as exc:
        raise _BadValue(str(exc)) from None
    if env_name("output") not in env:  # the default: not a choice of the user's
        env[OUTPUT_DEFAULTED] = absolute_output(resolved.output)
    env[env_name("output")] = absolute_output(resolved.output)
    # An empty PYTHONPATH adds nothing (Python ignores it), so it yields no entry here.
    given = env.get("PYTHONPATH", "")
    entries = [p for p in given.split(os.pathsep) if p != BOOTSTRAP_DIR] if given else []
    env["PYTHONPATH"] = os.pathsep.join([BOOTSTRAP_DIR, *entries])
    return env


def _env_text(value: Any) -> str:
    """A setting's value as its ``LLMLOG_*`` variable spells it (read back the same)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Mapping):
        return json.dumps(dict(value))
    if isinstance(value, (tuple, list)):
        return ",".join(str(item) for item in value)
    return str(value)


def _check_portable(resolved: Settings) -> None:
    """``redaction.validate``'s checks whose answer is the same in every interpreter (the
    key, the hash operator, the patterns); not those that depend on what this one has
    installed (presidio, the spaCy model). Raises ``ValueError``.

    Checked here, before the app's interpreter runs; the rest is left to it.
    """
    from llmlog import redaction

    redaction.validate(dataclasses.replace(resolved, redact="secrets"))


class _BadValue(ValueError):
    """A setting the launcher refuses before starting the app (exit status 2)."""


def _exec(command: list[str], env: dict[str, str]) -> NoReturn:
    program = command[0]
    if os.sep not in program and shutil.which(program, path=env.get("PATH")) is None:
        _die(127, f"command not found: {program}")
    if os.sep in program and not os.path.exists(program):
        _die(127, f"no such file: {program}")
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(program, command, env)
    except OSError as exc:
        _die(126, f"cannot run {program}: {exc.strerror or exc}")


def _die(status: int, message: str) -> NoReturn:
    print(f"{_PROG}: {message}", file=sys.stderr)
    raise SystemExit(status)


def _option_fields() -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(Settings) if f.name not in _IMPLIED]


def _flag(name: str) -> str:
    return name.replace("_", "-")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_PROG,
        usage=f"{_PROG} [options] COMMAND [ARGS...]",
        description="Run COMMAND (any Python program or console script) with every OpenAI "
        "and Anthropic SDK call logged. Each option sets the LLMLOG_* variable named in "
        "its help; the command and its Python child processes inherit them.",
        allow_abbrev=False,  # --outp is a typo, not --output (nor, later, ambiguous)
        epilog="The command replaces llmlog-run (same pid, signals and exit status). "
        "Exit status 2: bad option; 126: the command cannot be run (not executable); "
        "127: command not found. Options are never abbreviated. python -S runs unlogged; "
        "python -I and -E ignore PYTHONPATH, so only llmlog installed in that interpreter "
        "(its .pth line) can still log.",
    )
    group = parser.add_argument_group("llmlog settings (default: the environment, else shown)")
    for f in _option_fields():
        help_text = f"{_plain(f.metadata['doc'])}{_dash_hint(f.name)} "
        help_text += f"[{env_name(f.name)}, default: {_shown(f)}]"
        if isinstance(f.default, bool):
            group.add_argument(
                f"--{_flag(f.name)}",
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        else:
            group.add_argument(
                f"--{_flag(f.name)}",
                metavar=_metavar(f),
                default=None,
                help=help_text,
            )
    parser.add_argument("command", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def _dash_hint(name: str) -> str:
    """How to give a value that starts with ``-`` (argparse takes ``--opt -x`` for options)."""
    if name not in _DASHED_VALUES:
        return ""
    return f" A value starting with - goes after =: --{_flag(name)}=-secret."


def _metavar(f: dataclasses.Field[Any]) -> str:
    choices = f.metadata["choices"]
    if not choices:
        return {"str": "TEXT"}.get(type_label(f), type_label(f).upper())
    listed = "{" + ",".join(choices) + "}"
    return listed + "[,...]" if isinstance(f.default, tuple) else listed


def _shown(f: dataclasses.Field[Any]) -> str:
    label = default_label(f)
    return label if label else "none"


def _plain(doc: str) -> str:
    """Settings docs are Markdown (for the README); help text is plain."""
    return doc.replace("`", "").replace("%", "%%")


if __name__ == "__main__":
    sys.exit(main())
