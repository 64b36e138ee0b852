"""WebSocket sessions, one record per response; here the Responses protocol (``connect()``).

On a connection the app sends ``response.create`` events and reads server
events; every response is a model call. On the app's thread llmlog only reads
each message's ``type`` (a match on its first bytes; JSON is decoded there only
when ``type`` is not the first key, for error events and on lanes) and keeps
the raw messages of the responses in flight. The writer decodes them and reads
them like a streamed ``responses.create``. :class:`Session` is also the base of
the Realtime protocol's reader (``_openai_realtime``).

State is kept per send queue, which a connection manager shares with its
connection, so events queued with ``manager.send()`` before connecting count
too. Responses are matched to requests first in, first out per lane
(``stream_id``); a response the server starts on its own (a steered or
automatic successor) gets a record without a request. A response ends with its
terminal event (completed, incomplete, failed: the whole response is in it), an
``error`` event, ``close()`` (``cancelled``), the connection lost (``error``),
garbage collection of the connection or interpreter exit (``cancelled``).
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Final

from llmlog import _context, _guard, _pipeline
from llmlog._record import STATUS_CANCELLED, STATUS_ERROR, STATUS_OK, Capture
from llmlog.instrumentors._base import _trace_ids, finish, is_active, snapshot

METHOD: Final = "responses.connect"
_CREATE: Final = "response.create"
_TERMINAL: Final = frozenset({"response.completed", "response.incomplete", "response.failed"})
_LIFECYCLE: Final = frozenset({"response.created", "error", *_TERMINAL})
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


def _kind(data: Any) -> tuple[str | None, Any]:
    """(the event's type, the decoded event if decoding was needed to find it)."""
    if isinstance(data, bytes | bytearray):
        raw = _TYPE_FIRST_BYTES.match(data)
        if raw is not None:
            return raw.group(1).decode("utf-8", "replace"), None
    elif isinstance(data, str):
        text = _TYPE_FIRST.match(data)
        if text is not None:
            return text.group(1), None
    decoded = decode(data)
    kind = decoded.get("type") if isinstance(decoded, dict) else None
    return (kind if isinstance(kind, str) else None), decoded


def _mentions(data: Any, key: str) -> bool:
    """Whether a raw message may hold ``key`` (an event object: whether it does)."""
    if isinstance(data, str):
        return f'"{key}"' in data
    if isinstance(data, bytes | bytearray):
        return f'"{key}"'.encode() in data
    decoded = decode(data)
    return isinstance(decoded, dict) and key in decoded


def _lane_of(data: Any, decoded: Any) -> str | None:
    if decoded is None:
        decoded = decode(data)
    lane = decoded.get("stream_id") if isinstance(decoded, dict) else None
    return lane if isinstance(lane, str) else None


class _Lane:
    __slots__ = ("current", "waiting")

    def __init__(self) -> None:
        self.waiting: deque[Capture] = deque()  # sent, no response.created yet
        self.current: Capture | None = None


class Session:
    """The responses in flight on one connection (and its manager's queue).

    This class reads the Responses protocol; a subclass reads another one by
    changing the class attributes and the ``_note`` / ``_keep`` / ``_attach`` hooks.
    """

    METHOD: str = METHOD
    OPERATION: str = "responses"
    TERMINAL: frozenset[str] = _TERMINAL
    LIFECYCLE: frozenset[str] = _LIFECYCLE

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lanes: dict[str | None, _Lane] = {}
        self._laned = False  # some request named a lane: route server events by stream_id

    @staticmethod
    def extract(cap: Capture) -> dict[str, Any]:
        return extract(cap)

    def _note(self, kind: str, data: Any) -> bool:
        """A server message about the conversation, not a response: kept aside if True."""
        return False

    def _keep(self, kind: str) -> bool:
        """Whether an in-flight response keeps this message (for a partial output)."""
        return True

    def _attach(self, cap: Capture) -> None:
        """Give a response that just started what it needs beyond its own messages."""

    def _capture(self, request: Any) -> Capture:
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

    def sent(self, data: Any) -> None:
        kind, decoded = _kind(data)
        if kind != _CREATE:
            return
        lane = _lane_of(data, decoded) if _mentions(data, "stream_id") else None
        request = snapshot(data) if isinstance(data, dict) else data
        cap = self._capture(request)
        with self._lock:
            self._laned = self._laned or lane is not None
            self._lanes.setdefault(lane, _Lane()).waiting.append(cap)

    def received(self, data: Any) -> None:
        kind, decoded = _kind(data)
        if kind is None:
            return
        if kind not in self.LIFECYCLE and not self._laned:
            # Most messages: a delta of the one response in flight. Appending needs
            # no lock (one reader per connection; a close racing it only finishes
            # the record a message early).
            if self._note(kind, data):
                return
            lane = self._lanes.get(None)
            cap = lane.current if lane is not None else None
            if cap is not None and cap.chunks is not None and self._keep(kind):
                if cap.first_chunk_perf is None and kind.endswith(_CONTENT_SUFFIXES):
                    cap.first_chunk_perf = time.perf_counter()
                cap.chunks.append(data)
            return
        lane_id = _lane_of(data, decoded) if self._laned else None
        ended: list[tuple[Capture, str]] = []
        with self._lock:
            lane = self._lanes.get(lane_id)
            if kind == "response.created":
                if lane is None:
                    lane = self._lanes[lane_id] = _Lane()
                if lane.current is not None:  # never ended: the server moved on
                    ended.append((lane.current, STATUS_CANCELLED))
                cap = lane.waiting.popleft() if lane.waiting else self._capture(None)
                cap.chunks = [data]
                lane.current = cap
                self._attach(cap)
            elif lane is not None:
                self._advance(lane, kind, data, ended)
                if lane.current is None and not lane.waiting:
                    del self._lanes[lane_id]
        for cap, status in ended:
            finish(cap, status=status)

    def _advance(self, lane: _Lane, kind: str, data: Any, ended: list[tuple[Capture, str]]) -> None:
        cap = lane.current
        if kind in self.TERMINAL:
            if cap is not None:
                cap.chunks = [data]  # the whole response is in it; the deltas are not needed
                lane.current = None
                ended.append((cap, STATUS_OK))
        elif kind == "error":
            # An error of the response stream has a sequence number; one without
            # is the server refusing a request (the oldest one waiting).
            decoded = decode(data)
            if cap is not None and isinstance(decoded, dict) and "sequence_number" in decoded:
                lane.current = None
            elif lane.waiting:
                cap = lane.waiting.popleft()
            else:
                return
            assert cap.chunks is not None
            cap.chunks.append(data)
            ended.append((cap, STATUS_ERROR))
        elif cap is not None and self._keep(kind):
            assert cap.chunks is not None
            if cap.first_chunk_perf is None and kind.endswith(_CONTENT_SUFFIXES):
                cap.first_chunk_perf = time.perf_counter()
            cap.chunks.append(data)

    def end_all(self, status: str, error: BaseException | None = None) -> None:
        """Every response still waiting or in flight ends (closed, lost, collected, exit)."""
        with self._lock:
            caps = [cap for lane in self._lanes.values() for cap in (lane.current, *lane.waiting)]
            self._lanes.clear()
        for cap in caps:
            if cap is not None:
                finish(cap, error=error, status=status)


_sessions: dict[int, Session] = {}
"""Per send queue (by id; removed when the queue is collected)."""
_sessions_lock = threading.Lock()


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


def _collected(key: int) -> None:
    session = _sessions.pop(key, None)
    if session is not None:
        with _guard.guarded("recording an abandoned WebSocket connection"):
            session.end_all(STATUS_CANCELLED)


def end_open_sessions() -> None:
    """At exit: every response still in flight ends as ``cancelled``."""
    for session in list(_sessions.values()):
        session.end_all(STATUS_CANCELLED)


_pipeline.before_exit.append(end_open_sessions)


def _is_connection_lost(exc: BaseException) -> bool:
    exceptions = sys.modules.get("websockets.exceptions")
    closed = getattr(exceptions, "ConnectionClosed", None)
    return closed is not None and isinstance(exc, closed)


# Wrappers ------------------------------------------------------------------------------


Wrapper = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]


_sending: ContextVar[bool] = ContextVar("llmlog_ws_sending", default=False)
"""Set while ``send(event)`` runs: a ``send_raw`` it calls is the same message."""


def wrappers(prefix: str, kind: type[Session]) -> dict[str, Wrapper]:
    """qualname -> wrapt wrapper for ``{prefix}Connection`` (+ ``Async``, + managers).

    Methods a class only inherits are wrapped on that class itself (wrapt restores
    that exactly), never on the SDK's WebSocket base class that other protocols share.
    """

    def observe(instance: Any, send: bool, data: Any) -> None:
        if not is_active("openai") or (send and _sending.get()):
            return  # uninstrumented (a stale bound wrapper), or seen already
        try:  # not _guard.guarded: this runs for every message
            session = _session(instance, kind)
            if session is None:
                pass
            elif send:
                session.sent(data)
            else:
                session.received(data)
        except Exception as exc:
            _guard.report_internal_error(exc, "reading a WebSocket message")

    def message(args: tuple[Any, ...], kwargs: dict[str, Any], name: str) -> Any:
        return args[0] if args else kwargs.get(name)

    def send(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        observe(instance, True, message(args, kwargs, "event"))
        token = _sending.set(True)
        try:
            return wrapped(*args, **kwargs)
        finally:
            _sending.reset(token)

    async def async_send(
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        observe(instance, True, message(args, kwargs, "event"))
        token = _sending.set(True)
        try:
            return await wrapped(*args, **kwargs)
        finally:
            _sending.reset(token)

    def send_raw(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        observe(instance, True, message(args, kwargs, "data"))
        return wrapped(*args, **kwargs)

    async def async_send_raw(
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        observe(instance, True, message(args, kwargs, "data"))
        return await wrapped(*args, **kwargs)

    def queued(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        observe(instance, True, message(args, kwargs, "event"))
        return wrapped(*args, **kwargs)

    def lost(instance: Any, exc: BaseException) -> None:
        if _is_connection_lost(exc):
            with _guard.guarded("recording a lost WebSocket connection"):
                session = _sessions.get(id(_queue_of(instance)))
                if session is not None:
                    session.end_all(STATUS_ERROR, exc)

    def recv_bytes(
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        try:
            data = wrapped(*args, **kwargs)
        except BaseException as exc:
            lost(instance, exc)
            raise
        observe(instance, False, data)
        return data

    async def async_recv_bytes(
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        try:
            data = await wrapped(*args, **kwargs)
        except BaseException as exc:
            lost(instance, exc)
            raise
        observe(instance, False, data)
        return data

    def closing(instance: Any) -> None:
        with _guard.guarded("recording a closed WebSocket connection"):
            session = _sessions.get(id(_queue_of(instance)))
            if session is not None:
                session.end_all(STATUS_CANCELLED)

    def close(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        closing(instance)
        return wrapped(*args, **kwargs)

    async def async_close(
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        closing(instance)
        return await wrapped(*args, **kwargs)

    return {
        f"{prefix}Connection.send": send,
        f"Async{prefix}Connection.send": async_send,
        f"{prefix}Connection.send_raw": send_raw,
        f"Async{prefix}Connection.send_raw": async_send_raw,
        f"{prefix}Connection.recv_bytes": recv_bytes,
        f"Async{prefix}Connection.recv_bytes": async_recv_bytes,
        f"{prefix}Connection.close": close,
        f"Async{prefix}Connection.close": async_close,
        f"{prefix}ConnectionManager.send": queued,
        f"Async{prefix}ConnectionManager.send": queued,
    }


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
