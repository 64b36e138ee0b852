"""The answer a ``parse()`` call raised about: it came, and was billed, before the SDK
(or the app's own model) refused it.

``LengthFinishReasonError`` and ``ContentFilterFinishReasonError`` carry the completion.
A pydantic ``ValidationError`` (the JSON failed the app's model, a ``field_validator``)
carries nothing, but the frames it went through held the answer: the SDK's response
reader had decoded it (and had the HTTP response, with the request id) when its
post-parser raised. Those frames, the ones below llmlog's wrapper, had all returned when
the call was recorded; they are read on the writer thread, never kept, and the app's
exception is left as it is. Frames an app clears (``traceback.clear_frames``) before the
writer reads them hold nothing: that record has no answer, as before.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from types import FrameType
from typing import Any, NamedTuple

from llmlog._record import Capture

log = logging.getLogger("llmlog")

_OPERATIONS = frozenset({"chat.completions", "responses"})
"""The operations whose ``parse()`` may refuse an answer that came."""


class RefusedAnswer(NamedTuple):
    """An answer the call raised about, and the request id of the HTTP response it came in."""

    answer: Any
    request_id: str | None


def answer_in_error(cap: Capture) -> RefusedAnswer | None:
    """The answer a ``.parse()`` call (chat or Responses) raised about after it came."""
    if cap.error is None or cap.operation not in _OPERATIONS:
        return None
    completion = getattr(cap.error, "completion", None)
    if getattr(completion, "choices", None) is None:
        completion = None  # not a chat error that carries its completion
        if not cap.method.endswith(".parse"):
            return None
    try:
        found = _in_frames(cap.error, cap.operation, want_answer=completion is None)
    except Exception as exc:  # the frames of another SDK version: the record goes without
        log.debug("llmlog: %s: its error's frames could not be read (%r)", cap.method, exc)
        found = None
    if completion is not None:
        return RefusedAnswer(completion, found.request_id if found else None)
    if found is None or found.answer is None:
        log.debug("llmlog: %s: no answer in the frames its error went through", cap.method)
        return None
    return found


def _in_frames(error: BaseException, operation: str, *, want_answer: bool) -> RefusedAnswer:
    """The first answer of the operation's type, and the first request id, that the SDK's
    frames below llmlog's wrapper held (outermost first: the call's own response reader
    comes before anything a validator of the app's may have called)."""
    answer_type = _answer_type(operation)
    response_types = _api_response_types()
    answer: Any = None
    request_id: str | None = None
    for frame in _sdk_frames(error):
        for value in list(frame.f_locals.values()):
            kind = type(value)
            if want_answer and answer is None and issubclass(kind, answer_type):
                answer = value
            elif request_id is None and issubclass(kind, response_types):
                request_id = _header_request_id(value)
        if request_id is not None and (answer is not None or not want_answer):
            break
    return RefusedAnswer(answer, request_id)


def _answer_type(operation: str) -> type:
    """The SDK's class of an unparsed answer."""
    if operation == "chat.completions":
        from openai.types.chat import ChatCompletion

        return ChatCompletion
    from openai.types.responses import Response

    return Response


def _sdk_frames(error: BaseException) -> Iterator[FrameType]:
    """The openai SDK's frames the error went through below llmlog's wrapper (the first
    llmlog frame from the top): all returned before the call was recorded."""
    below_wrapper = False
    tb = error.__traceback__
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__")
        name = module if isinstance(module, str) else ""
        if below_wrapper and name.startswith("openai."):
            yield tb.tb_frame
        below_wrapper = below_wrapper or name.startswith("llmlog.")
        tb = tb.tb_next


def _api_response_types() -> tuple[type, ...]:
    """The SDK's HTTP response wrappers (private modules: another SDK version may move them,
    then the record goes without a request id)."""
    types: list[type] = []
    try:
        from openai._response import BaseAPIResponse

        types.append(BaseAPIResponse)
    except ImportError:  # pragma: no cover - depends on the SDK version
        log.debug("llmlog: openai._response.BaseAPIResponse not in this SDK version")
    return tuple(types)


def _header_request_id(api_response: Any) -> str | None:
    headers: Any = getattr(getattr(api_response, "http_response", None), "headers", None)
    request_id = headers.get("x-request-id") if hasattr(headers, "get") else None
    return request_id if isinstance(request_id, str) else None
