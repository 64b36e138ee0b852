"""The text the presidio tier searches: the app's text with what hides PII from it evened out.

Apart from :mod:`llmlog._redact_presidio` (which builds and runs the engine) because this is
plain ``re`` and ``str`` work on every text, with its own reasons:

- presidio's patterns (``\\b...\\b``) and the look-alike checks take Chinese, Japanese and
  Korean letters for word characters, so a value glued to them (``请拨打+8613812345678。``,
  ``メールはjane@example.comまで``) was either not found or found with the words in front
  of it. Those scripts are blanked: no PII recognizer of the ``pii`` level reads them.
- A no-break, thin or ideographic space, or a Unicode hyphen, between a card's, IBAN's or
  phone number's groups hid the value: they become an ASCII space or ``-``.

Each character is replaced by one (offsets hold: the spans found are the app's text's).
"""

from __future__ import annotations

import re
from typing import Final

# Hangul Jamo; CJK radicals, Kangxi, ideographic description; CJK symbols and punctuation,
# kana, Bopomofo, Hangul compatibility Jamo, strokes, enclosed CJK, compatibility, Ext A;
# unified ideographs; Hangul Jamo Ext-A; Hangul syllables and Jamo Ext-B; compatibility
# ideographs; vertical forms; half-width punctuation, katakana and Hangul; the kana
# supplements; ideographs Ext B to G. Not the full-width forms (U+FF01-FF60): phone numbers
# are written with full-width digits and plus signs.
CJK: Final = (
    "\u1100-\u11ff\u2e80-\u2fff\u3000-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff"
    "\uf900-\ufaff\ufe30-\ufe4f\uff61-\uffdc\U0001b000-\U0001b16f\U00020000-\U0003134f"
)
_CJK_RUN: Final = re.compile(f"[{CJK}]+")
# An internationalized domain's label (`jane@例え.jp`, `@例え.中国`) is kept: right after
# `@` with a `.` after it, or right after a `.` with only a domain's characters back to an `@`
# (a domain has at most 255).
_DOMAIN_PART: Final = re.compile(r"[\w.\-]*")
# Unicode's spaces (category Zs) but the ASCII one, and its hyphens and dashes U+2010-2015.
# Replaced one by one (`in` and `replace` are plain C scans): 15 us for 4 KB where a regex's
# scan takes 20 and str.translate 340.
_SEPARATORS: Final = (
    *((chr(c), " ") for c in (0xA0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000)),
    *((chr(c), "-") for c in range(0x2010, 0x2016)),
)
# One CJK character: searched for first; the run pattern takes twice as long to rule one out.
_CJK_CHAR: Final = re.compile(f"[{CJK}]")


def pii_text(text: str) -> str:
    """``text`` as the presidio tier searches it, of the same length (see the module)."""
    if text.isascii():
        return text
    for separator, ascii_one in _SEPARATORS:
        if separator in text:
            text = text.replace(separator, ascii_one)
    if _CJK_CHAR.search(text) is None:
        return text
    return _CJK_RUN.sub(_blank_unless_domain if "@" in text else _blank, text)


def _blank(match: re.Match[str]) -> str:
    return " " * (match.end() - match.start())


def _blank_unless_domain(match: re.Match[str]) -> str:
    start = match.start()
    text = match.string
    before = text[start - 1 : start]
    if before == "@" and text[match.end() : match.end() + 1] == ".":
        return match.group()
    if before == ".":
        at = text.rfind("@", max(0, start - 256), start)
        if at >= 0 and _DOMAIN_PART.fullmatch(text, at + 1, start):
            return match.group()
    return _blank(match)
