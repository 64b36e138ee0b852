"""What an OpenAI answer says about how it was made, kept in the record through real openai
clients, plain and streamed: the stored prompt's version and instructions, the effective
reasoning settings, removed input items, moderation verdicts, Azure's content filters,
``system_fingerprint``, prompt-cache diagnostics, and cache writes in Anthropic's name."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import openai_fakes as fakes
from llmlog.testing import CapturedRecords, capture_records
from test_openai_tool_usage import logged

TUTOR = "You are a French tutor for Acme. Answer in French."
STORED_PROMPT_INSTRUCTIONS = [
    {
        "type": "message",
        "role": "developer",
        "content": [
            {"type": "input_text", "text": TUTOR},
            {"type": "input_text", "text": "Be kind."},
        ],
    },
    {"type": "message", "role": "developer", "content": "Never use English."},
]
TRANSFORMATIONS = [
    {"id": "rs_old", "action": "removed", "reason": "model_mismatch", "type": "reasoning"}
]
DIAGNOSTICS = {"type": "cache_miss", "cache_missed_tokens": 900, "reason": "tools_changed"}


def moderation_result(flagged: bool, **categories: bool) -> dict[str, Any]:
    return {
        "type": "moderation_result",
        "flagged": flagged,
        "categories": categories,
        "category_scores": {name: 0.9 if hit else 0.0 for name, hit in categories.items()},
        "category_applied_input_types": {},
        "model": "omni-moderation-latest",
    }


def chat_moderation() -> dict[str, Any]:
    """A moderated chat answer's verdicts: a list of results for input and for output."""

    def results(flagged: bool, **categories: bool) -> dict[str, Any]:
        return {
            "type": "moderation_results",
            "model": "omni-moderation-latest",
            "results": [moderation_result(flagged, **categories)],
        }

    return {"input": results(True, violence=True, hate=False), "output": results(False)}


EXPECTED_VERDICTS = [
    {"target": "input", "flagged": True, "categories": ["violence"]},
    {"target": "output", "flagged": False, "categories": []},
]


@pytest.fixture
def llm() -> Iterator[CapturedRecords]:
    with capture_records(redact="off") as cap:
        yield cap


# ---------------------------------------------------------------------------- Responses


def stored_prompt_response(instructions: Any = STORED_PROMPT_INSTRUCTIONS) -> dict[str, Any]:
    body = fakes.response_object("Bonjour")
    body.update(
        instructions=instructions,
        prompt={"id": "pmpt_1", "version": "7", "variables": {"city": "Paris"}},
        reasoning={"effort": "medium", "summary": "detailed"},
        input_transformations=TRANSFORMATIONS,
        moderation={
            "input": moderation_result(True, hate=True, violence=False),
            "output": moderation_result(False, hate=False),
        },
        prompt_cache_diagnostics=DIAGNOSTICS,
    )
    return body


def responses_record(
    llm: CapturedRecords, body: dict[str, Any], streamed: bool, **arguments: Any
) -> dict[str, Any]:
    return logged(llm, body, streamed, **{"model": "gpt-5", "input": "hi", **arguments})


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
class TestResponsesStoredPrompt:
    def test_the_prompt_version_and_its_instructions_are_kept(
        self, llm: CapturedRecords, streamed: bool
    ) -> None:
        """Asked for ``pmpt_1`` with no version: the answer says version 7 ran, and the
        instructions the stored prompt supplied are the record's system."""
        record = responses_record(llm, stored_prompt_response(), streamed, prompt={"id": "pmpt_1"})
        assert record["output"]["prompt"] == {"id": "pmpt_1", "version": "7"}
        assert record["system"] == f"{TUTOR}\nBe kind.\n\nNever use English."
        assert record["messages"] == [{"role": "user", "content": "hi"}]

    def test_instructions_as_a_string_are_the_system(
        self, llm: CapturedRecords, streamed: bool
    ) -> None:
        record = responses_record(
            llm, stored_prompt_response(TUTOR), streamed, prompt={"id": "pmpt_1"}
        )
        assert record["system"] == TUTOR

    def test_reasoning_settings_transformations_moderation_and_cache_diagnostics(
        self, llm: CapturedRecords, streamed: bool
    ) -> None:
        record = responses_record(llm, stored_prompt_response(), streamed, prompt={"id": "pmpt_1"})
        output = record["output"]
        assert output["reasoning_settings"] == {"effort": "medium", "summary": "detailed"}
        assert output["input_transformations"] == TRANSFORMATIONS
        assert output["moderation"] == [
            {"target": "input", "flagged": True, "categories": ["hate"]},
            {"target": "output", "flagged": False, "categories": []},
        ]
        assert output["cache_diagnostics"] == DIAGNOSTICS
        assert output["text"] == "Bonjour"

    def test_a_stored_prompt_with_the_apps_own_system_keeps_the_apps(
        self, llm: CapturedRecords, streamed: bool
    ) -> None:
        """The request sent its own developer item beside the stored prompt: the record's
        system is what the app sent, the prompt's version is still kept."""
        record = responses_record(
            llm,
            stored_prompt_response(),
            streamed,
            prompt={"id": "pmpt_1"},
            input=[
                {"role": "developer", "content": "answer in one line"},
                {"role": "user", "content": "hi"},
            ],
        )
        assert record["system"] == "answer in one line"
        assert record["output"]["prompt"] == {"id": "pmpt_1", "version": "7"}

    def test_without_a_stored_prompt_the_request_system_stays(
        self, llm: CapturedRecords, streamed: bool
    ) -> None:
        """The request's instructions, echoed, and its leading developer item: as sent."""
        body = fakes.response_object()
        body["instructions"] = "be brief"
        record = responses_record(
            llm,
            body,
            streamed,
            instructions="be brief",
            input=[
                {"role": "developer", "content": "in English"},
                {"role": "user", "content": "hi"},
            ],
        )
        assert record["system"] == "be brief\n\nin English"
        assert "prompt" not in record["output"]
        assert "reasoning_settings" not in record["output"]
        assert "moderation" not in record["output"]


# ---------------------------------------------------------------------------- chat


def chat_record(llm: CapturedRecords, handler: fakes.Handler, **kwargs: Any) -> dict[str, Any]:
    client = fakes.sync_client(handler)
    create: Any = client.chat.completions.create
    result = create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], **kwargs)
    if kwargs.get("stream"):
        list(result)
    [record] = llm.calls
    return record


def chunk_stream(chunks: list[dict[str, Any]]) -> fakes.Handler:
    return lambda request: fakes.sse_response(chunks)


class TestSystemFingerprint:
    def test_chat(self, llm: CapturedRecords) -> None:
        body = fakes.chat_completion()
        record = chat_record(llm, lambda request: fakes.json_response(body))
        assert record["output"]["system_fingerprint"] == "fp_fake"

    def test_chat_stream(self, llm: CapturedRecords) -> None:
        chunks = [{**chunk, "system_fingerprint": "fp_stream"} for chunk in fakes.chat_chunks()]
        record = chat_record(llm, chunk_stream(chunks), stream=True)
        assert record["output"]["system_fingerprint"] == "fp_stream"
        assert record["output"]["text"] == "Hello!"

    @pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
    def test_legacy_completion(self, llm: CapturedRecords, streamed: bool) -> None:
        body = {**fakes.completion_object(), "system_fingerprint": "fp_legacy"}
        if streamed:
            chunk = {**body, "choices": [{**body["choices"][0], "finish_reason": None}]}
            last = {**body, "choices": [{**body["choices"][0], "text": ""}]}
            handler = chunk_stream([chunk, last])
        else:
            handler = lambda request: fakes.json_response(body)  # noqa: E731
        client = fakes.sync_client(handler)
        result = client.completions.create(
            model="gpt-3.5-turbo-instruct", prompt="Hello", stream=streamed
        )
        if streamed:
            list(result)  # type: ignore[call-overload]
        [record] = llm.calls
        assert record["output"]["system_fingerprint"] == "fp_legacy"


class TestChatModeration:
    def test_plain(self, llm: CapturedRecords) -> None:
        body = fakes.chat_completion(None, finish_reason="content_filter")
        body["moderation"] = chat_moderation()
        record = chat_record(
            llm,
            lambda request: fakes.json_response(body),
            moderation={"model": "omni-moderation-latest"},
        )
        assert record["output"]["moderation"] == EXPECTED_VERDICTS

    def test_streamed_in_its_own_chunk(self, llm: CapturedRecords) -> None:
        chunks = fakes.chat_chunks()
        chunks.append({**chunks[0], "choices": [], "moderation": chat_moderation()})
        record = chat_record(
            llm, chunk_stream(chunks), stream=True, moderation={"model": "omni-moderation-latest"}
        )
        assert record["output"]["moderation"] == EXPECTED_VERDICTS

    def test_a_failed_check_keeps_its_error(self, llm: CapturedRecords) -> None:
        body = fakes.chat_completion()
        error = {"type": "error", "code": "moderation_unavailable", "message": "try later"}
        body["moderation"] = {**chat_moderation(), "output": error}
        record = chat_record(llm, lambda request: fakes.json_response(body))
        assert record["output"]["moderation"][1] == {
            "target": "output",
            "flagged": None,
            "categories": [],
            "error": {"code": "moderation_unavailable", "message": "try later"},
        }


PROMPT_FILTERS = [
    {
        "prompt_index": 0,
        "content_filter_results": {
            "violence": {"filtered": False, "severity": "medium"},
            "jailbreak": {"filtered": False, "detected": True},
        },
    }
]


class TestAzureContentFilters:
    def test_plain_with_two_choices(self, llm: CapturedRecords) -> None:
        body = fakes.chat_completion(n=2)
        body["prompt_filter_results"] = PROMPT_FILTERS
        body["choices"][0]["content_filter_results"] = {
            "violence": {"filtered": True, "severity": "high"}
        }
        body["choices"][1]["content_filter_results"] = {
            "violence": {"filtered": False, "severity": "safe"}
        }
        client = fakes.azure_client(lambda request: fakes.json_response(body))
        client.chat.completions.create(
            model="my-deployment", messages=[{"role": "user", "content": "hi"}], n=2
        )
        [record] = llm.calls
        output = record["output"]
        assert output["prompt_filter_results"] == PROMPT_FILTERS
        assert output["content_filter_results"] == {
            "violence": {"filtered": True, "severity": "high"}
        }
        assert [c["content_filter_results"]["violence"]["severity"] for c in output["choices"]] == [
            "high",
            "safe",
        ]

    def test_streamed_each_category_keeps_its_worst_verdict(self, llm: CapturedRecords) -> None:
        """Azure sends the prompt's filters in a first chunk with no id and no choices, and
        a verdict with each piece of text: the record keeps each category's worst."""
        chunks = fakes.chat_chunks(("Hel", "lo", "!"))
        first = {
            **chunks[0],
            "id": "",
            "model": "",
            "choices": [],
            "prompt_filter_results": PROMPT_FILTERS,
        }
        verdicts = [
            {"violence": {"filtered": False, "severity": "safe"}},
            {
                "violence": {"filtered": False, "severity": "medium"},
                "hate": {"filtered": False, "severity": "safe"},
            },
            {"violence": {"filtered": False, "severity": "low"}},
        ]
        for chunk, verdict in zip(chunks[1:4], verdicts, strict=True):
            chunk["choices"][0]["content_filter_results"] = verdict
        client = fakes.azure_client(chunk_stream([first, *chunks]))
        stream = client.chat.completions.create(
            model="my-deployment", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        list(stream)
        [record] = llm.calls
        output = record["output"]
        assert output["text"] == "Hello!"
        assert output["prompt_filter_results"] == PROMPT_FILTERS
        assert output["content_filter_results"] == {
            "violence": {"filtered": False, "severity": "medium"},
            "hate": {"filtered": False, "severity": "safe"},
        }


def test_chat_prompt_cache_diagnostics(llm: CapturedRecords) -> None:
    body = fakes.chat_completion()
    body["prompt_cache_diagnostics"] = DIAGNOSTICS
    record = chat_record(llm, lambda request: fakes.json_response(body))
    assert record["output"]["cache_diagnostics"] == DIAGNOSTICS


# ---------------------------------------------------------------------------- cache writes


def anthropic_named_usage(where: str) -> dict[str, Any]:
    usage: dict[str, Any] = {"prompt_tokens": 10050, "completion_tokens": 5, "total_tokens": 10055}
    if where == "top":  # Databricks, beside cache_read_input_tokens
        usage.update(cache_read_input_tokens=0, cache_creation_input_tokens=10000)
    else:  # in the details (LiteLLM)
        usage["prompt_tokens_details"] = {"cached_tokens": 0, "cache_creation_input_tokens": 10000}
    return usage


@pytest.mark.parametrize("where", ["top", "details"])
@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
def test_cache_writes_in_anthropic_naming_are_counted(
    llm: CapturedRecords, streamed: bool, where: str
) -> None:
    usage = anthropic_named_usage(where)
    if streamed:
        chunks = fakes.chat_chunks()
        chunks.append({**chunks[0], "choices": [], "usage": usage})
        record = chat_record(
            llm, chunk_stream(chunks), stream=True, stream_options={"include_usage": True}
        )
    else:
        body = {**fakes.chat_completion(), "usage": usage}
        record = chat_record(llm, lambda request: fakes.json_response(body))
    assert record["usage"]["cache_write_tokens"] == 10000


# ---------------------------------------------------------------------------- metadata only


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
def test_metadata_capture_keeps_the_facts_but_no_instructions(streamed: bool) -> None:
    with capture_records(capture="metadata", redact="off") as cap:
        record = responses_record(cap, stored_prompt_response(), streamed, prompt={"id": "pmpt_1"})
    text = json.dumps(record)
    assert TUTOR not in text and "Never use English" not in text
    assert record["system"] is None
    assert record["output"]["prompt"] == {"id": "pmpt_1", "version": "7"}
    assert record["output"]["moderation"][0]["categories"] == ["hate"]
    assert record["output"]["cache_diagnostics"] == DIAGNOSTICS
