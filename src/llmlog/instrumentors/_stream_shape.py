"""What a stream proxy shows of itself: the SDK stream's own shape, not wrapt's.

wrapt's proxy type defines every special method (``__len__``, ``__enter__``,
``__copy__``...) and forwards or refuses it. Code that probes the app's stream
(``hasattr(s, "__len__")``, ``repr(s)``, ``copy.copy(s)``) would then see
something the SDK's stream is not. Here the proxy gives the stream's own
``repr``, copies, pickles as the stream does, and hides the special methods the
stream's type lacks. None of this runs while chunks are read.

What cannot be hidden: ``collections.abc`` checks such as ``Sized`` read the
class dictionaries, where the hiding descriptor sits (``None`` there would make
``hasattr`` true instead).
"""

from __future__ import annotations

from typing import Any, Final


class _NotOnTheStream(AttributeError, TypeError):
    """A special method the SDK's stream lacks: absent to ``hasattr`` (AttributeError),
    and what the operation on the bare stream raises (TypeError: ``len(s)``, ``with s``)."""


_REFUSALS: Final = {
    "__len__": "object of type '{}' has no len()",
    "__reversed__": "'{}' object is not reversible",
    "__contains__": "argument of type '{}' is not iterable",
    "__index__": "'{}' object cannot be interpreted as an integer",
    "__round__": "type {} doesn't define __round__ method",
    "__enter__": "'{}' object does not support the context manager protocol",
    "__exit__": "'{}' object does not support the context manager protocol",
    "__aenter__": "'{}' object does not support the asynchronous context manager protocol",
    "__aexit__": "'{}' object does not support the asynchronous context manager protocol",
}
"""What Python says when the operation meets a bare stream without the method."""


class _OwnIfTheStreamHasIt:
    """A special method of the proxy class that is the wrapped stream's own where its
    type has one, and is absent otherwise (on the class too, as on the SDK's)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __get__(self, proxy: Any, owner: type | None = None) -> Any:
        if proxy is None:
            raise AttributeError(self._name)
        stream = proxy.__wrapped__
        if hasattr(type(stream), self._name):
            return getattr(stream, self._name)
        kind = type(stream).__name__
        refusal = _REFUSALS.get(self._name, "'{}' object has no attribute '" + self._name + "'")
        raise _NotOnTheStream(refusal.format(kind), name=self._name, obj=stream)


BOTH_LACK: Final = ("__len__", "__reversed__", "__index__", "__round__", "__copy__", "__deepcopy__")
"""What neither SDK's stream defines and wrapt's proxy type does. ``copy.copy`` and
``copy.deepcopy`` then go by ``__reduce_ex__``, as they do for the bare stream.

Kept as wrapt has them: ``__getitem__`` and the like (a class with a ``__getitem__``
of its own is iterable to ``iter()``; wrapt's raises the stream's own TypeError), and
the sync proxy's ``__contains__`` (``in`` iterates a sync stream)."""
SYNC_LACKS: Final = (*BOTH_LACK, "__aenter__", "__aexit__")
ASYNC_LACKS: Final = (*BOTH_LACK, "__contains__", "__enter__", "__exit__")


def hide_absent(proxy_class: type, names: tuple[str, ...]) -> None:
    """Make ``names`` of ``proxy_class`` follow the wrapped stream's type."""
    for name in names:
        setattr(proxy_class, name, _OwnIfTheStreamHasIt(name))


class StreamShape:
    """Mixed into a stream proxy before wrapt's type: its ``repr`` and what copying or
    pickling it makes are the wrapped stream's (wrapt's proxy raises instead). A copy
    is a bare SDK stream reading on where the proxy is; the proxy's record still ends
    when the proxy does."""

    __wrapped__: Any

    def __repr__(self) -> str:
        return repr(self.__wrapped__)

    def __reduce_ex__(self, protocol: Any) -> Any:
        return self.__wrapped__.__reduce_ex__(protocol)

    def __reduce__(self) -> Any:
        return self.__wrapped__.__reduce__()
