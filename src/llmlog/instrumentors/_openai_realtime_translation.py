"""Realtime translation sessions (``realtime.translations.connect()``): one record each.

A translation session is one continuous model call: the app streams audio in, the
server streams the translation out (audio, and its transcript), and it ends when
the connection does. There is no request, response or usage event to split it
by, so the session is the record: its model and settings (``session.created`` /
``session.updated``), the source transcript as the prompt when the session asks
for one, the translated transcript as the output, ttft at the first translated
delta; how it ends is ``SessionCall``'s. Audio is never kept.
"""

from __future__ import annotations

from typing import Any, Final

from llmlog._record import STATUS_OK, Capture, empty_output
from llmlog.instrumentors._openai_session_call import (
    OUTPUT,
    SessionCall,
    call_error,
    session_fields,
    settings_of,
)
from llmlog.instrumentors._openai_websocket import decoded_events, event_type

_NOT_PARAMS: Final = frozenset({"model", "id", "object", "type", "expires_at"})


class RealtimeTranslationSession(SessionCall):
    """The translation on a connection, from its opening to its close; after a connection
    the SDK recovers from, the new server session is a new record."""

    METHOD = "realtime.translations.connect"
    OPERATION = "realtime.translation"
    STARTS = frozenset({"session.created"})  # a reconnect's new server session

    @staticmethod
    def extract(cap: Capture) -> dict[str, Any]:
        return extract(cap)

    def received(self, data: Any) -> None:
        kind, _ = event_type(data)
        cap = self._current(kind)
        if cap is None or self._read(cap, kind, data):
            return
        if kind == "session.created" or kind == "session.updated":
            cap.extra["ws_settings"] = data
        elif kind == "session.closed":
            self._end(STATUS_OK, over=True)


# Writer thread -------------------------------------------------------------------------


def extract(cap: Capture) -> dict[str, Any]:
    """Record fields of one translation session."""
    _, session = settings_of(cap)
    heard: list[str] = []
    said: list[str] = []
    for event in decoded_events(cap):
        delta = event.get("delta")
        if isinstance(delta, str):
            (said if event.get("type") == OUTPUT else heard).append(delta)
    output = empty_output()
    output["text"] = "".join(said) or None
    audio: dict[str, Any] = {"type": "input_audio", "transcript": "".join(heard) or None}
    fields: dict[str, Any] = {
        **session_fields(session, _NOT_PARAMS),
        "system": None,
        "messages": [{"role": "user", "content": [audio]}],
        "output": output,
        "usage": None,
    }
    call_error(cap, fields)
    return fields
