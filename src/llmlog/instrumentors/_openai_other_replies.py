"""OpenAI answers other than text -> record fields: embeddings (counts, never vectors),
images and speech (stubs), transcripts, moderations, decisions, token counts, batches,
live sessions; and :data:`READERS`, the reader of each operation's non-stream result.

Like :mod:`llmlog.instrumentors._openai_response` (the text answers), pure functions on
the writer thread, reading the SDK's models or the same data as decoded JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from typing import Any

from llmlog._record import empty_output, media_stub, string_or_none, usage_record
from llmlog.instrumentors._openai_request import plain
from llmlog.instrumentors._openai_response import (
    Reply,
    read_chat,
    read_completion,
    read_response,
    response_ids,
)
from llmlog.instrumentors._openai_usage import input_output_usage, int_or_none, raw_usage
from llmlog.instrumentors._sdk_field import field


def read_embeddings(response: Any) -> Reply:
    """How many vectors and of what size; never the vectors themselves."""
    data = field(response, "data") or []
    output = empty_output()
    output["embeddings"] = len(data)
    output["dimensions"] = _dimensions(field(data[0], "embedding")) if data else None
    usage = field(response, "usage")
    return {
        "response_id": None,
        "response_model": string_or_none(field(response, "model")),
        "output": output,
        "usage": None
        if usage is None
        else usage_record(
            input_tokens=int_or_none(field(usage, "prompt_tokens")),
            total_tokens=int_or_none(field(usage, "total_tokens")),
            raw=raw_usage(usage),
        ),
    }


def _dimensions(vector: Any) -> int | None:
    if isinstance(vector, list):
        return len(vector)
    if isinstance(vector, str):  # encoding_format="base64": little-endian float32
        try:
            return len(base64.b64decode(vector)) // 4
        except (binascii.Error, ValueError):
            return None
    return None


def read_images(response: Any) -> Reply:
    """Image URLs kept, generated base64 images stubbed, revised prompts as text."""
    images = []
    revised = []
    for image in field(response, "data") or ():
        b64 = field(image, "b64_json")
        images.append(
            {
                "url": string_or_none(field(image, "url")),
                "b64_json": media_stub("image", None, b64) if isinstance(b64, str) else None,
            }
        )
        if isinstance(field(image, "revised_prompt"), str):
            revised.append(field(image, "revised_prompt"))
    output = empty_output()
    output["text"] = "\n".join(revised) if revised else None
    output["images"] = images
    return {
        "response_id": None,
        "response_model": None,
        "output": output,
        "usage": input_output_usage(field(response, "usage")),
    }


def read_transcript(response: Any) -> Reply:
    """Transcription / translation: the text, and usage when billed in tokens."""
    output = empty_output()
    output["text"] = (
        response if isinstance(response, str) else string_or_none(field(response, "text"))
    )
    usage = field(response, "usage")
    tokens = usage is not None and field(usage, "type") != "duration"
    return {
        "response_id": None,
        "response_model": None,
        "output": output,
        "usage": input_output_usage(usage)
        if tokens
        else (None if usage is None else usage_record(raw=raw_usage(usage))),
    }


def read_speech(response: Any) -> Reply:
    """Generated speech: what the headers say of the audio (its bytes are the app's), or with
    ``stream_format="sse"`` what the events the SDK has read say: the audio and the usage."""
    http = field(response, "response") or field(response, "http_response") or response
    headers = field(http, "headers")
    mime = headers.get("content-type") if headers is not None else None
    if isinstance(mime, str) and mime.startswith("text/event-stream"):
        return _speech_events(http)
    size = headers.get("content-length") if headers is not None else None
    output = empty_output()
    output["audio"] = {
        "type": "audio",
        "mime": mime,
        "bytes": int(size) if isinstance(size, str) and size.isdigit() else _read_size(http),
    }
    return {"response_id": None, "response_model": None, "output": output, "usage": None}


def _read_size(http: Any) -> int | None:
    """The size of a body the SDK has read (chunked, so no content-length); None while the
    app has yet to read it (``with_streaming_response``): reading it is the app's."""
    try:
        content = http.content  # raises, reading nothing, if the body has not been read
    except Exception:
        return None
    return len(content) if isinstance(content, bytes) else None


def _speech_events(http: Any) -> Reply:
    """``speech.audio.delta`` events (base64 audio) and the ``speech.audio.done`` one, which
    carries the usage gpt-4o-mini-tts is billed by, from a body the SDK has read."""
    from openai._streaming import SSEDecoder

    reply: Reply = {
        "response_id": None,
        "response_model": None,
        "output": empty_output(),
        "usage": None,
    }
    try:
        content = http.content
    except Exception:  # not read: the body is the app's to read
        return reply
    audio: list[bytes] = []
    for event in SSEDecoder().iter_bytes(iter([content])):
        try:
            data = json.loads(event.data)
        except ValueError:
            continue
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "speech.audio.delta" and isinstance(data.get("audio"), str):
            try:
                audio.append(base64.b64decode(data["audio"]))
            except (binascii.Error, ValueError):
                continue
        elif kind == "speech.audio.done":
            reply["usage"] = input_output_usage(data.get("usage"))
    reply["output"]["audio"] = media_stub("audio", None, b"".join(audio))
    return reply


def read_moderation(response: Any) -> Reply:
    """Which inputs were flagged and for which categories."""
    results = []
    for result in field(response, "results") or ():
        categories = field(result, "categories")
        flagged = plain(categories) if categories is not None else {}
        results.append(
            {
                "flagged": bool(field(result, "flagged")),
                "categories": sorted(k for k, v in flagged.items() if v is True),
            }
        )
    output = empty_output()
    output["moderation"] = results
    return {**response_ids(response), "output": output, "usage": None}


def read_decision(decision: Any) -> Reply:
    """Decisions: the answers in question order (a refusal is one of them), and usage."""
    output = empty_output()
    output["answers"] = [plain(answer) for answer in field(decision, "answers") or ()]
    return {
        "response_id": None,
        "response_model": string_or_none(field(decision, "model")),
        "output": output,
        "usage": input_output_usage(field(decision, "usage")),
    }


def read_token_count(count: Any) -> Reply:
    """``responses.input_tokens.count`` bills nothing: the count is output, usage stays null."""
    output = empty_output()
    output["token_count"] = int_or_none(field(count, "input_tokens"))
    return {"response_id": None, "response_model": None, "output": output, "usage": None}


def read_batch(batch: Any) -> Reply:
    """A submitted batch job: its id and status (its answers arrive later, in a file)."""
    output = empty_output()
    output["batch_status"] = string_or_none(field(batch, "status"))
    return {
        "response_id": string_or_none(field(batch, "id")),
        "response_model": None,
        "output": output,
        "usage": None,
    }


def read_live_session(created: Any) -> Reply:
    """A Live session created for WebRTC: its id (the conversation happens elsewhere)."""
    return {
        "response_id": string_or_none(field(field(created, "session"), "id")),
        "response_model": None,
        "output": empty_output(),
        "usage": None,
    }


READERS: Mapping[str, Callable[[Any], Reply]] = {
    "chat.completions": read_chat,
    "responses": read_response,
    "completions": read_completion,
    "embeddings": read_embeddings,
    "images": read_images,
    "audio.transcriptions": read_transcript,
    "audio.translations": read_transcript,
    "audio.speech": read_speech,
    "moderations": read_moderation,
    "decisions": read_decision,
    "responses.input_tokens": read_token_count,
    "batches": read_batch,
    "live.create": read_live_session,
}
"""Non-stream result reader per ``operation``."""
