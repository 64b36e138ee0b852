"""The calls a Live session delegates, each a record of its own (``_openai_live`` feeds
them): Responses responses and Decisions evaluations, billed apart in tokens.

- **a delegated Responses response** (``operation: responses``): the nested
  ``response.event`` stream, per delegation, one record per response; model and
  settings from the session's Responses delegation, input the items the app added
  (``response.item.create``) for the request that took them; output assembled from
  the deltas (the server clears it from the lifecycle snapshots), usage from the end.
- **a Decisions evaluation** (``operation: decisions``): ``decision.event``, with the
  questions of the delegation or of the trigger that fired it.

Each is timed from its ``session.delegation.created`` or from the app's request (the
one a response's ``client_event_id`` names, else the oldest: a continued
delegation); a request an error names is forgotten. A triggered evaluation started
with a transcript delta not followed here: its latency is unknown.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Final

from llmlog._record import STATUS_CANCELLED, STATUS_ERROR, STATUS_OK, Capture
from llmlog.instrumentors._in_flight import finish
from llmlog.instrumentors._openai_session_call import settings_of
from llmlog.instrumentors._openai_websocket import (
    add_message,
    decode,
    decoded_events,
    kept,
    member,
    raw_string,
    string_field,
    string_in,
)

RECEIVED: Final = frozenset({"response.event", "decision.event", "session.delegation.created"})
_APP_RESPONSE: Final = "response.create"
_APP_DECISION: Final = "decision.create"
SENT: Final = frozenset({"response.item.create", _APP_RESPONSE, _APP_DECISION})
_NESTED_END: Final = frozenset(
    {"response.completed", "response.incomplete", "response.failed", "error"}
)
_MAX_IN_FLIGHT: Final = 100  # delegated responses followed, starts and items remembered
_DELEGATION_ID: Final = string_field("delegation_id")
_EVENT_ID: Final = string_field("event_id")
_NESTED = r'"event"\s*:\s*\{\s*"type"\s*:\s*"([^"\\]*)"'  # OpenAI writes ``type`` first
_NESTED_TYPE: Final = (re.compile(_NESTED), re.compile(_NESTED.encode()))


def _nested(data: Any, decoded: Any) -> tuple[str | None, str | None]:
    """(the delegation id, the nested event's type) of a ``response.event``."""
    if decoded is None and isinstance(data, str | bytes | bytearray):
        kind = raw_string(data, _NESTED_TYPE, len(data))
        if kind is not None:
            return string_in(data, None, _DELEGATION_ID, "delegation_id"), kind
    event = decoded if decoded is not None else decode(data)
    kind = member(event, "event").get("type")
    delegation = string_in(data, event, _DELEGATION_ID, "delegation_id")
    return delegation, kind if isinstance(kind, str) else None


def _client_event_id(event: Any) -> str | None:
    named = event.get("client_event_id") if isinstance(event, dict) else None
    return named if isinstance(named, str) else None


class _Asked:
    """A request the app sent (``response.create``, ``decision.create``): when, its
    ``event_id`` (an error naming it refuses it), the items it answers."""

    __slots__ = ("event_id", "items", "start")

    def __init__(self, event_id: str | None, items: list[Any]) -> None:
        self.start = (time.time_ns(), time.perf_counter())
        self.event_id, self.items = event_id, items


class Delegations:
    """The delegated calls of one Live session; ``new_capture`` makes a capture of the
    session's provider and method."""

    def __init__(self, new_capture: Callable[[], Capture]) -> None:
        self._new_capture = new_capture
        self._lock = threading.Lock()
        self._over = False  # the session ended: no delegated call begins from here on
        self._responses: dict[str | None, Capture] = {}  # in flight, by delegation
        self._delegations: dict[str, tuple[int, float]] = {}  # when each one was created
        self._asked: dict[str, deque[_Asked]] = {_APP_RESPONSE: deque(), _APP_DECISION: deque()}
        self._items: list[Any] = []  # response.item.create events no request took yet

    def sent(self, kind: str, data: Any, decoded: Any) -> None:
        """One of the app's events in :data:`SENT`."""
        with self._lock:
            if kind == "response.item.create":
                if len(self._items) < _MAX_IN_FLIGHT:
                    self._items.append(kept(data, decoded))
                return
            asked = self._asked[kind]
            if len(asked) >= _MAX_IN_FLIGHT:
                asked.popleft()
            items: list[Any] = []
            if kind == _APP_RESPONSE:
                items, self._items = self._items, []
            asked.append(_Asked(string_in(data, decoded, _EVENT_ID, "event_id"), items))

    def received(self, kind: str, data: Any, decoded: Any, settings: Any) -> None:
        """One of the server's events in :data:`RECEIVED`; ``settings``: the session's
        latest settings message (the delegations' configuration is in it)."""
        if kind == "response.event":
            self._response_event(data, decoded, settings)
        elif kind == "decision.event":
            self._decided(decoded if decoded is not None else decode(data), settings)
        else:
            self._delegated(decoded if decoded is not None else decode(data))

    def refused(self, event: Any) -> bool:
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

    def end(self, error: BaseException | None, *, over: bool) -> None:
        """The responses in flight end (cancelled; with ``error``: errors) and what was
        remembered is forgotten; ``over``: none begins any more."""
        with self._lock:
            self._over = self._over or over
            responses = list(self._responses.values())
            self._responses.clear()
            self._delegations.clear()
            for asked in self._asked.values():
                asked.clear()
            self._items = []
        for response in responses:
            finish(response, error=error, status=None if error is not None else STATUS_CANCELLED)

    def _delegated(self, event: Any) -> None:
        """``session.delegation.created``: a delegated call starts (unless the app does
        the work)."""
        delegation = member(event, "delegation")
        if delegation.get("target") in ("responses", "decisions"):
            with self._lock:
                if len(self._delegations) >= _MAX_IN_FLIGHT:
                    del self._delegations[next(iter(self._delegations))]
                self._delegations[str(delegation.get("id"))] = (time.time_ns(), time.perf_counter())

    def _child(
        self,
        operation: str,
        settings: Any,
        delegation: str | None,
        kind: str | None,
        named: str | None = None,
    ) -> Capture:
        """A delegated call's capture, started when its delegation was created or the app
        asked for it (the request ``named``, else the oldest: a continued delegation);
        holds the lock."""
        cap = self._new_capture()
        cap.operation, cap.extract = operation, _EXTRACTORS[operation]
        cap.extra["ws_settings"] = settings
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

    def _response_event(self, data: Any, decoded: Any, settings: Any) -> None:
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
                    "responses", settings, delegation, _APP_RESPONSE, named
                )
            if nested == "response.created":
                cap.extra["ws_created"] = True
            add_message(cap, nested or "", data)
            if nested in _NESTED_END:
                del self._responses[delegation]
                ended.append((cap, STATUS_ERROR if nested == "error" else STATUS_OK))
        for done, status in ended:
            finish(done, status=status)

    def _decided(self, event: Any, settings: Any) -> None:
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
            cap = self._child("decisions", settings, delegation, asked)
        cap.chunks = [event]
        if triggered:  # it started with a transcript delta, not followed here
            cap.extra["ws_latency_unknown"] = True
        finish(cap)


# Writer thread -------------------------------------------------------------------------


def extract_response(cap: Capture) -> dict[str, Any]:
    """Record fields of a delegated Responses response: its nested events as a stream."""
    _, session = settings_of(cap)
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
    _, session = settings_of(cap)
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
    from llmlog.instrumentors._openai_other_replies import read_decision

    fields = openai.request_fields(
        "decisions", {"model": config.get("model"), "questions": config.get("questions")}
    )
    fields.update(read_decision(decision))
    fields["model"] = fields["model"] or fields["response_model"]
    if cap.extra.get("ws_latency_unknown"):
        fields["latency_ms"] = None
    return fields


_EXTRACTORS: Final = {"responses": extract_response, "decisions": extract_decision}
