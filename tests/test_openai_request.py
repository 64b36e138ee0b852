"""OpenAI request kwargs -> system, messages, params (pure functions, no client)."""

from __future__ import annotations

import base64
import hashlib
import io
from typing import Any

import openai
import pydantic
import pytest
from openai.types.chat import ChatCompletionMessage

from llmlog.instrumentors import _openai_request as request

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
PNG_B64 = base64.b64encode(PNG).decode()
IMAGE_PART = {"type": "image_url", "image_url": {"url": "https://example.com/logo.png"}}


class Answer(pydantic.BaseModel):
    city: str


class TestParams:
    def test_everything_but_prompt_model_and_stream(self) -> None:
        """params keeps every other argument; prompt, model and stream have their own fields."""
        kwargs = {
            "model": "gpt-4o",
            "messages": [{"role": "user", "content": "hi"}],
            "stream": True,
            "temperature": 0.3,
            "tools": [{"type": "function", "function": {"name": "f"}}],
            "extra_body": {"top_k": 5},
        }
        assert request.params(kwargs, "chat.completions") == {
            "temperature": 0.3,
            "tools": [{"type": "function", "function": {"name": "f"}}],
            "extra_body": {"top_k": 5},
        }

    def test_sentinels_are_left_out_at_every_depth(self) -> None:
        """NOT_GIVEN / Omit mean "not passed": they never appear in params."""
        kwargs = {
            "temperature": openai.NOT_GIVEN,
            "top_p": openai.omit,
            "metadata": {"a": "1", "b": openai.Omit()},
            "timeout": openai.NOT_GIVEN,
        }
        assert request.params(kwargs, "chat.completions") == {"metadata": {"a": "1"}}

    def test_explicit_none_is_kept(self) -> None:
        """An argument the app passed as None was passed; only empty extra_* are dropped."""
        kwargs = {"max_tokens": None, "extra_query": None}
        assert request.params(kwargs, "chat.completions") == {"max_tokens": None}

    def test_headers_never_carry_credentials_or_sdk_bookkeeping(self) -> None:
        """Authorization / api-key headers and X-Stainless-* are dropped; the app's own stay."""
        kwargs = {
            "extra_headers": {
                "Authorization": "Bearer sk-secret",
                "api-key": "azure-secret",
                "X-Stainless-Helper-Method": "chat.completions.parse",
                "X-Team": "search",
            }
        }
        assert request.params(kwargs, "chat.completions") == {"extra_headers": {"X-Team": "search"}}

    def test_pydantic_response_format_becomes_its_schema(self) -> None:
        """A response_format class is recorded as its name and JSON schema, not a repr."""
        params = request.params({"response_format": Answer}, "chat.completions")
        assert params["response_format"]["class"].endswith("Answer")
        assert params["response_format"]["json_schema"]["properties"] == {
            "city": {"title": "City", "type": "string"}
        }

    def test_responses_prompt_keys(self) -> None:
        """For Responses, input and instructions are the prompt."""
        kwargs = {"input": "hi", "instructions": "be brief", "max_output_tokens": 9}
        assert request.params(kwargs, "responses") == {"max_output_tokens": 9}

    def test_media_in_params_is_a_stub(self) -> None:
        """An image given as a prompt template's variable is never written out whole."""
        image = "data:image/png;base64," + "iVBORw0KGgo" * 40
        kwargs = {"input": "x", "prompt": {"id": "p", "variables": {"pic": {"image_url": image}}}}
        out = request.params(kwargs, "responses")
        stub = out["prompt"]["variables"]["pic"]["image_url"]
        assert (stub["type"], stub["mime"]) == ("image", "image/png")
        assert "iVBORw0KGgo" not in repr(out)


class TestChatPrompt:
    def test_leading_system_and_developer_messages_form_the_system_prompt(self) -> None:
        """Leading system/developer messages move to system; the conversation stays in order."""
        kwargs = {
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "developer", "content": [{"type": "text", "text": "Use metric."}]},
                {"role": "user", "content": "Weather?"},
                {"role": "developer", "content": "late note"},
            ]
        }
        system, messages = request.chat_prompt(kwargs)
        assert system == "You are terse.\n\nUse metric."
        assert messages == [
            {"role": "user", "content": "Weather?"},
            {"role": "developer", "content": "late note"},
        ]

    @pytest.mark.parametrize(
        "carries_more",
        [
            {"role": "system", "content": "Rules.", "name": "policy"},
            {"role": "developer", "content": [{"type": "text", "text": "Rules."}, IMAGE_PART]},
            {
                "role": "system",
                "content": [{"type": "text", "text": "Rules.", "cache_control": {"x": 1}}],
            },
        ],
    )
    def test_a_system_message_with_more_than_text_stays_whole_in_messages(
        self, carries_more: dict[str, Any]
    ) -> None:
        """A name, an image or a part's own settings would be lost in the text-only
        ``system``: that message, and those after it, stay in ``messages`` as sent."""
        later = {"role": "system", "content": "Later rules."}
        user = {"role": "user", "content": "Hi"}
        system, messages = request.chat_prompt({"messages": [carries_more, later, user]})
        assert system is None
        assert messages == [carries_more, later, user]

    def test_sdk_message_objects_are_recorded_as_data(self) -> None:
        """Apps pass the previous assistant message object back in; it is recorded as a dict."""
        previous = ChatCompletionMessage(role="assistant", content="Sunny.")
        _, messages = request.chat_prompt(
            {"messages": [previous, {"role": "user", "content": "More"}]}
        )
        assert messages == [
            {"role": "assistant", "content": "Sunny."},
            {"role": "user", "content": "More"},
        ]

    def test_tool_messages_keep_their_ids(self) -> None:
        """Tool calls and tool results keep the fields that tie them together."""
        call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        kwargs = {
            "messages": [
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call_1", "content": "42"},
            ]
        }
        _, messages = request.chat_prompt(kwargs)
        assert messages[0]["tool_calls"] == [call]
        assert messages[1] == {"role": "tool", "tool_call_id": "call_1", "content": "42"}


class TestMedia:
    def test_image_data_url_becomes_a_stub(self) -> None:
        """An inline image is replaced by {type, mime, bytes, sha256}; the base64 is gone."""
        part = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}}
        _, messages = request.chat_prompt({"messages": [{"role": "user", "content": [part]}]})
        url = messages[0]["content"][0]["image_url"]["url"]
        assert url == {
            "type": "image",
            "mime": "image/png",
            "bytes": len(PNG),
            "sha256": hashlib.sha256(PNG).hexdigest(),
        }
        assert PNG_B64 not in repr(messages)

    def test_words_that_start_with_a_data_url_are_kept(self) -> None:
        """A user's text that begins with a small data URL and goes on is their words."""
        text = "data:text/plain;base64,SGVsbG8gd29ybGQ= <- please decode this"
        part = {"type": "text", "text": text}
        _, messages = request.chat_prompt({"messages": [{"role": "user", "content": [part]}]})
        assert messages[0]["content"][0] == part

    def test_remote_image_url_is_kept(self) -> None:
        """An https image URL is not inline media: it stays as sent."""
        part = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
        _, messages = request.chat_prompt({"messages": [{"role": "user", "content": [part]}]})
        assert messages[0]["content"][0] == part

    def test_input_audio_becomes_a_stub_with_its_format(self) -> None:
        """Chat input_audio base64 (no data: prefix) is stubbed, with the mime from its format."""
        audio = base64.b64encode(b"RIFF" + b"\x01" * 200).decode()
        part = {"type": "input_audio", "input_audio": {"data": audio, "format": "wav"}}
        _, messages = request.chat_prompt({"messages": [{"role": "user", "content": [part]}]})
        stub = messages[0]["content"][0]["input_audio"]["data"]
        assert stub["type"] == "audio" and stub["mime"] == "audio/wav" and stub["bytes"] == 204

    def test_an_earlier_generated_image_passed_back_as_input_becomes_a_stub(self) -> None:
        """Apps feed ``response.output`` back as ``input``: an image_generation_call's
        ``result`` is raw base64 (no data: prefix) and must not be written out whole."""
        image = base64.b64encode(b"\x89PNG" + b"\x00" * 300).decode()
        item = {"type": "image_generation_call", "id": "ig_1", "status": "completed"}
        _, messages = request.responses_prompt({"input": [item | {"result": image}]})
        assert messages is not None
        stub = messages[0]["result"]
        assert (stub["type"], stub["bytes"]) == ("image", 304) and image not in str(messages)
        assert messages[0]["id"] == "ig_1"

    def test_responses_input_file_data_becomes_a_stub(self) -> None:
        """Responses input_file file_data (a PDF data URL) is stubbed; filename kept."""
        pdf = base64.b64encode(b"%PDF-1.7" + b"x" * 100).decode()
        item = {
            "role": "user",
            "content": [
                {
                    "type": "input_file",
                    "filename": "a.pdf",
                    "file_data": f"data:application/pdf;base64,{pdf}",
                }
            ],
        }
        _, messages = request.responses_prompt({"input": [item]})
        part = messages[0]["content"][0]
        assert part["filename"] == "a.pdf"
        assert (
            part["file_data"]["type"] == "file" and part["file_data"]["mime"] == "application/pdf"
        )

    def test_uploaded_files_are_stubbed_and_open_files_never_read(self) -> None:
        """Bytes uploads are hashed; an open file is named, not read (its position is the app's)."""
        handle = io.BytesIO(b"audio bytes")
        handle.name = "speech.mp3"
        messages = request.media_prompt(
            {"file": handle, "prompt": "names: Ana"}, "audio.transcriptions"
        )
        assert messages == [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "names: Ana"},
                    {"type": "file", "file": {"type": "file", "mime": None, "name": "speech.mp3"}},
                ],
            }
        ]
        assert handle.tell() == 0
        tuple_upload = request.file_stub(("cat.png", PNG, "image/png"))
        assert tuple_upload["bytes"] == len(PNG) and tuple_upload["name"] == "cat.png"


class TestResponsesPrompt:
    def test_instructions_and_leading_developer_items_are_the_system_prompt(self) -> None:
        """instructions first, then leading system/developer input items."""
        kwargs = {
            "instructions": "Be brief.",
            "input": [
                {"role": "developer", "content": "Answer in French."},
                {"role": "user", "content": [{"type": "input_text", "text": "Hello"}]},
            ],
        }
        system, messages = request.responses_prompt(kwargs)
        assert system == "Be brief.\n\nAnswer in French."
        assert messages == [{"role": "user", "content": [{"type": "input_text", "text": "Hello"}]}]

    def test_string_input_is_one_user_message(self) -> None:
        """input="..." is recorded as one user message."""
        assert request.responses_prompt({"input": "hi"}) == (
            None,
            [{"role": "user", "content": "hi"}],
        )

    def test_function_call_outputs_are_kept(self) -> None:
        """Non-message items (tool results) are recorded as sent."""
        item = {"type": "function_call_output", "call_id": "c1", "output": "42"}
        assert request.responses_prompt({"input": [item]})[1] == [item]


class TestTextsPrompt:
    def test_text_lists_and_token_arrays(self) -> None:
        """Each text is one user message; token arrays are recorded by length only."""
        assert request.texts_prompt(["a", "b"]) == [
            {"role": "user", "content": "a"},
            {"role": "user", "content": "b"},
        ]
        assert request.texts_prompt([1, 2, 3]) == [{"role": "user", "content": {"tokens": 3}}]
        assert request.texts_prompt([[1, 2], [3]]) == [
            {"role": "user", "content": {"tokens": 2}},
            {"role": "user", "content": {"tokens": 1}},
        ]
        assert request.texts_prompt(openai.NOT_GIVEN) is None
