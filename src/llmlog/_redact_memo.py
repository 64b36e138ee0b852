"""What redaction found in texts it used lately, so a text sent again is not searched again.

Chat apps resend the same texts all the time: the system prompt on every call,
the whole conversation so far on every turn. Finding spans is the costly part
of redaction (regexes over every character, for ``pii`` a round trip to the
worker process); looking a text up here costs a dict lookup.

Bounded by characters, not entries. Only the writer thread uses it. It keeps
the texts themselves (as the app's own message lists do) in this process's
memory only, never on disk.
"""

from __future__ import annotations

from typing import Final

from llmlog._redact_secrets import Span

MEMO_CHARS = 2_000_000
"""Characters of text remembered at most (a few MB; 0 remembers nothing, for benchmarks)."""

LONGEST_REMEMBERED: Final = 200_000
"""Longer texts are searched every time: one of them would push out many shorter ones."""


class SpanMemo:
    """Spans per text, least recently used forgotten first once ``budget`` characters are held.

    For one thread at a time (the writer's).
    """

    def __init__(self, budget: int | None = None) -> None:
        self._budget = MEMO_CHARS if budget is None else budget
        # A text over half the budget would be pushed out by the next eviction anyway.
        self._longest = min(LONGEST_REMEMBERED, self._budget // 2)
        self._spans: dict[str, list[Span]] = {}
        self._chars = 0

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
        if len(text) > self._longest or text in self._spans:
            return
        self._spans[text] = spans
        self._chars += len(text)
        if self._chars > self._budget:
            self._forget_oldest()

    def _forget_oldest(self) -> None:
        """Down to half the budget at once, least recently used first: amortized O(1)
        (a dict popped from its front one key at a time gets slower to iterate)."""
        excess = self._chars - self._budget // 2
        items = iter(self._spans.items())
        for text, _ in items:
            excess -= len(text)
            self._chars -= len(text)
            if excess <= 0:
                break
        self._spans = dict(items)

    def clear(self) -> None:
        self._spans.clear()
        self._chars = 0
