"""What a found value is replaced with: a tag, a per-record number, or a keyed hash.

An operator instance lives for one record, so ``numbered`` restarts at 1 for
every record while ``hash`` (keyed with ``LLMLOG_REDACT_KEY``) gives the same
token for the same value in every record and process. The key never leaves
this module and is never logged. "The same value" is the value as :func:`canonical`
writes it: an address in capitals, a phone number or card with spaces, is the same.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Final

from llmlog._redact_secrets import Span

# Given (entity, value) returns the replacement text.
Replacer = Callable[[str, str], str]
MIN_KEY_BYTES = 16
_HASH_HEX_CHARS = 16


_CASELESS: Final = frozenset({"EMAIL_ADDRESS", "IP_ADDRESS", "URL"})
_NUMBERS: Final = frozenset({"PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE"})
_NOT_NUMBER_PART: Final = re.compile(r"[^0-9A-Za-z+]")


def canonical(entity: str, value: str) -> str:
    """``value`` as ``numbered`` and ``hash`` compare it: ``Jane@Example.com`` is
    ``jane@example.com``; ``+44 20 7946-0958`` and ``0044 (20) 79460958`` are
    ``+442079460958``; a card, IBAN or SSN is its digits and letters, in capitals.
    A national form (``020 7946 0958``) stays apart: without the country it is another
    string of digits."""
    if entity in _CASELESS:
        return value.casefold()
    if entity in _NUMBERS:
        plain = _NOT_NUMBER_PART.sub("", value).upper()
        return "+" + plain[2:] if plain.startswith("00") and entity == "PHONE_NUMBER" else plain
    return value


def tag(entity: str, _value: str) -> str:
    """``<EMAIL_ADDRESS>``: says what was there, nothing more."""
    return f"<{entity}>"


class Numbered:
    """``<EMAIL_ADDRESS_1>``: the same value gets the same number within one record."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], int] = {}
        self._next: Counter[str] = Counter()

    def __call__(self, entity: str, value: str) -> str:
        key = (entity, canonical(entity, value))
        number = self._seen.get(key)
        if number is None:
            self._next[entity] += 1
            number = self._seen[key] = self._next[entity]
        return f"<{entity}_{number}>"


class KeyedHash:
    """``<EMAIL_ADDRESS:9f86d081884c7d65>``: HMAC-SHA256 of the value, stable everywhere.

    Keyed, because phone numbers and SSNs are few enough to brute-force from a
    plain hash.
    """

    def __init__(self, key: str) -> None:
        self._key = key.encode("utf-8")

    def __call__(self, entity: str, value: str) -> str:
        same = canonical(entity, value).encode("utf-8")
        digest = hmac.new(self._key, same, hashlib.sha256).hexdigest()
        return f"<{entity}:{digest[:_HASH_HEX_CHARS]}>"


def operator_factory(name: str, key: str) -> Callable[[], Replacer]:
    """A function returning a fresh replacer for each record."""
    if name == "numbered":
        return Numbered
    if name == "hash":
        keyed = KeyedHash(key)
        return lambda: keyed
    return lambda: tag


def apply_spans(text: str, spans: Sequence[Span], replace: Replacer) -> str:
    """``text`` with each (sorted, non-overlapping) span replaced."""
    parts: list[str] = []
    position = 0
    for start, end, entity in spans:
        parts.append(text[position:start])
        parts.append(replace(entity, text[start:end]))
        position = end
    parts.append(text[position:])
    return "".join(parts)
