"""The sources an answer cites are part of what came back: ``output.citations``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import anthropic_fakes as afake
import llmlog.testing
import openai_fakes as ofake
from llmlog.testing import CapturedRecords

URL_CITATION = {
    "type": "url_citation",
    "url": "https://example.com/a",
    "title": "A",
    "start_index": 0,
    "end_index": 5,
}
PAGE_CITATION = {
    "type": "web_search_result_location",
    "url": "https://example.com/b",
    "title": "B",
    "cited_text": "the sky is blue",
    "encrypted_index": "EqgfCioIARgBIiQ3YTAwMjY1Mi1mZjM5LTQ1NGUtODgxNC1kNjNjNTk1ZWI3Y2",
}
PAGE_CITATION_KEPT = {k: v for k, v in PAGE_CITATION.items() if k != "encrypted_index"}


@pytest.fixture
def cap() -> Iterator[CapturedRecords]:
    with llmlog.testing.capture_records(redact="off") as captured:
        yield captured


def test_openai_chat_annotations(cap: CapturedRecords) -> None:
    completion = ofake.chat_completion("Hello")
    completion["choices"][0]["message"]["annotations"] = [
        {"type": "url_citation", "url_citation": URL_CITATION}
    ]
    client = ofake.sync_client(lambda request: ofake.json_response(completion))
    client.chat.completions.create(model="gpt-4o-search-preview", messages=[])
    [record] = cap.calls
    assert record["output"]["citations"] == [{"type": "url_citation", "url_citation": URL_CITATION}]


@pytest.mark.parametrize("stream", [False, True])
def test_openai_responses_annotations(cap: CapturedRecords, stream: bool) -> None:
    response = ofake.response_object("Hello")
    response["output"][1]["content"][0]["annotations"] = [URL_CITATION]
    fake = ofake.FakeOpenAI(
        routes={
            "/responses": lambda body: (
                ofake.sse_response(
                    [{"type": "response.completed", "sequence_number": 1, "response": response}],
                    named=True,
                    done=False,
                )
                if body.get("stream")
                else ofake.json_response(response)
            )
        }
    )
    client = ofake.sync_client(fake)
    if stream:
        list(client.responses.create(model="gpt-4.1", input="hi", stream=True))
    else:
        client.responses.create(model="gpt-4.1", input="hi")
    [record] = cap.calls
    assert record["output"]["citations"] == [URL_CITATION]


def test_anthropic_text_block_citations(cap: CapturedRecords) -> None:
    block = {"type": "text", "text": "Blue.", "citations": [PAGE_CITATION]}
    client = afake.sync_client(afake.json_handler(afake.message(content=[block])))
    client.messages.create(model=afake.MODEL, max_tokens=5, messages=afake.user())
    [record] = cap.calls
    assert record["output"]["citations"] == [PAGE_CITATION_KEPT]


def test_anthropic_streamed_citations(cap: CapturedRecords) -> None:
    events: list[dict[str, Any]] = afake.stream_events(["Blue."])
    text_start = next(i for i, e in enumerate(events) if e["type"] == "content_block_start")
    citation = {"type": "citations_delta", "citation": PAGE_CITATION}
    events.insert(text_start + 1, {"type": "content_block_delta", "index": 0, "delta": citation})
    client = afake.sync_client(afake.sse_handler(events))
    with client.messages.stream(model=afake.MODEL, max_tokens=5, messages=afake.user()) as s:
        assert s.get_final_message().content[0].citations  # type: ignore[union-attr]
    [record] = cap.calls
    assert record["output"]["citations"] == [PAGE_CITATION_KEPT]
    assert record["output"]["text"] == "Blue."


def test_no_citations_no_key(cap: CapturedRecords) -> None:
    client = afake.sync_client(afake.json_handler(afake.message()))
    client.messages.create(model=afake.MODEL, max_tokens=5, messages=afake.user())
    assert "citations" not in cap.calls[0]["output"]
