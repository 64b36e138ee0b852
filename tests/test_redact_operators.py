"""Replacement operators: tag, per-record number, keyed hash."""

from __future__ import annotations

import pytest

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

    @pytest.mark.parametrize(
        ("entity", "one", "other"),
        [
            ("EMAIL_ADDRESS", "jane.doe@example.com", "JANE.DOE@Example.COM"),
            ("PHONE_NUMBER", "+44 20 7946 0958", "+442079460958"),
            ("PHONE_NUMBER", "0044 (20) 7946-0958", "+44.20.7946.0958"),
            ("CREDIT_CARD", "4111 1111 1111 1111", "4111-1111-1111-1111"),
            ("IBAN_CODE", "DE89 3704 0044 0532 0130 00", "de89370400440532013000"),
            ("IP_ADDRESS", "2001:DB8::1", "2001:db8::1"),
        ],
    )
    def test_one_value_written_two_ways_is_one_token(
        self, entity: str, one: str, other: str
    ) -> None:
        """``hash`` is for counting and joining: the same address or number, however it
        was written, gets one token (and one number within a record)."""
        keyed, numbered = KeyedHash("k" * 16), Numbered()
        assert keyed(entity, one) == keyed(entity, other)
        assert numbered(entity, one) == numbered(entity, other)

    def test_different_values_stay_apart(self) -> None:
        """Writing them alike joins nothing else: another number, the national form (no
        country in it), another mailbox."""
        keyed = KeyedHash("k" * 16)
        assert keyed("PHONE_NUMBER", "+44 20 7946 0958") != keyed(
            "PHONE_NUMBER", "+44 20 7946 0959"
        )
        assert keyed("PHONE_NUMBER", "+44 20 7946 0958") != keyed("PHONE_NUMBER", "020 7946 0958")
        assert keyed("EMAIL_ADDRESS", "jane@example.com") != keyed(
            "EMAIL_ADDRESS", "jane@example.co"
        )
