"""What an OpenAI answer says about how it was made, beside the answer itself: the backend
(``system_fingerprint``), moderation verdicts, Azure's content filters, prompt-cache
diagnostics, and for Responses the stored prompt, the instructions and reasoning settings
it ran with and the input items the server changed.

Writer thread, once per record: a plain chat answer costs two reads of declared fields
and one look at the fields the SDK does not declare (empty for OpenAI's own answers).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any, Final

from llmlog._record import string_or_none
from llmlog.instrumentors._openai_request import plain
from llmlog.instrumentors._sdk_field import field

_NONE: Final[Mapping[str, Any]] = {}


def undeclared(obj: Any) -> Mapping[str, Any]:
    """The fields of an answer (or a choice) its SDK model does not declare; a decoded
    JSON body, or a chunk read as attributes, has them all."""
    if isinstance(obj, dict):
        return obj
    if type(obj) is SimpleNamespace:
        return vars(obj)
    extras = getattr(obj, "__pydantic_extra__", None)
    return extras if extras else _NONE


def as_json(value: Any) -> Any:
    """An answer's value as JSON data (a stream chunk's, read as attributes, too)."""
    if type(value) is SimpleNamespace:
        return {name: as_json(item) for name, item in vars(value).items()}
    if isinstance(value, list):
        return [as_json(item) for item in value]
    return plain(value)


def add_chat_facts(
    output: dict[str, Any], fingerprint: Any, moderation: Any, extras: Mapping[str, Any]
) -> None:
    """``system_fingerprint``, moderation verdicts (asked with ``moderation=``), Azure's
    ``prompt_filter_results`` and cache diagnostics of a chat or legacy completion
    (``extras``: its undeclared fields)."""
    if isinstance(fingerprint, str):
        output["system_fingerprint"] = fingerprint
    if moderation is not None:
        output["moderation"] = moderation_verdicts(moderation)
    if extras:
        _add_undeclared_facts(output, extras)


def _add_undeclared_facts(output: dict[str, Any], extras: Mapping[str, Any]) -> None:
    """What only some hosts send: Azure's prompt filters, cache diagnostics."""
    prompt_filters = extras.get("prompt_filter_results")
    if prompt_filters is not None:
        output["prompt_filter_results"] = as_json(prompt_filters)
    diagnostics = extras.get("prompt_cache_diagnostics")
    if diagnostics is not None:
        output["cache_diagnostics"] = as_json(diagnostics)


def add_choice_filters(output: dict[str, Any], extras: Mapping[str, Any]) -> None:
    """Azure's verdict on one choice's text (``extras``: the choice's undeclared fields),
    in that choice's ``output``."""
    filters = extras.get("content_filter_results")
    if filters is not None:
        output["content_filter_results"] = as_json(filters)


# ---------------------------------------------------------------------------- moderation


def verdict(result: Any) -> dict[str, Any]:
    """One moderation result as the /moderations record has it: flagged, and for what."""
    categories = as_json(field(result, "categories"))
    flagged = categories if isinstance(categories, dict) else {}
    return {
        "flagged": bool(field(result, "flagged")),
        "categories": sorted(name for name, value in flagged.items() if value is True),
    }


def moderation_verdicts(moderation: Any) -> list[dict[str, Any]]:
    """A moderated answer's verdicts on its ``input`` and its ``output``: each result as the
    /moderations record's, with its ``target``; a check that failed as its error."""
    verdicts: list[dict[str, Any]] = []
    for target in ("input", "output"):
        checked = field(moderation, target)
        if checked is None:
            continue
        if field(checked, "type") == "error":
            error = {"code": field(checked, "code"), "message": field(checked, "message")}
            verdicts.append({"target": target, "flagged": None, "categories": [], "error": error})
            continue
        results = field(checked, "results")  # chat: a list; Responses: the one result
        for result in results if isinstance(results, list) else [checked]:
            verdicts.append({"target": target, **verdict(result)})
    return verdicts


# ---------------------------------------------------------------------------- Azure filters

_SEVERITY: Final = {"safe": 0, "low": 1, "medium": 2, "high": 3}


def _weight(category: Any) -> tuple[bool, bool, int]:
    """How bad one category's verdict is: filtered, then detected, then its severity."""
    if not isinstance(category, dict):
        return (False, False, -1)
    severity = category.get("severity")
    rank = _SEVERITY.get(severity, -1) if isinstance(severity, str) else -1
    return (category.get("filtered") is True, category.get("detected") is True, rank)


def merge_filters(kept: dict[str, Any] | None, more: Any) -> dict[str, Any] | None:
    """A stream's content filter results for one choice, which Azure sends per piece of
    text: each category's worst verdict so far."""
    found = as_json(more)
    if not isinstance(found, dict) or not found:
        return kept
    if kept is None:
        return found
    for category, said in found.items():
        if _weight(said) > _weight(kept.get(category)):
            kept[category] = said
    return kept


# ---------------------------------------------------------------------------- Responses


def add_response_facts(reply: dict[str, Any], output: dict[str, Any], response: Any) -> None:
    """A Response's stored prompt (id, version) and the instructions it supplied (the
    record's ``system``: the request did not say them), the effective reasoning settings,
    input items the server removed, moderation verdicts and cache diagnostics."""
    prompt = field(response, "prompt")
    if prompt is not None:
        output["prompt"] = {
            "id": string_or_none(field(prompt, "id")),
            "version": string_or_none(field(prompt, "version")),
        }
        system = instructions_text(field(response, "instructions"))
        if system is not None:
            reply["system"] = system
    reasoning = field(response, "reasoning")
    if reasoning is not None:
        effort, summary = field(reasoning, "effort"), field(reasoning, "summary")
        if effort is not None or summary is not None:
            output["reasoning_settings"] = {"effort": effort, "summary": summary}
    transformations = field(response, "input_transformations")
    if transformations:
        output["input_transformations"] = as_json(transformations)
    moderation = field(response, "moderation")
    if moderation is not None:
        output["moderation"] = moderation_verdicts(moderation)
    diagnostics = field(response, "prompt_cache_diagnostics")
    if diagnostics is not None:
        output["cache_diagnostics"] = as_json(diagnostics)


def instructions_text(instructions: Any) -> str | None:
    """A Response's ``instructions``: a string, or input items (a stored prompt's
    messages), their text parts joined as the request's system messages are."""
    if isinstance(instructions, str):
        return instructions or None
    texts: list[str] = []
    for item in instructions if isinstance(instructions, list) else ():
        content = field(item, "content")
        if isinstance(content, str):
            texts.append(content)
            continue
        parts = content if isinstance(content, list) else ()
        found = [text for text in (field(part, "text") for part in parts) if isinstance(text, str)]
        if found:
            texts.append("\n".join(found))
    return "\n\n".join(texts) if texts else None
