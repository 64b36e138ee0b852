"""One field of an SDK answer, whatever form it arrived in: the SDK's pydantic model, the
decoded JSON of a raw response (a dict), or another object read by attribute.

Runs many times per record on the writer thread. A field a pydantic model does not have
(``error`` on a plain ChatCompletion, ``parsed`` on a message that was not parsed) costs
~2 µs through ``getattr``: pydantic raises and catches an ``AttributeError`` twice for it.
Declared fields live in the instance's ``__dict__`` and undeclared ones the SDK kept in
``__pydantic_extra__``, so a model is read there without raising.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

_ABSENT: Final = object()


def field(obj: Any, name: str) -> Any:
    """``obj[name]`` for decoded JSON, ``obj.name`` for SDK objects; None when absent."""
    if isinstance(obj, dict):
        return obj.get(name)
    is_model = _models.get(type(obj))  # (inline: this runs ~30 times per record)
    if is_model is None:
        is_model = _is_model(type(obj))
    if is_model:
        value = obj.__dict__.get(name, _ABSENT)
        if value is not _ABSENT:
            return value
        if name.startswith("_") or _on_class(type(obj), name):  # private, property, method
            return getattr(obj, name, None)
        try:
            extras = obj.__pydantic_extra__
        except AttributeError:  # made without its __init__ (Model.__new__): as getattr does
            return getattr(obj, name, None)
        return extras.get(name) if extras else None
    value = getattr(obj, name, _ABSENT)
    if value is not _ABSENT:
        return value
    return obj.get(name) if isinstance(obj, Mapping) else None


_models: dict[type, bool] = {}
_class_attributes: dict[tuple[type, str], bool] = {}
_MAX_KEPT: Final = 4096
"""Entries of each cache at most: an app that makes its answer classes per call
(``pydantic.create_model``) must not grow them, nor keep its classes alive, for ever."""


def _is_model(cls: type) -> bool:
    """Whether ``cls`` is a pydantic model class (its instances keep fields as above)."""
    known = _models.get(cls)
    if known is None:
        try:
            from pydantic import BaseModel
        except ImportError:  # pragma: no cover - both SDKs depend on pydantic
            known = False
        else:  # (a model with a __getattr__ of its own answers more than its fields)
            known = issubclass(cls, BaseModel) and _same(cls, BaseModel, "__getattr__")
        if len(_models) >= _MAX_KEPT:
            _models.clear()
        _models[cls] = known
    return known


def _on_class(cls: type, name: str) -> bool:
    """Whether ``name`` is an attribute of the class itself (a property, a method)."""
    known = _class_attributes.get((cls, name))
    if known is None:
        if len(_class_attributes) >= _MAX_KEPT:
            _class_attributes.clear()
        known = _class_attributes[cls, name] = any(name in vars(k) for k in cls.__mro__)
    return known


def _same(cls: type, base: type, name: str) -> bool:
    return getattr(cls, name, None) is getattr(base, name, None)
