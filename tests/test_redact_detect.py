"""Combining what the tiers found into one non-overlapping list of spans."""

from __future__ import annotations

import json
import unicodedata

import pytest

from llmlog._redact_detect import Detector, DetectorConfig, merge_spans, without_overlaps
from llmlog._redact_operators import apply_spans, tag


class TestMergeSpans:
    def test_overlaps_become_their_union_named_after_the_longest(self) -> None:
        """No part of an overlapped value may survive, whatever it is called."""
        spans = [(10, 20, "URL"), (5, 30, "EMAIL_ADDRESS"), (28, 35, "X"), (40, 42, "Y")]
        assert merge_spans(spans) == [(5, 35, "EMAIL_ADDRESS"), (40, 42, "Y")]

    def test_ties_are_decided_by_name_so_results_are_stable(self) -> None:
        """Two entities on the same text always give the same label."""
        assert merge_spans([(0, 9, "US_SSN"), (0, 9, "US_ITIN")]) == [(0, 9, "US_ITIN")]

    def test_empty_spans_are_dropped(self) -> None:
        """A zero-length match replaces nothing."""
        assert merge_spans([(3, 3, "X")]) == []


class TestDetector:
    def test_secret_spans_win_over_overlapping_pii(self) -> None:
        """A token in ``https://TOKEN@host`` is an API key, not an email address."""
        assert without_overlaps([(0, 30, "EMAIL_ADDRESS"), (40, 45, "IP")], [(5, 10, "K")]) == [
            (40, 45, "IP")
        ]

    def test_config_crosses_the_pipe_unchanged(self) -> None:
        """A config sent to the worker is rebuilt equal (it keys the worker's cache)."""
        config = DetectorConfig("pii", (("A", "a+"),), ("x",), "en_core_web_sm")
        assert DetectorConfig.from_wire(config.to_wire()) == config

    def test_off_finds_nothing(self) -> None:
        """Level ``off`` never looks."""
        assert Detector(DetectorConfig("off")).find("sk-proj-abc123DEF456ghi789JKL0") == []


OPENAI_KEY = "sk-" + "proj-" + "Ab3dEfGh1jKlMnOpQrStUvWxYz0123456789abcd"
GITHUB_TOKEN = "gh" + "p_" + "a1" * 18
CARD = "4111111111111111"


def redacted(text: str, level: str = "secrets") -> str:
    return apply_spans(text, Detector(DetectorConfig(level)).find(text), tag)


class TestTerminalEscapes:
    """Shell tool output is coloured: a value right after an escape sequence's final letter
    (``\\x1b[32m``) is at a word boundary, as on the screen."""

    @pytest.mark.parametrize(
        "escape",
        [
            "\x1b[32m",
            "\x1b[01;31m",
            "\x1b[1m",
            "\x1b[38;2;255;0;0m",
            "\x1b(B\x1b[m",  # tput sgr0
            "\\u001b[32m",  # in JSON text
            "\\x1b[0m",  # in a repr
        ],
    )
    def test_a_key_right_after_an_escape_sequence(self, escape: str) -> None:
        """The key and token go; the escape sequences stay as they were. A hyperlink's URL (an
        OSC) is still searched."""
        link = "\x1b]8;;https://app:S3cretPw99@db.internal/\x1b\\db\x1b]8;;\x1b\\"
        text = f"OPENAI: {escape}{OPENAI_KEY}\x1b[0m\n{escape}{GITHUB_TOKEN} {link}"
        assert redacted(text) == (
            f"OPENAI: {escape}<API_KEY>\x1b[0m\n{escape}<API_KEY> "
            + link.replace("S3cretPw99", "<SECRET>")
        )

    def test_pii_right_after_an_escape_sequence(self) -> None:
        """presidio searches the same blanked text: a card and a national phone number right
        after a colour code are found; a broken escape does not swallow a card's digits."""
        text = f"card on file: \x1b[33m{CARD}\x1b[0m, call \x1b[1m4155550132\x1b[0m; \x1b[{CARD}"
        assert redacted(text, "pii") == (
            "card on file: \x1b[33m<CREDIT_CARD>\x1b[0m, call \x1b[1m<PHONE_NUMBER>\x1b[0m; "
            "\x1b[<CREDIT_CARD>"
        )


class TestJsonEscapedFiles:
    """A tool's result holding a file, as JSON text: its lines are escaped ``\\n``."""

    def test_env_and_yaml_passwords(self) -> None:
        """A .env or YAML file's password lines are found as in the raw file, a value
        holding ``;`` whole."""
        env = "APP_NAME=shop\nDB_PASSWORD=correcthorsebattery\nREDIS_PASSWORD=Xy9!a;Bc.7Qz\n"
        yml = "db:\n  host: db.internal\n  password: hunter-two-hunter\n"
        text = json.dumps({"files": [{"path": ".env", "content": env}, {"content": yml}]})
        out = redacted(text)
        assert not any(s in out for s in ("correcthorsebattery", "Xy9!a", "Bc.7Qz", "hunter-two"))
        assert json.loads(out) == {
            "files": [
                {
                    "path": ".env",
                    "content": "APP_NAME=shop\nDB_PASSWORD=<SECRET>\nREDIS_PASSWORD=<SECRET>\n",
                },
                {"content": "db:\n  host: db.internal\n  password: <SECRET>\n"},
            ]
        }


ZERO_WIDTH = ("\u200b", "\u00ad", "\ufeff", "\u2060", "\u200d", "\u202e")


class TestFormatCharacters:
    @pytest.mark.parametrize("char", ZERO_WIDTH)
    def test_an_invisible_character_inside_a_key(self, char: str) -> None:
        """A zero-width space, soft hyphen, BOM or word joiner pasted inside a key does not
        hide it: the whole key goes, the characters inside it and right after it too."""
        text = f"key: {OPENAI_KEY[:20]}{char}{OPENAI_KEY[20:]} and {GITHUB_TOKEN[:9]}{char}"
        text += f"{GITHUB_TOKEN[9:]}{char}."
        assert redacted(text) == "key: <API_KEY> and <API_KEY>."
        assert redacted(f"{char}{char}{OPENAI_KEY}{char}") == f"{char}{char}<API_KEY>"

    def test_with_json_escapes_and_other_scripts(self) -> None:
        """Removed characters and decoded escapes map back together; a key glued to CJK text
        with a zero-width space inside is still found."""
        key = OPENAI_KEY.replace("-", "\\u002d")
        text = f"密钥\u200b是{key[:15]}\u200b{key[15:]}\uff0c\u00ad{GITHUB_TOKEN}"
        assert redacted(text) == "密钥\u200b是<API_KEY>\uff0c\u00ad<API_KEY>"

    def test_every_removed_character_is_a_format_character(self) -> None:
        """The class holds Unicode's format characters (Cf) only (the tag block's unassigned
        ones aside), the common invisible ones among them."""
        from llmlog._redact_detect import _FORMAT_CHARS

        chars = [chr(c) for c in range(0xE0080) if _FORMAT_CHARS.fullmatch(chr(c))]
        assert all(unicodedata.category(c) == "Cf" or 0xE0000 <= ord(c) <= 0xE007F for c in chars)
        assert set("\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\U000e0041") <= set(chars)
        bmp_cf = {chr(c) for c in range(0x10000) if unicodedata.category(chr(c)) == "Cf"}
        assert bmp_cf <= set(chars)
