"""What the HTTP exchange says about a call: the SDK's retries (``attempts``, ``retried``),
allow-listed response headers, and a base URL's port (``server_port``).

Real SDK clients over ``httpx2.MockTransport``; the SDKs' backoff is made instant (a
failed attempt answers ``retry-after-ms: 1``, and a refused connection has none).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any
from unittest.mock import ANY

import anthropic
import httpx2
import jsonschema
import openai
import pytest

import anthropic_fakes as afake
import openai_fakes as ofake
from llmlog.testing import CapturedRecords, capture_records

SCHEMA = json.loads(resources.files("llmlog").joinpath("record.schema.json").read_text())

RATE_HEADERS = {
    "x-ratelimit-remaining-requests": "3",
    "X-RateLimit-Reset-Tokens": "6m0s",
    "anthropic-ratelimit-tokens-remaining": "100",
    "openai-processing-ms": "1234",
    "openai-organization": "org-acme",
    "openai-project": "proj_billed",
    "retry-after": "20",
}
NEVER_KEPT = {
    "set-cookie": "session=secret-cookie-value",
    "x-envoy-upstream-service-time": "12",
    "openai-version": "2020-10-01",
    "cf-ray": "8a1b2c3d",
}
KEPT = {name.lower(): value for name, value in RATE_HEADERS.items()}
CHAT = ofake.chat_completion("A")
ASK = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
MESSAGE = {"model": afake.MODEL, "max_tokens": 5, "messages": afake.user()}

Answer = Callable[[httpx2.Request], httpx2.Response]


@pytest.fixture(autouse=True)
def instant_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    for base in (openai._base_client, anthropic._base_client):
        for client in (base.SyncAPIClient, base.AsyncAPIClient):
            monkeypatch.setattr(client, "_calculate_retry_timeout", lambda *_a, **_k: 0.0)


@pytest.fixture
def cap() -> Iterator[CapturedRecords]:
    with capture_records(redact="off") as captured:
        yield captured


def one_record(cap: CapturedRecords) -> dict[str, Any]:
    [record] = cap.calls
    jsonschema.validate(record, SCHEMA)
    return record


def answers(*steps: Answer, seen: list[str | None] | None = None) -> Answer:
    """A transport answering each request with the next step (the last one repeats);
    ``seen`` gets each request's ``x-stainless-retry-count``."""
    queue = list(steps)

    def handle(request: httpx2.Request) -> httpx2.Response:
        if seen is not None:
            seen.append(request.headers.get("x-stainless-retry-count"))
        step = queue.pop(0) if len(queue) > 1 else queue[0]
        return step(request)

    return handle


def openai_ok(request: httpx2.Request) -> httpx2.Response:
    headers = {"x-request-id": "req_ok", **RATE_HEADERS, **NEVER_KEPT}
    return httpx2.Response(200, json=CHAT, headers=headers)


def openai_stream_ok(request: httpx2.Request) -> httpx2.Response:
    response = ofake.sse_response(ofake.chat_chunks(), request_id="req_ok")
    response.headers.update({**RATE_HEADERS, **NEVER_KEPT})
    return response


def openai_429(request_id: str) -> Answer:
    def answer(request: httpx2.Request) -> httpx2.Response:
        body = {"error": {"message": "Rate limit reached", "type": "requests", "code": "rl"}}
        headers = {"x-request-id": request_id, "retry-after-ms": "1", **NEVER_KEPT}
        headers["x-ratelimit-remaining-requests"] = "0"
        return httpx2.Response(429, json=body, headers=headers)

    return answer


def anthropic_ok(request: httpx2.Request) -> httpx2.Response:
    headers = {"request-id": "req_ok", **RATE_HEADERS, **NEVER_KEPT}
    return httpx2.Response(200, json=afake.message(), headers=headers)


def anthropic_stream_ok(request: httpx2.Request) -> httpx2.Response:
    headers = {"request-id": "req_ok", "content-type": "text/event-stream", **RATE_HEADERS}
    return httpx2.Response(200, content=afake.sse_body(afake.stream_events()), headers=headers)


def anthropic_529(request_id: str) -> Answer:
    def answer(request: httpx2.Request) -> httpx2.Response:
        body = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
        headers = {"request-id": request_id, "retry-after-ms": "1", **NEVER_KEPT}
        return httpx2.Response(529, json=body, headers=headers)

    return answer


def refused(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ConnectError("connection refused", request=request)


def twice_failed(fail: Callable[[str], Answer], then: Answer) -> Answer:
    return answers(fail("req_fail_1"), fail("req_fail_2"), then)


def assert_retried_twice(record: dict[str, Any], status: int) -> None:
    assert record["attempts"] == 3
    assert [without_times(attempt) for attempt in record["retried"]] == [
        {"status_code": status, "request_id": "req_fail_1", "error": None, "message": ANY},
        {"status_code": status, "request_id": "req_fail_2", "error": None, "message": ANY},
    ]


def without_times(attempt: dict[str, Any]) -> dict[str, Any]:
    """A retried attempt without its ``backoff_ms`` (a measured time)."""
    assert isinstance(attempt.pop("backoff_ms"), float)
    return attempt


class TestOpenAIRetries:
    def test_a_call_retried_twice_says_so(self, cap: CapturedRecords) -> None:
        seen: list[str | None] = []
        handler = answers(openai_429("req_fail_1"), openai_429("req_fail_2"), openai_ok, seen=seen)
        ofake.sync_client(handler, max_retries=3).chat.completions.create(**ASK)
        assert seen == ["0", "1", "2"]
        record = one_record(cap)
        assert record["request_id"] == "req_ok"
        assert_retried_twice(record, 429)
        assert record["response_headers"] == KEPT  # the answer's own, not a failed one's

    async def test_an_async_call_retried_twice_says_so(self, cap: CapturedRecords) -> None:
        handler = twice_failed(openai_429, openai_ok)
        await ofake.async_client(handler, max_retries=3).chat.completions.create(**ASK)
        record = one_record(cap)
        assert_retried_twice(record, 429)
        assert record["response_headers"] == KEPT

    def test_a_call_not_retried_made_one_attempt(self, cap: CapturedRecords) -> None:
        ofake.sync_client(openai_ok, max_retries=3).chat.completions.create(**ASK)
        record = one_record(cap)
        assert (record["attempts"], record["retried"]) == (1, None)
        assert record["response_headers"] == KEPT

    def test_the_error_after_the_last_retry(self, cap: CapturedRecords) -> None:
        client = ofake.sync_client(twice_failed(openai_429, openai_429("req_fail_3")))
        with pytest.raises(openai.RateLimitError):
            client.with_options(max_retries=2).chat.completions.create(**ASK)
        record = one_record(cap)
        assert record["request_id"] == "req_fail_3"
        assert_retried_twice(record, 429)
        assert record["response_headers"] == {
            "retry-after-ms": "1",
            "x-ratelimit-remaining-requests": "0",
        }

    def test_a_refused_connection_is_a_failed_attempt(self, cap: CapturedRecords) -> None:
        ofake.sync_client(answers(refused, openai_ok), max_retries=1).chat.completions.create(**ASK)
        record = one_record(cap)
        assert record["attempts"] == 2
        assert [without_times(attempt) for attempt in record["retried"]] == [
            {
                "status_code": None,
                "request_id": None,
                "error": "ConnectError",
                "message": "connection refused",
            }
        ]

    def test_a_raw_response_call(self, cap: CapturedRecords) -> None:
        client = ofake.sync_client(twice_failed(openai_429, openai_ok), max_retries=2)
        raw = client.chat.completions.with_raw_response.create(**ASK)
        assert raw.retries_taken == 2
        record = one_record(cap)
        assert_retried_twice(record, 429)
        assert record["response_headers"] == KEPT

    def test_a_stream(self, cap: CapturedRecords) -> None:
        client = ofake.sync_client(twice_failed(openai_429, openai_stream_ok), max_retries=2)
        list(client.chat.completions.create(**ASK, stream=True))
        record = one_record(cap)
        assert record["request_id"] == "req_ok"
        assert_retried_twice(record, 429)
        assert record["response_headers"] == KEPT

    async def test_an_async_stream(self, cap: CapturedRecords) -> None:
        client = ofake.async_client(twice_failed(openai_429, openai_stream_ok), max_retries=2)
        async for _chunk in await client.chat.completions.create(**ASK, stream=True):
            pass
        record = one_record(cap)
        assert_retried_twice(record, 429)
        assert record["response_headers"] == KEPT


class TestAnthropicRetries:
    def test_a_call_retried_twice_says_so(self, cap: CapturedRecords) -> None:
        client = afake.sync_client(twice_failed(anthropic_529, anthropic_ok), max_retries=3)
        client.messages.create(**MESSAGE)
        record = one_record(cap)
        assert record["request_id"] == "req_ok"
        assert_retried_twice(record, 529)
        assert record["response_headers"] == KEPT

    async def test_an_async_call_retried_twice_says_so(self, cap: CapturedRecords) -> None:
        client = afake.async_client(twice_failed(anthropic_529, anthropic_ok), max_retries=3)
        await client.messages.create(**MESSAGE)
        record = one_record(cap)
        assert_retried_twice(record, 529)
        assert record["response_headers"] == KEPT

    def test_the_error_after_the_last_retry(self, cap: CapturedRecords) -> None:
        client = afake.sync_client(twice_failed(anthropic_529, anthropic_529("req_fail_3")))
        with pytest.raises(anthropic.InternalServerError):
            client.with_options(max_retries=2).messages.create(**MESSAGE)
        record = one_record(cap)
        assert record["request_id"] == "req_fail_3"
        assert_retried_twice(record, 529)
        assert record["response_headers"] == {"retry-after-ms": "1"}

    async def test_an_async_error_after_the_last_retry(self, cap: CapturedRecords) -> None:
        client = afake.async_client(twice_failed(anthropic_529, anthropic_529("req_fail_3")))
        with pytest.raises(anthropic.InternalServerError):
            await client.with_options(max_retries=2).messages.create(**MESSAGE)
        assert_retried_twice(one_record(cap), 529)

    def test_a_raw_response_call(self, cap: CapturedRecords) -> None:
        client = afake.sync_client(twice_failed(anthropic_529, anthropic_ok), max_retries=2)
        client.messages.with_raw_response.create(**MESSAGE)
        record = one_record(cap)
        assert_retried_twice(record, 529)
        assert record["response_headers"] == KEPT

    def test_a_stream(self, cap: CapturedRecords) -> None:
        client = afake.sync_client(twice_failed(anthropic_529, anthropic_stream_ok), max_retries=2)
        list(client.messages.create(**MESSAGE, stream=True))
        record = one_record(cap)
        assert_retried_twice(record, 529)
        assert record["response_headers"] == KEPT

    def test_the_stream_helper(self, cap: CapturedRecords) -> None:
        client = afake.sync_client(twice_failed(anthropic_529, anthropic_stream_ok), max_retries=2)
        with client.messages.stream(**MESSAGE) as stream:
            stream.get_final_message()
        record = one_record(cap)
        assert_retried_twice(record, 529)
        assert record["response_headers"] == KEPT

    async def test_the_async_stream_helper(self, cap: CapturedRecords) -> None:
        handler = twice_failed(anthropic_529, anthropic_stream_ok)
        client = afake.async_client(handler, max_retries=2)
        async with client.messages.stream(**MESSAGE) as stream:
            await stream.get_final_message()
        record = one_record(cap)
        assert_retried_twice(record, 529)
        assert record["response_headers"] == KEPT


class TestResponseHeaders:
    def test_none_of_the_allowed_ones_is_null(self, cap: CapturedRecords) -> None:
        def plain(request: httpx2.Request) -> httpx2.Response:
            return httpx2.Response(200, json=CHAT, headers=NEVER_KEPT)

        ofake.sync_client(plain).chat.completions.create(**ASK)
        assert one_record(cap)["response_headers"] is None

    def test_other_headers_never_appear_in_the_record(self, cap: CapturedRecords) -> None:
        ofake.sync_client(openai_ok).chat.completions.create(**ASK)
        afake.sync_client(anthropic_ok).messages.create(**MESSAGE)
        for record in cap.calls:
            line = json.dumps(record)
            assert "secret-cookie-value" not in line
            assert not any(name in line for name in NEVER_KEPT)


class TestServerPort:
    @pytest.mark.parametrize(
        ("base_url", "port"),
        [
            ("http://localhost:8001/v1", 8001),
            ("https://gateway.example.com:8443/v1", 8443),
            ("https://api.openai.com/v1", None),
            ("https://api.openai.com:443/v1", None),
            ("http://localhost:80/v1", None),
        ],
    )
    def test_only_a_port_that_is_not_the_default(
        self, cap: CapturedRecords, base_url: str, port: int | None
    ) -> None:
        ofake.sync_client(openai_ok, base_url=base_url).chat.completions.create(**ASK)
        record = one_record(cap)
        assert record["server_port"] == port

    def test_anthropic_too(self, cap: CapturedRecords) -> None:
        client = afake.sync_client(anthropic_ok, base_url="http://127.0.0.1:9090")
        client.messages.create(**MESSAGE)
        record = one_record(cap)
        assert (record["server_address"], record["server_port"]) == ("127.0.0.1", 9090)

    def test_the_port_the_call_went_to(self, cap: CapturedRecords) -> None:
        """A client pointed at another port while its stream is read: the record keeps
        the port the call was sent to, as it keeps the host."""
        client = ofake.sync_client(openai_stream_ok, base_url="http://localhost:8001/v1")
        stream = client.chat.completions.create(**ASK, stream=True)
        client.base_url = "http://localhost:9002/v1"  # type: ignore[assignment]
        list(stream)
        record = one_record(cap)
        assert (record["server_address"], record["server_port"]) == ("localhost", 8001)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_the_patched_sdk_methods_exist(provider: str) -> None:
    """A future SDK that renames ``_sleep_for_retry`` or ``APIResponse.parse`` fails here,
    not quietly in the records."""
    import importlib

    from llmlog.instrumentors import anthropic as anthropic_rows
    from llmlog.instrumentors import openai as openai_rows

    rows = (openai_rows if provider == "openai" else anthropic_rows).PROVIDER.helpers
    wanted = [r for r in rows if r.qualname.endswith(("._sleep_for_retry", "Response.parse"))]
    assert len(wanted) == 4
    for row in wanted:
        cls, name = row.qualname.split(".")
        assert name in vars(getattr(importlib.import_module(row.module), cls)), row
