"""OpenAI text answers (chat, legacy completions, Responses) -> record fields: output,
usage, response id and model; the other operations' are in ``_openai_other_replies``.

Pure functions run on the writer thread. Every reader accepts the SDK's
pydantic model *or* the same data as a plain dict (what a raw response's
JSON body decodes to), so ``with_raw_response`` is read without ever calling
``.parse()`` behind the app's back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from llmlog._record import (
    STATUS_ERROR,
    add_citations,
    empty_output,
    media_stub,
    parsed_json,
    string_or_none,
)
from llmlog.instrumentors._openai_answer_facts import (
    add_chat_facts,
    add_choice_filters,
    add_response_facts,
    undeclared,
)
from llmlog.instrumentors._openai_request import plain
from llmlog.instrumentors._openai_usage import (
    completion_usage,
    input_output_usage,
    raw_usage,
)
from llmlog.instrumentors._sdk_field import field

Reply = dict[str, Any]
"""Record fields read from a response: response_id, response_model, output, usage (+ error)."""


def extra(obj: Any, name: str) -> Any:
    """A field the SDK's model does not declare (e.g. ``reasoning_content`` from
    OpenAI-compatible servers): read from pydantic's extras, no failing lookup."""
    if isinstance(obj, dict):
        return obj.get(name)
    extras = getattr(obj, "__pydantic_extra__", None)
    return extras.get(name) if extras else None


_str = string_or_none


def tool_call(call: Any) -> dict[str, Any]:
    """A chat tool call, flat: ``{id, type, name, arguments}``."""
    kind = field(call, "type") or "function"
    if kind == "custom":
        custom = field(call, "custom")
        name, arguments = field(custom, "name"), field(custom, "input")
    else:
        function = field(call, "function")
        name, arguments = field(function, "name"), field(function, "arguments")
    return {"id": field(call, "id"), "type": kind, "name": name, "arguments": arguments}


def reasoning_text(message: Any) -> str | None:
    """The reasoning an OpenAI-compatible server sends beside the answer (a message or a
    delta): ``reasoning_content`` (DeepSeek), else ``reasoning`` (vLLM, OpenRouter, Ollama,
    Groq); OpenRouter's structured ``reasoning_details`` are not read."""
    return _str(extra(message, "reasoning_content")) or _str(extra(message, "reasoning"))


def content_parts(content: Any) -> tuple[str | None, str | None]:
    """``content`` as (text, thinking): a string as sent, or a list of chunks (Mistral's
    Magistral) whose ``text`` parts are the text and ``thinking`` parts (a string, or a
    list of text parts) the thinking. Any other part, or a content of another type, is
    left out."""
    if isinstance(content, str):
        return content, None
    texts: list[str] = []
    thoughts: list[str] = []
    for part in content if isinstance(content, list | tuple) else ():
        kind = field(part, "type")
        if kind == "text" and isinstance(field(part, "text"), str):
            texts.append(field(part, "text"))
        elif kind == "thinking":
            thinking = field(part, "thinking")
            if isinstance(thinking, str):
                thoughts.append(thinking)
                continue
            for piece in thinking if isinstance(thinking, list | tuple) else ():
                if isinstance(field(piece, "text"), str):
                    thoughts.append(field(piece, "text"))
    return ("".join(texts) if texts else None), ("".join(thoughts) or None)


def chat_choice(choice: Any) -> dict[str, Any]:
    """One ``choices[i]`` of a ChatCompletion as an ``output`` object."""
    message = field(choice, "message")
    output = empty_output()
    output["text"], content_thinking = content_parts(field(message, "content"))
    output["refusal"] = _str(field(message, "refusal"))
    output["finish_reason"] = _str(field(choice, "finish_reason"))
    calls = [tool_call(c) for c in field(message, "tool_calls") or ()]
    legacy_call = field(message, "function_call")
    if legacy_call is not None:
        calls.append(
            {
                "id": None,
                "type": "function",
                "name": field(legacy_call, "name"),
                "arguments": field(legacy_call, "arguments"),
            }
        )
    output["tool_calls"] = calls
    add_citations(output, [plain(a) for a in field(message, "annotations") or ()])
    parsed = field(message, "parsed")
    if parsed is not None:
        output["parsed"] = parsed_json(parsed, plain)
    audio = field(message, "audio")
    if audio is not None:
        output["audio"] = audio_output(audio)
    thinking = reasoning_text(message) or content_thinking
    if thinking:
        output["thinking"] = thinking
    extras = undeclared(choice)
    if extras:  # Azure's verdict on the choice's text
        add_choice_filters(output, extras)
    return output


def audio_output(audio: Any) -> dict[str, Any]:
    """Generated audio: id and transcript kept, the base64 data replaced by a stub."""
    data = field(audio, "data")
    return {
        "id": field(audio, "id"),
        "transcript": field(audio, "transcript"),
        "data": media_stub("audio", None, data) if isinstance(data, str) else None,
    }


def _with_choices(outputs: list[dict[str, Any]]) -> dict[str, Any]:
    """Choice 0 is the output; with ``n > 1`` every choice is also listed."""
    if not outputs:
        return empty_output()
    output = dict(outputs[0])
    if len(outputs) > 1:
        output["choices"] = outputs
    return output


def response_ids(obj: Any) -> Reply:
    """Ids, model, and the service tier the call ran on (``priority``, ``flex``: the
    price depends on it, and with ``auto`` only the answer says which it was)."""
    return {
        "response_id": _str(field(obj, "id")),
        "response_model": _str(field(obj, "model")),
        "service_tier": _str(field(obj, "service_tier")),
    }


def read_chat(completion: Any) -> Reply:
    """ChatCompletion / ParsedChatCompletion; an error in the body (a gateway's, such as
    OpenRouter's, answered with HTTP 200) makes it ``status: error``."""
    choices = field(completion, "choices") or ()
    output = _with_choices([chat_choice(c) for c in choices])
    fingerprint, moderation = (
        field(completion, "system_fingerprint"),
        field(completion, "moderation"),
    )
    add_chat_facts(output, fingerprint, moderation, undeclared(completion))
    reply: Reply = {
        **response_ids(completion),
        "output": output,
        "usage": completion_usage(field(completion, "usage")),
    }
    error = _body_error(completion, choices)
    if error is not None:
        reply["status"] = STATUS_ERROR
        reply["error"] = error
    return reply


def _body_error(completion: Any, choices: Any) -> dict[str, Any] | None:
    """The error a chat completion's body reports: a top-level ``error``, else a choice's
    own ``error`` or ``finish_reason: "error"`` (OpenRouter); None when there is none."""
    found = field(completion, "error")
    if not found:
        for choice in choices:
            found = field(choice, "error")
            if found or field(choice, "finish_reason") == "error":
                break
        else:
            return None
    code = field(found, "code") if not isinstance(found, str) else None
    known_code = isinstance(code, str | int) and not isinstance(code, bool) and code != ""
    message = found if isinstance(found, str) else _str(field(found, "message"))
    return {
        "type": str(code) if known_code else "provider_error",
        "message": message,
        "status_code": None,
        "body": plain(found) if found else None,
    }


def read_completion(completion: Any) -> Reply:
    """Legacy Completion."""
    outputs = []
    for choice in field(completion, "choices") or ():
        output = empty_output()
        output["text"] = _str(field(choice, "text"))
        output["finish_reason"] = _str(field(choice, "finish_reason"))
        extras = undeclared(choice)
        if extras:
            add_choice_filters(output, extras)
        outputs.append(output)
    whole = _with_choices(outputs)
    add_chat_facts(whole, field(completion, "system_fingerprint"), None, undeclared(completion))
    return {
        **response_ids(completion),
        "output": whole,
        "usage": completion_usage(field(completion, "usage")),
    }


def responses_item_call(item: Any) -> dict[str, Any] | None:
    """A tool call among a Response's output items (no result payloads, ever)."""
    kind = field(item, "type")
    if not isinstance(kind, str):
        return None
    if kind == "function_call":
        return {
            "id": field(item, "call_id"),
            "type": "function",
            "name": field(item, "name"),
            "arguments": field(item, "arguments"),
        }
    if kind == "custom_tool_call":
        return {
            "id": field(item, "call_id"),
            "type": "custom",
            "name": field(item, "name"),
            "arguments": field(item, "input"),
        }
    if kind.endswith("_call") or kind in _OTHER_CALLS:
        return {
            "id": field(item, "call_id") or field(item, "id"),
            "type": kind,
            "name": _str(field(item, "name")),
            "arguments": _arguments_text(field(item, "arguments")) or _call_request(item),
        }
    return None


_OTHER_CALLS: Final = frozenset({"mcp_approval_request", "program"})
"""Items the model asks to run that are not named ``*_call``: an MCP approval request, a
program (programmatic tool calling: the model's ``code``)."""

_CALL_REQUEST_FIELDS: Final = (
    *("action", "actions", "operation", "code", "queries", "input", "server_label"),
)
"""What the model asked a built-in tool to do (a computer action, a shell command, a
patch, code to run, search queries): the call's arguments. Results (``output``,
``outputs``, ``results``, ``result``) are never kept."""


def _arguments_text(arguments: Any) -> str | None:
    """A call's ``arguments`` as JSON text: a string as sent, an object (a tool search's
    query) encoded."""
    if arguments is None or isinstance(arguments, str):
        return arguments
    return json.dumps(plain(arguments), ensure_ascii=False, separators=(",", ":"))


def _call_request(item: Any) -> str | None:
    asked = {name: plain(field(item, name)) for name in _CALL_REQUEST_FIELDS}
    asked = {name: value for name, value in asked.items() if value is not None}
    return json.dumps(asked, ensure_ascii=False, separators=(",", ":")) if asked else None


def read_response(response: Any) -> Reply:
    """Responses API ``Response`` / ``ParsedResponse`` (also a stream's terminal event)."""
    texts: list[str] = []
    refusals: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    citations: list[Any] = []
    for item in field(response, "output") or ():
        kind = field(item, "type")
        if kind == "message":
            for part in field(item, "content") or ():
                part_type = field(part, "type")
                if part_type == "output_text" and isinstance(field(part, "text"), str):
                    texts.append(field(part, "text"))
                    citations += [plain(a) for a in field(part, "annotations") or ()]
                elif part_type == "refusal" and isinstance(field(part, "refusal"), str):
                    refusals.append(field(part, "refusal"))
        elif kind == "reasoning":
            for part in [*(field(item, "summary") or ()), *(field(item, "content") or ())]:
                if isinstance(field(part, "text"), str):
                    thinking.append(field(part, "text"))
        else:
            call = responses_item_call(item)
            if call is not None:
                calls.append(call)
    output = empty_output()
    output["text"] = "".join(texts) if texts else None
    output["refusal"] = "".join(refusals) if refusals else None
    output["tool_calls"] = calls
    output["finish_reason"] = responses_finish_reason(response)
    add_citations(output, citations)
    if thinking:
        output["thinking"] = "\n".join(thinking)
    parsed = _parsed_response(response)
    if parsed is not None:
        output["parsed"] = parsed_json(parsed, plain)
    reply: Reply = {
        **response_ids(response),
        "output": output,
        "usage": responses_usage(response),
    }
    add_response_facts(reply, output, response)
    error = field(response, "error")
    if field(response, "status") == "failed":  # with or without the error's details
        reply["status"] = STATUS_ERROR
        reply["error"] = {
            "type": _str(field(error, "code")) or "response.failed",
            "message": _str(field(error, "message")),
            "status_code": None,
            "body": plain(error),
        }
    return reply


def responses_usage(response: Any) -> dict[str, Any] | None:
    """A Response's usage, with the hosted tools' usage (``tool_usage``) in its ``raw``:
    OpenAI reports image generation's tokens and the billable web searches apart from the
    model's tokens, and the cost needs both (the record has no other place for them)."""
    usage = input_output_usage(field(response, "usage"))
    tool_usage = raw_usage(field(response, "tool_usage"))
    if not tool_usage or usage is None:  # left out (older SDKs, other servers), or queued
        return usage
    raw = usage["raw"] if isinstance(usage["raw"], dict) else {}
    usage["raw"] = {**raw, "tool_usage": tool_usage}
    return usage


def responses_finish_reason(response: Any) -> str | None:
    """``completed`` / ``failed`` ..., or why it is ``incomplete`` (e.g. ``max_output_tokens``)."""
    status = _str(field(response, "status"))
    if status == "incomplete":
        reason = _str(field(field(response, "incomplete_details"), "reason"))
        return reason or status
    return status


def _parsed_response(response: Any) -> Any:
    if isinstance(response, Mapping) or not hasattr(response, "output_parsed"):
        return None
    try:
        return response.output_parsed
    except Exception:
        return None
