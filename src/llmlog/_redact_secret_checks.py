"""What a secret rule's match is read or checked with before it counts (the rules are in
:mod:`llmlog._redact_secrets`): the cookies of a ``Cookie:`` header one by one, and base64
that must decode to a credential (``Basic``'s ``user:password``, a PEM private key)."""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable
from typing import Final

__all__ = ["CHECKS", "Reader", "real_password", "session_cookies"]

Reader = Callable[[str, re.Match[str]], list[tuple[int, int]]]
"""A rule's reader: where the secrets are that its match leads to (in the text), when they
are not one of its groups (each cookie of a ``Cookie:`` header, a column's value by position)."""

# One `name=value` of a Cookie header, and the `;` after it if another follows. Bounded by
# the header's syntax (no spaces in a cookie, `;` between them): each cookie is read once,
# linear time.
_COOKIE_PAIR: Final = re.compile(
    r"(?P<name>[^=;\s,\"'\\]{1,256})(?:=(?P<value>[^;\s,\"'\\]*))?[ \t]*(?P<more>;[ \t]*)?"
)
_SESSION_NAME: Final = re.compile(r"(?i)sess|sid|auth|token|jwt")
_MAX_COOKIES: Final = 100


def session_cookies(text: str, header: re.Match[str]) -> list[tuple[int, int]]:
    """Where the session cookies' values are, in the Cookie header whose cookies start where
    ``header`` ends: every cookie named so, not only the first (`sessionid=...; csrftoken=...`)."""
    found: list[tuple[int, int]] = []
    at = header.end()
    for _ in range(_MAX_COOKIES):
        cookie = _COOKIE_PAIR.match(text, at)
        if cookie is None:
            break
        start, end = cookie.span("value")
        if end - start >= 8 and _SESSION_NAME.search(cookie["name"]):
            found.append((start, end))
        if cookie["more"] is None:
            break
        at = cookie.end()
    return found


def _b64decoded(value: str) -> bytes | None:
    try:
        return binascii.a2b_base64(value + "=" * (-len(value) % 4), strict_mode=True)
    except ValueError:  # binascii.Error, or a non-ASCII letter (?i) took for one
        return None


def _is_basic_credential(value: str) -> bool:
    """Whether ``value`` after ``Basic`` is one: base64 of a printable ``user:password``
    (not prose's `a basic HTTP/1.1-compliant server`)."""
    decoded = _b64decoded(value.rstrip("="))
    try:
        text = decoded.decode() if decoded is not None else ""
    except UnicodeDecodeError:
        return False
    return ":" in text and text.isprintable()


def _is_encoded_private_key(value: str) -> bool:
    """Whether base64 ``LS0tLS1CRUdJTi...`` (``-----BEGIN``) begins a private key's PEM
    (a certificate's is no secret)."""
    head = value[:64].split(None, 1)[0]
    decoded = _b64decoded(head[: len(head) // 4 * 4])
    return decoded is not None and b"PRIVATE KEY" in decoded


# What a manual writes where a password goes: `IDENTIFIED BY 'password'`, `'your_password'`,
# `'<password>'`, `'xxx'`, `'***'`, `'...'`.
_PLACEHOLDER: Final = re.compile(
    r"(?i)(?:(?:your|my|new|old|the|some|a|db|user|strong|secure)[_\- ]?)?"
    r"(?:password|passwd|passphrase)(?:[_\- ]?here)?"
    r"|x{3,}|\*{3,}|\.{3,}|\u2026|<[^<>]*>|\[[^\[\]]*\]|\{[^{}]*\}|\?"
)


def real_password(value: str) -> bool:
    """Whether a password given in SQL is one, not a manual's placeholder for it."""
    return _PLACEHOLDER.fullmatch(value.strip()) is None


# The groups of SQL's passwords (llmlog._redact_secret_tools' `IDENTIFIED BY`, `PASSWORD '...'`,
# `SET PASSWORD`, `PASSWORD('...')`; llmlog._redact_sql_values' `E'...'` and `$$...$$`).
_SQL_PASSWORD_GROUPS: Final = (
    *(
        f"sql_{form}_{quote}"
        for form in ("by", "role", "set", "fn")
        for quote in ("sq", "dq", "eq")
    ),
    *("sql_bare", "sql_bare_end", "sql_escape_string", "sql_dollar"),
)

CHECKS: Final[dict[str | int, Callable[[str], bool]]] = {
    "basic": _is_basic_credential,
    "pem64": _is_encoded_private_key,
    **dict.fromkeys(_SQL_PASSWORD_GROUPS, real_password),
}
"""The rules' groups whose text is a secret only if its check says so."""
