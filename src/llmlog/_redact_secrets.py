"""The cheap tier: secrets, user patterns and deny terms, with stdlib ``re`` only.

Everything here is precompiled at import and costs microseconds per KB, so it
can run wherever it is needed (the writer thread for level ``secrets``, the
worker process for ``pii``/``ner``) without importing anything heavy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

# (start, end, ENTITY_TYPE): where a detector found something, never the value.
Span = tuple[int, int, str]

API_KEY: Final = "API_KEY"
JWT: Final = "JWT"
BEARER_TOKEN: Final = "BEARER_TOKEN"
PRIVATE_KEY: Final = "PRIVATE_KEY"
SECRET: Final = "SECRET"
DENY_LIST: Final = "DENY_LIST"

# Vendor key formats. Each is anchored on a published prefix, so code, hashes
# and ids that merely look random are left alone.
_VENDOR_KEYS: Final = (
    r"sk-ant-(?:api|admin|oat)\d{2}-[A-Za-z0-9_\-]{20,}",  # Anthropic
    r"sk-(?:proj-|svcacct-|admin-|None-)?(?=[A-Za-z0-9_\-]*\d)[A-Za-z0-9_\-]{20,}",  # OpenAI
    r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}",  # AWS access key id
    r"gh[pousr]_[A-Za-z0-9]{36,255}",  # GitHub tokens
    r"github_pat_[A-Za-z0-9_]{22,255}",  # GitHub fine-grained tokens
    r"xox[abposre]-[A-Za-z0-9\-]{10,}",  # Slack tokens
    r"AIza[0-9A-Za-z_\-]{35}",  # Google API keys
    r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}",  # Stripe secret/restricted keys
    r"glpat-[A-Za-z0-9_\-]{20,}",  # GitLab
    r"hf_[A-Za-z]{34}",  # Hugging Face
)

# Words after which an assigned value is a secret (`password=...`, `"api_key": "..."`).
_SECRET_NAMES: Final = (
    r"password|passwd|pwd|passphrase|secret|client[_\-]?secret|api[_\-]?key|apikey"
    r"|access[_\-]?key|secret[_\-]?access[_\-]?key|access[_\-]?token|auth[_\-]?token"
    r"|refresh[_\-]?token|private[_\-]?key|token"
)
# A literal: quoted, or a bare word holding a digit (so `token=settings.token`
# and `api_key=os.environ[...]` in code are not mistaken for secrets).
_ASSIGNED_VALUE: Final = (
    r"(?:\"(?P<dq>[^\"\n]{4,})\"|'(?P<sq>[^'\n]{4,})'"
    r"|(?P<bare>(?=[^\s\"'`,;()\[\]{}<>]*\d)[^\s\"'`,;()\[\]{}<>]{6,}))"
)

# (entity, regex, name of the group that holds the secret or None for the whole match,
#  hints): a rule runs only if one of its hints occurs in the lower-cased text. Substring
# tests cost next to nothing, so ordinary prose never reaches the slower regexes.
_SECRET_RULES: Final[tuple[tuple[str, re.Pattern[str], str | None, tuple[str, ...]], ...]] = (
    (
        PRIVATE_KEY,
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
            r"[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
        ),
        None,
        ("private key",),
    ),
    (
        API_KEY,
        re.compile(r"(?<![\w\-])(?:" + "|".join(_VENDOR_KEYS) + r")(?![\w\-])"),
        None,
        (
            "sk-",
            "akia",
            "asia",
            "abia",
            "acca",
            "gh",
            "github_pat_",
            "xox",
            "aiza",
            "sk_",
            "rk_",
            "glpat-",
            "hf_",
        ),
    ),
    (
        JWT,
        re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
        None,
        ("eyj",),
    ),
    (
        BEARER_TOKEN,
        re.compile(
            r"(?i)\b(?:bearer|basic|authorization:\s*token)\s+"
            r"(?P<v>(?=[A-Za-z0-9._~+/\-]*\d)[A-Za-z0-9._~+/\-]{16,}=*)"
        ),
        "v",
        ("bearer", "basic", "authorization"),
    ),
    (
        SECRET,
        re.compile(
            rf"(?i)(?<![A-Za-z0-9])(?:{_SECRET_NAMES})(?![A-Za-z0-9])[\"']?\s*[:=]\s*{_ASSIGNED_VALUE}"
        ),
        "",
        ("pass", "pwd", "secret", "key", "token"),
    ),
    (SECRET, re.compile(r"(?i)\b[a-z][a-z0-9+.\-]*://[^\s/:@]+:(?P<v>[^\s/@]+)@"), "v", ("@",)),
    (
        API_KEY,
        re.compile(r"https://hooks\.slack\.com/services/(?P<v>T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+)"),
        "v",
        ("hooks.slack.com",),
    ),
)


def _mentions(lowered: str, hints: tuple[str, ...]) -> bool:
    # Plain `in` is a C memchr scan; a regex alternation of the hints is 10x slower,
    # and a generator passed to any() costs more than the scans themselves.
    for hint in hints:  # noqa: SIM110
        if hint in lowered:
            return True
    return False


def find_secrets(text: str) -> list[Span]:
    """Spans of API keys, tokens, private keys and assigned passwords in ``text``."""
    spans: list[Span] = []
    lowered = text.lower()
    for entity, pattern, group, hints in _SECRET_RULES:
        if not _mentions(lowered, hints):
            continue
        for match in pattern.finditer(text):
            if group is None:
                spans.append((match.start(), match.end(), entity))
            elif group == "":  # the one alternative of the assigned value that matched
                name = next(g for g in ("dq", "sq", "bare") if match.group(g) is not None)
                spans.append((match.start(name), match.end(name), entity))
            else:
                spans.append((match.start(group), match.end(group), entity))
    return spans


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
