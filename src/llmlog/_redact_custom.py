"""The user's own patterns (``LLMLOG_REDACT_PATTERNS``) and deny terms
(``LLMLOG_REDACT_DENY``), matched with plain ``re`` at every level but ``off``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from llmlog._redact_secrets import DENY_LIST, Span

__all__ = ["CustomPatterns", "compile_deny", "compile_patterns"]


def compile_patterns(patterns: Mapping[str, str]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Compile the user's ``{ENTITY: regex}``; a bad regex raises ``ValueError`` naming it."""
    compiled = []
    for entity, regex in patterns.items():
        if not entity.strip():
            raise ValueError("redact_patterns: an entity name must not be empty")
        try:
            compiled.append((entity.strip().upper(), re.compile(regex)))
        except re.error as exc:
            raise ValueError(f"redact_patterns[{entity!r}] is not a valid regex: {exc}") from None
    return tuple(compiled)


def compile_deny(terms: Iterable[str]) -> re.Pattern[str] | None:
    """One case-insensitive whole-word pattern for every deny-list term (None if no terms)."""
    words = sorted({term.strip() for term in terms if term.strip()}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(r"(?i)(?<!\w)(?:" + "|".join(map(re.escape, words)) + r")(?!\w)")


class CustomPatterns:
    """The user's own patterns and deny terms, matched with plain ``re``."""

    def __init__(self, patterns: Mapping[str, str], deny: Iterable[str]) -> None:
        self._patterns = compile_patterns(patterns)
        self._deny = compile_deny(deny)

    def __bool__(self) -> bool:
        return bool(self._patterns) or self._deny is not None

    def find(self, text: str) -> list[Span]:
        spans = [
            (m.start(), m.end(), entity)
            for entity, pattern in self._patterns
            for m in pattern.finditer(text)
            if m.end() > m.start()
        ]
        if self._deny is not None:
            spans.extend((m.start(), m.end(), DENY_LIST) for m in self._deny.finditer(text))
        return spans
