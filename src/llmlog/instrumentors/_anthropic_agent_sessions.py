"""Managed-agent sessions (``client.beta.sessions``): each model request the agent makes
on Anthropic's side is a record, read from the session events the app watches.

The agent loop runs on Anthropic's servers. The app sends events (``events.send``, a
session's ``initial_events``) and watches what happens (``events.stream()``,
``events.list()``, the same per thread of a multi-agent session). A model request
shows up as ``span.model_request_start`` ... ``span.model_request_end`` with its token
usage; the events before it (user, system and tool-result events since the previous
request) are what it was asked, the agent's messages and tool calls inside it what it
answered. A graded outcome evaluation (``span.outcome_evaluation_*``) is a model call
too.

Events are followed per session and thread, however the app reads them: one seen
twice (a stream and a list, two watchers, the echo of a send) counts once. The
agent's model, system prompt and tools come from the session as this process created,
retrieved or saw it updated; without that the record's model is null (unpriced). A
request whose end is never seen is recorded ``cancelled`` at exit or ``uninstrument()``.
Events listed newest first (``order="desc"``) are not followed.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, Final

from llmlog import _ending, _guard
from llmlog._record import STATUS_CANCELLED, STATUS_ERROR, Capture
from llmlog.instrumentors import _anthropic_followed as followed
from llmlog.instrumentors import _base
from llmlog.instrumentors._anthropic_agent_records import TOOL_CALLS, extract
from llmlog.instrumentors._anthropic_request import plain
from llmlog.instrumentors._base import Target, Wrapper
from llmlog.instrumentors._in_flight import finish
from llmlog.instrumentors._observed import (
    RecordedOnce,
    epoch_ns,
    finish_by_server_clock,
    observed_capture,
)
from llmlog.instrumentors._sdk_field import field as field_of

OPERATION: Final = "messages"
_PROVIDER: Final = "anthropic"
_REQUEST_START: Final = "span.model_request_start"
_EVALUATION_START: Final = "span.outcome_evaluation_start"
_ENDS: Final = {
    "span.model_request_end": "model_request_start_id",
    "span.outcome_evaluation_end": "outcome_evaluation_start_id",
}
_INPUT: Final = frozenset(
    {
        "user.message",
        "user.interrupt",
        "user.tool_confirmation",
        "user.custom_tool_result",
        "user.tool_result",
        "user.define_outcome",
        "system.message",
        "agent.tool_result",
        "agent.mcp_tool_result",
        "agent.thread_message_received",
    }
)
_OUTPUT: Final = frozenset({"agent.message", *TOOL_CALLS})
_TERMINATED: Final = frozenset(
    {"session.status_terminated", "session.deleted", "session.thread_status_terminated"}
)
_MAX_SESSIONS: Final = 1_024  # sessions followed at once (the least recently seen goes)
_MAX_SEEN: Final = 16_384  # event ids remembered, all sessions together (see SeenIds)
_MAX_THREADS: Final = 64  # threads followed per session (an idle one is forgotten first)
_MAX_RECORDED: Final = 100_000  # requests recorded, remembered across uninstrument()
_MAX_KEPT: Final = 1_000  # input and output events kept per request


class _Request:
    """A model request (or outcome evaluation) begun and not ended yet."""

    __slots__ = ("cap", "evaluation", "started_at")

    def __init__(self, cap: Capture, started_at: Any, evaluation: bool) -> None:
        self.cap, self.started_at, self.evaluation = cap, started_at, evaluation


class _Conversation:
    """One thread of a session (None: the session's own events)."""

    __slots__ = ("open", "orphans", "pending", "unconfirmed")

    def __init__(self) -> None:
        self.orphans: dict[Any, Any] = {}  # output read before any request began, by id
        self.pending: list[Any] = []  # input events since the previous request
        self.unconfirmed: list[Any] = []  # initial_events the server has not echoed yet
        self.open: dict[str, _Request] = {}  # by start event id

    def take_open(self) -> list[_Request]:
        """Take the requests in flight, to be recorded cancelled (lock held)."""
        found = list(self.open.values())
        self.open.clear()
        for request in found:
            _recorded.first(request.cap.extra["start_id"])
        return found


class _Session:
    __slots__ = ("agents", "conversations", "dropped")

    def __init__(self) -> None:
        self.agents: OrderedDict[str | None, Any] = OrderedDict()  # agent config, per thread
        self.conversations: OrderedDict[str | None, _Conversation] = OrderedDict()
        self.dropped: list[_Request] = []  # in flight in a thread forgotten: cancelled

    def conversation(self, thread: str | None) -> _Conversation:
        """The thread's conversation, made if new (marked recently used). Past
        ``_MAX_THREADS`` one is forgotten: the least recently used with no request in
        flight, else the least recently used (its requests go to ``dropped``)."""
        conversation = self.conversations.get(thread)
        if conversation is not None:
            self.conversations.move_to_end(thread)
            return conversation
        if len(self.conversations) >= _MAX_THREADS:
            threads: list[str | None] = [t for t in self.conversations if t is not None]
            threads = threads or [None]
            idle = (t for t in threads if not self.conversations[t].open)
            gone = next(idle, threads[0])
            self.dropped += self.conversations.pop(gone).take_open()
        conversation = self.conversations[thread] = _Conversation()
        return conversation

    def learn(self, thread: str | None, agent: Any) -> None:
        """Note a thread's agent (the session's own always kept; threads' the newest)."""
        self.agents[thread] = agent
        self.agents.move_to_end(thread)
        while len(self.agents) > _MAX_THREADS:
            del self.agents[next(t for t in self.agents if t is not None)]

    def has_open_requests(self) -> bool:
        return any(c.open for c in self.conversations.values())

    def open_requests(self) -> list[_Request]:
        """Take every thread's requests in flight, to be recorded cancelled (lock held)."""
        return [r for c in self.conversations.values() for r in c.take_open()]


_lock = threading.Lock()
_sessions: OrderedDict[str, _Session] = OrderedDict()
_recorded = RecordedOnce(_MAX_RECORDED)
"""Requests (by start event id) already recorded: re-read later, they are not again."""
_seen = followed.SeenIds(_MAX_SEEN)
"""Events taken in, by ``(session id, event id)``: read again, they change nothing."""


def _used(session_id: str, event_id: Any) -> None:
    """Remember an event taken in, so that reading it again changes nothing."""
    if isinstance(event_id, str):
        _seen.first((session_id, event_id))


def _session(session_id: str) -> tuple[_Session, list[_Request]]:
    """The session (made if new, marked recently seen) and requests of one evicted."""
    session = _sessions.get(session_id)
    if session is not None:
        _sessions.move_to_end(session_id)
        return session, []
    evicted: list[_Request] = []
    if len(_sessions) >= _MAX_SESSIONS:  # one with nothing in flight, else the oldest
        idle = (k for k, v in _sessions.items() if not v.has_open_requests())
        evicted = _sessions.pop(next(idle, next(iter(_sessions)))).open_requests()
    session = _sessions[session_id] = _Session()
    return session, evicted


def _new_capture(
    method: str, session_id: str, thread: str | None, agent: Any, start_id: str
) -> Capture:
    return observed_capture(
        _PROVIDER,
        method,
        OPERATION,
        extract,
        extra={
            "session": session_id,
            "thread": thread,
            "agent": agent,
            "start_id": start_id,
            "output": [],
        },
    )


def _end(request: _Request, end: Any = None, status: str | None = None) -> None:
    """Submit a request's record; timed by the server's clock when its start and end were
    seen (an end seen alone: no latency)."""
    cap = request.cap
    with _guard.guarded("anthropic agent session request"):
        if end is None:
            finish(cap, status=status)
            return
        cap.extra["end"] = end
        status = STATUS_ERROR if field_of(end, "is_error") else status
        finish_by_server_clock(cap, request.started_at, field_of(end, "processed_at"), status)


def observe(events: Iterable[Any], session_id: Any, thread: str | None, method: str) -> None:
    """Follow events of a session as the app reads them (caller's thread; never raises)."""
    if not isinstance(session_id, str):
        return
    with _guard.guarded("anthropic agent session events"):
        ended: list[tuple[_Request, Any]] = []
        with _lock:
            session, evicted = _session(session_id)
            for event in events:
                event_id = field_of(event, "id")
                if isinstance(event_id, str) and (session_id, event_id) in _seen:
                    continue
                # An event of no use yet (its request not seen begin) is not remembered:
                # another read may use it.
                if _read(session, event, session_id, thread, method, ended):
                    _used(session_id, event_id)
            ended += [(request, None) for request in session.dropped]
            session.dropped = []
        for request in evicted:
            _end(request, status=STATUS_CANCELLED)
        for request, end in ended:
            _end(request, end, status=None if end is not None else STATUS_CANCELLED)


def _read(
    session: _Session,
    event: Any,
    session_id: str,
    thread: str | None,
    method: str,
    ended: list[tuple[_Request, Any]],
) -> bool:
    """Take one event in; False if it was of no use yet (its request was not seen begin)."""
    kind = field_of(event, "type")
    thread = field_of(event, "session_thread_id") or thread  # a thread's event on the session's
    conversation = session.conversation(thread)
    if kind in _INPUT:
        conversation.unconfirmed.clear()  # the server's own copy of what was sent
        if len(conversation.pending) < _MAX_KEPT:
            conversation.pending.append(event)
    elif kind in _OUTPUT or kind == "session.error":
        request = _latest_request(conversation)
        if request is None:  # kept for a request whose end comes without its start
            if kind != "session.error" and len(conversation.orphans) < _MAX_KEPT:
                conversation.orphans[field_of(event, "id")] = event
            return False
        if kind == "session.error":
            request.cap.extra["error_event"] = event
        elif len(request.cap.extra["output"]) < _MAX_KEPT:
            request.cap.extra["output"].append(event)
    elif kind in (_REQUEST_START, _EVALUATION_START):
        start_id = str(field_of(event, "id"))
        evaluation = kind == _EVALUATION_START
        conversation.orphans.clear()
        if start_id in _recorded or start_id in conversation.open:
            # Recorded already (ended, or cancelled by an earlier uninstrument), or read
            # again: the input before it was its own.
            if not evaluation:
                conversation.unconfirmed, conversation.pending = [], []
            return True
        cap = _new_capture(method, session_id, thread, session.agents.get(thread), start_id)
        cap.start_ns = epoch_ns(field_of(event, "processed_at")) or cap.start_ns
        cap.extra["evaluation"] = evaluation
        if not evaluation:  # a grader reads the transcript, not the turn's new input
            cap.extra["input"] = conversation.unconfirmed + conversation.pending
            conversation.unconfirmed, conversation.pending = [], []
        conversation.open[start_id] = _Request(cap, field_of(event, "processed_at"), evaluation)
    elif kind in _ENDS:
        start_id = str(field_of(event, _ENDS[kind]))
        request = conversation.open.pop(start_id, None)
        if request is None and start_id not in _recorded:
            # Its start was not read (a stream opened mid-request): the usage is still known.
            cap = _new_capture(method, session_id, thread, session.agents.get(thread), start_id)
            cap.start_ns = epoch_ns(field_of(event, "processed_at")) or cap.start_ns
            cap.extra["evaluation"] = kind != "span.model_request_end"
            if not cap.extra["evaluation"]:  # what it said, as far as it was read
                cap.extra["output"] = list(conversation.orphans.values())
                for orphan_id in conversation.orphans:
                    _used(session_id, orphan_id)
                conversation.unconfirmed, conversation.pending = [], []
            request = _Request(cap, None, cap.extra["evaluation"])
        conversation.orphans.clear()  # output before an end is that request's, never a later one's
        if request is not None and _recorded.first(start_id):
            ended.append((request, event))
    elif kind in _TERMINATED:  # requests still open will never end
        if kind == "session.thread_status_terminated" or thread is not None:
            requests = conversation.take_open()
        else:  # the whole session: every thread's
            requests = session.open_requests()
        ended.extend((request, None) for request in requests)
    elif kind == "session.updated" and thread is None:
        agent = field_of(event, "agent")
        if agent is not None:
            session.learn(None, agent)
    return True


def _latest_request(conversation: _Conversation) -> _Request | None:
    for request in reversed(conversation.open.values()):
        if not request.evaluation:
            return request
    return None


def learn(resource: Any, thread: str | None = None, initial_events: Any = None) -> None:
    """Note a session's (or a thread's) agent configuration, and the events it was created
    with, from what ``create`` / ``retrieve`` / ``update`` returned."""
    session_id = field_of(resource, "session_id") if thread else field_of(resource, "id")
    agent = field_of(resource, "agent")
    if not isinstance(session_id, str) or agent is None:
        return
    with _guard.guarded("anthropic agent session"), _lock:
        session, evicted = _session(session_id)
        session.learn(thread, agent)
        if isinstance(initial_events, list | tuple) and initial_events:
            conversation = session.conversation(None)
            conversation.unconfirmed = [plain(e) for e in initial_events][:_MAX_KEPT]
        evicted += session.dropped
        session.dropped = []
    for request in evicted:
        _end(request, status=STATUS_CANCELLED)


def end_all(*, forget: bool = False) -> None:
    """At exit and ``uninstrument()`` (``forget``: sessions are no longer followed):
    requests whose end was not seen are cancelled."""
    with _lock:
        requests = [r for s in _sessions.values() for r in s.open_requests()]
        if forget:
            _sessions.clear()
            _seen.clear()
    for request in requests:
        _end(request, status=STATUS_CANCELLED)


def deleted(session_id: Any) -> None:
    """The app deleted a session: its requests still open will never end (``cancelled``
    now, not at exit), and it is no longer followed."""
    with _lock:
        session = _sessions.pop(session_id, None)
        requests = session.open_requests() if session is not None else []
    for request in requests:
        _end(request, status=STATUS_CANCELLED)


def _forget() -> None:
    end_all(forget=True)


def _after_fork_in_child() -> None:
    """The parent's requests are the parent's to record (and its lock may be held)."""
    global _lock
    _sessions.clear()
    _seen.clear()
    _lock = threading.Lock()


_ending.before_exit.append(end_all)
os.register_at_fork(after_in_child=_after_fork_in_child)
_base.after_uninstall.append(_forget)


# ------------------------------------------------------------------ the SDK's methods


def _ids(args: tuple[Any, ...], kwargs: dict[str, Any], threaded: bool) -> tuple[Any, Any]:
    """(session id, thread id): from ``(session_id, ...)`` or ``(thread_id, *, session_id)``."""
    first = args[0] if args else kwargs.get("thread_id" if threaded else "session_id")
    return (kwargs.get("session_id"), first) if threaded else (first, None)


def _follower(
    args: tuple[Any, ...], kwargs: dict[str, Any], method: str, threaded: bool
) -> followed.Follow:
    session_id, thread = _ids(args, kwargs, threaded)

    def follow(events: Iterable[Any]) -> None:
        if _base.is_active(_PROVIDER):  # a stream the app kept across uninstrument()
            observe(events, session_id, thread, method)

    return follow


def _watch(result: Any, follow: followed.Follow, kwargs: dict[str, Any]) -> Any:
    """The proxy the app gets for a stream or a listing (else ``result`` itself)."""
    if followed.is_sdk(result, "anthropic._streaming", "Stream", "AsyncStream"):
        is_async = followed.is_sdk(result, "anthropic._streaming", "AsyncStream")
        return followed.tapped(result, follow, is_async)
    if kwargs.get("types") or kwargs.get("order") == "desc":
        return result  # part of the story, or its end first: not followed
    return followed.listing(result, follow)


def _after(job: str, method: str) -> followed.After:
    """What a wrapped session method adds once the SDK answered (``job``: watch, send,
    learn or learn_thread; never raises)."""

    def after(result: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with _guard.guarded(f"anthropic {method}"):
            if job == "watch":
                follow = _follower(args, kwargs, method, "threads" in method)
                return _watch(result, follow, kwargs)
            if job == "send":
                data = getattr(result, "data", None)
                if isinstance(data, list):
                    observe(data, _ids(args, kwargs, False)[0], None, method)
            elif job == "learn":
                learn(result, initial_events=kwargs.get("initial_events"))
            elif job == "learn_thread":
                learn(result, thread=field_of(result, "id"))
            elif job == "deleted":
                deleted(_ids(args, kwargs, False)[0])
        return result

    return after


_SESSIONS: Final = "anthropic.resources.beta.sessions"
_THREADS: Final = f"{_SESSIONS}.threads"
# (module, class, method label, job, the async class's method is a coroutine)
_METHODS: Final = (
    (f"{_SESSIONS}.sessions", "Sessions", "beta.sessions.create", "learn", True),
    (f"{_SESSIONS}.sessions", "Sessions", "beta.sessions.retrieve", "learn", True),
    (f"{_SESSIONS}.sessions", "Sessions", "beta.sessions.update", "learn", True),
    (f"{_SESSIONS}.sessions", "Sessions", "beta.sessions.delete", "deleted", True),
    (f"{_SESSIONS}.events", "Events", "beta.sessions.events.send", "send", True),
    (f"{_SESSIONS}.events", "Events", "beta.sessions.events.stream", "watch", True),
    (f"{_SESSIONS}.events", "Events", "beta.sessions.events.list", "watch", False),
    (f"{_THREADS}.threads", "Threads", "beta.sessions.threads.retrieve", "learn_thread", True),
    (f"{_THREADS}.events", "Events", "beta.sessions.threads.events.stream", "watch", True),
    (f"{_THREADS}.events", "Events", "beta.sessions.threads.events.list", "watch", False),
)


def _targets() -> tuple[tuple[Target, ...], dict[str, Wrapper]]:
    targets: list[Target] = []
    wrappers: dict[str, Wrapper] = {}
    for module, cls, label, job, async_is_coroutine in _METHODS:
        rows, row_wrappers = followed.helper_rows(
            module, cls, label, async_is_coroutine, _after(job, label)
        )
        targets += rows
        wrappers |= row_wrappers
    return tuple(targets), wrappers


HELPERS, HELPER_WRAPPERS = _targets()
"""Patch rows and wrappers for the ``anthropic`` provider (helpers: no record of their own)."""
