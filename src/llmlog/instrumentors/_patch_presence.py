"""Where llmlog's wrapper stands on a patched method once other tools patched it too.

Tools that patch the same SDK methods come and go in any order. One activated before
llmlog and removed after it takes llmlog's wrapper with its own: OpenTelemetry's
``unwrap`` sets the attribute to ``getattr(cls, name).__wrapped__``, what is beneath the
outermost wrapper, which is llmlog's. One that patches after llmlog with
``functools.wraps`` (Sentry) holds llmlog's wrapper in its closure, where llmlog cannot
take it out. This module tells the three cases apart: still there, gone, or held.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Final, Literal

import wrapt

from llmlog import _guard

Removal = Literal["removed", "gone", "held"]
Patches = dict[tuple[str, str], tuple[ModuleType, Any]]
"""(module name, qualname) -> (module, our wrapper) of each patch."""

_GONE_KEY: Final = "patch_removed_by_other_tool"
_HELD_KEY: Final = "patch_held_by_other_tool"


def _is_ours(entry: Any, handle: Any) -> bool:
    """Whether ``entry`` is our wrapper, or its binding read through the class (what a
    ``functools.wraps`` patch made after ours holds)."""
    if entry is handle:
        return True
    return (
        issubclass(type(entry), wrapt.BoundFunctionWrapper)
        and getattr(entry, "_self_parent", None) is handle
    )


def holds(module: ModuleType, qualname: str, handle: Any) -> bool:
    """Whether ``handle`` is still reached from the attribute, however deep."""
    try:
        current = wrapt.resolve_path(module, qualname)[2]
        return any(_is_ours(entry, handle) for entry in wrapt.wrapper_chain(current))
    except wrapt.WrapperChainTooDeepError:
        return True  # cannot tell: never wrap a second time
    except AttributeError:  # the attribute itself was deleted
        return False


def _take_back_binding(module: ModuleType, qualname: str, handle: Any) -> None:
    """A binding of ours put back on the class (a peer unwrapping what it held) becomes
    our wrapper again, so that wrapt can remove it."""
    owner, attribute, current = wrapt.resolve_path(module, qualname)
    if current is not handle and _is_ours(current, handle):
        setattr(owner, attribute, handle)


def remove(module: ModuleType, qualname: str, handle: Any) -> Removal:
    """Remove our wrapper where wrapt can (outermost, or beneath wrapt wrappers): "removed";
    "gone" when another tool already took it away; "held" when it stays beneath another
    tool's plain wrapper (a pass-through until ``instrument()`` re-arms it)."""
    try:
        _take_back_binding(module, qualname, handle)
        wrapt.unwrap_object(module, qualname, handle)
    except wrapt.WrapperNotOutermostError:
        return "held"
    except (wrapt.WrapperNotFoundError, AttributeError):
        return "held" if holds(module, qualname, handle) else "gone"
    return "removed"


def say_gone(module: str, qualname: str) -> None:
    """Once: another tool removed our patch (re-applied at ``instrument()``)."""
    _guard.warn_once(
        _GONE_KEY,
        f"another tool removed llmlog's patch of {module}.{qualname} (and maybe others); "
        "calls through it are not logged until llmlog.instrument() re-applies it",
    )


def say_held(module: str, qualname: str) -> None:
    """Once: our patch stays beneath another tool's, passing calls through."""
    _guard.warn_once(
        _HELD_KEY,
        f"another tool's patch of {module}.{qualname} (and maybe others) wraps llmlog's, "
        "which stays in place, logging nothing, until llmlog.instrument() re-arms it",
    )


def still_patched(key: tuple[str, str], handles: Patches, held: Patches) -> bool:
    """Whether our wrapper for ``key`` is in place (moved back to ``handles`` from ``held``:
    re-armed, for it passes calls through only while its provider is not wanted). One that
    another tool removed is forgotten, to be patched again."""
    entry = handles.get(key) or held.pop(key, None)
    if entry is None:
        return False
    if holds(entry[0], key[1], entry[1]):
        handles[key] = entry
        return True
    handles.pop(key, None)
    say_gone(*key)
    return False


def take_off(key: tuple[str, str], module: ModuleType, handle: Any, held: Patches) -> None:
    """Take our wrapper off at uninstrument; one held beneath another tool's goes to
    ``held``. Never raises (an llmlog bug is reported)."""
    with _guard.guarded("uninstrument"):
        outcome = remove(module, key[1], handle)
        if outcome == "held":
            held[key] = (module, handle)
            say_held(*key)
        elif outcome == "gone":
            say_gone(*key)
