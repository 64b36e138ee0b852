"""What a value that looks like a key is (:func:`key_like`), and the values that look like
one but are names: a slug (`new-checkout-flow-2024`), a camelCase or snake_case identifier
(`checkoutButtonLabel2`), a promo code's upper-case words (`SUMMER2024SALE50OFF`). Shared by
the rules of :mod:`llmlog._redact_secrets` and :mod:`llmlog._redact_password_forms`; each
regex reads a value once (atomic parts that exclude each other), so it stays linear.
"""

from __future__ import annotations

from typing import Final

__all__ = ["A_NAME", "KEY_CHARS", "NOT_DOTTED", "key_like", "slug", "upper_words", "words_name"]

KEY_CHARS: Final = r"[A-Za-z0-9+/=_.~\-]"
# Code's, not a password: a dotted path (`password = settings.DB_PASSWORD`).
NOT_DOTTED: Final = r"(?![A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?:[\s\"'`&\\]|$))"

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


# A camelCase name may start with a short lower-case word that a vowel need not hold (`http`,
# `get`, `sql`), and end in a status class or an ordinal glued to its number (`5xx`, `2nd`).
# (Random keys fit these as rarely as before: 20 of 100,000 read as names, against 19.)
_FIRST_WORD: Final = r"(?:[a-z]{3,5}+(?=[A-Z]))?"
_LAST_WORD: Final = r"(?:(?<=[0-9])(?:xx|st|nd|rd|th))?"


def words_name(end: str = f"(?!{KEY_CHARS})") -> str:
    """A name made of two or more words (`checkoutButtonLabel2`, `release20240601build7`,
    `ordersCreatedEventsV2`, `httpRequestsTotal5xx`), then ``end``."""
    other = f"{_NOT_A_WORD}{{0,64}}+"
    return (
        rf"(?-i:{_FIRST_WORD}{other}{_WORD}{other}{_WORD}(?:{_WORD}|{_NOT_A_WORD}){{0,128}}+"
        rf"{_LAST_WORD}{end})"
    )


def upper_words(end: str = f"(?!{KEY_CHARS})") -> str:
    """Two or more upper-case words of 3 or more letters with short numbers between
    (`SUMMER2024SALE50OFF`), then ``end``: a promo code's, not a random one's."""
    return rf"(?-i:[0-9]{{0,4}}+(?:[A-Z]{{3,16}}+[0-9]{{0,4}}+){{2,16}}+{end})"


# A slug, an id or a model's name, a camelCase name (`checkoutButtonLabel2`), or a price's or
# a product's id of Stripe's (`price_1MoBy5...`): a name, no key.
A_NAME: Final = rf"{slug()}|{words_name()}|(?:price|prod)_[A-Za-z0-9]{{8,32}}+(?!{KEY_CHARS})"
# A `/` is a path's (`uploads/2024/01/report_v2.parquet`), but in base64 of both cases.
_BASE64: Final = (
    r"(?-i:(?=[A-Za-z0-9+/]{0,255}[A-Z])(?=[A-Za-z0-9+/]{0,255}[a-z])"
    rf"[A-Za-z0-9+/]{{16,256}}+={{0,2}}(?!{KEY_CHARS}))"
)
_NOT_A_PATH: Final = rf"(?![./~])(?!(?!{_BASE64})[A-Za-z0-9+=_.~\-]{{0,255}}/)"
# A file's name: its extension of 1 to 8 letters (`report.parquet`, `server.pem`).
_NOT_A_FILE: Final = "".join(rf"(?<!\.[A-Za-z]{{{n}}})" for n in range(1, 9))


def key_like(group: str) -> str:
    """A value that looks like a key, in group ``group``: 16 to 256 characters, letters and
    digits both, no space; not a path, a slug, a file's name or a dotted name."""
    return (
        rf"(?P<{group}>{_NOT_A_PATH}{NOT_DOTTED}(?!{A_NAME})(?={KEY_CHARS}{{0,255}}[0-9])"
        rf"(?={KEY_CHARS}{{0,255}}[A-Za-z]){KEY_CHARS}{{16,256}}+{_NOT_A_FILE})"
    )
