"""The offline presidio tier: model detection, look-alike filtering, quiet loggers."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import pytest

from llmlog._redact_presidio import (
    PHONE_REGIONS,
    is_look_alike,
    ner_model_problem,
    phone_gate,
    quiet_loggers,
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
        ],
    )
    def test_phone_matches_inside_other_tokens_are_dropped(self, text: str, value: str) -> None:
        """A number glued to a word or dash, or shaped like a date, is not a phone number."""
        start = text.index(value)
        assert is_look_alike(text, start, start + len(value), "PHONE_NUMBER")

    def test_a_free_standing_phone_number_is_kept(self) -> None:
        """Separators such as ``:`` or a space in front do not hide a real number."""
        text = "tel:+1 415-555-0132."
        start = text.index("+")
        assert not is_look_alike(text, start, text.index("."), "PHONE_NUMBER")

    @pytest.mark.parametrize(
        ("text", "value", "dropped"),
        [
            ("version 1.2.3.4", "1.2.3.4", True),
            ("pkg==1.2.3.4", "1.2.3.4", True),
            ("host 1.2.3.4", "1.2.3.4", False),
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


class TestPhoneGate:
    """The gate before the phone recognizer must never hide a number it would find."""

    def test_short_numbers_in_prose_skip_the_phone_passes(self) -> None:
        gate = phone_gate()
        assert not gate.search("Tromsø, 4 nights. Bodø, 3 nights, then 2 weeks by ferry.")
        assert gate.search("call 030 1234") and gate.search("+1 (212) 555-0147")

    def test_every_text_the_recognizer_matches_passes_the_gate(self) -> None:
        """Random digit/punctuation/letter mixes: the gate holds wherever phonenumbers finds one."""
        from presidio_analyzer.predefined_recognizers import PhoneRecognizer

        recognizer = PhoneRecognizer(supported_regions=PHONE_REGIONS)
        gate = phone_gate()
        rng = random.Random(7)
        pieces = [
            "0",
            "1",
            "2",
            "5",
            "7",
            "9",
            "030",
            "212",
            "555",
            "0147",
            "44",
            "+",
            "+49 ",
            " ",
            "-",
            ".",
            "(",
            ")",
            "/",
            " x",
            "ext. ",
            "a",
            "call ",
            "tel",
            "\u00a0",
        ]
        found = 0
        for _ in range(3000):
            text = "".join(rng.choice(pieces) for _ in range(rng.randint(2, 12)))
            matches = recognizer.analyze(text, ["PHONE_NUMBER"], None)
            if matches:
                found += 1
                assert gate.search(text), text
        assert found > 50  # the corpus does contain numbers, so the check means something
