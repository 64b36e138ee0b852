"""A resumed Responses stream (``retrieve(stream=True)``, ``responses.stream(response_id=)``):
its request names no model, so its record takes ``model``, ``system`` and the params it ran
with from the stream's last response, as a background poll's record does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import llmlog.testing
import openai_fakes as fakes
from llmlog.testing import CapturedRecords

RAN_WITH = {"instructions": "Be terse.", "temperature": 0.3, "background": True}
"""What the stored response says it ran with (its create is not this process's)."""


@pytest.fixture
def llm() -> Iterator[CapturedRecords]:
    with llmlog.testing.capture_records(redact="off") as cap:
        yield cap


def events(*, complete: bool = True) -> list[dict[str, Any]]:
    found = fakes.response_events(complete=complete)
    for event in found:
        if "response" in event:
            event["response"] |= RAN_WITH
    return found


def resuming(*, complete: bool = True) -> fakes.FakeOpenAI:
    """GET /responses/{id}?stream=true: the response's events again; POST: a new stream."""
    return fakes.FakeOpenAI(
        routes={
            "/responses": lambda _: fakes.sse_response(
                events(complete=complete), named=True, done=False
            )
        }
    )


def assert_ran_with(record: dict[str, Any]) -> None:
    assert record["model"] == fakes.SERVED_MODEL
    assert record["system"] == "Be terse."
    assert record["params"]["temperature"] == 0.3 and record["params"]["background"] is True


class TestResumedStreams:
    def test_retrieve_stream_takes_them_from_the_final_response(self, llm: CapturedRecords) -> None:
        """``retrieve(id, stream=True, starting_after=2)``: model, system and params as the
        response ran; ``starting_after``, which the app sent, stays."""
        client = fakes.sync_client(resuming())
        list(client.responses.retrieve(fakes.RESPONSE_ID, stream=True, starting_after=2))
        [record] = llm.calls
        assert record["method"] == "responses.retrieve"
        assert_ran_with(record)
        assert record["params"]["starting_after"] == 2

    def test_the_stream_helper_resuming_a_response(self, llm: CapturedRecords) -> None:
        """``responses.stream(response_id=...)``: recorded as the helper, filled the same."""
        client = fakes.sync_client(resuming())
        with client.responses.stream(response_id=fakes.RESPONSE_ID, starting_after=1) as stream:
            stream.until_done()
        [record] = llm.calls
        assert record["method"] == "responses.stream"
        assert_ran_with(record)
        assert record["params"]["response_id"] == fakes.RESPONSE_ID

    async def test_async_twins(self, llm: CapturedRecords) -> None:
        """The same through ``AsyncOpenAI``: ``retrieve(stream=True)`` and the helper."""
        client = fakes.async_client(resuming())
        async for _event in await client.responses.retrieve(fakes.RESPONSE_ID, stream=True):
            pass
        async with client.responses.stream(response_id=fakes.RESPONSE_ID) as stream:
            await stream.until_done()
        retrieved, helped = llm.calls
        assert (retrieved["method"], helped["method"]) == ("responses.retrieve", "responses.stream")
        assert_ran_with(retrieved)
        assert_ran_with(helped)

    def test_a_stream_cut_short_takes_them_from_its_latest_response(
        self, llm: CapturedRecords
    ) -> None:
        """No terminal event: the ``response.created`` event's response says it as well."""
        client = fakes.sync_client(resuming(complete=False))
        list(client.responses.retrieve(fakes.RESPONSE_ID, stream=True))
        [record] = llm.calls
        assert_ran_with(record)

    def test_a_new_stream_keeps_its_request_fields(self, llm: CapturedRecords) -> None:
        """``create(stream=True)``: the request says what was asked; nothing is added from
        the response (its defaults were not sent)."""
        client = fakes.sync_client(resuming())
        list(client.responses.create(model="gpt-4o", input="Hi", stream=True))
        [record] = llm.calls
        assert (record["model"], record["system"]) == ("gpt-4o", None)
        assert "temperature" not in record["params"] and "background" not in record["params"]


async def test_an_async_helper_replay_is_not_priced_again(llm: CapturedRecords) -> None:
    """The async ``responses.stream(response_id=...)`` passes the id positionally and no
    ``starting_after``: still a replay of a response priced in an earlier record."""
    client = fakes.async_client(resuming())
    for _ in range(2):
        async with client.responses.stream(response_id=fakes.RESPONSE_ID) as stream:
            await stream.until_done()
    first, replay = llm.calls
    assert first["cost_usd"]
    assert not replay["cost_usd"] and replay["price_source"].startswith("not billed again")
