"""The per-record byte cap: no line on disk longer than LLMLOG_MAX_RECORD_BYTES."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import openai
import pytest

import llmlog
import llmlog.testing
import openai_fakes as fakes
from llmlog._config import Settings
from llmlog._record_cap import RECORD_BYTES, CapRecord, shrink
from llmlog.processors import render

SCHEMA = json.loads(resources.files("llmlog").joinpath("record.schema.json").read_text())
MIB = 1024 * 1024
TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def conversation(count: int = 400, size: int = 14_000) -> list[dict[str, str]]:
    """``count`` messages of ``size`` characters each: megabytes, every one under the
    per-field limit. The first holds a secret."""
    messages = [
        {
            "role": "user" if i % 2 == 0 else "assistant",
            "content": f"turn {i}: " + "word " * (size // 5),
        }
        for i in range(count)
    ]
    messages[0]["content"] = f"my token is {TOKEN}, " + messages[0]["content"]
    return messages


def tools(count: int) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {
                "name": f"tool_{i}",
                "description": f"tool {i} " + "does things " * 80,
                "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
            },
        }
        for i in range(count)
    ]


@contextmanager
def logged_to(path: Path, **settings: Any) -> Iterator[None]:
    """llmlog writing to the file ``path`` while the block runs."""
    llmlog.instrument(output=str(path), **settings)
    try:
        yield
        assert llmlog.flush(30)
    finally:
        llmlog.uninstrument()


def only_line(path: Path) -> tuple[bytes, dict[str, Any]]:
    """The one line of the log, and it read as a schema-valid record."""
    [line] = path.read_bytes().splitlines(keepends=True)
    record = json.loads(line)
    jsonschema.validate(record, SCHEMA)
    return line, record


def assert_metadata_kept(record: dict[str, Any], status: str = "ok") -> None:
    """What ran, how slow, how expensive, did it fail: all still there."""
    assert record["id"] and record["ts"] and record["provider"] == "openai"
    assert (record["model"], record["status"], record["attempts"]) == ("gpt-4o", status, 1)
    assert record["latency_ms"] > 0
    if status == "ok":
        assert (record["request_id"], record["response_id"]) == (fakes.REQUEST_ID, fakes.CHAT_ID)
        assert record["response_model"] == fakes.SERVED_MODEL
        assert record["usage"]["input_tokens"] == 20 and record["usage"]["output_tokens"] == 5
        assert record["cost_usd"] is not None and record["output"]["finish_reason"] == "stop"


class TestSetting:
    def test_default_is_one_mebibyte(self) -> None:
        """Without the variable every record is capped at 1 MiB."""
        assert Settings.from_env({}).max_record_bytes == MIB

    def test_zero_means_no_limit(self) -> None:
        """``0`` switches the cap off, as ``0`` does for the other limits."""
        assert Settings.from_env({"LLMLOG_MAX_RECORD_BYTES": "0"}).max_record_bytes == 0

    @pytest.mark.parametrize("value", ["100", "-1", "1mb", "off", "4095"])
    def test_bad_values_name_the_variable_and_what_is_allowed(self, value: str) -> None:
        """Too small to hold a record's metadata, or no whole number: a clear error."""
        with pytest.raises(
            ValueError,
            match=r"^LLMLOG_MAX_RECORD_BYTES=.* expected 0 \(no limit\) or a whole number "
            r"of at least 4096$",
        ):
            Settings.from_env({"LLMLOG_MAX_RECORD_BYTES": value})

    def test_smallest_cap_is_allowed(self) -> None:
        assert Settings.from_env({}, max_record_bytes=4096).max_record_bytes == 4096


class TestHugeRecordOnDisk:
    def test_many_long_messages_are_cut_to_fit(self, tmp_path: Path) -> None:
        """400 messages of 14 KB (5.6 MB, each under the field limit): the line is at most
        1 MiB, every message still there, each cut with its marker and noted."""
        path = tmp_path / "calls.jsonl"
        with logged_to(path, redact="secrets"):
            client = fakes.sync_client(fakes.default_fake())
            client.chat.completions.create(model="gpt-4o", messages=conversation())
        line, record = only_line(path)
        assert len(line) <= MIB
        assert_metadata_kept(record)
        assert record["truncated"][RECORD_BYTES] > 5 * MIB
        assert len(record["messages"]) == 400
        last = record["messages"][-1]["content"]
        assert last.startswith("turn 399: word") and last.endswith(" chars]")
        assert record["truncated"]["messages[399].content"] == 14_010

    async def test_async_client_is_capped_alike(self, tmp_path: Path) -> None:
        path = tmp_path / "calls.jsonl"
        with logged_to(path, redact="off", max_record_bytes=256 * 1024):
            client = fakes.async_client(fakes.default_fake())
            await client.chat.completions.create(model="gpt-4o", messages=conversation())
        line, record = only_line(path)
        assert len(line) <= 256 * 1024
        assert_metadata_kept(record)
        assert RECORD_BYTES in record["truncated"]

    def test_many_small_tags_go_before_ids_and_model(self, tmp_path: Path) -> None:
        """100 tags of 50 characters (none big enough to be emptied as a part) under a 4 KiB
        cap: the tags are dropped, the ids and model are not cut."""
        path = tmp_path / "calls.jsonl"
        tags = {f"tag{n:03}": "v" * 50 for n in range(100)}
        with logged_to(path, redact="off", max_record_bytes=4096), llmlog.context(tags=tags):
            client = fakes.sync_client(fakes.default_fake())
            client.chat.completions.create(model="gpt-4o", messages=conversation(200, 500))
        line, record = only_line(path)
        assert len(line) <= 4096
        assert_metadata_kept(record)
        assert record["tags"] is None and record["truncated"]["tags"] == 100

    def test_many_tool_definitions_are_emptied_when_cutting_texts_is_not_enough(
        self, tmp_path: Path
    ) -> None:
        """2,000 tools under a 64 KiB cap: too many to fit even with every text cut, so the
        biggest part goes; ``truncated`` gives how many items it had."""
        path = tmp_path / "calls.jsonl"
        with logged_to(path, redact="off", max_record_bytes=64 * 1024):
            client = fakes.sync_client(fakes.default_fake())
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}], tools=tools(2000)
            )
        line, record = only_line(path)
        assert len(line) <= 64 * 1024
        assert_metadata_kept(record)
        assert len(record["params"]["tools"]) < 2000
        assert record["truncated"]["params.tools"] == 2000
        assert record["messages"] == [{"role": "user", "content": "hi"}]

    def test_failed_call_keeps_its_error_under_the_smallest_cap(self, tmp_path: Path) -> None:
        """A 429 with a huge prompt and a long error message, capped at 4 KiB: the error's
        type, status and the start of its message stay; the content goes."""
        message = "Rate limit reached. " + "details " * 5000
        fake = fakes.FakeOpenAI(
            routes={
                "/chat/completions": lambda _: fakes.json_response(
                    fakes.error_body(message), 429, "req_err"
                )
            }
        )
        path = tmp_path / "calls.jsonl"
        with (
            logged_to(path, redact="off", max_record_bytes=4096),
            pytest.raises(openai.RateLimitError),
        ):
            fakes.sync_client(fake).chat.completions.create(
                model="gpt-4o", messages=conversation(50)
            )
        line, record = only_line(path)
        assert len(line) <= 4096
        assert_metadata_kept(record, status="error")
        assert record["request_id"] == "req_err"
        assert (record["error"]["type"], record["error"]["status_code"]) == ("RateLimitError", 429)
        assert "Rate limit reached." in record["error"]["message"]
        assert record["messages"] is None and record["truncated"]["messages"] == 50

    @pytest.mark.parametrize("cap", [4096, MIB])
    def test_redaction_ran_before_the_cap(self, tmp_path: Path, cap: int) -> None:
        """Whatever the cap keeps was redacted: the secret never reaches the disk."""
        path = tmp_path / "calls.jsonl"
        with logged_to(path, redact="secrets", max_record_bytes=cap):
            client = fakes.sync_client(fakes.default_fake())
            client.chat.completions.create(model="gpt-4o", messages=conversation())
        line, record = only_line(path)
        assert TOKEN.encode() not in line and len(line) <= cap
        if cap == MIB:
            assert record["messages"][0]["content"].startswith("my token is <")

    def test_a_text_cut_by_the_field_limit_keeps_its_length_as_sent(self, tmp_path: Path) -> None:
        """Cut first by LLMLOG_MAX_FIELD_CHARS, then by the cap: ``truncated`` and the
        marker count from the length the app sent."""
        messages = conversation(40, 20_000)
        messages[7]["content"] = "long " * 10_000
        path = tmp_path / "calls.jsonl"
        with logged_to(path, redact="off", max_field_chars=30_000, max_record_bytes=128 * 1024):
            fakes.sync_client(fakes.default_fake()).chat.completions.create(
                model="gpt-4o", messages=messages
            )
        _, record = only_line(path)
        text = record["messages"][7]["content"]
        kept = text[: text.index("…[truncated ")]
        assert record["truncated"]["messages[7].content"] == 50_000
        assert text.endswith(f"…[truncated {50_000 - len(kept)} chars]")


class TestNormalRecord:
    def test_a_record_under_the_cap_is_written_byte_for_byte_as_without_it(self) -> None:
        """The cap's whole cost for a normal record is one length check: same bytes."""
        with llmlog.testing.capture_records(redact="off") as cap:
            client = fakes.sync_client(fakes.default_fake())
            client.chat.completions.create(
                model="gpt-4o", messages=conversation(4, 1000), tools=tools(3)
            )
            [record] = cap.calls
        assert record["truncated"] is None
        rendered = render(None, "info", record)
        assert CapRecord(MIB)(None, "info", record) == rendered
        assert CapRecord(0)(None, "info", record) == rendered

    def test_no_cap_writes_the_huge_record_whole(self) -> None:
        """``0``: no limit, as before the setting existed."""
        with llmlog.testing.capture_records(redact="off", max_record_bytes=0) as cap:
            client = fakes.sync_client(fakes.default_fake())
            client.chat.completions.create(model="gpt-4o", messages=conversation())
            [record] = cap.calls
        assert record["truncated"] is None
        assert record["messages"] == conversation()


class TestShrink:
    def test_the_same_record_always_shrinks_the_same_way(self) -> None:
        """Deterministic: two shrinks of one line give the same bytes."""
        with llmlog.testing.capture_records(redact="off", max_record_bytes=0) as cap:
            client = fakes.sync_client(fakes.default_fake())
            client.chat.completions.create(
                model="gpt-4o", messages=conversation(100), tools=tools(100)
            )
            [record] = cap.calls
        line = render(None, "info", record)
        for limit in (4096, 64 * 1024, 512 * 1024):
            first = shrink(line, limit)
            assert first == shrink(line, limit) and len(first) <= limit
            jsonschema.validate(json.loads(first), SCHEMA)

    def test_a_dropped_notice_is_never_touched(self) -> None:
        """Only call records are shrunk (the drop notice is a few bytes anyway)."""
        line = b'{"event":"llmlog.dropped","schema":1,"id":"x","ts":"t","count":1}\n'
        assert shrink(line, 10) == line
