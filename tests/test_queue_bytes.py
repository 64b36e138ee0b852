"""``LLMLOG_QUEUE_BYTES``: the records waiting for a writer far behind cannot take the
app's memory: past the byte budget new ones are dropped and counted, as past
``LLMLOG_QUEUE_SIZE``."""

from __future__ import annotations

import json

import httpx2
import pytest

import openai_fakes as ofake
from llmlog import _queue_bytes
from llmlog._config import Settings
from support.blocked_sink import BlockedSink, logging_to

PROMPT = "x" * 100_000  # 100 KB per call
CALLS = 200


def _answer(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(200, json=ofake.chat_completion("A"))


def _call_while_the_writer_is_stuck(**settings: object) -> tuple[list[dict[str, object]], int]:
    """``CALLS`` calls of a 100 KB prompt while the disk hangs; the records written once it
    answers, and how many calls the dropped records count."""
    sink = BlockedSink()
    with logging_to(sink, redact="off", **settings):
        client = ofake.sync_client(_answer)
        for _ in range(CALLS):
            messages = [{"role": "user", "content": PROMPT}]
            client.chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]
        sink.release.set()
    records = [json.loads(line) for line in sink.lines]
    dropped = sum(r["count"] for r in records if r["event"] == "llmlog.dropped")
    return [r for r in records if r["event"] == "llm.call"], dropped


def test_past_the_byte_budget_records_are_dropped_and_counted() -> None:
    calls, dropped = _call_while_the_writer_is_stuck(queue_bytes=2 * 1024 * 1024)
    assert len(calls) + dropped == CALLS  # every call is a record or counted
    # What the writer took before its write hung (a slice's worth: a few dozen at most),
    # MEASURED_FROM queued unmeasured, then the ~20 of 100 KB the budget holds
    measured = 2 * 1024 * 1024 // len(PROMPT)
    assert _queue_bytes.MEASURED_FROM + measured // 2 <= len(calls) <= 130
    assert dropped >= CALLS - 130


def test_no_limit_keeps_them_all() -> None:
    calls, dropped = _call_while_the_writer_is_stuck(queue_bytes=0)
    assert (len(calls), dropped) == (CALLS, 0)


@pytest.mark.parametrize("value", ["1000", "-1", "lots"])
def test_a_bad_budget_names_the_variable(value: str) -> None:
    with pytest.raises(ValueError, match="LLMLOG_QUEUE_BYTES"):
        Settings.from_env({"LLMLOG_QUEUE_BYTES": value})
