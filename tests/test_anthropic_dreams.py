"""Dreams end to end: real ``anthropic`` clients against the fake ``/v1/dreams`` in
``anthropic_agent_fake``. ``create`` is a metadata record; the job is one record with its
usage the first time the app sees it finished, however it looks (retrieve, list, cancel).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import anthropic
import pytest

import anthropic_agent_fake as fake
import llmlog.testing
from llmlog.instrumentors import _anthropic_dreams as dreams
from llmlog.testing import CapturedRecords


@pytest.fixture(autouse=True)
def fresh_dream_ids() -> None:
    """The fake reuses dream ids; in production they are unique."""
    dreams._recorded.clear()


@pytest.fixture
def cap() -> Iterator[CapturedRecords]:
    with llmlog.testing.capture_records(disabled_providers=("openai",)) as captured:
        yield captured


def create(client: anthropic.Anthropic) -> object:
    return client.beta.dreams.create(
        model={"id": fake.MODEL, "speed": "standard"},
        instructions="Merge duplicate memories.",
        inputs=[{"type": "sessions", "session_ids": [fake.SESSION]}],
    )


def test_create_is_a_metadata_record(cap: CapturedRecords) -> None:
    created = create(fake.sync_client(fake.FakeDreams()))
    assert isinstance(created, anthropic.types.beta.BetaDream)
    (record,) = cap.calls
    assert (record["operation"], record["method"]) == ("dreams.create", "beta.dreams.create")
    assert (record["model"], record["system"]) == (fake.MODEL, "Merge duplicate memories.")
    assert record["params"]["inputs"] == [{"type": "sessions", "session_ids": [fake.SESSION]}]
    assert record["params"]["speed"] == "standard"
    assert (record["response_id"], record["output"]["dream_status"]) == ("dream_011Test", "pending")
    assert (record["usage"], record["cost_usd"]) == (None, None)


def test_the_finished_job_is_one_record_when_first_seen(cap: CapturedRecords) -> None:
    client = fake.sync_client(fake.FakeDreams(["pending", "running", "completed"]))
    statuses = [client.beta.dreams.retrieve("dream_011Test").status for _ in range(4)]
    assert statuses == ["pending", "running", "completed", "completed"]
    (record,) = cap.calls
    assert (record["operation"], record["method"]) == ("dreams", "beta.dreams.retrieve")
    assert (record["status"], record["model"]) == ("ok", fake.MODEL)
    assert record["usage"]["input_tokens"] == 1_000
    assert record["usage"]["output_tokens"] == 200
    assert record["cost_usd"] > 0
    assert record["latency_ms"] == 90_000  # created to ended, by the server's clock
    assert record["ts"] == "2026-11-23T12:00:00.000000Z"
    assert record["system"] == "Merge duplicate memories."
    assert record["params"]["outputs"] == [
        {"type": "memory_store", "memory_store_id": "memstore_011New"}
    ]


def test_a_failed_dream_is_an_error_and_a_canceled_one_cancelled(cap: CapturedRecords) -> None:
    client = fake.sync_client(fake.FakeDreams(["failed"]))
    client.beta.dreams.retrieve("dream_failed")
    client.beta.dreams.cancel("dream_canceled")
    records = {r["response_id"]: r for r in cap.calls}
    assert records["dream_failed"]["status"] == "error"
    assert records["dream_failed"]["error"]["type"] == "overloaded_error"
    assert records["dream_failed"]["error"]["message"] == "try later"
    assert (records["dream_canceled"]["status"], records["dream_canceled"]["method"]) == (
        "cancelled",
        "beta.dreams.cancel",
    )


def test_listing_records_the_finished_ones_once(cap: CapturedRecords) -> None:
    listed = [
        fake.dream("dream_a", "completed"),
        fake.dream("dream_b", "running"),
        fake.dream("dream_c", "failed"),
    ]
    client = fake.sync_client(fake.FakeDreams(listed=listed))
    page = client.beta.dreams.list()
    assert isinstance(page, anthropic.pagination.SyncPageCursor)
    assert [d.id for d in page] == ["dream_a", "dream_b", "dream_c"]
    assert [d.id for d in client.beta.dreams.list()] == ["dream_a", "dream_b", "dream_c"]
    client.beta.dreams.retrieve("dream_a")
    assert sorted(r["response_id"] for r in cap.calls) == ["dream_a", "dream_c"]
    assert {r["method"] for r in cap.calls} == {"beta.dreams.list"}


def test_async(cap: CapturedRecords) -> None:
    async def run() -> None:
        listed = [
            fake.dream("dream_a", "completed"),
            fake.dream("dream_b", "completed"),
            fake.dream("dream_c", "completed"),
        ]
        client = fake.async_client(fake.FakeDreams(["completed"], listed=listed))
        await client.beta.dreams.retrieve("dream_r")
        first = await client.beta.dreams.list()
        assert [d.id for d in first.data] == ["dream_a", "dream_b"]
        assert [d.id async for d in client.beta.dreams.list()] == ["dream_a", "dream_b", "dream_c"]

    asyncio.run(run())
    assert sorted(r["response_id"] for r in cap.calls) == [
        "dream_a",
        "dream_b",
        "dream_c",
        "dream_r",
    ]


def test_raw_responses_are_untouched(cap: CapturedRecords) -> None:
    client = fake.sync_client(fake.FakeDreams(["completed"]))
    raw = client.beta.dreams.with_raw_response.retrieve("dream_raw")
    assert isinstance(raw, anthropic._response.APIResponse)
    assert raw.parse().status == "completed"
    assert cap.calls == []
