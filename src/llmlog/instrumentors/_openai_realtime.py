"""Realtime sessions (``realtime.connect()``): one record per response, and one per
transcription of the user's audio.

A realtime conversation lives on the server: the app (or the server's voice
activity detection) adds items, and each ``response.created`` ... ``response.done``
is one model call. The record's prompt is what was added to the conversation
since the previous response (as the server echoed it: text, audio and images as
stubs; a spoken turn's transcript when it arrived before the response ended),
its system prompt and params the session's configuration (``session.created`` /
``session.updated``) under the response's own overrides; output, usage and status
come from ``response.done``. Audio deltas are never kept. The transcriptions of
the user's audio are followed by ``_openai_realtime_transcription``.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Final

from llmlog._record import (
    STATUS_CANCELLED,
    STATUS_ERROR,
    STATUS_OK,
    Capture,
    empty_output,
    media_stub,
    usage_record,
)
from llmlog.instrumentors._in_flight import finish
from llmlog.instrumentors._openai_realtime_transcription import (
    COMMITTED,
    TRANSCRIBED,
    TRANSCRIPTION,
    Transcriptions,
)
from llmlog.instrumentors._openai_request import plain, stub_data_urls, stub_media
from llmlog.instrumentors._openai_websocket import (
    Lane,
    Session,
    decode,
    decoded_events,
    error_fields,
    event_type,
    member,
    mentions,
    raw_string,
    string_field,
)

_ITEM_EVENTS: Final = frozenset({"conversation.item.added", "conversation.item.done", TRANSCRIBED})
_TEXT_DELTAS: Final = frozenset(
    {"response.output_text.delta", "response.output_audio_transcript.delta"}
)
_NOT_PARAMS: Final = frozenset(
    {"instructions", "input", "model", "id", "object", "type", "expires_at", "client_secret"}
)


_RESPONSE_ID: Final = string_field("response_id")  # a delta's comes first: its head is searched
_MAX_ITEMS: Final = 1000  # item messages kept between responses (a session that never responds)


def _response_of(event: Any) -> dict[str, Any]:
    response = event.get("response") if isinstance(event, dict) else None
    if response is not None and not isinstance(response, dict):
        response = decode(response)  # a pydantic object inside a dict event
    return response if isinstance(response, dict) else {}


def _request_kind(data: Any) -> tuple[bool, bool]:
    """(outside the conversation, with its own input) for a ``response.create``: the first
    is ``conversation: "none"`` (such a response has no ``conversation_id``), the second
    means the conversation's items are not its prompt. Raw text is decoded only if it may
    say either."""
    if isinstance(data, str | bytes | bytearray) and not (
        mentions(data, "conversation") or mentions(data, "input")
    ):
        return False, False
    response = _response_of(decode(data))
    outside = response.get("conversation") == "none"
    return outside, outside or "input" in response


# Errors that can only be about a response.create.
_CREATE_ERRORS: Final = frozenset({"conversation_already_has_active_response"})


def _refuses_a_response(error: dict[str, Any], cap: Capture) -> bool:
    """Whether an ``error`` is about this ``response.create`` and not another event: by the
    event id when the error carries one, else by a code or parameter only it can have (a
    busy conversation refuses only requests in it)."""
    event_id = error.get("event_id")
    if event_id:
        decoded = decode(cap.extra.get("ws_request"))
        return isinstance(decoded, dict) and decoded.get("event_id") == event_id
    param = error.get("param")
    if isinstance(param, str) and param.startswith("response."):
        return True
    return error.get("code") in _CREATE_ERRORS and not cap.extra.get("out_of_band")


class RealtimeSession(Session):
    """The Realtime protocol: responses run side by side (out-of-band ones next to the
    conversation's), so each is followed by its id; requests wait in the ``None`` lane.
    Conversation items and session settings are kept between responses; transcriptions
    of the user's audio are followed by their item id."""

    METHOD = "realtime.connect"
    OPERATION = "realtime"

    def __init__(self) -> None:
        super().__init__()
        self._settings: Any = None  # the last session.created / session.updated message
        self._items: list[Any] = []  # item messages since the last in-band response started
        self._transcriptions = Transcriptions(self._settings_capture)
        # The last response.created that took a waiting request, and when it came: see
        # _taken_back.
        self._took: tuple[Capture, int, float] | None = None

    @staticmethod
    def extract(cap: Capture) -> dict[str, Any]:
        return extract(cap)

    def received(self, data: Any) -> None:
        kind, decoded = event_type(data)
        if kind is None:
            return
        if kind in ("response.created", "response.done", "error"):
            event = decoded if decoded is not None else decode(data)
            if isinstance(event, dict):
                self._lifecycle(kind, event, data)
            return
        if not kind.startswith("response."):
            self._noted(kind, data)
            return
        # A server that leaves the id out: the one response in flight, if only one is.
        key = raw_string(data, _RESPONSE_ID, 512) or self._only_live()
        lane = self._lanes.get(key) if key is not None else None
        cap = lane.current if lane is not None else None
        if cap is None or cap.chunks is None:
            return
        if cap.first_chunk_perf is None and kind.endswith(".delta"):
            cap.first_chunk_perf = time.perf_counter()  # audio too: what the user hears
        if not kind.endswith("audio.delta"):  # base64 audio: large, and never recorded
            cap.chunks.append(data)

    def _noted(self, kind: str, data: Any) -> None:
        """A conversation, settings or transcription event."""
        if kind.startswith(TRANSCRIPTION) or kind == COMMITTED:
            self._transcriptions.received(kind, data)
        if kind in _ITEM_EVENTS:
            with self._lock:
                if len(self._items) >= _MAX_ITEMS:
                    del self._items[: _MAX_ITEMS // 2]
                self._items.append(data)
                if kind == TRANSCRIBED:
                    # Usually after the response to it started: give it to those in flight.
                    for lane in self._lanes.values():
                        if lane.current is not None:
                            lane.current.extra["ws_items"].append(data)
        elif kind == "session.created" or kind == "session.updated":
            self._transcriptions.configured(data)
            with self._lock:
                self._settings = data
                if kind == "session.created":  # a new server session (e.g. reconnected)
                    self._items = []

    def _settings_capture(self) -> Capture:
        """A capture with the session's settings (not a response.create: none to read)."""
        cap = Session._capture(self, None)
        cap.extra["ws_settings"] = self._settings
        return cap

    def end_all(self, status: str, error: BaseException | None = None) -> None:
        super().end_all(status, error)
        self._transcriptions.end(status, error)

    def lost(self, error: BaseException) -> None:
        super().lost(error)
        self._transcriptions.end(None, error)

    def _capture(self, request: Any) -> Capture:
        cap = super()._capture(request)
        # Read before the request is queued: an answer may come at once.
        cap.extra["out_of_band"], cap.extra["own_input"] = _request_kind(request)
        return cap

    def _lifecycle(self, kind: str, event: dict[str, Any], data: Any) -> None:
        ended: list[tuple[Capture, str]] = []
        response = _response_of(event)
        key = response.get("id") if isinstance(response.get("id"), str) else ""
        with self._lock:
            waiting = self._lanes.get(None)
            if kind == "response.created":
                cap = self._request_for(response, waiting)
                taken = cap.extra.get("ws_request") is not None and not cap.extra["out_of_band"]
                self._took = (cap, time.time_ns(), time.perf_counter()) if taken else None
                cap.chunks = [data]
                cap.extra["ws_settings"] = self._settings
                if cap.extra.get("own_input"):
                    cap.extra["ws_items"] = []
                else:
                    cap.extra["ws_items"], self._items = self._items, []
                replaced = self._lanes.get(key)
                if replaced is not None and replaced.current is not None:  # never ended
                    ended.append((replaced.current, STATUS_CANCELLED))
                lane = self._lanes[key] = Lane()
                lane.current = cap
            elif kind == "response.done":
                done = self._lanes.pop(key or self._only_live() or "", None)
                if done is not None and done.current is not None:
                    done.current.chunks = [data]
                    ended.append((done.current, STATUS_OK))
            else:
                error = event.get("error")
                error = error if isinstance(error, dict) else {}
                for cap in list(waiting.waiting if waiting else ()):
                    if _refuses_a_response(error, cap):
                        assert waiting is not None and cap.chunks is not None
                        waiting.waiting.remove(cap)
                        cap.chunks.append(data)
                        ended.append((cap, STATUS_ERROR))
                        break
                else:
                    refused = self._taken_back(error, data)
                    if refused is not None:
                        ended.append((refused, STATUS_ERROR))
            if waiting is not None and waiting.idle:
                del self._lanes[None]
        for cap, status in ended:
            finish(cap, status=status)

    def _taken_back(self, error: dict[str, Any], data: Any) -> Capture | None:
        """A busy refusal no waiting request can be: the app's request was refused, and the
        response that took it is one the server started at that instant (voice activity
        detection while the app asked). That response runs on as the server's (no request:
        the session's settings, timed from its start); the request is the refusal's record."""
        if self._took is None or error.get("code") not in _CREATE_ERRORS:
            return None
        running, start_ns, start_perf = self._took
        self._took = None
        if not any(lane.current is running for lane in self._lanes.values()):
            return None  # ended already: the refusal is about something else
        refused = Session._capture(self, running.extra["ws_request"])
        refused.context, refused.trace_ids = running.context, running.trace_ids
        refused.start_ns, refused.start_perf = running.start_ns, running.start_perf
        refused.chunks = [data]
        running.extra["ws_request"] = None
        running.start_ns, running.start_perf = start_ns, start_perf
        return refused

    def _request_for(self, response: dict[str, Any], waiting: Lane | None) -> Capture:
        """The waiting request a new response answers: the oldest of its kind (a response
        outside the conversation has no ``conversation_id``); else one the server started."""
        requests = waiting.waiting if waiting is not None else deque()
        if "conversation_id" in response:
            out_of_band = response["conversation_id"] is None
            requests = deque(c for c in requests if bool(c.extra.get("out_of_band")) == out_of_band)
        if not requests:
            return self._capture(None)
        assert waiting is not None
        chosen = requests[0]
        waiting.waiting.remove(chosen)
        return chosen

    def _only_live(self) -> str | None:
        """The key of the one response in flight, if only one is (for events without an id)."""
        live = [key for key in list(self._lanes) if key is not None]
        return live[0] if len(live) == 1 else None


# Writer thread -------------------------------------------------------------------------


def extract(cap: Capture) -> dict[str, Any]:
    """Record fields of one realtime response."""
    settings = member(decode(cap.extra.get("ws_settings")), "session")
    request = member(decode(cap.extra.get("ws_request")), "response")
    events = decoded_events(cap)
    params = {
        k: stub_data_urls(plain(v))
        for k, v in {**settings, **request}.items()
        if k not in _NOT_PARAMS
    }
    model = settings.get("model")
    instructions = request.get("instructions", settings.get("instructions"))
    if "input" in request:  # an out-of-band response with its own input
        items = [item for item in request["input"] if isinstance(item, dict)]
    else:
        items = _items(decode(message) for message in cap.extra.get("ws_items") or ())
    fields: dict[str, Any] = {
        "model": model if isinstance(model, str) else None,
        "response_model": model if isinstance(model, str) else None,
        "system": instructions if isinstance(instructions, str) else None,
        "messages": [_message(item) for item in items],
        "params": params,
        "output": empty_output(),
        "usage": None,
    }
    last = events[-1] if events else {}
    if last.get("type") == "error":
        fields["status"], fields["error"] = STATUS_ERROR, error_fields(last)
    done = member(last, "response") if last.get("type") == "response.done" else None
    if done:
        _read_done(done, fields)
    else:
        _read_deltas(events, fields)
    return fields


def _items(events: Any) -> list[dict[str, Any]]:
    """The items added since the last response, in order, each in its latest form."""
    items: dict[str, dict[str, Any]] = {}
    for event in events:
        if not isinstance(event, dict):
            continue
        item = event.get("item")
        if isinstance(item, dict):
            items[str(item.get("id"))] = item
        elif event.get("type") == TRANSCRIBED:
            heard = items.get(str(event.get("item_id")))
            if heard is not None and isinstance(event.get("transcript"), str):
                heard["transcript"] = event["transcript"]
    return [item for item in items.values() if _is_input(item)]


def _is_input(item: dict[str, Any]) -> bool:
    """The app's or the user's items; the model's own (its messages, its tool calls) are output."""
    kind = item.get("type")
    return kind == "function_call_output" or (kind == "message" and item.get("role") != "assistant")


def _message(item: dict[str, Any]) -> dict[str, Any]:
    """A conversation item as a record message: audio and images as stubs."""
    if item.get("type") == "function_call_output":
        return {"role": "tool", "tool_call_id": item.get("call_id"), "content": item.get("output")}
    if item.get("type") not in (None, "message"):  # e.g. an item_reference of an out-of-band input
        return {"role": item.get("role"), "content": [stub_media(item)]}
    parts = []
    for part in item.get("content") or ():
        if isinstance(part, dict) and isinstance(part.get("audio"), str):
            part = {**part, "audio": media_stub("audio", None, part["audio"])}
        if isinstance(part, dict) and isinstance(item.get("transcript"), str):
            part = {**part, "transcript": part.get("transcript") or item["transcript"]}
        parts.append(stub_media(part))
    return {"role": item.get("role"), "content": parts}


def _read_done(response: dict[str, Any], fields: dict[str, Any]) -> None:
    output = fields["output"]
    texts: list[str] = []
    for item in response.get("output") or ():
        if not isinstance(item, dict):
            continue
        if item.get("type") == "function_call":
            call = {"id": item.get("call_id"), "type": "function", "name": item.get("name")}
            output["tool_calls"].append({**call, "arguments": item.get("arguments")})
        for part in item.get("content") or ():
            text = part.get("text") or part.get("transcript") if isinstance(part, dict) else None
            if isinstance(text, str):
                texts.append(text)
    output["text"] = "".join(texts) or None
    status, details = response.get("status"), member(response, "status_details")
    output["finish_reason"] = details.get("reason") or status
    fields["response_id"] = response.get("id")
    usage = member(response, "usage")
    if usage:
        fields["usage"] = usage_record(
            input_tokens=usage.get("input_tokens"),
            output_tokens=usage.get("output_tokens"),
            cached_input_tokens=member(usage, "input_token_details").get("cached_tokens"),
            total_tokens=usage.get("total_tokens"),
            raw=usage,
        )
    if status == "cancelled":
        fields["status"] = STATUS_CANCELLED
    elif status == "failed":
        fields["status"] = STATUS_ERROR
        fields["error"] = error_fields({"error": member(details, "error")})


def _read_deltas(events: list[dict[str, Any]], fields: dict[str, Any]) -> None:
    """A response that never got its ``response.done``: the text that arrived."""
    texts = [e["delta"] for e in events if e.get("type") in _TEXT_DELTAS and "delta" in e]
    fields["output"]["text"] = "".join(t for t in texts if isinstance(t, str)) or None
    for event in events:
        if event.get("type") == "response.created":
            fields["response_id"] = member(event, "response").get("id")
