"""Values that look like a key but are names: a slug (`new-checkout-flow-2024`), a
camelCase or snake_case identifier (`checkoutButtonLabel2`), a promo code's upper-case
words (`SUMMER2024SALE50OFF`). Shared by the rules of :mod:`llmlog._redact_secrets` and
:mod:`llmlog._redact_password_forms`; each regex reads a value once (atomic parts that
exclude each other), so it stays linear.
"""

from __future__ import annotations

from typing import Final

__all__ = ["KEY_CHARS", "slug", "upper_words", "words_name"]

KEY_CHARS: Final = r"[A-Za-z0-9+/=_.~\-]"

# A slug's part: a word (maybe with a short number glued on: `localhost2`) or a short
# alphanumeric part. (atomic: a part of letters matches both ways, and trying each for 31
# parts took minutes)
_SLUG_PART: Final = (
    r"(?>[A-Za-z]{1,64}+[0-9]{0,4}+(?![A-Za-z0-9])|[A-Za-z0-9]{1,8}+(?![A-Za-z0-9]))"
)


def slug(end: str = f"(?!{KEY_CHARS})") -> str:
    """Words and short parts joined by ``-``, ``_`` or ``.`` (`checkout_button_submit_v2`,
    `gpt-4o-mini-2024-07-18`, `AGPL-3.0-or-later`), one a word of 3 letters or more, then
    ``end``; a key's random parts are longer, a license key's no words."""
    return (
        rf"(?-i:(?=(?:{_SLUG_PART}[\-_.]){{0,31}}[A-Za-z][a-z]{{2,63}}(?![A-Za-z]))"
        rf"{_SLUG_PART}(?:[\-_.]{_SLUG_PART}){{1,31}}{end})"
    )


# A camelCase name's parts: a word, of 4 to 32 lower-case letters or capitalised and 3 to 32
# (`Root`), a vowel among them (`Sbhn` is a random key's); else a capitalised word of 1 or 2
# (`By`, `New`), one capital (`V12`) or a number. At any place one of them at most applies,
# so a value is read once. A random key has lone lower-case letters and upper-case pairs
# before lower-case ones, which none of them takes: of 20,000 random base62 keys of 20 to 40
# characters, 5 read as names.
_VOWEL_IN_WORD: Final = r"(?=[a-z]{0,31}[aeiouy])"
_WORD: Final = (
    rf"(?>[A-Z]{_VOWEL_IN_WORD}[a-z]{{3,32}}+(?![a-z])|{_VOWEL_IN_WORD}[a-z]{{4,32}}+(?![a-z]))"
)
_NOT_A_WORD: Final = r"(?>[A-Z][a-z]{1,2}+(?![a-z])|[A-Z](?![A-Za-z])|[0-9]{1,8}+|[\-_.])"


def words_name(end: str = f"(?!{KEY_CHARS})") -> str:
    """A name made of two or more words (`checkoutButtonLabel2`, `release20240601build7`,
    `ordersCreatedEventsV2`), then ``end``."""
    other = f"{_NOT_A_WORD}{{0,64}}+"
    return rf"(?-i:{other}{_WORD}{other}{_WORD}(?:{_WORD}|{_NOT_A_WORD}){{0,128}}+{end})"


def upper_words(end: str = f"(?!{KEY_CHARS})") -> str:
    """Two or more upper-case words of 3 or more letters with short numbers between
    (`SUMMER2024SALE50OFF`), then ``end``: a promo code's, not a random one's."""
    return rf"(?-i:[0-9]{{0,4}}+(?:[A-Z]{{3,16}}+[0-9]{{0,4}}+){{2,16}}+{end})"
