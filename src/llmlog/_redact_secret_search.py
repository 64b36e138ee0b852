"""The search of the cheap tier: :data:`~llmlog._redact_secrets.SECRET_RULES` run over a
text, each regex tried only where its gate says it can match (near its hints), so a text
costs microseconds per KB."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from llmlog._redact_secret_checks import CHECKS
from llmlog._redact_secret_tools import WORD_START, Gate
from llmlog._redact_secrets import ASCII_ALNUM, IDENTIFIER_CHARS, SECRET_RULES, Group, Span

__all__ = ["add_spans", "find_secrets"]

# No rule matches fewer characters (``pwd="a``, cut off): shorter texts are skipped outright.
_SHORTEST_SECRET: Final = 6


def find_secrets(text: str) -> list[Span]:
    """Spans of API keys, tokens, private keys and assigned passwords in ``text``."""
    spans: list[Span] = []
    if len(text) < _SHORTEST_SECRET:
        return spans
    lowered: str | None = None
    odd_letters = False
    seen: dict[str, list[int]] = {}  # where the shared hints are in the lowered text ([]: not)
    for entity, pattern, group, chars, hints, rooted, reach in _PLAN:
        # Plain loops, not any(<generator>): the generator costs more than the scans.
        for char in chars:
            if char in text:
                break
        else:
            continue
        if rooted:  # a folded gate's
            if lowered is None:
                odd_letters = not text.isascii() and _has_odd_letters(text)
                lowered = (text.translate(_AS_ASCII) if odd_letters else text).lower()
            # Non-ASCII text (an em dash, é) lowers position for position, and (?i) matches
            # no letter to an ASCII one but the odd letters, taken as theirs in the haystack:
            # the hints are where the regex would match them. With an odd letter the regex
            # still scans the whole text (a start found near a hint assumes ASCII names).
            hints_at = _folded_occurrences(lowered, rooted, seen)
            if not hints_at:
                continue
            if odd_letters or reach is None:
                matches: Iterable[re.Match[str]] = pattern.finditer(text)
            else:
                matches = _matches_near(pattern, text, hints_at, reach)
        elif reach is None:
            for hint in hints:
                if hint in text:
                    break
            else:
                continue
            matches = pattern.finditer(text)
        else:
            matches = _matches_near(pattern, text, _occurrences(text, hints), reach)
        for match in matches:
            add_spans(spans, text, entity, match, group)
    return spans


def _folded_occurrences(haystack: str, rooted: _Rooted, seen: dict[str, list[int]]) -> list[int]:
    """Every position where a folded gate's hint starts, in order. A hint holding a shared
    one (see :func:`_rooted`) is looked for once per text, its positions kept in ``seen``;
    and not at all if its shared one is missing."""
    found: list[int] = []
    hints_found = 0
    for hint, root in rooted:
        if not root:
            if hint not in haystack:  # (most are not: no call made for them)
                continue
            at = _positions(haystack, hint)
        elif root in seen and not seen[root]:
            continue
        else:
            known = seen.get(hint)
            if known is None:
                known = seen[hint] = _positions(haystack, hint) if hint in haystack else []
            if not known:
                continue
            at = known
        found += at
        hints_found += 1
    if hints_found > 1:
        found.sort()
    return found


# A folded gate's hints, each with the shared hint it holds ("" for none).
_Rooted = tuple[tuple[str, str], ...]


def _rooted(rules: Iterable[tuple[object, object, object, Gate]]) -> dict[str, str]:
    """For each hint of the folded gates, the shortest one of them it holds that more than one
    gate's hints hold ("" for none): "pass" for "pass", ".pass" and "password". Several rules
    look for "pass", "key" or "token" in the same lowered text: where one found it the others
    are told, and what it found missing they need not look for (each look scans the text)."""
    folded = [
        hint for *_, (_chars, hints, is_folded, _reach) in rules if is_folded for hint in hints
    ]
    shared = {hint for hint in folded if sum(hint in other for other in folded) > 1}
    return {
        hint: min((s for s in shared if s in hint), key=lambda s: (len(s), s), default="")
        for hint in folded
    }


def _plan() -> tuple[
    tuple[str, re.Pattern[str], Group, str, tuple[str, ...], _Rooted, int | None], ...
]:
    """SECRET_RULES as find_secrets reads them: a folded gate's hints with their roots."""
    roots = _rooted(SECRET_RULES)
    return tuple(
        (
            entity,
            pattern,
            group,
            chars,
            hints,
            tuple((h, roots[h]) for h in hints) if folded else (),
            reach,
        )
        for entity, pattern, group, (chars, hints, folded, reach) in SECRET_RULES
    )


_PLAN: Final = _plan()


_AS_ASCII: Final = {0x130: "i", 0x131: "i", 0x17F: "s", 0x212A: "k"}
"""The odd letters: the only non-ASCII ones ``(?i)`` matches to ASCII letters (dotted and
dotless i, long s, the Kelvin sign), and the only ones whose ``lower()`` is an ASCII letter
or changes the text's length (dotted I, Kelvin)."""


def _has_odd_letters(text: str) -> bool:
    return any(chr(code) in text for code in _AS_ASCII)


def add_spans(
    spans: list[Span], text: str, entity: str, match: re.Match[str], group: Group
) -> None:
    """Append what a rule's ``match`` found to ``spans``: its ``group`` (see SECRET_RULES)."""
    if group is None:
        spans.append((match.start(), match.end(), entity))
        return
    if not isinstance(group, str):  # a reader: the values the match leads to
        spans.extend((start, end, entity) for start, end in group(text, match))
        return
    name = group or match.lastgroup or 0  # "": the one alternative of the value that matched
    start, end = match.span(name)
    check = CHECKS.get(name)
    if check is None or check(text[start:end]):
        spans.append((start, end, entity))


def _occurrences(haystack: str, hints: tuple[str, ...]) -> list[int]:
    """Every position where a hint starts, in order."""
    found: list[int] = []
    for hint in hints:
        position = haystack.find(hint)
        while position >= 0:
            found.append(position)
            position = haystack.find(hint, position + 1)
    if len(hints) > 1:
        found.sort()
    return found


def _positions(haystack: str, hint: str) -> list[int]:
    """Every position where ``hint`` starts."""
    found: list[int] = []
    position = haystack.find(hint)
    while position >= 0:
        found.append(position)
        position = haystack.find(hint, position + 1)
    return found


def _matches_near(
    pattern: re.Pattern[str], text: str, hints_at: list[int], reach: int
) -> list[re.Match[str]]:
    """What ``pattern.finditer(text)`` finds, trying only the starts within ``reach``
    before a hint (the only places a match can start), leftmost first as finditer does."""
    if reach == WORD_START:
        return _matches_at_word_starts(pattern, text, hints_at)
    matches: list[re.Match[str]] = []
    end = 0  # where the last match ended: the next starts at or after it
    tried = -1  # every start up to here has been tried
    for at in hints_at:
        start = max(end, at - reach, tried + 1)
        while start <= at:
            # see `reach` above; a vendor key may also start right after a %-escape (`%3D`)
            if (
                reach
                and start
                and text[start - 1] in ASCII_ALNUM
                and text[start - 3 : start - 2] != "%"
            ):
                start += 1
                continue
            match = pattern.match(text, start)  # sees text before `start` for lookbehinds
            if match is None:
                start += 1
            else:
                matches.append(match)
                end = start = match.end()  # never empty: every rule matches 6+ characters
        tried = max(tried, at)
    return matches


def _matches_at_word_starts(
    pattern: re.Pattern[str], text: str, hints_at: list[int]
) -> list[re.Match[str]]:
    """``_matches_near`` for :data:`WORD_START`: one try per identifier holding a hint.

    The walk back to an identifier's start stops at the previous hint's, whose start is
    known: one long identifier full of hints (``A_KEY_A_KEY_...``) is walked once, not once
    per hint (100k characters of it took minutes)."""
    matches: list[re.Match[str]] = []
    end, last = 0, -1
    previous_at = previous_start = -1
    identifier = IDENTIFIER_CHARS
    for at in hints_at:
        start = at
        floor = max(end, previous_at)
        while start > floor and text[start - 1] in identifier:
            start -= 1
        if start == previous_at:  # the same identifier as the previous hint's
            start = max(previous_start, end)
        previous_at, previous_start = at, start
        if start == last or start < end:
            continue
        last = start
        match = pattern.match(text, start)
        if match is not None:
            matches.append(match)
            end = match.end()
    return matches
