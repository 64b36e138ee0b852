"""Record fields of a managed-agent session's model request (writer thread), from what
``_anthropic_agent_sessions`` kept on its capture: the agent configuration, the input
events before it, the agent's output events in it, its start and end spans.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Final

from llmlog._record import Capture, empty_output, string_or_none
from llmlog.instrumentors._anthropic_request import plain
from llmlog.instrumentors._anthropic_response import (
    arguments_text,
    error_record,
    normalized_usage,
    tool_call,
)
from llmlog.instrumentors._sdk_field import field as field_of

TOOL_CALLS: Final = {
    "agent.custom_tool_use": "tool_use",  # the app runs it
    "agent.tool_use": "server_tool_use",  # the agent's toolset runs it
    "agent.mcp_tool_use": "mcp_tool_use",
}
_EVENT_FIELDS_LEFT_OUT: Final = frozenset({"id", "type", "processed_at", "content"})
_FAILED: Final = {
    "type": "model_request_error",
    "message": "the model request failed",
    "status_code": None,
    "body": None,
}


def extract(cap: Capture) -> dict[str, Any]:
    """Record fields for one model request of a session (writer thread)."""
    agent = cap.extra.get("agent")
    model_config = field_of(agent, "model")
    model = model_config if isinstance(model_config, str) else field_of(model_config, "id")
    end = cap.extra.get("end")
    evaluation = cap.extra["evaluation"]
    usage = field_of(end, "usage" if evaluation else "model_usage")
    fields: dict[str, Any] = {
        "model": model if isinstance(model, str) else None,
        "response_id": cap.extra["start_id"],
        "params": _params(cap, agent, model_config, end if evaluation else None),
        "system": string_or_none(field_of(agent, "system")),
        "messages": [_message(e) for e in cap.extra["input"]] if "input" in cap.extra else None,
        "output": _evaluation_output(end) if evaluation else _output(cap.extra["output"]),
        "usage": normalized_usage(usage) if usage is not None else None,
    }
    if field_of(end, "is_error"):
        fields["error"] = _error(cap.extra.get("error_event"))
    if cap.extra.get("latency_unknown"):
        fields["latency_ms"] = None
    return fields


def _params(cap: Capture, agent: Any, model_config: Any, evaluation_end: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"session": cap.extra["session"]}
    if cap.extra.get("thread") is not None:
        params["thread"] = cap.extra["thread"]
    if agent is not None:
        params["agent"] = {k: field_of(agent, k) for k in ("id", "name", "version")}
        if not isinstance(model_config, str) and model_config is not None:
            settings = plain(model_config)
            if isinstance(settings, dict):
                params.update((k, v) for k, v in settings.items() if k != "id" and v is not None)
        tools = field_of(agent, "tools")
        if tools:
            params["tools"] = plain(tools)
    if evaluation_end is not None:
        params["outcome"] = {k: field_of(evaluation_end, k) for k in ("outcome_id", "iteration")}
    return params


def _message(event: Any) -> dict[str, Any]:
    """An input event as a message: user (tool results too), or system."""
    kind = field_of(event, "type")
    role = "system" if kind == "system.message" else "user"
    if kind in ("user.message", "system.message"):
        return {"role": role, "content": plain(field_of(event, "content"))}
    data = plain(event)
    block: dict[str, Any] = {"type": kind}
    if isinstance(data, dict):
        block.update((k, v) for k, v in data.items() if k not in _EVENT_FIELDS_LEFT_OUT)
        if data.get("content") is not None:
            block["content"] = data["content"]
    return {"role": role, "content": [block]}


def _output(events: list[Any]) -> dict[str, Any]:
    output = empty_output()
    texts = []
    for event in events:
        kind = field_of(event, "type")
        if kind == "agent.message":
            blocks = field_of(event, "content") or ()
            texts.append("".join(_text_parts(blocks)))
        elif kind in TOOL_CALLS:
            output["tool_calls"].append(
                tool_call(
                    TOOL_CALLS[kind],
                    field_of(event, "id"),
                    field_of(event, "name"),
                    arguments_text(field_of(event, "input")),
                    field_of(event, "mcp_server_name"),
                )
            )
    if texts:
        output["text"] = "\n".join(texts)
    return output


def _text_parts(blocks: Iterable[Any]) -> Iterator[str]:
    for block in blocks:
        text = field_of(block, "text")
        if isinstance(text, str):
            yield text


def _evaluation_output(end: Any) -> dict[str, Any]:
    output = empty_output()
    output["text"] = string_or_none(field_of(end, "explanation"))
    output["finish_reason"] = string_or_none(field_of(end, "result"))
    return output


def _error(event: Any) -> dict[str, Any]:
    """The ``session.error`` seen during the request, else what the span says."""
    error = error_record(field_of(event, "error")) if event is not None else None
    return error if error is not None else dict(_FAILED)
