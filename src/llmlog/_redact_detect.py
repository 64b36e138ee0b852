"""What to look for at each level, and merging what the tiers found.

A :class:`Detector` only finds spans; replacing them (and any key used to
hash them) stays with :mod:`llmlog.redaction` in the app's process. That keeps
the worker process stateless and the redaction key out of it.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from llmlog._redact_custom import CustomPatterns
from llmlog._redact_secret_search import find_secrets
from llmlog._redact_secrets import Span

LEVELS_WITH_PRESIDIO = frozenset({"pii", "ner"})
# JSON / repr escapes, blanked: a value right after one is at a word boundary (same
# length: offsets hold). `\n` keeps a newline (a JSON-escaped .env or YAML file's
# `\nDB_PASSWORD=...` starts a line). `\u00e9`, `\u5bc6` too (Python's json.dumps writes
# every non-ASCII character so), but a full-width colon keeps its meaning: `password\uff1a...`.
_ESCAPES = (("\\n", " \n"), ("\\r", "  "), ("\\t", "  "))
_NON_ASCII_ESCAPES = re.compile(r"\\u(?!00[2-7])[0-9A-Fa-f]{4}")
_FULL_WIDTH_COLONS = (("\\uff1a", "     :"), ("\\uFF1A", "     :"))
# Escapes of ASCII, decoded before searching (positions found are mapped back): Go's
# `\u0026`, .NET's `\u0022`, PHP's `\/`, a URL's `%3A`. A key right after `\u003c` or
# `%3D` is then at a word boundary, `\u0022password\u0022:` a name, `postgres:\/\/u:pw@h`
# a URL. `\\` is matched only to skip it: a literal backslash.
_ASCII_ESCAPES = re.compile(r"\\(?:u00[2-7][0-9A-Fa-f]|[/\\])|%[2-7][0-9A-Fa-f]")
_PERCENT_ESCAPE = re.compile(r"%[2-7][0-9A-Fa-f]")
# Terminal escape sequences (a shell tool's colours, `\x1b[32m`), blanked: a key or card
# right after one is at a word boundary, not glued to its final letter. Raw, or written as
# an escape in JSON (`\u001b`) or a repr (`\x1b`, `\033`). A CSI's parameters are short
# numbers (a card after a broken one is not taken for them); an OSC's text (a title, a
# link's URL) is searched: only its `ESC ]` and its `ESC \` are blanked, as any 2-character one.
# Two patterns, so that each starts with a literal (the regex engine then skips to it).
_CSI = r"\[[<=>?]?(?:\d{0,5}[;:])*\d{0,5}[ -/]?[@-~]"
_TERMINAL_ESCAPES = re.compile(rf"\x1b(?:{_CSI}|[ -/]*[0-~])")
_ESCAPED_TERMINAL_ESCAPES = re.compile(rf"\\(?:u001[bB]|x1[bB]|033)(?:{_CSI}|\\\\|[ -/]*[0-~])")
# Unicode's invisible format characters (category Cf: soft hyphen, zero-width space and
# joiners, word joiner, BOM, bidi marks, tags), removed before searching (positions found
# are mapped back, over them): one pasted from a web page or chat app inside a key hides it.
# Those of the BMP as of Unicode 14 and the tag block; not the few of scripts no key is
# written in (Kaithi, Egyptian hieroglyphs, musical symbols): each astral range costs the
# search of every non-ASCII text ~1 ns a character more.
_FORMAT_CHARS = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000e0000-\U000e007f]"
)


def _spaces(match: re.Match[str]) -> str:
    return " " * (match.end() - match.start())


def without_terminal_escapes(text: str) -> str:
    """``text`` with its terminal escape sequences blanked (same length: offsets hold)."""
    if "\x1b" in text:
        text = _TERMINAL_ESCAPES.sub(_spaces, text)
    if "\\" in text and ("\\u001" in text or "\\x1" in text or "\\033" in text):
        text = _ESCAPED_TERMINAL_ESCAPES.sub(_spaces, text)
    return text


@dataclass(frozen=True)
class DetectorConfig:
    """Everything that decides what a detector finds; plain data, so it can cross a pipe."""

    level: str
    patterns: tuple[tuple[str, str], ...] = ()
    deny: tuple[str, ...] = ()
    ner_model: str = ""

    @property
    def uses_presidio(self) -> bool:
        return self.level in LEVELS_WITH_PRESIDIO

    def to_wire(self) -> list[object]:
        return [self.level, [list(p) for p in self.patterns], list(self.deny), self.ner_model]

    @classmethod
    def from_wire(cls, data: Sequence[object]) -> DetectorConfig:
        level, patterns, deny, ner_model = data
        assert isinstance(patterns, list) and isinstance(deny, list)
        return cls(
            level=str(level),
            patterns=tuple((str(e), str(r)) for e, r in patterns),
            deny=tuple(str(t) for t in deny),
            ner_model=str(ner_model),
        )


class Detector:
    """Finds the spans to redact in texts, for one :class:`DetectorConfig`."""

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        self._custom = CustomPatterns(dict(config.patterns), config.deny)
        self._ner_model = config.ner_model if config.level == "ner" else None
        # Decided once, not per text: find() runs for every string of every record.
        self._off = config.level == "off"
        self._has_custom = bool(self._custom)
        self._uses_presidio = config.uses_presidio

    def find(self, text: str) -> list[Span]:
        """Merged, non-overlapping spans, in order."""
        if self._off or not text:
            return []
        moves: list[_Moves] = []  # in the order made: undone last first
        if not text.isascii() and _FORMAT_CHARS.search(text) is not None:
            text, removed = _without_format_chars(text)
            moves.append(removed)
        text = without_terminal_escapes(text)
        if "\\" in text:
            for escape, blank in _ESCAPES:
                text = text.replace(escape, blank)
            if "\\u" in text:
                for escape, colon in _FULL_WIDTH_COLONS:
                    text = text.replace(escape, colon)
                text = _NON_ASCII_ESCAPES.sub("      ", text)
        if (
            "\\u00" in text
            or "\\/" in text
            or ("%" in text and _PERCENT_ESCAPE.search(text) is not None)
        ):
            text, moved = _decoded(text)
            if moved is not None:
                moves.append(moved)
        spans = find_secrets(text)
        if self._uses_presidio:
            from llmlog._redact_presidio import find_pii

            # Only a secret wins over PII it overlaps (a token in `https://TOKEN@host`). A
            # deny-list term or custom pattern inside PII (`jane.doe@acme.com` with "Acme") is
            # merged with it: the whole address goes, named after the longer of the two.
            spans += without_overlaps(find_pii(text, spans, self._ner_model), spans)
        if self._has_custom:
            spans += self._custom.find(text)
        if spans:
            for moved in reversed(moves):
                spans = moved.spans(spans)
        return merge_spans(spans) if spans else spans

    def find_all(self, texts: Iterable[str]) -> list[list[Span]]:
        return [self.find(text) for text in texts]


class _Moves:
    """Where positions in a decoded text lie in the original: from ``starts[i]`` on,
    ``shifts[i]`` characters further on."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.shifts: list[int] = []

    def original(self, position: int) -> int:
        index = bisect_right(self.starts, position) - 1
        return position + self.shifts[index] if index >= 0 else position

    def spans(self, spans: Iterable[Span]) -> list[Span]:
        """``spans`` of the decoded text, over the escapes they cover in the original."""
        return [(self.original(s), self.original(e), entity) for s, e, entity in spans]


def _decoded(text: str) -> tuple[str, _Moves | None]:
    """``text`` with :data:`_ASCII_ESCAPES` decoded, and how positions moved (None: they
    did not)."""
    parts: list[str] = []
    moves = _Moves()
    last = shift = 0
    for match in _ASCII_ESCAPES.finditer(text):
        escape = match.group()
        if escape == "\\\\":
            continue
        start, end = match.span()
        char = escape[1] if len(escape) == 2 else chr(int(escape[-2:], 16))
        parts.append(text[last:start])
        parts.append(char)
        last = end
        # the decoded character is at `start - shift`; what follows moved by one more escape
        moves.starts.append(start - shift + 1)
        shift += end - start - 1
        moves.shifts.append(shift)
    if not parts:
        return text, None
    parts.append(text[last:])
    return "".join(parts), moves


def _without_format_chars(text: str) -> tuple[str, _Moves]:
    """``text`` without :data:`_FORMAT_CHARS`, and how positions moved. A span ending right
    before a removed character covers it: a key's whole original text is replaced."""
    parts: list[str] = []
    moves = _Moves()
    last = 0
    for match in _FORMAT_CHARS.finditer(text):
        start = match.start()
        parts.append(text[last:start])
        last = match.end()
        # what was right after it is now at `start - shift`, one character further back
        moves.starts.append(start - len(moves.starts))
        moves.shifts.append(len(moves.starts))
    parts.append(text[last:])
    return "".join(parts), moves


def without_overlaps(spans: Iterable[Span], winners: Sequence[Span]) -> list[Span]:
    """``spans`` minus those overlapping a winner.

    The vendor-anchored secret patterns are more specific than presidio's: a
    token in ``https://TOKEN@github.com`` is an API key, not an email address.
    """
    return [s for s in spans if not any(s[0] < w[1] and w[0] < s[1] for w in winners)]


def merge_spans(spans: Iterable[Span]) -> list[Span]:
    """Overlapping spans become one covering all of them, named after the longest.

    Covering the union matters more than the label: a partly replaced value
    (an email whose domain was also matched as something else) must not leak.
    """
    merged: list[Span] = []
    longest: list[int] = []
    for start, end, entity in sorted(spans, key=lambda s: (s[0], -(s[1] - s[0]), s[2])):
        if end <= start:
            continue
        if merged and start < merged[-1][1]:
            m_start, m_end, m_entity = merged[-1]
            if end - start > longest[-1]:
                m_entity, longest[-1] = entity, end - start
            merged[-1] = (m_start, max(m_end, end), m_entity)
        else:
            merged.append((start, end, entity))
            longest.append(end - start)
    return merged
