"""Anthropic's prompt-cache diagnostics (asked for with ``diagnostics=``): why the cache
missed is what explains a cost jump, so the record keeps it as ``output.cache_diagnostics``."""

from __future__ import annotations

from typing import Any

import anthropic_fakes as afake
from llmlog.testing import capture_records

DIAGNOSTICS = {
    "cache_miss_reason": {"type": "tools_changed", "cache_missed_input_tokens": 800},
}


def _started_with_diagnostics() -> list[dict[str, Any]]:
    events = afake.stream_events()
    events[0]["message"]["diagnostics"] = DIAGNOSTICS
    return events


def test_a_message_keeps_them() -> None:
    client = afake.sync_client(afake.json_handler(afake.message(diagnostics=DIAGNOSTICS)))
    with capture_records() as cap:
        client.messages.create(model=afake.MODEL, max_tokens=10, messages=afake.user())
    [record] = cap.calls
    assert record["output"]["cache_diagnostics"] == DIAGNOSTICS


def test_none_asked_none_kept() -> None:
    client = afake.sync_client(afake.json_handler(afake.message()))
    with capture_records() as cap:
        client.messages.create(model=afake.MODEL, max_tokens=10, messages=afake.user())
    assert "cache_diagnostics" not in cap.calls[0]["output"]


def test_streams_keep_them_from_message_start() -> None:
    client = afake.sync_client(afake.sse_handler(_started_with_diagnostics()))
    with capture_records() as cap:
        for _ in client.messages.create(
            model=afake.MODEL, max_tokens=10, messages=afake.user(), stream=True
        ):
            pass
        with client.messages.stream(
            model=afake.MODEL, max_tokens=10, messages=afake.user()
        ) as stream:
            stream.get_final_message()
    assert [r["output"]["cache_diagnostics"] for r in cap.calls] == [DIAGNOSTICS] * 2


async def test_async_stream_keeps_them() -> None:
    client = afake.async_client(afake.sse_handler(_started_with_diagnostics()))
    with capture_records() as cap:
        stream = await client.messages.create(
            model=afake.MODEL, max_tokens=10, messages=afake.user(), stream=True
        )
        async for _ in stream:
            pass
    assert cap.calls[0]["output"]["cache_diagnostics"] == DIAGNOSTICS
