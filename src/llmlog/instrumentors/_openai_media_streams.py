"""Image and transcription streams -> record fields, and whether their last event came.

Their events are read once, as they are decoded (an image stream's partial images are
large: never all held at once); :class:`LastEventWatch` notes on the way whether the
stream's terminal event went by, so a stream the server ended before it is not ``ok``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

from llmlog._record import empty_output, media_stub
from llmlog.instrumentors._openai_response import Reply
from llmlog.instrumentors._openai_usage import input_output_usage
from llmlog.instrumentors._sdk_field import field

LAST_EVENT_TYPES: Final[Mapping[str, frozenset[str]]] = {
    "images": frozenset({"image_generation.completed", "image_edit.completed"}),
    "audio.transcriptions": frozenset({"transcript.text.done"}),
}
"""The event types that end a whole stream, per ``operation`` (openai's
``ImageGenStreamEvent``, ``ImageEditStreamEvent``, ``TranscriptionStreamEvent``)."""


class LastEventWatch:
    """Passes a stream's events through, noting whether one of ``kinds`` went by."""

    __slots__ = ("kinds", "seen")

    def __init__(self, kinds: frozenset[str]) -> None:
        self.kinds = kinds
        self.seen = False

    def watch(self, events: Iterable[Any]) -> Iterable[Any]:
        """``events`` as they are (untouched when there is nothing to watch for)."""
        return self._watched(events) if self.kinds else events

    def _watched(self, events: Iterable[Any]) -> Iterator[Any]:
        for event in events:
            if not self.seen and field(event, "type") in self.kinds:
                self.seen = True
            yield event


def accumulate_images(events: Iterable[Any]) -> Reply:
    """Image generation/edit events: final images (stubbed) and usage from ``*.completed``."""
    images = []
    usage = None
    for event in events:
        kind = field(event, "type")
        if isinstance(kind, str) and kind.endswith(".completed"):
            b64 = field(event, "b64_json")
            images.append(
                {"url": None, "b64_json": media_stub("image", None, b64) if b64 else None}
            )
            usage = field(event, "usage") or usage
    output = empty_output()
    output["images"] = images
    return {
        "response_id": None,
        "response_model": None,
        "output": output,
        "usage": input_output_usage(usage),
    }


def accumulate_transcript(events: Iterable[Any]) -> Reply:
    """Transcription events: the ``done`` text (or the deltas so far) and its usage."""
    deltas: list[str] = []
    text = usage = None
    for event in events:
        kind = field(event, "type")
        if kind == "transcript.text.delta" and isinstance(field(event, "delta"), str):
            deltas.append(field(event, "delta"))
        elif kind == "transcript.text.done":
            text = field(event, "text")
            usage = field(event, "usage")
    output = empty_output()
    output["text"] = text if isinstance(text, str) else ("".join(deltas) or None)
    return {
        "response_id": None,
        "response_model": None,
        "output": output,
        "usage": input_output_usage(usage),
    }
