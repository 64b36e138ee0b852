"""``llmlog-run``'s bootstrap: activate llmlog, then run the ``sitecustomize`` this one hides.

``llmlog-run`` puts this file's folder first on ``PYTHONPATH``, so Python's
``site`` imports it at start-up in place of any other ``sitecustomize`` (the
distribution's, e.g. Debian's, or the user's). That one must still run: after
activating, this module finds the next ``sitecustomize`` on ``sys.path`` and
executes it under its own name, as ``site`` would have.
"""

from __future__ import annotations

import os
import sys

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _is_on(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def _activate() -> None:
    # Off, or a failure already reported upstream. Anything else goes to llmlog, which
    # also reports a value that is neither on nor off (``2``) rather than ignoring it.
    if os.environ.get("LLMLOG_ENABLED", "").strip().lower() in _FALSE:
        return
    try:
        from llmlog._activate import activate_from_env
    except Exception as exc:  # this interpreter cannot import llmlog: say so, never crash
        sys.stderr.write(
            "llmlog: not activated, the application runs without LLM logging: "
            f"cannot import llmlog in {sys.executable} ({type(exc).__name__}: {exc})\n"
        )
        if _is_on("LLMLOG_STRICT"):
            os._exit(78)
        os.environ["LLMLOG_ENABLED"] = "0"
    else:
        activate_from_env()


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
