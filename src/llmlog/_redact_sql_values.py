"""Passwords in SQL that no name stands beside, for the rules of :mod:`llmlog._redact_secrets`:
a credential column's values in an ``INSERT``, found by the column's place in its list
(``INSERT INTO users (name, password) VALUES ('bob', '...')``), and PostgreSQL's escape
and dollar-quoted strings after ``PASSWORD`` (``PASSWORD E'...'``, ``PASSWORD $$...$$``).

The other SQL forms (``IDENTIFIED BY``, ``PASSWORD '...'``) are in
:mod:`llmlog._redact_secret_tools`; what a value must not be (a placeholder a manual
writes, ``'password'``, ``'xxx'``) is :func:`llmlog._redact_secret_checks.real_password`.
"""

from __future__ import annotations

import re
from typing import Final

from llmlog._credential_names import SECRET_NAME
from llmlog._redact_secret_checks import Reader, real_password
from llmlog._redact_secret_tools import Gate

__all__ = ["SQL_RULES"]

_GAP: Final = r"[ \t\r\n]{1,16}"
# `INSERT [IGNORE | OR REPLACE] INTO table (columns) VALUES (`: the rows follow.
_INSERT: Final = (
    rf"(?i)(?<![A-Za-z0-9_])insert(?:{_GAP}(?:ignore|or{_GAP}[a-z]{{1,16}}))?{_GAP}into{_GAP}"
    r"[A-Za-z0-9_.\"`\[\]]{1,128}+[ \t\r\n]{0,16}\((?P<columns>[^()]{1,2048}+)\)"
    r"[ \t\r\n]{0,16}values[ \t\r\n]{0,16}(?=\()"
)
# A row's pieces: a string (SQL's, or one quoted in JSON, as a tool call's arguments hold
# it), a bracket, a comma, anything else (a number, NULL, a placeholder, a function's name).
_PIECE: Final = re.compile(
    r"[ \t\r\n]{0,64}+(?:'(?P<sq>(?:[^'\\]|''|\\.){0,1024}+)'"
    r"|\\\"(?P<eq>(?:[^\"\\]|\\[^\"]){0,1024}+)\\\"|\"(?P<dq>(?:[^\"\\]|\\.){0,1024}+)\""
    r"|(?P<open>\()|(?P<close>\))|(?P<comma>,)|[^\s'\"(),\\]{1,256}+|\\)"
)
_NEXT_ROW: Final = re.compile(r"[ \t\r\n]{0,64}+,[ \t\r\n]{0,64}+(?=\()")
_CREDENTIAL_COLUMN: Final = re.compile(SECRET_NAME, re.IGNORECASE)
_MOST_PIECES: Final = 100_000  # of one statement: bounded work, whatever the text


def _credential_columns(columns: str) -> set[int]:
    """The places of the columns named as a credential (`password`, `api_key`, `"token"`)."""
    names = (column.strip().strip('"`[]').rsplit(".", 1)[-1] for column in columns.split(","))
    return {i for i, name in enumerate(names) if _CREDENTIAL_COLUMN.fullmatch(name)}


def inserted_credentials(text: str, match: re.Match[str]) -> list[tuple[int, int]]:
    """The strings of the credential columns in each row the ``INSERT`` of ``match`` lists."""
    wanted = _credential_columns(match["columns"])
    found: list[tuple[int, int]] = []
    at, depth, column = match.end(), 0, 0
    for _ in range(_MOST_PIECES) if wanted else ():
        piece = _PIECE.match(text, at)
        if piece is None or piece.end() == at:
            break
        at = piece.end()
        kind = piece.lastgroup
        if kind == "open":
            depth += 1
        elif kind == "close":
            depth -= 1
            if depth == 0:  # a row's end: another row, or the statement's end
                following = _NEXT_ROW.match(text, at)
                if following is None:
                    break
                at, column = following.end(), 0
        elif kind == "comma" and depth == 1:
            column += 1
        elif kind in ("sq", "dq", "eq") and column in wanted:
            value = piece[kind]
            if value and real_password(value):
                found.append(piece.span(kind))
    return found


# After PASSWORD: PostgreSQL's `E'...'` (backslash escapes) or `$$...$$` / `$tag$...$tag$`.
_POSTGRES_STRING: Final = (
    rf"(?i)(?<![A-Za-z0-9_.\-])password{_GAP}(?:"
    r"e'(?P<sql_escape_string>(?:[^'\\\r\n]|''|\\[^\r\n]){1,256}+)'"
    r"|(?P<sql_dollar_tag>\$(?:[A-Za-z_][A-Za-z0-9_]{0,31})?\$)"
    r"(?P<sql_dollar>[^\r\n]{1,256}?)(?P=sql_dollar_tag))"
)

SQL_RULES: Final[tuple[tuple[re.Pattern[str], str | Reader, Gate], ...]] = (
    (re.compile(_INSERT), inserted_credentials, ("(", ("insert",), True, 0)),
    (re.compile(_POSTGRES_STRING), "", ("$'", ("password",), True, 0)),
)
"""The rules of this module: each finds a ``SECRET``."""
