"""What the fake provider answers, independent of any provider's wire format.

Answers are a pure function of the request, so a test can predict them and two
runs of the demo log the same text. Ids are the exception: they are random, as
real ones are, so records stay distinguishable.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import string
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Models that make the fake provider fail, whatever the endpoint.
ERROR_MODELS: Mapping[str, int] = {"fake-error": 500, "fake-rate-limit": 429}
#: Model whose streams break off with an error event after a few chunks.
STREAM_ERROR_MODEL = "fake-stream-error"

_TOKEN = re.compile(r"\w+|[^\w\s]")
_CHUNK = re.compile(r"\s*\S+")
_ALPHANUM = string.ascii_letters + string.digits
_TOOL_WORDS = ("tool", "function", "call", "use", "look up", "check")


@dataclass(frozen=True)
class Plain:
    """A whole JSON reply: status code and body."""

    status: int
    body: Mapping[str, Any]


def sse(data: Any, event: str | None = None) -> bytes:
    """One server-sent event frame; ``data`` is JSON-encoded unless already a string."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def count_tokens(text: str) -> int:
    """Words and punctuation marks: a rough but stable stand-in for a tokenizer."""
    return len(_TOKEN.findall(text))


def random_id(prefix: str, length: int = 24) -> str:
    """``prefix`` + random letters and digits, shaped like the providers' ids."""
    return prefix + "".join(secrets.choice(_ALPHANUM) for _ in range(length))


@dataclass(frozen=True)
class Tool:
    """A tool the request offers: its name and JSON-schema parameters."""

    name: str
    parameters: Mapping[str, Any]


@dataclass(frozen=True)
class Prompt:
    """The provider-neutral parts of a request the answer depends on."""

    model: str
    system: str = ""
    user_text: str = ""
    all_text: str = ""
    tool_result: str | None = None
    tools: Sequence[Tool] = ()
    max_tokens: int | None = None
    cacheable: bool = True
    """Whether the system prompt is read from the prompt cache: OpenAI caches on its own,
    Anthropic only for a request that marks something ``cache_control``
    (:func:`marks_cache`)."""


@dataclass(frozen=True)
class ToolCall:
    """The tool the fake model decided to call, with JSON-encoded arguments."""

    name: str
    arguments: str


@dataclass(frozen=True)
class Answer:
    """What the fake model says: text chunks (as streamed) or a tool call, and usage."""

    chunks: tuple[str, ...]
    tool_call: ToolCall | None
    truncated: bool
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    thinking: str = ""

    @property
    def text(self) -> str:
        return "".join(self.chunks)


def answer(prompt: Prompt, *, thinking: bool = False) -> Answer:
    """Decide the reply: call a tool when offered one and asked to, else echo-answer."""
    input_tokens = max(1, count_tokens(prompt.all_text))
    cached_tokens = min(count_tokens(prompt.system), input_tokens) if prompt.cacheable else 0
    tool = _chosen_tool(prompt)
    if tool is not None:
        arguments = json.dumps(_arguments_for(tool, prompt.user_text))
        return Answer(
            chunks=(),
            tool_call=ToolCall(tool.name, arguments),
            truncated=False,
            input_tokens=input_tokens,
            cached_tokens=cached_tokens,
            output_tokens=count_tokens(tool.name) + count_tokens(arguments),
        )
    chunks = _CHUNK.findall(_reply_text(prompt))
    truncated = prompt.max_tokens is not None and len(chunks) > prompt.max_tokens
    if truncated:
        chunks = chunks[: prompt.max_tokens]
    thought = f"The user wrote {count_tokens(prompt.user_text)} tokens; answer briefly."
    return Answer(
        chunks=tuple(chunks),
        tool_call=None,
        truncated=truncated,
        input_tokens=input_tokens,
        cached_tokens=cached_tokens,
        output_tokens=len(chunks),
        thinking=thought if thinking else "",
    )


def marks_cache(value: Any) -> bool:
    """Whether a request body marks anything ``cache_control`` (a system or message block,
    a tool, or the whole request): Anthropic reads from its prompt cache only then."""
    if isinstance(value, Mapping):
        if value.get("cache_control") is not None:
            return True
        return any(marks_cache(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(marks_cache(item) for item in value)
    return False


def embedding(text: str, dimensions: int) -> list[float]:
    """A unit-free vector derived from the text's hash (same text, same vector)."""
    digest = b""
    counter = 0
    while len(digest) < dimensions:
        digest += hashlib.sha256(f"{counter}:{text}".encode()).digest()
        counter += 1
    return [round(byte / 127.5 - 1.0, 6) for byte in digest[:dimensions]]


def embedding_base64(vector: Sequence[float]) -> str:
    """The float32 little-endian encoding the OpenAI SDK asks for by default."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def _reply_text(prompt: Prompt) -> str:
    if prompt.tool_result is not None:
        return f"According to the tool, the result is: {_snippet(prompt.tool_result)}"
    words = count_tokens(prompt.user_text)
    return (
        f"This is a fake answer from {prompt.model}. "
        f'You asked: "{_snippet(prompt.user_text)}" ({words} token{"" if words == 1 else "s"}). '
        "No real model was called."
    )


def _snippet(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _chosen_tool(prompt: Prompt) -> Tool | None:
    if not prompt.tools or prompt.tool_result is not None:
        return None
    text = prompt.user_text.lower()
    for tool in prompt.tools:
        if tool.name.lower() in text:
            return tool
    if any(word in text for word in _TOOL_WORDS):
        return prompt.tools[0]
    return None


def _proper_noun(text: str) -> str:
    """The last capitalized word that does not start a sentence ("Weather in Paris?" -> Paris)."""
    names = [m.group(1) for m in re.finditer(r"(?<![.?!]\s)(?<!^)\b([A-Z][a-z]+)\b", text)]
    names = [n for n in names if not text.startswith(n)]
    return names[-1] if names else "example"


def _arguments_for(tool: Tool, user_text: str) -> dict[str, Any]:
    """Fill the required (or else all) parameters with values taken from the prompt."""
    properties = tool.parameters.get("properties") or {}
    wanted = tool.parameters.get("required") or list(properties)
    word = _proper_noun(user_text)
    arguments: dict[str, Any] = {}
    for name in wanted:
        spec = properties.get(name) or {}
        kind = spec.get("type", "string")
        if spec.get("enum"):
            arguments[name] = spec["enum"][0]
        elif kind in ("integer", "number"):
            arguments[name] = 1
        elif kind == "boolean":
            arguments[name] = True
        elif kind == "array":
            arguments[name] = [word]
        elif kind == "object":
            arguments[name] = {}
        else:
            arguments[name] = word
    return arguments
