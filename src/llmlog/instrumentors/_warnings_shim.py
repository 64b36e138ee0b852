"""SDK warnings keep naming the app's line, not llmlog's.

An SDK method warns with a fixed ``stacklevel`` (Anthropic's deprecated-model
warning: 3, the app's call), counted in frames. llmlog's wrapper is one more
frame between the SDK and the app (two with wrapt's pure-Python fallback), so
the warning would name llmlog's line. In the globals of each SDK function
llmlog wraps, ``warnings`` is swapped for :data:`SHIM`: a module whose ``warn``
does not count llmlog's and wrapt's frames, and which is otherwise the real
:mod:`warnings`. Warnings raised through other modules (``typing_extensions.deprecated``)
are out of its reach.
"""

from __future__ import annotations

import inspect
import sys
import warnings
from types import FrameType, ModuleType
from typing import Any

_WRAPPERS_MODULE = "llmlog.instrumentors._base"
"""Where llmlog's wrappers live (stream helpers' wrappers are not: no shimmed module has any)."""


class _WarningsShim(ModuleType):
    def __getattr__(self, name: str) -> Any:
        return getattr(warnings, name)

    def __dir__(self) -> list[str]:
        return dir(warnings)

    def warn(
        self,
        message: Any,
        category: Any = None,
        stacklevel: int = 1,
        source: Any = None,
        **options: Any,
    ) -> None:
        stacklevel = max(stacklevel, 1)
        skipped = 0
        frame: FrameType | None = sys._getframe(1)  # stacklevel 1: the SDK code that warned
        level = 1
        while level < stacklevel + skipped and frame is not None:
            frame = frame.f_back
            if frame is not None and _not_counted(frame):
                skipped += 1
            level += 1
        # +1: this method's own frame.
        warnings.warn(
            message, category, stacklevel=stacklevel + skipped + 1, source=source, **options
        )


def _not_counted(frame: FrameType) -> bool:
    """A frame between an SDK method and its caller only because of llmlog: one of its
    wrappers, or wrapt's pure-Python fallback calling one."""
    module = str(frame.f_globals.get("__name__"))
    return module == _WRAPPERS_MODULE or module.startswith("wrapt.")


SHIM: Any = _WarningsShim("warnings", warnings.__doc__)

_swapped: list[dict[str, Any]] = []


def install(function: Any, package: str) -> None:
    """Swap ``warnings`` for the shim in the globals ``function``'s code reads, if they are
    a module of the SDK ``package`` (never another library's patch of the method)."""
    try:
        code_globals = getattr(inspect.unwrap(function), "__globals__", None)
    except ValueError:  # a __wrapped__ cycle
        return
    if code_globals is None or not str(code_globals.get("__name__")).startswith(f"{package}."):
        return
    if code_globals.get("warnings") is warnings:
        code_globals["warnings"] = SHIM
        _swapped.append(code_globals)


def uninstall_all() -> None:
    """The real module back wherever the shim still is."""
    for code_globals in _swapped:
        if code_globals.get("warnings") is SHIM:
            code_globals["warnings"] = warnings
    _swapped.clear()
