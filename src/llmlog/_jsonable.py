"""The app's values as a JSON record holds them: what orjson cannot write, made into what it
can; a dict key as its JSON text; a value read now as the record will show it.

Everything here reads objects that belong to the app (a tag value, a template variable, a
call's argument). Any of them may fail when read: a ``__str__`` that raises, a lazy proxy
read outside the request it is bound to. None of these functions raises for that: such a
value is written as its :func:`~llmlog._record.safe_repr` instead of losing the record.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

from llmlog._record import safe_repr, safe_str

JSON_OPTIONS: Final = orjson.OPT_SERIALIZE_NUMPY
"""orjson's options for every record. A dict key that is not a str is refused (not written
with orjson's own ``OPT_NON_STR_KEYS``, which would write ``{1: "a", "1": "b"}`` as two
``"1"`` keys): :func:`dumps` then writes the record from :func:`writable`'s copy."""

MAX_DEPTH: Final = 200
"""Nesting kept in a record (orjson writes at most 255 levels); deeper is cut."""
CYCLE: Final = "<cycle>"
"""What :func:`writable` writes in place of a container that holds itself."""
_TOO_DEEP: Final = f"<nested deeper than {MAX_DEPTH} levels>"
_INT64_MIN: Final = -(2**63)  # what orjson writes as a number
_INT64_MAX: Final = 2**64 - 1
_PLAIN_KINDS: Final = (str, bool, int, float)  # bool before int: bool(proxy), not int(proxy)


def to_jsonable(value: Any) -> Any:
    """orjson's fallback for what it cannot encode itself: never fails."""
    try:
        return _jsonable(value)
    except Exception:
        return safe_repr(value)


def _jsonable(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json", warnings=False)
        except Exception:
            pass
    for kind in _PLAIN_KINDS:  # orjson takes these and subclasses: here, a proxy for one
        if isinstance(value, kind):  # (werkzeug's LocalProxy): the value it stands for
            return kind(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return {"type": "bytes", "bytes": len(value)}
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return safe_repr(value)


def dumps(value: Any, options: int) -> bytes:
    """orjson, never losing the record over what is in it: when orjson refuses the
    value, it is written from a copy that it accepts (see :func:`writable`)."""
    try:
        return orjson.dumps(value, default=to_jsonable, option=options)
    except orjson.JSONEncodeError:
        return orjson.dumps(writable(value), default=to_jsonable, option=options)


def json_data(value: Any) -> Any:
    """``value`` as the written record will hold it, read now: orjson's own conversions (an
    enum's value, a date's ISO text, a dataclass's fields, a numpy array's list), then
    :func:`to_jsonable`'s. Never raises; what cannot be read is its ``safe_repr``."""
    try:
        return orjson.loads(dumps(value, JSON_OPTIONS))
    except Exception:
        return safe_repr(value)


_SHARED: Final = (str, int, float, bool, type(None))  # exact types: immutable, as written


def app_values(values: Mapping[Any, Any]) -> dict[str, Any]:
    """The app's named values (tags, template variables) as JSON data, read now on the
    caller's thread: neither a later change by the app nor a lazy object that can only be
    read inside the request (Flask's ``current_user``) reaches the record. Keys are their
    JSON text (:func:`key_text`); never raises."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        out[unused_key(key_text(key), out)] = value if type(value) in _SHARED else json_data(value)
    return out


def key_text(key: Any) -> str:
    """A dict key as JSON writes it: ``null``, ``true``, ``1``, an enum's value, a date's
    ISO text (orjson's own spelling); any other key (a tuple) as its ``str()``. Text whose
    code points are not valid Unicode is mended. Never raises."""
    if isinstance(key, str):
        return _mended(key)
    try:
        [text] = orjson.loads(orjson.dumps({key: None}, option=orjson.OPT_NON_STR_KEYS))
    except Exception:  # not a key JSON can spell (a tuple, an integer past 64 bits)
        text = safe_str(key)
    return _mended(text)


def unused_key(key: str, taken: Mapping[Any, Any]) -> str:
    """``key`` if ``taken`` has no such key, else ``key (2)``, ``key (3)``...: the first not
    in ``taken`` (two keys that would be written alike, as JSON has no way to hold both
    under one name)."""
    if key not in taken:
        return key
    number = 2
    while f"{key} ({number})" in taken:
        number += 1
    return f"{key} ({number})"


def _mended(text: str) -> str:
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def writable(value: Any) -> Any:
    """A copy orjson accepts: text that is not valid Unicode (a lone surrogate from a broken
    decode) with the bad code points replaced, integers beyond 64 bits (``seed=2**64``) as
    their decimal text, dict keys as their JSON text (:func:`key_text`, two alike told apart
    by :func:`unused_key`), nesting (a deep schema) cut at :data:`MAX_DEPTH`, a
    back-reference (a message that links to its own conversation) written as :data:`CYCLE`,
    and an object that fails being read as its ``safe_repr``. The copy has no cycles, so
    every later walk over the record ends; and a cycle costs one step per link, not a walk
    of the tree it unfolds into (2**200 paths for two back-references a level)."""
    return _writable(value, 0, set())


def _writable(value: Any, depth: int, on_path: set[int]) -> Any:
    """:func:`writable`; ``on_path``: the ids of the containers being copied above ``value``."""
    try:
        if isinstance(value, str):
            return _mended(value)
        if isinstance(value, int) and not isinstance(value, bool):  # (an IntEnum too: compare,
            return value if _INT64_MIN <= value <= _INT64_MAX else str(value)  # not `in range`)
        if value is None or isinstance(value, bool | float):
            return value
        if depth >= MAX_DEPTH:
            return _TOO_DEEP
        if isinstance(value, Mapping | list | tuple):
            if id(value) in on_path:
                return CYCLE
            on_path.add(id(value))
            try:
                return _container_copy(value, depth, on_path)
            finally:
                on_path.discard(id(value))
        try:  # what orjson writes itself (numpy values, dates, UUIDs) stays as it is
            orjson.dumps(value, option=JSON_OPTIONS)
        except orjson.JSONEncodeError:
            converted = to_jsonable(value)
            if isinstance(converted, str):
                return converted
            return _writable(converted, depth + 1, on_path)
        return value
    except RecursionError:  # the caller's to handle (the record builder cuts the arguments)
        raise
    except Exception:  # the app's object failed being read
        return safe_repr(value)


def _container_copy(value: Any, depth: int, on_path: set[int]) -> Any:
    if isinstance(value, Mapping):
        copy: dict[str, Any] = {}
        for key, item in value.items():
            copy[unused_key(key_text(key), copy)] = _writable(item, depth + 1, on_path)
        return copy
    items = []
    for item in value:  # a loop, not a comprehension: one frame less a level (MAX_DEPTH)
        items.append(_writable(item, depth + 1, on_path))
    return items
