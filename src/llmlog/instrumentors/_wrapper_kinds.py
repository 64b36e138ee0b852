"""The wrapt classes llmlog's method patches are made of, chosen per patch table row.

Other tools decide from a method's ``__wrapped__`` whether it is async: LangSmith's
``wrap_openai`` asks ``iscoroutinefunction(f) or iscoroutinefunction(f.__wrapped__)``.
Bare, an SDK method checked with ``required_args`` is a bound method of a sync shim,
whose ``__wrapped__`` (read through to the shim) is the ``async def``: False, True.
wrapt's bound wrapper answers its own ``__wrapped__``, the bound shim: False, False, and
LangSmith then wraps an async method as sync. :class:`_BoundAsBare` answers, on an
instance, what the bound method it wraps answers, as if llmlog were not there.
"""

from __future__ import annotations

import inspect
import types
from typing import Any, Final

import wrapt

Wrapper = Any
"""A wrapt wrapper function (see ``_base.Wrapper``)."""

_WRAPPED: Final = inspect.getattr_static(wrapt.BoundFunctionWrapper, "__wrapped__", None)
"""The C extension's ``__wrapped__`` slot. wrapt's pure-Python fallback keeps
``__wrapped__`` in the instance and reads it for every call: then no override."""


class _BoundAsBare(wrapt.BoundFunctionWrapper):  # type: ignore[type-arg]
    """A bound wrapper whose ``__wrapped__``, when what it wraps is a plain bound method,
    is that method's own ``__wrapped__`` (the SDK shim's target), as bare. Read through
    the class (no instance: the shim function itself) it stays wrapt's, so tools that
    unwrap by ``setattr(cls, name, getattr(cls, name).__wrapped__)`` restore the shim."""

    @property
    def __wrapped__(self) -> Any:
        inner = _WRAPPED.__get__(self)
        if type(inner) is types.MethodType:
            return getattr(inner, "__wrapped__", inner)
        return inner

    @__wrapped__.setter
    def __wrapped__(self, value: Any) -> None:  # wrapt.unwrap_object splices through it
        _WRAPPED.__set__(self, value)


class _StableWrapper(wrapt.FunctionWrapper):  # type: ignore[type-arg]
    """A method wrapper whose reads through the class give one object, as the plain method's
    do (wrapt binds anew at each read: ``Cls.method is Cls.method`` would not hold). The
    Python-level ``__get__`` costs ~0.7 µs at every read, so the hot methods (a chat call)
    keep wrapt's own."""

    def __init__(self, wrapped: Any, wrapper: Wrapper) -> None:
        super().__init__(wrapped, wrapper)
        self._self_class_reads: dict[Any, Any] = {}

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is not None:
            return super().__get__(instance, owner)
        found = self._self_class_reads.get(owner)
        if found is None:
            found = self._self_class_reads[owner] = super().__get__(None, owner)
        return found


class _AsyncWrapper(wrapt.FunctionWrapper):  # type: ignore[type-arg]
    __bound_function_wrapper__ = _BoundAsBare


class _StableAsyncWrapper(_StableWrapper):
    __bound_function_wrapper__ = _BoundAsBare


def wrapper_class(*, stable: bool, is_async: bool) -> type[wrapt.FunctionWrapper]:  # type: ignore[type-arg]
    """The wrapt class for a row: async methods bind as :class:`_BoundAsBare` (only they
    pay its cost: a Python subclass binds ~0.1 µs slower), stable ones keep one class read."""
    if is_async and isinstance(_WRAPPED, types.GetSetDescriptorType):
        return _StableAsyncWrapper if stable else _AsyncWrapper
    return _StableWrapper if stable else wrapt.FunctionWrapper
