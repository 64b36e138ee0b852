"""What redaction found in texts it used lately, so a text sent again is not searched again.

Chat apps resend the same texts all the time: the system prompt on every call,
the whole conversation so far on every turn. Finding spans is the costly part
of redaction (regexes over every character, for ``pii`` a round trip to the
worker process); looking a text up here costs a dict lookup.

Bounded by an estimate of its memory: characters plus a fixed cost per entry and per
span (a cap on characters alone let a quarter of a million 8-character texts in, ~45 MB).
Only the writer thread uses it. It keeps the texts themselves (as the app's own message
lists do) in this process's memory only, never on disk.
"""

from __future__ import annotations

from typing import Final

from llmlog._redact_secrets import Span

MEMO_CHARS = 2_000_000
"""The budget: characters of text remembered, each entry counting ``ENTRY_COST`` and each
span ``SPAN_COST`` more (about 2 MB of memory for ASCII texts, up to 4x for non-Latin-1 ones;
0 remembers nothing, for benchmarks)."""

ENTRY_COST: Final = 144
"""What one entry costs beyond its characters: the ``str`` header (49 bytes), the spans list
(56 empty) and the dict slot. Measured with tracemalloc on CPython 3.11: 143.4 bytes per entry
beyond 1 byte per character, for texts of 8 to 1,000 ASCII characters and no spans."""

SPAN_COST: Final = 140
"""What one span costs: its tuple, its two offsets and its list slot (140.8 bytes measured)."""

LONGEST_REMEMBERED: Final = 200_000
"""Longer texts are searched every time: one of them would push out many shorter ones."""


class SpanMemo:
    """Spans per text, least recently used forgotten first once ``budget`` is used up
    (characters plus ``ENTRY_COST`` per text and ``SPAN_COST`` per span).

    For one thread at a time (the writer's).
    """

    def __init__(self, budget: int | None = None) -> None:
        self._budget = MEMO_CHARS if budget is None else budget
        # An entry over half the budget would be pushed out by the next eviction anyway.
        self._largest = self._budget // 2
        self._spans: dict[str, list[Span]] = {}
        self._cost = 0

    def __len__(self) -> int:
        return len(self._spans)

    def get(self, text: str) -> list[Span] | None:
        """The spans found in ``text`` before (never to be mutated), or None.

        A text found moves to the newest end: one used on every call stays.
        """
        spans = self._spans.pop(text, None)
        if spans is not None:
            self._spans[text] = spans
        return spans

    def remember(self, text: str, spans: list[Span]) -> None:
        cost = _cost(text, spans)
        if len(text) > LONGEST_REMEMBERED or cost > self._largest or text in self._spans:
            return
        self._spans[text] = spans
        self._cost += cost
        if self._cost > self._budget:
            self._forget_oldest()

    def _forget_oldest(self) -> None:
        """Down to half the budget at once, least recently used first: amortized O(1)
        (a dict popped from its front one key at a time gets slower to iterate)."""
        excess = self._cost - self._budget // 2
        items = iter(self._spans.items())
        for text, spans in items:
            cost = _cost(text, spans)
            excess -= cost
            self._cost -= cost
            if excess <= 0:
                break
        self._spans = dict(items)

    def clear(self) -> None:
        self._spans.clear()
        self._cost = 0


def _cost(text: str, spans: list[Span]) -> int:
    """What remembering ``text`` takes from the budget (about its bytes, for ASCII)."""
    return len(text) + ENTRY_COST + SPAN_COST * len(spans)
