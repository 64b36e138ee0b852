"""WebSocket sessions: reading the Responses protocol (``connect()``), one record per response.

On a connection the app sends ``response.create`` events and reads server
events; every response is a model call. On the app's thread a :class:`Session`
only reads each message's ``type`` (a match on its first bytes; JSON is decoded
there only when ``type`` is not the first key, and for error and steering
events) and keeps the raw messages of the responses in flight; the writer
decodes them and reads them like a streamed ``responses.create``. Subclasses
with their own ``received`` read the Realtime protocol (``_openai_realtime``), and
sessions that are one call themselves (``_openai_session_call``: realtime
translations, Live sessions in ``_openai_live`` with the calls they delegate in
``_openai_live_delegations``); the
wrappers that feed the sessions are ``_openai_websocket_patches``.

Responses are matched to requests first in, first out per lane (``stream_id``).
One the server starts on its own to commit steering input it accepted (a
successor) gets a record whose prompt is that input. A response ends with its
terminal event (completed, incomplete, failed: the whole response is in it) or
an ``error`` event of its stream; an ``error`` without a sequence number
refuses the request just sent.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections import deque
from typing import Any, Final

from llmlog import _context, _pipeline
from llmlog._record import STATUS_CANCELLED, STATUS_ERROR, STATUS_OK, Capture
from llmlog.instrumentors._arguments import snapshot
from llmlog.instrumentors._base import _trace_ids
from llmlog.instrumentors._in_flight import finish

METHOD: Final = "responses.connect"
_CREATE: Final = "response.create"
_TERMINAL: Final = frozenset({"response.completed", "response.incomplete", "response.failed"})
_STEERING: Final = frozenset(
    {"response.steer.accepted", "response.steer.pending", "response.steer.failed"}
)
_LIFECYCLE: Final = frozenset({"response.created", "error", *_TERMINAL, *_STEERING})
_CONTENT_SUFFIXES: Final = (".delta", ".partial_image")

# OpenAI writes ``type`` first: the common case costs one match on the first bytes.
_TYPE_FIRST: Final = re.compile(r'\s*\{\s*"type"\s*:\s*"([^"\\]*)"')
_TYPE_FIRST_BYTES: Final = re.compile(rb'\s*\{\s*"type"\s*:\s*"([^"\\]*)"')


def decode(data: Any) -> Any:
    """A raw message as JSON (None if it is not), or an event object as a dict."""
    if isinstance(data, str | bytes | bytearray):
        try:
            return json.loads(data)
        except (ValueError, RecursionError):
            return None
    if isinstance(data, dict):
        return data
    dump = getattr(data, "model_dump", None)
    return dump(mode="json", exclude_unset=True, by_alias=True) if callable(dump) else None


def event_type(data: Any) -> tuple[str | None, Any]:
    """(the event's type, the decoded event if decoding was needed to find it)."""
    if isinstance(data, bytes | bytearray):
        raw = _TYPE_FIRST_BYTES.match(data)
        if raw is not None:
            return raw.group(1).decode("utf-8", "replace"), None
    elif isinstance(data, str):
        text = _TYPE_FIRST.match(data)
        if text is not None:
            return text.group(1), None
    elif not isinstance(data, dict) and isinstance(getattr(data, "type", None), str):
        return data.type, None  # an event object (e.g. parsed by an SDK helper)
    decoded = decode(data)
    kind = decoded.get("type") if isinstance(decoded, dict) else None
    return (kind if isinstance(kind, str) else None), decoded


def member(value: Any, name: str) -> dict[str, Any]:
    """The object ``value[name]`` of a decoded event (``{}`` if it is not one)."""
    found = value.get(name) if isinstance(value, dict) else None
    return found if isinstance(found, dict) else {}


def decoded_events(cap: Capture) -> list[dict[str, Any]]:
    """A capture's kept messages, decoded, the events among them (writer thread)."""
    events = (decode(message) for message in cap.chunks or ())
    return [event for event in events if isinstance(event, dict)]


def connection_closed(exc: BaseException, *, normally: bool = False) -> bool:
    """Whether ``exc`` is websockets' "connection closed" (``normally``: by a close
    frame with code 1000 or 1001), without importing websockets."""
    exceptions = sys.modules.get("websockets.exceptions")
    kind = getattr(exceptions, "ConnectionClosedOK" if normally else "ConnectionClosed", None)
    return kind is not None and isinstance(exc, kind)


def mentions(data: Any, key: str) -> bool:
    """Whether a raw message may hold ``key`` (an event object: whether it does)."""
    if isinstance(data, str):
        return f'"{key}"' in data
    if isinstance(data, bytes | bytearray):
        return f'"{key}"'.encode() in data
    decoded = decode(data)
    return isinstance(decoded, dict) and key in decoded


StringField = tuple["re.Pattern[str]", "re.Pattern[bytes]"]


def string_field(name: str) -> StringField:
    """Patterns finding ``"name": "value"`` in a raw message, as text or as bytes."""
    pattern = rf'"{name}"\s*:\s*"([^"\\]*)"'
    return re.compile(pattern), re.compile(pattern.encode())


def raw_string(data: Any, field: StringField, end: int) -> str | None:
    """The first value of ``field`` in a raw message's first ``end`` characters (None if
    it is not there, or the message is not raw)."""
    if isinstance(data, str):
        text = field[0].search(data, 0, end)
        return text.group(1) if text is not None else None
    if isinstance(data, bytes | bytearray):
        raw = field[1].search(data, 0, end)
        return raw.group(1).decode("utf-8", "replace") if raw is not None else None
    return None


_STREAM_ID: Final = string_field("stream_id")


def string_in(data: Any, decoded: Any, field: StringField, name: str) -> str | None:
    """The string ``name`` of a message (``field`` searched in a small raw message,
    else read from the decoded event)."""
    if decoded is None and isinstance(data, str | bytes | bytearray) and len(data) < 4096:
        return raw_string(data, field, len(data))
    if decoded is None:
        decoded = decode(data)
    found = decoded.get(name) if isinstance(decoded, dict) else None
    return found if isinstance(found, str) else None


def _lane_of(data: Any, decoded: Any) -> str | None:
    return string_in(data, decoded, _STREAM_ID, "stream_id")


def kept(data: Any, decoded: Any) -> Any:
    """A message the app sent, as kept until the writer reads it: a copy of a dict (the
    app may change it later), raw text as it is, an event object as its dict."""
    if isinstance(data, dict):
        return snapshot(data)
    if isinstance(data, str | bytes | bytearray):
        return data
    return decoded if decoded is not None else decode(data)


def _steering_input(inputs: Any) -> list[Any]:
    """The inputs of the steering events, as one request's ``input`` items."""
    items: list[Any] = []
    for given in inputs:
        if isinstance(given, str):
            items.append({"role": "user", "content": given})
        elif isinstance(given, list):
            items += given
    return items


def add_message(cap: Capture, kind: str, data: Any) -> None:
    """A message of a response in flight: kept for a partial output; the first content
    delta is the time to first token."""
    if cap.chunks is None:
        return
    if cap.first_chunk_perf is None and kind.endswith(_CONTENT_SUFFIXES):
        cap.first_chunk_perf = time.perf_counter()
    cap.chunks.append(data)


class Lane:
    __slots__ = ("current", "steer_pending", "steers", "waiting")

    def __init__(self) -> None:
        self.waiting: deque[Capture] = deque()  # sent, no response.created yet
        self.current: Capture | None = None
        self.steers = 0  # steering input the server accepted and has not committed yet
        self.steer_pending = False  # ... and will prepend to the app's next request

    @property
    def idle(self) -> bool:
        return self.current is None and not self.waiting and not self.steers


class Session:
    """The responses in flight on one connection (and its manager's queue), read as the
    Responses protocol; a subclass names its own method and operation and reads another
    protocol with its own ``received``."""

    METHOD: str = METHOD
    OPERATION: str = "responses"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lanes: dict[str | None, Lane] = {}
        self._laned = False  # some request named a lane: route server events by stream_id
        self._last_sent: str | None = None  # the type of the app's last event
        self._steer_inputs: deque[Any] = deque()  # inputs of response.steer events sent

    @staticmethod
    def extract(cap: Capture) -> dict[str, Any]:
        return extract(cap)

    def _capture(self, request: Any) -> Capture:
        _pipeline.prepare()  # the writer gets ready while the response runs
        return Capture(
            provider="openai",
            method=self.METHOD,
            operation=self.OPERATION,
            kwargs={},
            extract=self.extract,
            context=_context.snapshot(),
            trace_ids=_trace_ids(),
            chunks=[],
            stream=True,
            extra={"ws_request": request},
        )

    # the app's events -------------------------------------------------------------------

    def sent(self, data: Any) -> Capture | None:
        """Note an event the app is sending; a ``response.create`` is a call starting."""
        kind, decoded = event_type(data)
        self._last_sent = kind
        if kind == "response.steer":
            event = decoded if decoded is not None else decode(data)
            if isinstance(event, dict):
                self._steer_inputs.append(snapshot(event.get("input")))
            return None
        if kind != _CREATE:
            return None
        lane = _lane_of(data, decoded) if mentions(data, "stream_id") else None
        cap = self._capture(kept(data, decoded))
        with self._lock:
            self._laned = self._laned or lane is not None
            self._lanes.setdefault(lane, Lane()).waiting.append(cap)
        return cap

    def unsent(self, cap: Capture, error: BaseException, kept: bool) -> None:
        """Sending ``cap``'s request failed; unless the SDK kept it to send again after
        reconnecting, it is a call that failed (or was cancelled: it may have gone out,
        but a request left waiting would pair every later answer with the wrong one)."""
        if kept:
            cap.extra["resend"] = True
            return
        with self._lock:
            for lane_id, lane in list(self._lanes.items()):
                if cap in lane.waiting:
                    lane.waiting.remove(cap)
                    if lane.idle:
                        del self._lanes[lane_id]
                    break
            else:
                return  # already answered
        finish(cap, error=error, status=None if isinstance(error, Exception) else STATUS_CANCELLED)

    def opened(self, manager: Any) -> None:
        """The connection opened (``manager`` opened it): requests queued before start
        when the connection sends them."""
        with self._lock:
            for lane in self._lanes.values():
                for cap in lane.waiting:
                    cap.start_ns, cap.start_perf = time.time_ns(), time.perf_counter()

    # the server's events ----------------------------------------------------------------

    def received(self, data: Any) -> None:
        kind, decoded = event_type(data)
        if kind is None:
            return
        if kind not in _LIFECYCLE and not self._laned:
            # Most messages: a delta of the one response in flight. Appending needs
            # no lock (one reader per connection; a close racing it only finishes
            # the record a message early).
            lane = self._lanes.get(None)
            if lane is not None and lane.current is not None:
                add_message(lane.current, kind, data)
            return
        lane_id = _lane_of(data, decoded) if self._laned else None
        ended: list[tuple[Capture, str]] = []
        with self._lock:
            lane = self._lanes.get(lane_id)
            if lane is None:
                lane = self._lanes[lane_id] = Lane()
            if kind == "response.created":
                self._started(lane, data, ended)
            else:
                self._advance(lane, kind, data, ended)
            if lane.idle:
                del self._lanes[lane_id]
        for cap, status in ended:
            finish(cap, status=status)

    def _started(self, lane: Lane, data: Any, ended: list[tuple[Capture, str]]) -> None:
        """``response.created``: the oldest waiting request's response, unless the server
        started it on its own, to commit steering input it accepted (a successor)."""
        if lane.current is not None:  # never ended: the server moved on
            ended.append((lane.current, STATUS_CANCELLED))
        if (lane.steers and not lane.steer_pending) or not lane.waiting:
            steered = _steering_input(self._steer_inputs) if lane.steers else []
            cap = self._capture({"input": steered} if steered else None)
        else:
            cap = lane.waiting.popleft()
        if lane.steers:
            self._steer_inputs.clear()
            lane.steers, lane.steer_pending = 0, False
        cap.chunks = [data]
        lane.current = cap

    def _advance(self, lane: Lane, kind: str, data: Any, ended: list[tuple[Capture, str]]) -> None:
        cap = lane.current
        if kind == "response.steer.accepted":
            lane.steers += 1
        elif kind == "response.steer.pending":
            lane.steer_pending = True
        elif kind == "response.steer.failed":
            lane.steers = max(lane.steers - 1, 0)
        elif kind in _TERMINAL:
            if cap is not None:
                cap.chunks = [data]  # the whole response is in it; the deltas are not needed
                lane.current = None
                ended.append((cap, STATUS_OK))
        elif kind == "error":
            # An error of the response stream has a sequence number; one without
            # is the server refusing a request (the oldest one waiting).
            decoded = decode(data)
            in_stream = isinstance(decoded, dict) and decoded.get("sequence_number") is not None
            if cap is not None and in_stream:
                lane.current = None
            elif lane.waiting and not in_stream and self._last_sent == _CREATE:
                cap = lane.waiting.popleft()
            else:
                return  # about another event the app sent (a steer, a session update)
            assert cap.chunks is not None
            cap.chunks.append(data)
            ended.append((cap, STATUS_ERROR))
        elif cap is not None:
            add_message(cap, kind, data)

    def closed(self) -> None:
        """The app closed the connection: what is in flight is cancelled."""
        self.end_all(STATUS_CANCELLED)

    def end_all(self, status: str, error: BaseException | None = None) -> None:
        """Every response still waiting or in flight ends (closed, collected, exit)."""
        with self._lock:
            caps = [cap for lane in self._lanes.values() for cap in (lane.current, *lane.waiting)]
            self._lanes.clear()
        for cap in caps:
            if cap is not None:
                finish(cap, error=error, status=status)

    def lost(self, error: BaseException) -> None:
        """The connection broke: what was sent is lost (``error``); requests the SDK kept
        to send again after reconnecting stay waiting."""
        ended: list[Capture] = []
        with self._lock:
            for lane_id, lane in list(self._lanes.items()):
                if lane.current is not None:
                    ended.append(lane.current)
                    lane.current = None
                ended += [cap for cap in lane.waiting if not cap.extra.get("resend")]
                lane.waiting = deque(cap for cap in lane.waiting if cap.extra.get("resend"))
                if lane.idle:
                    del self._lanes[lane_id]
        for cap in ended:
            finish(cap, error=error)


# Writer thread -------------------------------------------------------------------------


def extract(cap: Capture) -> dict[str, Any]:
    """Record fields: the request event as ``responses.create`` kwargs, the events as a stream."""
    request = decode(cap.extra.get("ws_request"))
    kwargs = dict(request) if isinstance(request, dict) else {}
    kwargs.pop("type", None)
    cap.kwargs = kwargs
    events = [decode(message) for message in cap.chunks or ()]
    error_event = events[-1] if events and _is_error(events[-1]) else None
    cap.chunks = [event for event in events if event is not None and event is not error_event]
    from llmlog.instrumentors.openai import extract as read_capture  # imports this module

    fields = read_capture(cap)
    if error_event is not None:
        fields["status"], fields["error"] = STATUS_ERROR, error_fields(error_event)
    return fields


def error_fields(event: dict[str, Any]) -> dict[str, Any]:
    """The record's ``error`` from an ``error`` event (its details nested or not)."""
    error = event.get("error")
    error = error if isinstance(error, dict) else event
    status = event.get("status")
    return {
        "type": error.get("type") or error.get("code") or "error",
        "message": error.get("message"),
        "status_code": status if isinstance(status, int) else None,
        "body": error,
    }


def _is_error(event: Any) -> bool:
    return isinstance(event, dict) and event.get("type") == "error"
