"""Anthropic messages and stream events -> output and normalized usage."""

from __future__ import annotations

import json
from typing import Any

import pydantic
from anthropic.types import Message, RawMessageStreamEvent

import anthropic_fakes as fake
from llmlog.instrumentors._anthropic_response import (
    message_output,
    normalized_usage,
    summarize_events,
)

_EVENT = pydantic.TypeAdapter(RawMessageStreamEvent)


def sdk_message(body: dict[str, Any]) -> Message:
    return Message.model_validate(body)


def sdk_events(events: list[dict[str, Any]]) -> list[Any]:
    return [_EVENT.validate_python(event) for event in events]


def tool_call(call_id: str, kind: str, name: str, arguments: str) -> dict[str, Any]:
    """A record's tool call, as the reader should spell it."""
    return {"id": call_id, "type": kind, "name": name, "arguments": arguments}


class TestUsage:
    def test_input_tokens_include_cache_reads_and_writes(self) -> None:
        """input = plain + cache read + cache write, so it means what OpenAI's means."""
        usage = normalized_usage(fake.usage(12, 7, cache_read=8, cache_write=3))
        assert usage is not None
        assert usage["input_tokens"] == 23
        assert usage["cached_input_tokens"] == 8
        assert usage["cache_write_tokens"] == 3
        assert usage["output_tokens"] == 7
        assert usage["total_tokens"] == 30

    def test_raw_usage_is_kept(self) -> None:
        """The provider's own numbers stay next to the normalized ones."""
        body = fake.usage(12, 7, cache_read=8, service_tier="standard")
        usage = normalized_usage(body)
        assert usage is not None
        assert usage["raw"] == body

    def test_thinking_tokens_are_reasoning_tokens(self) -> None:
        """output_tokens_details.thinking_tokens fills reasoning_tokens."""
        usage = normalized_usage(fake.usage(output_tokens_details={"thinking_tokens": 40}))
        assert usage is not None
        assert usage["reasoning_tokens"] == 40

    def test_missing_cache_fields_stay_unknown(self) -> None:
        """Without cache fields the cache counts are null, input is the plain count."""
        usage = normalized_usage(fake.usage(5, 1, cache_read=None, cache_write=None))
        assert usage is not None
        assert usage["input_tokens"] == 5
        assert usage["cached_input_tokens"] is None

    def test_sdk_usage_object_reads_like_the_json(self) -> None:
        """The pydantic Usage gives the same record as its JSON body."""
        body = fake.usage(12, 7, cache_read=8, cache_write=3)
        assert normalized_usage(sdk_message(fake.message(usage_body=body)).usage) == (
            normalized_usage(body)
        )

    def test_no_usage_is_null(self) -> None:
        """No usage object: null, never zeros."""
        assert normalized_usage(None) is None


class TestMessageOutput:
    def test_text_blocks_are_concatenated(self) -> None:
        """Several text blocks read as one answer, as ``get_final_text()`` joins them."""
        content = [{"type": "text", "text": "Hello "}, {"type": "text", "text": "world"}]
        output = message_output(sdk_message(fake.message(content=content)))
        assert output["text"] == "Hello world"
        assert output["finish_reason"] == "end_turn"
        assert output["refusal"] is None

    def test_tool_use_blocks_become_tool_calls(self) -> None:
        """Each tool_use block: id, name and its input as JSON text."""
        content = [{"type": "text", "text": "Checking."}, fake.tool_use_block()]
        body = fake.message(content=content, stop_reason="tool_use")
        output = message_output(sdk_message(body))
        assert output["tool_calls"] == [
            tool_call("toolu_01A", "tool_use", "get_weather", '{"city":"Paris"}')
        ]
        assert output["finish_reason"] == "tool_use"

    def test_tools_run_by_anthropic_are_tool_calls_too(self) -> None:
        """Web search and MCP calls the server made itself are listed, typed, with their
        input; their results (search pages) are not copied into the record."""
        content = [
            {
                "type": "server_tool_use",
                "id": "srvtoolu_1",
                "name": "web_search",
                "input": {"query": "weather Paris"},
            },
            {
                "type": "web_search_tool_result",
                "tool_use_id": "srvtoolu_1",
                "content": [
                    {
                        "type": "web_search_result",
                        "url": "https://example.com",
                        "title": "Weather",
                        "encrypted_content": "opaque",
                        "page_age": None,
                    }
                ],
            },
            {"type": "text", "text": "Sunny."},
        ]
        body = fake.message(content=content)
        output = message_output(sdk_message(body))
        assert output["tool_calls"] == [
            tool_call("srvtoolu_1", "server_tool_use", "web_search", '{"query":"weather Paris"}')
        ]
        assert output["text"] == "Sunny."
        mcp = {
            "type": "mcp_tool_use",
            "id": "mcptoolu_1",
            "name": "lookup",
            "server_name": "crm",
            "input": {"id": 7},
        }
        [call] = message_output(fake.message(content=[mcp]))["tool_calls"]
        assert (call["type"], call["server"], call["arguments"]) == (
            "mcp_tool_use",
            "crm",
            '{"id":7}',
        )

    def test_thinking_is_its_own_field(self) -> None:
        """Thinking text is kept apart from the answer text."""
        content = [
            {"type": "thinking", "thinking": "Let me think.", "signature": "sig"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": "42"},
        ]
        output = message_output(sdk_message(fake.message(content=content)))
        assert output["thinking"] == "Let me think."
        assert output["text"] == "42"

    def test_refusal_takes_the_explanation(self) -> None:
        """stop_reason "refusal" fills ``refusal`` with the API's explanation."""
        details = {"type": "refusal", "category": "cyber", "explanation": "Not allowed."}
        body = fake.message("", stop_reason="refusal", stop_details=details)
        output = message_output(sdk_message(body))
        assert output["refusal"] == "Not allowed."

    def test_refusal_without_details_is_still_marked(self) -> None:
        """A refusal with no details is not null: the call was refused."""
        output = message_output(sdk_message(fake.message("", stop_reason="refusal")))
        assert output["refusal"] == "refusal"

    def test_json_body_reads_like_the_sdk_object(self) -> None:
        """Raw-response bodies (plain JSON) give the same output as parsed messages."""
        body = fake.message(content=[{"type": "text", "text": "x"}, fake.tool_use_block()])
        assert message_output(body) == message_output(sdk_message(body))

    def test_no_text_blocks_means_null_text(self) -> None:
        """Only a tool call: text is null, not an empty string."""
        output = message_output(sdk_message(fake.message(content=[fake.tool_use_block()])))
        assert output["text"] is None


class TestStreamSummary:
    def test_text_deltas_are_assembled(self) -> None:
        """Output text is every text delta in order."""
        summary = summarize_events(sdk_events(fake.stream_events(["Hel", "lo"])))
        assert summary.output["text"] == "Hello"
        assert summary.output["finish_reason"] == "end_turn"
        assert summary.response_id == "msg_01Stream"
        assert summary.response_model == fake.MODEL

    def test_output_tokens_are_cumulative_not_added(self) -> None:
        """message_delta's output_tokens is a running total: counted once, not summed."""
        events = fake.stream_events(
            start_usage=fake.usage(25, 1, cache_read=8, cache_write=0),
            delta_usage={"output_tokens": 15},
        )
        usage = summarize_events(sdk_events(events)).usage
        assert usage is not None
        assert usage["output_tokens"] == 15
        assert usage["input_tokens"] == 33
        assert usage["cached_input_tokens"] == 8

    def test_input_counts_in_message_delta_replace_the_start_ones(self) -> None:
        """When message_delta carries input or cache counts, they win over message_start's."""
        events = fake.stream_events(
            start_usage=fake.usage(25, 1, cache_read=8, cache_write=0),
            delta_usage={"output_tokens": 15, "input_tokens": 30, "cache_read_input_tokens": 10},
        )
        usage = summarize_events(sdk_events(events)).usage
        assert usage is not None
        assert usage["input_tokens"] == 40
        assert usage["cached_input_tokens"] == 10

    def test_tool_input_json_is_assembled_per_block(self) -> None:
        """input_json deltas are joined per content block index into one arguments text."""
        events = fake.stream_events(["ok"], tool_json=['{"ci', 'ty": ', '"Paris"}'])
        calls = summarize_events(sdk_events(events)).output["tool_calls"]
        assert calls == [tool_call("toolu_01S", "tool_use", "get_weather", '{"city":"Paris"}')]

    def test_a_streamed_server_tool_use_is_assembled_like_a_tool_use(self) -> None:
        """A server tool's input streams as input_json deltas too (decoded JSON events)."""
        events: list[dict[str, Any]] = [
            {"type": "message_start", "message": fake.message(content=[])},
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {
                    "type": "server_tool_use",
                    "id": "srvtoolu_2",
                    "name": "web_search",
                    "input": {},
                },
            },
            *(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": piece},
                }
                for piece in ('{"query": ', '"Paris"}')
            ),
            {"type": "content_block_stop", "index": 0},
        ]
        [call] = summarize_events(events).output["tool_calls"]
        assert call == tool_call("srvtoolu_2", "server_tool_use", "web_search", '{"query":"Paris"}')

    def test_streamed_and_plain_tool_calls_read_the_same(self) -> None:
        """The same tool call spells its arguments the same streamed or not."""
        streamed = summarize_events(
            sdk_events(fake.stream_events([], tool_json=['{"city": "Paris"}']))
        )
        plain = message_output(sdk_message(fake.message(content=[fake.tool_use_block()])))
        assert streamed.output["tool_calls"][0]["arguments"] == plain["tool_calls"][0]["arguments"]

    def test_tool_without_input_has_empty_object_arguments(self) -> None:
        """No input_json deltas at all means an empty input object."""
        calls = summarize_events(sdk_events(fake.stream_events([], tool_json=[]))).output
        assert calls["tool_calls"][0]["arguments"] == "{}"

    def test_cut_short_tool_json_is_kept_as_received(self) -> None:
        """A stream that ended mid-arguments keeps the fragment rather than dropping it."""
        events = fake.stream_events([], tool_json=['{"ci'])[:-3]
        calls = summarize_events(sdk_events(events)).output["tool_calls"]
        assert calls[0]["arguments"] == '{"ci'

    def test_thinking_deltas_are_their_own_field(self) -> None:
        """Thinking deltas build ``thinking``; signatures are not text."""
        events = fake.stream_events(["42"], thinking=["Let me ", "think."])
        output = summarize_events(sdk_events(events)).output
        assert output["thinking"] == "Let me think."
        assert output["text"] == "42"

    def test_partial_stream_keeps_what_arrived(self) -> None:
        """Events up to a break still give text and start usage; no stop reason yet."""
        events = fake.stream_events(["Hel", "lo", " world"])[:3]
        summary = summarize_events(sdk_events(events))
        assert summary.output["text"] == "Hel"
        assert summary.output["finish_reason"] is None
        assert summary.usage is not None
        assert summary.usage["output_tokens"] == 1

    def test_no_events_give_empty_output_and_null_usage(self) -> None:
        """A stream closed before its first event: nothing invented."""
        summary = summarize_events([])
        assert summary.output["text"] is None
        assert summary.usage is None

    def test_json_events_read_like_sdk_events(self) -> None:
        """Plain JSON events fold to the same summary as parsed ones."""
        events = fake.stream_events(["a", "b"], thinking=["t"], tool_json=['{"x": 1}'])
        assert summarize_events(events) == summarize_events(sdk_events(events))

    def test_refusal_mid_stream(self) -> None:
        """A streamed refusal sets finish_reason and refusal."""
        events = fake.stream_events(["I can"], stop_reason="refusal")
        output = summarize_events(sdk_events(events)).output
        assert output["finish_reason"] == "refusal"
        assert output["refusal"] == "refusal"

    def test_unknown_event_types_are_ignored(self) -> None:
        """Events a newer API adds never break the fold."""
        events = fake.stream_events(["a"])
        events.insert(2, {"type": "brand_new_event", "payload": 1})
        assert summarize_events(events).output["text"] == "a"
        json.dumps(summarize_events(events).output)
