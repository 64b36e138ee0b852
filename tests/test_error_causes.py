"""Why a call failed, beyond the SDK's words: ``error.cause`` (the exceptions the SDK's
error was raised from), ``error.code`` (the provider's reason), and for each attempt the
SDK retried its error ``message`` and the ``backoff_ms`` it then slept.

Real SDK clients over ``httpx2.MockTransport``; the SDKs' backoff is made instant, but
where a test measures it (a real 50 ms sleep, asserted only as a lower bound).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx2
import openai
import pytest

import anthropic_fakes as afake
import openai_fakes as ofake
from llmlog.testing import CapturedRecords, capture_records
from test_attempts_and_headers import one_record

ASK = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
MESSAGE = {"model": afake.MODEL, "max_tokens": 5, "messages": afake.user()}
DNS = "[Errno -2] Name or service not known"
TLS = "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate"
KEY = "sk-proj-Ab3dE5gH7jK9mN1pQ3sT5vX7zB9dF1hJ3lN5"
TOKEN_URL = f"https://gw.example.com/v1/chat?api_key={KEY}"

Answer = Callable[[httpx2.Request], httpx2.Response]


@pytest.fixture(autouse=True)
def instant_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    backoff(monkeypatch, 0.0)


def backoff(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Every SDK retry sleeps ``seconds``."""
    for base in (openai._base_client, anthropic._base_client):
        for client in (base.SyncAPIClient, base.AsyncAPIClient):
            monkeypatch.setattr(client, "_calculate_retry_timeout", lambda *_a, **_k: seconds)


@pytest.fixture
def cap() -> Iterator[CapturedRecords]:
    with capture_records(redact="off") as captured:
        yield captured


def raising(exc: BaseException) -> Answer:
    def handle(request: httpx2.Request) -> httpx2.Response:
        raise exc

    return handle


def dns_failure() -> httpx2.ConnectError:
    """httpx's error for a failed DNS lookup, raised from the socket's, as httpx raises it."""
    try:
        raise httpx2.ConnectError(DNS) from socket.gaierror(-2, "Name or service not known")
    except httpx2.ConnectError as exc:
        return exc


def answers(*steps: Answer) -> Answer:
    """A transport answering each request with the next step (the last one repeats)."""
    queue = list(steps)

    def handle(request: httpx2.Request) -> httpx2.Response:
        step = queue.pop(0) if len(queue) > 1 else queue[0]
        return step(request)

    return handle


def status(code: int, body: Any, request_id: str = "req_fail") -> Answer:
    headers = {"x-request-id": request_id, "request-id": request_id}
    return lambda _request: httpx2.Response(code, json=body, headers=headers)


def openai_ok(_request: httpx2.Request) -> httpx2.Response:
    return ofake.json_response(ofake.chat_completion("A"), request_id="req_ok")


def anthropic_ok(_request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(200, json=afake.message(), headers={"request-id": "req_ok"})


def failed_openai_call(cap: CapturedRecords, handler: Answer) -> dict[str, Any]:
    with pytest.raises(openai.APIError):
        ofake.sync_client(handler).chat.completions.create(**ASK)
    return one_record(cap)


class TestCause:
    def test_a_failed_dns_lookup_is_the_cause_of_a_connection_error(
        self, cap: CapturedRecords
    ) -> None:
        """The SDK says only "Connection error."; the cause says what failed."""
        error = failed_openai_call(cap, raising(dns_failure()))["error"]
        assert (error["type"], error["message"]) == ("APIConnectionError", "Connection error.")
        assert error["cause"] == [
            {"type": "ConnectError", "message": DNS},
            {"type": "gaierror", "message": DNS},
        ]

    def test_a_refused_certificate_differs_from_a_failed_lookup(self, cap: CapturedRecords) -> None:
        failed_openai_call(cap, raising(httpx2.ConnectError(TLS)))
        [record] = cap.calls
        assert record["error"]["cause"] == [{"type": "ConnectError", "message": TLS}]

    @pytest.mark.parametrize("timeout", [httpx2.ReadTimeout, httpx2.ConnectTimeout])
    async def test_a_read_timeout_differs_from_a_connect_timeout(
        self, cap: CapturedRecords, timeout: type[httpx2.TimeoutException]
    ) -> None:
        client = ofake.async_client(raising(timeout("timed out")))
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(**ASK)
        error = one_record(cap)["error"]
        assert error["message"] == "Request timed out."
        assert error["cause"] == [{"type": timeout.__name__, "message": "timed out"}]

    def test_a_stream_cut_midway(self, cap: CapturedRecords) -> None:
        chunks = ofake.chat_chunks(pieces=("par", "tial"))

        def body() -> Iterator[bytes]:
            for chunk in chunks[:3]:
                yield f"data: {json.dumps(chunk)}\n\n".encode()
            raise httpx2.RemoteProtocolError("peer closed connection")

        headers = {"content-type": "text/event-stream"}
        client = ofake.sync_client(lambda _r: httpx2.Response(200, content=body(), headers=headers))
        with pytest.raises(openai.APIConnectionError):
            for _ in client.chat.completions.create(**ASK, stream=True):
                pass
        record = one_record(cap)
        assert record["output"]["text"] == "partial"
        assert record["error"]["cause"] == [
            {"type": "RemoteProtocolError", "message": "peer closed connection"}
        ]

    def test_anthropic(self, cap: CapturedRecords) -> None:
        with pytest.raises(anthropic.APIConnectionError):
            afake.sync_client(raising(dns_failure())).messages.create(**MESSAGE)
        assert one_record(cap)["error"]["cause"][0] == {"type": "ConnectError", "message": DNS}

    def test_an_error_answer_has_none(self, cap: CapturedRecords) -> None:
        """The SDKs raise a status error ``from None``: nothing caused it but the answer."""
        record = failed_openai_call(cap, status(500, {"error": {"message": "boom"}}))
        assert record["error"]["cause"] is None

    def test_an_answered_call_has_no_error(self, cap: CapturedRecords) -> None:
        ofake.sync_client(openai_ok).chat.completions.create(**ASK)
        assert one_record(cap)["error"] is None

    def test_the_exception_handled_when_it_was_raised(self, cap: CapturedRecords) -> None:
        """Without ``raise ... from``, the exception being handled is the cause."""

        def handle(request: httpx2.Request) -> httpx2.Response:
            try:
                raise OSError("no route to host")
            except OSError:
                raise httpx2.ConnectError("connect failed")  # noqa: B904 - no "from", on purpose

        error = failed_openai_call(cap, handle)["error"]
        assert error["cause"] == [
            {"type": "ConnectError", "message": "connect failed"},
            {"type": "OSError", "message": "no route to host"},
        ]

    def test_at_most_five_causes(self, cap: CapturedRecords) -> None:
        deepest: BaseException = RuntimeError("link 9")
        for link in range(8, 0, -1):
            outer = (
                httpx2.ConnectError(f"link {link}") if link == 1 else RuntimeError(f"link {link}")
            )
            outer.__cause__ = deepest
            deepest = outer
        error = failed_openai_call(cap, raising(deepest))["error"]
        assert [cause["message"] for cause in error["cause"]] == [f"link {n}" for n in range(1, 6)]

    def test_a_long_message_is_cut_between_words(self, cap: CapturedRecords) -> None:
        """Never inside a word: a URL with its token across the limit goes whole."""
        message = "x " * 490 + TOKEN_URL + " and more" * 100
        error = failed_openai_call(cap, raising(httpx2.ConnectError(message)))["error"]
        [cause] = error["cause"]
        assert cause["message"] == "x " * 489 + "x…[truncated " + f"{len(message) - 979} chars]"
        assert "sk-proj" not in cause["message"]

    def test_a_token_in_a_url_is_redacted_the_host_kept(self) -> None:
        with capture_records(redact="secrets") as captured:
            failed_openai_call(captured, raising(httpx2.ConnectError(f"cannot reach {TOKEN_URL}")))
        [cause] = captured.calls[0]["error"]["cause"]
        assert KEY not in cause["message"]
        assert "https://gw.example.com/v1/chat?api_key=" in cause["message"]
        assert captured.calls[0]["redactions"]


class TestCode:
    @pytest.mark.parametrize(
        ("status_code", "code"),
        [
            (429, "insufficient_quota"),
            (429, "rate_limit_exceeded"),
            (400, "context_length_exceeded"),
        ],
    )
    def test_openai_errors_differ_by_their_code(
        self, cap: CapturedRecords, status_code: int, code: str
    ) -> None:
        body = {"error": {"message": "no", "type": "tokens", "param": None, "code": code}}
        error = failed_openai_call(cap, status(status_code, body))["error"]
        assert (error["status_code"], error["code"]) == (status_code, code)

    def test_openai_without_a_code_gives_its_type(self, cap: CapturedRecords) -> None:
        body = {"error": {"message": "boom", "type": "server_error", "code": None}}
        assert failed_openai_call(cap, status(500, body))["error"]["code"] == "server_error"

    @pytest.mark.parametrize(
        ("status_code", "kind"), [(429, "rate_limit_error"), (529, "overloaded_error")]
    )
    async def test_anthropic_gives_the_type_of_its_error(
        self, cap: CapturedRecords, status_code: int, kind: str
    ) -> None:
        body = {"type": "error", "error": {"type": kind, "message": "no"}}
        with pytest.raises(anthropic.APIStatusError):
            await afake.async_client(status(status_code, body)).messages.create(**MESSAGE)
        assert one_record(cap)["error"]["code"] == kind

    def test_a_body_that_is_not_json_has_none(self, cap: CapturedRecords) -> None:
        def handle(request: httpx2.Request) -> httpx2.Response:
            return httpx2.Response(502, text="<html>Bad gateway</html>")

        assert failed_openai_call(cap, handle)["error"]["code"] is None

    def test_a_connection_error_has_none(self, cap: CapturedRecords) -> None:
        assert failed_openai_call(cap, raising(dns_failure()))["error"]["code"] is None

    def test_an_error_in_a_200_answer(self, cap: CapturedRecords) -> None:
        """A gateway's error inside an answer (OpenRouter's): its code too."""
        body = {"error": {"code": 502, "message": "upstream error"}}
        ofake.sync_client(lambda _r: ofake.json_response(body)).chat.completions.create(**ASK)
        error = one_record(cap)["error"]
        assert (error["code"], error["cause"]) == ("502", None)


class TestRetriedAttempts:
    def test_a_connection_error_keeps_its_message(self, cap: CapturedRecords) -> None:
        client = ofake.sync_client(answers(raising(dns_failure()), openai_ok), max_retries=1)
        client.chat.completions.create(**ASK)
        [attempt] = one_record(cap)["retried"]
        assert (attempt["error"], attempt["message"]) == ("ConnectError", DNS)

    def test_anthropic_says_the_cause_of_its_connection_error(self, cap: CapturedRecords) -> None:
        """Anthropic's SDK retries after its own "Connection error.": the cause follows."""
        client = afake.sync_client(answers(raising(dns_failure()), anthropic_ok), max_retries=1)
        client.messages.create(**MESSAGE)
        [attempt] = one_record(cap)["retried"]
        assert attempt["error"] == "APIConnectionError"
        assert attempt["message"] == f"Connection error. (cause: ConnectError: {DNS})"

    def test_a_failed_answer_gives_its_error_message(self, cap: CapturedRecords) -> None:
        overloaded = status(503, {"error": {"message": "overloaded"}}, "req_1")
        ofake.sync_client(answers(overloaded, openai_ok), max_retries=1).chat.completions.create(
            **ASK
        )
        [attempt] = one_record(cap)["retried"]
        assert (attempt["status_code"], attempt["request_id"]) == (503, "req_1")
        assert (attempt["error"], attempt["message"]) == (None, "overloaded")

    def test_a_failed_answer_never_read_has_no_message(self, cap: CapturedRecords) -> None:
        """A streamed call's failed answer is closed unread before the retry: not read here."""

        def unread(_request: httpx2.Request) -> httpx2.Response:
            return httpx2.Response(503, content=iter([b'{"error": {"message": "no"}}']))

        client = ofake.sync_client(answers(unread, openai_ok), max_retries=1)
        client.chat.completions.create(**ASK, stream=True).close()
        [attempt] = one_record(cap)["retried"]
        assert (attempt["status_code"], attempt["message"]) == (503, None)

    def test_a_secret_in_the_message_is_redacted(self) -> None:
        with capture_records(redact="secrets") as captured:
            refused = raising(httpx2.ConnectError(f"cannot reach {TOKEN_URL}"))
            client = ofake.sync_client(answers(refused, openai_ok), max_retries=1)
            client.chat.completions.create(**ASK)
        [attempt] = captured.calls[0]["retried"]
        assert KEY not in attempt["message"]
        assert attempt["message"].startswith("cannot reach https://gw.example.com/")
        assert attempt["request_id"] is None

    def test_the_backoff_after_each_attempt(
        self, cap: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """``latency_ms`` less the backoffs is the time the attempts took."""
        backoff(monkeypatch, 0.05)
        overloaded = status(503, {"error": {"message": "overloaded"}})
        client = ofake.sync_client(answers(overloaded, overloaded, openai_ok), max_retries=2)
        client.chat.completions.create(**ASK)
        record = one_record(cap)
        backoffs = [attempt["backoff_ms"] for attempt in record["retried"]]
        assert len(backoffs) == 2
        assert all(ms >= 40 for ms in backoffs)
        assert record["latency_ms"] >= sum(backoffs)

    async def test_the_backoff_of_an_async_call(
        self, cap: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        backoff(monkeypatch, 0.05)
        body = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
        client = afake.async_client(answers(status(529, body), anthropic_ok), max_retries=1)
        await client.messages.create(**MESSAGE)
        [attempt] = one_record(cap)["retried"]
        assert attempt["message"] == "busy"
        assert attempt["backoff_ms"] >= 40

    def test_the_backoff_is_noted_when_the_call_then_fails(self, cap: CapturedRecords) -> None:
        failing = status(429, ofake.error_body())
        with pytest.raises(openai.RateLimitError):
            ofake.sync_client(failing, max_retries=1).chat.completions.create(**ASK)
        record = one_record(cap)
        [attempt] = record["retried"]
        assert isinstance(attempt["backoff_ms"], float)
        assert record["error"]["code"] == "rate_limit_exceeded"


def test_reading_the_code_warns_nothing() -> None:
    """A library's ``code`` property may be deprecated (websockets' ConnectionClosed): it is
    not read, so the app gets no warning it would not get without llmlog."""
    import warnings

    from websockets.exceptions import ConnectionClosedError
    from websockets.frames import Close

    from llmlog._error_record import error_code

    closed = ConnectionClosedError(Close(1011, "internal error"), None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert error_code(closed, None) is None
    assert caught == []
