"""Who and what a call belongs to: session, user, prompt template, tags; what of it
is captured (``capture="metadata"``: no prompt or output text, for this call only); and
whether it is logged at all (``log=False``: no record, decided as the call starts).

One ``ContextVar`` holds an immutable mapping, so threads and asyncio tasks
each see their own values and reading it on the caller's thread costs one
lookup. A call's record gets the values current when the call *started*: tags
and template variables that are not plain texts, numbers or booleans (a list,
a dict, a lazy proxy such as Flask's ``current_user``) are read then, on the
caller's thread, as the JSON data the record holds (see :func:`snapshot`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from types import MappingProxyType, TracebackType
from typing import Any, Final, Literal, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_current: ContextVar[Mapping[str, Any]] = ContextVar("llmlog_context", default=_EMPTY)


def snapshot() -> Mapping[str, Any]:
    """The context in force right now (immutable; safe to keep), for a call starting now.

    The record is written later on another thread: a tag value the app changes after the
    call, or one readable only inside the request (Flask's ``current_user``), is read here.
    Plain values (most tags) are shared as they are: they cannot change, and cost nothing.
    """
    current = _current.get()
    if current.__class__ is _ReadAtCall:  # (faster than type(current): no call)
        return current.read()
    return current


_LOG: Final = "log"
"""The context key of ``log=False`` (only ever False: a call logs unless it is there)."""


def logging_off() -> bool:
    """Whether a call starting now is left out of the log (``log=False`` in force): asked
    before anything of the call is copied, so such a call costs the app one lookup."""
    return _current.get().get(_LOG) is False


def left_out(values: Mapping[str, Any] | None) -> bool:
    """Whether a call whose context (its :func:`snapshot`) is ``values`` has no record:
    for the calls llmlog must follow even so (a WebSocket's answers are paired in order)."""
    return values is not None and values.get(_LOG) is False


_PLAIN: Final = frozenset({str, int, float, bool, type(None)})  # exact types: immutable


def _all_plain(values: Mapping[Any, Any] | None) -> bool:
    """Whether every key is a str and every value immutable as it is written."""
    if values:
        plain = _PLAIN
        for key, value in values.items():  # a loop: twice as fast as all() over a generator
            if type(key) is not str or type(value) not in plain:
                return False
    return True


class _ReadAtCall(Mapping[str, Any]):
    """Context values of which some tags or template variables are the app's objects
    (mutable, or lazy): :meth:`read` takes them as the record will hold them."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = values

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def get(self, key: str, default: Any = None) -> Any:
        """(``Mapping.get`` would raise and catch a ``KeyError`` for each missing key.)"""
        return self._values.get(key, default)

    def read(self) -> Mapping[str, Any]:
        """The values now: tags and template variables as JSON data (never raises; a value
        that cannot be read is written as its ``repr``)."""
        from llmlog._jsonable import app_values  # here: not imported with ``import llmlog``

        values = dict(self._values)
        tags = values.get("tags")
        if tags and not _all_plain(tags):
            values["tags"] = app_values(tags)
        template = values.get("template") or {}
        variables = template.get("variables")
        if variables and not _all_plain(variables):
            values["template"] = {**template, "variables": app_values(variables)}
        return MappingProxyType(values)


def _template(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return {"name": value, "version": None, "variables": None}
    if isinstance(value, Mapping):
        unknown = set(value) - {"name", "version", "variables"}
        if unknown or "name" not in value:
            raise ValueError(
                "template must be a name or a mapping with 'name' and optionally "
                f"'version' and 'variables'; got keys {sorted(value)}"
            )
        variables, name = value.get("variables"), value["name"]
        if not isinstance(name, str) or not name:
            raise ValueError(f"template 'name' must be a non-empty str, not {name!r}")
        if variables is not None and not isinstance(variables, Mapping):
            raise TypeError(
                "template 'variables' must be a mapping of names to values, "
                f"not {type(variables).__name__}"
            )
        return {
            "name": name,
            "version": None if value.get("version") is None else str(value["version"]),
            "variables": dict(variables) if variables is not None else None,
        }
    raise TypeError(f"template must be a str or a mapping, not {type(value).__name__}")


CAPTURE_LEVELS: Final = ("full", "metadata")
"""What ``capture=`` takes, least strict first (``LLMLOG_CAPTURE``'s values)."""

Capture = Literal["full", "metadata"]


def _capture(value: Any) -> str | None:
    """``capture=`` checked where it is given: a typo must not log medical notes in full."""
    if value is None:
        return None
    if isinstance(value, str) and value in CAPTURE_LEVELS:
        return str(value)
    raise ValueError(f"capture must be one of 'full', 'metadata' (or None), not {value!r}")


def _stricter(outer: str | None, inner: str) -> str:
    """The capture in force when ``inner`` is asked inside ``outer``: the stricter wins, so
    a library's ``capture="full"`` cannot widen what the app narrowed around it."""
    if outer is None:
        return inner
    return max(outer, inner, key=CAPTURE_LEVELS.index)


def _log(value: Any) -> bool:
    """``log=`` checked where it is given: ``log="no"`` must not log a call kept out."""
    if isinstance(value, bool):
        return value
    raise TypeError(f"log must be True or False, not {type(value).__name__}")


def _tags(value: Any) -> dict[str, Any]:
    """Tags as the record holds them: ``{"name": value}``; a label stands for ``{label: True}``."""
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, str):
        return {value: True}
    try:
        labels = iter(value)
    except TypeError:
        raise TypeError(
            "tags must be a mapping of names to values, a label (str) or a list, tuple or "
            f"set of labels, not {type(value).__name__}"
        ) from None
    return {str(tag): True for tag in labels}


def _merged(
    base: Mapping[str, Any],
    session_id: str | None,
    user_id: str | None,
    template: Any,
    tags: Any,
    capture: str | None = None,
    log: bool = True,
) -> Mapping[str, Any]:
    new = dict(base)
    if not log:  # never set back to True here: a call kept out stays out (see context)
        new[_LOG] = False
    if capture is not None:
        new["capture"] = _stricter(base.get("capture"), capture)
    if session_id is not None:
        new["session_id"] = str(session_id)
    if user_id is not None:
        new["user_id"] = str(user_id)
    if template is not None:
        new["template"] = _template(template)
    if tags is not None:
        new["tags"] = {**base.get("tags", {}), **_tags(tags)}
    template_now = new.get("template")
    variables = None if template_now is None else template_now["variables"]
    if _all_plain(new.get("tags")) and _all_plain(variables):
        return MappingProxyType(new)
    return _ReadAtCall(MappingProxyType(new))


class context:
    """Attach session, user, template and tags to the calls made inside.

    Use as ``with llmlog.context(session_id="s1"):`` or as a decorator on a
    function, coroutine function or (async) generator function. Nested contexts
    add to the outer one (tags merge). One instance may be entered by many
    threads and tasks at once. ``template`` is a name or ``{"name", "version",
    "variables"}``; ``tags`` is a mapping or a list (tuple, set) of labels.
    ``capture="metadata"`` logs the calls inside without their prompt and output text
    (as ``LLMLOG_CAPTURE=metadata`` does for all); ``"full"`` never widens a stricter
    capture around it (that setting, an outer context).
    ``log=False`` leaves the calls started inside out of the log: no record, not counted
    as dropped, their arguments not copied, a stream handed over as the SDK's own (a
    WebSocket's responses are still followed, to pair the others' answers). As with
    ``capture``, the stricter wins: an inner ``log=True`` (a library's) does not log what
    an outer ``log=False`` leaves out; ``llmlog.unbind()`` ends a ``bind(log=False)``.
    """

    def __init__(
        self,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        template: str | Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | str | Iterable[str] | None = None,
        capture: Capture | None = None,
        log: bool = True,
    ) -> None:
        _template(template)  # validate now, where the mistake is made
        # Taken now too: a mistake is reported here, and an iterator is read only once.
        labels = None if tags is None else _tags(tags)
        self._values = (session_id, user_id, template, labels, _capture(capture), _log(log))

    def __enter__(self) -> context:
        outer = _current.get()
        _entered.set((*_entered.get(), (self, outer)))
        _current.set(_merged(outer, *self._values))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        entered = _entered.get()
        for index in range(len(entered) - 1, -1, -1):
            instance, outer = entered[index]
            if instance is self:
                # Left before contexts entered inside it (a generator closed in another
                # block): those stay, now over what was outside this one.
                kept = list(entered[:index])
                for inner, _ in entered[index + 1 :]:
                    kept.append((inner, outer))
                    outer = _merged(outer, *inner._values)
                _current.set(outer)
                _entered.set(tuple(kept))
                return
        # entered in another thread or task (a generator resumed elsewhere): nothing to undo

    def __call__(self, func: _F) -> _F:
        if inspect.isasyncgenfunction(func):
            wrapper: Callable[..., Any] = _async_generator(self, func)
        elif inspect.isgeneratorfunction(func):
            wrapper = _generator(self, func)
        elif inspect.iscoroutinefunction(func):

            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                with self:
                    return await func(*args, **kwargs)

        else:

            def wrapper(*args: Any, **kwargs: Any) -> Any:
                with self:
                    result = func(*args, **kwargs)
                if inspect.iscoroutine(result):  # an async function under another decorator
                    return _awaited_inside(self, result)
                return result

        return functools.wraps(func)(wrapper)  # type: ignore[return-value]


async def _awaited_inside(scope: context, coroutine: Any) -> Any:
    with scope:
        return await coroutine


_entered: ContextVar[tuple[tuple[context, Mapping[str, Any]], ...]] = ContextVar(
    "llmlog_context_entered", default=()
)
"""The contexts this thread or task is inside, each with the values it replaced."""


class _Steps:
    """The context of one decorated generator, carried from each of its steps to the next:
    what a step binds or enters (``bind()``, a ``with llmlog.context`` around a ``yield``)
    stays the generator's own; the caller's code between steps sees none of it."""

    def __init__(self, values: context) -> None:
        self._values = values._values
        self._own: tuple[Mapping[str, Any], Any] | None = None
        self._caller: tuple[Mapping[str, Any], Any] = (_EMPTY, ())

    def __enter__(self) -> None:
        self._caller = (_current.get(), _entered.get())
        if self._own is None:  # the first step: the caller's values and the decorator's
            _current.set(_merged(self._caller[0], *self._values))
        else:
            _current.set(self._own[0])
            _entered.set(self._own[1])

    def __exit__(self, *exc: object) -> None:
        self._own = (_current.get(), _entered.get())
        _current.set(self._caller[0])
        _entered.set(self._caller[1])


def _generator(values: context, func: Callable[..., Any]) -> Callable[..., Any]:
    """A generator whose every step runs in its own context (see :class:`_Steps`): a
    ``with`` around ``yield`` would leak the values to the caller between steps."""

    def run(*args: Any, **kwargs: Any) -> Any:
        inner = func(*args, **kwargs)
        steps = _Steps(values)
        step, sent = inner.send, None
        try:
            while True:
                with steps:
                    try:
                        item = step(sent)
                    except StopIteration as done:
                        return done.value
                try:
                    step, sent = inner.send, (yield item)
                except GeneratorExit:
                    raise
                except BaseException as exc:  # thrown in by the caller: the inner one's to handle
                    step, sent = inner.throw, exc
        finally:
            with steps:
                inner.close()

    return run


def _async_generator(values: context, func: Callable[..., Any]) -> Callable[..., Any]:
    """:func:`_generator` for ``async def ... yield`` functions."""

    async def run(*args: Any, **kwargs: Any) -> Any:
        inner = func(*args, **kwargs)
        steps = _Steps(values)
        step, sent = inner.asend, None
        try:
            while True:
                with steps:
                    try:
                        item = await step(sent)
                    except StopAsyncIteration:
                        return
                try:
                    step, sent = inner.asend, (yield item)
                except GeneratorExit:
                    raise
                except BaseException as exc:
                    step, sent = inner.athrow, exc
        finally:
            with steps:
                await inner.aclose()

    return run


def bind(
    *,
    session_id: str | None = None,
    user_id: str | None = None,
    template: str | Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | str | Iterable[str] | None = None,
    capture: Capture | None = None,
    log: bool = True,
) -> None:
    """Set context values for the rest of the current thread or asyncio task
    (``capture`` and ``log`` as in :class:`context`: they only ever narrow)."""
    checked, logged = _capture(capture), _log(log)
    _current.set(_merged(_current.get(), session_id, user_id, template, tags, checked, logged))


def clear() -> None:
    """Forget every context value in the current thread or task."""
    _current.set(_EMPTY)
