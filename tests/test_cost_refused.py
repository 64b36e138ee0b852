"""A call the provider refused with an HTTP error, reporting no usage, cost nothing: its
record says so (0, ``not billed``) instead of leaving it unpriced, as ``stats`` and
``check`` count it; a call that failed without an answer may have been billed."""

from __future__ import annotations

import anthropic
import httpx2
import openai
import pytest

import anthropic_fakes as afake
import openai_fakes as ofake
from llmlog.testing import capture_records

ASK = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("status", [400, 429, 500])
def test_an_openai_http_error_is_not_billed(status: int) -> None:
    client = ofake.sync_client(
        lambda request: ofake.json_response(ofake.error_body(), status=status)
    )
    with capture_records() as cap, pytest.raises(openai.APIStatusError):
        client.chat.completions.create(**ASK)
    [record] = cap.calls
    assert record["cost_usd"] == 0
    assert record["price_source"] == f"not billed: the provider refused the call (HTTP {status})"


def test_an_anthropic_overload_is_not_billed() -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    client = afake.sync_client(lambda request: httpx2.Response(529, json=body))
    with capture_records() as cap, pytest.raises(anthropic.APIStatusError):
        client.messages.create(model=afake.MODEL, max_tokens=5, messages=afake.user())
    [record] = cap.calls
    assert (record["cost_usd"], record["price_source"]) == (
        0,
        "not billed: the provider refused the call (HTTP 529)",
    )


def test_a_call_that_got_no_answer_stays_unpriced() -> None:
    """A timeout or a dropped connection: the provider may have run (and billed) it."""

    def no_answer(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ReadTimeout("timed out", request=request)

    client = ofake.sync_client(no_answer)
    with capture_records() as cap, pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(**ASK)
    [record] = cap.calls
    assert record["cost_usd"] is None
    assert record["price_source"].startswith("unpriced")
