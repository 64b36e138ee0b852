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
input too; input is noted before it is sent, so a turn the server starts at once takes
it); turns seen only ending (a poll) take one send each by creation order, or none when
that cannot be known. The agent's model and instructions come from the session as this
process created, retrieved or updated it, or as its events show it; a subagent's turn has
the model its ``create_subagent_call`` asked for when that call is known to be its own.
A turn seen begin whose end never is, is ``cancelled`` at exit, at ``uninstrument()`` or
when its session is deleted (a session forgotten to make room keeps its open turns, up
to a bound); one never seen at all makes no record.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final

from llmlog import _ending, _guard
from llmlog._record import STATUS_CANCELLED, STATUS_ERROR, Capture
from llmlog.instrumentors import _anthropic_followed as followed
from llmlog.instrumentors import _base
from llmlog.instrumentors._in_flight import finish
from llmlog.instrumentors._observed import RecordedOnce, finish_by_server_clock, observed_capture
from llmlog.instrumentors._openai_agent_records import extract, input_messages, tool_result_message
from llmlog.instrumentors._openai_agent_subagents import Subagents
from llmlog.instrumentors._sdk_field import field

OPERATION: Final = "agents.sessions.turns"
_PROVIDER: Final = "openai"
_ENDED: Final = {
    "agent.session.turn.completed": None,
    "agent.session.turn.failed": STATUS_ERROR,
    "agent.session.turn.cancelled": STATUS_CANCELLED,
}
_TURN_STATUS: Final = {"completed": None, "failed": STATUS_ERROR, "cancelled": STATUS_CANCELLED}
_SESSION_EVENTS: Final = frozenset(
    {
        "agent.session.created",
        "agent.session.in_progress",
        "agent.session.idle",
        "agent.session.requires_action",
        "agent.session.failed",
        "agent.session.budget_reached",
    }
)
"""Events that carry the whole session (its agent, model included)."""
_ITEM_EVENTS: Final = frozenset({"agent.session.turn.item.added", "agent.session.turn.item.done"})
_MAX_SESSIONS: Final = 1_024  # sessions followed at once (an idle one goes first)
_MAX_ORPHANS: Final = 1_024  # open turns of sessions no longer followed, kept to end well
_MAX_SEEN: Final = 16_384  # event ids remembered, all sessions together (see SeenIds)
_MAX_KEPT: Final = 1_000  # input messages, items and deltas kept per turn (and pending)


class _Session:
    __slots__ = ("agent", "open", "overflow", "pending", "subagents")

    def __init__(self) -> None:
        self.agent: Any = None  # the agent's configuration, as last known
        # Input sent since the last root turn began: one list per send, the newest kept.
        self.pending: list[list[Any]] = []
        self.overflow = False  # sends were dropped from ``pending``: their count is unknown
        self.open: dict[str, Capture] = {}  # turns begun, not ended, by id
        self.subagents = Subagents()

    def send(self, messages: list[Any]) -> None:
        """Note one send's input messages, the newest ``_MAX_KEPT`` kept in all."""
        self.pending.append(messages)
        extra = sum(len(sent) for sent in self.pending) - _MAX_KEPT
        while extra > 0 and self.pending:
            oldest = self.pending[0]
            dropped = min(extra, len(oldest))
            del oldest[:dropped]
            extra -= dropped
            if not oldest and len(self.pending) > 1:
                self.pending.pop(0)
                self.overflow = True

    def take(self) -> list[Any] | None:
        """All the input sent since the last root turn began (it is that turn's)."""
        taken = [message for sent in self.pending for message in sent]
        self.pending, self.overflow = [], False
        return taken or None

    def take_each(self, count: int) -> list[list[Any] | None]:
        """The input of ``count`` root turns seen only ending, oldest first: one send
        each when there were exactly that many sends, else unknowable (None each)."""
        if count == len(self.pending) and not self.overflow:
            each: list[list[Any] | None] = [sent or None for sent in self.pending]
        else:
            each = [None] * count
        self.pending, self.overflow = [], False
        return each


_lock = threading.Lock()
_sessions: OrderedDict[str, _Session] = OrderedDict()
_orphans: OrderedDict[str, tuple[str, Capture]] = OrderedDict()
"""Open turns of sessions forgotten to make room, by turn id (with their session's id):
still ending well (usage, input, output so far) when their end is seen. Past
``_MAX_ORPHANS`` the oldest is dropped unrecorded: its end, when seen, still makes its
record (usage and cost), without what was gathered before."""
_seen = followed.SeenIds(_MAX_SEEN)
_recorded = RecordedOnce(100_000)
"""Turn ids already recorded: seen again (a listing after the stream), they are not."""


def _session(session_id: str) -> _Session:
    """The session's state (lock held). Past ``_MAX_SESSIONS`` one is forgotten: one
    with no turn open, else the least recently seen, whose open turns become orphans."""
    session = _sessions.get(session_id)
    if session is not None:
        _sessions.move_to_end(session_id)
        return session
    if len(_sessions) >= _MAX_SESSIONS:
        idle = (key for key, state in _sessions.items() if not state.open)
        gone_id = next(idle, next(iter(_sessions)))
        for turn_id, cap in _sessions.pop(gone_id).open.items():
            _orphans[turn_id] = (gone_id, cap)
        while len(_orphans) > _MAX_ORPHANS:
            _orphans.popitem(last=False)
    session = _sessions[session_id] = _Session()
    return session


def _open_turn(session: _Session, turn_id: Any) -> Capture | None:
    """The capture of a turn seen begin and not end (an orphan comes back)."""
    if not isinstance(turn_id, str):
        return None
    cap = session.open.get(turn_id)
    if cap is None and turn_id in _orphans:
        cap = session.open[turn_id] = _orphans.pop(turn_id)[1]
    return cap


def _take_open(session: _Session) -> list[Capture]:
    caps = [cap for turn_id, cap in session.open.items() if _recorded.first(turn_id)]
    session.open.clear()
    return caps


def _agent_of(session: _Session, turn: Any) -> Any:
    """The agent that runs a turn: the session's, or for a subagent only the model it
    was asked for (None when unknown: its instructions and tools are its own)."""
    subagent = field(turn, "subagent_id")
    if subagent is None:
        return session.agent
    return {"model": session.subagents.model(subagent)}


def _begin(
    session: _Session, session_id: str, turn: Any, method: str, messages: Any = None
) -> Capture:
    """A capture for a turn (``messages``: a root turn's input)."""
    return observed_capture(
        _PROVIDER,
        method,
        OPERATION,
        extract,
        extra={
            "session": session_id,
            "turn_id": field(turn, "id"),
            "agent": _agent_of(session, turn),
            "items": [],
            "deltas": [],
            "input": messages if field(turn, "subagent_id") is None else None,
        },
    )


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


def _session_id(event: Any) -> Any:
    return (
        field(event, "session_id")
        or field(field(event, "session"), "id")
        or field(field(event, "subagent"), "session_id")
    )


def observe(events: Iterable[Any], method: str, initial: list[Any] | None = None) -> None:
    """Follow a session's events as the app reads them (caller's thread; never raises).
    ``initial``: ``[(agent, input)]`` of the ``sessions.create`` whose stream this is,
    taken (emptied) by its session's first event."""
    with _guard.guarded("openai agent session events"):
        ended: list[tuple[Capture, Any, str | None]] = []
        with _lock:
            for event in events:
                session_id = _session_id(event)
                if not isinstance(session_id, str):
                    continue
                session = _session(session_id)
                if initial:  # the create's own session: its agent and input
                    session.agent, pending = initial.pop()
                    session.pending, session.overflow = [], False
                    if pending:
                        session.send(pending)
                event_id = field(event, "event_id")
                if not isinstance(event_id, str) or _seen.first((session_id, event_id)):
                    _read(session, session_id, event, method, ended)
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
    if kind in _SESSION_EVENTS:
        _learn_agent(session, field(field(event, "session"), "agent"))
    elif kind == "agent.session.subagent.created":
        session.subagents.model(field(field(event, "subagent"), "id"))
    elif kind == "agent.session.turn.created":
        turn = field(event, "turn")
        if (
            isinstance(turn_id, str)
            and turn_id not in _recorded
            and _open_turn(session, turn_id) is None
        ):
            messages = session.take() if field(turn, "subagent_id") is None else None
            session.open[turn_id] = _begin(session, session_id, turn, method, messages)
    elif kind in _ENDED:
        turn = field(event, "turn")
        cap = _open_turn(session, turn_id)
        if cap is not None:
            del session.open[turn_id]
        if isinstance(turn_id, str) and _recorded.first(turn_id):
            if cap is None:  # seen only ending: its input is the one send, if one
                root = field(turn, "subagent_id") is None
                messages = session.take_each(1)[0] if root else None
                cap = _begin(session, session_id, turn, method, messages)
            cap.extra["usage"] = field(event, "usage")
            ended.append((cap, turn, _ENDED[kind]))
    elif (cap := _open_turn(session, turn_id)) is not None:
        item = field(event, "item")
        if field(item, "type") == "create_subagent_call" and kind in _ITEM_EVENTS:
            session.subagents.asked_for(item)
        if kind == "agent.session.turn.item.done" and len(cap.extra["items"]) < _MAX_KEPT:
            cap.extra["items"].append(item)
        elif kind == "agent.session.turn.output_text.delta":
            delta = field(event, "delta")
            if isinstance(delta, str) and len(cap.extra["deltas"]) < _MAX_KEPT:
                cap.extra["deltas"].append(delta)


def _learn_agent(session: _Session, agent: Any) -> None:
    """The session's agent as an event or a call showed it; open root turns that did not
    know it take it."""
    if agent is None:
        return
    session.agent = agent
    for cap in session.open.values():
        if cap.extra["agent"] is None:
            cap.extra["agent"] = agent


def observe_turns(turns: Iterable[Any], method: str) -> None:
    """Turns the app fetched: one that has ended is recorded, if it was not already. Root
    turns seen only ending share the input sent since the last one began by their order
    (``created_at``): one send each, else unknown."""
    with _guard.guarded("openai agent session turns"):
        ended: list[tuple[Capture, Any, str | None]] = []
        with _lock:
            fresh: dict[str, list[Any]] = {}  # root turns seen only ending, by session
            for turn in turns:
                turn_id, session_id = field(turn, "id"), field(turn, "session_id")
                status = field(turn, "status")
                if not (isinstance(turn_id, str) and isinstance(session_id, str)):
                    continue
                if status not in _TURN_STATUS or not _recorded.first(turn_id):
                    continue
                session = _session(session_id)
                cap = _open_turn(session, turn_id)
                if cap is not None:
                    session.open.pop(turn_id)
                    ended.append((cap, turn, _TURN_STATUS[status]))
                elif field(turn, "subagent_id") is None:
                    fresh.setdefault(session_id, []).append(turn)
                else:
                    cap = _begin(session, session_id, turn, method)
                    ended.append((cap, turn, _TURN_STATUS[status]))
            for session_id, found in fresh.items():
                found.sort(key=lambda t: c if isinstance(c := field(t, "created_at"), int) else 0)
                session = _session(session_id)
                for turn, messages in zip(found, session.take_each(len(found)), strict=True):
                    cap = _begin(session, session_id, turn, method, messages)
                    ended.append((cap, turn, _TURN_STATUS[field(turn, "status")]))
        for cap, turn, ending in ended:
            _end(cap, turn, ending)


def learn(session: Any, pending: list[Any] | None = None) -> None:
    """Note a session's agent (and the input it was created with)."""
    session_id, agent = field(session, "id"), field(session, "agent")
    if not isinstance(session_id, str) or agent is None:
        return
    with _lock:
        state = _session(session_id)
        _learn_agent(state, agent)
        if pending:
            state.send(list(pending))


Sent = tuple[str, list[Any], list[tuple[list[Any], Any]]]
"""What one send added: its session, its messages, (list, message) of function results."""


def sent(session_id: Any, events: Any) -> Sent | None:
    """Input the app is sending (noted before it is sent, so that a turn the server
    starts at once takes it): messages start the next turn; a function result belongs to
    the turn that waits for it (else the next). :func:`unsent` takes it back."""
    if not isinstance(session_id, str) or not isinstance(events, list):
        return None
    with _lock:
        session = _session(session_id)
        messages: list[Any] = []
        results: list[tuple[list[Any], Any]] = []
        for event in events:
            kind = field(event, "type")
            if kind == "agent.session.input.message":
                messages += input_messages(field(event, "input")) or []
            elif kind == "agent.session.input.tool_result" and isinstance(event, dict):
                cap = _open_turn(session, field(event, "turn_id"))
                if cap is None:  # no turn waits for it: the next one's
                    messages.append(tool_result_message(event))
                    continue
                kept = cap.extra["input"] = cap.extra.get("input") or []
                if len(kept) < _MAX_KEPT:
                    kept.append(message := tool_result_message(event))
                    results.append((kept, message))
        if messages:
            session.send(messages)
    return session_id, messages, results


def unsent(noted: Sent | None) -> None:
    """A send that failed: its input, where no turn took it yet, is forgotten."""
    if noted is None:
        return
    session_id, messages, results = noted
    with _lock:
        session = _sessions.get(session_id)
        if session is not None:
            session.pending = [sent for sent in session.pending if sent is not messages]
        for kept, message in results:
            if any(m is message for m in kept):
                kept[:] = [m for m in kept if m is not message]


def deleted(session_id: Any) -> None:
    """A deleted session's open turns will never end: cancelled."""
    if isinstance(session_id, str):
        _cancel_open([session_id])


def end_all(*, forget: bool = False) -> None:
    """At exit, and at ``uninstrument()`` (``forget``: no session is followed any more):
    turns seen begin and not end are cancelled."""
    _cancel_open(None, forget)


def _cancel_open(session_ids: list[str] | None, forget: bool = False) -> None:
    """Record the open turns of these sessions (None: all, orphans too) as cancelled; a
    session named is forgotten (it is gone)."""
    with _lock:
        chosen = list(_sessions) if session_ids is None else session_ids
        caps = [cap for i in chosen if i in _sessions for cap in _take_open(_sessions[i])]
        for turn_id, (session_id, cap) in list(_orphans.items()):
            if session_ids is None or session_id in session_ids:
                del _orphans[turn_id]
                if _recorded.first(turn_id):
                    caps.append(cap)
        for session_id in chosen if forget or session_ids is not None else ():
            _sessions.pop(session_id, None)
        if forget:
            _seen.clear()
    for cap in caps:
        _end(cap, None, STATUS_CANCELLED)


def _after_fork_in_child() -> None:
    """The parent's turns are the parent's to record (and its lock may be held)."""
    global _lock, _sessions, _orphans
    _lock, _sessions, _orphans = threading.Lock(), OrderedDict(), OrderedDict()
    _seen.clear()


_ending.before_exit.append(end_all)
os.register_at_fork(after_in_child=_after_fork_in_child)
_base.after_uninstall.append(partial(end_all, forget=True))
