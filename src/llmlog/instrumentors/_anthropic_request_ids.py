"""A call's request id, from whichever header the server sent it in.

Anthropic's API sends ``request-id``; Bedrock sends ``x-amzn-requestid``. The SDK reads
only the first: onto a parsed answer (``message._request_id``) and an error
(``error.request_id``). An error keeps its response, so its headers are read here; a
parsed answer keeps nothing of its response, so the headers of the response it was parsed
from are noted for it (see :mod:`._parsed_responses`) and read on the writer thread.
"""

from __future__ import annotations

from typing import Any, Final

from llmlog.instrumentors import _parsed_responses

REQUEST_ID_HEADERS: Final = ("request-id", "x-amzn-requestid")
"""Where a request id may be, in the order tried: Anthropic's API, Bedrock."""


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


def from_noted(cap: Any) -> str | None:
    """The request id in the headers of the response ``cap``'s answer was parsed from
    (Bedrock's, which the SDK leaves off the object it parsed)."""
    headers, _retries = _parsed_responses.noted_headers(cap)
    return from_headers(headers) if hasattr(headers, "get") else None


HELPERS, HELPER_WRAPPERS = _parsed_responses.helpers("anthropic", "anthropic._response")
"""Patch rows of the SDK's ``APIResponse.parse`` (sync and async)."""
