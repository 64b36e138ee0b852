"""A plain call's HTTP response is not kept alive for the writer.

The record reads the headers of the response a plain call's answer was parsed from; only
those are kept until the writer gets to the call. The whole response (its request, body
and stream) waiting in the queue would be many more objects for the app's garbage
collector to walk at every collection while the writer is behind.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pydantic
import pytest

import anthropic_fakes as afake
import openai_fakes as ofake
from llmlog import _pipeline
from llmlog.testing import capture_records
from support.blocked_sink import BlockedSink, logging_to


@pytest.fixture
def stuck_writer() -> Iterator[BlockedSink]:
    with logging_to(BlockedSink(), redact="off") as sink:
        yield sink


Handler = Callable[[httpx2.Request], httpx2.Response]


def _answering(body: dict[str, Any], kept: list[weakref.ref[httpx2.Response]]) -> Handler:
    def answer(request: httpx2.Request) -> httpx2.Response:
        headers = {
            "x-request-id": "req_1",
            "request-id": "req_1",
            "x-ratelimit-limit-requests": "9",
        }
        response = httpx2.Response(200, json=body, headers=headers)
        kept.append(weakref.ref(response))
        return response

    return answer


def _openai_call(handler: Handler) -> Any:
    messages = [{"role": "user", "content": "hi"}]
    return ofake.sync_client(handler).chat.completions.create(model="gpt-4o", messages=messages)  # type: ignore[arg-type]


def _anthropic_call(handler: Handler) -> Any:
    client = afake.sync_client(handler)
    return client.messages.create(model=afake.MODEL, max_tokens=5, messages=afake.user())


CALLS: dict[str, tuple[Callable[[Handler], Any], dict[str, Any]]] = {
    "openai": (_openai_call, ofake.chat_completion("A")),
    "anthropic": (_anthropic_call, afake.message()),
}


@pytest.mark.parametrize("provider", CALLS)
def test_a_queued_call_keeps_only_its_headers(stuck_writer: BlockedSink, provider: str) -> None:
    call, body = CALLS[provider]
    first: list[weakref.ref[httpx2.Response]] = []
    call(_answering(body, first))
    assert stuck_writer.writing.wait(10)  # the writer is stuck on the first record
    queued: list[weakref.ref[httpx2.Response]] = []
    answer = call(_answering(body, queued))
    gc.collect()
    assert answer is not None and queued[0]() is None  # the app dropped the response
    stuck_writer.release.set()
    assert _pipeline.flush(10)
    assert b'"x-ratelimit-limit-requests":"9"' in stuck_writer.lines[-1]  # its headers kept
    assert b'"request_id":"req_1"' in stuck_writer.lines[-1]


def test_a_format_class_made_per_call_is_not_kept_alive() -> None:
    """``response_format=`` a class the app makes per call (``pydantic.create_model``): the
    record describes it, and once the call is written nothing of llmlog keeps it alive."""
    answer = httpx2.Response(200, json=ofake.chat_completion('{"name": "Oslo"}'))
    client = ofake.sync_client(lambda request: answer)
    made: list[weakref.ref[type]] = []
    with capture_records(redact="off") as cap:
        for n in range(3):
            city = pydantic.create_model(f"City{n}", name=(str, ...))
            made.append(weakref.ref(city))
            messages = [{"role": "user", "content": "a city"}]
            client.chat.completions.parse(model="gpt-4o", messages=messages, response_format=city)  # type: ignore[arg-type]
            del city
        described = [r["params"]["response_format"]["class"] for r in cap.calls]
    gc.collect()
    assert described == [f"{__name__}.City{n}" for n in range(3)]
    assert [reference() for reference in made] == [None, None, None]
