"""Anthropic answers recorded as the SDK assembles them: what its stream helpers raise,
structured answers, compaction summaries, tools that arrive whole, time to first output."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import anthropic
import pydantic
import pytest

import anthropic_fakes as fake
import llmlog.testing
from llmlog.processors import MetadataOnly
from llmlog.testing import CapturedRecords

NEEDS_THREADS = pytest.mark.skipif(
    not hasattr(anthropic.resources.beta.messages.Messages, "thread"),
    reason="this anthropic has no beta.messages.thread (2.2+)",
)


@pytest.fixture
def cap() -> Iterator[CapturedRecords]:
    with llmlog.testing.capture_records(disabled_providers=("openai",)) as captured:
        yield captured


class City(pydantic.BaseModel):
    city: str
    temp: int


CUT_JSON = '{"city": "Paris", "te'
"""A structured answer cut short: it does not validate."""


class TestHelperErrors:
    """The helpers parse what they read; what they raise over it is the call's error."""

    def test_an_answer_that_does_not_validate_is_the_records_error(
        self, cap: CapturedRecords
    ) -> None:
        """messages.stream(output_format=Model) raises ValidationError at the block's end:
        the record says so (it said ``cancelled``, with no error), as messages.parse's does."""
        events = fake.stream_events([CUT_JSON], stop_reason="max_tokens")
        client = fake.sync_client(fake.sse_handler(events))
        with (
            pytest.raises(pydantic.ValidationError),
            client.messages.stream(
                model=fake.MODEL, max_tokens=5, messages=fake.user(), output_format=City
            ) as stream,
        ):
            for _text in stream.text_stream:
                pass
        record = only(cap)
        assert (record["status"], record["error"]["type"]) == ("error", "ValidationError")
        assert record["output"]["text"] == CUT_JSON

    async def test_tool_input_the_async_helper_cannot_parse(self, cap: CapturedRecords) -> None:
        """The async helper's ValueError over a tool's input JSON is the record's error."""
        events = fake.stream_events([], tool_json=['{"a": x}'])
        client = fake.async_client(fake.sse_handler(events))
        with pytest.raises(ValueError, match="Unable to parse tool parameter JSON"):
            async with client.messages.stream(
                model=fake.MODEL, max_tokens=5, messages=fake.user()
            ) as stream:
                await stream.get_final_message()
        assert only(cap)["error"]["type"] == "ValueError"

    @NEEDS_THREADS
    def test_a_threads_stream_that_raises_is_the_records_error(self, cap: CapturedRecords) -> None:
        """Threads stream over ``beta.messages.create(stream=True)``: their helper's error
        reaches that call's record too."""
        events = fake.stream_events([CUT_JSON], stop_reason="max_tokens")
        client = fake.sync_client(fake.sse_handler(events))
        thread = client.beta.messages.thread(model=fake.MODEL, max_tokens=5, output_format=City)
        with (
            pytest.raises(pydantic.ValidationError),
            thread.stream({"role": "user", "content": "hi"}) as stream,
        ):
            stream.get_final_message()
        record = only(cap)
        assert (record["method"], record["status"]) == ("beta.messages.create", "error")


class TestValidationErrors:
    def test_the_error_says_what_failed_without_quoting_the_answer(
        self, cap: CapturedRecords
    ) -> None:
        """pydantic quotes the answer cut to ``head...tail``, a fragment of a key or a
        number redaction cannot recognise once cut: the record's message leaves the values
        out (the answer is in ``output``, redacted whole)."""
        token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
        answer = '{"city": "' + token + '", "temp": "warm"}'
        client = fake.sync_client(fake.json_handler(fake.message(answer)))
        with pytest.raises(pydantic.ValidationError):
            client.messages.parse(
                model=fake.MODEL, max_tokens=5, messages=fake.user(), output_format=City
            )
        error = only(cap)["error"]
        assert error["type"] == "ValidationError"
        assert error["message"] == (
            "1 validation error for City\ntemp\n"
            "  Input should be a valid integer, unable to parse string as an integer "
            "[type=int_parsing]"
        )


class TestStructuredAnswers:
    @NEEDS_THREADS
    def test_a_threads_streamed_answer_is_parsed(self, cap: CapturedRecords) -> None:
        """A structured answer streamed through ``create`` (threads, tool runners) is parsed
        as the non-streamed one is."""
        events = fake.stream_events(['{"city": "Paris", ', '"temp": 21}'])
        client = fake.sync_client(fake.sse_handler(events))
        thread = client.beta.messages.thread(model=fake.MODEL, max_tokens=5, output_format=City)
        with thread.stream({"role": "user", "content": "hi"}) as stream:
            assert stream.get_final_message().parsed_output == City(city="Paris", temp=21)
        assert only(cap)["output"]["parsed"] == {"city": "Paris", "temp": 21}

    def test_parse_records_the_answer_as_the_model_wrote_it(self, cap: CapturedRecords) -> None:
        """A dataclass answer is its fields (it was its repr); a pydantic alias is kept (the
        field's Python name was recorded, the stream's record has the alias)."""

        @dataclasses.dataclass
        class Weather:
            city: str
            temp: int

        class Person(pydantic.BaseModel):
            first_name: str = pydantic.Field(alias="firstName")

        answers = [(Weather, '{"city": "Paris", "temp": 21}'), (Person, '{"firstName": "Ada"}')]
        for form, text in answers:
            client = fake.sync_client(fake.json_handler(fake.message(text)))
            client.messages.parse(
                model=fake.MODEL, max_tokens=5, messages=fake.user(), output_format=form
            )
        weather, person = cap.calls
        assert weather["output"]["parsed"] == {"city": "Paris", "temp": 21}
        assert person["output"]["parsed"] == {"firstName": "Ada"}


class TestBlocksThatArriveWhole:
    def test_a_compaction_summary_is_recorded_and_metadata_capture_drops_it(
        self, cap: CapturedRecords
    ) -> None:
        """A compaction call's answer is its summary: ``output.compaction``, streamed (its
        deltas replace the summary, as the SDK's accumulator does) or not."""
        block = {"type": "compaction", "content": None}
        events = fake.block_events(block, stop_reason="compaction")
        replaced = [
            {"type": "compaction_delta", "content": "draft"},
            {"type": "compaction_delta", "content": "Summary of earlier turns"},
        ]
        events[2:2] = [{"type": "content_block_delta", "index": 0, "delta": d} for d in replaced]
        body = fake.message(content=[{"type": "compaction", "content": "Summary"}])
        client = fake.sync_client(fake.sse_handler(events))
        with client.beta.messages.stream(
            model=fake.MODEL, max_tokens=5, messages=fake.user()
        ) as stream:
            final = stream.get_final_message()
        assert final.content[0].content == "Summary of earlier turns"
        fake.sync_client(fake.json_handler(body)).beta.messages.create(
            model=fake.MODEL, max_tokens=5, messages=fake.user()
        )
        streamed, plain = cap.calls
        assert streamed["output"]["compaction"] == "Summary of earlier turns"
        assert plain["output"]["compaction"] == "Summary"
        assert MetadataOnly()(None, "info", plain)["output"]["compaction"] is None

    def test_a_tool_called_whole_is_the_first_output_with_its_input(
        self, cap: CapturedRecords
    ) -> None:
        """A tool block with no deltas (no input, or input given in its start): ttft is set
        (it was null), and the input in the start is the call's arguments (it was ``{}``)."""
        tool = {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "paris"}}
        client = fake.sync_client(fake.sse_handler(fake.block_events(tool, stop_reason="tool_use")))
        with client.messages.stream(model=fake.MODEL, max_tokens=5, messages=fake.user()) as s:
            assert s.get_final_message().content[0].input == {"q": "paris"}
        record = only(cap)
        assert record["output"]["tool_calls"][0]["arguments"] == '{"q":"paris"}'
        assert record["ttft_ms"] is not None


def only(cap: CapturedRecords) -> dict[str, Any]:
    (record,) = cap.calls
    return record
