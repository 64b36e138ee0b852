"""The cheap secrets tier: vendor keys, tokens, assignments, user patterns and deny terms."""

from __future__ import annotations

import pytest

from llmlog._redact_secrets import CustomPatterns, compile_deny, compile_patterns, find_secrets


def found(text: str) -> list[tuple[str, str]]:
    """(entity, matched text) for each secret in ``text``."""
    return [(entity, text[start:end]) for start, end, entity in find_secrets(text)]


class TestFindSecrets:
    def test_assignments_redact_the_value_not_the_name(self) -> None:
        """``password=...`` keeps the name (useful context) and loses the value."""
        assert found("password=s3cret99 and user=bob") == [("SECRET", "s3cret99")]
        assert found("{'api_key': 'abcd-1234'}") == [("SECRET", "abcd-1234")]

    def test_code_that_names_a_secret_is_not_a_secret(self) -> None:
        """Reading a secret from somewhere is code, not a leak."""
        for code in ("api_key = load_key(path)", "token=self.token", "password: str = None"):
            assert found(code) == [], code

    def test_bearer_token_keeps_the_scheme(self) -> None:
        """Only the credential after ``Bearer`` is replaced."""
        assert found("Authorization: Bearer abcdefgh12345678ijkl") == [
            ("BEARER_TOKEN", "abcdefgh12345678ijkl")
        ]

    def test_prefixes_inside_longer_words_are_ignored(self) -> None:
        """``task-...`` is not ``sk-...``; kebab-case slugs without digits are not keys."""
        assert found("task-abcdefghijklmnopqrstuvwxyz01") == []
        assert found("sk-this-is-a-long-kebab-case-slug") == []


class TestCustomPatterns:
    def test_bad_regex_is_refused_with_its_entity(self) -> None:
        """A pattern that does not compile raises ValueError naming its entity."""
        with pytest.raises(ValueError, match="'ORDER'"):
            compile_patterns({"ORDER": "(unclosed"})

    def test_entity_names_are_upper_cased(self) -> None:
        """``{"order_id": ...}`` is reported as ``ORDER_ID``."""
        spans = CustomPatterns({"order_id": r"ORD-\d+"}, ()).find("see ORD-42")
        assert spans == [(4, 10, "ORDER_ID")]

    def test_deny_terms_match_whole_words_in_any_case(self) -> None:
        """Deny terms are literal (no regex), case-insensitive, and never inside other words."""
        pattern = compile_deny(["Acme Corp", "a.b"])
        assert pattern is not None
        assert [m.group() for m in pattern.finditer("ACME CORP, acme corporation, a.b, axb")] == [
            "ACME CORP",
            "a.b",
        ]

    def test_no_terms_no_pattern(self) -> None:
        """Empty or blank deny lists compile to nothing and match nothing."""
        assert compile_deny(["", "  "]) is None
        assert not CustomPatterns({}, ())
