"""Live sessions (``live.connect()``, ``live.forks.connect()``, ``live.sideband.connect()``).

A Live session is one continuous voice conversation with a Live model, billed by
the second of session audio; the model may hand tasks to a Responses model and
ask Decisions questions, billed apart in tokens. Each of those is its own record:

- **the session** (``operation: live``): model and settings as the server reports
  them (``session.started`` / ``.updated`` / ``.closed``; before that, the app's
  ``session.start``), instructions as system, the initial ``input`` items and then,
  in order, what the user said (transcript turns) and what the app appended
  (instructions, thinking, commentary) as messages, what the model said as output
  (one line per turn), usage the session's audio seconds (the server's cumulative
  count: the last one wins), finish reason why the server closed it. It ends at
  ``session.closed``, at the app's ``close()`` (ok: closing is how a session ends;
  a sideband stops watching), when the connection is lost (error; a session the app
  starts again after the SDK reconnects is a new record), or when the connection is
  collected or the process exits (cancelled).
- **each delegated Responses response** (``operation: responses``): the nested
  ``response.event`` stream, per delegation, one record per response; model and
  settings from the session's Responses delegation, input the items the app added
  (``response.item.create``) since the previous one; output assembled from the
  deltas (the server clears it from the lifecycle snapshots), usage from the end.
- **each Decisions evaluation** (``operation: decisions``): ``decision.event``, with
  the questions of the delegation or of the trigger that fired it.

Audio is never kept. On the app's thread only event types are read (raw deltas are
kept undecoded); the writer decodes them.
"""

from __future__ import annotations

import re
import time
from collections import deque
from typing import Any, Final

from llmlog._record import (
    STATUS_CANCELLED,
    STATUS_ERROR,
    STATUS_OK,
    Capture,
    empty_output,
    usage_record,
)
from llmlog.instrumentors._base import finish, snapshot
from llmlog.instrumentors._openai_request import plain, responses_prompt, stub_data_urls
from llmlog.instrumentors._openai_session_call import (
    INPUT,
    OUTPUT,
    SessionCall,
    call_error,
    keep,
)
from llmlog.instrumentors._openai_websocket import (
    add_message,
    decode,
    decoded_events,
    event_type,
    member,
    raw_string,
    string_field,
)

_APPENDED: Final = {  # the app's additions to the conversation, by the part type they become
    "session.instructions.append": "instructions",
    "session.thinking.append": "thinking",
    "session.commentary.append": "commentary",
}
_NESTED_END: Final = frozenset(
    {"response.completed", "response.incomplete", "response.failed", "error"}
)
_DELEGATION_EVENTS: Final = frozenset(
    {"response.event", "decision.event", "session.delegation.created"}
)
_APP_RESPONSE: Final = "response.create"
_APP_DECISION: Final = "decision.create"
_MAX_IN_FLIGHT: Final = 100  # delegated responses followed, starts and items remembered
_NOT_PARAMS: Final = frozenset(
    {"model", "id", "object", "type", "expires_at", "status", "instructions", "input"}
)
_DELEGATION_ID: Final = string_field("delegation_id")
_EVENT_ID: Final = string_field("event_id")
_NESTED = r'"event"\s*:\s*\{\s*"type"\s*:\s*"([^"\\]*)"'  # OpenAI writes ``type`` first
_NESTED_TYPE: Final = (re.compile(_NESTED), re.compile(_NESTED.encode()))


def _kept(data: Any, decoded: Any) -> Any:
    """An event the app sent, as kept until the writer reads it: a copy of a dict (the
    app may change it), raw text as it is, an event object as its dict."""
    if isinstance(data, dict):
        return snapshot(data)
    if isinstance(data, str | bytes | bytearray):
        return data
    return decoded if decoded is not None else decode(data)


def _nested(data: Any, decoded: Any) -> tuple[str | None, str | None]:
    """(the delegation id, the nested event's type) of a ``response.event``."""
    if decoded is None and isinstance(data, str | bytes | bytearray):
        kind = raw_string(data, _NESTED_TYPE, len(data))
        if kind is not None:
            return raw_string(data, _DELEGATION_ID, len(data)), kind
    event = decoded if decoded is not None else decode(data)
    delegation = event.get("delegation_id") if isinstance(event, dict) else None
    kind = member(event, "event").get("type")
    return (
        delegation if isinstance(delegation, str) else None,
        kind if isinstance(kind, str) else None,
    )


def _client_event_id(event: Any) -> str | None:
    named = event.get("client_event_id") if isinstance(event, dict) else None
    return named if isinstance(named, str) else None


def _event_id(data: Any, decoded: Any) -> str | None:
    if isinstance(data, str | bytes | bytearray):
        return raw_string(data, _EVENT_ID, len(data))
    event = decoded if decoded is not None else decode(data)
    found = event.get("event_id") if isinstance(event, dict) else None
    return found if isinstance(found, str) else None


class _Asked:
    """A request the app sent (``response.create``, ``decision.create``): when, its
    ``event_id`` (an error naming it refuses it), the items it answers."""

    __slots__ = ("event_id", "items", "start")

    def __init__(self, event_id: str | None, items: list[Any]) -> None:
        self.start = (time.time_ns(), time.perf_counter())
        self.event_id, self.items = event_id, items


class LiveSession(SessionCall):
    """The Live session on a connection, and the delegated calls it makes."""

    METHOD = "live.connect"
    OPERATION = "live"
    STARTS: frozenset[str] | None = frozenset({"session.started"})  # the app starts again
    KEEPS_CALLS: bool = False  # whether delegated calls outlive a lost connection

    def __init__(self) -> None:
        super().__init__()
        self._settings: Any = None  # the latest session settings message
        self._running = False  # the server started the session: errors naming commands
        self._responses: dict[str | None, Capture] = {}  # delegated, in flight, by delegation
        self._delegations: dict[str, tuple[int, float]] = {}  # when each one was created
        self._asked: dict[str, deque[_Asked]] = {_APP_RESPONSE: deque(), _APP_DECISION: deque()}
        self._items: list[Any] = []  # response.item.create events no request took yet

    @staticmethod
    def extract(cap: Capture) -> dict[str, Any]:
        return extract(cap)

    # the app's events -------------------------------------------------------------------

    def sent(self, data: Any) -> Capture | None:
        kind, decoded = event_type(data)
        if kind == "session.start" and not self._running:  # else the server refuses it
            self._settings = _kept(data, decoded)
        elif kind in _APPENDED:
            cap = self._call
            if cap is not None:
                keep(cap, kind, _kept(data, decoded))
        elif kind == "response.item.create":
            with self._lock:
                if len(self._items) < _MAX_IN_FLIGHT:
                    self._items.append(_kept(data, decoded))
        elif kind in (_APP_RESPONSE, _APP_DECISION):
            event_id = _event_id(data, decoded)
            with self._lock:
                asked = self._asked[kind]
                if len(asked) >= _MAX_IN_FLIGHT:
                    asked.popleft()
                items = self._items if kind == _APP_RESPONSE else []
                if kind == _APP_RESPONSE:
                    self._items = []
                asked.append(_Asked(event_id, items))
        return None  # none of them is a call of its own: the server's events say which are

    # the server's events ----------------------------------------------------------------

    def received(self, data: Any) -> None:
        kind, decoded = event_type(data)
        if kind in _DELEGATION_EVENTS:
            cap = self._call
            if cap is not None:
                cap.extra.pop("ws_error", None)  # the session went on after it
            if kind == "response.event":
                self._delegated_event(data, decoded)
            elif kind == "decision.event":
                self._decided(decoded if decoded is not None else decode(data))
            else:
                self._delegated(data, decoded)
            return
        if kind == "error":
            named = self._refused(decoded if decoded is not None else decode(data))
            if named and self._running:
                return  # a refused command, not the session failing
        cap = self._current(kind)
        if cap is None or self._read(cap, kind, data):
            return
        if kind == "session.usage.updated":
            cap.extra["ws_usage"] = data
        elif kind == "session.started":
            self._settings, self._running = data, True
        elif kind == "session.updated":
            self._settings = data
        elif kind == "session.closed":
            self._settings = data  # the final settings, usage and why it closed
            self._end(STATUS_OK, over=True)

    def _delegated(self, data: Any, decoded: Any) -> None:
        """``session.delegation.created``: a delegated call starts (unless the app does
        the work)."""
        event = decoded if decoded is not None else decode(data)
        delegation = member(event, "delegation")
        if delegation.get("target") in ("responses", "decisions"):
            with self._lock:
                if len(self._delegations) >= _MAX_IN_FLIGHT:
                    del self._delegations[next(iter(self._delegations))]
                self._delegations[str(delegation.get("id"))] = (time.time_ns(), time.perf_counter())

    def _refused(self, event: Any) -> bool:
        """An error naming a command the app sent (True); a request among them will have
        no answer."""
        named = _client_event_id(event) or _client_event_id(member(event, "error"))
        if named is None:
            return False
        with self._lock:
            for asked in self._asked.values():
                for request in asked:
                    if request.event_id == named:
                        asked.remove(request)
                        return True
        return True

    def _child(
        self, operation: str, delegation: str | None, kind: str | None, named: str | None = None
    ) -> Capture:
        """A delegated call's capture, started when its delegation was created or the app
        asked for it (the request ``named``, else the oldest: a continued delegation);
        holds the lock."""
        cap = self._capture(None)
        cap.operation, cap.extract = operation, _EXTRACTORS[operation]
        cap.extra["ws_settings"] = self._settings
        start = self._delegations.pop(delegation, None) if delegation is not None else None
        asked = self._asked[kind] if start is None and kind is not None else None
        if asked:
            request = next((r for r in asked if named and r.event_id == named), asked[0])
            asked.remove(request)
            start = request.start
            if request.items:
                cap.extra["ws_items"] = request.items
        if start is not None:
            cap.start_ns, cap.start_perf = start
        return cap

    def _delegated_event(self, data: Any, decoded: Any) -> None:
        """A nested Responses event: a response starts, goes on, or ends."""
        delegation, nested = _nested(data, decoded)
        ended: list[tuple[Capture, str]] = []
        with self._lock:
            if self._over:
                return
            cap = self._responses.get(delegation)
            if cap is None or (nested == "response.created" and "ws_created" in cap.extra):
                if cap is not None:  # never ended: the server moved on
                    ended.append((cap, STATUS_CANCELLED))
                elif len(self._responses) >= _MAX_IN_FLIGHT:
                    oldest = self._responses.pop(next(iter(self._responses)))
                    ended.append((oldest, STATUS_CANCELLED))
                named = _client_event_id(decoded if decoded is not None else decode(data))
                cap = self._responses[delegation] = self._child(
                    "responses", delegation, _APP_RESPONSE, named
                )
            if nested == "response.created":
                cap.extra["ws_created"] = True
            add_message(cap, nested or "", data)
            if nested in _NESTED_END:
                del self._responses[delegation]
                ended.append((cap, STATUS_ERROR if nested == "error" else STATUS_OK))
        for done, status in ended:
            finish(done, status=status)

    def _decided(self, event: Any) -> None:
        """``decision.event``: a Decisions evaluation, whole in one event."""
        if not isinstance(event, dict):
            return
        delegation = event.get("delegation_id")
        triggered = event.get("trigger_id") is not None
        with self._lock:
            if self._over:
                return
            delegation = delegation if isinstance(delegation, str) else None
            asked = None if triggered else _APP_DECISION  # else the app's decision.create
            cap = self._child("decisions", delegation, asked)
        cap.chunks = [event]
        if triggered:  # it started with a transcript delta, not followed here
            cap.extra["ws_latency_unknown"] = True
        finish(cap)

    def _ending(self, cap: Capture) -> None:
        cap.extra["ws_settings"] = self._settings

    def _end(
        self, status: str | None, error: BaseException | None = None, *, over: bool = False
    ) -> None:
        """The session ends, and with it the delegated responses in flight (cancelled;
        on a lost connection: errors)."""
        with self._lock:
            self._over = self._over or over  # no delegated call begins from here on
            responses: list[Capture] = []
            if self._over or not self.KEEPS_CALLS:
                self._running = False  # a session the app starts again starts anew
                responses = list(self._responses.values())
                self._responses.clear()
                self._delegations.clear()
                for asked in self._asked.values():
                    asked.clear()
                self._items = []
        super()._end(status, error, over=over)
        for response in responses:
            finish(response, error=error, status=None if error is not None else STATUS_CANCELLED)


class LiveForkSession(LiveSession):
    """A session forked from a stored one: a new session of its own."""

    METHOD = "live.forks.connect"


_counted: dict[str, float] = {}
"""Audio seconds of each watched session that a sideband record of this process has
already reported: the next record on that session reports only what came after."""
_MAX_WATCHED: Final = 1000


class LiveSidebandSession(LiveSession):
    """A session the app watches (and steers) beside its WebRTC or SIP primary: its id
    is the one the app attached to. The session outlives the connection: after a
    reconnect, the next event begins the next record, delegated calls go on, and the
    audio seconds reported are those no earlier record reported."""

    METHOD = "live.sideband.connect"
    STARTS = None
    KEEPS_CALLS = True

    def __init__(self) -> None:
        super().__init__()
        self._session_id: Any = None
        self._running = True  # attached to a running session

    def opened(self, manager: Any) -> None:
        super().opened(manager)
        for cls in type(manager).__mro__:  # the manager's name-mangled attribute
            self._session_id = self._session_id or getattr(
                manager, f"_{cls.__name__}__session_id", None
            )

    def _ending(self, cap: Capture) -> None:
        super()._ending(cap)
        session_id = cap.extra["ws_session_id"] = self._session_id
        if not isinstance(session_id, str):
            return
        total = _seconds(self._settings)  # session.closed has the final count
        total = _seconds(cap.extra.get("ws_usage")) if total is None else total
        counted = _counted.get(session_id)
        if counted is not None:
            cap.extra["ws_counted"] = counted
        if total is not None:
            if session_id not in _counted and len(_counted) >= _MAX_WATCHED:
                del _counted[next(iter(_counted))]
            _counted[session_id] = max(total, counted or 0.0)


# Writer thread -------------------------------------------------------------------------


def _settings(cap: Capture) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the settings message, the session settings in it)."""
    message = decode(cap.extra.get("ws_settings"))
    message = message if isinstance(message, dict) else {}
    return message, member(message, "session")


def _conversation(events: list[dict[str, Any]]) -> tuple[list[Any], list[str]]:
    """(what the user said and the app appended, as messages in order; what the model
    said, one string per turn)."""
    messages: list[Any] = []
    said: list[list[str]] = []  # the model's turns
    heard: list[list[str]] = []  # the user's turns (a user message holds its index)
    last = None
    for event in events:
        kind = event.get("type")
        text = event.get("delta") if kind in (INPUT, OUTPUT) else event.get("content")
        if not isinstance(text, str):
            continue
        if kind == OUTPUT:
            if last != OUTPUT:
                said.append([])
            said[-1].append(text)
        elif kind == INPUT:
            if last != INPUT:
                heard.append([])
                part = {"type": "input_audio", "transcript": len(heard) - 1}
                messages.append({"role": "user", "content": [part]})
            heard[-1].append(text)
        elif kind in _APPENDED:
            part = {"type": _APPENDED[kind], "text": text}
            messages.append({"role": "developer", "content": [part]})
        else:
            continue
        last = kind
    for message in messages:
        part = message["content"][0]
        if part["type"] == "input_audio":
            part["transcript"] = "".join(heard[part["transcript"]])
    return messages, ["".join(turn) for turn in said]


def extract(cap: Capture) -> dict[str, Any]:
    """Record fields of one Live session."""
    message, session = _settings(cap)
    events = decoded_events(cap)
    system, initial = responses_prompt(
        {"instructions": session.get("instructions"), "input": session.get("input")}
    )
    messages, said = _conversation(events)
    closed = message if message.get("type") == "session.closed" else {}
    seconds = _seconds(closed or cap.extra.get("ws_usage"))
    counted = cap.extra.get("ws_counted")  # by an earlier sideband record
    if seconds is not None and isinstance(counted, float):
        seconds = max(seconds - counted, 0)
    model = session.get("model")
    output = empty_output()
    output["text"] = "\n".join(said) or None
    reason = closed.get("reason")
    output["finish_reason"] = reason if isinstance(reason, str) else None
    fields: dict[str, Any] = {
        "model": model if isinstance(model, str) else None,
        "response_model": model if isinstance(model, str) else None,
        "response_id": session.get("id") or cap.extra.get("ws_session_id"),
        "system": system,
        "messages": (initial or []) + messages,
        "params": {
            k: stub_data_urls(plain(v))
            for k, v in session.items()
            if k not in _NOT_PARAMS and v is not None
        },
        "output": output,
        "usage": None if seconds is None else usage_record(raw=_duration(seconds)),
    }
    call_error(cap, fields)
    if reason == "connection_lost":
        fields["status"] = STATUS_ERROR
        fields["error"] = {"type": reason, "message": None, "status_code": None, "body": None}
    return fields


def _seconds(message: Any) -> float | None:
    """The cumulative audio seconds of a usage (or closing) message."""
    seconds = member(decode(message), "usage").get("seconds")
    if isinstance(seconds, int | float) and not isinstance(seconds, bool):
        return float(seconds)
    return None


def _duration(seconds: float) -> dict[str, Any]:
    """Live bills by the second of session audio: usage as a duration, priced per hour."""
    return {"type": "duration", "seconds": int(seconds) if seconds.is_integer() else seconds}


def extract_response(cap: Capture) -> dict[str, Any]:
    """Record fields of a delegated Responses response: its nested events as a stream."""
    _, session = _settings(cap)
    config = member(member(session, "delegation"), "responses")
    cap.kwargs = {k: v for k, v in config.items() if v is not None}
    items = [member(decode(event), "item") for event in cap.extra.get("ws_items") or ()]
    if items:
        cap.kwargs["input"] = items
    cap.chunks = [member(event, "event") for event in decoded_events(cap)]
    from llmlog.instrumentors.openai import extract as read_capture  # imports this module

    return read_capture(cap)


def extract_decision(cap: Capture) -> dict[str, Any]:
    """Record fields of a Decisions evaluation: the questions asked, the answers."""
    _, session = _settings(cap)
    events = decoded_events(cap)
    event = events[0] if events else {}
    decision = member(member(event, "event"), "decision")
    if event.get("trigger_id") is not None:
        source = event.get("source_event_type")
        triggers = session.get("triggers")
        found = [t for t in triggers or () if isinstance(t, dict) and t.get("event_type") == source]
        config = member(found[0], "decisions") if found else {}
    else:
        config = member(member(session, "delegation"), "decisions")
    from llmlog.instrumentors import openai  # imports this module
    from llmlog.instrumentors._openai_response import read_decision

    fields = openai.request_fields(
        "decisions", {"model": config.get("model"), "questions": config.get("questions")}
    )
    fields.update(read_decision(decision))
    fields["model"] = fields["model"] or fields["response_model"]
    if cap.extra.get("ws_latency_unknown"):
        fields["latency_ms"] = None
    return fields


_EXTRACTORS: Final = {"responses": extract_response, "decisions": extract_decision}
