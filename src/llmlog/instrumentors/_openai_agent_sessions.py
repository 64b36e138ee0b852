"""OpenAI managed-agent sessions (``client.beta.agents.sessions``): each turn is a record.

The agent runs on OpenAI's servers. The app gives it input (``sessions.create(input=)``,
``sessions.events.create``) and the server runs a *turn*: the agent's model calls and
tool use until it answers, billed as one, its token usage reported when the turn ends
(``agent.session.turn.completed`` / ``.failed`` / ``.cancelled``, ``Turn.usage``). No
call the app makes returns that usage, so the turn is recorded when this process first
sees it end, however the app looks: a session created with ``stream=True``,
``events.stream()`` (also inside the SDK's ``sessions.stream()`` helper), or a polled
``turns.retrieve`` / ``turns.list`` (subagents' too). A turn id is recorded once, read
however many times. The input a root turn answers is what the app sent since the
previous one began (function results sent while the turn waits for them are its
input too); the agent's model and instructions come from the session as this process
created, retrieved or updated it. A turn seen begin whose end never is, is
``cancelled`` at exit or ``uninstrument()``; one never seen at all makes no record.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict, deque
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final

from llmlog import _ending, _guard
from llmlog._record import STATUS_CANCELLED, STATUS_ERROR, Capture
from llmlog.instrumentors import _base
from llmlog.instrumentors._base import finish
from llmlog.instrumentors._observed import RecordedOnce, finish_by_server_clock, observed_capture
from llmlog.instrumentors._openai_agent_records import extract, input_messages, tool_result_message
from llmlog.instrumentors._openai_response import field

OPERATION: Final = "agents.sessions.turns"
_PROVIDER: Final = "openai"
_ENDED: Final = {
    "agent.session.turn.completed": None,
    "agent.session.turn.failed": STATUS_ERROR,
    "agent.session.turn.cancelled": STATUS_CANCELLED,
}
_TURN_STATUS: Final = {"completed": None, "failed": STATUS_ERROR, "cancelled": STATUS_CANCELLED}
_MAX_SESSIONS: Final = 1_024  # sessions followed at once (the least recently seen goes)
_MAX_SEEN: Final = 5_000  # event ids remembered per session
_MAX_KEPT: Final = 1_000  # input messages, items and deltas kept per turn


class _Session:
    __slots__ = ("agent", "open", "pending", "seen", "seen_order")

    def __init__(self) -> None:
        self.agent: Any = None  # the agent's configuration, as last known
        self.pending: list[Any] = []  # input sent since the last root turn began
        self.open: dict[str, Capture] = {}  # turns begun, not ended, by id
        self.seen: set[str] = set()
        self.seen_order: deque[str] = deque()

    def used(self, event_id: Any) -> bool:
        """Remember an event; False if it was seen already."""
        if not isinstance(event_id, str):
            return True
        if event_id in self.seen:
            return False
        self.seen.add(event_id)
        self.seen_order.append(event_id)
        if len(self.seen_order) > _MAX_SEEN:
            self.seen.discard(self.seen_order.popleft())
        return True


_lock = threading.Lock()
_sessions: OrderedDict[str, _Session] = OrderedDict()
_recorded = RecordedOnce(100_000)
"""Turn ids already recorded: seen again (a listing after the stream), they are not."""


def _session(session_id: str) -> tuple[_Session, list[Capture]]:
    """The session's state (lock held), and turns of a session evicted to make room."""
    session = _sessions.get(session_id)
    if session is not None:
        _sessions.move_to_end(session_id)
        return session, []
    session = _sessions[session_id] = _Session()
    evicted: list[Capture] = []
    while len(_sessions) > _MAX_SESSIONS:
        evicted += _take_open(_sessions.popitem(last=False)[1])
    return session, evicted


def _take_open(session: _Session) -> list[Capture]:
    caps = [cap for turn_id, cap in session.open.items() if _recorded.first(turn_id)]
    session.open.clear()
    return caps


def _begin(session: _Session, session_id: str, turn: Any, method: str) -> Capture:
    """A capture for a turn; a root turn takes the input sent since the previous one."""
    cap = observed_capture(
        _PROVIDER,
        method,
        OPERATION,
        extract,
        extra={
            "session": session_id,
            "turn_id": field(turn, "id"),
            "agent": session.agent,
            "items": [],
            "deltas": [],
        },
    )
    if field(turn, "subagent_id") is None:  # a subagent's input comes from its parent
        cap.extra["input"] = session.pending or None
        session.pending = []
    return cap


def _seconds(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else None


def _end(cap: Capture, turn: Any, status: str | None) -> None:
    """Submit a turn's record, timed by the server's clock (its creation to its end)."""
    with _guard.guarded("openai agent session turn"):
        if turn is None:
            finish(cap, status=status)
            return
        cap.extra["turn"] = turn
        started = _seconds(field(turn, "started_at")) or _seconds(field(turn, "created_at"))
        finish_by_server_clock(cap, started, _seconds(field(turn, "completed_at")), status)


def observe(events: Iterable[Any], method: str, initial: list[Any] | None = None) -> None:
    """Follow a session's events as the app reads them (caller's thread; never raises).
    ``initial``: ``[(agent, input)]`` of the ``sessions.create`` whose stream this is,
    taken (emptied) by its session's first event."""
    with _guard.guarded("openai agent session events"):
        ended: list[tuple[Capture, Any, str | None]] = []
        evicted: list[Capture] = []
        with _lock:
            for event in events:
                session_id = field(event, "session_id") or field(field(event, "session"), "id")
                if not isinstance(session_id, str):
                    continue
                session, gone = _session(session_id)
                evicted += gone
                if initial:  # the create's own session: its agent and input
                    session.agent, session.pending = initial.pop()
                if session.used(field(event, "event_id")):
                    _read(session, session_id, event, method, ended)
        for cap in evicted:
            _end(cap, None, STATUS_CANCELLED)
        for cap, turn, status in ended:
            _end(cap, turn, status)


def _read(
    session: _Session,
    session_id: str,
    event: Any,
    method: str,
    ended: list[tuple[Capture, Any, str | None]],
) -> None:
    kind = field(event, "type")
    turn_id = field(event, "turn_id")
    if kind == "agent.session.created":
        session.agent = field(field(event, "session"), "agent") or session.agent
    elif kind == "agent.session.turn.created":
        if isinstance(turn_id, str) and turn_id not in _recorded and turn_id not in session.open:
            session.open[turn_id] = _begin(session, session_id, field(event, "turn"), method)
    elif kind in _ENDED:
        turn = field(event, "turn")
        cap = session.open.pop(turn_id, None) if isinstance(turn_id, str) else None
        if isinstance(turn_id, str) and _recorded.first(turn_id):
            cap = cap or _begin(session, session_id, turn, method)
            cap.extra["usage"] = field(event, "usage")
            ended.append((cap, turn, _ENDED[kind]))
    elif (cap := session.open.get(turn_id)) is not None:
        if kind == "agent.session.turn.item.done" and len(cap.extra["items"]) < _MAX_KEPT:
            cap.extra["items"].append(field(event, "item"))
        elif kind == "agent.session.turn.output_text.delta":
            delta = field(event, "delta")
            if isinstance(delta, str) and len(cap.extra["deltas"]) < _MAX_KEPT:
                cap.extra["deltas"].append(delta)


def observe_turns(turns: Iterable[Any], method: str) -> None:
    """Turns the app fetched: one that has ended is recorded, if it was not already."""
    with _guard.guarded("openai agent session turns"):
        ended: list[tuple[Capture, Any, str | None]] = []
        with _lock:
            for turn in turns:
                turn_id, session_id = field(turn, "id"), field(turn, "session_id")
                status = field(turn, "status")
                if not (isinstance(turn_id, str) and isinstance(session_id, str)):
                    continue
                if status not in _TURN_STATUS or not _recorded.first(turn_id):
                    continue
                session, _ = _session(session_id)
                cap = session.open.pop(turn_id, None) or _begin(session, session_id, turn, method)
                ended.append((cap, turn, _TURN_STATUS[status]))
        for cap, turn, ending in ended:
            _end(cap, turn, ending)


def learn(session: Any, pending: list[Any] | None = None) -> None:
    """Note a session's agent (and the input it was created with)."""
    session_id, agent = field(session, "id"), field(session, "agent")
    if not isinstance(session_id, str) or agent is None:
        return
    with _lock:
        state, evicted = _session(session_id)
        state.agent = agent
        if pending:
            state.pending = pending
    for cap in evicted:
        _end(cap, None, STATUS_CANCELLED)


def sent(session_id: Any, events: Any) -> None:
    """Input the app sent: messages start the next turn; a function result belongs to the
    turn that waits for it (else the next)."""
    if not isinstance(session_id, str) or not isinstance(events, list):
        return
    with _lock:
        session, evicted = _session(session_id)
        for event in events:
            kind = field(event, "type")
            if kind == "agent.session.input.message":
                session.pending += input_messages(field(event, "input")) or []
            elif kind == "agent.session.input.tool_result" and isinstance(event, dict):
                cap = session.open.get(field(event, "turn_id"))
                kept = session.pending
                if cap is not None:  # the turn waiting for it
                    kept = cap.extra["input"] = cap.extra.get("input") or []
                if len(kept) < _MAX_KEPT:
                    kept.append(tool_result_message(event))
    for cap in evicted:
        _end(cap, None, STATUS_CANCELLED)


def deleted(session_id: Any) -> None:
    """A deleted session's open turns will never end: cancelled."""
    if isinstance(session_id, str):
        _cancel_open([session_id])


def end_all(*, forget: bool = False) -> None:
    """At exit, and at ``uninstrument()`` (``forget``: no session is followed any more):
    turns seen begin and not end are cancelled."""
    _cancel_open(None, forget)


def _cancel_open(session_ids: list[str] | None, forget: bool = False) -> None:
    """Record the open turns of these sessions (None: all) as cancelled; a session named
    is forgotten (it is gone)."""
    with _lock:
        chosen = list(_sessions) if session_ids is None else session_ids
        caps = [cap for i in chosen if i in _sessions for cap in _take_open(_sessions[i])]
        for session_id in chosen if forget or session_ids is not None else ():
            _sessions.pop(session_id, None)
    for cap in caps:
        _end(cap, None, STATUS_CANCELLED)


def _after_fork_in_child() -> None:
    """The parent's turns are the parent's to record (and its lock may be held)."""
    global _lock, _sessions
    _lock, _sessions = threading.Lock(), OrderedDict()


_ending.before_exit.append(end_all)
os.register_at_fork(after_in_child=_after_fork_in_child)
_base.after_uninstall.append(partial(end_all, forget=True))
