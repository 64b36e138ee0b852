"""Responses the app reads again: background ones polled to their end, stored ones replayed.

``responses.create(background=True)`` returns at once (``queued``) and is recorded so, with
no usage. The answer is a record once the app sees the response finished (a plain
``responses.retrieve`` poll, or ``cancel``), the first time this process does: its output,
usage (priced), latency from creation to completion by the server's clock, its error.

A resumed stream (``retrieve(stream=True)``, ``responses.stream(response_id=...)``) names
no model: its record takes ``model``, ``system`` and params from the response its events
carry, as a poll's record does.

Every response recorded with its answer is noted on the writer thread, in the order the
calls ended (the latest :data:`_MAX_NOTED`): a ``retrieve(stream=True)`` replaying one of
them is recorded, but not priced a second time, and a background response noted already
(streamed to its end before it was polled) gives no second record.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any, Final

from llmlog import _guard
from llmlog._record import STATUS_CANCELLED, STATUS_ERROR, STATUS_OK, Capture, string_or_none
from llmlog.instrumentors._base import after_uninstall
from llmlog.instrumentors._observed import RecordedOnce, finish_by_server_clock, observed_capture
from llmlog.instrumentors._openai_request import plain
from llmlog.instrumentors._openai_response import read_response
from llmlog.instrumentors._sdk_field import field
from llmlog.instrumentors._sse_tee import decoded

_ENDED: Final = {
    "completed": STATUS_OK,
    "incomplete": STATUS_OK,
    "failed": STATUS_ERROR,
    "cancelled": STATUS_CANCELLED,
}
_PARAMS: Final = (
    "background",
    "max_output_tokens",
    "max_tool_calls",
    "previous_response_id",
    "prompt_cache_key",
    "reasoning",
    "safety_identifier",
    "temperature",
    "text",
    "tool_choice",
    "tools",
    "top_p",
    "truncation",
    "user",
    "metadata",
)
"""What a response says it ran with: the params of its record (the request is not known)."""
_MAX_NOTED: Final = 10_000

_noted = RecordedOnce(_MAX_NOTED)
_lock = threading.Lock()
after_uninstall.append(_noted.clear)  # a new instrument() starts a new account
_polled = RecordedOnce(_MAX_NOTED)
"""Background responses a poll found finished (caller's threads): one record for many polls."""
after_uninstall.append(_polled.clear)


def _note(response_id: str) -> bool:
    """Note a response as recorded with its answer; False if it was already."""
    with _lock:
        return _noted.first(response_id)


def seen(result: Any, method: str) -> None:
    """A response a plain ``retrieve`` or ``cancel`` returned: recorded if it is a
    background response seen finished here for the first time (caller's thread)."""
    with _guard.guarded(f"openai {method}"):
        if field(result, "background") is not True:
            return  # a stored response, or a raw one: its create was the call
        status = _ENDED.get(field(result, "status"))
        response_id = field(result, "id")
        if status is None or not isinstance(response_id, str):
            return
        with _lock:
            if not _polled.first(response_id):
                return
        cap = observed_capture("openai", method, "responses", extract, result=result)
        finish_by_server_clock(
            cap,
            _moment(field(result, "created_at")),
            _moment(field(result, "completed_at")),
            status,
        )


def _moment(seconds: Any) -> Any:
    """A Responses timestamp (seconds since the epoch) as the server's clock reading."""
    if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds > 0:
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, ValueError, OSError):  # milliseconds (a gateway's), garbage
            return None
    return None


def ran_with(response: Any) -> dict[str, Any]:
    """``model``, ``params`` and ``system`` as a response says it ran: for a record whose
    request this process does not know (a poll, a resumed stream)."""
    params = {name: plain(field(response, name)) for name in _PARAMS}
    return {
        "model": string_or_none(field(response, "model")),
        "params": {name: value for name, value in params.items() if value not in (None, [], {})},
        "system": string_or_none(field(response, "instructions")),
    }


def extract(cap: Capture) -> dict[str, Any]:
    """Record fields for a background response seen finished (writer thread); no record
    if this process recorded its answer already (a stream read to its end)."""
    response = cap.result
    if not _note(str(field(response, "id"))):
        import structlog

        raise structlog.DropEvent
    fields: dict[str, Any] = {**ran_with(response), **read_response(response)}
    request_id = getattr(response, "_request_id", None)
    fields["request_id"] = request_id if isinstance(request_id, str) else None
    if cap.extra.get("latency_unknown"):
        fields["latency_ms"] = None
    return fields


def mark_replay(cap: Capture, fields: dict[str, Any]) -> None:
    """Note a Responses record with its answer (writer thread). ``retrieve(stream=True)``
    of a response noted already replays it (read again, not billed again): its record
    is not priced a second time. Nor is a background response's own stream when a poll
    from another thread recorded its answer first."""
    response_id = fields.get("response_id")
    if cap.operation != "responses" or not response_id or fields.get("usage") is None:
        return
    if not _note(response_id) and (_resumes(cap) or cap.kwargs.get("background") is True):
        fields["price_source"] = f"not billed again: {response_id} was priced in an earlier record"


def _resumes(cap: Capture) -> bool:
    """A ``retrieve(stream=True)``: a response created before, read again. Behind
    ``responses.stream()`` the record has the helper's ``method``: its ``create`` names a
    model (the helper passes every argument, and requires one), its ``retrieve`` never."""
    if cap.method.endswith("retrieve"):
        return True
    return cap.method.endswith("responses.stream") and "model" not in cap.kwargs


def fill_resumed(cap: Capture, fields: dict[str, Any]) -> None:
    """A resumed stream's record (writer thread): what its request does not say (``model``,
    ``system``, the params it ran with), from the stream's last response, as a poll's record
    has them; what the request does say (``starting_after``...) stays."""
    if cap.operation != "responses" or cap.chunks is None or not _resumes(cap):
        return
    response = _last_response(cap.chunks)
    if response is None:
        return
    known = ran_with(response)
    fields["model"] = fields.get("model") or known["model"]
    fields["system"] = fields.get("system") or known["system"]
    fields["params"] = {**known["params"], **(fields.get("params") or {})}


def _last_response(chunks: list[Any]) -> Any:
    """The ``response`` of a Responses stream's last event carrying one (the terminal
    event's; for a stream cut short, the latest): the events read from the end, one by one."""
    for chunk in reversed(chunks):
        for event in decoded([chunk]):
            response = field(event, "response")
            if response is not None:
                return response
    return None
