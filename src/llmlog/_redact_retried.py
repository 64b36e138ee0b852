"""The free text of a record's ``retried``, for redaction: each failed attempt's error
``message`` (a connection error's text may hold a URL with a token in it), searched like
the record's ``error``. Nothing else there is free text: statuses, request ids, exception
names and times are left as they are.
"""

from __future__ import annotations

from typing import Any, Final

RETRIED: Final = "retried"
"""The record's field."""


def retried_messages(retried: Any) -> list[str | None] | None:
    """The ``message`` of each entry of ``retried`` (None where there is none); None when
    no entry has one."""
    if not isinstance(retried, list):
        return None
    messages = [_message(entry) for entry in retried]
    return messages if any(message is not None for message in messages) else None


def with_messages(retried: list[Any], messages: Any) -> list[Any]:
    """A copy of ``retried`` whose messages are ``messages`` (as redacted), or, when that
    is one text (redaction failed: its marker), that text in place of each message."""
    if not isinstance(messages, list):
        messages = [messages] * len(retried)
    return [
        {**entry, "message": message} if _message(entry) is not None else entry
        for entry, message in zip(retried, messages, strict=True)
    ]


def _message(entry: Any) -> str | None:
    message = entry.get("message") if isinstance(entry, dict) else None
    return message if isinstance(message, str) else None
