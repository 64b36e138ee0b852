"""A call's request id, from whichever header the server sent it in.

Anthropic's API sends ``request-id``; Bedrock sends ``x-amzn-requestid``. The SDK reads
only the first: onto a parsed answer (``message._request_id``) and an error
(``error.request_id``). An error keeps its response, so its headers are read here; a
parsed answer keeps nothing of its response, so the SDK's ``APIResponse.parse`` is
patched (a helper row: no record of its own) to note, for the object it returns, the id
it left out. The note is a context variable holding a weak reference to that object:
the wrapper's ``on_result`` runs in the same context right after, and takes the note
only if its result is that very object (never another call's).
"""

from __future__ import annotations

import weakref
from contextvars import ContextVar
from typing import Any, Final

from llmlog import _guard
from llmlog.instrumentors import _base
from llmlog.instrumentors._base import Target, Wrapper

REQUEST_ID_HEADERS: Final = ("request-id", "x-amzn-requestid")
"""Where a request id may be, in the order tried: Anthropic's API, Bedrock."""

_PROVIDER: Final = "anthropic"
_RESPONSES: Final = "anthropic._response"
_ABSENT: Final = object()

_noted: ContextVar[tuple[weakref.ref[Any], str] | None] = ContextVar(
    "llmlog_anthropic_request_id", default=None
)


def from_headers(headers: Any) -> str | None:
    """The first request id ``headers`` hold (None for no headers)."""
    if headers is None:
        return None
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def from_error(error: BaseException | None) -> str | None:
    """An API error's request id: from its response's headers (Bedrock's too), else the
    SDK's ``request_id``."""
    if error is None:
        return None
    headers = getattr(getattr(error, "response", None), "headers", None)
    found = from_headers(headers) if hasattr(headers, "get") else None
    if found is None:
        found = getattr(error, "request_id", None)
    return found if isinstance(found, str) else None


def take_noted(result: Any) -> str | None:
    """The request id noted for ``result`` by the patched ``parse`` (None: none noted, or
    noted for another object); the note is cleared."""
    noted = _noted.get()
    if noted is None:
        return None
    _noted.set(None)
    reference, request_id = noted
    return request_id if reference() is result else None


def _note(response: Any, parsed: Any) -> None:
    """Note the id the SDK left off ``parsed`` (never raises)."""
    if getattr(parsed, "_request_id", _ABSENT) is not None:
        return  # the SDK's own id (``request-id``), or no SDK model (a stream, bytes)
    with _guard.guarded("anthropic request id"):
        headers = getattr(getattr(response, "http_response", None), "headers", None)
        request_id = from_headers(headers)
        if request_id is not None:
            _noted.set((weakref.ref(parsed), request_id))


def _sync_parse(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    parsed = wrapped(*args, **kwargs)
    if _base.is_active(_PROVIDER):  # a bound method kept across uninstrument() passes through
        _note(instance, parsed)
    return parsed


async def _async_parse(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    parsed = await wrapped(*args, **kwargs)
    if _base.is_active(_PROVIDER):
        _note(instance, parsed)
    return parsed


# (class, its parse is a coroutine): the SDK's parsed responses, sync and async.
_PARSERS: Final = (("APIResponse", False), ("AsyncAPIResponse", True))

HELPERS: Final = tuple(
    Target(_RESPONSES, f"{cls}.parse", f"{cls}.parse", "helper", is_async)
    for cls, is_async in _PARSERS
)
"""Patch rows: a class missing from an SDK version is skipped with a debug line."""
HELPER_WRAPPERS: Final[dict[str, Wrapper]] = {
    f"{row.module}:{row.qualname}": _async_parse if row.is_async else _sync_parse for row in HELPERS
}
