"""Realtime translation sessions (``realtime.translations.connect()``): one record each.

A translation session is one continuous model call: the app streams audio in, the
server streams the translation out (audio, and its transcript), and it ends when
the connection does. There is no request, response or usage event to split it
by, so the session is the record: its model and settings (``session.created`` /
``session.updated``), the source transcript as the prompt when the session asks
for one, the translated transcript as the output, ttft at the first translated
delta. Closing ends it (``ok``: there is nothing left to cancel; a collected
connection or exit: ``cancelled``), a lost connection as an error (a normal close
by the server: ``ok``). Audio is never kept.
"""

from __future__ import annotations

import time
from typing import Any, Final

from llmlog._record import STATUS_ERROR, STATUS_OK, Capture, empty_output
from llmlog.instrumentors._base import finish
from llmlog.instrumentors._openai_request import plain, stub_data_urls
from llmlog.instrumentors._openai_websocket import (
    Session,
    connection_closed,
    decode,
    decoded_events,
    error_fields,
    event_type,
    member,
)

_INPUT: Final = "session.input_transcript.delta"
_OUTPUT: Final = "session.output_transcript.delta"
_OUTPUT_AUDIO: Final = "session.output_audio.delta"
_MAX_DELTAS: Final = 100_000  # transcript deltas kept per direction (hours of speech)
_NOT_PARAMS: Final = frozenset({"model", "id", "object", "type", "expires_at"})


class RealtimeTranslationSession(Session):
    """The translation on a connection, from its first message to its close; after a
    connection the SDK recovers from, the new server session is a new record."""

    METHOD = "realtime.translations.connect"
    OPERATION = "realtime.translation"

    def __init__(self) -> None:
        super().__init__()
        self._translation: Capture | None = self._capture(None)
        self._over = False  # closed (the app, the server's session.closed), collected, exit

    @staticmethod
    def extract(cap: Capture) -> dict[str, Any]:
        return extract(cap)

    def sent(self, data: Any) -> Capture | None:
        return None  # settings and audio: the server's echo and transcripts say what counts

    def received(self, data: Any) -> None:
        kind, _ = event_type(data)
        cap = self._translation
        if cap is None and kind == "session.created" and not self._over:
            with self._lock:  # reconnected after a lost connection: a new server session
                cap = self._translation = self._translation or self._capture(None)
        if cap is None or cap.chunks is None:
            return
        if kind in (_OUTPUT, _INPUT):
            if kind == _OUTPUT and cap.first_chunk_perf is None:
                cap.first_chunk_perf = time.perf_counter()
            kept = cap.extra.get(kind, 0)  # deltas kept in this direction
            if kept < _MAX_DELTAS:
                cap.extra[kind] = kept + 1
                cap.chunks.append(data)
        elif kind == "error":  # the record's error if nothing follows it
            cap.chunks.append(data)
        elif kind == _OUTPUT_AUDIO:
            if cap.first_chunk_perf is None:
                cap.first_chunk_perf = time.perf_counter()  # what the listener hears first
        elif kind == "session.created" or kind == "session.updated":
            cap.extra["ws_settings"] = data
        elif kind == "session.closed":
            self._end(STATUS_OK, over=True)

    def restart_clocks(self) -> None:
        """The translation starts when the connection opens (events may be queued before)."""
        cap = self._translation
        if cap is not None:
            cap.start_ns, cap.start_perf = time.time_ns(), time.perf_counter()

    def closed(self) -> None:
        self._end(STATUS_OK, over=True)  # closing is how a translation ends

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
            cap, self._translation = self._translation, None
            self._over = self._over or over
        if cap is not None:
            finish(cap, error=error, status=status)


# Writer thread -------------------------------------------------------------------------


def extract(cap: Capture) -> dict[str, Any]:
    """Record fields of one translation session."""
    session = member(decode(cap.extra.get("ws_settings")), "session")
    heard: list[str] = []
    said: list[str] = []
    events = decoded_events(cap)
    for event in events:
        delta = event.get("delta")
        if isinstance(delta, str):
            (said if event.get("type") == _OUTPUT else heard).append(delta)
    model = session.get("model")
    output = empty_output()
    output["text"] = "".join(said) or None
    audio: dict[str, Any] = {"type": "input_audio", "transcript": "".join(heard) or None}
    fields: dict[str, Any] = {
        "model": model if isinstance(model, str) else None,
        "response_model": model if isinstance(model, str) else None,
        "response_id": session.get("id"),
        "system": None,
        "messages": [{"role": "user", "content": [audio]}],
        "params": {
            k: stub_data_urls(plain(v))
            for k, v in session.items()
            if k not in _NOT_PARAMS and v is not None
        },
        "output": output,
        "usage": None,
    }
    if events and events[-1].get("type") == "error":  # what ended it, if nothing followed
        fields["status"], fields["error"] = STATUS_ERROR, error_fields(events[-1])
    return fields
