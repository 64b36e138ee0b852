"""Anthropic request kwargs -> model, params, system and messages of the record."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path

import anthropic
import httpx2
import orjson
import pydantic
from anthropic.types import TextBlock

from anthropic_fakes import PNG_B64
from llmlog._record import is_sentinel
from llmlog.instrumentors._anthropic_request import (
    batch_request_summary,
    messages_record,
    params_record,
    plain,
    system_text,
)


class TestSentinels:
    def test_sdk_markers_are_sentinels(self) -> None:
        """``omit`` and ``not_given`` mean "argument absent" and are recognised as such."""
        assert is_sentinel(anthropic.omit)
        assert is_sentinel(anthropic.not_given)

    def test_ordinary_values_are_not_sentinels(self) -> None:
        """None, False and empty containers are real values an app may send."""
        for value in (None, False, 0, "", [], {}):
            assert not is_sentinel(value)


class TestSystem:
    def test_string_system_prompt_is_kept_whole(self) -> None:
        """A string system prompt is the text, unchanged."""
        assert system_text("You are terse.") == "You are terse."

    def test_text_blocks_are_joined_by_newlines(self) -> None:
        """A list of text blocks (e.g. with cache_control) becomes one text."""
        blocks = [
            {"type": "text", "text": "Rule one.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Rule two."},
        ]
        assert system_text(blocks) == "Rule one.\nRule two."

    def test_pydantic_text_blocks_are_read_too(self) -> None:
        """Blocks given as SDK objects are read like dicts."""
        assert system_text([TextBlock(type="text", text="From a model.")]) == "From a model."

    def test_absent_system_is_none(self) -> None:
        """No system argument (or the SDK's omit marker) gives null, not an empty string."""
        assert system_text(None) is None
        assert system_text(anthropic.omit) is None


class TestMessages:
    def test_plain_messages_are_kept_as_sent(self) -> None:
        """Role and content (string or blocks) pass through unchanged."""
        messages = [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [{"type": "text", "text": "Hello"}]},
        ]
        assert messages_record(messages) == messages

    def test_result_is_a_new_container(self) -> None:
        """The record never shares lists or dicts with the app's conversation."""
        messages = [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
        recorded = messages_record(messages)
        assert recorded is not None
        recorded[0]["content"][0]["text"] = "changed"
        assert messages[0]["content"][0]["text"] == "Hi"

    def test_inline_base64_image_becomes_a_stub(self) -> None:
        """The image bytes are never recorded: type, mime, decoded size and sha256 instead."""
        image = {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64},
        }
        recorded = messages_record([{"role": "user", "content": [image, "x"]}])
        assert recorded is not None
        raw = base64.b64decode(PNG_B64)
        assert recorded[0]["content"][0] == {
            "type": "image",
            "mime": "image/png",
            "bytes": len(raw),
            "sha256": hashlib.sha256(raw).hexdigest(),
        }
        assert PNG_B64 not in orjson.dumps(recorded).decode()

    def test_inline_pdf_inside_a_tool_result_becomes_a_stub(self) -> None:
        """Media nested in tool results is found too."""
        document = {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
        }
        tool_result = {"type": "tool_result", "tool_use_id": "t1", "content": [document]}
        recorded = messages_record([{"role": "user", "content": [tool_result]}])
        assert recorded is not None
        stub = recorded[0]["content"][0]["content"][0]
        assert stub["type"] == "document"
        assert stub["mime"] == "application/pdf"
        assert stub["bytes"] == len(b"%PDF-")

    def test_a_stubbed_document_keeps_what_the_model_reads_besides_the_bytes(self) -> None:
        """``title``, ``context``, ``citations`` and ``cache_control`` stay (the model
        reads them; two prompts differing there must not look the same)."""
        document = {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
            "title": "Q3 contract",
            "context": "clause 4 is void",
            "citations": {"enabled": True},
            "cache_control": {"type": "ephemeral"},
        }
        recorded = messages_record([{"role": "user", "content": [document]}])
        assert recorded is not None
        stub = recorded[0]["content"][0]
        assert stub["title"] == "Q3 contract" and stub["context"] == "clause 4 is void"
        assert stub["citations"] == {"enabled": True}
        assert stub["cache_control"] == {"type": "ephemeral"}
        assert (stub["type"], stub["mime"], stub["bytes"]) == ("document", "application/pdf", 5)
        assert "source" not in stub

    def test_media_given_as_a_file_is_described_not_read(self) -> None:
        """A file object is left unread (its position is the SDK's business)."""
        handle = io.BytesIO(b"\x89PNG")
        image = {"type": "image", "source": {"type": "base64", "media_type": "image/png"}}
        image["source"]["data"] = handle  # type: ignore[index]
        recorded = messages_record([{"role": "user", "content": [image]}])
        assert recorded is not None
        assert recorded[0]["content"][0]["bytes"] is None
        assert handle.tell() == 0

    def test_media_given_as_a_path_or_named_file_keeps_its_name(self, tmp_path: Path) -> None:
        """Unread as above, but two files sent are told apart by their names (no folders:
        those may name the user)."""
        chart = tmp_path / "chart.png"
        chart.write_bytes(b"\x89PNG")
        with chart.open("rb") as opened:
            recorded = messages_record(
                [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image", "source": {"type": "base64", "data": data}}
                            for data in (chart, opened)
                        ],
                    }
                ]
            )
            assert opened.tell() == 0
        assert recorded is not None
        assert [block.get("name") for block in recorded[0]["content"]] == ["chart.png"] * 2

    def test_url_images_are_kept(self) -> None:
        """An image by URL carries no bytes and stays as sent."""
        image = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
        assert messages_record([{"role": "user", "content": [image]}]) == [
            {"role": "user", "content": [image]}
        ]

    def test_response_blocks_passed_back_are_dumped_to_plain_data(self) -> None:
        """Apps pass ``response.content`` (SDK objects) back as the assistant turn."""
        blocks = [TextBlock(type="text", text="Earlier answer")]
        recorded = messages_record([{"role": "assistant", "content": blocks}])
        assert recorded == [
            {"role": "assistant", "content": [{"type": "text", "text": "Earlier answer"}]}
        ]

    def test_messages_from_a_consumed_iterator_are_unknown(self) -> None:
        """A generator was used up by the SDK; the record says null rather than guessing."""
        assert messages_record(iter([{"role": "user", "content": "x"}])) is None


class TestParams:
    def test_prompt_model_and_sentinels_are_not_params(self) -> None:
        """Params are everything else the app chose; unset arguments are left out."""
        kwargs = {
            "model": "m",
            "messages": [],
            "system": "s",
            "stream": True,
            "max_tokens": 100,
            "metadata": {"user_id": "u1"},
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "tool_choice": {"type": "auto"},
            "tools": [{"name": "t", "input_schema": {"type": "object"}}],
            "stop_sequences": anthropic.omit,
            "timeout": anthropic.not_given,
        }
        assert params_record(kwargs) == {
            "max_tokens": 100,
            "metadata": {"user_id": "u1"},
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "tool_choice": {"type": "auto"},
            "tools": [{"name": "t", "input_schema": {"type": "object"}}],
        }

    def test_an_explicit_none_is_kept_as_the_null_the_sdk_sends(self) -> None:
        """``container=None`` goes out as ``"container": null``; the record says so too."""
        params = params_record({"max_tokens": 5, "container": None, "speed": None})
        assert params == {"max_tokens": 5, "container": None, "speed": None}

    def test_output_format_type_is_named(self) -> None:
        """``parse(output_format=Model)`` records the type's name and the JSON schema the
        SDK sends for it (as OpenAI's ``response_format`` does)."""

        class Answer(pydantic.BaseModel):
            value: int

        params = params_record({"output_format": Answer})
        assert params["output_format"]["class"].endswith("Answer")
        assert params["output_format"]["json_schema"]["additionalProperties"] is False

    def test_timeout_objects_become_text(self) -> None:
        """Non-JSON leaves are written as their short repr, so the record always renders."""
        params = params_record({"timeout": httpx2.Timeout(5.0)})
        assert "5.0" in params["timeout"]
        orjson.dumps(params)


class TestHeaders:
    def test_credentials_never_reach_the_record(self) -> None:
        """Auth, key and token headers are dropped whatever their case."""
        headers = {
            "X-Api-Key": "sk-ant-secret",
            "Authorization": "Bearer t",
            "anthropic-beta": "tools-2024",
            "X-Auth-Token": "t",
            "X-Session": "s",
            "X-Db-Pwd": "p",
        }
        assert params_record({"extra_headers": headers}) == {
            "extra_headers": {"anthropic-beta": "tools-2024"}
        }

    def test_sdk_plumbing_headers_are_dropped(self) -> None:
        """The raw-response wrappers' headers (one holds a class) are not the app's params."""
        headers = {"X-Stainless-Raw-Response": "raw", "____stainless_override_cast_to": object}
        assert params_record({"extra_headers": headers}) == {}

    def test_extra_headers_param_left_out_when_nothing_remains(self) -> None:
        """No empty ``extra_headers: {}`` in params after filtering."""
        assert params_record({"extra_headers": {"x-api-key": "k"}}) == {}


class TestPlain:
    def test_bytes_become_a_stub(self) -> None:
        """Binary values are summarized like media."""
        stub = plain(b"abc")
        assert stub["bytes"] == 3
        assert stub["type"] == "binary"

    def test_long_reprs_are_cut(self) -> None:
        """An odd object never floods the record."""

        class Odd:
            def __repr__(self) -> str:
                return "x" * 1000

        assert len(plain(Odd())) < 300


class TestBatches:
    def test_shared_model_and_count_without_prompts(self) -> None:
        """A batch records how many requests and their model, not every prompt."""
        requests = [
            {"custom_id": str(i), "params": {"model": "m1", "max_tokens": 5, "messages": []}}
            for i in range(3)
        ]
        assert batch_request_summary(requests) == ("m1", {"requests": 3})

    def test_mixed_models_leave_model_null(self) -> None:
        """No single model to name: null, never a pick."""
        requests = [{"params": {"model": "m1"}}, {"params": {"model": "m2"}}]
        assert batch_request_summary(requests) == (None, {"requests": 2})
