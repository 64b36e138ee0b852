"""OpenAI stream chunks/events -> the same record fields as a non-stream reply.

Run on the writer thread over the chunks the app received, in order: the
events' JSON as ``_sse_tee`` kept it (decoded), or the SDK's chunk objects
for a stream it could not tee. Streams may be partial (closed early, failed mid-way) and chunks
may have empty ``choices`` (the ``include_usage`` chunk, Azure's filter
results): the accumulators keep whatever arrived. No usage in the stream
means ``usage: None``, never a guess.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import SimpleNamespace
from typing import Any, Final

from llmlog._record import (
    Capture,
    decode_json_answer,
    empty_output,
    media_stub,
    stream_end,
    string_or_none,
)
from llmlog.instrumentors._openai_answer_facts import (
    add_chat_facts,
    merge_filters,
    undeclared,
)
from llmlog.instrumentors._openai_media_streams import (
    LAST_EVENT_TYPES,
    LastEventWatch,
    accumulate_images,
    accumulate_transcript,
)
from llmlog.instrumentors._openai_response import Reply, content_parts, extra
from llmlog.instrumentors._openai_responses_stream import (
    TERMINAL_EVENTS,
    accumulate_responses,
    final_answers,
    output_items,
)
from llmlog.instrumentors._openai_usage import completion_usage
from llmlog.instrumentors._sdk_field import field
from llmlog.instrumentors._sse_tee import decoded


class _Choice:
    """What one ``choices[index]`` of a chat / completions stream has said so far."""

    __slots__ = ("audio", "calls", "filters", "finish_reason", "refusal", "text", "thinking")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.refusal: list[str] = []
        self.thinking: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: Any = None
        self.audio: _Audio | None = None
        self.filters: dict[str, Any] | None = None  # Azure's content filter verdicts

    def add_tool_call(self, fragment: Any) -> None:
        """Ids, types and names arrive once per ``index``; ``arguments`` in pieces."""
        index = field(fragment, "index")
        call = self.calls.setdefault(
            index if isinstance(index, int) else len(self.calls),
            {"id": None, "type": "function", "name": None, "arguments": []},
        )
        if field(fragment, "id"):
            call["id"] = field(fragment, "id")
        if field(fragment, "type"):
            call["type"] = field(fragment, "type")
        self._add_function(call, field(fragment, "function") or field(fragment, "custom"))

    def add_function_call(self, fragment: Any) -> None:
        """The legacy ``function_call`` delta (one call, no index)."""
        call = self.calls.setdefault(
            -1, {"id": None, "type": "function", "name": None, "arguments": []}
        )
        self._add_function(call, fragment)

    @staticmethod
    def _add_function(call: dict[str, Any], function: Any) -> None:
        if function is None:
            return
        if field(function, "name"):
            call["name"] = field(function, "name")
        piece = field(function, "arguments") or field(function, "input")
        if isinstance(piece, str):
            call["arguments"].append(piece)

    def output(self) -> dict[str, Any]:
        output = empty_output()
        thinking = self.thinking
        try:
            output["text"] = "".join(self.text) or None
        except TypeError:  # a content that is not a string: a list of chunks (Mistral)
            output["text"], thinking = _text_and_thinking(self.text, thinking)
        output["refusal"] = _joined(self.refusal)
        output["finish_reason"] = string_or_none(self.finish_reason)
        output["tool_calls"] = [
            {**call, "arguments": "".join(call["arguments"])}
            for _, call in sorted(self.calls.items(), key=lambda item: item[0])
        ]
        if thinking:
            output["thinking"] = "".join(thinking)
        if self.audio is not None:
            output["audio"] = self.audio.output()
        if self.filters is not None:
            output["content_filter_results"] = self.filters
        return output


class _Audio:
    """A spoken answer arriving in pieces (``delta.audio``): its id, transcript, and the
    audio itself only as a stub (size and sha256 of all pieces), like a whole answer's."""

    __slots__ = ("data", "id", "transcript")

    def __init__(self) -> None:
        self.id: Any = None
        self.transcript: list[str] = []
        self.data: list[bytes] = []

    def add(self, piece: Any) -> None:
        self.id = self.id or field(piece, "id")
        transcript, data = field(piece, "transcript"), field(piece, "data")
        if isinstance(transcript, str):
            self.transcript.append(transcript)
        if isinstance(data, str):
            with contextlib.suppress(binascii.Error, ValueError):
                self.data.append(base64.b64decode(data))

    def output(self) -> dict[str, Any]:
        data = b"".join(self.data)
        return {
            "id": self.id,
            "transcript": "".join(self.transcript) or None,
            "data": media_stub("audio", None, data) if data else None,
        }


def _joined(pieces: list[Any]) -> str | None:
    """Pieces of text joined (None if empty); a piece that is not a string is left out."""
    try:
        return "".join(pieces) or None
    except TypeError:
        return "".join(piece for piece in pieces if isinstance(piece, str)) or None


def _text_and_thinking(contents: list[Any], thinking: list[str]) -> tuple[str | None, list[str]]:
    """Content deltas that are not all strings: each list of chunks split into its text and
    its thinking (after the thinking sent apart); anything else left out."""
    texts: list[str] = []
    thoughts = list(thinking)
    for content in contents:
        text, thought = content_parts(content)
        if text:
            texts.append(text)
        if thought:
            thoughts.append(thought)
    return "".join(texts) or None, thoughts


def _outputs(choices: Mapping[int, _Choice]) -> dict[str, Any]:
    outputs = [choice.output() for _, choice in sorted(choices.items())]
    if not outputs:
        return empty_output()
    output = dict(outputs[0])
    if len(outputs) > 1:
        output["choices"] = outputs
    return output


def _index(choice: Any) -> int:
    """``choice.index``: legacy completions read their decoded chunks as dicts."""
    index = field(choice, "index")
    return index if isinstance(index, int) else 0


def as_attributes(value: Any) -> Any:
    """Decoded-JSON chunks as attribute objects, the way the SDK yields them."""
    if isinstance(value, dict):
        return SimpleNamespace(**{k: as_attributes(v) for k, v in value.items()})
    if isinstance(value, list):
        return [as_attributes(v) for v in value]
    return value


def received(chunks: Iterable[Any]) -> Iterator[Any]:
    """A stream's kept chunks (event texts, decoded as they are read) as the app received
    them: an event carrying an ``error`` was raised as ``APIError`` by the SDK, not
    yielded (its error is the record's)."""
    return (c for c in decoded(chunks) if not (type(c) is dict and c.get("error")))


def accumulate_chat(chunks: Iterable[Any]) -> Reply:
    """``ChatCompletionChunk``s -> text, tool calls assembled per index, finish reason, usage.

    The hot loop of a streamed record (hundreds of chunks, on the writer thread):
    plain attribute reads only, which the SDK's models answer from their ``__dict__``.
    """
    choices: dict[int, _Choice] = {}
    response_id = model = usage = tier = chunk = fingerprint = moderation = None
    facts: dict[str, Any] = {}  # what the answer says beside it (Azure's prompt filters...)
    for chunk in chunks:
        if type(chunk) is dict:
            text: str | None = _plain_text(chunk) if response_id else None
            if text is not None:
                state = choices.get(0) or choices.setdefault(0, _Choice())
                if text:
                    state.text.append(text)
                continue
            chunk = as_attributes(chunk)
        if not response_id:  # Azure's first chunk (filter results) has empty ones
            response_id = getattr(chunk, "id", None)
            model = getattr(chunk, "model", None)
            _add_facts(facts, chunk, "prompt_filter_results")
        chunk_usage = getattr(chunk, "usage", None)
        if chunk_usage is not None:
            usage = chunk_usage
            _add_facts(facts, chunk, "prompt_cache_diagnostics")
        tier = getattr(chunk, "service_tier", None) or tier
        fingerprint = fingerprint or getattr(chunk, "system_fingerprint", None)
        moderation = getattr(chunk, "moderation", None) or moderation
        chunk_choices = getattr(chunk, "choices", None)
        for choice in chunk_choices if isinstance(chunk_choices, list) else ():
            state = _state(choices, choice)
            delta = getattr(choice, "delta", None)
            if delta is not None:
                _add_chat_delta(state, delta)
            finish_reason = getattr(choice, "finish_reason", None)
            if finish_reason is not None:
                state.finish_reason = finish_reason
            filters = undeclared(choice).get("content_filter_results")  # Azure's
            if filters is not None:
                state.filters = merge_filters(state.filters, filters)
    output = _outputs(choices)
    add_chat_facts(output, fingerprint, moderation, facts)
    return {
        "response_id": response_id,
        "response_model": model,
        "service_tier": tier if isinstance(tier, str) else None,
        "output": output,
        "usage": completion_usage(usage if usage is not None else _groq_usage(chunk)),
    }


def _add_facts(facts: dict[str, Any], chunk: Any, name: str) -> None:
    """``name`` from a chunk's undeclared fields, if it has it."""
    found = undeclared(chunk).get(name)
    if found is not None:
        facts[name] = found


def _groq_usage(last_chunk: Any) -> Any:
    """Groq's usage: in its last chunk's ``x_groq`` (``usage`` stays null)."""
    if type(last_chunk) is dict:
        x_groq = last_chunk.get("x_groq")
    else:
        x_groq = (_undeclared(last_chunk) or {}).get("x_groq")
    return field(x_groq, "usage")


def _undeclared(obj: Any) -> Any:
    """The fields of a chunk (or delta) the SDK's model does not declare, as a dict; a
    decoded chunk read as attributes has them all in its ``__dict__``."""
    return vars(obj) if type(obj) is SimpleNamespace else getattr(obj, "__pydantic_extra__", None)


def _plain_text(chunk: dict[str, Any]) -> str | None:
    """The text of a decoded chunk that says nothing but text for choice 0, else None.

    Most chunks of a stream are this one; reading it from the dicts directly
    spares turning it into attribute objects.
    """
    choices = chunk.get("choices")
    if type(choices) is not list or len(choices) != 1 or chunk.get("usage") is not None:
        return None
    if chunk.get("moderation") is not None:  # the verdicts, should a chunk carry text too
        return None
    choice = choices[0]
    if type(choice) is not dict:
        return None
    delta = choice.get("delta")
    if type(delta) is not dict or choice.get("index") != 0:
        return None
    if choice.get("finish_reason") is not None or choice.get("logprobs") is not None:
        return None
    if "content_filter_results" in choice:  # Azure's verdict on this piece
        return None
    content = delta.get("content")
    if type(content) is not str:
        return None
    if len(delta) > 1:  # other fields present: plain only if all are null
        for name, value in delta.items():
            if value is not None and name != "content":
                return None
    return content


def _add_chat_delta(state: _Choice, delta: Any) -> None:
    content = getattr(delta, "content", None)
    if content:
        state.text.append(content)
    if getattr(delta, "refusal", None):
        state.refusal.append(delta.refusal)
    undeclared = _undeclared(delta)
    if undeclared:  # ``reasoning_text``, inline
        thinking = undeclared.get("reasoning_content") or undeclared.get("reasoning")
        if thinking and type(thinking) is str:
            state.thinking.append(thinking)
    audio = getattr(delta, "audio", None) or extra(delta, "audio")  # declared in newer SDKs
    if audio is not None:
        state.audio = state.audio or _Audio()
        state.audio.add(audio)
    tool_calls = getattr(delta, "tool_calls", None)
    if tool_calls:
        for fragment in tool_calls:
            state.add_tool_call(fragment)
    function_call = getattr(delta, "function_call", None)
    if function_call is not None:
        state.add_function_call(function_call)


def _state(choices: dict[int, _Choice], choice: Any) -> _Choice:
    index = _index(choice)
    state = choices.get(index)
    if state is None:
        state = choices[index] = _Choice()
    return state


def accumulate_completion(chunks: Iterable[Any]) -> Reply:
    """Legacy ``Completion`` chunks -> text per choice, finish reason, usage."""
    choices: dict[int, _Choice] = {}
    response_id = model = usage = fingerprint = None
    for chunk in chunks:
        response_id = response_id or field(chunk, "id")
        model = model or field(chunk, "model")
        fingerprint = fingerprint or field(chunk, "system_fingerprint")
        if field(chunk, "usage") is not None:
            usage = field(chunk, "usage")
        for choice in field(chunk, "choices") or ():
            state = _state(choices, choice)
            if isinstance(field(choice, "text"), str):
                state.text.append(field(choice, "text"))
            if field(choice, "finish_reason") is not None:
                state.finish_reason = field(choice, "finish_reason")
    output = _outputs(choices)
    add_chat_facts(output, fingerprint, None, {})
    return {
        "response_id": response_id,
        "response_model": model,
        "output": output,
        "usage": completion_usage(usage),
    }


ACCUMULATORS: Mapping[str, Callable[[Iterable[Any]], Reply]] = {
    "chat.completions": accumulate_chat,
    "responses": accumulate_responses,
    "completions": accumulate_completion,
    "images": accumulate_images,
    "audio.transcriptions": accumulate_transcript,
}
"""Stream accumulator per ``operation``."""


def stream_reply(cap: Capture, method: str) -> Reply | None:
    """A stream's record fields from the events the app received (None: a kind of stream
    llmlog reads no output from); ``ok`` if it was closed after its last event, and the
    answer decoded when a stream helper (``method``) asked for a structured format."""
    accumulate = ACCUMULATORS.get(cap.operation)
    if accumulate is None or cap.chunks is None:
        return None
    # Responses events are read again below; the others are folded as they are decoded
    # (a long stream's events are never all held at once).
    events: list[Any] = list(received(cap.chunks)) if cap.operation == "responses" else []
    last_event = LastEventWatch(LAST_EVENT_TYPES.get(cap.operation, frozenset()))
    reply = accumulate(events or last_event.watch(received(cap.chunks)))
    if "status" not in reply and cap.operation in _LAST_EVENTS:
        # A server that said [DONE] is trusted, finish_reason or not (the SDK ends on
        # it, so a stream ending there was never closed early by the app).
        done = cap.operation != "responses" and "[DONE]" in cap.chunks[-1:]
        whole = done or last_event.seen or answered(cap.operation, cap.kwargs, events, reply)
        reply.update(stream_end(cap, whole, _LAST_EVENTS[cap.operation]))
    if method.endswith(".stream"):
        _decode_answer(cap, events, reply)
    return reply


def _decode_answer(cap: Capture, events: list[Any], reply: Reply) -> None:
    """``output.parsed`` for a stream helper asked for a structured format, from the
    answer's JSON text; a Responses answer's from its final answer only, as the SDK's."""
    output = reply.get("output")
    if cap.operation != "responses" or not isinstance(output, dict):
        decode_json_answer(output, cap.kwargs)
        return
    if output.get("parsed") is not None or output.get("text") is None:
        return  # parsed already, or no answer to parse
    for text in final_answers(output_items(events)):
        answer = {"text": text, "parsed": None}
        decode_json_answer(answer, cap.kwargs)
        if answer["parsed"] is not None:
            output["parsed"] = answer["parsed"]
            return


_LAST_EVENTS: Final = {
    "chat.completions": "a finish_reason for every choice, and usage when asked",
    "completions": "a finish_reason for every choice, and usage when asked",
    "responses": "response.completed, .incomplete or .failed",
    "images": "image_generation.completed or image_edit.completed",
    "audio.transcriptions": "transcript.text.done",
}
"""The streams whose end can be told (by ``answered``, or for image and transcription
streams by their last event going by), and what their last event is."""


def answered(operation: str, kwargs: Mapping[str, Any], events: list[Any], reply: Reply) -> bool:
    """Whether a stream closed before its end had delivered the whole answer anyway (the
    app stopped at the last chunk, before the SDK read the end of the body). ``events``:
    a Responses stream's (a chat answer with no event has no finish reason either)."""
    if operation == "responses":
        return any(field(event, "type") in TERMINAL_EVENTS for event in events)
    if operation not in ("chat.completions", "completions"):
        return False
    output = reply["output"]
    choices = output.get("choices") or [output]
    options = kwargs.get("stream_options")
    wants_usage = isinstance(options, Mapping) and bool(options.get("include_usage"))
    finished = all(choice.get("finish_reason") is not None for choice in choices)
    return finished and (reply["usage"] is not None or not wants_usage)
