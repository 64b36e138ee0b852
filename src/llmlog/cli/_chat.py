"""A logged call as an OpenAI chat fine-tuning example, ``{"messages": [...], "tools": [...]}``.

Only what can be written faithfully is exported: a successful chat call
(chat completions, Responses, Anthropic messages) whose conversation was
logged in full, as text, with the function tools it offered. Anything else is
skipped with a reason the export command counts and reports: an image
generation's revised prompt is not an assistant's answer. Text llmlog
truncated (it ends in ``…[truncated N chars]``) would teach a model to answer
with that marker.
"""

from __future__ import annotations

from typing import Any

from llmlog.cli._format import mapping

__all__ = ["CHAT_OPERATIONS", "to_openai_chat"]

_MESSAGE_KEYS = ("role", "content", "name", "tool_call_id", "tool_calls")
CHAT_OPERATIONS = ("chat.completions", "responses", "messages")


def _text_content(content: Any) -> str | None:
    """A string, or a list made only of text parts, as one string; else None."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and content:
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") not in ("text", "input_text"):
                return None
            text = part.get("text")
            if not isinstance(text, str):
                return None
            texts.append(text)
        return "".join(texts)
    return None


def _tool_calls(calls: Any) -> list[dict[str, Any]] | None:
    """Logged tool calls (``{id, name, arguments}``) in OpenAI's request shape."""
    if not isinstance(calls, list) or not calls:
        return None
    converted = []
    for call in calls:
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            return None
        arguments = call.get("arguments")
        converted.append(
            {
                "id": call.get("id"),
                "type": "function",
                "function": {
                    "name": call["name"],
                    "arguments": arguments if isinstance(arguments, str) else "{}",
                },
            }
        )
    return converted


def _message(message: Any) -> dict[str, Any] | None:
    if not isinstance(message, dict) or ("content" not in message and "tool_calls" not in message):
        return None
    role = message.get("role")
    if role not in ("system", "developer", "user", "assistant", "tool"):
        return None
    converted: dict[str, Any] = {"role": role}
    content = message.get("content")
    if content is not None:
        text = _text_content(content)
        if text is None:
            return None
        converted["content"] = text
    for key in _MESSAGE_KEYS[2:]:
        if message.get(key) is not None:
            converted[key] = message[key]
    return converted


def _truncated_text(record: dict[str, Any]) -> bool:
    """The log cut some of the system prompt, messages or answer (see ``record["truncated"]``)."""
    truncated = record.get("truncated")
    paths = truncated if isinstance(truncated, dict | list) else ()
    return any(str(path).startswith(("system", "messages", "output")) for path in paths)


def _tool(tool: Any) -> dict[str, Any] | None:
    """A function tool in the chat shape, from the chat, Responses or Anthropic one;
    None for a tool the format cannot hold (web search, code interpreter, ...)."""
    if not isinstance(tool, dict):
        return None
    function = tool.get("function")
    if tool.get("type") == "function" and isinstance(function, dict):
        return {"type": "function", "function": function}  # chat completions: as is
    parameters = tool.get("parameters") if tool.get("type") == "function" else None  # Responses
    if tool.get("type") in (None, "custom"):
        parameters = tool.get("input_schema")  # Anthropic: no type, or "custom"
    if not isinstance(tool.get("name"), str) or not isinstance(parameters, dict):
        return None
    converted: dict[str, Any] = {"name": tool["name"]}
    for key in ("description", "strict"):
        if tool.get(key) is not None:
            converted[key] = tool[key]
    converted["parameters"] = parameters
    return {"type": "function", "function": converted}


def _tools(params: dict[str, Any]) -> tuple[list[dict[str, Any]] | None, bool]:
    """``(tools in the chat shape or None, whether every tool could be converted)``."""
    tools = params.get("tools")
    if not isinstance(tools, list) or not tools:
        return None, True
    converted = [_tool(tool) for tool in tools]
    kept = [tool for tool in converted if tool is not None]
    return kept, len(kept) == len(converted)


def to_openai_chat(record: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """``(example, "")``, or ``(None, reason)`` when the call cannot be exported."""
    operation = record.get("operation")
    if operation not in CHAT_OPERATIONS:
        return None, f"not chat calls ({operation})"
    if record.get("status") != "ok":
        return None, "not successful"
    if _truncated_text(record):
        return None, "with text truncated in the log"
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        return None, "without logged messages"
    output = mapping(record, "output")
    answer = output.get("text")
    calls = _tool_calls(output.get("tool_calls"))
    if not isinstance(answer, str) and calls is None:
        return None, "without a text or tool-call answer"
    conversation: list[dict[str, Any]] = []
    system = record.get("system")
    if isinstance(system, str) and system:
        conversation.append({"role": "system", "content": system})
    for message in messages:
        converted = _message(message)
        if converted is None:
            return None, "with non-text or metadata-only messages"
        conversation.append(converted)
    final: dict[str, Any] = {
        "role": "assistant",
        "content": answer if isinstance(answer, str) else None,
    }
    if calls is not None:
        final["tool_calls"] = calls
    conversation.append(final)
    tools, complete = _tools(mapping(record, "params"))
    if not complete:
        return None, "with tools that are not functions"
    example: dict[str, Any] = {"messages": conversation}
    if tools:
        example["tools"] = tools
    return example, ""
