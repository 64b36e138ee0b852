"""``LLMLOG_REDACT=off`` logs prompts and outputs as they are, but ``params`` still never
holds credentials: values under credential names there (an MCP server's token, an MCP
tool's ``headers``) are replaced. Driven through the real SDKs over ``httpx2.MockTransport``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import anthropic_fakes as afake
import openai_fakes as ofake
from llmlog import _guard
from llmlog._config import Settings
from llmlog.redaction import Redact
from llmlog.testing import capture_records

TOKEN = "mcpBearerTokenValue123456"  # no known format: only its key gives it away
EMAIL = "jane.doe@example.com"


def only_record(cap: Any) -> tuple[dict[str, Any], str]:
    """The only record, and its JSON as written."""
    (record,) = cap.calls
    return record, json.dumps(record)


def test_openai_mcp_tool_credentials_are_replaced_at_off() -> None:
    """An MCP tool's ``authorization`` and its ``headers``' Authorization: not logged;
    the prompt, the rest of the tool and the output are, unredacted."""
    client = ofake.sync_client(lambda _: ofake.json_response(ofake.response_object("ok")))
    tool = {
        "type": "mcp",
        "server_label": "docs",
        "server_url": "https://mcp.example.com/sse",
        "authorization": TOKEN,
        "headers": {"Authorization": f"Bearer {TOKEN}", "X-Region": "eu"},
    }
    with capture_records(redact="off") as cap:
        client.responses.create(model="gpt-4o", input=f"mail {EMAIL}", tools=[tool])
    record, line = only_record(cap)
    assert TOKEN not in line
    assert record["params"]["tools"] == [
        {
            "type": "mcp",
            "server_label": "docs",
            "server_url": "https://mcp.example.com/sse",
            "authorization": "<SECRET>",
            "headers": {"Authorization": "<SECRET>", "X-Region": "eu"},
        }
    ]
    assert EMAIL in line  # off: the prompt is not searched
    assert record["redactions"] == {"SECRET": 2}


def test_anthropic_mcp_server_token_is_replaced_at_off() -> None:
    client = afake.sync_client(afake.json_handler(afake.message("ok")))
    with capture_records(redact="off") as cap:
        client.beta.messages.create(
            model=afake.MODEL,
            max_tokens=10,
            betas=["mcp-client-2025-04-04"],
            mcp_servers=[
                {
                    "type": "url",
                    "url": "https://m.example/sse",
                    "name": "m",
                    "authorization_token": TOKEN,
                }
            ],
            messages=[{"role": "user", "content": f"I am {EMAIL}"}],
        )
    record, line = only_record(cap)
    assert TOKEN not in line
    assert record["params"]["mcp_servers"][0]["authorization_token"] == "<SECRET>"
    assert record["params"]["mcp_servers"][0]["url"] == "https://m.example/sse"
    assert EMAIL in line
    assert record["redactions"] == {"SECRET": 1}


def test_a_record_without_credentials_in_params_is_passed_on_as_it_is() -> None:
    """Nothing to replace: the same record, not a copy (``off`` stays nearly free)."""
    record = {
        "event": "llm.call",
        "params": {"temperature": 0.2, "metadata": {"user": EMAIL}, "max_tokens": 5},
        "messages": [{"role": "user", "content": f"password: {TOKEN}"}],
        "redactions": {},
    }
    assert Redact(Settings(redact="off"))(None, "info", record) is record


def test_the_off_warning_says_params_are_still_cleaned(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _guard._reset_for_tests()
    Redact(Settings(redact="off"))
    err = capsys.readouterr().err
    assert "logged unredacted" in err and "credential names in params" in err
