"""Who and what a call belongs to: session, user, prompt template, tags.

One ``ContextVar`` holds an immutable mapping, so threads and asyncio tasks
each see their own values and reading it on the caller's thread costs one
lookup. A call's record gets the values current when the call *started*.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from types import MappingProxyType, TracebackType
from typing import Any, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_current: ContextVar[Mapping[str, Any]] = ContextVar("llmlog_context", default=_EMPTY)


def snapshot() -> Mapping[str, Any]:
    """The context in force right now (immutable; safe to keep)."""
    return _current.get()


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
        variables = value.get("variables")
        return {
            "name": str(value["name"]),
            "version": None if value.get("version") is None else str(value["version"]),
            "variables": dict(variables) if variables is not None else None,
        }
    raise TypeError(f"template must be a str or a mapping, not {type(value).__name__}")


def _tags(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, str):
        return {value: True}
    return {str(tag): True for tag in value}


def _merged(
    base: Mapping[str, Any],
    session_id: str | None,
    user_id: str | None,
    template: Any,
    tags: Any,
) -> Mapping[str, Any]:
    new = dict(base)
    if session_id is not None:
        new["session_id"] = str(session_id)
    if user_id is not None:
        new["user_id"] = str(user_id)
    if template is not None:
        new["template"] = _template(template)
    if tags is not None:
        new["tags"] = {**base.get("tags", {}), **_tags(tags)}
    return MappingProxyType(new)


class context:
    """Attach session, user, template and tags to the calls made inside.

    Use as ``with llmlog.context(session_id="s1"):`` or as a decorator on a sync
    or async function. Nested contexts add to the outer one (tags merge).
    ``template`` is a name or ``{"name", "version", "variables"}``; ``tags`` is a
    mapping or a list of labels.
    """

    def __init__(
        self,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        template: str | Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | list[str] | tuple[str, ...] | None = None,
    ) -> None:
        _template(template)  # validate now, where the mistake is made
        self._values = (session_id, user_id, template, tags)
        self._kwargs = {
            "session_id": session_id,
            "user_id": user_id,
            "template": template,
            "tags": tags,
        }
        self._tokens: list[Token[Mapping[str, Any]]] = []

    def __enter__(self) -> context:
        self._tokens.append(_current.set(_merged(_current.get(), *self._values)))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _current.reset(self._tokens.pop())

    def __call__(self, func: _F) -> _F:
        values = self._values
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with context(
                    session_id=values[0], user_id=values[1], template=values[2], tags=values[3]
                ):
                    return await func(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with context(
                session_id=values[0], user_id=values[1], template=values[2], tags=values[3]
            ):
                return func(*args, **kwargs)

        return run  # type: ignore[return-value]


def bind(
    *,
    session_id: str | None = None,
    user_id: str | None = None,
    template: str | Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | list[str] | tuple[str, ...] | None = None,
) -> None:
    """Set context values for the rest of the current thread or asyncio task."""
    _current.set(_merged(_current.get(), session_id, user_id, template, tags))


def clear() -> None:
    """Forget every context value in the current thread or task."""
    _current.set(_EMPTY)
