"""What an Anthropic answer holds besides text and tool calls: the results of the tools
Anthropic's servers run (web search and fetch, code execution, MCP), the code container,
thinking the API sent redacted, a refusal's category; plain and streamed alike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

import jsonschema
import pytest

import anthropic_fakes as fake
import llmlog.testing
from llmlog.testing import CapturedRecords
from stream_texts import keep_chunk_objects

SCHEMA = json.loads(resources.files("llmlog").joinpath("record.schema.json").read_text())
SECRET_BLOB = "EqgfCioIARgBIiQ3YTAwZjY5ZS1hOWM1LTQ2YjYtODEwYi0xMGQ2M2M0ZmYwNjESDA"
CONTAINER = {"id": "container_011CTest", "expires_at": "2026-01-01T00:00:00Z"}
REFUSAL = {"type": "refusal", "category": "cyber", "explanation": "This looks like malware."}

SEARCH_HIT = {
    "type": "web_search_result",
    "url": "https://example.com/paris",
    "title": "Paris weather",
    "encrypted_content": SECRET_BLOB,
    "page_age": "1 day",
}
SERVER_BLOCKS: list[dict[str, Any]] = [
    {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}},
    {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": [SEARCH_HIT]},
    {"type": "server_tool_use", "id": "srvtoolu_2", "name": "web_search", "input": {"query": "r"}},
    {
        "type": "web_search_tool_result",
        "tool_use_id": "srvtoolu_2",
        "content": {"type": "web_search_tool_result_error", "error_code": "max_uses_exceeded"},
    },
    {"type": "server_tool_use", "id": "srvtoolu_3", "name": "code_execution", "input": {}},
    {
        "type": "code_execution_tool_result",
        "tool_use_id": "srvtoolu_3",
        "content": {
            "type": "code_execution_result",
            "stdout": "",
            "stderr": "ZeroDivisionError: division by zero",
            "return_code": 1,
            "content": [],
        },
    },
    {"type": "server_tool_use", "id": "srvtoolu_4", "name": "web_fetch", "input": {"url": "u"}},
    {
        "type": "web_fetch_tool_result",
        "tool_use_id": "srvtoolu_4",
        "content": {
            "type": "web_fetch_result",
            "url": "https://example.com/a.pdf",
            "retrieved_at": "2025-01-01T00:00:00Z",
            "content": {
                "type": "document",
                "source": {"type": "base64", "media_type": "application/pdf", "data": fake.PNG_B64},
            },
        },
    },
    {"type": "redacted_thinking", "data": SECRET_BLOB},
    {"type": "text", "text": "Searching."},
]


@pytest.fixture
def cap() -> Iterator[CapturedRecords]:
    with llmlog.testing.capture_records(disabled_providers=("openai",), redact="off") as captured:
        yield captured


def only_output(cap: CapturedRecords) -> dict[str, Any]:
    """The one record's ``output``, once the record is checked against the schema."""
    (record,) = cap.calls
    jsonschema.validate(record, SCHEMA)
    output: dict[str, Any] = record["output"]
    return output


def read_stream(events: list[dict[str, Any]], cap: CapturedRecords, *, beta: bool) -> None:
    client = fake.sync_client(fake.sse_handler(events))
    messages = client.beta.messages if beta else client.messages
    with messages.stream(model=fake.MODEL, max_tokens=5, messages=fake.user()) as stream:
        stream.until_done()


def assert_server_tool_output(output: dict[str, Any]) -> None:
    results = output["tool_results"]
    assert [r["tool_use_id"] for r in results] == [f"srvtoolu_{n}" for n in range(1, 5)]
    hit = results[0]["content"][0]
    assert hit["url"] == SEARCH_HIT["url"] and hit["title"] == "Paris weather"
    assert hit["encrypted_content"]["type"] == "encrypted"
    assert hit["encrypted_content"]["mime"] is None
    assert hit["encrypted_content"]["bytes"] == len(SECRET_BLOB)
    assert results[1]["content"]["error_code"] == "max_uses_exceeded"
    ran = results[2]["content"]
    assert ran["stderr"].startswith("ZeroDivisionError") and ran["return_code"] == 1
    fetched = results[3]["content"]["content"]
    assert fetched["type"] == "document" and fetched["mime"] == "application/pdf"
    assert output["redacted_thinking"] == 1 and output["thinking"] is None
    assert output["container"] == CONTAINER
    assert SECRET_BLOB not in json.dumps(output) and fake.PNG_B64 not in json.dumps(output)


def test_plain_answer_keeps_server_tool_results_and_container(cap: CapturedRecords) -> None:
    """A pause_turn answer: what the search found and the error it hit, what the code
    printed, the fetched document (a stub), the container to reuse; blobs stubbed."""
    body = fake.message(content=SERVER_BLOCKS, stop_reason="pause_turn", container=CONTAINER)
    client = fake.sync_client(fake.json_handler(body))
    answer = client.messages.create(model=fake.MODEL, max_tokens=5, messages=fake.user())
    assert answer.container is not None
    output = only_output(cap)
    assert_server_tool_output(output)
    assert [call["id"] for call in output["tool_calls"]] == [f"srvtoolu_{n}" for n in range(1, 5)]
    assert output["finish_reason"] == "pause_turn"


@pytest.mark.parametrize("read_as", ["teed", "chunk objects"])
def test_streamed_answer_keeps_server_tool_results_and_container(
    cap: CapturedRecords, monkeypatch: pytest.MonkeyPatch, read_as: str
) -> None:
    """Result blocks arrive whole in ``content_block_start``, the container in
    ``message_delta``: the record has them as a plain call's record does."""
    if read_as == "chunk objects":
        keep_chunk_objects(monkeypatch)
    events = fake.block_events(*SERVER_BLOCKS, stop_reason="pause_turn", container=CONTAINER)
    read_stream(events, cap, beta=False)
    output = only_output(cap)
    assert_server_tool_output(output)
    assert output["text"] == "Searching."


@pytest.mark.parametrize("stream", [False, True])
def test_mcp_results_keep_their_error_flag(cap: CapturedRecords, stream: bool) -> None:
    """An MCP server's result (beta) says whether it failed in ``is_error``, kept with it;
    so do new tools' results (any ``*_tool_result`` block), encrypted fields stubbed."""
    blocks = [
        {"type": "mcp_tool_use", "id": "mcptoolu_1", "name": "lookup", "server_name": "crm"},
        {
            "type": "mcp_tool_result",
            "tool_use_id": "mcptoolu_1",
            "is_error": True,
            "content": [{"type": "text", "text": "customer not found"}],
        },
        {
            "type": "code_execution_tool_result",
            "tool_use_id": "srvtoolu_9",
            "content": {
                "type": "encrypted_code_execution_result",
                "encrypted_stdout": SECRET_BLOB,
                "stderr": "",
                "return_code": 0,
                "content": [],
            },
        },
    ]
    blocks[0]["input"] = {"id": 7}
    if stream:
        read_stream(fake.block_events(*blocks), cap, beta=True)
    else:
        client = fake.sync_client(fake.json_handler(fake.message(content=blocks)))
        client.beta.messages.create(model=fake.MODEL, max_tokens=5, messages=fake.user())
    mcp, code = only_output(cap)["tool_results"]
    assert mcp == {
        "tool_use_id": "mcptoolu_1",
        "type": "mcp_tool_result",
        "content": [{"type": "text", "text": "customer not found"}],
        "is_error": True,
    }
    assert code["content"]["encrypted_stdout"]["type"] == "encrypted"
    assert code["content"]["return_code"] == 0


@pytest.mark.parametrize("stream", [False, True])
def test_only_redacted_thinking_is_counted(cap: CapturedRecords, stream: bool) -> None:
    """Thinking the API sent only redacted is not the same as no thinking at all."""
    blocks = [{"type": "redacted_thinking", "data": SECRET_BLOB}] * 2 + [
        {"type": "text", "text": "Answer"}
    ]
    if stream:
        read_stream(fake.block_events(*blocks), cap, beta=False)
    else:
        client = fake.sync_client(fake.json_handler(fake.message(content=blocks)))
        client.messages.create(model=fake.MODEL, max_tokens=5, messages=fake.user())
    output = only_output(cap)
    assert output["thinking"] is None and output["redacted_thinking"] == 2
    assert SECRET_BLOB not in json.dumps(output)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("details", "refusal"),
    [(REFUSAL, REFUSAL["explanation"]), ({"type": "refusal", "category": "cyber"}, "cyber")],
)
def test_refusal_keeps_its_category(
    cap: CapturedRecords, stream: bool, details: dict[str, Any], refusal: str
) -> None:
    """The category of a refusal (which policy) is kept next to its explanation."""
    if stream:
        events = fake.block_events(
            {"type": "text", "text": ""}, stop_reason="refusal", stop_details=details
        )
        read_stream(events, cap, beta=False)
    else:
        body = fake.message("", stop_reason="refusal", stop_details=details)
        client = fake.sync_client(fake.json_handler(body))
        client.messages.create(model=fake.MODEL, max_tokens=5, messages=fake.user())
    output = only_output(cap)
    assert output["refusal"] == refusal and output["refusal_category"] == "cyber"


@pytest.mark.parametrize("stream", [False, True])
def test_plain_calls_get_no_new_keys(cap: CapturedRecords, stream: bool) -> None:
    """Without server tools, redacted thinking, a refusal or a container, ``output`` has
    the keys it always had."""
    if stream:
        read_stream(fake.stream_events(thinking=["hm"]), cap, beta=False)
    else:
        body = fake.message(content=[{"type": "thinking", "thinking": "hm", "signature": "s"}])
        client = fake.sync_client(fake.json_handler(body))
        client.messages.create(model=fake.MODEL, max_tokens=5, messages=fake.user())
    output = only_output(cap)
    assert set(output) == {"text", "tool_calls", "finish_reason", "refusal", "parsed", "thinking"}


def test_metadata_capture_keeps_no_tool_result_content() -> None:
    """``LLMLOG_CAPTURE=metadata``: a result keeps which call and its type, not what the
    search found or the code printed."""
    body = fake.message(content=SERVER_BLOCKS, container=CONTAINER)
    settings = {"disabled_providers": ("openai",), "capture": "metadata"}
    with llmlog.testing.capture_records(**settings) as cap:
        client = fake.sync_client(fake.json_handler(body))
        client.messages.create(model=fake.MODEL, max_tokens=5, messages=fake.user())
    results = only_output(cap)["tool_results"]
    assert [r["tool_use_id"] for r in results] == [f"srvtoolu_{n}" for n in range(1, 5)]
    assert all(r["content"] is None for r in results)
    assert "ZeroDivisionError" not in json.dumps(cap.calls[0])
