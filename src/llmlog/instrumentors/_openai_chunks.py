"""What runs on the app's thread for an OpenAI stream's first chunks: the first-content test.

``is_content_for(operation)`` tells the stream proxy when the first content
arrived (for ``ttft_ms``); after that the proxy looks at no chunk.
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
        audio = field(delta, "audio") or extra(delta, "audio")  # spoken answers: gpt-4o-audio
        if audio and (field(audio, "transcript") or field(audio, "data")):
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
