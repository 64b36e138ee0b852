"""Functions of ``os`` and ``signal`` that llmlog wraps in place while it logs (``os._exit``,
``os.execv``, ``os.kill``...): each drains the queue before the process ends or is replaced.

A wrapper is what the app gets for the function, also to ``pickle`` and ``copy``, and is
put back only if it is still the one installed (a library that wrapped it after llmlog
keeps its own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

import wrapt

Wrapper = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]


class SwappedFunction(wrapt.FunctionWrapper):  # type: ignore[type-arg]
    """A module function as the app knows it, pickled by name (whatever the function is where
    it is unpickled; a constant expression, no data from outside) and never copied."""

    def __init__(self, wrapped: Any, wrapper: Wrapper, module: str) -> None:
        super().__init__(wrapped, wrapper)
        self._self_module = module

    def __reduce_ex__(self, protocol: Any) -> Any:
        return eval, (f"__import__({self._self_module!r}).{self.__wrapped__.__name__}",)

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: Any) -> Any:
        return self


def swap(
    on: bool,
    targets: Iterable[tuple[ModuleType, str, Wrapper]],
    installed: dict[str, SwappedFunction],
) -> None:
    """Wrap (``on``) each ``(module, name, wrapper)`` of ``targets`` present, noting it in
    ``installed`` by name; or put back each one noted there that is still in place."""
    for module, name, wrapper in targets:
        current = getattr(module, name, None)
        if on and name not in installed and current is not None:
            swapped = SwappedFunction(current, wrapper, module.__name__)
            setattr(module, name, swapped)
            installed[name] = swapped
        elif not on and name in installed:
            swapped = installed.pop(name)
            if current is swapped:  # else someone wrapped it after us: leave theirs
                setattr(module, name, swapped.__wrapped__)
