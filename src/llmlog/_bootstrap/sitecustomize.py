"""``llmlog-run``'s bootstrap: activate llmlog, then run the ``sitecustomize`` this one hides.

``llmlog-run`` puts this file's folder first on ``PYTHONPATH``, so Python's
``site`` imports it at start-up in place of any other ``sitecustomize`` (the
distribution's, e.g. Debian's, or the user's). That one must still run: after
activating, this module finds the next ``sitecustomize`` on ``sys.path`` and
executes it under its own name, as ``site`` would have.

Every Python the app starts runs this file, also one without llmlog (a wrapper
such as ``poetry run`` or a supervisor in another interpreter): failing to import
llmlog there never switches logging off for that interpreter's children, which may
well be the real app in an interpreter that has llmlog. It is said once (marker
``_LLMLOG_REPORTED``, as in ``llmlog._activate``), and only where an SDK is installed:
without one, nothing in that interpreter could go unlogged.
"""

from __future__ import annotations

import os
import sys

_FALSE = ("0", "false", "no", "off", "")
_REPORTED = "_LLMLOG_REPORTED"


def _is_off(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _FALSE


def _activate() -> None:
    # Off. Anything else goes to llmlog, which also reports a value that is neither
    # on nor off (``2``) rather than ignoring it.
    if _is_off("LLMLOG_ENABLED"):
        return
    try:
        from llmlog._activate import activate_from_env
    except Exception as exc:  # this interpreter cannot import llmlog: say so, never crash
        _cannot_import(exc)
    else:
        activate_from_env()


def _cannot_import(exc: Exception) -> None:
    """Only an interpreter with an SDK has calls that go unlogged: say so once per process
    tree, or stop under strict mode. One without an SDK (a wrapper: ``poetry run``, a
    supervisor) loses nothing and stays silent; the app it starts reports for itself."""
    import zlib

    if not _has_sdk():
        return
    problem = f"cannot import llmlog in {sys.executable} ({type(exc).__name__}: {exc})"
    if not _is_off("LLMLOG_STRICT"):
        sys.stderr.write(f"llmlog: activation failed in strict mode, stopping: {problem}\n")
        sys.stderr.flush()
        os._exit(78)
    key = format(zlib.crc32(problem.encode("utf-8", "surrogatepass")), "08x")
    said = os.environ.get(_REPORTED, "")
    if key not in said.split(","):
        os.environ[_REPORTED] = f"{said},{key}".strip(",")
        sys.stderr.write(
            f"llmlog: LLM calls made in this interpreter are not logged: {problem}; "
            "Python processes it starts in an interpreter with llmlog still are "
            "(set LLMLOG_STRICT=1 to stop instead)\n"
        )


def _has_sdk() -> bool:
    import importlib.util

    try:
        return any(importlib.util.find_spec(name) for name in ("openai", "anthropic"))
    except Exception:  # cannot tell: assume the worst
        return True


def _same_dir(entry: str, here: str) -> bool:
    try:
        return os.path.realpath(entry or os.curdir) == here
    except (OSError, ValueError):
        return False


def _chain_to_shadowed() -> None:
    """Run the ``sitecustomize`` that would have been imported without this folder."""
    import importlib.machinery
    import importlib.util

    here = os.path.realpath(os.path.dirname(__file__))
    position = next((i for i, p in enumerate(sys.path) if _same_dir(p, here)), 0)
    sys.path[:] = [p for p in sys.path if not _same_dir(p, here)]
    ours = sys.modules.pop("sitecustomize", None)
    try:
        spec = importlib.machinery.PathFinder.find_spec("sitecustomize", sys.path)
        if spec is None or spec.loader is None:
            if ours is not None:
                sys.modules["sitecustomize"] = ours
            return
        module = importlib.util.module_from_spec(spec)
        sys.modules["sitecustomize"] = module
        spec.loader.exec_module(module)
    except Exception as exc:  # reported the way site reports a failing sitecustomize
        sys.stderr.write(f"Error in sitecustomize; set PYTHONVERBOSE for traceback:\n{exc!r}\n")
    finally:
        sys.path.insert(min(position, len(sys.path)), here)


_activate()
_chain_to_shadowed()
