"""Headers and query parameters the app set on its SDK client, for ``params``.

``default_headers=`` / ``default_query=`` (also through ``with_options(...)``, and
Anthropic's ``ANTHROPIC_CUSTOM_HEADERS``) go out with every call, beneath the call's own
``extra_headers`` / ``extra_query``. An ``anthropic-beta`` set there switches features
on, so the record shows them: merged under the call's own, through the same
``without_credentials`` filter as those (the provider's ``params`` applies it). Only what
the app set is read (the stainless clients' ``_custom_headers`` / ``_custom_query``), never
the SDK's own headers (``X-Stainless-*``, ``user-agent``, ``anthropic-version``).

On the caller's thread they are copied (shallow), and only when there is something: the
SDK keeps the app's own dict, which an app may change before its next call. The merge
runs on the writer thread, before the provider reads the arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Final

from llmlog._record import Capture, is_sentinel

CLIENT_OPTIONS: Final = "client_options"
"""``cap.extra`` key: (the client's custom headers, its custom query), as copies."""

_HEADERS_FROM_ARGUMENTS: Final = (("betas", "anthropic-beta"),)
"""Arguments the SDK sends as a header of the call's own (over the client's header of the
same name): Anthropic's ``betas=[...]`` is the ``anthropic-beta`` header."""


def note_client_options(cap: Capture, client: Any) -> None:
    """Caller's thread: copy what the app set on ``client`` as this call sends it, when it
    set anything, and have the record read the call's arguments merged with them."""
    headers = getattr(client, "_custom_headers", None)
    query = getattr(client, "_custom_query", None)
    if headers or query:
        cap.extra[CLIENT_OPTIONS] = (_copy(headers), _copy(query))
        cap.extract = partial(_extract_with_client_options, cap.extract)


def _copy(options: Any) -> dict[Any, Any] | None:
    """A shallow copy: the values are strings, the dict is the app's to change."""
    return dict(options) if isinstance(options, Mapping) and options else None


def _extract_with_client_options(
    extract: Callable[[Capture], dict[str, Any]], cap: Capture
) -> dict[str, Any]:
    """Writer thread: the provider's ``extract`` over the arguments as sent with the client's."""
    cap.kwargs = with_client_options(cap.kwargs, cap)
    return extract(cap)


def with_client_options(arguments: Mapping[str, Any], cap: Capture) -> dict[str, Any]:
    """``arguments`` with the client's headers and query (noted for ``cap``) under the
    call's ``extra_headers`` / ``extra_query``: the call's win, by name (a header's
    case-blind). A call's ``omit`` for a name keeps the client's out too: nothing was sent."""
    merged = dict(arguments)
    headers, query = cap.extra.get(CLIENT_OPTIONS) or (None, None)
    if isinstance(headers, Mapping) and headers:
        call_headers = _mapping(arguments.get("extra_headers"))
        taken = {str(name).lower() for name in call_headers}
        taken.update(
            header
            for argument, header in _HEADERS_FROM_ARGUMENTS
            if _given(arguments.get(argument))
        )
        kept = {name: value for name, value in headers.items() if str(name).lower() not in taken}
        if kept:
            merged["extra_headers"] = kept | call_headers
    if isinstance(query, Mapping) and query:
        merged["extra_query"] = {**query, **_mapping(arguments.get("extra_query"))}
    return merged


def _mapping(value: Any) -> dict[Any, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _given(value: Any) -> bool:
    return value is not None and not is_sentinel(value)
