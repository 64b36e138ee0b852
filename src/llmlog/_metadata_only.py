"""``LLMLOG_CAPTURE=metadata``: the processor that drops prompt and output text.

Its own module because what counts as text is a long list of the providers' shapes
(params that carry prompt text, schema descriptions and examples, quoted output in
error messages); :mod:`llmlog.processors` re-exports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from llmlog._record import CONTENT_FIELDS, EVENT_CALL
from llmlog._redact_walk import _SCHEMA_NAME_KEYS

# compaction: a summary of the conversation
_OUTPUT_TEXT_KEYS = ("text", "refusal", "parsed", "thinking", "compaction")
# Params that carry prompt text, and the member holding it (None: the whole param).
_PROMPT_TEXT_PARAMS: Final[dict[str, str | None]] = {
    "prompt": "variables",  # Responses reusable prompt: id and version stay
    "prediction": "content",  # chat predicted output: the draft text
    "suffix": None,  # legacy completions: the text after the insertion point
}


class MetadataOnly:
    """``LLMLOG_CAPTURE=metadata``: drop prompt and output text, keep the rest.

    Kept: message roles and counts, tool call ids/types/names, citations' types,
    usage, latency, ids, errors, tags and params other than text (a decision's
    questions and answers keep their type and name; a reusable prompt its id and
    version). Dropped: system, message content, template variables, output text,
    refusal, parsed answer, thinking, tool arguments, cited text and sources, every
    ``n > 1`` choice's text, an audio answer's transcript, model output an error
    message quotes, and params that carry prompt text (``prompt.variables``,
    ``prediction.content``, ``suffix``, the texts of Anthropic's system blocks, the
    descriptions and examples of tools and formats, an eval run's prompt template).
    """

    def __call__(self, _logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        if event_dict.get("event") != EVENT_CALL:
            return event_dict
        new = dict(event_dict)
        for name in CONTENT_FIELDS:
            if name == "messages" and isinstance(new.get("messages"), list):
                new["messages"] = [_role_only(m) for m in new["messages"]]
            elif new.get(name) is not None:
                new[name] = None
        output = new.get("output")
        if isinstance(output, Mapping):
            new["output"] = _output_labels(output)
        params = new.get("params")
        if isinstance(params, Mapping):
            new["params"] = _params_without_text(params)
        template = new.get("template")
        if isinstance(template, Mapping) and template.get("variables") is not None:
            new["template"] = {**template, "variables": None}
        error = new.get("error")
        if isinstance(error, Mapping) and isinstance(error.get("message"), str):
            message = _without_quoted_output(error["message"])
            if message is not error["message"]:
                new["error"] = {**error, "message": message}
        return new


_QUOTED_OUTPUT: Final = ". JSON: "
"""Where an SDK's error message starts quoting the model's output: Anthropic's stream helper
("Unable to parse tool parameter JSON from model. ... Error: {e}. JSON: {the tool input}")."""


def _without_quoted_output(message: str) -> str:
    """``message`` without the model output it quotes (the head says what went wrong)."""
    head, quote, _ = message.partition(_QUOTED_OUTPUT)
    return f"{head}{quote}<model output not logged>" if quote else message


def _output_labels(output: Mapping[str, Any]) -> dict[str, Any]:
    stripped = {k: (None if k in _OUTPUT_TEXT_KEYS else v) for k, v in output.items()}
    # answers: OpenAI decisions; citations: their types stay (the schema's array of objects),
    # the cited text, titles and URLs go
    for key in ("tool_calls", "answers", "citations"):
        if isinstance(output.get(key), list):
            stripped[key] = [_labels_only(item) for item in output[key]]
    if isinstance(output.get("choices"), list):  # n > 1: every choice holds its text
        stripped["choices"] = [
            _output_labels(c) if isinstance(c, Mapping) else None for c in output["choices"]
        ]
    if isinstance(output.get("tool_results"), list):  # Anthropic's server-run tools
        stripped["tool_results"] = [_result_labels(r) for r in output["tool_results"]]
    audio = output.get("audio")
    if isinstance(audio, Mapping) and audio.get("transcript") is not None:
        stripped["audio"] = {**audio, "transcript": None}
    return stripped


def _params_without_text(params: Mapping[str, Any]) -> Mapping[str, Any]:
    changed: dict[str, Any] = {}
    system = params.get("system")  # Anthropic's blocks (cache_control kept), a gateway's text
    if system is not None:
        blocks = system if isinstance(system, list) else ()
        changed["system"] = [_block_settings(b) for b in blocks] if blocks else None
    if isinstance(params.get("questions"), list):
        changed["questions"] = [_labels_only(q) for q in params["questions"]]
    for name in _DESCRIBED_PARAMS:  # what the app tells the model its tools and formats are
        if params.get(name) is not None:
            changed[name] = _without_descriptions(params[name])
    source = params.get("data_source")  # an eval run's prompt template
    if isinstance(source, Mapping) and isinstance(source.get("input_messages"), Mapping):
        changed["data_source"] = {**source, "input_messages": None}
    for name, member in _PROMPT_TEXT_PARAMS.items():
        value = params.get(name)
        if value is None:
            continue
        if member is None or not isinstance(value, Mapping):
            changed[name] = None
        elif value.get(member) is not None:
            changed[name] = {**value, member: None}
    return {**params, **changed} if changed else params


_DESCRIBED_PARAMS: Final = (
    *("tools", "functions", "response_format", "text", "output_format", "output_config"),
)


_PROMPT_TEXT_KEYS: Final = frozenset({"description", "examples", "example", "input_examples"})
"""What a tool or format says to the model in words: its descriptions, JSON Schema's
``examples`` and Anthropic's ``input_examples`` (sample inputs the app wrote)."""


def _without_descriptions(value: Any) -> Any:
    """``value`` without its descriptions and examples, however deep (a tool's, its
    parameters'): prompt text the app wrote for the model; names, types and schemas stay.
    Under ``properties`` (``$defs``...) the keys are the names of the fields a schema
    describes: a field named ``description`` is no description, it stays."""
    if isinstance(value, list):
        return [_without_descriptions(item) for item in value]
    if not isinstance(value, Mapping):
        return value
    out = {}
    for key, item in value.items():
        if key in _PROMPT_TEXT_KEYS:
            continue
        if key in _SCHEMA_NAME_KEYS and isinstance(item, Mapping):
            item = {name: _without_descriptions(field) for name, field in item.items()}
        elif not isinstance(item, _SCALARS):
            item = _without_descriptions(item)
        out[key] = item
    return out


_SCALARS: Final = (str, int, float, bool, type(None))


def _role_only(message: Any) -> Any:
    if isinstance(message, Mapping):
        return {"role": message.get("role")}
    return {"role": None}


def _block_settings(block: Any) -> Any:
    """A system block's type and ``cache_control``: no text, no cited text."""
    if isinstance(block, Mapping):
        return {k: v for k, v in block.items() if k in ("type", "cache_control")}
    return None


def _result_labels(result: Any) -> Any:
    """A server-run tool's result: which call, its type and error flag; no content."""
    if isinstance(result, Mapping):
        kept = {k: v for k, v in result.items() if k in ("tool_use_id", "type", "is_error")}
        return kept | {"content": None}
    return None


def _labels_only(item: Any) -> Any:
    """A tool call, a decision's question or answer: its id, type and name, no text."""
    if isinstance(item, Mapping):
        return {k: v for k, v in item.items() if k in ("id", "type", "name")}
    return None
