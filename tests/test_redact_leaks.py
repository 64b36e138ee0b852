"""Leaks a review found end to end: secrets in other encoders' JSON escapes, in headers of
tool definitions, in error bodies and pydantic's shortened error values."""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest

import openai_fakes as ofake
from llmlog._config import Settings
from llmlog._redact_detect import Detector, DetectorConfig
from llmlog._redact_operators import apply_spans, tag
from llmlog.redaction import Redact
from llmlog.testing import capture_records

OPENAI_KEY = "sk-" + "proj-" + "Ab3dEfGh1jKlMnOpQrStUvWxYz0123456789abcd"
GITHUB_TOKEN = "gh" + "p_" + "a1" * 18
OPAQUE = "gmANb7qiSXbcmjoaRsuUwpNFgFULh2GNqTmSH4Bb"


def redacted(text: str) -> str:
    detector = Detector(DetectorConfig(level="secrets"))
    return apply_spans(text, detector.find(text), tag)


class TestEscapes:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            # Go escapes `<`, `>`, `&`; .NET `"`: the key is right after hex digits
            (rf'"\u003c{OPENAI_KEY}\u003e"', r'"\u003c<API_KEY>\u003e"'),
            (
                rf'"{{\u0022token\u0022:\u0022{GITHUB_TOKEN}\u0022}}"',
                r'"{\u0022token\u0022:\u0022<API_KEY>\u0022}"',
            ),
            (r'"a=1\u0026token=a8f3k2m9q1w7e5r3t6y0"', r'"a=1\u0026token=<SECRET>"'),
            # an escaped ASCII character inside the key is decoded, the span covers it
            (json.dumps(OPENAI_KEY).replace("-", "\\u002d"), '"<API_KEY>"'),
            # PHP escapes `/`
            (
                r'"postgres:\/\/app:S3cretPw99@db.internal:5432\/prod"',
                r'"postgres:\/\/app:<SECRET>@db.internal:5432\/prod"',
            ),
            # a literal backslash before `u0041` is no escape, and the key after it still goes
            (rf"C:\\u0041 {OPENAI_KEY}", r"C:\\u0041 <API_KEY>"),
        ],
    )
    def test_other_encoders_json(self, text: str, expected: str) -> None:
        """Escapes of ASCII are decoded for the search; the span found covers the escapes."""
        assert redacted(text) == expected

    def test_python_json_dumps_of_non_ascii_text(self) -> None:
        """``json.dumps`` writes a CJK colon, a guillemet or an arrow as ``\\uXXXX`` right
        before the key; a full-width colon still assigns a password."""
        text = json.dumps(
            {
                "a": f"API密钥\uff1a{OPENAI_KEY}",
                "b": f"clé «{GITHUB_TOKEN}»",
                "c": "数据库密码password\uff1aZq8pL2mXw9",
            }
        )
        out = redacted(text)
        assert OPENAI_KEY not in out and GITHUB_TOKEN not in out and "Zq8pL2mXw9" not in out
        assert json.loads(out) == {
            "a": "API密钥\uff1a<API_KEY>",
            "b": "clé «<API_KEY>»",
            "c": "数据库密码password\uff1a<SECRET>",
        }

    def test_percent_encoded_urls(self) -> None:
        """A URL inside a URL's parameter: its password and token are found once decoded."""
        text = (
            "next=postgres%3A%2F%2Fapp%3AS3cretPw99%40db"
            " and r=https%3A%2F%2Fx%2F%3Ftoken%3Da8f3k2m9q1w7e5r3"
        )
        assert redacted(text) == (
            "next=postgres%3A%2F%2Fapp%3A<SECRET>%40db and r=https%3A%2F%2Fx%2F%3Ftoken%3D<SECRET>"
        )


class TestPydanticErrors:
    def test_the_tail_of_a_shortened_key_goes_with_its_head(self) -> None:
        """pydantic writes a long input as ``'first...last'``: the tail is redacted too."""

        class Config(pydantic.BaseModel):
            port: int

        with pytest.raises(pydantic.ValidationError) as error:
            Config(port=OPENAI_KEY + "XyZ0123456789abcdefghijk")  # type: ignore[arg-type]
        out = redacted(str(error.value))
        assert "<API_KEY>'" in out and "XyZ0123456789" not in out


def redact_record(record: dict[str, Any]) -> dict[str, Any]:
    return Redact(Settings(redact="secrets"))(None, "info", record)


class TestRecordPlaces:
    def test_credential_headers_of_an_mcp_tool(self) -> None:
        """A tool's ``headers`` named like a credential go whatever their format; a
        ``?key=`` in its server URL too; other headers are only searched."""
        tool = {
            "type": "mcp",
            "server_url": f"https://mcp.example.com/sse?key={OPAQUE}",
            "headers": {
                "X-Auth": OPAQUE,
                "Authentication": OPAQUE,
                "X-Db-Pwd": OPAQUE,
                "X-Trace": "abc",
            },
        }
        out = redact_record({"params": {"tools": [tool]}})["params"]["tools"][0]
        assert out["server_url"] == "https://mcp.example.com/sse?key=<SECRET>"
        assert out["headers"] == {
            "X-Auth": "<SECRET>",
            "Authentication": "<SECRET>",
            "X-Db-Pwd": "<SECRET>",
            "X-Trace": "abc",
        }

    def test_type_and_id_of_an_error_body_are_searched(self) -> None:
        """``error.body`` is the server's: its ``type`` or ``id`` may echo a key."""
        body = {"error": {"type": GITHUB_TOKEN, "message": "bad key"}, "id": OPENAI_KEY}
        out = redact_record({"error": {"type": "AuthenticationError", "body": body}})
        assert out["error"] == {
            "type": "AuthenticationError",
            "body": {"error": {"type": "<API_KEY>", "message": "bad key"}, "id": "<API_KEY>"},
        }


def test_a_query_key_without_a_digit_is_a_word_not_a_credential() -> None:
    """``?key=product-category-shoes`` names a page; an API key has digits in it."""
    from llmlog._redact_secret_search import find_secrets

    assert find_secrets("https://shop.example/list?key=product-category-shoes&page=2") == []
    assert find_secrets("https://maps.example/api?key=a8f3b2c9d4e5f6a7b8c9d0e1") != []


CARD = "4111111111111111"


class TestShellToolOutput:
    """A shell tool's coloured output sent back to the model, through the real OpenAI SDK."""

    @pytest.mark.parametrize("level", ["secrets", "pii"])
    def test_values_right_after_colour_codes(self, level: str) -> None:
        """A key, a token and (at ``pii``) a card printed in colour are redacted; the
        colour codes are kept."""
        client = ofake.sync_client(lambda _: ofake.json_response(ofake.chat_completion("ok")))
        output = (
            f"$ env | grep KEY\n\x1b[01;31mOPENAI\x1b[0m: \x1b[32m{OPENAI_KEY}\x1b[0m\n"
            f"\x1b[1m{GITHUB_TOKEN}\x1b[0m\ncard on file: \x1b[33m{CARD}\x1b[0m"
        )
        call = {
            "id": "call_1",
            "type": "function",
            "function": {"name": "shell", "arguments": "{}"},
        }
        with capture_records(redact=level) as cap:
            client.chat.completions.create(
                model="gpt-4o",
                messages=[
                    {"role": "user", "content": "what is in my env?"},
                    {"role": "assistant", "content": None, "tool_calls": [call]},  # type: ignore[list-item]
                    {"role": "tool", "tool_call_id": "call_1", "content": output},
                ],
            )
        (record,) = cap.calls
        expected = output.replace(OPENAI_KEY, "<API_KEY>").replace(GITHUB_TOKEN, "<API_KEY>")
        if level == "pii":
            expected = expected.replace(CARD, "<CREDIT_CARD>")
        assert record["messages"][2]["content"] == expected
        assert record["redactions"] == {"API_KEY": 2} | (
            {"CREDIT_CARD": 1} if level == "pii" else {}
        )


class TestSecondReviewThroughTheSDK:
    def test_an_agents_conversation(self) -> None:
        """Through the real OpenAI SDK at ``secrets``: a key glued to Chinese text or holding
        a zero-width space, a .env file and a proxy log (one line of many ``Cookie:`` headers)
        as a tool's JSON result, ``clientSecret`` in a tool call's JSON arguments, a
        ``docker run -e ..._PASSWORD=`` command: none of it reaches the record."""
        env = "APP_NAME=shop\nDB_PASSWORD=correcthorsebattery\n"
        log = "".join(f"GET /p?{i} HTTP/1.1 Cookie: theme=dark; lang=en\n" for i in range(300))
        log += "GET /admin Cookie: sessionid=k3j4h5g6f7d8s9a0; csrftoken=Zx9Cv8Bn7Mm6Ll5K\n"
        result = json.dumps({"env": env, "log": log})
        arguments = json.dumps({"clientId": "my-app", "clientSecret": "QkFNlRXpTzWvHyJdLcMb"})
        call = {
            "id": "call_1",
            "type": "function",
            "function": {"name": "configure", "arguments": arguments},
        }
        messages: list[Any] = [
            {"role": "user", "content": f"我的OpenAI密钥是{OPENAI_KEY}\uff0c请帮我写一个调用示例"},
            {"role": "user", "content": f"key: {OPENAI_KEY[:20]}\u200b{OPENAI_KEY[20:]}"},
            {"role": "user", "content": "docker run -e POSTGRES_PASSWORD=mysecretpassword pg"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": result},
        ]
        client = ofake.sync_client(lambda _: ofake.json_response(ofake.chat_completion("ok")))
        with capture_records(redact="secrets") as cap:
            client.chat.completions.create(model="gpt-4o", messages=messages)
        (record,) = cap.calls
        out = record["messages"]
        assert out[0]["content"] == "我的OpenAI密钥是<API_KEY>\uff0c请帮我写一个调用示例"
        assert out[1]["content"] == "key: <API_KEY>"
        assert out[2]["content"] == "docker run -e POSTGRES_PASSWORD=<SECRET> pg"
        assert json.loads(out[3]["tool_calls"][0]["function"]["arguments"]) == {
            "clientId": "my-app",
            "clientSecret": "<SECRET>",
        }
        assert json.loads(out[4]["content"]) == {
            "env": "APP_NAME=shop\nDB_PASSWORD=<SECRET>\n",
            "log": log.replace("k3j4h5g6f7d8s9a0", "<SECRET>").replace(
                "Zx9Cv8Bn7Mm6Ll5K", "<SECRET>"
            ),
        }
        assert record["redactions"] == {"API_KEY": 2, "SECRET": 5}
