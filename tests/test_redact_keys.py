"""Redaction by key: credential-named keys, dict keys of app data, app data inside messages.

Driven through the real OpenAI and Anthropic SDKs over ``httpx2.MockTransport``
where the shape matters (what the instrumentors put in the record), through the
``Redact`` processor for the rules themselves.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest

import anthropic_fakes as afake
import llmlog
import openai_fakes as ofake
from llmlog._config import Settings
from llmlog.redaction import Redact
from llmlog.testing import capture_records

OPAQUE = "Zq7pW2xR9tLm4Kv8"  # a credential in no known format: only its key gives it away
EMAIL = "alice.smith@example.com"
OPENAI_KEY = "sk-proj-A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0"


def redact(record: dict[str, Any], level: str = "secrets", **settings: Any) -> dict[str, Any]:
    return Redact(Settings(redact=level, **settings))(None, "info", record)


def one_line(cap: Any) -> tuple[dict[str, Any], str]:
    """The only record, and its JSON as written."""
    (record,) = cap.calls
    return record, json.dumps(record)


MESSAGES = [{"role": "user", "content": "hi"}]
GATEWAY_HEADERS = {
    "Helicone-Auth": f"Bearer {OPAQUE}",
    "cf-aig-authorization": f"Bearer {OPAQUE}",
    "x-portkey-api-key": OPAQUE,
    "X-Gateway-Token": OPAQUE,
    "Proxy-Password": OPAQUE,
    "X-Stainless-Helper-Method": "chat.completions.parse",
    "X-Request-Source": "nightly-batch",
}
GATEWAY_QUERY = {"api-key": OPAQUE, "access_token": OPAQUE, "sig": OPAQUE, "region": "eu"}


class TestTransportOptions:
    """Headers and query parameters named like credentials never reach the record, at any
    redaction level: a gateway's key is an opaque string no pattern recognises."""

    def _openai(self) -> None:
        client = ofake.sync_client(lambda _: ofake.json_response(ofake.chat_completion("ok")))
        client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers=GATEWAY_HEADERS,
            extra_query=GATEWAY_QUERY,
        )

    def _anthropic(self) -> None:
        client = afake.sync_client(afake.json_handler(afake.message("ok")))
        client.messages.create(
            model=afake.MODEL,
            max_tokens=10,
            messages=afake.user("hi"),
            extra_headers=GATEWAY_HEADERS,
            extra_query=GATEWAY_QUERY,
        )

    @pytest.mark.parametrize("provider", ["openai", "anthropic"])
    @pytest.mark.parametrize("level", ["off", "secrets"])
    def test_credential_named_options_are_left_out(self, provider: str, level: str) -> None:
        with capture_records(redact=level) as cap:
            getattr(self, f"_{provider}")()
        record, line = one_line(cap)
        assert OPAQUE not in line
        assert record["params"]["extra_headers"] == {"X-Request-Source": "nightly-batch"}
        assert record["params"]["extra_query"] == {"region": "eu"}
        assert record["redactions"] == {}


class TestCredentialKeys:
    def test_openai_params_named_as_credentials_are_redacted(self) -> None:
        """Body fields and metadata named like a credential lose their value, whatever it looks
        like (headers and query parameters so named are not recorded at all: see
        TestTransportOptions); ordinary params named with "key" or "tokens" stay."""
        client = ofake.sync_client(lambda _: ofake.json_response(ofake.chat_completion("ok")))
        with capture_records(redact="secrets") as cap:
            client.chat.completions.create(
                model="gpt-4o",
                messages=[{"role": "user", "content": "hi"}],
                max_tokens=10,
                prompt_cache_key="cache-group-42",
                extra_headers={
                    "x-portkey-api-key": OPAQUE + "a",
                    "X-Auth-Token": OPAQUE + "b",
                    "x-goog-api-key": OPAQUE + "c",
                    "X-Request-Source": "nightly-batch",
                },
                extra_query={"api-key": OPAQUE + "d", "subscription-key": OPAQUE + "e"},
                metadata={"password": OPAQUE + "f", "key": "plain-value", "tier": "gold"},
                extra_body={"x_api_key": OPAQUE + "g", "idempotency_key": "idem-123"},
            )
        record, line = one_line(cap)
        assert OPAQUE not in line
        params = record["params"]
        assert params["extra_headers"] == {"X-Request-Source": "nightly-batch"}
        assert "extra_query" not in params
        assert params["metadata"] == {"password": "<SECRET>", "key": "plain-value", "tier": "gold"}
        assert (params["x_api_key"], params["idempotency_key"]) == ("<SECRET>", "idem-123")
        assert params["max_tokens"] == 10
        assert params["prompt_cache_key"] == "cache-group-42"
        assert record["redactions"] == {"SECRET": 2}
        assert record["usage"]["input_tokens"] == ofake.usage_chat()["prompt_tokens"]

    def test_anthropic_mcp_token_and_tool_input_password_are_redacted(self) -> None:
        """An MCP server's OAuth token in params and a password a tool was called with."""
        client = afake.sync_client(afake.json_handler(afake.message("ok")))
        with capture_records(redact="secrets") as cap:
            client.beta.messages.create(
                model=afake.MODEL,
                max_tokens=10,
                stop_sequences=["END"],
                betas=["mcp-client-2025-04-04"],
                mcp_servers=[
                    {
                        "type": "url",
                        "url": "https://mcp.example.com/sse",
                        "name": "ex",
                        "authorization_token": OPAQUE + "h",
                    }
                ],
                messages=[
                    {"role": "user", "content": "log me in"},
                    {
                        "role": "assistant",
                        "content": [
                            {
                                "type": "tool_use",
                                "id": "toolu_1",
                                "name": "login",
                                "input": {"username": "bob", "password": OPAQUE + "i"},
                            }
                        ],
                    },
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}
                        ],
                    },
                ],
            )
        record, line = one_line(cap)
        assert OPAQUE not in line
        server = record["params"]["mcp_servers"][0]
        assert server == {
            "type": "url",
            "url": "https://mcp.example.com/sse",
            "name": "ex",
            "authorization_token": "<SECRET>",
        }
        tool_use = record["messages"][1]["content"][0]
        assert tool_use == {
            "type": "tool_use",
            "id": "toolu_1",
            "name": "login",
            "input": {"username": "bob", "password": "<SECRET>"},
        }
        assert record["params"]["stop_sequences"] == ["END"]
        assert record["redactions"] == {"SECRET": 2}

    @pytest.mark.parametrize(
        "name",
        [
            "api_key",
            "X-API-KEY",
            "apiKey",
            "openai_api_key",
            "password",
            "db_passwd",
            "client_secret",
            "secret",
            "token",
            "access_token",
            "refreshToken",
            "session-token",
            "Authorization",
            "proxy_authorization",
            "private_key",
            "ocp-apim-subscription-key",
            "credentials",
            "Cookie",
            # plurals (a list of keys), the short words alone or as the last part
            "api_keys",
            "passwords",
            "secrets",
            "app_key",
            "license-key",
            "SENTRY_DSN",
            "pin",
            "card_pin",
            "CVV",
            "otp",
        ],
    )
    def test_credential_names(self, name: str) -> None:
        """A non-empty string under any of these names is a SECRET, at every level but off."""
        out = redact({"params": {"extra_body": {name: OPAQUE}}})
        assert out["params"]["extra_body"] == {name: "<SECRET>"}
        assert out["redactions"] == {"SECRET": 1}

    @pytest.mark.parametrize(
        "name",
        [
            "key",
            "max_tokens",
            "max_output_tokens",
            "input_tokens",
            "tokens",
            "prompt_cache_key",
            "idempotency_key",
            "top_k",
            "eos_token",
            "token_type",
            "password_hint",
            "bypass",
            "compass",
            "passes",
            "valid_tokens",
            "reasoning_tokens",
            "monkeys",
            "spin",
            "pinned",
            "topping",
        ],
    )
    def test_ordinary_names(self, name: str) -> None:
        """Keys that merely mention keys or tokens keep their value."""
        record = {"params": {"extra_body": {name: OPAQUE}}}
        out = redact(record)
        assert out["params"] == record["params"]
        assert out["redactions"] == {}

    @pytest.mark.parametrize("name", ["smtp_pass", "DB_PASS", "redis-pass"])
    def test_pass_names(self, name: str) -> None:
        """``*_PASS`` (``SMTP_PASS``) names a password as a key, as in a pasted .env."""
        out = redact({"params": {"extra_body": {name: OPAQUE}}})
        assert out["params"]["extra_body"] == {name: "<SECRET>"}
        assert out["redactions"] == {"SECRET": 1}

    @pytest.mark.parametrize("level", ["secrets", "pii"])
    def test_containers_under_credential_keys(self, level: str) -> None:
        """A list, tuple, set or dict under a credential key (or a credential header) has
        every text, number and object in it replaced, at any depth; None, empty texts and
        booleans stay; a dict's keys in app data are searched like any key."""
        record = {
            "params": {
                "extra_body": {
                    "password": [OPAQUE + "a", OPAQUE + "b"],
                    "api_key": {"value": OPAQUE + "c", "rotated": [None, "", True, 1234]},
                    "client_secret": (OPAQUE + "d",),
                    "credentials": {EMAIL: {OPAQUE + "e"}},
                    "tier": ["gold"],
                },
                "extra_headers": {"X-Auth": [OPAQUE + "f"], "X-Trace": ["abc"]},
            },
            "messages": [
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "tool_use",
                            "id": "toolu_1",
                            "name": "login",
                            "input": {"token": {"access": OPAQUE + "g"}},
                        }
                    ],
                }
            ],
        }
        out = redact(record, level=level)
        assert OPAQUE not in json.dumps(out)
        assert out["params"]["extra_body"] == {
            "password": ["<SECRET>", "<SECRET>"],
            "api_key": {"value": "<SECRET>", "rotated": [None, "", True, "<SECRET>"]},
            "client_secret": ("<SECRET>",),
            "credentials": {
                ("<EMAIL_ADDRESS>" if level == "pii" else EMAIL): ["<SECRET>"],
            },
            "tier": ["gold"],
        }
        assert out["params"]["extra_headers"] == {"X-Auth": ["<SECRET>"], "X-Trace": ["abc"]}
        assert out["messages"][0]["content"][0]["input"] == {"token": {"access": "<SECRET>"}}
        assert out["redactions"] == {"SECRET": 8} | ({"EMAIL_ADDRESS": 1} if level == "pii" else {})

    @pytest.mark.parametrize("provider", ["openai", "anthropic"])
    def test_a_tool_schema_naming_credential_fields_is_logged_as_sent(self, provider: str) -> None:
        """A tool's JSON Schema describes a ``new_password`` field, it holds none: logged as
        sent, no redaction counted (the record stays replayable). A value under such a name
        elsewhere in ``properties`` (not a schema node) is still a credential."""
        schema = {
            "type": "object",
            "properties": {
                "user": {"type": "string"},
                "new_password": {"type": "string", "minLength": 12},
                "session_token": {"$ref": "#/$defs/token"},
                "api_key": {"description": "the caller's key", "default": ""},
            },
            "$defs": {"token": {"type": "string"}, "secret": {"enum": ["a", "b"]}},
        }
        with capture_records(redact="secrets") as cap:
            if provider == "openai":
                client = ofake.sync_client(lambda _: ofake.json_response(ofake.chat_completion()))
                tool = {"type": "function", "function": {"name": "reset", "parameters": schema}}
                client.chat.completions.create(model="m", messages=MESSAGES, tools=[tool])
                logged = one_line(cap)[0]["params"]["tools"][0]["function"]["parameters"]
            else:
                client = afake.sync_client(afake.json_handler(afake.message()))
                tool = {"name": "reset", "input_schema": schema}
                client.messages.create(model="m", max_tokens=5, messages=afake.user(), tools=[tool])
                logged = one_line(cap)[0]["params"]["tools"][0]["input_schema"]
            assert logged == schema
            assert cap.calls[0]["redactions"] == {}
        metadata = {"properties": {"password": OPAQUE, "api_key": {"value": OPAQUE}}}
        out = redact({"params": {"metadata": metadata}})
        assert out["params"]["metadata"] == {
            "properties": {"password": "<SECRET>", "api_key": {"value": "<SECRET>"}}
        }

    def test_everywhere_in_the_record_and_with_every_operator(self) -> None:
        """Messages and output too; the replacement is the operator's, like any secret's."""
        record = {
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
            "output": {"text": "ok", "parsed": {"password": OPAQUE}},
            "error": {"type": "APIError", "body": {"token": OPAQUE}},
            "params": {"headers": {"x-auth-token": ""}, "metadata": {"secret": None}},
        }
        numbered = redact(record, redact_operator="numbered")
        assert numbered["output"]["parsed"] == {"password": "<SECRET_1>"}
        assert numbered["error"]["body"] == {"token": "<SECRET_1>"}
        assert numbered["params"] is record["params"]  # empty and None values: nothing to hide
        assert numbered["redactions"] == {"SECRET": 2}
        hashed = redact(record, redact_operator="hash", redact_key="k" * 32)
        assert hashed["output"]["parsed"]["password"].startswith("<SECRET:")
        assert redact(record, level="off") is record


# A tool's arguments named only as credentials, their values in no known format.
CONFIG_ARGS = {
    "master_key": OPAQUE + "m",
    "encryption_key": OPAQUE + "e",
    "signing_key": OPAQUE + "s",
    "smtp_pass": OPAQUE + "p",
    "region": "eu",
}
REDACTED_ARGS = dict.fromkeys(
    ["master_key", "encryption_key", "signing_key", "smtp_pass"], "<SECRET>"
)


class TestCredentialNamesThroughTheSDKs:
    """The same credential names as dict keys and in text, through the real SDKs."""

    @pytest.mark.parametrize("level", ["secrets", "pii"])
    def test_openai_tool_call_arguments_pasted_env_and_containers(self, level: str) -> None:
        """The model's tool call arguments (JSON text), a pasted .env and request fields
        holding a list or a dict under a credential name."""
        call = {
            "id": "call_1",
            "type": "function",
            "function": {"name": "configure", "arguments": json.dumps(CONFIG_ARGS)},
        }
        reply = ofake.chat_completion(None, tool_calls=[call], finish_reason="tool_calls")
        client = ofake.sync_client(lambda _: ofake.json_response(reply))
        env = f"my .env:\nENCRYPTION_KEY={OPAQUE}1\nMASTER_KEY={OPAQUE}2\nSMTP_PASS=correcthorse\n"
        with capture_records(redact=level) as cap:
            client.chat.completions.create(
                model="gpt-4o",
                messages=[{"role": "user", "content": env}],
                extra_body={"password": [OPAQUE + "l"], "api_key": {"value": OPAQUE + "d"}},
            )
        record, line = one_line(cap)
        assert OPAQUE not in line and "correcthorse" not in line
        arguments = record["output"]["tool_calls"][0]["arguments"]
        assert json.loads(arguments) == REDACTED_ARGS | {"region": "eu"}
        assert record["messages"][0]["content"] == (
            "my .env:\nENCRYPTION_KEY=<SECRET>\nMASTER_KEY=<SECRET>\nSMTP_PASS=<SECRET>\n"
        )
        assert record["params"]["password"] == ["<SECRET>"]
        assert record["params"]["api_key"] == {"value": "<SECRET>"}
        assert record["redactions"] == {"SECRET": 9}

    def test_anthropic_tool_input_as_a_dict_and_as_text_alike(self) -> None:
        """An Anthropic tool's input is a dict in the messages and JSON text in the output's
        tool calls: both lose the same values."""
        block = {"type": "tool_use", "id": "toolu_1", "name": "configure", "input": CONFIG_ARGS}
        reply = afake.message(content=[block], stop_reason="tool_use")
        client = afake.sync_client(afake.json_handler(reply))
        with capture_records(redact="secrets") as cap:
            client.messages.create(
                model=afake.MODEL,
                max_tokens=10,
                messages=[
                    {"role": "user", "content": "configure"},
                    {"role": "assistant", "content": [block]},  # type: ignore[list-item]
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "done"}
                        ],
                    },
                ],
            )
        record, line = one_line(cap)
        assert OPAQUE not in line
        assert record["messages"][1]["content"][0]["input"] == REDACTED_ARGS | {"region": "eu"}
        arguments = record["output"]["tool_calls"][0]["arguments"]
        assert json.loads(arguments) == REDACTED_ARGS | {"region": "eu"}
        assert record["redactions"] == {"SECRET": 8}


class TestDictKeys:
    def test_context_tags_template_and_metadata_keys_are_redacted(self) -> None:
        """Tag labels, template variable names and metadata keys are the app's text too."""
        client = ofake.sync_client(lambda _: ofake.json_response(ofake.chat_completion("ok")))
        with (
            capture_records(redact="pii") as cap,
            llmlog.context(
                tags=["customer:" + EMAIL, OPENAI_KEY, "beta"],
                template={"name": "t", "variables": {EMAIL: "x"}},
            ),
        ):
            client.chat.completions.create(
                model="gpt-4o",
                messages=[{"role": "user", "content": "hi"}],
                metadata={OPENAI_KEY: "1"},
            )
        record, line = one_line(cap)
        assert EMAIL not in line and OPENAI_KEY not in line
        assert record["tags"] == {
            "customer:<EMAIL_ADDRESS>": True,
            "<API_KEY>": True,
            "beta": True,
        }
        assert record["template"]["variables"] == {"<EMAIL_ADDRESS>": "x"}
        assert record["params"]["metadata"] == {"<API_KEY>": "1"}
        assert record["redactions"] == {"EMAIL_ADDRESS": 2, "API_KEY": 2}

    def test_keys_that_collide_once_redacted(self) -> None:
        """Equal scalar values merge (two tags, one label); different values stay apart."""
        second = OPENAI_KEY.replace("A1b2", "Z9y8")
        out = redact(
            {
                "tags": {OPENAI_KEY: True, second: True},
                "params": {"metadata": {OPENAI_KEY: "1", second: "2", "<API_KEY> (2)": "3"}},
            }
        )
        assert out["tags"] == {"<API_KEY>": True}
        assert out["params"]["metadata"] == {
            "<API_KEY>": "1",
            "<API_KEY> (2)": "2",
            "<API_KEY> (2) (2)": "3",
        }

    def test_keys_of_messages_are_searched_but_the_record_own_names(self) -> None:
        """A key of a message that is not one of the record's own names is text: searched."""
        record = {"messages": [{"role": "user", "content": "hi", OPENAI_KEY: "x"}]}
        message = redact(record)["messages"][0]
        assert OPENAI_KEY not in message
        assert (message["role"], message["content"]) == ("user", "hi")


class Contact(pydantic.BaseModel):
    id: str
    type: str
    name: str


class TestAppDataInMessagesAndOutput:
    def test_anthropic_tool_input_with_identifier_names(self) -> None:
        """A tool's ``id``/``type`` arguments are the app's data; the blocks' own stay."""
        history = [
            {"role": "user", "content": [{"type": "text", "text": "reset my password"}]},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_0",
                        "name": "lookup",
                        "input": {"id": EMAIL, "type": "password reset for " + EMAIL},
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_0", "content": "found"},
                ],
            },
        ]
        client = afake.sync_client(afake.json_handler(afake.message("done")))
        with capture_records(redact="pii") as cap:
            client.messages.create(model=afake.MODEL, max_tokens=10, messages=history)  # type: ignore[arg-type]
        record, line = one_line(cap)
        assert EMAIL not in line
        block = record["messages"][1]["content"][0]
        assert block == {
            "type": "tool_use",
            "id": "toolu_0",
            "name": "lookup",
            "input": {"id": "<EMAIL_ADDRESS>", "type": "password reset for <EMAIL_ADDRESS>"},
        }
        assert record["messages"][2]["content"][0]["tool_use_id"] == "toolu_0"
        assert record["redactions"] == {"EMAIL_ADDRESS": 2}

    def test_parsed_output_with_identifier_names(self) -> None:
        """``chat.completions.parse`` into a model with ``id``/``type`` fields."""
        text = json.dumps({"id": EMAIL, "type": "customer " + EMAIL, "name": "x"})
        client = ofake.sync_client(lambda _: ofake.json_response(ofake.chat_completion(text)))
        with capture_records(redact="pii") as cap:
            client.chat.completions.parse(
                model="gpt-4o",
                messages=[{"role": "user", "content": "extract"}],
                response_format=Contact,
            )
        record, line = one_line(cap)
        assert EMAIL not in line
        assert record["output"]["parsed"] == {
            "id": "<EMAIL_ADDRESS>",
            "type": "customer <EMAIL_ADDRESS>",
            "name": "x",
        }
        assert record["output"]["finish_reason"] == "stop"

    def test_dict_arguments_are_searched_and_structure_is_not(self) -> None:
        """Tool call arguments given as a dict; media stubs and ids keep their exact values."""
        stub = {"type": "image", "mime": "image/png", "bytes": 12, "sha256": "4" * 64}
        call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": {}}}
        call["function"]["arguments"] = {"id": EMAIL, "index": "+1 415 555 2671"}
        record = {
            "messages": [
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call_1", "content": [stub, "to " + EMAIL]},
            ],
            "output": {"tool_calls": [{"id": "call_2", "type": "function", "arguments": call}]},
        }
        out = redact(record, level="pii")
        assert out["messages"][0]["tool_calls"][0] == {
            "id": "call_1",
            "type": "function",
            "function": {
                "name": "f",
                "arguments": {"id": "<EMAIL_ADDRESS>", "index": "<PHONE_NUMBER>"},
            },
        }
        assert out["messages"][1] == {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": [stub, "to <EMAIL_ADDRESS>"],
        }
        assert out["output"]["tool_calls"][0]["id"] == "call_2"
        assert out["output"]["tool_calls"][0]["arguments"]["function"]["arguments"]["id"] == (
            "<EMAIL_ADDRESS>"
        )
