"""Managed-agent sessions end to end: real ``anthropic`` clients against the fake
Managed Agents API in ``anthropic_agent_fake``. Each model request the agent makes is
one record, however the app watches the session (stream, list, both, per thread).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

import anthropic_agent_fake as fake
import llmlog.testing
from llmlog import instrumentors
from llmlog.instrumentors import _anthropic_agent_sessions as agent_sessions
from llmlog.instrumentors import _base
from llmlog.testing import CapturedRecords


@pytest.fixture(autouse=True)
def fresh_span_ids() -> None:
    """Every test's fake reuses the span ids; in production they are unique."""
    agent_sessions._recorded.clear()


@pytest.fixture
def cap() -> Iterator[CapturedRecords]:
    with llmlog.testing.capture_records(disabled_providers=("openai",)) as captured:
        yield captured


def by_span(cap: CapturedRecords) -> dict[str, dict[str, Any]]:
    records = {r["response_id"]: r for r in cap.calls}
    assert len(records) == len(cap.calls), cap.calls  # one record per span
    return records


def read_stream(client: anthropic.Anthropic, session_id: str = fake.SESSION) -> list[Any]:
    with client.beta.sessions.events.stream(session_id) as stream:
        return list(stream)


def check_weather_records(cap: CapturedRecords, method: str) -> None:
    records = by_span(cap)
    assert sorted(records) == ["span_1", "span_2"]
    first, second = records["span_1"], records["span_2"]
    for record in (first, second):
        assert record["provider"] == "anthropic"
        assert record["operation"] == "messages"
        assert record["method"] == method
        assert record["model"] == fake.MODEL
        assert record["system"] == fake.SYSTEM
        assert record["params"]["session"] == fake.SESSION
        assert record["params"]["agent"] == {
            "id": "agent_011Weather",
            "name": "weather",
            "version": 3,
        }
        assert record["params"]["tools"][0]["name"] == "get_weather"
        assert record["status"] == "ok"
        assert record["cost_usd"] > 0
    assert first["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "What's the weather in Paris?"}]}
    ]
    assert first["output"]["text"] == "Let me check."
    assert first["output"]["tool_calls"] == [
        {
            "id": "sevt_tool1",
            "type": "tool_use",
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
        }
    ]
    assert first["usage"]["input_tokens"] == 160  # plain + cache read + cache write
    assert first["usage"]["cached_input_tokens"] == 50
    assert first["usage"]["cache_write_tokens"] == 10
    assert first["usage"]["output_tokens"] == 20
    assert first["latency_ms"] == pytest.approx(1500, abs=50)  # the server's clock
    assert first["ts"] == "2026-11-23T12:00:00.200000Z"
    result = second["messages"][0]["content"][0]
    assert result["type"] == "user.custom_tool_result"
    assert result["custom_tool_use_id"] == "sevt_tool1"
    assert result["content"] == [{"type": "text", "text": "sunny, 21 C"}]
    assert second["output"]["text"] == "It is sunny in Paris."
    assert second["output"]["tool_calls"] == []
    assert second["usage"]["input_tokens"] == 130
    assert second["latency_ms"] == pytest.approx(500, abs=50)


class TestStream:
    def test_each_model_request_is_a_record(self, cap: CapturedRecords) -> None:
        client = fake.sync_client(fake.FakeAgents(fake.weather_turns()))
        client.beta.sessions.create(agent="agent_011Weather", environment_id="env_011Test")
        events = read_stream(client)
        assert len(events) == len(fake.weather_turns())
        check_weather_records(cap, "beta.sessions.events.stream")

    def test_async(self, cap: CapturedRecords) -> None:
        async def run() -> None:
            client = fake.async_client(fake.FakeAgents(fake.weather_turns()))
            await client.beta.sessions.create(agent="agent_011Weather", environment_id="e")
            stream = await client.beta.sessions.events.stream(fake.SESSION)
            assert isinstance(stream, anthropic.AsyncStream)
            async with stream as entered:
                assert entered is stream
                events = [event async for event in entered]
            assert len(events) == len(fake.weather_turns())

        asyncio.run(run())
        check_weather_records(cap, "beta.sessions.events.stream")

    def test_the_app_gets_the_sdk_stream_and_its_events(self) -> None:
        """Transparency: isinstance, ``with`` gives the stream, the same events as without
        llmlog, ``next()`` works."""
        server = fake.FakeAgents(fake.weather_turns())
        bare = read_stream(fake.sync_client(server))
        with llmlog.testing.capture_records(disabled_providers=("openai",)) as cap:
            client = fake.sync_client(server)
            stream = client.beta.sessions.events.stream(fake.SESSION)
            assert isinstance(stream, anthropic.Stream)
            assert type(stream) is anthropic.Stream  # the SDK's own, its events followed
            with stream as entered:
                assert entered is stream
                first = next(stream)
                rest = list(stream)
        events = [first, *rest]
        assert [e.model_dump() for e in events] == [e.model_dump() for e in bare]
        assert [type(e) for e in events] == [type(e) for e in bare]
        first_record = by_span(cap)["span_1"]  # the event read with next() counts too
        assert first_record["messages"][0]["content"][0]["text"] == "What's the weather in Paris?"

    def test_without_the_session_the_model_is_unknown(self, cap: CapturedRecords) -> None:
        """A process that only watches (the session was created elsewhere): still every
        request, with usage; the model and system are null, so no price is guessed."""
        read_stream(fake.sync_client(fake.FakeAgents(fake.weather_turns())))
        records = by_span(cap)
        assert len(records) == 2
        assert records["span_1"]["model"] is None
        assert records["span_1"]["cost_usd"] is None
        assert records["span_1"]["usage"]["output_tokens"] == 20
        assert records["span_1"]["output"]["text"] == "Let me check."

    def test_retrieve_tells_the_agent(self, cap: CapturedRecords) -> None:
        client = fake.sync_client(fake.FakeAgents(fake.weather_turns()))
        client.beta.sessions.retrieve(fake.SESSION)
        read_stream(client)
        assert {r["model"] for r in cap.calls} == {fake.MODEL}

    def test_a_failed_request_is_an_error_with_the_session_error(
        self, cap: CapturedRecords
    ) -> None:
        error = {
            "type": "session.error",
            "id": "sevt_err1",
            "error": {"type": "model_overloaded_error", "message": "Overloaded"},
            "processed_at": fake.at(0.9),
        }
        events = [
            fake.user_message("Hi"),
            *fake.request("span_1", 0.2, 1.0, output=[error], is_error=True),
        ]
        read_stream(fake.sync_client(fake.FakeAgents(events)))
        (record,) = cap.calls
        assert record["status"] == "error"
        assert record["error"]["type"] == "model_overloaded_error"
        assert record["error"]["message"] == "Overloaded"

    def test_a_request_still_running_is_cancelled_at_uninstrument(
        self, cap: CapturedRecords
    ) -> None:
        """The stream closed mid-request and its end was never seen: not lost, and not
        ended twice when a stream shows its end after instrumenting again."""
        events = [fake.user_message("Hi"), *fake.request("span_1", 0.2, 1.0)]
        server = fake.FakeAgents(events[:-1])
        read_stream(fake.sync_client(server))
        assert cap.calls == []
        _base.uninstall_all()
        instrumentors.install(("openai",))
        (record,) = cap.calls
        assert record["status"] == "cancelled"
        assert record["messages"][0]["content"][0]["text"] == "Hi"
        server.events[(fake.SESSION, None)] = events  # the whole history, read again
        read_stream(fake.sync_client(server))
        assert len(cap.calls) == 1

    def test_a_request_still_running_at_exit_is_recorded(self, tmp_path: Path) -> None:
        out = tmp_path / "llmlog.jsonl"
        script = f"""
            import llmlog
            llmlog.instrument(output={str(out)!r})
            import anthropic_agent_fake as fake
            events = [fake.user_message("Hi"), *fake.request("span_1", 0.2, 1.0)[:-1]]
            client = fake.sync_client(fake.FakeAgents(events))
            for event in client.beta.sessions.events.stream(fake.SESSION):
                pass
        """
        proc = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(script)],
            capture_output=True,
            text=True,
            timeout=120,
            env={"PYTHONPATH": str(Path(__file__).parent), "_LLMLOG_RAISE_INTERNAL_ERRORS": "1"},
        )
        assert proc.returncode == 0, proc.stderr
        [record] = [json.loads(line) for line in out.read_text().splitlines()]
        assert (record["status"], record["response_id"]) == ("cancelled", "span_1")

    def test_a_request_ends_whichever_stream_sees_its_end(self, cap: CapturedRecords) -> None:
        """The app reconnects: the second stream sees the end of the request the first
        saw begin; one record, timed from the start."""
        events = fake.weather_turns()
        server = fake.FakeAgents(events[:4])
        client = fake.sync_client(server)
        read_stream(client)
        assert cap.calls == []
        server.events[(fake.SESSION, None)] = events[4:]
        read_stream(client)
        records = by_span(cap)
        assert records["span_1"]["output"]["text"] == "Let me check."
        assert records["span_1"]["latency_ms"] == pytest.approx(1500, abs=50)
        assert records["span_1"]["messages"][0]["role"] == "user"

    def test_outcome_evaluation_is_a_record(self, cap: CapturedRecords) -> None:
        events = [
            {
                "type": "span.outcome_evaluation_start",
                "id": "span_eval",
                "processed_at": fake.at(1),
            },
            {
                "type": "span.outcome_evaluation_end",
                "id": "span_eval_end",
                "outcome_evaluation_start_id": "span_eval",
                "outcome_id": "outc_1",
                "iteration": 2,
                "result": "satisfied",
                "explanation": "All criteria met.",
                "usage": {
                    "input_tokens": 40,
                    "output_tokens": 5,
                    "cache_read_input_tokens": 0,
                    "cache_creation_input_tokens": 0,
                },
                "processed_at": fake.at(2),
            },
        ]
        read_stream(fake.sync_client(fake.FakeAgents(events)))
        (record,) = cap.calls
        assert record["output"]["text"] == "All criteria met."
        assert record["output"]["finish_reason"] == "satisfied"
        assert record["params"]["outcome"] == {"outcome_id": "outc_1", "iteration": 2}
        assert record["usage"]["input_tokens"] == 40


class TestPartialViews:
    def test_a_stream_opened_mid_request_records_it_from_its_end(
        self, cap: CapturedRecords
    ) -> None:
        """The start was not read: usage and output still recorded, latency unknown; the
        whole history listed later does not record it again."""
        events = fake.weather_turns()
        server = fake.FakeAgents(events[4:])  # from the middle of the first request
        client = fake.sync_client(server)
        client.beta.sessions.create(agent="agent_011Weather", environment_id="env_011Test")
        read_stream(client)
        server.events[(fake.SESSION, None)] = events
        list(client.beta.sessions.events.list(fake.SESSION))
        agent_sessions.end_all()
        records = by_span(cap)
        assert sorted(records) == ["span_1", "span_2"]
        first = records["span_1"]
        assert (first["status"], first["latency_ms"], first["messages"]) == ("ok", None, None)
        assert first["output"]["text"] == "Let me check."  # read before its end
        assert [c["id"] for c in first["output"]["tool_calls"]] == ["sevt_tool1"]
        assert first["usage"]["output_tokens"] == 20
        assert first["model"] == fake.MODEL
        assert records["span_2"]["output"]["text"] == "It is sunny in Paris."

    def test_a_thread_event_on_the_session_stream_belongs_to_the_thread(
        self, cap: CapturedRecords
    ) -> None:
        """A sub-agent's tool call also shows on the session's stream (``session_thread_id``):
        it is the thread's request's, read from whichever stream comes first."""
        sub_tool = fake.event(
            "agent.custom_tool_use",
            "sevt_sub",
            0.5,
            name="lookup",
            input={},
            session_thread_id=fake.THREAD,
        )
        server = fake.FakeAgents(
            [
                fake.user_message("Plan a trip"),
                *fake.request(
                    "span_c", 0.1, 0.9, output=[sub_tool, fake.agent_message("Asked", "m", 0.8)]
                ),
            ]
        )
        server.events[(fake.SESSION, fake.THREAD)] = fake.request(
            "span_t", 0.2, 0.6, output=[sub_tool]
        )
        client = fake.sync_client(server)
        read_stream(client)
        with client.beta.sessions.threads.events.stream(fake.THREAD, session_id=fake.SESSION) as s:
            list(s)
        records = by_span(cap)
        assert records["span_c"]["output"]["tool_calls"] == []
        assert records["span_c"]["output"]["text"] == "Asked"
        assert [c["name"] for c in records["span_t"]["output"]["tool_calls"]] == ["lookup"]

    def test_a_thread_request_on_the_session_stream_has_the_threads_agent(
        self, cap: CapturedRecords
    ) -> None:
        """A model request tagged with a thread (``session_thread_id``) read from the
        session's stream is the thread's: its agent, model (so its price) and thread."""
        tagged = [
            {**event, "session_thread_id": fake.THREAD}
            for event in fake.request(
                "span_t", 0.4, 0.9, output=[fake.agent_message("Found flights", "m1", 0.8)]
            )
        ]
        server = fake.FakeAgents([fake.user_message("Plan a trip"), *tagged])
        client = fake.sync_client(server)
        client.beta.sessions.create(agent="agent_011Weather", environment_id="env_011Test")
        client.beta.sessions.threads.retrieve(fake.THREAD, session_id=fake.SESSION)
        with client.beta.sessions.events.stream(fake.SESSION) as stream:
            list(stream)
        record = by_span(cap)["span_t"]
        assert (record["model"], record["params"]["thread"]) == ("claude-haiku-4-5", fake.THREAD)


class TestLifecycle:
    def test_a_new_turn_after_reading_the_history_again_has_only_its_input(
        self, cap: CapturedRecords
    ) -> None:
        events = fake.weather_turns()
        server = fake.FakeAgents(events)
        client = fake.sync_client(server)
        read_stream(client)
        _base.uninstall_all()
        instrumentors.install(("openai",))
        server.events[(fake.SESSION, None)] = [
            *events,
            fake.user_message("And in Rome?", "sevt_user2", 4.0),
            *fake.request("span_3", 4.1, 4.5),
        ]
        list(client.beta.sessions.events.list(fake.SESSION))
        records = by_span(cap)
        assert sorted(records) == ["span_1", "span_2", "span_3"]
        assert records["span_3"]["messages"] == [
            {"role": "user", "content": [{"type": "text", "text": "And in Rome?"}]}
        ]

    def test_a_terminated_session_ends_its_open_requests(self, cap: CapturedRecords) -> None:
        """Its own and its threads', at once (not at exit)."""
        server = fake.FakeAgents(
            [
                fake.user_message("Hi"),
                *fake.request("span_1", 0.2, 1.0)[:-1],
                fake.event("session.status_terminated", "sevt_term", 2.0),
            ]
        )
        server.events[(fake.SESSION, fake.THREAD)] = fake.request("span_t", 0.3, 1.0)[:-1]
        client = fake.sync_client(server)
        with client.beta.sessions.threads.events.stream(fake.THREAD, session_id=fake.SESSION) as s:
            list(s)
        read_stream(client)
        records = by_span(cap)
        assert {k: r["status"] for k, r in records.items()} == {
            "span_1": "cancelled",
            "span_t": "cancelled",
        }

    def test_a_session_the_app_deletes_ends_its_open_requests(self, cap: CapturedRecords) -> None:
        """``sessions.delete()``: its open requests will never end, ``cancelled`` at once."""
        server = fake.FakeAgents([fake.user_message("Hi"), *fake.request("span_1", 0.2, 1.0)[:-1]])

        def answer(request: httpx2.Request) -> httpx2.Response:
            if request.method == "DELETE":
                return httpx2.Response(200, json={"type": "session_deleted", "id": fake.SESSION})
            return server(request)

        client = fake.sync_client(answer)
        read_stream(client)
        assert cap.calls == []
        client.beta.sessions.delete(fake.SESSION)
        assert [r["status"] for r in cap.calls] == ["cancelled"]

    def test_output_read_again_never_joins_a_later_request(self, cap: CapturedRecords) -> None:
        """Streams opened mid-request twice, the history listed in between: each request
        has its own output only."""
        first = [
            fake.agent_message("ANSWER-A", "sevt_a", 0.5),
            *fake.request("span_a", 0.2, 1.0)[1:],
        ]
        second = [
            fake.agent_message("ANSWER-B", "sevt_b", 2.5),
            *fake.request("span_b", 2.2, 3.0)[1:],
        ]
        server = fake.FakeAgents(first)
        client = fake.sync_client(server)
        read_stream(client)
        list(client.beta.sessions.events.list(fake.SESSION))
        server.events[(fake.SESSION, None)] = second
        read_stream(client)
        records = by_span(cap)
        assert records["span_a"]["output"]["text"] == "ANSWER-A"
        assert records["span_b"]["output"]["text"] == "ANSWER-B"

    def test_a_new_session_is_followed_when_the_others_are_busy(
        self, cap: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(agent_sessions, "_MAX_SESSIONS", 2)
        server = fake.FakeAgents()
        client = fake.sync_client(server)
        for number in range(3):
            session_id = f"sesn_{number}"
            server.session_body = fake.session(session_id)
            client.beta.sessions.create(agent="a", environment_id="e")
            server.events[(session_id, None)] = [
                fake.user_message(f"Q{number}", f"sevt_q{number}"),
                *fake.request(f"span_{number}", 0.2, 1.0),
            ]
            events = server.events[(session_id, None)]
            server.events[(session_id, None)] = events[:-1]  # still running
            read_stream(client, session_id)
            server.events[(session_id, None)] = events
        read_stream(client, "sesn_2")
        records = by_span(cap)
        # The oldest busy session gave way (its request cancelled); the newest is whole.
        assert records["span_0"]["status"] == "cancelled"
        assert (records["span_2"]["status"], records["span_2"]["model"]) == ("ok", fake.MODEL)
        assert records["span_2"]["messages"][0]["content"][0]["text"] == "Q2"


class TestOnceEach:
    def test_stream_then_list_records_each_request_once(self, cap: CapturedRecords) -> None:
        client = fake.sync_client(fake.FakeAgents(fake.weather_turns()))
        client.beta.sessions.create(agent="agent_011Weather", environment_id="env_011Test")
        read_stream(client)
        assert len(list(client.beta.sessions.events.list(fake.SESSION))) == len(
            fake.weather_turns()
        )
        read_stream(client)
        check_weather_records(cap, "beta.sessions.events.stream")

    def test_a_sent_message_and_its_echo_are_one_message(self, cap: CapturedRecords) -> None:
        server = fake.FakeAgents()
        client = fake.sync_client(server)
        sent = client.beta.sessions.events.send(
            fake.SESSION,
            events=[{"type": "user.message", "content": [{"type": "text", "text": "Hi"}]}],
        )
        echo = {**server.sent[0], "id": sent.data[0].id, "processed_at": fake.at(0)}
        server.events[(fake.SESSION, None)] = [echo, *fake.request("span_1", 0.2, 1.0)]
        read_stream(client)
        (record,) = cap.calls
        assert record["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]

    def test_initial_events_are_the_first_prompt_once(self, cap: CapturedRecords) -> None:
        """Sent with ``create``: the first request's prompt, also when the stream repeats them."""
        initial = [{"type": "user.message", "content": [{"type": "text", "text": "Start"}]}]
        for echoed in (False, True):
            server = fake.FakeAgents()
            client = fake.sync_client(server)
            session_id = f"sesn_initial_{echoed}"
            server.session_body = fake.session(session_id)
            client.beta.sessions.create(agent="a", environment_id="e", initial_events=initial)
            echo = [{**initial[0], "id": "sevt_i", "processed_at": fake.at(0)}] if echoed else []
            span = f"span_{echoed}"
            server.events[(session_id, None)] = [*echo, *fake.request(span, 0.2, 1.0)]
            read_stream(client, session_id)
        records = cap.calls
        assert len(records) == 2
        for record in records:
            assert record["messages"] == [
                {"role": "user", "content": [{"type": "text", "text": "Start"}]}
            ]


class TestList:
    def test_auto_pagination(self, cap: CapturedRecords) -> None:
        client = fake.sync_client(fake.FakeAgents(fake.weather_turns(), page_size=3))
        client.beta.sessions.create(agent="agent_011Weather", environment_id="env_011Test")
        page = client.beta.sessions.events.list(fake.SESSION)
        assert isinstance(page, anthropic.pagination.SyncPageCursor)
        assert len(list(page)) == len(fake.weather_turns())
        check_weather_records(cap, "beta.sessions.events.list")

    def test_pages_fetched_one_by_one(self, cap: CapturedRecords) -> None:
        client = fake.sync_client(fake.FakeAgents(fake.weather_turns(), page_size=5))
        client.beta.sessions.create(agent="agent_011Weather", environment_id="env_011Test")
        page = client.beta.sessions.events.list(fake.SESSION)
        pages = [page]
        while pages[-1].has_next_page():
            pages.append(pages[-1].get_next_page())
        assert sum(len(p.data) for p in pages) == len(fake.weather_turns())
        check_weather_records(cap, "beta.sessions.events.list")

    def test_async_iteration_and_await(self, cap: CapturedRecords) -> None:
        async def run() -> None:
            client = fake.async_client(fake.FakeAgents(fake.weather_turns(), page_size=5))
            await client.beta.sessions.create(agent="agent_011Weather", environment_id="e")
            first = await client.beta.sessions.events.list(fake.SESSION)
            assert isinstance(first, anthropic.pagination.AsyncPageCursor)
            assert len(first.data) == 5
            events = [event async for event in client.beta.sessions.events.list(fake.SESSION)]
            assert len(events) == len(fake.weather_turns())

        asyncio.run(run())
        check_weather_records(cap, "beta.sessions.events.list")

    def test_async_pages_awaited_one_by_one(self, cap: CapturedRecords) -> None:
        async def run() -> None:
            client = fake.async_client(fake.FakeAgents(fake.weather_turns(), page_size=5))
            await client.beta.sessions.create(agent="agent_011Weather", environment_id="e")
            listing = client.beta.sessions.events.list(fake.SESSION)
            assert not hasattr(listing, "iter_pages")  # as the SDK's paginator
            page = await listing
            pages = [page]
            while pages[-1].has_next_page():
                pages.append(await pages[-1].get_next_page())
            assert sum(len(p.data) for p in pages) == len(fake.weather_turns())

        asyncio.run(run())
        check_weather_records(cap, "beta.sessions.events.list")

    def test_newest_first_is_not_followed(self, cap: CapturedRecords) -> None:
        client = fake.sync_client(fake.FakeAgents(fake.weather_turns(), page_size=20))
        assert len(list(client.beta.sessions.events.list(fake.SESSION, order="desc"))) == len(
            fake.weather_turns()
        )
        agent_sessions.end_all()  # a request begun and not ended would be recorded here
        assert cap.calls == []

    def test_a_listing_of_some_types_is_not_followed(self, cap: CapturedRecords) -> None:
        """It tells only part of the story: a later full read records the requests whole."""
        client = fake.sync_client(fake.FakeAgents(fake.weather_turns(), page_size=20))
        client.beta.sessions.create(agent="agent_011Weather", environment_id="env_011Test")
        for kinds in (["agent.message"], ["span.model_request_end"]):
            list(client.beta.sessions.events.list(fake.SESSION, types=kinds))
        agent_sessions.end_all()
        assert cap.calls == []
        list(client.beta.sessions.events.list(fake.SESSION))
        check_weather_records(cap, "beta.sessions.events.list")


class TestThreads:
    def test_a_thread_stream_has_its_agent(self, cap: CapturedRecords) -> None:
        server = fake.FakeAgents()
        server.events[(fake.SESSION, fake.THREAD)] = [
            fake.user_message("Find the forecast", "sevt_t1"),
            *fake.request("span_t1", 0.2, 0.9, output=[fake.agent_message("Rain", "sevt_t2", 0.8)]),
        ]
        client = fake.sync_client(server)
        client.beta.sessions.threads.retrieve(fake.THREAD, session_id=fake.SESSION)
        with client.beta.sessions.threads.events.stream(fake.THREAD, session_id=fake.SESSION) as s:
            list(s)
        (record,) = cap.calls
        assert record["method"] == "beta.sessions.threads.events.stream"
        assert record["model"] == "claude-haiku-4-5"
        assert record["params"]["thread"] == fake.THREAD
        assert record["params"]["agent"]["name"] == "researcher"
        assert record["output"]["text"] == "Rain"


class TestHarmless:
    def test_raw_responses_are_untouched(self, cap: CapturedRecords) -> None:
        client = fake.sync_client(fake.FakeAgents(fake.weather_turns()))
        raw = client.beta.sessions.events.with_raw_response.list(fake.SESSION)
        assert isinstance(raw, anthropic._response.APIResponse)
        assert len(json.loads(raw.http_response.content)["data"]) == 4
        session = client.beta.sessions.with_raw_response.create(agent="a", environment_id="e")
        assert session.parse().id == fake.SESSION
        assert cap.calls == []

    def test_an_llmlog_bug_leaves_the_stream_whole(
        self, cap: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def broken(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("llmlog bug")

        monkeypatch.setenv("_LLMLOG_RAISE_INTERNAL_ERRORS", "0")
        monkeypatch.setattr(agent_sessions, "_read", broken)
        events = read_stream(fake.sync_client(fake.FakeAgents(fake.weather_turns())))
        assert len(events) == len(fake.weather_turns())
        assert cap.calls == []

    def test_async_raw_listing_is_untouched(self, cap: CapturedRecords) -> None:
        async def run() -> None:
            client = fake.async_client(fake.FakeAgents(fake.weather_turns()))
            raw = await client.beta.sessions.events.with_raw_response.list(fake.SESSION)
            assert isinstance(raw, anthropic._response.AsyncAPIResponse)
            assert len((await raw.parse()).data) == 4

        asyncio.run(run())
        assert cap.calls == []

    def test_wrappers_kept_across_uninstrument_pass_through(self, cap: CapturedRecords) -> None:
        """A bound method or a stream the app got while instrumented records nothing after."""
        client = fake.sync_client(fake.FakeAgents(fake.weather_turns()))
        stream_events = client.beta.sessions.events.stream
        followed = client.beta.sessions.events.stream(fake.SESSION)
        _base.uninstall_all()
        try:
            stream = stream_events(fake.SESSION)
            assert type(stream) is anthropic.Stream
            stream.close()
            list(followed)
        finally:
            instrumentors.install(("openai",))
        assert cap.calls == []


class TestMemoryBounds:
    def test_event_ids_are_remembered_up_to_a_bound_for_all_sessions(
        self, cap: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """One window of event ids for every session (not one per session); a reread
        within it changes nothing."""
        from llmlog.instrumentors._anthropic_followed import SeenIds

        monkeypatch.setattr(agent_sessions, "_seen", SeenIds(len(fake.weather_turns())))
        server = fake.FakeAgents(fake.weather_turns())
        client = fake.sync_client(server)
        client.beta.sessions.create(agent="agent_011Weather", environment_id="env_011Test")
        read_stream(client)
        read_stream(client)
        check_weather_records(cap, "beta.sessions.events.stream")
        server.events[("sesn_other", None)] = [
            fake.user_message("Q", "sevt_q_other"),
            *fake.request("span_other", 0.2, 1.0),
        ]
        read_stream(client, "sesn_other")
        assert len(agent_sessions._seen) == len(fake.weather_turns())
        assert ("sesn_other", "sevt_q_other") in agent_sessions._seen

    def test_threads_followed_are_bounded_idle_ones_forgotten_first(
        self, cap: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Past the threads followed per session, one with no request in flight is
        forgotten; a busy one keeps its request, recorded whole when it ends."""
        monkeypatch.setattr(agent_sessions, "_MAX_THREADS", 2, raising=False)
        server = fake.FakeAgents()
        client = fake.sync_client(server)
        client.beta.sessions.create(agent="agent_011Weather", environment_id="env_011Test")
        busy = [fake.user_message("Q busy", "sevt_qb"), *fake.request("span_busy", 0.2, 1.0)]

        def read_thread(thread: str, events: list[dict[str, Any]]) -> None:
            server.events[(fake.SESSION, thread)] = events
            stream = client.beta.sessions.threads.events.stream(thread, session_id=fake.SESSION)
            with stream as s:
                list(s)

        read_thread("sthr_busy", busy[:-1])  # its request in flight
        for number in range(3):
            thread = f"sthr_{number}"
            events = [fake.user_message("Q", f"sevt_q{number}")]
            read_thread(thread, events + fake.request(f"span_{number}", 0.2, 1.0))
        conversations = agent_sessions._sessions[fake.SESSION].conversations
        assert len(conversations) <= 2
        assert "sthr_busy" in conversations
        read_thread("sthr_busy", busy)
        records = by_span(cap)
        assert sorted(records) == ["span_0", "span_1", "span_2", "span_busy"]
        assert records["span_busy"]["status"] == "ok"
        assert records["span_busy"]["messages"][0]["content"][0]["text"] == "Q busy"
