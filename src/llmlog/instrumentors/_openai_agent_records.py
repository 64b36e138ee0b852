"""Record fields of one turn of an OpenAI managed-agent session (writer thread), from what
``_openai_agent_sessions`` kept on its capture: the agent's configuration, the input
that started the turn (and tool results sent during it), the items the agent produced,
and the turn as it ended (status, error, usage).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from llmlog._record import Capture, empty_output, string_or_none
from llmlog.instrumentors._openai_request import plain, responses_prompt
from llmlog.instrumentors._openai_response import responses_item_call
from llmlog.instrumentors._openai_usage import input_output_usage
from llmlog.instrumentors._sdk_field import field

_AGENT_PARAMS: Final = ("reasoning", "service_tier", "text", "tools", "multi_agent", "compaction")


def input_messages(value: Any) -> list[Any] | None:
    """A turn's input (``input`` of ``sessions.create``, of an input-message event) as
    messages, media stubbed."""
    return responses_prompt({"input": value})[1]


def tool_result_message(event: Mapping[str, Any]) -> dict[str, Any]:
    """A function result the app sent while the turn waited for it."""
    result = {k: v for k, v in event.items() if k in ("call_id", "success", "output", "error")}
    return {"role": "tool", "content": [{"type": "function_call_output", **plain(result)}]}


def extract(cap: Capture) -> dict[str, Any]:
    """Record fields for one turn (writer thread)."""
    agent = plain(cap.extra.get("agent"))
    agent = agent if isinstance(agent, dict) else {}
    turn = cap.extra.get("turn")
    usage = cap.extra.get("usage") or field(turn, "usage")
    output = _output(cap.extra["items"], cap.extra["deltas"])
    output["finish_reason"] = string_or_none(field(turn, "status"))
    model = agent.get("model")
    fields: dict[str, Any] = {
        "model": model if isinstance(model, str) else None,
        "response_id": cap.extra["turn_id"],
        "params": _params(cap, agent),
        "system": string_or_none(agent.get("instructions")),
        "messages": cap.extra.get("input"),
        "output": output,
        "usage": input_output_usage(usage),
    }
    error = field(turn, "error")
    if error is not None:
        fields["error"] = {
            "type": string_or_none(field(error, "code")) or "turn_failed",
            "message": string_or_none(field(error, "message")),
            "status_code": None,
            "body": plain(error),
        }
    if cap.extra.get("latency_unknown"):
        fields["latency_ms"] = None
    return fields


def _params(cap: Capture, agent: Mapping[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {"session": cap.extra["session"]}
    subagent = field(cap.extra.get("turn"), "subagent_id")
    if isinstance(subagent, str):
        params["subagent"] = subagent
    if "id" in agent or "name" in agent:
        params["agent"] = {k: agent.get(k) for k in ("id", "name")}
    params.update((k, agent[k]) for k in _AGENT_PARAMS if agent.get(k) is not None)
    return params


def _output(items: list[Any], deltas: list[str]) -> dict[str, Any]:
    """The agent's messages as text (one line each), its tool calls; without a finished
    message item, the text deltas that arrived."""
    output = empty_output()
    texts = []
    for item in items:
        kind = field(item, "type")
        if kind == "message":
            parts = field(item, "content") or ()
            texts.append("".join(t for p in parts if isinstance(t := field(p, "text"), str)))
        elif kind == "function_call":
            arguments = plain(field(item, "arguments"))
            output["tool_calls"].append(
                {
                    "id": field(item, "call_id"),
                    "type": "function",
                    "name": field(item, "name"),
                    "arguments": arguments
                    if isinstance(arguments, str) or arguments is None
                    else json.dumps(arguments, ensure_ascii=False, separators=(",", ":")),
                }
            )
        elif kind == "command_execution":  # the built-in shell: what it was asked to run
            asked = {k: v for k in ("command", "cwd") if (v := field(item, k)) is not None}
            output["tool_calls"].append(
                {
                    "id": field(item, "id"),
                    "type": kind,
                    "name": None,
                    "arguments": json.dumps(asked, ensure_ascii=False, separators=(",", ":")),
                }
            )
        elif (call := responses_item_call(item)) is not None:
            output["tool_calls"].append(call)
    if texts:
        output["text"] = "\n".join(texts)
    elif deltas:
        output["text"] = "".join(deltas)
    return output
