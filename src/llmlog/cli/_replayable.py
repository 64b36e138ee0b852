"""Can a logged call be sent again unchanged, and with which SDK arguments?

A replay must send what the app sent. It cannot when the log kept less than
the request: content captured as metadata only, inline media kept as a hash,
text cut by truncation, values replaced by redaction tags, a structured
output class kept as its description, or a system prompt that may have been
several pieces. Each of those is refused, naming where.

The log keeps the system prompt as one text: the leading system/developer
messages (OpenAI) or the system blocks (Anthropic) joined by line breaks, without
their roles or ``cache_control``. One line of text can only have been one piece,
sent back as one system message (chat), ``instructions`` (Responses: the log does not
say whether it was that or leading input items) or string (Anthropic); several lines may
have been several pieces: sent as one, with a caveat. Anthropic blocks that carried more than
text are also logged as sent, in ``params.system``, and sent back as that list.
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
_MEDIA_STUB_KEYS = frozenset({"type", "mime", "bytes", "sha256"})
# Request options logged in params that a replay does not send: headers and query
# parameters from a log line (which anyone who can write to the log can forge) could pick
# the organization or project billed (``OpenAI-Project``) or reach another endpoint, and a
# timeout is the app's, not the replay's. ``extra_body`` is sent: it is part of the request
# body, as the app sent it.
NOT_SENT = ("extra_headers", "extra_query", "timeout")
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


def _system_problem(record: dict[str, Any]) -> str | None:
    """Why the logged ``system`` cannot be turned back into what the app sent, if it cannot."""
    system = record.get("system")
    anthropic = record.get("provider") == "anthropic"
    if not system:
        return None
    if isinstance(system, list) and anthropic:
        if all(isinstance(block, dict) and "type" in block for block in system):
            return None
        return "system is a list that is not made of content blocks"
    if not isinstance(system, str):
        return f"system is logged as a {type(system).__name__}, not as text"
    return None


def _system_blocks(record: dict[str, Any]) -> list[Any] | None:
    """Anthropic system blocks logged as sent (``params.system``: they carried more than
    text, e.g. ``cache_control``), which a replay sends as they are."""
    blocks = mapping(record, "params").get("system")
    return blocks if record.get("provider") == "anthropic" and isinstance(blocks, list) else None


def caveats(record: dict[str, Any]) -> list[str]:
    """How the replay may differ from the original without changing what the model reads.

    The log keeps the leading system/developer messages (Anthropic: system blocks) as one
    text, so a prompt sent in pieces goes back as one (Anthropic blocks with
    ``cache_control`` are kept as sent, in ``params.system``; a call that used the prompt
    cache with nothing logged marked may have lost a mark). Most system prompts are one
    piece, often of several lines: replay sends them and says what it could not know,
    rather than refusing them all.
    The logged request options it leaves out (:data:`NOT_SENT`) are said too.
    """
    params = mapping(record, "params")
    dropped = [key for key in NOT_SENT if key in params]
    found = (
        [
            f"params.{', params.'.join(dropped)} {'is' if len(dropped) == 1 else 'are'} not sent "
            "(headers, query parameters and timeouts from a log could pick the project billed)"
        ]
        if dropped
        else []
    )
    system = record.get("system")
    if not isinstance(system, str) or _system_blocks(record) is not None:
        return found
    anthropic = record.get("provider") == "anthropic"
    if record.get("operation") == "chat.completions":
        found.append(
            "system may have been a developer message, or text parts, which the log does not "
            "tell apart: it is sent as a system message holding a string"
        )
    if not system:  # "" is sent as the empty system message it was (chat) or left out
        return found
    if "\n" in system:
        pieces = "text blocks" if anthropic else "system/developer messages or text parts"
        found.append(
            f"system may have been several {pieces}, which the log keeps joined into one "
            "text: it is sent as one"
        )
    if record.get("operation") == "responses":
        found.append(
            "system may have been instructions= or leading system/developer input items, "
            "which the log keeps as one text: it is sent as instructions="
        )
    usage = mapping(record, "usage")
    cached = (usage.get("cached_input_tokens") or 0) + (usage.get("cache_write_tokens") or 0)
    request = {"messages": record.get("messages"), "params": record.get("params")}
    marked = any(path.endswith(".cache_control") for path, _ in _walk(request, "request"))
    if anthropic and cached and not marked:
        found.append(
            "the call used the prompt cache, yet nothing logged is marked cache_control: its "
            "system prompt may have been (the log does not keep that), so the replay may not "
            "be cached"
        )
    return found


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
            if value.get("type") == "encrypted":
                found.append(
                    f"{where} is the provider's encrypted state (a thinking block's signature "
                    "or data, a reasoning item's encrypted_content), kept only as a hash"
                )
            else:
                found.append(f"{where} is inline {value.get('type')} kept only as a hash")
        elif isinstance(value, dict) and "class" in value and "json_schema" in value:
            found.append(f"{where} is a Python class ({value['class']}) kept as its description")
        elif isinstance(value, str) and (match := tags.search(value)):
            found.append(
                f"{where} holds the redaction tag {match.group(0)}; "
                "replaying would send the tag, not the original value"
            )
        if isinstance(value, dict):  # keys of the app's data are redacted too
            for key in value:
                if isinstance(key, str) and (match := tags.search(key)):
                    found.append(
                        f"{where} has a key holding the redaction tag {match.group(0)}; "
                        "replaying would send the tag, not the original key"
                    )
    truncated = record.get("truncated") or {}
    for path in truncated if isinstance(truncated, dict) else ():
        if str(path).startswith(("system", "messages", "params")):
            found.append(f"{path} was truncated in the log")
    if (system := _system_problem(record)) is not None:
        found.append(system)
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
    kwargs = {k: v for k, v in mapping(record, "params").items() if k not in NOT_SENT}
    if record.get("stream") is True:  # the log keeps it beside params; stream_options in them
        kwargs["stream"] = True
    kwargs["model"] = model or record.get("model")
    if not isinstance(kwargs["model"], str):
        raise CliError(f"record {record.get('id')} has no model; pass --model")
    system, messages = record.get("system"), record["messages"]
    if operation == "chat.completions":
        # "" is one empty system message the app sent: sent again, not left out.
        lead = [{"role": "system", "content": system}] if isinstance(system, str) else []
        kwargs["messages"] = lead + messages
    elif operation == "responses":
        # The log does not say whether the text was `instructions` or leading input items
        # (see `caveats`): `instructions`, Responses' own place for it.
        kwargs["input"] = messages
        if system:
            kwargs["instructions"] = system
    else:
        kwargs["messages"] = messages
        if system and _system_blocks(record) is None:  # the blocks as sent are in params
            kwargs["system"] = system
    return ReplayRequest(str(provider), method, kwargs)
