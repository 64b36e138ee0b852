"""WebSocket sessions that are themselves one model call: a realtime translation, a Live
session. No request, response or usage event splits them, so the session is the record.

One capture runs from the connection's opening to its end: the app's ``close()`` or
the server's ``session.closed`` (ok: closing is how such a call ends), a lost
connection (error; after the SDK reconnects, the server's event that begins a session starts
a new record), a
collected connection or exit (cancelled). Both protocols stream what was heard and
said as ``session.input_transcript.delta`` / ``session.output_transcript.delta``:
those are kept (bounded per direction; audio never), ttft is the first translated or
spoken audio or text. An ``error`` event is the record's error when nothing but the
session's close followed it.
"""

from __future__ import annotations

import time
from typing import Any, Final

from llmlog._record import STATUS_ERROR, STATUS_OK, Capture
from llmlog.instrumentors._in_flight import finish
from llmlog.instrumentors._openai_request import plain, stub_data_urls
from llmlog.instrumentors._openai_websocket import (
    Session,
    connection_closed,
    decode,
    error_fields,
    member,
)

INPUT: Final = "session.input_transcript.delta"
OUTPUT: Final = "session.output_transcript.delta"
_OUTPUT_AUDIO: Final = "session.output_audio.delta"
_MAX_KEPT: Final = 100_000  # messages kept per kind (transcript deltas: hours of speech)


class SessionCall(Session):
    """The one call on a connection; after a lost connection, the next one."""

    STARTS: frozenset[str] | None = None
    """The server events that begin a new call after a lost connection (None: any)."""

    def __init__(self) -> None:
        super().__init__()
        self._call: Capture | None = self._capture(None)
        self._over = False  # closed (the app, the server's session.closed), collected, exit

    def _current(self, kind: str | None) -> Capture | None:
        """The call in progress; after a lost connection, the one a server event of
        ``kind`` begins (None once over)."""
        cap = self._call
        if cap is None and not self._over and (self.STARTS is None or kind in self.STARTS):
            with self._lock:
                cap = self._call = self._call or self._capture(None)
        return cap

    def sent(self, data: Any) -> Capture | None:
        return None  # settings and audio: the server's echo and transcripts say what counts

    def _read(self, cap: Capture, kind: str | None, data: Any) -> bool:
        """Keep what every such session streams; False: ``kind`` is the subclass's."""
        if kind == "error":
            cap.extra["ws_error"] = data  # the record's error if nothing follows it
            return True
        if kind != "session.closed":
            cap.extra.pop("ws_error", None)  # the session went on after it
        if kind in (OUTPUT, INPUT):
            if kind == OUTPUT and cap.first_chunk_perf is None:
                cap.first_chunk_perf = time.perf_counter()
            keep(cap, kind, data)
        elif kind == _OUTPUT_AUDIO:
            if cap.first_chunk_perf is None:
                cap.first_chunk_perf = time.perf_counter()  # what the listener hears first
        else:
            return False
        return True

    def opened(self, manager: Any) -> None:
        """The call starts when the connection opens (events may be queued before)."""
        cap = self._call
        if cap is not None:
            cap.start_ns, cap.start_perf = time.time_ns(), time.perf_counter()

    def closed(self) -> None:
        self._end(STATUS_OK, over=True)  # closing is how such a call ends

    def end_all(self, status: str, error: BaseException | None = None) -> None:
        self._end(status, error, over=True)  # collected, exit, uninstrument: cancelled

    def lost(self, error: BaseException) -> None:
        # A normal close by the server (1000, 1001) ends it well; the SDK may reconnect.
        if connection_closed(error, normally=True):
            self._end(STATUS_OK)
        else:
            self._end(None, error)

    def _end(
        self, status: str | None, error: BaseException | None = None, *, over: bool = False
    ) -> None:
        with self._lock:
            cap, self._call = self._call, None
            self._over = self._over or over
        if cap is not None:
            self._ending(cap)
            finish(cap, error=error, status=status)

    def _ending(self, cap: Capture) -> None:
        """What a subclass adds to the capture as it ends."""


def keep(cap: Capture, kind: str, data: Any) -> None:
    """Keep a message of ``kind``, unless ``_MAX_KEPT`` of them are kept already (counted
    per kind on the capture: a long source transcript never crowds out the output)."""
    kept = cap.extra.get(kind, 0)
    if kept < _MAX_KEPT and cap.chunks is not None:
        cap.extra[kind] = kept + 1
        cap.chunks.append(data)


def settings_of(cap: Capture) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the settings message a capture holds, the session settings in it) (writer)."""
    message = decode(cap.extra.get("ws_settings"))
    message = message if isinstance(message, dict) else {}
    return message, member(message, "session")


def session_fields(session: dict[str, Any], not_params: frozenset[str]) -> dict[str, Any]:
    """Record fields from a session's settings: its model (asked and answered alike),
    its id, and the rest as params, nulls left out (writer)."""
    model = session.get("model")
    model = model if isinstance(model, str) else None
    return {
        "model": model,
        "response_model": model,
        "response_id": session.get("id"),
        "params": {
            k: stub_data_urls(plain(v))
            for k, v in session.items()
            if k not in not_params and v is not None
        },
    }


def call_error(cap: Capture, fields: dict[str, Any]) -> None:
    """The error event nothing followed, as the record's status and error (writer)."""
    event = decode(cap.extra.get("ws_error"))
    if isinstance(event, dict):
        fields["status"], fields["error"] = STATUS_ERROR, error_fields(event)
