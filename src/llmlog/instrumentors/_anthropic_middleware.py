"""Anthropic client middleware: the record holds the request the SDK sent.

A client made with ``middleware=[...]`` runs that chain inside the SDK's retry loop, once
per attempt, after llmlog copied the call's arguments, and a middleware may send something
else: an app's that scrubs PII from the messages, the SDK's ``BetaRefusalFallbackMiddleware``
that resends a refused request to another model, strips ``fallback`` blocks from the
history and adds an ``anthropic-beta`` header. The chain's innermost step hands each
request to the SDK through ``_prepare_middleware_options``; a hook there copies the
request's body, headers and query for the call it belongs to (the last one sent wins). The
writer builds the record's system, messages and params from that copy; ``model`` stays the
one the app asked for (as for every call: ``response_model`` names the one that answered).
A chain that sent the app's model, system and messages (logging, tracing) leaves the app's
arguments, so the record has the shape it has without middleware; headers the chain sent
are kept either way, without an ``anthropic-beta`` that only repeats the call's ``betas``.

A client without middleware never reaches that function: nothing here runs for its calls.
The call a request belongs to is the nearest patched call on the stack (its wrapper's
frame, or ``messages.stream()``'s ``__enter__``); a request sent while the app reads a
stream (the refusal fallback continuing a refused stream on another model) is matched
by its idempotency key, which every attempt and hop of one call shares.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Mapping
from types import FrameType
from typing import Any, Final

from llmlog import _guard
from llmlog._record import Capture, is_sentinel
from llmlog.instrumentors._anthropic_request import plain
from llmlog.instrumentors._anthropic_streams import (
    AsyncMessageStreamManagerProxy,
    MessageStreamManagerProxy,
)
from llmlog.instrumentors._arguments import snapshot
from llmlog.instrumentors._base import CALL_FRAMES, Target, Wrapper
from llmlog.instrumentors._client_defaults import with_client_options

SENT: Final = "sent_request"
"""``cap.extra`` key of the call's :class:`SentRequest` (only through a middleware chain)."""

_PROMPT: Final = ("model", "system", "messages")
"""Body fields that, sent as the app gave them, make the chain one that passed the call on."""

_BETA_HEADER: Final = "anthropic-beta"

_OPTIONS: Final = frozenset({"timeout", "betas"})
"""Arguments that are options of the call, not fields of its body: kept from the app's.
(``betas`` also shows in the ``anthropic-beta`` header sent, with what a middleware added.)"""


class SentRequest:
    """Copies of the body, headers and query of the last request sent for one call."""

    __slots__ = ("__weakref__", "body", "headers", "query")

    def __init__(self) -> None:
        self.body: Any = None
        self.headers: Any = None
        self.query: Any = None


_by_key: weakref.WeakValueDictionary[str, SentRequest] = weakref.WeakValueDictionary()
"""Idempotency key -> the SentRequest of the call it was made for (alive while its capture is)."""

_CALL_FRAMES: Final = CALL_FRAMES | {
    MessageStreamManagerProxy.__enter__.__code__,
    AsyncMessageStreamManagerProxy.__aenter__.__code__,
}


def _note_sent(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``_prepare_middleware_options(request)``: the options of one request about to be
    sent, from the innermost step of the chain. Kept for the call's record; never raises."""
    options = wrapped(*args, **kwargs)
    with _guard.guarded("anthropic middleware"):
        _keep(options)
    return options


def _keep(options: Any) -> None:
    body = getattr(options, "json_data", None)
    if not isinstance(body, Mapping):
        return  # no JSON body (a GET): no model call's request
    sent = _sent_request_for(getattr(options, "idempotency_key", None))
    if sent is None:
        return
    headers = getattr(options, "headers", None)
    query = getattr(options, "params", None)
    # copies: a middleware may change its dicts after the request went out
    sent.body = snapshot(body)
    sent.headers = snapshot(headers) if isinstance(headers, Mapping) else None
    sent.query = snapshot(query) if isinstance(query, Mapping) else None


def _sent_request_for(key: Any) -> SentRequest | None:
    """The SentRequest of the call this request is sent for; None for a request of a call
    not recorded (or of none)."""
    frame = _call_frame()
    if frame is None:  # sent while the app reads a stream
        return _by_key.get(key) if isinstance(key, str) else None
    cap = frame.f_locals.get("cap")
    if not isinstance(cap, Capture):
        return None  # a call llmlog does not record (one the SDK makes inside its own)
    sent = cap.extra.get(SENT)
    if not isinstance(sent, SentRequest):
        sent = cap.extra[SENT] = SentRequest()
    if isinstance(key, str):
        _by_key[key] = sent
    return sent


def _call_frame() -> FrameType | None:
    """The frame of the nearest patched call on the stack, if any."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        if frame.f_code in _CALL_FRAMES:
            return frame
        frame = frame.f_back
    return None


def sent_arguments(cap: Capture) -> Mapping[str, Any]:
    """Writer thread: the call's arguments as the request last sent for it has them (its
    body, the app's model, the call's options), or the app's arguments when no request
    went through a middleware chain or the chain sent the app's prompt; with the headers
    and query the chain sent, the client's under them."""
    sent = cap.extra.get(SENT)
    if not isinstance(sent, SentRequest) or not isinstance(sent.body, Mapping):
        return cap.kwargs
    if _prompt_as_given(sent.body, cap.kwargs):
        arguments = dict(cap.kwargs)
    else:
        arguments = {name: value for name, value in cap.kwargs.items() if name in _OPTIONS}
        arguments.update(sent.body)
        if "model" in cap.kwargs:  # the requested model, by the schema
            arguments["model"] = cap.kwargs["model"]
    arguments["extra_headers"] = _without_repeated_betas(sent.headers, cap.kwargs)
    arguments["extra_query"] = sent.query
    return with_client_options(arguments, cap)


def _prompt_as_given(body: Mapping[str, Any], kwargs: Mapping[str, Any]) -> bool:
    """Whether the body sent has the app's model, system and messages, compared as the
    record holds them (the app's may be SDK objects the body has as JSON)."""
    return all(plain(body.get(name)) == _given_plain(kwargs.get(name)) for name in _PROMPT)


def _given_plain(value: Any) -> Any:
    return None if is_sentinel(value) else plain(value)


def _without_repeated_betas(headers: Any, kwargs: Mapping[str, Any]) -> Any:
    """The headers sent, less an ``anthropic-beta`` that is the call's ``betas`` as the
    SDK sends them (comma-joined), unless the app set that header itself: params has the
    ``betas`` already."""
    betas = kwargs.get("betas")
    if not isinstance(headers, Mapping) or not isinstance(betas, list | tuple):
        return headers
    if _names_header(kwargs.get("extra_headers"), _BETA_HEADER):
        return headers
    joined = ",".join(str(beta) for beta in betas)
    return {
        name: value
        for name, value in headers.items()
        if not (str(name).lower() == _BETA_HEADER and value == joined)
    }


def _names_header(headers: Any, wanted: str) -> bool:
    return isinstance(headers, Mapping) and any(str(name).lower() == wanted for name in headers)


HELPERS: Final = (
    Target(
        "anthropic._base_client",
        "_prepare_middleware_options",
        "_prepare_middleware_options",
        "helper",
        False,
    ),
)
"""Missing before anthropic 2.13 (no middleware): skipped with a debug line."""
HELPER_WRAPPERS: Final[dict[str, Wrapper]] = {
    f"{row.module}:{row.qualname}": _note_sent for row in HELPERS
}
