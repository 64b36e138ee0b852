"""The record's request is what went over the wire, however the app gave its arguments."""

from __future__ import annotations

import collections
import datetime
from collections.abc import Iterator
from typing import Any

import pydantic
import pytest

import anthropic_fakes as afake
import llmlog.testing
import openai_fakes as ofake
from llmlog.testing import CapturedRecords


@pytest.fixture
def cap() -> Iterator[CapturedRecords]:
    with llmlog.testing.capture_records(redact="off") as captured:
        yield captured


def test_sdk_objects_passed_back_are_recorded_as_sent_not_as_changed_later(
    cap: CapturedRecords,
) -> None:
    """The tool-use loop shape: the previous answer's content blocks go back as history.
    The app changing those objects after the call does not change the record."""
    sent: list[Any] = []
    client = afake.sync_client(afake.json_handler(afake.message(), seen=sent))
    previous = client.messages.create(model=afake.MODEL, max_tokens=5, messages=afake.user())
    history = [
        *afake.user("q"),
        {"role": "assistant", "content": previous.content},
        *afake.user("more"),
    ]
    client.messages.create(model=afake.MODEL, max_tokens=5, messages=history)
    previous.content[0].text = "rewritten after the call"  # type: ignore[union-attr]
    record = cap.calls[1]
    assert record["messages"] == sent[1]["messages"]
    assert record["messages"][1]["content"][0]["text"] == "Hello there."


def test_openai_objects_are_recorded_with_the_fields_the_sdk_sends(
    cap: CapturedRecords,
) -> None:
    """An answer's message passed back keeps its explicit nulls (the SDK sends the fields
    that were set), and a parsed answer keeps a null field."""
    fake = ofake.default_fake()
    client = ofake.sync_client(fake)
    answer = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "x"}]
    )
    history = [{"role": "user", "content": "x"}, answer.choices[0].message]
    client.chat.completions.create(model="gpt-4o", messages=history)
    assert cap.calls[1]["messages"] == fake.bodies()[1]["messages"]
    assert cap.calls[1]["messages"][1]["refusal"] is None


def test_messages_in_any_collection_are_recorded(cap: CapturedRecords) -> None:
    """``dict.values()`` or a set of one message: the SDK sends the items, the record has them."""
    fake = ofake.default_fake()
    client = ofake.sync_client(fake)
    by_id = {"m1": {"role": "user", "content": "from a dict view"}}
    client.chat.completions.create(model="gpt-4o", messages=by_id.values())
    assert cap.calls[0]["messages"] == fake.bodies()[0]["messages"]
    assert cap.calls[0]["messages"][0]["content"] == "from a dict view"


def test_arrays_and_mappings_are_recorded_as_sent_not_as_changed_later(
    cap: CapturedRecords,
) -> None:
    """A numpy array as embeddings input (``df.text.values``) is its items, not numpy's
    abbreviated repr; a ``UserDict`` or ``MappingProxyType`` message is copied, not kept by
    reference; a ``datetime`` in metadata is the text the SDK sends."""
    numpy = pytest.importorskip("numpy")
    fake = ofake.default_fake()
    client = ofake.sync_client(fake)
    documents = numpy.array([f"doc {i}" for i in range(2000)], dtype=object)
    client.embeddings.create(model="text-embedding-3-small", input=documents)
    documents[1000] = "changed after the call"
    message = collections.UserDict({"role": "user", "content": "as sent"})
    when = datetime.datetime(2024, 1, 2, 3, 4, 5)
    client.chat.completions.create(
        model="gpt-4o",
        messages=[message],
        metadata={"requested_at": when},  # type: ignore[list-item, dict-item]
    )
    message["content"] = "changed after the call"
    embedded, chat = cap.calls
    sent = fake.bodies()
    assert embedded["messages"] == [{"role": "user", "content": f"doc {i}"} for i in range(2000)]
    assert sent[0]["input"][1000] == "doc 1000"
    assert chat["messages"] == sent[1]["messages"] == [{"role": "user", "content": "as sent"}]
    assert chat["params"]["metadata"] == sent[1]["metadata"] == {"requested_at": when.isoformat()}


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_extra_body_is_recorded_as_the_values_sent(cap: CapturedRecords, provider: str) -> None:
    """``extra_body`` overrides and adds to the body: model, prompt and params say what was
    sent, not what the arguments said (a gateway rewriting requests, anthropic 2.x's
    sampling settings)."""
    override = {
        "model": "model-actually-sent",
        "temperature": 0.7,
        "messages": [{"role": "user", "content": "sent instead"}],
        "vendor_flag": True,
    }
    if provider == "openai":
        fake = ofake.default_fake()
        ofake.sync_client(fake).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "x"}], extra_body=override
        )
        [sent] = fake.bodies()
    else:
        seen: list[Any] = []
        client = afake.sync_client(afake.json_handler(afake.message(), seen=seen))
        client.messages.create(
            model=afake.MODEL, max_tokens=5, messages=afake.user("x"), extra_body=override
        )
        [sent] = seen
    [record] = cap.calls
    assert (record["model"], record["messages"]) == (sent["model"], sent["messages"])
    assert record["params"]["temperature"] == sent["temperature"] == 0.7
    assert record["params"]["vendor_flag"] is True
    assert "extra_body" not in record["params"]


def test_extra_body_not_given_leaves_the_argument_as_sent(cap: CapturedRecords) -> None:
    """The SDK leaves ``NOT_GIVEN`` values of ``extra_body`` out: the argument given beside
    it is still sent, and recorded (``omit`` removes it, from both)."""
    import openai

    fake = ofake.default_fake()
    client = ofake.sync_client(fake)
    for extra in ({"temperature": openai.NOT_GIVEN}, {"temperature": openai.omit}):
        client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "x"}],
            temperature=0.1,
            extra_body=extra,
        )
    kept, omitted = cap.calls
    assert kept["params"].get("temperature") == fake.bodies()[0].get("temperature") == 0.1
    assert "temperature" not in omitted["params"] and "temperature" not in fake.bodies()[1]


class Weather(pydantic.BaseModel):
    city: str
    note: str | None = None


def test_a_format_class_is_recorded_with_the_schema_the_sdk_sent(cap: CapturedRecords) -> None:
    """``parse(response_format=Class)``, ``responses.parse(text_format=...)`` and Anthropic's
    ``output_format``: the class's name and the schema as sent (the SDKs' strict or
    transformed form, not pydantic's own)."""
    answer = '{"city": "Paris"}'
    fake = ofake.FakeOpenAI(
        routes={
            "/chat/completions": lambda body: ofake.json_response(ofake.chat_completion(answer)),
            "/responses": lambda body: ofake.json_response(ofake.response_object(answer)),
        }
    )
    client = ofake.sync_client(fake)
    user = [{"role": "user", "content": "w"}]
    client.chat.completions.parse(model="gpt-4o", messages=user, response_format=Weather)
    client.responses.parse(model="gpt-4o", input="w", text_format=Weather)
    seen: list[Any] = []
    aclient = afake.sync_client(afake.json_handler(afake.message(answer), seen=seen))
    aclient.messages.parse(
        model=afake.MODEL, max_tokens=5, messages=afake.user(), output_format=Weather
    )
    chat, responses, anthropic = cap.calls
    chat_sent, responses_sent = fake.bodies()
    assert chat["params"]["response_format"] == {
        "class": f"{__name__}.Weather",
        "json_schema": chat_sent["response_format"]["json_schema"]["schema"],
    }
    assert (
        responses["params"]["text_format"]["json_schema"]
        == responses_sent["text"]["format"]["schema"]
    )
    sent_schema = seen[0]["output_config"]["format"]["schema"]
    assert anthropic["params"]["output_format"]["json_schema"] == sent_schema


def test_sdk_objects_are_dumped_with_their_wire_names_and_without_local_fields(
    cap: CapturedRecords,
) -> None:
    """Anthropic's aliased fields (``from_`` is sent as ``from``); OpenAI's parsed Responses
    items leave out what the SDK never sends (``parsed_arguments``)."""
    from anthropic.types.beta import BetaFallbackBlock
    from openai.types.responses import ParsedResponseFunctionToolCall

    block = BetaFallbackBlock.model_validate(
        {
            "type": "fallback",
            "from": {"model": "a"},
            "to": {"model": "b"},
            "trigger": {"type": "refusal"},
        }
    )
    seen: list[Any] = []
    client = afake.sync_client(afake.json_handler(afake.message(), seen=seen))
    history = [*afake.user(), {"role": "assistant", "content": [block]}, *afake.user("go on")]
    client.beta.messages.create(model=afake.MODEL, max_tokens=5, messages=history)
    call = ParsedResponseFunctionToolCall(
        type="function_call", call_id="c1", name="f", arguments='{"x":1}', parsed_arguments={"x": 1}
    )
    fake = ofake.default_fake()
    ofake.sync_client(fake).responses.create(model="gpt-4.1", input=[call])
    anthropic_record, openai_record = cap.calls
    assert anthropic_record["messages"] == seen[0]["messages"]
    assert openai_record["messages"] == fake.bodies()[0]["input"]
