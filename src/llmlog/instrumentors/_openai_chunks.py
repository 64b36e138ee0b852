"""What runs on the app's thread for an OpenAI stream's first chunks: the first-content test.

``is_content_for(operation)`` tells the stream proxy when the first content
arrived (for ``ttft_ms``); after that the proxy looks at no chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from llmlog.instrumentors._openai_response import extra, reasoning_text
from llmlog.instrumentors._openai_responses_stream import TERMINAL_EVENTS
from llmlog.instrumentors._sdk_field import field


def _chat_has_content(chunk: Any) -> bool:
    for choice in field(chunk, "choices") or ():
        delta = field(choice, "delta")
        if field(delta, "content") or field(delta, "tool_calls") or field(delta, "refusal"):
            return True
        if field(delta, "function_call") or reasoning_text(delta):
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


def _yes(_event: Any) -> bool:
    return True


def _no(_event: Any) -> bool:
    return False


def _has(name: str) -> Callable[[Any], bool]:
    return lambda item: bool(field(item, name))


def _message_has_text(item: Any) -> bool:
    return any(field(p, "text") or field(p, "refusal") for p in field(item, "content") or ())


def _reasoning_has_text(item: Any) -> bool:
    parts = [*(field(item, "summary") or ()), *(field(item, "content") or ())]
    return any(field(part, "text") for part in parts)


_ITEM_OUTPUT: Final[Mapping[str, Callable[[Any], bool]]] = {
    "message": _message_has_text,
    "reasoning": _reasoning_has_text,
    "function_call": _has("arguments"),
    "custom_tool_call": _has("input"),
    "program": _has("code"),
    "shell_call": lambda item: bool(field(field(item, "action"), "commands")),
    **dict.fromkeys(
        ("computer_call", "local_shell_call", "apply_patch_call", "mcp_approval_request"), _yes
    ),
}
"""Output items that can carry model output, and whether one does: text, reasoning, what
the model asks the app to run (these last four arrive whole). Hosted tools' items (a web
search, an image, an MCP call) are their progress; what the model wrote for them streams
as deltas."""


def _item_has_content(item: Any) -> bool:
    kind = field(item, "type")
    test = _ITEM_OUTPUT.get(kind) if isinstance(kind, str) else None
    return test is not None and test(item)


def _item_event_has_content(event: Any) -> bool:
    return _item_has_content(field(event, "item"))


def _part_has_content(event: Any) -> bool:
    part = field(event, "part")
    return bool(field(part, "text") or field(part, "refusal"))


def _response_has_content(event: Any) -> bool:
    """A terminal event the first to carry output (a server that sent no deltas)."""
    return any(_item_has_content(item) for item in field(field(event, "response"), "output") or ())


_OUTPUT_EVENTS: Final = (
    *("output_text", "refusal", "reasoning_text", "reasoning_summary_text", "audio.transcript"),
    *("function_call_arguments", "custom_tool_call_input", "mcp_call_arguments"),
    *("code_interpreter_call_code", "shell_call_command"),
)
_RESPONSE_EVENT_TESTS: Final[Mapping[str, Callable[[Any], bool]]] = {
    **{f"response.{kind}.{end}": _yes for kind in _OUTPUT_EVENTS for end in ("delta", "done")},
    "response.audio.delta": _yes,
    "response.shell_call_command.added": _yes,
    "response.image_generation_call.partial_image": _yes,
    "response.shell_call_output_content.delta": _no,  # the shell's output, not the model's
    **dict.fromkeys(
        ("response.output_item.added", "response.output_item.done"), _item_event_has_content
    ),
    **dict.fromkeys(
        ("response.content_part.added", "response.content_part.done"), _part_has_content
    ),
    **dict.fromkeys(
        ("response.reasoning_summary_part.added", "response.reasoning_summary_part.done"),
        _part_has_content,
    ),
    **dict.fromkeys(TERMINAL_EVENTS, _response_has_content),
}
"""Responses events that carry model output (text, refusal, reasoning, audio, what the model
asks a tool to do, a partial image) or may (an item, a part, a terminal response with some).
Any other is not: lifecycle, hosted tools' progress (in_progress, searching, interpreting,
generating, completed), annotations; an unknown ``*.delta`` is a newer SDK's output."""


def _response_event_has_content(event: Any) -> bool:
    kind = field(event, "type")
    if not isinstance(kind, str):
        return False
    test = _RESPONSE_EVENT_TESTS.get(kind)
    return test(event) if test is not None else kind.endswith(".delta")


CONTENT_TESTS: Mapping[str, Callable[[Any], bool]] = {
    "chat.completions": _chat_has_content,
    "completions": _completion_has_content,
    "responses": _response_event_has_content,
}
"""``is_content(chunk)`` per operation (for ``ttft_ms``); other streams carry typed events."""


def is_content_for(operation: str) -> Callable[[Any], bool]:
    """The first-content test for a stream of ``operation``."""
    return CONTENT_TESTS.get(operation, _event_has_content)
