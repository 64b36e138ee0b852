"""The wrappers on the SDK's WebSocket connection classes, and the sessions they feed.

Each connection (with its manager) has one :class:`~._openai_websocket.Session`,
kept by the send queue they share (an older SDK gives the connection a queue of its
own when the manager's is empty: the session follows it there). The app's events
are noted as the app sends them; a send that fails takes its request back (unless
the SDK kept the message to resend). Sends are never serialized or delayed: the
SDK lets several threads send at once, so requests sent at the same instant from
two threads on one lane may be noted in another order than they went out. Every
message received is read; a lost connection ends the calls in flight as errors,
the app's ``close()`` as the session says (responses: cancelled; a translation:
ok), garbage collection of the connection and interpreter exit as cancelled. The
SDK's translation helper reads past ``recv_bytes`` when given a timeout: its
``recv`` is wrapped too.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from llmlog import _ending, _guard
from llmlog._record import STATUS_CANCELLED, STATUS_ERROR, Capture
from llmlog.instrumentors import _base
from llmlog.instrumentors._base import Wrapper
from llmlog.instrumentors._openai_websocket import Session, connection_closed

_sessions: dict[int, Session] = {}
"""Per send queue (by id; removed when the queue is collected or llmlog uninstrumented)."""
_sessions_lock = threading.Lock()

_sending: ContextVar[bool] = ContextVar("llmlog_ws_sending", default=False)
"""Set while a wrapped send runs: a send it calls in turn is the same message."""


def _queue_of(instance: Any) -> Any:
    """The send queue a connection and its manager share (None on unknown SDKs)."""
    queue = getattr(instance, "_send_queue", None)
    if queue is not None:
        return queue
    for cls in type(instance).__mro__:  # the manager's name-mangled attribute
        queue = getattr(instance, f"_{cls.__name__}__send_queue", None)
        if queue is not None:
            return queue
    return None


def _session(instance: Any, kind: type[Session]) -> Session | None:
    queue = _queue_of(instance)
    if queue is None:
        return None
    key = id(queue)
    session = _sessions.get(key)
    if session is None:
        with _sessions_lock:
            session = _sessions.get(key)
            if session is None:
                session = _sessions[key] = kind()
                # Exit is end_open_sessions' job, before the queue's final drain.
                weakref.finalize(queue, _collected, key).atexit = False
    return session


def _adopt(manager: Any, connection: Any) -> None:
    """Older SDKs (openai before 3.20) give the connection a queue of its own when the
    manager's is empty (``send_queue or SendQueue()``, an empty queue being falsy): the
    manager's session, if it has one, becomes the connection's."""
    with _guard.guarded("following a WebSocket connection"):
        mine, theirs = _queue_of(manager), _queue_of(connection)
        if mine is None or theirs is None or mine is theirs:
            return
        with _sessions_lock:
            if id(mine) not in _sessions or id(theirs) in _sessions:
                return
            _sessions[id(theirs)] = _sessions.pop(id(mine))
            weakref.finalize(theirs, _collected, id(theirs)).atexit = False


def _on_session(instance: Any, where: str, act: Callable[[Session], None]) -> None:
    """``act`` on the connection's session if it has one (lifecycle hooks, guarded)."""
    with _guard.guarded(where):
        session = _sessions.get(id(_queue_of(instance)))
        if session is not None:
            act(session)


def _queued_length(instance: Any) -> int:
    try:
        return len(_queue_of(instance))
    except Exception:  # an SDK whose queue has no length: assume nothing was kept
        return -1


def _collected(key: int) -> None:
    session = _sessions.pop(key, None)
    if session is not None:
        with _guard.guarded("recording an abandoned WebSocket connection"):
            session.end_all(STATUS_CANCELLED)


def end_open_sessions() -> None:
    """At exit: every response still in flight ends as ``cancelled``."""
    for session in list(_sessions.values()):
        with _guard.guarded("recording WebSocket sessions open at exit"):
            session.end_all(STATUS_CANCELLED)


def _forget_sessions() -> None:
    """At ``uninstrument()``: what is in flight ends as ``cancelled`` (recorded before the
    pipeline's final drain) and is not followed any more."""
    sessions = list(_sessions.values())
    _sessions.clear()
    for session in sessions:
        session.end_all(STATUS_CANCELLED)


def _after_fork_in_child() -> None:
    """The parent's sessions are the parent's to record (and its lock may be held)."""
    global _sessions_lock
    _sessions.clear()
    _sessions_lock = threading.Lock()


_ending.before_exit.append(end_open_sessions)
os.register_at_fork(after_in_child=_after_fork_in_child)
_base.after_uninstall.append(_forget_sessions)


def _message(args: tuple[Any, ...], kwargs: dict[str, Any], name: str) -> Any:
    return args[0] if args else kwargs.get(name)


def wrappers(prefix: str, kind: type[Session], helper: str = "") -> dict[str, Wrapper]:
    """qualname -> wrapt wrapper for ``{prefix}Connection`` (+ ``Async``, + managers), and
    for the ``recv`` of an SDK ``helper`` class around the connection that reads past
    ``recv_bytes`` when given a timeout.

    Methods a class only inherits are wrapped on that class itself (wrapt restores
    that exactly), never on the SDK's WebSocket base class that other protocols share.
    """

    def session_for(instance: Any) -> Session | None:
        if not _base.is_active("openai") or _sending.get():
            return None  # uninstrumented (a stale bound wrapper), or noted already
        with _guard.guarded("reading a WebSocket message"):
            return _session(instance, kind)
        return None

    def note(session: Session, data: Any) -> Capture | None:
        with _guard.guarded("reading a WebSocket message"):
            return session.sent(data)
        return None

    @contextmanager
    def sending(session: Session, instance: Any, cap: Capture | None) -> Iterator[None]:
        """Around the SDK's send: a failure takes the request back (unless the SDK kept
        the message to send it again: its queue grew)."""
        queued = _queued_length(instance)
        token = _sending.set(True)
        try:
            yield
        except BaseException as exc:
            if cap is not None:
                kept = _queued_length(instance) > queued >= 0
                with _guard.guarded("recording a failed WebSocket send"):
                    session.unsent(cap, exc, kept)
            raise
        finally:
            _sending.reset(token)

    def sender(name: str) -> Wrapper:
        def send(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            session = session_for(instance)
            if session is None:
                return wrapped(*args, **kwargs)
            cap = note(session, _message(args, kwargs, name))
            with sending(session, instance, cap):
                return wrapped(*args, **kwargs)

        return send

    def async_sender(name: str) -> Wrapper:
        async def send(
            wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            session = session_for(instance)
            if session is None:
                return await wrapped(*args, **kwargs)
            cap = note(session, _message(args, kwargs, name))
            with sending(session, instance, cap):
                return await wrapped(*args, **kwargs)

        return send

    def lost(instance: Any, exc: BaseException) -> None:
        if connection_closed(exc):
            _on_session(instance, "recording a lost WebSocket connection", lambda s: s.lost(exc))

    def received(instance: Any, data: Any) -> None:
        if not _base.is_active("openai"):
            return
        try:  # not _guard.guarded: this runs for every message
            session = _session(instance, kind)
            if session is not None:
                session.received(data)
        except Exception as exc:
            _guard.report_internal_error(exc, "reading a WebSocket message")

    def recv_bytes(
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        try:
            data = wrapped(*args, **kwargs)
        except BaseException as exc:
            lost(instance, exc)
            raise
        received(instance, data)
        return data

    async def async_recv_bytes(
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        try:
            data = await wrapped(*args, **kwargs)
        except BaseException as exc:
            lost(instance, exc)
            raise
        received(instance, data)
        return data

    def helper_recv(
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if kwargs.get("timeout") is None:  # it calls recv_bytes, which is wrapped
            return wrapped(*args, **kwargs)
        return recv_bytes(wrapped, getattr(instance, "_connection", None), args, kwargs)

    def closing(instance: Any) -> None:
        _on_session(instance, "recording a closed WebSocket connection", lambda s: s.closed())

    def close(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        closing(instance)
        return wrapped(*args, **kwargs)

    async def async_close(
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        closing(instance)
        return await wrapped(*args, **kwargs)

    def connected(manager: Any, connection: Any) -> None:
        _adopt(manager, connection)
        # the session begins here if nothing was queued (keyed by the connection's queue)
        session = session_for(connection if _queue_of(connection) is not None else manager)
        if session is not None:
            with _guard.guarded("starting queued WebSocket requests"):
                session.opened(manager)

    def not_connected(manager: Any, exc: BaseException) -> None:
        """The handshake failed (a bad key, no network): the requests the app queued end
        with its error now, as the app sees it (entered again, the SDK sends them still:
        README, Known limits)."""
        _on_session(
            manager,
            "recording a failed WebSocket connection",
            lambda s: s.end_all(STATUS_ERROR, exc),
        )

    def enter(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            connection = wrapped(*args, **kwargs)
        except BaseException as exc:
            not_connected(instance, exc)
            raise
        connected(instance, connection)
        return connection

    async def async_enter(
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        try:
            connection = await wrapped(*args, **kwargs)
        except BaseException as exc:
            not_connected(instance, exc)
            raise
        connected(instance, connection)
        return connection

    connection, manager = f"{prefix}Connection", f"{prefix}ConnectionManager"
    helpers = {f"{helper}.recv": helper_recv} if helper else {}
    return {
        **helpers,
        f"{connection}.send": sender("event"),
        f"Async{connection}.send": async_sender("event"),
        f"{connection}.send_raw": sender("data"),
        f"Async{connection}.send_raw": async_sender("data"),
        f"{connection}.recv_bytes": recv_bytes,
        f"Async{connection}.recv_bytes": async_recv_bytes,
        f"{connection}.close": close,
        f"Async{connection}.close": async_close,
        f"{manager}.send": sender("event"),
        f"Async{manager}.send": sender("event"),  # queues only: synchronous
        f"{manager}.__enter__": enter,
        f"{manager}.enter": enter,
        f"Async{manager}.__aenter__": async_enter,
        f"Async{manager}.enter": async_enter,
    }
