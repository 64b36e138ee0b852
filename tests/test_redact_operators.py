"""Replacement operators: tag, per-record number, keyed hash."""

from __future__ import annotations

from llmlog._redact_operators import KeyedHash, Numbered, apply_spans, operator_factory, tag


class TestOperators:
    def test_apply_spans_keeps_everything_between(self) -> None:
        """Only the spans change; text around and between them is kept byte for byte."""
        spans = [(0, 1, "A"), (4, 6, "B")]
        assert apply_spans("x = yy!", spans, tag) == "<A> = <B>!"

    def test_numbered_counts_per_entity(self) -> None:
        """Numbers are per entity type, and repeat for a repeated value."""
        numbered = Numbered()
        tokens = [numbered("E", "a"), numbered("P", "1"), numbered("E", "b"), numbered("E", "a")]
        assert tokens == ["<E_1>", "<P_1>", "<E_2>", "<E_1>"]

    def test_factory_gives_fresh_numbering_per_record(self) -> None:
        """Each record starts again at 1."""
        new = operator_factory("numbered", "")
        assert new()("E", "a") == new()("E", "b") == "<E_1>"

    def test_keyed_hash_depends_on_key_and_value_only(self) -> None:
        """Stable for a key and value, different under another key, short and tagged."""
        one, two = KeyedHash("k" * 16), KeyedHash("j" * 16)
        assert one("EMAIL_ADDRESS", "a@b.co") == KeyedHash("k" * 16)("EMAIL_ADDRESS", "a@b.co")
        assert one("EMAIL_ADDRESS", "a@b.co") != two("EMAIL_ADDRESS", "a@b.co")
        assert len(one("X", "v")) == len("<X:>") + 16
