"""What runs on the app's thread for each OpenAI stream chunk: first-content tests and compaction.

``is_content_for(operation)`` tells the stream proxy when the first content
arrived (for ``ttft_ms``); ``COMPACTORS`` turn the common plain-text chunk into
a small value the garbage collector does not track, so a long stream kept for
the writer adds no GC work to the app. The writer's accumulators in
``_openai_streams`` read both forms.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from llmlog.instrumentors._openai_response import extra, field


def _chat_has_content(chunk: Any) -> bool:
    for choice in field(chunk, "choices") or ():
        delta = field(choice, "delta")
        if field(delta, "content") or field(delta, "tool_calls") or field(delta, "refusal"):
            return True
        if field(delta, "function_call") or extra(delta, "reasoning_content"):
            return True
    return False


def _completion_has_content(chunk: Any) -> bool:
    return any(field(choice, "text") for choice in field(chunk, "choices") or ())


def _event_has_content(event: Any) -> bool:
    kind = field(event, "type")
    return isinstance(kind, str) and (
        kind.endswith(".delta") or kind.endswith(".partial_image") or kind.endswith(".completed")
    )


CONTENT_TESTS: Mapping[str, Callable[[Any], bool]] = {
    "chat.completions": _chat_has_content,
    "completions": _completion_has_content,
}
"""``is_content(chunk)`` per operation (for ``ttft_ms``); other streams carry typed events."""


def is_content_for(operation: str) -> Callable[[Any], bool]:
    """The first-content test for a stream of ``operation``."""
    return CONTENT_TESTS.get(operation, _event_has_content)


def compact_chat_chunk(chunk: Any) -> Any:
    """A chunk that only adds text to choice 0 -> that text; any other chunk as it is.

    Runs on the app's thread for every chunk. Choice and delta fields are read
    from the models' ``__dict__`` (a quarter faster than attribute lookup on
    pydantic classes); a field missing there, or anything the accumulator (or
    a future record field) might want, keeps the chunk.
    """
    try:
        choices = chunk.choices
        if len(choices) != 1 or chunk.usage is not None:
            return chunk
        choice = choices[0].__dict__
        delta = choice["delta"]
        fields = delta.__dict__
        content = fields["content"]
        if (
            type(content) is str
            and choice["index"] == 0
            and choice["finish_reason"] is None
            and choice["logprobs"] is None
            and fields["role"] is None
            and fields["tool_calls"] is None
            and fields["refusal"] is None
            and fields["function_call"] is None
            and fields.get("audio") is None  # absent in older SDKs
            and not delta.__pydantic_extra__
        ):
            return content
    except (AttributeError, TypeError, KeyError):  # decoded JSON or an unknown shape
        pass
    return chunk


def compact_completion_chunk(chunk: Any) -> Any:
    """A legacy completion chunk that only adds text to choice 0 -> that text."""
    try:
        choices = chunk.choices
        if len(choices) != 1 or chunk.usage is not None:
            return chunk
        choice = choices[0]
        text = choice.text
        if (
            type(text) is str
            and choice.index == 0
            and choice.finish_reason is None
            and choice.logprobs is None
        ):
            return text
    except (AttributeError, TypeError):
        pass
    return chunk


def compact_responses_event(event: Any) -> Any:
    """``response.output_text.delta`` -> its text (all a partial stream's rebuild reads)."""
    try:
        if event.type == "response.output_text.delta":
            delta = event.delta
            if type(delta) is str:
                return delta
    except AttributeError:
        pass
    return event


COMPACTORS: Mapping[str, Callable[[Any], Any]] = {
    "chat.completions": compact_chat_chunk,
    "completions": compact_completion_chunk,
    "responses": compact_responses_event,
}
"""``compact(chunk)`` per operation; streams not listed keep their chunks whole."""
