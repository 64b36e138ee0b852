"""Combining what the tiers found into one non-overlapping list of spans."""

from __future__ import annotations

from llmlog._redact_detect import Detector, DetectorConfig, merge_spans, without_overlaps


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
