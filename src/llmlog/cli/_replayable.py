"""Can a logged call be sent again unchanged, and with which SDK arguments?

A replay must send what the app sent. It cannot when the log kept less than
the request: content captured as metadata only, inline media kept as a hash,
text cut by truncation, values replaced by redaction tags, or a structured
output class kept as its description. Each of those is refused, naming where.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from llmlog.cli._format import mapping
from llmlog.cli._logs import CliError

__all__ = ["ReplayRequest", "replay_request"]

# (provider, operation) -> SDK resource path of the method that sends it again.
SUPPORTED = {
    ("openai", "chat.completions"): ("chat", "completions", "create"),
    ("openai", "responses"): ("responses", "create"),
    ("anthropic", "messages"): ("messages", "create"),
}
# Streaming is a transport detail; a replay asks for the whole answer at once.
_DROPPED_PARAMS = frozenset({"stream", "stream_options"})
_MEDIA_STUB_KEYS = frozenset({"type", "mime", "bytes", "sha256"})
_FAILED = "REDACTION_FAILED"


@dataclass(frozen=True)
class ReplayRequest:
    """The SDK method to call and its keyword arguments."""

    provider: str
    method: tuple[str, ...]
    kwargs: dict[str, Any]


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


def _tag_pattern(kinds: list[str]) -> re.Pattern[str]:
    names = "|".join(re.escape(kind) for kind in sorted({*kinds, _FAILED}, key=len, reverse=True))
    return re.compile(rf"<(?:{names})(?:_\d+|:[0-9a-f]{{16}})?>")


def problems(record: dict[str, Any]) -> list[str]:
    """Why this record cannot be replayed faithfully (empty when it can)."""
    found: list[str] = []
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        found.append("the request's messages were not logged")
    elif any(isinstance(m, dict) and set(m) == {"role"} for m in messages):
        found.append(
            "content was captured as metadata only (LLMLOG_CAPTURE=metadata): "
            "the messages have roles but no text"
        )
    request = {"system": record.get("system"), "messages": messages, "params": record.get("params")}
    tags = _tag_pattern(list((record.get("redactions") or {}).keys()))
    for path, value in _walk(request, "request"):
        where = path.removeprefix("request.")
        if isinstance(value, dict) and set(value) >= _MEDIA_STUB_KEYS and "sha256" in value:
            found.append(f"{where} is inline {value.get('type')} kept only as a hash")
        elif isinstance(value, dict) and "class" in value and "json_schema" in value:
            found.append(f"{where} is a Python class ({value['class']}) kept as its description")
        elif isinstance(value, str) and (match := tags.search(value)):
            found.append(
                f"{where} holds the redaction tag {match.group(0)}; "
                "replaying would send the tag, not the original value"
            )
    truncated = record.get("truncated") or {}
    for path in truncated if isinstance(truncated, dict) else ():
        if str(path).startswith(("system", "messages", "params")):
            found.append(f"{path} was truncated in the log")
    return found


def replay_request(record: dict[str, Any], model: str | None = None) -> ReplayRequest:
    """The SDK call that repeats ``record``; :class:`CliError` listing every obstacle."""
    provider, operation = record.get("provider"), record.get("operation")
    method = SUPPORTED.get((str(provider), str(operation)))
    if method is None:
        supported = ", ".join(f"{p} {o}" for p, o in SUPPORTED)
        raise CliError(f"cannot replay a {provider} {operation} call; replay supports {supported}")
    found = problems(record)
    if found:
        raise CliError(
            f"record {record.get('id')} cannot be replayed unchanged: " + "; ".join(found)
        )
    params = mapping(record, "params")
    kwargs = {k: v for k, v in params.items() if k not in _DROPPED_PARAMS}
    kwargs["model"] = model or record.get("model")
    if not isinstance(kwargs["model"], str):
        raise CliError(f"record {record.get('id')} has no model; pass --model")
    system, messages = record.get("system"), record["messages"]
    if operation == "chat.completions":
        lead = [{"role": "system", "content": system}] if system else []
        kwargs["messages"] = lead + messages
    elif operation == "responses":
        kwargs["input"] = messages
        if system:
            kwargs["instructions"] = system
    else:
        kwargs["messages"] = messages
        if system:
            kwargs["system"] = system
    return ReplayRequest(str(provider), method, kwargs)
