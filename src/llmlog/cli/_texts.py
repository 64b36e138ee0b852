"""The words of a call that ``search`` looks in: what people and models wrote.

Searching the whole record would match its structure: every call has a
``user`` role, a ``text`` part type, a ``stop`` finish reason, a tool-call id.
So only text goes in: the system prompt; each message's text (string content,
the ``text`` / ``transcript`` / ``refusal`` of its parts, a tool result's
content) and the name and arguments of the tool calls in it (Responses input items
too: ``function_call`` and its ``function_call_output``); the answer's
text, reasoning summary, refusal, and its tool calls' names and arguments.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

import orjson

__all__ = ["fold", "searchable_texts"]

_PART_TEXTS = ("text", "transcript", "refusal")


def searchable_texts(record: dict[str, Any]) -> Iterator[str]:
    """Every piece of text of ``record`` that ``search`` matches against."""
    yield from _content(record.get("system"))
    messages = record.get("messages")
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict) and "role" in message:
                yield from _content(message.get("content"))
                yield from _tool_calls(message.get("tool_calls"))
            else:  # a string, or a Responses item of its own (function_call, ...)
                yield from _content(message)
    output = record.get("output")
    if isinstance(output, dict):
        for key in ("text", "thinking", "refusal"):
            yield from _content(output.get(key))
        yield from _tool_calls(output.get("tool_calls"))


def fold(text: str) -> str:
    """``text`` as ``search`` compares it: in NFC and case-folded, so that ``école`` typed
    precomposed finds it logged decomposed (``e`` + U+0301, as macOS and some SDKs give it)
    and ``ÉCOLE`` finds both. ASCII text, most of a log, skips the normalisation."""
    if text.isascii():
        return text.casefold()
    return unicodedata.normalize("NFC", text).casefold()


def _content(content: Any) -> Iterator[str]:
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for part in content:
            yield from _content(part)
    elif isinstance(content, dict):
        for key in _PART_TEXTS:
            if isinstance(content.get(key), str):
                yield content[key]
        kind = content.get("type")
        kind = kind if isinstance(kind, str) else ""
        if kind in ("tool_use", "server_tool_use", "mcp_tool_use") or kind.endswith("_call"):
            yield from _tool_calls([content])  # also Responses items: function_call, mcp_call
        if kind.endswith(("_call", "_call_output")):
            yield from _content(content.get("output"))  # function_call_output, mcp_call
        yield from _content(content.get("content"))  # a tool result's own content


def _tool_calls(calls: Any) -> Iterator[str]:
    """Names and arguments, in the logged shape or OpenAI's ``{function: {...}}`` one."""
    if not isinstance(calls, list):
        return
    for call in calls:
        if not isinstance(call, dict):
            continue
        function = call.get("function")
        source = function if isinstance(function, dict) else call
        for key in ("name", "arguments", "input"):
            value = source.get(key)
            if isinstance(value, str):
                yield value
            elif value is not None:
                yield orjson.dumps(value).decode()
