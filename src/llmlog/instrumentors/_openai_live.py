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
- **each delegated Responses response and each Decisions evaluation**: records of
  their own, followed by ``_openai_live_delegations``.

Audio is never kept. On the app's thread only event types are read (raw deltas are
kept undecoded); the writer decodes them.
"""

from __future__ import annotations

from typing import Any, Final

from llmlog._record import STATUS_ERROR, STATUS_OK, Capture, empty_output, usage_record
from llmlog.instrumentors._openai_live_delegations import RECEIVED, SENT, Delegations
from llmlog.instrumentors._openai_request import responses_prompt
from llmlog.instrumentors._openai_session_call import (
    INPUT,
    OUTPUT,
    SessionCall,
    call_error,
    keep,
    session_fields,
    settings_of,
)
from llmlog.instrumentors._openai_websocket import (
    decode,
    decoded_events,
    event_type,
    kept,
    member,
)

_APPENDED: Final = {  # the app's additions to the conversation, by the part type they become
    "session.instructions.append": "instructions",
    "session.thinking.append": "thinking",
    "session.commentary.append": "commentary",
}
_NOT_PARAMS: Final = frozenset(
    {"model", "id", "object", "type", "expires_at", "status", "instructions", "input"}
)


class LiveSession(SessionCall):
    """The Live session on a connection; its delegated calls are followed by
    :class:`~._openai_live_delegations.Delegations`."""

    METHOD = "live.connect"
    OPERATION = "live"
    STARTS: frozenset[str] | None = frozenset({"session.started"})  # the app starts again
    KEEPS_CALLS: bool = False  # whether delegated calls outlive a lost connection

    def __init__(self) -> None:
        super().__init__()
        self._settings: Any = None  # the latest session settings message
        self._running = False  # the server started the session: errors naming commands
        self._calls = Delegations(lambda: self._capture(None))

    @staticmethod
    def extract(cap: Capture) -> dict[str, Any]:
        return extract(cap)

    def sent(self, data: Any) -> Capture | None:
        kind, decoded = event_type(data)
        if kind == "session.start" and not self._running:  # else the server refuses it
            self._settings = kept(data, decoded)
        elif kind in _APPENDED:
            cap = self._call
            if cap is not None:
                keep(cap, kind, kept(data, decoded))
        elif kind in SENT:
            self._calls.sent(kind, data, decoded)
        return None  # none of them is a call of its own: the server's events say which are

    def received(self, data: Any) -> None:
        kind, decoded = event_type(data)
        if kind in RECEIVED:
            cap = self._call
            if cap is not None:
                cap.extra.pop("ws_error", None)  # the session went on after it
            self._calls.received(kind, data, decoded, self._settings)
            return
        if kind == "error":
            named = self._calls.refused(decoded if decoded is not None else decode(data))
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

    def _ending(self, cap: Capture) -> None:
        cap.extra["ws_settings"] = self._settings

    def _end(
        self, status: str | None, error: BaseException | None = None, *, over: bool = False
    ) -> None:
        """The session ends, and with it the delegated responses in flight (cancelled;
        on a lost connection: errors), unless they outlive the connection."""
        super()._end(status, error, over=over)
        if self._over or not self.KEEPS_CALLS:
            self._running = False  # a session the app starts again starts anew
            self._calls.end(error, over=self._over)


class LiveForkSession(LiveSession):
    """A session forked from a stored one: a new session of its own."""

    METHOD = "live.forks.connect"


_counted: dict[str, dict[str, float]] = {}
"""Seconds of each watched session (billed, active, paused: :data:`SECONDS`) that a sideband
record of this process has already reported: the next record on that session reports only
what came after."""
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
        self._counted_before: dict[str, float] | None = None  # reported by other records

    def opened(self, manager: Any) -> None:
        super().opened(manager)
        for cls in type(manager).__mro__:  # the manager's name-mangled attribute
            self._session_id = self._session_id or getattr(
                manager, f"_{cls.__name__}__session_id", None
            )
        if isinstance(self._session_id, str):
            self._counted_before = _counted.get(self._session_id)

    def _ending(self, cap: Capture) -> None:
        super()._ending(cap)
        session_id = cap.extra["ws_session_id"] = self._session_id
        if not isinstance(session_id, str):
            return
        total = _seconds(self._settings)  # session.closed has the final count
        total = total or _seconds(cap.extra.get("ws_usage"))
        # Less what records ended before this one began reported: one ended meanwhile (a
        # second sideband watching alongside) shares this one's time, which both report.
        counted = self._counted_before
        if counted is not None:
            cap.extra["ws_counted"] = counted
        if total:
            if session_id not in _counted and len(_counted) >= _MAX_WATCHED:
                del _counted[next(iter(_counted))]
            before = _counted.get(session_id) or {}
            _counted[session_id] = {
                **before,
                **{k: max(v, before.get(k, 0.0)) for k, v in total.items()},
            }
        self._counted_before = _counted.get(session_id)  # the next record's (a reconnect)


# Writer thread -------------------------------------------------------------------------


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
    message, session = settings_of(cap)
    events = decoded_events(cap)
    system, initial = responses_prompt(
        {"instructions": session.get("instructions"), "input": session.get("input")}
    )
    messages, said = _conversation(events)
    closed = message if message.get("type") == "session.closed" else {}
    seconds = _seconds(closed or cap.extra.get("ws_usage"))
    counted = cap.extra.get("ws_counted") or {}  # by an earlier sideband record
    seconds = {k: max(v - counted.get(k, 0.0), 0.0) for k, v in seconds.items()}
    output = empty_output()
    output["text"] = "\n".join(said) or None
    reason = closed.get("reason")
    output["finish_reason"] = reason if isinstance(reason, str) else None
    fields: dict[str, Any] = {
        **session_fields(session, _NOT_PARAMS),
        "system": system,
        "messages": (initial or []) + messages,
        "output": output,
        "usage": usage_record(raw=_duration(seconds)) if "seconds" in seconds else None,
    }
    fields["response_id"] = fields["response_id"] or cap.extra.get("ws_session_id")
    call_error(cap, fields)
    if reason == "connection_lost":
        fields["status"] = STATUS_ERROR
        fields["error"] = {"type": reason, "message": None, "status_code": None, "body": None}
    return fields


SECONDS: Final = ("seconds", "active_seconds", "paused_seconds")
"""A Live session's usage: the billed seconds, and (since openai 3.57) how many of them
the session was active or paused."""


def _seconds(message: Any) -> dict[str, float]:
    """The cumulative :data:`SECONDS` a usage (or closing) message gives."""
    usage = member(decode(message), "usage")
    return {
        name: float(value)
        for name in SECONDS
        if isinstance(value := usage.get(name), int | float) and not isinstance(value, bool)
    }


def _duration(seconds: dict[str, float]) -> dict[str, Any]:
    """Live bills by the second of session time: usage as a duration, priced per hour (by
    ``seconds``; active and paused seconds are its parts, kept as the SDK gives them)."""
    return {"type": "duration"} | {k: int(v) if v.is_integer() else v for k, v in seconds.items()}
