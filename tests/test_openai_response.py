"""OpenAI responses -> output, usage, ids (pure readers over SDK models and decoded JSON)."""

from __future__ import annotations

import base64
import json

import pytest
from openai.types import CreateEmbeddingResponse, ImagesResponse
from openai.types.chat import ChatCompletion
from openai.types.responses import Response

import openai_fakes as fakes
from llmlog.instrumentors import _openai_other_replies as other
from llmlog.instrumentors import _openai_response as response
from llmlog.instrumentors import _openai_usage as openai_usage

CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
}


class TestChat:
    @pytest.mark.parametrize("as_model", [True, False], ids=["sdk-model", "json-dict"])
    def test_text_usage_and_ids(self, as_model: bool) -> None:
        """Text, finish reason, ids and usage read the same from a model or its JSON."""
        body = fakes.chat_completion("Hi!")
        reply = response.read_chat(ChatCompletion.model_validate(body) if as_model else body)
        assert reply["response_id"] == fakes.CHAT_ID
        assert reply["response_model"] == fakes.SERVED_MODEL
        assert reply["output"] == {
            "text": "Hi!",
            "tool_calls": [],
            "finish_reason": "stop",
            "refusal": None,
            "parsed": None,
            "system_fingerprint": "fp_fake",
        }
        assert reply["usage"]["input_tokens"] == 20
        assert reply["usage"]["raw"]["prompt_tokens_details"]["cached_tokens"] == 8

    def test_usage_is_normalized_with_cached_tokens_included_in_input(self) -> None:
        """input_tokens = prompt_tokens (cached included); cached, writes, reasoning split out."""
        body = fakes.chat_completion()
        body["usage"]["prompt_tokens_details"]["cache_write_tokens"] = 3
        usage = response.read_chat(ChatCompletion.model_validate(body))["usage"]
        assert {k: v for k, v in usage.items() if k != "raw"} == {
            "input_tokens": 20,
            "output_tokens": 5,
            "cached_input_tokens": 8,
            "cache_write_tokens": 3,
            "reasoning_tokens": 2,
            "total_tokens": 25,
        }

    def test_reasoning_counted_apart_from_the_answer_is_added_to_output(self) -> None:
        """xAI counts reasoning outside ``completion_tokens`` (its total says so): the
        record's ``output_tokens`` holds both, as OpenAI's does, so cost bills both."""
        body = fakes.chat_completion()
        body["usage"] = {
            "prompt_tokens": 1000,
            "completion_tokens": 10,
            "total_tokens": 3010,
            "completion_tokens_details": {"reasoning_tokens": 2000},
        }
        usage = response.read_chat(ChatCompletion.model_validate(body))["usage"]
        assert (usage["output_tokens"], usage["reasoning_tokens"]) == (2010, 2000)
        assert usage["total_tokens"] == 3010
        body["usage"]["total_tokens"] = 1010  # OpenAI's way: reasoning inside the answer's
        body["usage"]["completion_tokens_details"]["reasoning_tokens"] = 8
        usage = response.read_chat(body)["usage"]
        assert (usage["output_tokens"], usage["reasoning_tokens"]) == (10, 8)

    def test_counts_no_server_means_are_null(self) -> None:
        """A negative count, or one past 64 bits (written as a string by the renderer),
        would break the schema and price nonsense: null, the raw usage keeps it."""
        body = fakes.chat_completion()
        body["usage"] = {"prompt_tokens": -3, "completion_tokens": 1 << 70, "total_tokens": 5}
        usage = response.read_chat(body)["usage"]
        assert (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"]) == (
            None,
            None,
            5,
        )
        assert usage["raw"]["completion_tokens"] == 1 << 70

    def test_cached_tokens_said_at_the_top_are_read(self) -> None:
        """Databricks says ``cache_read_input_tokens`` beside ``prompt_tokens``."""
        body = fakes.chat_completion()
        body["usage"] = {"prompt_tokens": 100, "completion_tokens": 1, "total_tokens": 101}
        body["usage"]["cache_read_input_tokens"] = 90
        for answer in (body, ChatCompletion.model_validate(body)):
            assert response.read_chat(answer)["usage"]["cached_input_tokens"] == 90

    def test_tool_calls_are_flat(self) -> None:
        """Tool calls are {id, type, name, arguments}."""
        body = fakes.chat_completion(None, tool_calls=[CALL], finish_reason="tool_calls")
        output = response.read_chat(ChatCompletion.model_validate(body))["output"]
        assert output["tool_calls"] == [
            {"id": "call_1", "type": "function", "name": "weather", "arguments": '{"city":"Oslo"}'}
        ]
        assert output["text"] is None and output["finish_reason"] == "tool_calls"

    def test_refusal(self) -> None:
        """A refusal is its own output field."""
        body = fakes.chat_completion(None, refusal="I can't help with that.")
        assert response.read_chat(body)["output"]["refusal"] == "I can't help with that."

    def test_several_choices_are_all_listed(self) -> None:
        """With n > 1, choice 0 is the output and every choice is listed under choices."""
        output = response.read_chat(fakes.chat_completion("x", n=2))["output"]
        assert output["text"] == "x" and len(output["choices"]) == 2

    def test_generated_audio_is_a_stub(self) -> None:
        """Audio output keeps the transcript; the base64 audio becomes a stub."""
        body = fakes.chat_completion(None)
        data = base64.b64encode(b"\x00" * 64).decode()
        body["choices"][0]["message"]["audio"] = {
            "id": "audio_1",
            "data": data,
            "transcript": "hello",
            "expires_at": 1,
        }
        audio = response.read_chat(ChatCompletion.model_validate(body))["output"]["audio"]
        assert audio["transcript"] == "hello" and audio["data"]["bytes"] == 64

    def test_missing_usage_is_null(self) -> None:
        """No usage in the response means usage None, not zeros."""
        body = fakes.chat_completion()
        del body["usage"]
        assert response.read_chat(body)["usage"] is None


class TestResponses:
    def test_text_reasoning_tool_calls_and_usage(self) -> None:
        """Output text, reasoning summary, function calls and Responses usage."""
        body = fakes.response_object("Done.", function_call=("call_9", "lookup", '{"q":1}'))
        reply = response.read_response(Response.model_validate(body))
        output = reply["output"]
        assert output["text"] == "Done."
        assert output["thinking"] == "thinking briefly"
        assert output["tool_calls"] == [
            {"id": "call_9", "type": "function", "name": "lookup", "arguments": '{"q":1}'}
        ]
        assert output["finish_reason"] == "completed"
        usage = reply["usage"]
        assert (
            usage["input_tokens"],
            usage["cached_input_tokens"],
            usage["cache_write_tokens"],
        ) == (
            30,
            10,
            4,
        )
        assert usage["reasoning_tokens"] == 3 and usage["total_tokens"] == 42

    def test_incomplete_reports_why(self) -> None:
        """An incomplete response's finish_reason is the reason (e.g. max_output_tokens)."""
        body = fakes.response_object(status="incomplete")
        assert response.read_response(body)["output"]["finish_reason"] == "max_output_tokens"

    def test_failed_response_is_an_error(self) -> None:
        """status=failed with an error object makes the record an error with that message."""
        body = fakes.response_object(status="failed")
        body["error"] = {"code": "server_error", "message": "boom"}
        reply = response.read_response(body)
        assert reply["status"] == "error"
        assert reply["error"]["type"] == "server_error" and reply["error"]["message"] == "boom"

    def test_failed_without_details_is_still_an_error(self) -> None:
        """status=failed with ``error: null``: the call failed all the same."""
        body = fakes.response_object(status="failed")
        body["error"] = None
        reply = response.read_response(Response.model_validate(body))
        assert reply["status"] == "error"
        assert (reply["error"]["type"], reply["error"]["message"]) == ("response.failed", None)

    def test_tool_results_are_never_copied(self) -> None:
        """Built-in tool calls are listed by id and type; their payloads (e.g. images) are not."""
        body = fakes.response_object()
        body["output"].append(
            {
                "id": "ig_1",
                "type": "image_generation_call",
                "status": "completed",
                "result": "QUJD" * 100,
            }
        )
        calls = response.read_response(body)["output"]["tool_calls"]
        assert calls == [
            {"id": "ig_1", "type": "image_generation_call", "name": None, "arguments": None}
        ]

    @pytest.mark.parametrize("as_model", [False, True])
    def test_what_the_model_asked_a_built_in_tool_to_do_is_kept(self, as_model: bool) -> None:
        """A computer action, a shell command, a patch, a search query, an MCP approval
        request: the call's arguments (what the app must carry out), never its results."""
        body = fakes.response_object()
        body["output"] += [
            {
                "type": "local_shell_call",
                "id": "ls_1",
                "call_id": "call_ls",
                "status": "completed",
                "action": {"type": "exec", "command": ["rm", "-rf", "/tmp/x"], "env": {}},
            },
            {
                "type": "web_search_call",
                "id": "ws_1",
                "status": "completed",
                "action": {"type": "search", "query": "weather paris"},
            },
            {
                "type": "mcp_approval_request",
                "id": "mcpr_1",
                "name": "delete_repo",
                "arguments": '{"repo":"x"}',
                "server_label": "gh",
            },
            {
                "type": "computer_call",
                "id": "cu_1",
                "call_id": "call_cu",
                "status": "completed",
                "pending_safety_checks": [],
                "actions": [{"type": "click", "button": "left", "x": 10, "y": 20}],
            },
            {
                "type": "tool_search_call",
                "id": "ts_1",
                "call_id": "call_ts",
                "status": "completed",
                "execution": "server",
                "arguments": {"query": "weather tools"},
            },
            {
                "type": "program",
                "id": "pg_1",
                "call_id": "call_pg",
                "code": "return await tools.get_weather({city: 'Paris'});",
                "fingerprint": "f",
            },
        ]
        reply = response.read_response(Response.model_validate(body) if as_model else body)
        shell, search, approval, computer, tool_search, program = reply["output"]["tool_calls"]
        assert computer["id"] == "call_cu"
        assert json.loads(computer["arguments"]) == {
            "actions": [{"type": "click", "button": "left", "x": 10, "y": 20}]
        }
        assert tool_search["arguments"] == '{"query":"weather tools"}'
        assert program["type"] == "program" and "tools.get_weather" in program["arguments"]
        assert shell["id"] == "call_ls" and '"command":["rm","-rf","/tmp/x"]' in shell["arguments"]
        assert search["type"] == "web_search_call" and "weather paris" in search["arguments"]
        assert approval == {
            "id": "mcpr_1",
            "type": "mcp_approval_request",
            "name": "delete_repo",
            "arguments": '{"repo":"x"}',
        }


class TestOtherOperations:
    def test_embeddings_count_and_dimensions_never_vectors(self) -> None:
        """Embeddings: how many and how long, usage; the vectors themselves never."""
        reply = other.read_embeddings(
            CreateEmbeddingResponse.model_validate(fakes.embedding_object(3, 16))
        )
        assert reply["output"]["embeddings"] == 3 and reply["output"]["dimensions"] == 16
        assert reply["usage"]["input_tokens"] == 7 and reply["usage"]["total_tokens"] == 7
        assert "0.5" not in repr(reply)

    def test_base64_embedding_dimensions(self) -> None:
        """encoding_format=base64 vectors are measured as float32 counts."""
        body = fakes.embedding_object(1, 4)
        body["data"][0]["embedding"] = base64.b64encode(b"\x00" * 16 * 4).decode()
        assert other.read_embeddings(body)["output"]["dimensions"] == 16

    def test_images_are_stubbed_and_revised_prompt_is_text(self) -> None:
        """Generated base64 images become stubs; the revised prompt is the text; usage read."""
        reply = other.read_images(ImagesResponse.model_validate(fakes.images_object()))
        assert reply["output"]["text"] == "a red cat, digital art"
        assert reply["output"]["images"][0]["b64_json"]["bytes"] == len(b"image-bytes")
        assert reply["usage"]["input_tokens"] == 50 and reply["usage"]["output_tokens"] == 100

    def test_transcript_text_and_token_usage(self) -> None:
        """Transcriptions: the text and token usage; a plain-text result works too."""
        reply = other.read_transcript(fakes.transcription_object())
        assert (
            reply["output"]["text"] == "hello from audio" and reply["usage"]["total_tokens"] == 18
        )
        assert other.read_transcript("plain text")["output"]["text"] == "plain text"

    def test_duration_billed_transcript_keeps_raw_usage_only(self) -> None:
        """Usage billed in seconds has no token counts; the raw usage is kept."""
        body = {"text": "x", "usage": {"type": "duration", "seconds": 3.5}}
        usage = other.read_transcript(body)["usage"]
        assert usage["input_tokens"] is None and usage["raw"] == {
            "type": "duration",
            "seconds": 3.5,
        }

    def test_moderation_flags(self) -> None:
        """Moderations: flagged and the flagged category names."""
        reply = other.read_moderation(fakes.moderation_object())
        assert reply["output"]["moderation"] == [{"flagged": True, "categories": ["violence"]}]
        assert reply["response_model"] == "omni-moderation-latest"


@pytest.mark.parametrize(
    "usage",
    [
        {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        {
            "prompt_tokens": 1,
            "completion_tokens": 2,
            "total_tokens": 3,
            "prompt_tokens_details": {"cached_tokens": 1, "audio_tokens": None},
            "completion_tokens_details": None,
        },
        {  # OpenRouter's and DeepSeek's own keys, one a nested object
            "prompt_tokens": 1,
            "completion_tokens": 2,
            "total_tokens": 3,
            "prompt_cache_hit_tokens": 4,
            "cost": 0.01,
            "is_byok": False,
            "cost_details": {"upstream_inference_cost": None},
        },
    ],
)
def test_raw_usage_is_what_the_sdk_would_dump(usage: dict[str, object]) -> None:
    """usage.raw is read from the model's fields (a fifth of model_dump's cost) and must be
    exactly what model_dump(mode="json", exclude_unset=True) gives: the keys as sent, nulls
    sent kept, undeclared keys kept, in the same order."""
    sent = ChatCompletion.model_validate(
        {"id": "c", "object": "chat.completion", "created": 1, "model": "m", "choices": []}
        | {"usage": usage}
    ).usage
    assert sent is not None
    expected = sent.model_dump(mode="json", exclude_unset=True, warnings=False)
    got = openai_usage.raw_usage(sent)
    assert json.dumps(got) == json.dumps(expected)
