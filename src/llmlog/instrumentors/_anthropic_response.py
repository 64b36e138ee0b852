"""Anthropic responses -> the answer side of a record (output, usage, ids).

Pure functions over a ``Message`` (pydantic object or its JSON dict) or over the
raw stream events of one call, so the same code reads ``create``, ``parse``,
streams and raw-response bodies. Runs on the writer thread and tolerates partial
or odd data: a stream cut short still yields what arrived.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from llmlog._record import (
    add_citations,
    empty_output,
    parsed_json,
    string_or_none,
    usage_record,
)
from llmlog.instrumentors._anthropic_request import plain
from llmlog.instrumentors._anthropic_server_tools import (
    add_server_tool_output,
    container_record,
    is_tool_result,
    tool_result,
)
from llmlog.instrumentors._sdk_field import field as field_of

_REFUSAL = "refusal"


@dataclass(frozen=True, slots=True)
class HttpFacts:
    """What a record keeps of an HTTP response: its headers, and its body if the SDK read it.

    Never the SDK's stream or response object itself: the app owns their lifetime,
    and the SDK's own tracing ends a dropped stream's span only when that object
    is garbage collected, which a reference in the record queue would delay.
    """

    headers: Any
    body: bytes | None = None


def _fields(obj: Any) -> dict[str, Any] | None:
    """The fields of a small SDK object (or JSON dict) as a new dict, None-valued ones left out.

    Reads a pydantic object's ``__dict__`` and extras: a tenth of what ``model_dump`` costs.
    """
    if obj is None:
        return None
    if type(obj) is dict:
        items = obj
    elif hasattr(obj, "__pydantic_extra__"):
        items = obj.__dict__ | (obj.__pydantic_extra__ or {})
    elif isinstance(obj, Mapping):
        items = dict(obj)
    else:
        return None
    return {key: plain(value) for key, value in items.items() if value is not None}


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def normalized_usage(usage: Any) -> dict[str, Any] | None:
    """Usage with ``input_tokens`` meaning all input (plain + cache read + cache write).

    Anthropic's own ``input_tokens`` excludes cached input; OpenAI's includes it.
    Summing makes the field mean the same for both providers; the parts stay
    visible in ``cached_input_tokens`` / ``cache_write_tokens`` and ``raw``.
    """
    raw = _fields(usage)
    if raw is None:
        return None
    plain_input = _count(raw.get("input_tokens"))
    cache_read = _count(raw.get("cache_read_input_tokens"))
    cache_write = _count(raw.get("cache_creation_input_tokens"))
    parts = [n for n in (plain_input, cache_read, cache_write) if n is not None]
    details = raw.get("output_tokens_details")
    thinking = _count(details.get("thinking_tokens")) if isinstance(details, dict) else None
    return usage_record(
        input_tokens=sum(parts) if parts else None,
        output_tokens=_count(raw.get("output_tokens")),
        cached_input_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=thinking,
        raw=raw,
    )


def error_record(error: Any) -> dict[str, Any] | None:
    """An error object the API reports inside a result (``{type, message, ...}``) as the
    record's ``error``; None if there is none."""
    body = plain(error) if error is not None else None
    if not isinstance(body, dict):
        return None
    return {
        "type": body.get("type"),
        "message": body.get("message"),
        "status_code": None,
        "body": body,
    }


def arguments_text(tool_input: Any) -> str:
    """Tool input as JSON text, the form OpenAI records use for ``arguments``."""
    return json.dumps(plain(tool_input), ensure_ascii=False, separators=(",", ":"))


TOOL_USE_BLOCKS: Final = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})
"""Content blocks that are a tool call: the app's tools, and the ones Anthropic's servers
run themselves (web search, code execution, MCP servers), which the app never sees called."""


def tool_call(kind: str, call_id: Any, name: Any, arguments: str, server: Any) -> dict[str, Any]:
    """``{id, type, name, arguments}`` (+ ``server`` for an MCP tool), as OpenAI records have."""
    call = {"id": call_id, "type": kind, "name": name, "arguments": arguments}
    if kind == "mcp_tool_use":
        call["server"] = server
    return call


def message_output(message: Any) -> dict[str, Any]:
    """``output`` for a complete message: text, tool calls, thinking, stop reason (and the
    stop sequence that ended it), server-run tools' results, the code container."""
    texts: list[str] = []
    thoughts: list[str] = []
    summaries: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    tool_results: list[dict[str, Any]] = []
    redacted_thinking = 0
    citations: list[Any] = []
    for block in field_of(message, "content") or ():
        kind = field_of(block, "type")
        if kind == "text":
            texts.append(field_of(block, "text") or "")
            citations += [plain(c) for c in field_of(block, "citations") or ()]
        elif kind == "thinking":
            thoughts.append(field_of(block, "thinking") or "")
        elif kind == "compaction" and isinstance(content := field_of(block, "content"), str):
            summaries.append(content)
        elif kind in TOOL_USE_BLOCKS:
            tool_calls.append(
                tool_call(
                    kind,
                    field_of(block, "id"),
                    field_of(block, "name"),
                    arguments_text(field_of(block, "input")),
                    field_of(block, "server_name"),
                )
            )
        elif kind == "redacted_thinking":
            redacted_thinking += 1
        elif is_tool_result(kind):
            tool_results.append(tool_result(block))
    output = _output(texts, thoughts, tool_calls, message)
    add_citations(output, citations)
    add_compaction(output, summaries)
    add_server_tool_output(output, tool_results, redacted_thinking)
    if _may_have_parsed_output(type(message)):
        parsed = message.parsed_output
        if parsed is not None:
            output["parsed"] = parsed_json(parsed, plain)
    return output


_parsed_output_by_class: dict[type, bool] = {}


def _may_have_parsed_output(cls: type) -> bool:
    """Whether a message class is a ``ParsedMessage`` (looked up once per class)."""
    known = _parsed_output_by_class.get(cls)
    if known is None:
        known = _parsed_output_by_class[cls] = cls is not dict and hasattr(cls, "parsed_output")
    return known


def _output(
    texts: list[str], thoughts: list[str], tool_calls: list[dict[str, Any]], final: Any
) -> dict[str, Any]:
    output = empty_output()
    output["text"] = "".join(texts) if texts else None
    output["tool_calls"] = tool_calls
    output["thinking"] = "\n".join(thoughts) if thoughts else None
    stop_reason = field_of(final, "stop_reason")
    output["finish_reason"] = string_or_none(stop_reason)
    if stop_reason == "stop_sequence":  # which of the app's stop_sequences ended it
        output["stop_sequence"] = field_of(final, "stop_sequence")
    if stop_reason == _REFUSAL:
        _add_refusal(output, field_of(final, "stop_details"))
    container = container_record(field_of(final, "container"))
    if container is not None:
        output["container"] = container
    diagnostics = field_of(final, "diagnostics")  # asked for with `diagnostics=`
    if diagnostics is not None:  # why the prompt cache missed: a cost jump's cause
        output["cache_diagnostics"] = plain(diagnostics)
    return output


def add_compaction(output: dict[str, Any], summaries: list[str]) -> None:
    """``output["compaction"]``: the summary a context compaction wrote (the whole answer
    of a compaction call), when there is one."""
    if summaries:
        output["compaction"] = "\n".join(summaries)


def _add_refusal(output: dict[str, Any], details: Any) -> None:
    """``output["refusal"]`` (why the model refused), and ``output["refusal_category"]``
    (the policy it cited, e.g. "cyber") when the API names one, explanation or not."""
    output["refusal"] = _refusal_text(details)
    category = field_of(details, "category") if details is not None else None
    if isinstance(category, str) and category:
        output["refusal_category"] = category


def _refusal_text(details: Any) -> str:
    """Why the model refused: the explanation, else the category, else just "refusal"."""
    for name in ("explanation", "category"):
        value = field_of(details, name) if details is not None else None
        if isinstance(value, str) and value:
            return value
    return _REFUSAL


@dataclass
class _Block:
    kind: Any
    id: Any = None
    name: Any = None
    server: Any = None  # an MCP tool's server
    parts: list[str] = field(default_factory=list)
    start_input: Any = None  # a tool's input given whole in its start (no deltas follow)
    result: dict[str, Any] | None = None  # a server-run tool's result: whole in its start


@dataclass
class StreamSummary:
    """What the raw events of one streamed call add up to."""

    response_id: Any = None
    response_model: Any = None
    output: dict[str, Any] = field(default_factory=empty_output)
    usage: dict[str, Any] | None = None
    complete: bool = False
    """``message_stop`` arrived: the app received the whole answer, however it stopped."""


def summarize_events(events: Iterable[Any]) -> StreamSummary:
    """Fold raw stream events (SDK objects or decoded JSON) into output and usage.

    ``message_delta.usage`` holds running totals, not increments: its
    ``output_tokens`` replaces the earlier count, and input or cache counts it
    carries replace those from ``message_start`` (as the SDK's accumulator does).
    """
    summary = StreamSummary()
    blocks: dict[int, _Block] = {}
    usage: dict[str, Any] | None = None
    final: dict[str, Any] = {}
    citations: list[Any] = []
    for event in events:
        if type(event) is dict and event.get("type") == "content_block_delta":
            # most events of a stream, decoded JSON: read straight from the dicts
            index: Any = event.get("index")
            state = blocks.get(index)
            delta = event.get("delta")
            if state is not None and type(delta) is dict:
                delta_type: Any = delta.get("type")
                name = _DELTA_TEXT_FIELD.get(delta_type)
                if name is not None:
                    state.parts.append(delta.get(name) or "")
                elif delta_type == "citations_delta":
                    citations.append(plain(delta.get("citation")))
                elif delta_type == "compaction_delta":  # the summary so far, whole
                    state.parts[:] = [delta.get("content") or ""]
            continue
        kind = field_of(event, "type")
        if kind == "content_block_delta":
            state = blocks.get(field_of(event, "index"))
            if state is not None:
                delta = field_of(event, "delta")
                name = _DELTA_TEXT_FIELD.get(field_of(delta, "type"))
                if name is not None:
                    state.parts.append(field_of(delta, name) or "")
                elif field_of(delta, "type") == "citations_delta":
                    citations.append(plain(field_of(delta, "citation")))
                elif field_of(delta, "type") == "compaction_delta":
                    state.parts[:] = [field_of(delta, "content") or ""]
        elif kind == "content_block_start":
            block = field_of(event, "content_block")
            index = field_of(event, "index")
            if isinstance(index, int):
                blocks[index] = _Block(
                    field_of(block, "type"),
                    field_of(block, "id"),
                    field_of(block, "name"),
                    field_of(block, "server_name"),
                )
                _seed_block(blocks[index], block)
            if field_of(block, "type") == "fallback":
                # the model that answered, as the SDK relabels its final message
                summary.response_model = field_of(field_of(block, "to"), "model")
        elif kind == "message_start":
            message = field_of(event, "message")
            summary.response_id = field_of(message, "id")
            summary.response_model = field_of(message, "model")
            usage = _fields(field_of(message, "usage"))
            final["container"] = field_of(message, "container")
            final["diagnostics"] = field_of(message, "diagnostics")
        elif kind == "message_delta":
            delta = field_of(event, "delta")
            final["stop_reason"] = field_of(delta, "stop_reason")
            final["stop_details"] = field_of(delta, "stop_details")
            final["stop_sequence"] = field_of(delta, "stop_sequence")
            if (container := field_of(delta, "container")) is not None:
                final["container"] = container
            delta_usage = _fields(field_of(event, "usage"))
            if delta_usage is not None:
                usage = (usage or {}) | delta_usage
        elif kind == "message_stop":
            summary.complete = True
    summary.output = _stream_output(blocks, final)
    add_citations(summary.output, citations)
    summary.usage = normalized_usage(usage)
    return summary


# Where each kind of delta carries its text; other deltas (signatures, citations) add none.
_DELTA_TEXT_FIELD: Final = {
    "text_delta": "text",
    "thinking_delta": "thinking",
    "input_json_delta": "partial_json",
}


def _seed_block(state: _Block, block: Any) -> None:
    """What a ``content_block_start`` already carries (usually nothing): text, thinking, a
    compaction's summary, a tool's whole input (its deltas, if any come, replace it), a
    server-run tool's whole result."""
    if state.kind == "text":
        state.parts.append(field_of(block, "text") or "")
    elif state.kind == "thinking":
        state.parts.append(field_of(block, "thinking") or "")
    elif state.kind == "compaction":
        state.parts.append(field_of(block, "content") or "")
    elif state.kind in TOOL_USE_BLOCKS:
        state.start_input = field_of(block, "input")
    elif is_tool_result(state.kind):
        state.result = tool_result(block)


def _streamed_arguments(joined: str) -> str:
    """The assembled input JSON, spelled as for a non-streamed call; kept as is if cut short."""
    if not joined:
        return "{}"  # a tool without input streams no JSON at all
    try:
        return arguments_text(json.loads(joined))
    except ValueError:
        return joined


def _stream_output(blocks: dict[int, _Block], final: dict[str, Any]) -> dict[str, Any]:
    texts: list[str] = []
    thoughts: list[str] = []
    summaries: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    tool_results: list[dict[str, Any]] = []
    redacted_thinking = 0
    for index in sorted(blocks):
        state = blocks[index]
        joined = "".join(state.parts)
        if state.kind == "text":
            texts.append(joined)
        elif state.kind == "thinking":
            thoughts.append(joined)
        elif state.kind == "compaction" and joined:
            summaries.append(joined)
        elif state.kind in TOOL_USE_BLOCKS:
            given = state.start_input
            arguments = (
                arguments_text(given) if given and not joined else _streamed_arguments(joined)
            )
            call = tool_call(state.kind, state.id, state.name, arguments, state.server)
            tool_calls.append(call)
        elif state.kind == "redacted_thinking":
            redacted_thinking += 1
        elif state.result is not None:
            tool_results.append(state.result)
    output = _output(texts, thoughts, tool_calls, final)
    add_compaction(output, summaries)
    add_server_tool_output(output, tool_results, redacted_thinking)
    return output
