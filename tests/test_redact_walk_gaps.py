"""The redaction walk (``llmlog._redact_walk``) where the shape of a value once hid it.

- A subclass of ``str`` or ``int`` (a ``StrEnum``, a Django ``SafeString``, an
  ``IntEnum``) follows the rules of its base: credential keys, credential headers and long
  numbers; and its record is written as its base's would be.
- In messages and output, an identifier key (``id``, ``type``...) is skipped only when it
  holds a short id; and dict keys are searched there too, but the record's own names.

Driven through the real SDKs over ``httpx2.MockTransport`` for the shapes the
instrumentors write, through the ``Redact`` processor for the rules themselves.
"""

from __future__ import annotations

import enum
import json
from typing import Any

import orjson

import anthropic_fakes as afake
import openai_fakes as ofake
from llmlog._config import Settings
from llmlog.redaction import Redact
from llmlog.testing import capture_records

PASSWORD = "correcthorsebatterystaple"  # in no known format: only its key gives it away
OPAQUE = "nodigitsecretvalue"
CARD = 4111111111111111
EMAIL = "jane.doe.unique@example.org"
OPENAI_KEY = "sk-proj-A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0"
ANTHROPIC_KEY = "sk-ant-api03-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa" * 2 + "Qq1Ww2Ee3Rr4Tt5Yy6"
MESSAGES = [{"role": "user", "content": "hi"}]


class Text(str):
    """An app's own kind of text (a Django ``SafeString`` is one)."""


class Config(enum.StrEnum):
    DB_PASSWORD = PASSWORD
    REGION = "eu-west-1"


class Card(enum.IntEnum):
    VISA = CARD
    SMALL = 7


def redact(record: dict[str, Any], level: str = "secrets", **settings: Any) -> dict[str, Any]:
    return Redact(Settings(redact=level, **settings), in_process=True)(None, "info", record)


def one_line(cap: Any) -> tuple[dict[str, Any], str]:
    """The only record, and its JSON as written."""
    (record,) = cap.calls
    return record, json.dumps(record)


def openai_chat(**kwargs: Any) -> None:
    client = ofake.sync_client(lambda _: ofake.json_response(ofake.chat_completion("ok")))
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES, **kwargs)  # type: ignore[arg-type]


class TestSubclassesFollowTheirBase:
    def test_str_subclass_under_a_credential_key(self) -> None:
        """``metadata={"db_password": Text(...)}`` is replaced whole, as a plain str is."""
        with capture_records(redact="secrets") as cap:
            openai_chat(metadata={"db_password": Text(PASSWORD)})
        record, line = one_line(cap)
        assert PASSWORD not in line
        assert record["params"]["metadata"] == {"db_password": "<SECRET>"}
        assert record["redactions"] == {"SECRET": 1}

    def test_str_enum_in_a_tool_input(self) -> None:
        """A ``StrEnum`` member as a tool call's ``password`` argument in the history."""
        history = [
            {"role": "user", "content": "connect"},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_0",
                        "name": "db",
                        "input": {"password": Config.DB_PASSWORD},
                    }
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_0", "content": "ok"}],
            },
        ]
        client = afake.sync_client(afake.json_handler(afake.message("done")))
        with capture_records(redact="secrets") as cap:
            client.messages.create(model=afake.MODEL, max_tokens=5, messages=history)  # type: ignore[arg-type]
        record, line = one_line(cap)
        assert PASSWORD not in line
        assert record["messages"][1]["content"][0]["input"] == {"password": "<SECRET>"}

    def test_str_subclass_as_a_credential_header(self) -> None:
        """An MCP tool's ``X-Auth`` header given as a str subclass."""
        with capture_records(redact="secrets") as cap:
            openai_chat(extra_body={"mcp": {"headers": {"X-Auth": Text(OPAQUE)}}})
        record, line = one_line(cap)
        assert OPAQUE not in line
        assert record["params"]["mcp"] == {"headers": {"X-Auth": "<SECRET>"}}

    def test_int_enum_card_number(self) -> None:
        """An ``IntEnum`` of 16 digits is searched as its digits, as a plain int is."""
        with capture_records(redact="pii") as cap:
            openai_chat(metadata={"card": Card.VISA, "plain": CARD, "count": Card.SMALL})
        record, line = one_line(cap)
        assert str(CARD) not in line
        assert record["params"]["metadata"] == {
            "card": "<CREDIT_CARD>",
            "plain": "<CREDIT_CARD>",
            "count": 7,
        }

    def test_written_as_their_base_types(self) -> None:
        """Nothing to find, or something beside them: the JSON is the base types' own."""
        email = f"mail {EMAIL}"

        def record(region: Any, count: Any, note: Any) -> dict[str, Any]:
            metadata = {"region": region, "count": count, "note": note, "to": email}
            return {
                "params": {"metadata": metadata},
                "messages": [{"role": "user", "content": note}],
            }

        subclassed = redact(record(Config.REGION, Card.SMALL, Text("x")), "pii")
        plain = redact(record("eu-west-1", 7, "x"), "pii")
        assert orjson.dumps(subclassed) == orjson.dumps(plain)
        assert EMAIL not in orjson.dumps(subclassed).decode()

    def test_hashed_as_their_base_types(self) -> None:
        """The ``hash`` operator gives a ``StrEnum`` credential the plain text's hash."""
        settings = {"redact_operator": "hash", "redact_key": "k" * 32}
        subclassed = redact({"tags": {"db_password": Config.DB_PASSWORD}}, **settings)
        plain = redact({"tags": {"db_password": PASSWORD}}, **settings)
        assert subclassed["tags"] == plain["tags"]
        assert PASSWORD not in json.dumps(subclassed["tags"])


class TestIdentifierKeysAndDictKeysInMessages:
    def test_responses_input_items_with_data_under_keys(self) -> None:
        """A dict under ``id`` is walked; an email as an ``annotations`` key is searched."""
        items: list[Any] = [  # fields the SDK's types do not name: sent as they are
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hi", "annotations": {EMAIL: "vip"}}],
            },
            {
                "type": "function_call_output",
                "call_id": "c1",
                "output": "ok",
                "id": {"note": "key " + OPENAI_KEY},
            },
        ]
        client = ofake.sync_client(lambda _: ofake.json_response(ofake.response_object("ok")))
        with capture_records(redact="pii") as cap:
            client.responses.create(model="gpt-4o", input=items)
        record, line = one_line(cap)
        assert EMAIL not in line and OPENAI_KEY not in line
        first, second = record["messages"]
        assert first["content"][0]["annotations"] == {"<EMAIL_ADDRESS>": "vip"}
        assert second["id"] == {"note": "key <API_KEY>"}
        assert (second["type"], second["call_id"]) == ("function_call_output", "c1")

    def test_a_long_text_under_an_identifier_key_is_searched(self) -> None:
        """An id is short; an API key's length is past what an identifier key keeps."""
        record = {"messages": [{"role": "user", "content": "x", "id": ANTHROPIC_KEY}]}
        assert redact(record)["messages"] == [{"role": "user", "content": "x", "id": "<API_KEY>"}]

    def test_short_ids_and_the_record_own_keys_are_left_alone(self) -> None:
        """An ordinary message keeps its very objects: nothing in it is found."""
        record = {
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_0",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_0", "content": "done", "index": 0},
            ],
            "output": {"text": "ok", "tool_calls": [], "finish_reason": "stop"},
        }
        out = redact(record)
        assert out["messages"] is record["messages"]
        assert out["output"] is record["output"]

    def test_a_key_redacted_in_a_message_does_not_replace_another(self) -> None:
        """Two keys alike once redacted are both kept, in either order."""
        first = redact({"messages": [{"annotations": {EMAIL: "a", "<EMAIL_ADDRESS>": "b"}}]}, "pii")
        second = redact(
            {"messages": [{"annotations": {"<EMAIL_ADDRESS>": "b", EMAIL: "a"}}]}, "pii"
        )
        assert first["messages"][0]["annotations"] == {
            "<EMAIL_ADDRESS>": "a",
            "<EMAIL_ADDRESS> (2)": "b",
        }
        assert second["messages"][0]["annotations"] == {
            "<EMAIL_ADDRESS>": "b",
            "<EMAIL_ADDRESS> (2)": "a",
        }

    def test_keys_inside_a_credential_in_a_message(self) -> None:
        """Under a credential key, values are replaced whole and keys are still searched."""
        record = {"messages": [{"role": "user", "content": "x", "api_key": {EMAIL: "v"}}]}
        out = redact(record, "pii")
        assert out["messages"][0]["api_key"] == {"<EMAIL_ADDRESS>": "<SECRET>"}
