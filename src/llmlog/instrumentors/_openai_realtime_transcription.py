"""Transcriptions of the user's audio in a realtime session: one record each.

When the session asks for it (``audio.input.transcription``), the server
transcribes each committed input with a separate model, billed on its own. Each
is one record (operation ``audio.transcriptions``), from
``input_audio_buffer.committed`` to its transcription's ``completed`` or
``failed`` event; the session's transcription settings are its model, prompt
and params. The audio itself never reaches llmlog.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Final

from llmlog._record import STATUS_CANCELLED, STATUS_ERROR, STATUS_OK, Capture
from llmlog.instrumentors._in_flight import finish
from llmlog.instrumentors._openai_other_replies import read_transcript
from llmlog.instrumentors._openai_request import plain
from llmlog.instrumentors._openai_websocket import (
    decode,
    decoded_events,
    error_fields,
    member,
    raw_string,
    string_field,
)

TRANSCRIPTION: Final = "conversation.item.input_audio_transcription."
TRANSCRIBED: Final = TRANSCRIPTION + "completed"
COMMITTED: Final = "input_audio_buffer.committed"
_ITEM_ID: Final = string_field("item_id")
_MAX_TRANSCRIBING: Final = 100  # transcriptions in flight (a server that never finishes them)
_MAX_TRANSCRIBED: Final = 1000  # item ids whose transcription ended, remembered to ignore


def _transcription_config(settings: Any) -> dict[str, Any]:
    """The session's input transcription settings (``{}``: the audio is not transcribed)."""
    session = member(settings, "session")
    config = member(member(member(session, "audio"), "input"), "transcription")
    return config or member(session, "input_audio_transcription")  # the beta protocol's


class Transcriptions:
    """The transcriptions in flight on one realtime connection, by item id.

    ``new_capture`` makes a capture of the connection's session holding its settings,
    which this turns into a transcription's."""

    def __init__(self, new_capture: Callable[[], Capture]) -> None:
        self._new_capture = new_capture
        self._lock = threading.Lock()
        self._transcribes = False  # the settings ask for the user's audio to be transcribed
        self._transcribing: dict[str, Capture] = {}  # by item id
        self._transcribed: dict[str, None] = {}  # item ids whose transcription ended (bounded)

    def configured(self, settings: Any) -> None:
        """``session.created`` / ``session.updated`` (rare: decoded here)."""
        self._transcribes = bool(_transcription_config(decode(settings)))

    def received(self, kind: str, data: Any) -> None:
        """Input audio committed, or an event of its transcription. A transcription starts
        at the first of them (a streaming model's deltas may come before the commit) when
        the session asks for one; an end without a start is a transcription too. Each ends
        once: a second end, or one racing a close, adds nothing."""
        if kind.endswith(".segment"):
            return  # diarized pieces of what ``completed`` holds whole
        item_id = raw_string(data, _ITEM_ID, 512)
        if item_id is None:
            event = decode(data)
            item_id = event.get("item_id") if isinstance(event, dict) else None
        if not isinstance(item_id, str):
            return
        finished = kind == TRANSCRIBED or kind.endswith(".failed")
        ended: list[tuple[Capture, str]] = []
        with self._lock:
            cap = self._transcribing.get(item_id)
            starts = finished or self._transcribes
            if cap is None and starts and item_id not in self._transcribed:
                cap = self._transcribing[item_id] = self._capture(item_id)
                cap.extra["seen_late"] = kind != COMMITTED  # its time to first delta: unknown
                if len(self._transcribing) > _MAX_TRANSCRIBING:
                    oldest = self._ended(next(iter(self._transcribing)))
                    ended.append((oldest, STATUS_CANCELLED))
            if cap is not None and cap.chunks is not None and kind != COMMITTED:
                first = not finished and cap.first_chunk_perf is None
                if first and not cap.extra["seen_late"]:
                    cap.first_chunk_perf = time.perf_counter()
                cap.chunks.append(data)
                if finished:
                    status = STATUS_OK if kind == TRANSCRIBED else STATUS_ERROR
                    ended.append((self._ended(item_id), status))
        for cap, status in ended:
            finish(cap, status=status)

    def end(self, status: str | None, error: BaseException | None = None) -> None:
        """Every transcription in flight ends (closed, lost, collected, exit)."""
        with self._lock:
            caps = [self._ended(item) for item in list(self._transcribing)]
        for cap in caps:
            finish(cap, error=error, status=status)

    def _ended(self, item_id: str) -> Capture:
        """Take a transcription out of those in flight; its item's later events are ignored."""
        self._transcribed[item_id] = None
        if len(self._transcribed) > _MAX_TRANSCRIBED:
            del self._transcribed[next(iter(self._transcribed))]
        return self._transcribing.pop(item_id)

    def _capture(self, item_id: str) -> Capture:
        cap = self._new_capture()
        cap.operation, cap.extract = "audio.transcriptions", extract
        cap.extra["item_id"] = item_id
        return cap


# Writer thread -------------------------------------------------------------------------


def extract(cap: Capture) -> dict[str, Any]:
    """Record fields of one transcription of the user's audio: the session's transcription
    settings are model, prompt and params; the audio itself never reaches llmlog."""
    config = _transcription_config(decode(cap.extra.get("ws_settings")))
    events = decoded_events(cap)
    last = events[-1] if events else {}
    model, prompt = config.get("model"), config.get("prompt")
    audio: list[dict[str, Any]] = [{"type": "input_audio"}]
    done = last.get("type") == TRANSCRIBED
    deltas = (e.get("delta") for e in events if str(e.get("type")).endswith(".delta"))
    text = last.get("transcript") if done else "".join(d for d in deltas if isinstance(d, str))
    reply = read_transcript({"text": text or None, "usage": last.get("usage") if done else None})
    fields: dict[str, Any] = {
        "model": model if isinstance(model, str) else None,
        "response_model": None,
        "response_id": cap.extra.get("item_id"),
        "system": None,
        "messages": [
            {
                "role": "user",
                "content": ([{"type": "text", "text": prompt}] if prompt else []) + audio,
            }
        ],
        "params": {
            k: plain(v) for k, v in config.items() if k not in ("model", "prompt") and v is not None
        },
        "output": reply["output"],
        "usage": reply["usage"],
    }
    if str(last.get("type")).endswith(".failed"):
        fields["status"], fields["error"] = STATUS_ERROR, error_fields(last)
    return fields
