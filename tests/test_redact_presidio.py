"""The offline presidio tier: model detection, look-alike filtering, quiet loggers."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pytest

from llmlog._redact_presidio import (
    PHONE_REGIONS,
    find_pii,
    is_look_alike,
    ner_model_problem,
    phone_candidates,
    quiet_loggers,
    shortest_phone_number,
)


class TestNerModel:
    def test_missing_model_names_what_to_install(self) -> None:
        """The message names the model and the ways out; it never offers to download."""
        problem = ner_model_problem("en_core_web_sm")
        assert problem is not None
        assert "en_core_web_sm" in problem and "LLMLOG_REDACT=pii" in problem

    def test_a_model_directory_is_accepted(self, tmp_path: Path) -> None:
        """A spaCy pipeline saved to disk counts as installed."""
        import spacy

        spacy.blank("en").to_disk(tmp_path / "m")
        assert ner_model_problem(str(tmp_path / "m")) is None

    def test_an_unrelated_directory_is_not_a_model(self, tmp_path: Path) -> None:
        """A directory without a spaCy config is refused."""
        assert ner_model_problem(str(tmp_path)) is not None


class TestLookAlikes:
    @pytest.mark.parametrize(
        ("text", "value"),
        [
            ("claude-sonnet-4-5-20250929", "4-5-20250929"),
            ("id 446655440000-x", "446655440000"),
            ("on 2024-08-06", "2024-08-06"),
            ("on 06.08.2024", "06.08.2024"),
            ("due 08-06-2024", "08-06-2024"),
            ("on 2024.08.06", "2024.08.06"),
            ("score 0.84441234", "0.84441234"),
            ("[0.42826962, 1]", "[0.42826962"),
            ("ver+14155550132x", "+14155550132"),
            ("1.0.0+20240806123", "+20240806123"),
        ],
    )
    def test_phone_matches_inside_other_tokens_are_dropped(self, text: str, value: str) -> None:
        """A number glued to a word or dash, or shaped like a date or a decimal, is not a phone
        number; an international one only when glued to a digit, or a word after it."""
        start = text.index(value)
        assert is_look_alike(text, start, start + len(value), "PHONE_NUMBER")

    @pytest.mark.parametrize("number", ["1648", "1693", "16930", "164314"])
    def test_short_bare_numbers_are_no_phone_numbers(self, number: str) -> None:
        """A year or a ticket number that phonenumbers reads as a German number (1640-1649,
        1680-1699...) is left alone at ``pii``; one with its trunk 0 or country code is not."""
        text = f"signed in {number}; see ticket {number}."
        assert find_pii(text, [], None) == []
        for phone in ("030 1648", "+49 30 1648"):
            assert [e for _, _, e in find_pii(f"call {phone} now", [], None)] == ["PHONE_NUMBER"]

    @pytest.mark.timeout(60)  # a hang, not a speed: over the whole text presidio took 60 s
    def test_an_address_after_a_long_url_path_is_found_at_once(self) -> None:
        """presidio's e-mail pattern is run around each ``@`` only: over 64 KB of a URL path
        it read from every word start to the ``@``, then gave up and kept the address."""
        text = "https://example.com/" + "/".join(["segment-name"] * 5000) + " write to bob@x.com"
        assert [text[a:b] for a, b, _ in find_pii(text, [], None)] == ["bob@x.com"]

    @pytest.mark.parametrize(
        ("text", "value"),
        [
            ("tel:+1 415-555-0132.", "+1 415-555-0132"),
            ("Tel.+44 20 7946 0958", "+44 20 7946 0958"),
            ("/customers/+14155550132/orders", "+14155550132"),
            ("Telefon+49 30 901820", "+49 30 901820"),
            ("電話番号は+81-90-1234-5678です", "+81-90-1234-5678"),
            ("call 415.555.0132", "415.555.0132"),
        ],
    )
    def test_a_free_standing_phone_number_is_kept(self, text: str, value: str) -> None:
        """Separators such as ``:`` or a space in front do not hide a real number, nor a
        path's, a word's or a CJK word's letters an international one."""
        start = text.index(value)
        assert not is_look_alike(text, start, start + len(value), "PHONE_NUMBER")

    @pytest.mark.parametrize(
        ("text", "value", "dropped"),
        [
            ("version 1.2.3.4", "1.2.3.4", True),
            ("pkg==1.2.3.4", "1.2.3.4", True),
            ("pkg>=1.2.3.4", "1.2.3.4", True),
            ('"^1.2.3.4"', "1.2.3.4", True),
            # a name ending in `version`, or `ver`, assigned one
            ("AssemblyVersion=1.0.0.0", "1.0.0.0", True),
            ("dotnet build /p:Version=2.1.0.0", "2.1.0.0", True),
            ("Chrome version=120.0.0.0 fails", "120.0.0.0", True),
            ("ver=1.2.3.4", "1.2.3.4", True),
            ("AssemblyFileVersion = 1.2.3.4", "1.2.3.4", True),
            ("VER: 1.2.3.4", "1.2.3.4", True),
            ("server=1.2.3.4", "1.2.3.4", False),
            ("host=192.168.1.10", "192.168.1.10", False),
            ("client_ip=203.0.113.7", "203.0.113.7", False),
            ("oid 1.3.6.1.4.1", "1.3.6.1", True),
            ("oid 1.3.6.1.4.1", "6.1.4.1", True),
            ("host 1.2.3.4", "1.2.3.4", False),
            ("client_ip=1.2.3.4", "1.2.3.4", False),
            ("<td>1.2.3.4</td>", "1.2.3.4", False),
            ("ip.addr==1.2.3.4", "1.2.3.4", False),
            ("go -> 1.2.3.4.", "1.2.3.4", False),
            ("return c::d", "c::d", True),
            ("lo ::1", "::1", True),
            ("fe80::1 up", "fe80::1", False),
        ],
    )
    def test_ip_look_alikes(self, text: str, value: str, dropped: bool) -> None:
        """Versions and C++ scopes are not addresses; hosts and real IPv6 are."""
        start = text.index(value)
        assert is_look_alike(text, start, start + len(value), "IP_ADDRESS") is dropped


class TestLoggers:
    def test_unconfigured_loggers_are_silenced(self) -> None:
        """presidio's logger stops propagating to the app's root handlers."""
        quiet_loggers()
        assert logging.getLogger("presidio-analyzer").propagate is False

    def test_loggers_the_app_configured_are_left_alone(self) -> None:
        """If the app set up tldextract's logger itself, llmlog does not touch it."""
        log = logging.getLogger("tldextract")
        saved = (log.level, log.propagate, list(log.handlers))
        log.handlers.clear()
        log.setLevel(logging.INFO)
        log.propagate = True
        try:
            quiet_loggers()
            assert log.propagate is True
        finally:
            log.setLevel(saved[0])
            log.propagate = saved[1]
            log.handlers[:] = saved[2]


class TestPhoneCandidates:
    """Blanking short digit runs must never change which phone numbers are found."""

    def test_prose_with_short_numbers_skips_the_phone_passes(self) -> None:
        shortest = shortest_phone_number()
        assert phone_candidates("Tromsø, 4 nights. Bodø, 3 nights, then 2 weeks.", shortest) is None
        text = "team of 12, call +1 (212) 555-0147 x 12 or order #48213"
        assert phone_candidates(text, shortest) == text.replace("of 12", "of   ")

    def test_the_same_numbers_are_found_at_the_same_places(self) -> None:
        """Random mixes of digits, punctuation, leads, extensions and words: the recognizer
        finds exactly the same spans in the blanked text as in the original."""
        from presidio_analyzer.predefined_recognizers import PhoneRecognizer

        recognizer = PhoneRecognizer(supported_regions=PHONE_REGIONS)
        shortest = shortest_phone_number()
        rng = random.Random(7)
        pieces = [
            "0", "1", "2", "5", "7", "9", "030", "212", "555", "0147", "44", "+", "+49 ",
            " ", "-", ".", "(", ")", "/", " x", " ext. ", " extension ", "#", "a", "call ",
            "tel", "\u00a0", " team of ", ", ", ":",
        ]  # fmt: skip

        def spans(text: str) -> list[tuple[int, int]]:
            return sorted(
                (r.start, r.end) for r in recognizer.analyze(text, ["PHONE_NUMBER"], None)
            )

        found = blanked = 0
        for _ in range(4000):
            text = "".join(rng.choice(pieces) for _ in range(rng.randint(2, 16)))
            candidates = phone_candidates(text, shortest)
            expected = spans(text)
            found += bool(expected)
            if candidates is None:
                assert expected == [], text
            else:
                blanked += candidates != text
                assert spans(candidates) == expected, text
        assert found > 100 and blanked > 100  # both sides of the check were exercised
