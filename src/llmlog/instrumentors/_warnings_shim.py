"""SDK warnings keep naming the app's line, not llmlog's.

An SDK method warns with a fixed ``stacklevel`` (Anthropic's deprecated-model
warning: 3, the app's call), counted in frames. llmlog's wrapper is one more
frame between the SDK and the app, so the warning would name llmlog's line.
In each module llmlog patches, the global ``warnings`` is swapped for
:data:`SHIM`, whose ``warn`` skips the wrapper frames it finds on the way up;
everything else is the real :mod:`warnings` module.
"""

from __future__ import annotations

import sys
import warnings
from types import CodeType, FrameType, ModuleType
from typing import Any

wrapper_codes: set[CodeType] = set()
"""Code of llmlog's wrappers: their frames are not counted by ``stacklevel``."""


class _WarningsShim:
    def __getattr__(self, name: str) -> Any:
        return getattr(warnings, name)

    def warn(
        self,
        message: Any,
        category: Any = None,
        stacklevel: int = 1,
        source: Any = None,
        **options: Any,
    ) -> None:
        skipped = 0
        frame: FrameType | None = sys._getframe(1)  # stacklevel 1: the SDK code that warned
        level = 1
        while level < stacklevel + skipped and frame is not None:
            frame = frame.f_back
            if frame is not None and frame.f_code in wrapper_codes:
                skipped += 1
            level += 1
        # +1: this method's own frame.
        warnings.warn(message, category, stacklevel + skipped + 1, source, **options)


SHIM: Any = _WarningsShim()


def install(module: ModuleType) -> None:
    """Swap ``module``'s global ``warnings`` for the shim, if it uses the real one."""
    if module.__dict__.get("warnings") is warnings:
        module.warnings = SHIM  # type: ignore[attr-defined]


def uninstall(module: ModuleType) -> None:
    if module.__dict__.get("warnings") is SHIM:
        module.warnings = warnings  # type: ignore[attr-defined]
