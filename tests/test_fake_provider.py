"""The fake provider, driven by the real OpenAI and Anthropic SDKs over loopback."""

from __future__ import annotations

import base64
import json
import struct
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from llmlog.fake_provider import FakeProvider, start_server

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
CHAT_TOOLS: Any = [
    {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA}}
]
ANTHROPIC_TOOLS: Any = [
    {"name": "get_weather", "description": "Weather now", "input_schema": WEATHER_SCHEMA}
]
CLAUDE = "claude-haiku-4-5"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with start_server() as server:
        yield server


@pytest.fixture
def oai(fake: FakeProvider) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{fake.url}/v1", api_key="fake")


@pytest.fixture
def claude(fake: FakeProvider) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=fake.url, api_key="fake")


def user(text: str) -> Any:
    return [{"role": "user", "content": text}]


class TestChatCompletions:
    def test_answer_is_derived_from_the_prompt_and_repeatable(self, oai: openai.OpenAI) -> None:
        """The same prompt gets the same text; the text quotes the prompt."""
        first = oai.chat.completions.create(model="gpt-4o-mini", messages=user("Hi Bob"))
        second = oai.chat.completions.create(model="gpt-4o-mini", messages=user("Hi Bob"))
        assert first.choices[0].message.content == second.choices[0].message.content
        assert "Hi Bob" in (first.choices[0].message.content or "")
        assert first.id != second.id

    def test_usage_counts_the_system_prompt_as_cached(self, oai: openai.OpenAI) -> None:
        """cached_tokens is the system prompt's share of prompt_tokens."""
        messages: Any = [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello"},
        ]
        reply = oai.chat.completions.create(model="gpt-4o-mini", messages=messages)
        assert reply.usage is not None and reply.usage.prompt_tokens_details is not None
        assert reply.usage.prompt_tokens == 4
        assert reply.usage.prompt_tokens_details.cached_tokens == 3
        assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens

    def test_request_id_header_and_dated_model(self, oai: openai.OpenAI) -> None:
        """The SDK finds an x-request-id; the reported model is a dated snapshot."""
        reply = oai.chat.completions.create(model="gpt-4o-mini", messages=user("x"))
        assert reply._request_id and reply._request_id.startswith("req_")
        assert reply.model == "gpt-4o-mini-2025-01-01"

    def test_stream_with_include_usage_ends_with_a_usage_chunk(self, oai: openai.OpenAI) -> None:
        """Text arrives in pieces; the last chunk has no choices and carries usage."""
        chunks = list(
            oai.chat.completions.create(
                model="gpt-4o-mini",
                messages=user("Hi"),
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert "Hi" in text
        assert chunks[-1].choices == [] and chunks[-1].usage is not None
        assert chunks[-2].choices[0].finish_reason == "stop"

    def test_stream_without_include_usage_has_no_usage(self, oai: openai.OpenAI) -> None:
        """Like the real API, usage is only sent when asked for."""
        chunks = list(oai.chat.completions.create(model="m", messages=user("Hi"), stream=True))
        assert all(c.usage is None and c.choices for c in chunks)

    def test_tool_call_when_the_prompt_asks_for_one(self, oai: openai.OpenAI) -> None:
        """Offered tools and asked to use one, the model calls it with schema-shaped args."""
        reply = oai.chat.completions.create(
            model="gpt-4o-mini", messages=user("Weather in Paris? Use the tool."), tools=CHAT_TOOLS
        )
        choice = reply.choices[0]
        assert choice.finish_reason == "tool_calls"
        assert choice.message.tool_calls is not None
        call: Any = choice.message.tool_calls[0]
        assert call.function.name == "get_weather"
        assert json.loads(call.function.arguments) == {"city": "Paris"}

    def test_streamed_tool_call_assembles_in_the_sdk_helper(self, oai: openai.OpenAI) -> None:
        """The stream helper rebuilds the call from argument fragments."""
        with oai.chat.completions.stream(
            model="gpt-4o-mini", messages=user("call get_weather for Oslo"), tools=CHAT_TOOLS
        ) as stream:
            final = stream.get_final_completion()
        calls: Any = final.choices[0].message.tool_calls
        assert json.loads(calls[0].function.arguments) == {"city": "Oslo"}

    def test_tool_result_is_answered_in_text(self, oai: openai.OpenAI) -> None:
        """After a tool message, the reply quotes the tool's result."""
        messages: Any = [
            {"role": "user", "content": "Weather in Paris? Use the tool."},
            {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21C"},
        ]
        reply = oai.chat.completions.create(model="m", messages=messages, tools=CHAT_TOOLS)
        assert "Sunny, 21C" in (reply.choices[0].message.content or "")

    def test_max_tokens_truncates_with_finish_reason_length(self, oai: openai.OpenAI) -> None:
        """A small max_completion_tokens cuts the answer like a real model."""
        reply = oai.chat.completions.create(model="m", messages=user("Hi"), max_completion_tokens=3)
        assert reply.choices[0].finish_reason == "length"
        assert reply.usage is not None and reply.usage.completion_tokens == 3


class TestOpenAIOtherEndpoints:
    def test_responses_plain(self, oai: openai.OpenAI) -> None:
        """output_text and usage with cached instructions."""
        reply = oai.responses.create(model="gpt-4.1", input="Tell a joke", instructions="Be fun.")
        assert "Tell a joke" in reply.output_text
        assert reply.usage is not None and reply.usage.input_tokens_details.cached_tokens == 3

    def test_responses_stream_ends_with_completed(self, oai: openai.OpenAI) -> None:
        """Typed events, numbered in order, end in response.completed with usage."""
        events = list(oai.responses.create(model="gpt-4.1", input="Tell a joke", stream=True))
        assert events[0].type == "response.created"
        assert events[-1].type == "response.completed"
        assert [e.sequence_number for e in events] == list(range(len(events)))
        final: Any = events[-1]
        assert final.response.usage.output_tokens > 0

    def test_responses_stream_helper_and_function_call(self, oai: openai.OpenAI) -> None:
        """The SDK's stream helper accepts the events and rebuilds a function call."""
        tools: Any = [{"type": "function", "name": "get_weather", "parameters": WEATHER_SCHEMA}]
        with oai.responses.stream(
            model="gpt-4.1", input="Use the tool for Rome", tools=tools
        ) as stream:
            final = stream.get_final_response()
        call: Any = final.output[0]
        assert call.type == "function_call" and json.loads(call.arguments) == {"city": "Rome"}

    def test_embeddings_float_and_base64_agree(self, oai: openai.OpenAI) -> None:
        """base64 (float32, little-endian) holds the same vector the float format sends."""
        floats = oai.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
        packed = oai.embeddings.create(
            model="text-embedding-3-small", input=["a", "b"], encoding_format="base64"
        )
        assert len(floats.data) == 2 and len(floats.data[0].embedding) == 8
        raw = base64.b64decode(str(packed.data[0].embedding))
        unpacked = struct.unpack(f"<{len(raw) // 4}f", raw)
        assert list(unpacked) == pytest.approx(floats.data[0].embedding, abs=1e-6)

    def test_legacy_completions_plain_and_stream(self, oai: openai.OpenAI) -> None:
        """Streamed pieces join to the plain answer."""
        plain = oai.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say hi")
        pieces = oai.completions.create(
            model="gpt-3.5-turbo-instruct", prompt="Say hi", stream=True
        )
        assert "".join(p.choices[0].text for p in pieces) == plain.choices[0].text


class TestOpenAIErrors:
    @pytest.mark.parametrize(
        ("model", "error"),
        [("fake-error", openai.InternalServerError), ("fake-rate-limit", openai.RateLimitError)],
    )
    def test_error_models_fail_at_once_in_openai_shape(
        self, oai: openai.OpenAI, model: str, error: type[openai.APIStatusError]
    ) -> None:
        """The SDK raises the matching error with a request id, without retrying."""
        with pytest.raises(error) as caught:
            oai.chat.completions.create(model=model, messages=user("x"))
        assert caught.value.request_id
        assert isinstance(caught.value.body, dict) and "message" in caught.value.body

    def test_error_is_not_retried(self, fake: FakeProvider, oai: openai.OpenAI) -> None:
        """x-should-retry: false means one HTTP attempt even with retries configured."""
        count = len(fake.requests)
        with pytest.raises(openai.InternalServerError):
            oai.with_options(max_retries=3).chat.completions.create(
                model="fake-error", messages=user("x")
            )
        assert len(fake.requests) == count + 1

    def test_stream_error_breaks_off_mid_stream(self, oai: openai.OpenAI) -> None:
        """fake-stream-error yields some text, then the SDK raises APIError."""
        received: list[str] = []
        stream = oai.chat.completions.create(
            model="fake-stream-error", messages=user("x"), stream=True
        )
        with pytest.raises(openai.APIError, match="mid-stream"):
            for chunk in stream:
                received.append(chunk.choices[0].delta.content or "")
        assert "".join(received)


class TestAnthropicMessages:
    def test_plain_message_with_cache_read(self, claude: anthropic.Anthropic) -> None:
        """A system prompt marked cache_control is a cache read, counted apart from
        input_tokens."""
        system: Any = [{"type": "text", "text": "Be nice.", "cache_control": {"type": "ephemeral"}}]
        reply = claude.messages.create(
            model=CLAUDE, max_tokens=100, system=system, messages=user("Hello Claude")
        )
        block: Any = reply.content[0]
        assert "Hello Claude" in block.text
        assert reply.usage.cache_read_input_tokens == 3
        assert reply.usage.input_tokens == 2
        assert reply._request_id and reply._request_id.startswith("req_")
        assert reply.stop_reason == "end_turn"

    def test_nothing_is_read_from_the_cache_unless_the_request_marks_it(
        self, claude: anthropic.Anthropic
    ) -> None:
        """As Anthropic does: a plain system prompt is all input; any cache_control mark
        (here on a message block) makes the system prompt a cache read."""
        plain = claude.messages.create(
            model=CLAUDE, max_tokens=100, system="Be nice.", messages=user("Hello Claude")
        )
        assert (plain.usage.cache_read_input_tokens, plain.usage.input_tokens) == (0, 5)
        marked: Any = [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Hello Claude", "cache_control": {"type": "ephemeral"}}
                ],
            }
        ]
        reply = claude.messages.create(
            model=CLAUDE, max_tokens=100, system="Be nice.", messages=marked
        )
        assert (reply.usage.cache_read_input_tokens, reply.usage.input_tokens) == (3, 2)

    def test_stream_helper_with_thinking(self, claude: anthropic.Anthropic) -> None:
        """message_start..message_stop events accumulate into a thinking + text message."""
        with claude.messages.stream(
            model=CLAUDE,
            max_tokens=100,
            messages=user("Hello"),
            thinking={"type": "enabled", "budget_tokens": 1024},
        ) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        assert [b.type for b in final.content] == ["thinking", "text"]
        assert "Hello" in text
        assert final.usage.output_tokens > 1

    def test_tool_use_streams_as_input_json_deltas(self, claude: anthropic.Anthropic) -> None:
        """The helper parses partial JSON into the tool_use input."""
        with claude.messages.stream(
            model=CLAUDE,
            max_tokens=100,
            tools=ANTHROPIC_TOOLS,
            messages=user("Weather in Berlin? Use the tool."),
        ) as stream:
            final = stream.get_final_message()
        block: Any = final.content[0]
        assert final.stop_reason == "tool_use"
        assert block.type == "tool_use" and block.input == {"city": "Berlin"}

    def test_tool_result_is_answered(self, claude: anthropic.Anthropic) -> None:
        """A tool_result block gets a text answer quoting it."""
        messages: Any = [
            *user("Weather in Berlin? Use the tool."),
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "get_weather", "input": {}}],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "Rain"}],
            },
        ]
        reply = claude.messages.create(
            model=CLAUDE, max_tokens=100, tools=ANTHROPIC_TOOLS, messages=messages
        )
        block: Any = reply.content[0]
        assert "Rain" in block.text

    def test_count_tokens(self, claude: anthropic.Anthropic) -> None:
        """count_tokens uses the same counting as usage."""
        counted = claude.messages.count_tokens(model=CLAUDE, messages=user("Hello Claude"))
        assert counted.input_tokens == 2

    def test_error_model_in_anthropic_shape(self, claude: anthropic.Anthropic) -> None:
        """fake-rate-limit raises RateLimitError with Anthropic's error body."""
        with pytest.raises(anthropic.RateLimitError) as caught:
            claude.messages.create(model="fake-rate-limit", max_tokens=5, messages=user("x"))
        body: Any = caught.value.body
        assert body["error"]["type"] == "rate_limit_error"

    def test_stream_error_event(self, claude: anthropic.Anthropic) -> None:
        """An `error` event mid-stream makes the SDK raise."""
        stream = claude.messages.create(
            model="fake-stream-error", max_tokens=100, messages=user("x"), stream=True
        )
        with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
            for _ in stream:
                pass


class TestAsyncClients:
    async def test_async_openai_stream(self, fake: FakeProvider) -> None:
        """AsyncOpenAI streams from the same server."""
        client = openai.AsyncOpenAI(base_url=f"{fake.url}/v1", api_key="fake")
        stream = await client.chat.completions.create(model="m", messages=user("Hi"), stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream])
        assert "Hi" in text

    async def test_async_anthropic(self, fake: FakeProvider) -> None:
        """AsyncAnthropic gets a message."""
        client = anthropic.AsyncAnthropic(base_url=fake.url, api_key="fake")
        reply = await client.messages.create(model=CLAUDE, max_tokens=50, messages=user("Hi"))
        assert reply.stop_reason == "end_turn"


class TestServer:
    def test_unknown_path_is_a_404_in_openai_shape(self, fake: FakeProvider) -> None:
        """Unknown routes answer with a JSON error, not a crash."""
        request = urllib.request.Request(f"{fake.url}/v1/nope", data=b"{}", method="POST")
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=5)
        assert caught.value.code == 404
        assert "error" in json.loads(caught.value.read())

    def test_env_points_both_sdks_at_the_server(self, fake: FakeProvider) -> None:
        """The SDKs pick base URL and key from fake.env() alone."""
        client = openai.OpenAI(
            base_url=fake.env()["OPENAI_BASE_URL"], api_key=fake.env()["OPENAI_API_KEY"]
        )
        assert client.embeddings.create(model="e", input="x").data

    def test_env_gets_past_a_proxy_set_in_the_environment(
        self, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With HTTP(S)_PROXY set (to nothing listening), fake.env()'s NO_PROXY keeps the
        SDKs' loopback calls direct; NO_PROXY entries already there are kept."""
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, "http://127.0.0.1:9")  # discard port: refused
        monkeypatch.setenv("NO_PROXY", "corp.example")
        monkeypatch.delenv("no_proxy", raising=False)
        env = fake.env()
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        assert env["NO_PROXY"] == env["no_proxy"] == "corp.example,127.0.0.1,localhost"
        answer = openai.OpenAI(max_retries=0).embeddings.create(model="e", input="x")
        assert answer.data
        message = anthropic.Anthropic(max_retries=0).messages.create(
            model=CLAUDE, max_tokens=5, messages=user("hi")
        )
        assert message.content

    def test_requests_are_recorded_as_sent(self, fake: FakeProvider, oai: openai.OpenAI) -> None:
        """fake.requests shows the JSON body the server received."""
        oai.chat.completions.create(model="gpt-4o-mini", messages=user("record me"))
        path, body = fake.requests[-1]
        assert path == "/chat/completions" and body["messages"] == user("record me")

    def test_close_releases_the_port(self) -> None:
        """After close(), connecting fails."""
        server = start_server()
        url = server.url
        server.close()
        with pytest.raises(OSError):
            urllib.request.urlopen(url, timeout=2)

    def test_cli_serves_until_terminated(self) -> None:
        """`llmlog fake-provider --port 0` prints the env to use and serves."""
        child = subprocess.Popen(
            [sys.executable, "-m", "llmlog.fake_provider", "--port", "0", "--quiet"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None
            banner = child.stdout.readline()
            url = banner.split("listening on ")[1].split()[0]
            with urllib.request.urlopen(url, timeout=5) as reply:
                assert "routes" in json.loads(reply.read())
        finally:
            child.terminate()
            child.wait(timeout=10)

    @pytest.mark.parametrize(
        ("argv", "flag", "allowed"),
        [
            (["--port", "99999"], "--port", "0 to 65535"),
            (["--port", "-1"], "--port", "0 to 65535"),
            (["--port", "0", "--ttft-ms", "-5"], "--ttft-ms", "from 0 to"),
            (["--port", "0", "--token-delay-ms", "-5"], "--token-delay-ms", "from 0 to"),
            (["--port", "0", "--ttft-ms", "nan"], "--ttft-ms", "from 0 to"),
            (["--port", "0", "--token-delay-ms", "1e300"], "--token-delay-ms", "from 0 to"),
        ],
    )
    def test_cli_refuses_a_port_or_delay_it_cannot_use(
        self, argv: list[str], flag: str, allowed: str
    ) -> None:
        """A port out of range or a negative delay is a usage error (exit 2) naming the flag
        and what it takes: not a traceback from bind, nor a server whose every request fails."""
        result = subprocess.run(
            [sys.executable, "-m", "llmlog.cli", "fake-provider", "--quiet", *argv],
            capture_output=True,
            text=True,
            timeout=20,  # before the fix, a bad delay started a server that never ended
        )
        assert result.returncode == 2
        assert f"argument {flag}:" in result.stderr and allowed in result.stderr
        assert "Traceback" not in result.stderr and "listening" not in result.stdout

    @pytest.mark.parametrize(
        "delays", [{"ttft": -0.005}, {"token_delay": float("nan")}, {"ttft": 1e12}]
    )
    def test_start_server_refuses_a_delay_no_request_could_wait(
        self, delays: dict[str, float]
    ) -> None:
        """start_server(ttft=-0.005) fails at once rather than serving errors."""
        with pytest.raises(ValueError, match="from 0 to 3600 seconds"):
            start_server(**delays).close()
