"""What the filters and groupings read from a record, in Python and as SQL alike.

The ``--error``, ``--service`` and ``--tool`` matches, the ``--by error`` key, and the
``stats_source`` columns (see ``_duck``) each has a Python twin here, so both engines
select and group exactly the same calls: a value of an unexpected type (a number where
text belongs) is missing for both.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import Any

__all__ = [
    "error_key",
    "error_matches",
    "error_sql",
    "glob",
    "glob_sql",
    "service",
    "tool_names",
    "tool_sql",
]

# Columns of ``_duck``'s stats relation the Python functions below stand for.
ERROR_KEY_SQL = "error_type || coalesce(':' || error_code, '')"
_ERROR_TEXTS = ("error_type", "error_message", "error_code")


def glob(pattern: str) -> Callable[[Any], bool]:
    """A text equal to ``pattern``, or matching it when it has glob characters (``*?[``)."""
    if not _is_glob(pattern):
        return lambda value: value == pattern
    regex = re.compile(fnmatch.translate(pattern))
    return lambda value: isinstance(value, str) and regex.match(value) is not None


def glob_sql(pattern: str) -> str:
    """The SQL operator :func:`glob` stands for with this pattern."""
    return "GLOB" if _is_glob(pattern) else "="


def _is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def service(record: dict[str, Any]) -> str | None:
    """``process.service``: the app that made the call (column ``service``)."""
    process = record.get("process")
    return _text(process.get("service")) if isinstance(process, dict) else None


def tool_names(record: dict[str, Any]) -> list[str]:
    """The names of the tools the answer asked for (``output.tool_calls[].name``; column
    ``tool_names``)."""
    output = record.get("output")
    calls = output.get("tool_calls") if isinstance(output, dict) else None
    if not isinstance(calls, list):
        return []
    names = (call.get("name") for call in calls if isinstance(call, dict))
    return [name for name in names if isinstance(name, str)]


def tool_sql() -> str:
    """``--tool``: one of ``tool_names`` matches the pattern (a parameter; GLOB or =,
    formatted in by the caller with :func:`glob_sql`)."""
    return "coalesce(list_bool_or(list_transform(tool_names, lambda n: n {op} ?)), false)"


def _error(record: dict[str, Any]) -> dict[str, Any] | None:
    error = record.get("error")
    return error if isinstance(error, dict) else None


def error_key(record: dict[str, Any]) -> str | None:
    """``--by error``: ``type:code`` (``type`` alone without a code); None without an error
    (see :data:`ERROR_KEY_SQL`)."""
    error = _error(record)
    kind = _text(error.get("type")) if error else None
    if error is None or kind is None:
        return None
    code = _text(error.get("code"))
    return kind if code is None else f"{kind}:{code}"


def _cause_texts(error: dict[str, Any]) -> list[str]:
    """Each cause's type and message (``error.cause``, the exception's causes; column
    ``error_causes``)."""
    causes = error.get("cause")
    if not isinstance(causes, list):
        return []
    return [
        text
        for key in ("type", "message")
        for cause in causes
        if isinstance(cause, dict) and (text := _text(cause.get(key))) is not None
    ]


def _status_code(text: str) -> int | None:
    return int(text) if re.fullmatch(r"[0-9]{1,18}", text) else None


def error_matches(needle: str) -> Callable[[dict[str, Any]], bool]:
    """``--error``: the record's error has ``needle`` (lower case) in its type, message,
    code, or a cause's type or message; or ``needle`` is its HTTP status code."""
    code = _status_code(needle)

    def matches(record: dict[str, Any]) -> bool:
        error = _error(record)
        if error is None:
            return False
        texts = [_text(error.get(key)) for key in ("type", "message", "code")]
        if any(needle in text.lower() for text in (*texts, *_cause_texts(error)) if text):
            return True
        status = error.get("status_code")
        return code is not None and type(status) is int and status == code

    return matches


def error_sql(needle: str) -> tuple[str, list[Any]]:
    """:func:`error_matches` as a SQL condition and its parameters."""
    found = [f"coalesce(contains(lower({column}), ?), false)" for column in _ERROR_TEXTS]
    params: list[Any] = [needle] * len(_ERROR_TEXTS)
    found.append(
        "coalesce(list_bool_or(list_transform(error_causes, lambda t: contains(lower(t), ?))), "
        "false)"
    )
    params.append(needle)
    if (code := _status_code(needle)) is not None:
        found.append("coalesce(error_status_code = ?, false)")
        params.append(code)
    return "(" + " OR ".join(found) + ")", params
