"""A record's ``error``: what the exception a call ended with says, read so that none of
it can lose the record (it may be the app's own exception: raised in an httpx event hook,
a messages iterator).

Beyond its type and message: ``code``, the provider's reason for a refused call (two 429s,
``insufficient_quota`` and ``rate_limit_exceeded``, differ only there); ``cause``, the
exceptions it was raised from (an SDK's "Connection error." says nothing of a failed DNS
lookup, a refused certificate or a read timeout: its cause does).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from llmlog._record import safe_str
from llmlog.processors import truncation_marker

MAX_CAUSES: Final = 5
"""Causes kept, nearest first: past a few links a chain repeats itself (httpx's error,
httpcore's, the socket's)."""
MAX_CAUSE_CHARS: Final = 1000
"""Longest message of a cause (or of a retried attempt's error) kept."""


def error_fields(exc: BaseException) -> dict[str, Any]:
    """The record's ``error`` for ``exc``."""
    status_code = _attribute(exc, "status_code")
    body = _attribute(exc, "body")
    return {
        "type": type(exc).__name__,
        "message": error_message(exc),
        "status_code": status_code if isinstance(status_code, int) else None,
        "code": error_code(exc, body),
        "body": body,
        "cause": error_causes(exc),
    }


def completed_error(error: Any) -> Any:
    """An ``error`` an extractor built from an error object in an answer or an event
    (``{type, message, status_code, body}``), given the ``code`` its body holds and a
    ``cause`` (None: nothing was raised) like an exception's."""
    if not isinstance(error, dict) or ("code" in error and "cause" in error):
        return error
    completed = {
        "type": error.get("type"),
        "message": error.get("message"),
        "status_code": error.get("status_code"),
        "code": body_code(error.get("body")),
        "body": error.get("body"),
        "cause": None,
    }
    completed.update(error)
    return completed


def error_message(exc: BaseException) -> str:
    """The SDKs' ``message``, else the exception's text (a pydantic ``ValidationError``'s
    without the input values it quotes)."""
    message = _attribute(exc, "message")
    if isinstance(message, str):
        return message
    return _validation_message(exc) or safe_str(exc)


def error_code(exc: BaseException, body: Any) -> str | None:
    """The exception's ``code`` (OpenAI's errors have one), else the code of the error
    object in its body, else that object's ``type`` (Anthropic's ``rate_limit_error``,
    ``overloaded_error``); None when there is none."""
    # Set by the exception itself (OpenAI's errors), not a property: reading one may warn in
    # the app (websockets' ConnectionClosed.code is deprecated); not SystemExit's either.
    fields = getattr(exc, "__dict__", None) if isinstance(exc, Exception) else None
    code = fields.get("code") if isinstance(fields, dict) else None
    if isinstance(code, str) and code:
        return bounded(code)
    return body_code(body)


def body_code(body: Any) -> str | None:
    """The ``code``, else the ``type``, of the error object in ``body`` (Anthropic's and
    most gateways' ``{"error": {...}}``; OpenAI's SDK keeps the inner object alone)."""
    inner = body.get("error", body) if isinstance(body, dict) else None
    if not isinstance(inner, dict):
        return None
    return _code_text(inner.get("code")) or _code_text(inner.get("type"))


def error_causes(exc: BaseException) -> list[dict[str, str]] | None:
    """``{type, message}`` of each exception ``exc`` was raised from, nearest first, at
    most :data:`MAX_CAUSES`; None when there is none."""
    causes = [
        {"type": type(cause).__name__, "message": bounded(error_message(cause))}
        for cause in _chain(exc)
    ]
    return causes or None


def attempt_message(exc: BaseException) -> str:
    """The text of an exception the SDK retried after: its message, then its causes' types
    and messages, but those that repeat one already said (httpx's, httpcore's and the
    socket's often do); bounded."""
    said = [error_message(exc)]
    parts = [said[0]]
    for cause in _chain(exc):
        message = error_message(cause)
        if message not in said:
            said.append(message)
            parts.append(f"{type(cause).__name__}: {message}")
    if len(parts) == 1:
        return bounded(parts[0])
    return bounded(f"{parts[0]} (cause: {'; '.join(parts[1:])})")


def bounded(text: str, limit: int = MAX_CAUSE_CHARS) -> str:
    """``text`` cut to ``limit`` characters, never inside a word: a word across the limit
    (a URL with its token, a key) goes whole, so that redaction, which runs later, still
    sees every secret kept whole or not at all."""
    if len(text) <= limit:
        return text
    cut = limit
    while cut > 0 and not text[cut].isspace():
        cut -= 1
    return text[:cut] + truncation_marker(len(text) - cut)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exceptions ``exc`` was raised from: ``raise ... from`` first, else the one being
    handled when it was raised (unless ``from None`` hid it); each once, at most
    :data:`MAX_CAUSES`."""
    seen = {id(exc)}
    current = _next_cause(exc)
    while current is not None and id(current) not in seen and len(seen) <= MAX_CAUSES:
        yield current
        seen.add(id(current))
        current = _next_cause(current)


def _next_cause(exc: BaseException) -> BaseException | None:
    if exc.__cause__ is not None:
        return exc.__cause__
    return None if exc.__suppress_context__ else exc.__context__


def _code_text(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return bounded(value)
    if isinstance(value, int) and not isinstance(value, bool):  # a gateway's numeric code
        return str(value)
    return None


def _attribute(exc: BaseException, name: str) -> Any:
    """``exc.name``, or None when there is none or reading it fails (a property)."""
    try:
        return getattr(exc, name, None)
    except Exception:
        return None


def _validation_message(exc: BaseException) -> str | None:
    """A pydantic ``ValidationError`` (a ``parse()`` answer that does not fit its format)
    said as pydantic says it, without the input values it quotes: they are the model's
    answer, cut to ``head...tail``, which redaction cannot recognise once cut (the answer
    itself is in ``output``). None for any other exception."""
    if type(exc).__name__ != "ValidationError":
        return None
    errors, title = _attribute(exc, "errors"), _attribute(exc, "title")
    if not callable(errors) or title is None:
        return None
    try:
        found = errors(include_input=False, include_url=False, include_context=False)
        lines = [f"{len(found)} validation error{'' if len(found) == 1 else 's'} for {title}"]
        for error in found:
            if error.get("loc"):
                lines.append(".".join(str(part) for part in error["loc"]))
            lines.append(f"  {error.get('msg')} [type={error.get('type')}]")
    except Exception:  # not pydantic's
        return None
    return "\n".join(lines)
