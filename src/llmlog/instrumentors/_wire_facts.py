"""What the HTTP exchange of a call says beyond its answer (writer thread).

``attempts``: how many requests the SDK sent for the call (1 + its retries); ``retried``:
the status, request id and error message of each failed attempt it retried, and the
backoff the SDK slept after it (``latency_ms`` less these is the attempts' own time);
``response_headers``: the last response's rate-limit, retry and billing headers, by an
allow-list (no other header is ever kept: no cookie, no header a gateway adds);
``server_port``: a port that is not the scheme's default. Read from references the
caller's thread kept: nothing here runs on the app's thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

from llmlog._error_record import bounded
from llmlog._record import BASE_URL, Capture
from llmlog.instrumentors._parsed_responses import noted_headers
from llmlog.instrumentors._retries import RETRIED, FailedAttempt

KEPT_HEADERS: Final = frozenset(
    {
        "retry-after",
        "retry-after-ms",
        "openai-processing-ms",
        "openai-organization",
        "openai-project",
        "anthropic-organization-id",
    }
)
"""Response headers kept by name (lowercase): when to retry, server time, who was billed."""
KEPT_HEADER_PREFIXES: Final = ("x-ratelimit-", "anthropic-ratelimit-")
"""Header families kept whole: the rate limits' limits, what remains, when they reset."""
_RETRY_COUNT_HEADER: Final = "x-stainless-retry-count"
"""The retry number the SDKs send on each attempt (0 on the first)."""
_MAX_ERROR_BODY: Final = 65536
"""A failed attempt's body longer than this is not an API's error object: not parsed."""

RequestIdOf = Callable[[Any], "str | None"]
"""A provider's reader of the request id in a response's headers."""


def kept_headers(headers: Any) -> dict[str, str] | None:
    """The allow-listed headers of ``headers`` (an ``httpx.Headers``), names lowercase;
    None when there are none. Read from its raw bytes: its ``items()`` first works out
    the text encoding of all the headers, which costs ~3x as much."""
    raw = getattr(headers, "raw", None)
    if isinstance(raw, list):
        kept: dict[str, str] = {}
        for name, value in raw:
            lowered = name.lower()
            if lowered in _KEPT_RAW or lowered.startswith(_KEPT_RAW_PREFIXES):
                kept[lowered.decode("latin-1")] = value.decode("latin-1")
        return kept or None
    items = getattr(headers, "items", None)
    if items is None:
        return None
    kept = {}
    for name, value in items():
        lowered = str(name).lower()
        if lowered in KEPT_HEADERS or lowered.startswith(KEPT_HEADER_PREFIXES):
            kept[lowered] = str(value)
    return kept or None


_KEPT_RAW: Final = frozenset(name.encode() for name in KEPT_HEADERS)
_KEPT_RAW_PREFIXES: Final = tuple(prefix.encode() for prefix in KEPT_HEADER_PREFIXES)


def wire_fields(cap: Capture, request_id_of: RequestIdOf, headers: Any = None) -> dict[str, Any]:
    """``attempts``, ``retried``, ``response_headers`` and ``server_port`` of a call, from
    the last response kept for it: an error's, the one its answer was parsed from, a raw
    response's or a stream's (or only its ``headers``, when that is what was kept)."""
    noted, retries_taken = noted_headers(cap)
    response = None
    if noted is None:
        response, retries_taken = last_response(cap.result)
    error_response = _attribute(cap.error, "response")
    if _attribute(error_response, "headers") is not None:
        response, headers, noted, retries_taken = error_response, None, None, None
    if headers is None:
        headers = noted if noted is not None else _attribute(response, "headers")
    retried = [_failed_attempt(attempt, request_id_of) for attempt in _noted_retries(cap)]
    if not isinstance(retries_taken, int):
        retries_taken = _retry_count(_attribute(cap.error, "request") or _request_of(response))
    known = cap.error is None or retries_taken is not None or retried
    attempts = 1 + max(len(retried), retries_taken or 0) if known else None
    return {
        "attempts": attempts,
        "retried": retried or None,
        "response_headers": kept_headers(headers),
        "server_port": server_port(cap),
    }


def last_response(source: Any) -> tuple[Any, Any]:
    """(the HTTP response, the SDK's retry count or None) of a raw ``APIResponse`` or a
    ``Stream``; (None, None) for anything else."""
    http = _attribute(source, "http_response")
    if http is not None:
        return http, _attribute(source, "retries_taken")
    return _attribute(source, "response"), None


def server_port(cap: Capture) -> int | None:
    """The port of the client's base URL when the call started, when it is not the
    scheme's default (httpx says None for those)."""
    port = _attribute(cap.extra.get(BASE_URL), "port")
    return port if isinstance(port, int) else None


def _noted_retries(cap: Capture) -> list[FailedAttempt]:
    noted = cap.extra.get(RETRIED)
    return noted if isinstance(noted, list) else []


def _failed_attempt(attempt: FailedAttempt, request_id_of: RequestIdOf) -> dict[str, Any]:
    response = attempt.response
    status = _attribute(response, "status_code")
    headers = _attribute(response, "headers")
    return {
        "status_code": status if isinstance(status, int) else None,
        "request_id": request_id_of(headers) if headers is not None else None,
        "error": attempt.error,
        "message": attempt.message if response is None else _body_message(response),
        "backoff_ms": attempt.backoff_ms,
    }


def _body_message(response: Any) -> str | None:
    """The error message in a failed response's JSON body, as the SDKs read it (``error.
    message``, else ``message``); None when the body was not read (a stream's is closed
    unread before a retry), is not JSON or has none."""
    content = _attribute(response, "content")  # httpx raises for a body not read
    if not isinstance(content, bytes) or len(content) > _MAX_ERROR_BODY:
        return None
    try:
        body = json.loads(content)
    except ValueError:
        return None
    error = body.get("error", body) if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return bounded(message) if isinstance(message, str) and message else None


def _retry_count(request: Any) -> int | None:
    """The SDK's retry number on the request sent (None when absent or not a number)."""
    headers = _attribute(request, "headers")
    value = headers.get(_RETRY_COUNT_HEADER) if hasattr(headers, "get") else None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _request_of(response: Any) -> Any:
    return _attribute(response, "request")  # httpx raises for a response built without one


def _attribute(value: Any, name: str) -> Any:
    """``value.name``, or None when there is none or reading it fails (a property)."""
    if value is None:
        return None
    try:
        return getattr(value, name, None)
    except Exception:
        return None
