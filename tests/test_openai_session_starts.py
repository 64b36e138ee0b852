"""Calls that start billed work elsewhere: a voice call (WebRTC ``realtime.calls.create``,
SIP ``realtime.calls.accept`` / ``live.sessions.accept``) or an evaluation run
(``evals.runs.create``). Each is one metadata record with the id of what it started,
through real openai clients over ``httpx2.MockTransport``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest

import llmlog.testing
import openai_fakes as fakes
from llmlog.testing import CapturedRecords

OFFER = "v=0\r\no=- 1 1 IN IP4 192.168.1.20\r\nc=IN IP4 192.168.1.20\r\n"
REALTIME = {"type": "realtime", "model": "gpt-realtime", "instructions": "Be brief."}
GREETING = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}]
EVAL_SOURCE: Any = {
    "type": "completions",
    "model": "gpt-4o-mini",
    "input_messages": {"type": "template", "template": [{"role": "user", "content": "{{item.q}}"}]},
    "source": {"type": "file_content", "content": [{"item": {"q": "2+2?"}}, {"item": {"q": "3?"}}]},
}
RUN = {
    "id": "evalrun_1",
    "object": "eval.run",
    "eval_id": "eval_1",
    "status": "queued",
    "model": "gpt-4o-mini-2024-07-18",
    "name": "nightly",
    "created_at": 1,
    "report_url": "https://platform.openai.com/evals/eval_1",
    "result_counts": {"errored": 0, "failed": 0, "passed": 0, "total": 0},
    "per_model_usage": [],
    "per_testing_criteria_results": [],
    "data_source": EVAL_SOURCE,
    "error": {"code": "", "message": ""},
}


def handler(request: httpx2.Request) -> httpx2.Response:
    path = request.url.path.removeprefix("/v1")
    if path == "/realtime/calls":
        headers = {
            "content-type": "application/sdp",
            "x-request-id": "req_rtc",
            "location": "/v1/realtime/calls/rtc_1",
        }
        return httpx2.Response(201, content=b"v=0\r\no=- answer\r\n", headers=headers)
    if path in ("/realtime/calls/rtc_in/accept", "/live/sessions/live_sip_1/accept"):
        return httpx2.Response(200, headers={"x-request-id": "req_acc"})
    if path == "/evals/eval_1/runs":
        return fakes.json_response(RUN)
    return fakes.json_response(fakes.error_body("not found"), 404)


@pytest.fixture
def llm() -> Iterator[CapturedRecords]:
    with llmlog.testing.capture_records(redact="off") as cap:
        yield cap


def call(method: str, *args: Any, **kwargs: Any) -> Any:
    """``client.<method>(...)`` on an OpenAI client, then on an AsyncOpenAI one."""
    path = method.split(".")
    target: Any = fakes.sync_client(handler)
    for name in path:
        target = getattr(target, name)
    result = target(*args, **kwargs)

    async def main() -> Any:
        target: Any = fakes.async_client(handler)
        for name in path:
            target = getattr(target, name)
        return await target(*args, **kwargs)

    assert type(asyncio.run(main())) is type(result)
    return result


def one_each(llm: CapturedRecords, method: str) -> dict[str, Any]:
    """The sync and the async call made the same record."""
    sync, async_ = llm.calls
    for record in (sync, async_):
        for key in ("id", "ts", "latency_ms", "prompt_hash", "process", "ttft_ms"):
            record.pop(key, None)
    assert sync == async_
    assert (sync["method"], sync["operation"], sync["status"]) == (method, method, "ok")
    assert (sync["usage"], sync["cost_usd"]) == (None, None)
    return sync


@pytest.mark.skipif(not fakes.importable("openai.resources.realtime.calls"), reason="no calls")
class TestRealtimeCalls:
    def test_the_patched_methods_read_through_the_class_are_one_object(
        self, llm: CapturedRecords
    ) -> None:
        """``Calls.create is Calls.create`` as without llmlog (the SDK's own tests check that
        a client's resource has the class's method)."""
        from openai.resources.evals.runs.runs import Runs
        from openai.resources.realtime.calls import AsyncCalls, Calls

        client = fakes.sync_client(fakes.default_fake())
        assert type(client.realtime.calls).create is Calls.create
        patched: list[tuple[Any, str]] = [(Calls, "accept"), (AsyncCalls, "create")]
        if fakes.importable("openai.resources.live.sessions"):  # Live: newer SDKs
            from openai.resources.live.sessions import Sessions

            patched.append((Sessions, "accept"))
        for cls, name in patched:
            assert getattr(cls, name) is getattr(cls, name)
        assert Runs.create is Runs.create

    def test_webrtc_create(self, llm: CapturedRecords) -> None:
        """calls.create: the session's settings, the call id from ``Location``; the SDP
        offer (the caller's network addresses) is left out."""
        answer = call("realtime.calls.create", sdp=OFFER, session=REALTIME)
        assert answer.read() == b"v=0\r\no=- answer\r\n"
        record = one_each(llm, "realtime.calls.create")
        assert (record["model"], record["system"]) == ("gpt-realtime", "Be brief.")
        assert record["params"] == {"type": "realtime"}
        assert (record["response_id"], record["request_id"]) == ("rtc_1", "req_rtc")
        assert "192.168" not in json.dumps(record)

    def test_webrtc_create_raw(self, llm: CapturedRecords) -> None:
        """with_raw_response: the app's raw response as it is; the call id from its
        ``Location`` as for the plain call (the body is SDP, not JSON)."""
        client = fakes.sync_client(handler)
        raw = client.realtime.calls.with_raw_response.create(sdp=OFFER, session=REALTIME)
        assert raw.headers["location"] == "/v1/realtime/calls/rtc_1"
        assert raw.http_response.content == b"v=0\r\no=- answer\r\n"
        (record,) = llm.calls
        assert (record["response_id"], record["status"]) == ("rtc_1", "ok")
        assert record["model"] == "gpt-realtime"

    def test_sip_accept(self, llm: CapturedRecords) -> None:
        """calls.accept(call_id, ...): the call id (given positionally) is the record's
        response_id; the settings are its model, system and params."""
        tools = [{"type": "function", "name": "transfer", "parameters": {"type": "object"}}]
        assert (
            call(
                "realtime.calls.accept",
                "rtc_in",
                type="realtime",
                model="gpt-realtime",
                instructions="Answer the phone.",
                tools=tools,
            )
            is None
        )
        record = one_each(llm, "realtime.calls.accept")
        assert (record["model"], record["system"]) == ("gpt-realtime", "Answer the phone.")
        assert record["params"] == {"type": "realtime", "tools": tools}
        # The SDK answers None: the response's request id is not kept anywhere.
        assert (record["response_id"], record["request_id"]) == ("rtc_in", None)

    def test_the_call_id_as_keyword_and_a_refused_accept(self, llm: CapturedRecords) -> None:
        """``call_id=`` works the same; an accept the server refuses is an error record,
        the SDK's exception reaching the app."""
        client = fakes.sync_client(handler)
        client.realtime.calls.accept(call_id="rtc_in", type="realtime")
        with pytest.raises(openai.NotFoundError):
            client.realtime.calls.accept("rtc_gone", type="realtime")
        accepted, refused = llm.calls
        assert accepted["response_id"] == "rtc_in"
        assert (refused["status"], refused["error"]["status_code"]) == ("error", 404)
        assert refused["response_id"] == "rtc_gone"


@pytest.mark.skipif(not fakes.importable("openai.resources.live.sessions"), reason="no Live SIP")
class TestLiveSessionsAccept:
    def test_sip_accept(self, llm: CapturedRecords) -> None:
        """live.sessions.accept(session_id, session=...): like live.create, the session's
        model, instructions and initial items; response_id = the session id (what a
        ``live.sideband.connect()`` to it records as its own)."""
        session = {
            "type": "live",
            "model": "gpt-live-1",
            "instructions": "Answer the phone.",
            "input": GREETING,
        }
        assert call("live.sessions.accept", "live_sip_1", session=session) is None
        record = one_each(llm, "live.sessions.accept")
        assert (record["model"], record["system"]) == ("gpt-live-1", "Answer the phone.")
        assert record["messages"] == [
            {"role": "user", "content": [{"type": "input_text", "text": "Hi"}], "type": "message"}
        ]
        assert record["params"] == {"type": "live"}
        assert record["response_id"] == "live_sip_1"


@pytest.mark.skipif(not fakes.importable("openai.resources.evals.runs"), reason="no evals")
class TestEvalRuns:
    def test_a_run_is_a_metadata_record(self, llm: CapturedRecords) -> None:
        """evals.runs.create(eval_id, ...): the run id and status, the model it samples;
        the eval id and data source as params, inline dataset rows only counted."""
        run = call("evals.runs.create", "eval_1", data_source=EVAL_SOURCE, name="nightly")
        assert run.id == "evalrun_1"
        record = one_each(llm, "evals.runs.create")
        assert (record["model"], record["response_model"]) == (
            "gpt-4o-mini",
            "gpt-4o-mini-2024-07-18",
        )
        assert (record["response_id"], record["output"]["run_status"]) == ("evalrun_1", "queued")
        assert record["params"]["eval_id"] == "eval_1"
        assert record["params"]["name"] == "nightly"
        source = record["params"]["data_source"]
        assert source["source"] == {"type": "file_content", "content": {"rows": 2}}
        assert source["input_messages"] == EVAL_SOURCE["input_messages"]
        assert "2+2" not in json.dumps(record)

    def test_too_many_positionals_fail_as_without_llmlog(self, llm: CapturedRecords) -> None:
        """An extra positional argument: the SDK's own TypeError, word for word."""
        client = fakes.sync_client(handler)
        with pytest.raises(TypeError) as instrumented:
            client.evals.runs.create("eval_1", EVAL_SOURCE)  # type: ignore[call-arg, misc]
        runs = client.evals.runs
        sdk_create = type(runs).create.__wrapped__  # the SDK's method, not llmlog's
        with pytest.raises(TypeError) as plain:
            sdk_create(runs, "eval_1", EVAL_SOURCE)
        assert str(instrumented.value) == str(plain.value)
        assert "positional" in str(plain.value)
