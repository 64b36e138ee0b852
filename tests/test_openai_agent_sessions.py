"""OpenAI managed-agent sessions end to end: real ``openai`` clients against the fake
Managed Agents API in ``openai_agent_fake``. Each turn the agent runs is one record,
however the app sees it end (a created stream, ``events.stream``, the ``sessions.stream``
helper, polled turns), and never two.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

import llmlog.testing
import openai_agent_fake as fake
import openai_fakes as fakes
from llmlog import instrumentors
from llmlog.instrumentors import _base
from llmlog.instrumentors import _openai_agent_sessions as agent_sessions
from llmlog.testing import CapturedRecords

pytestmark = pytest.mark.skipif(
    not fakes.importable("openai.resources.beta.agents.sessions"),
    reason="this openai has no managed agents",
)
ENVIRONMENT: Any = {"type": "none"}
HELLO = [{"role": "user", "content": [{"type": "input_text", "text": "Say hello"}]}]
HELLO_TEXT = [{"role": "user", "content": "Say hello"}]  # input given as a string


@pytest.fixture(autouse=True)
def fresh_turn_ids() -> None:
    """Every test's fake reuses the turn ids; in production they are unique."""
    agent_sessions._recorded.clear()


@pytest.fixture
def cap() -> Iterator[CapturedRecords]:
    with llmlog.testing.capture_records(redact="off", disabled_providers=("anthropic",)) as c:
        yield c


def check_hello(record: dict[str, Any], method: str, messages: Any = HELLO_TEXT) -> None:
    assert (record["provider"], record["operation"]) == ("openai", "agents.sessions.turns")
    assert (record["method"], record["status"]) == (method, "ok")
    assert (record["model"], record["system"]) == (fake.MODEL, fake.INSTRUCTIONS)
    assert record["messages"] == messages
    assert record["output"]["text"] == "Hello!"
    assert record["output"]["finish_reason"] == "completed"
    assert record["response_id"] == "turn_1"
    usage = record["usage"]
    assert (usage["input_tokens"], usage["output_tokens"]) == (120, 30)
    assert (usage["cached_input_tokens"], usage["reasoning_tokens"]) == (20, 5)
    assert record["cost_usd"] is not None and record["cost_usd"] > 0
    assert record["latency_ms"] == 3000.0  # started_at to completed_at, server clock
    assert record["params"]["session"] == fake.SESSION


class TestStreamedCreate:
    def test_a_turn_is_one_record(self, cap: CapturedRecords) -> None:
        """sessions.create(stream=True): the initial turn, its input, text and usage; the
        app iterates the SDK's own stream class."""
        from openai.lib.beta.agents import AgentSessionEventStream

        events = fake.Events().created().turn(items=(fake.message_item("Hello!"),)).idle()
        client = fakes.sync_client(fake.FakeAgents(stream=events.items))
        stream = client.beta.agents.sessions.create(
            environment=ENVIRONMENT, agent={"model": fake.MODEL}, input="Say hello", stream=True
        )
        assert isinstance(stream, AgentSessionEventStream)
        with stream:
            kinds = [event.type for event in stream]
        assert kinds == [e["type"] for e in events.items]
        (record,) = cap.calls
        check_hello(record, "beta.agents.sessions.create")
        assert record["params"]["agent"] == {"id": "agent_1", "name": "helper"}
        assert record["params"]["service_tier"] == "auto"

    def test_async(self, cap: CapturedRecords) -> None:
        """The same through AsyncOpenAI."""
        events = fake.Events().created().turn(text=None, items=(fake.message_item("Hello!"),))

        async def main() -> None:
            client = fakes.async_client(fake.FakeAgents(stream=events.items))
            stream = await client.beta.agents.sessions.create(
                environment=ENVIRONMENT, input=HELLO, stream=True
            )
            async for _ in stream:
                pass

        asyncio.run(main())
        (record,) = cap.calls
        check_hello(record, "beta.agents.sessions.create", HELLO)

    def test_function_call_and_its_result(self, cap: CapturedRecords) -> None:
        """A function the agent calls is a tool call; the result the app sends while the
        turn waits is the turn's input too."""
        events = fake.Events().created().turn(text=None, end=False, items=(fake.function_item(),))
        server = fake.FakeAgents(stream=events.items)
        client = fakes.sync_client(server)
        for _ in client.beta.agents.sessions.create(
            environment=ENVIRONMENT, input="Say hello", stream=True
        ):
            pass
        result = {
            "type": "agent.session.input.tool_result",
            "call_id": "call_1",
            "turn_id": "turn_1",
            "success": True,
            "output": "sunny",
        }
        client.beta.agents.sessions.events.create(fake.SESSION, events=[result])
        server.stream = fake.Events().turn(text=None, items=(fake.message_item("Hello!"),)).items
        for _ in client.beta.agents.sessions.events.stream(fake.SESSION):
            pass
        (record,) = cap.calls
        assert record["output"]["tool_calls"] == [
            {"id": "call_1", "type": "function", "name": "lookup", "arguments": '{"city":"Paris"}'}
        ]
        assert record["output"]["text"] == "Hello!"
        tool = {"type": "function_call_output", "call_id": "call_1", "success": True}
        assert record["messages"] == [
            *HELLO_TEXT,
            {"role": "tool", "content": [tool | {"output": "sunny"}]},
        ]


class TestWatching:
    def test_the_sessions_stream_helper(self, cap: CapturedRecords) -> None:
        """sessions.stream(): the helper's input is the turn's prompt; the model comes
        from the session it retrieved."""
        events = fake.Events().turn(items=(fake.message_item("Hello!"),)).idle()
        server = fake.FakeAgents(stream=events.items)
        client = fakes.sync_client(server)
        with client.beta.agents.sessions.stream(fake.SESSION, input="Say hello") as stream:
            stream.until_done()
        assert server.sent == [[{"type": "agent.session.input.message", "input": HELLO}]]
        (record,) = cap.calls
        check_hello(record, "beta.agents.sessions.events.stream", HELLO)

    def test_a_created_session_then_its_events(self, cap: CapturedRecords) -> None:
        """A plain create (the turn runs on the server), then events.stream (async)."""
        events = fake.Events().turn(items=(fake.message_item("Hello!"),))

        async def main() -> None:
            client = fakes.async_client(fake.FakeAgents(stream=events.items))
            session = await client.beta.agents.sessions.create(
                environment=ENVIRONMENT, input="Say hello"
            )
            assert session.status == "in_progress"
            assert cap.calls == []
            async with await client.beta.agents.sessions.events.stream(session.id) as stream:
                async for _ in stream:
                    pass

        asyncio.run(main())
        (record,) = cap.calls
        check_hello(record, "beta.agents.sessions.events.stream")

    def test_read_again_and_polled_is_still_one_record(self, cap: CapturedRecords) -> None:
        """A stream read twice (a reconnect) and the turn fetched after: one record."""
        events = fake.Events().turn(items=(fake.message_item("Hello!"),))
        server = fake.FakeAgents(stream=events.items, turns=[fake.turn()])
        client = fakes.sync_client(server)
        for _ in range(2):
            for _ in client.beta.agents.sessions.events.stream(fake.SESSION):
                pass
        client.beta.agents.sessions.turns.retrieve("turn_1", session_id=fake.SESSION)
        list(client.beta.agents.sessions.turns.list(fake.SESSION))
        assert len(cap.calls) == 1

    def test_a_subagent_turn_is_its_own_record(self, cap: CapturedRecords) -> None:
        """A subagent's turn: its usage, no prompt (its parent agent gave it the task)."""
        events = fake.Events().turn(subagent="sub_1", text="Done").turn("turn_2", text="Hi")
        client = fakes.sync_client(fake.FakeAgents(stream=events.items))
        for _ in client.beta.agents.sessions.events.stream(fake.SESSION):
            pass
        sub, root = cap.calls
        assert (sub["params"]["subagent"], sub["messages"], sub["output"]["text"]) == (
            "sub_1",
            None,
            "Done",
        )
        assert "subagent" not in root["params"]

    def test_failed_and_cancelled_turns(self, cap: CapturedRecords) -> None:
        """A failed turn is an error with its code; a cancelled one is cancelled."""
        events = fake.Events().turn(status="failed").turn("turn_2", status="cancelled")
        client = fakes.sync_client(fake.FakeAgents(stream=events.items))
        for _ in client.beta.agents.sessions.events.stream(fake.SESSION):
            pass
        failed, cancelled = cap.calls
        assert (failed["status"], failed["error"]["type"]) == ("error", "server_overloaded")
        assert failed["error"]["message"] == "busy"
        assert failed["usage"]["input_tokens"] == 120  # billed all the same
        assert cancelled["status"] == "cancelled"
        assert cancelled["output"]["text"] == "Hello!"

    def test_a_turn_still_running_is_cancelled_at_uninstrument(self, cap: CapturedRecords) -> None:
        """Its end never seen: recorded cancelled with the text so far, and not again
        when its end shows up after instrumenting again."""
        events = fake.Events().turn(end=False)
        server = fake.FakeAgents(stream=events.items)
        client = fakes.sync_client(server)
        for _ in client.beta.agents.sessions.events.stream(fake.SESSION):
            pass
        assert cap.calls == []
        _base.uninstall_all()
        instrumentors.install(("anthropic",))
        (record,) = cap.calls
        assert (record["status"], record["output"]["text"]) == ("cancelled", "Hello!")
        server.stream = fake.Events().turn().items
        for _ in client.beta.agents.sessions.events.stream(fake.SESSION):
            pass
        assert len(cap.calls) == 1


class TestPolling:
    def test_a_finished_turn_fetched_is_recorded_once(self, cap: CapturedRecords) -> None:
        """turns.retrieve of an ended turn: its usage, by the server's clock; an
        unfinished one is nothing yet."""
        server = fake.FakeAgents(turns=[fake.turn(status="in_progress")])
        client = fakes.sync_client(server)
        client.beta.agents.sessions.create(environment=ENVIRONMENT, input="Say hello")
        client.beta.agents.sessions.turns.retrieve("turn_1", session_id=fake.SESSION)
        assert cap.calls == []
        server.turns = [fake.turn()]
        got = client.beta.agents.sessions.turns.retrieve("turn_1", session_id=fake.SESSION)
        assert got.usage is not None and got.usage.input_tokens == 120
        client.beta.agents.sessions.turns.retrieve("turn_1", session_id=fake.SESSION)
        (record,) = cap.calls
        assert record["method"] == "beta.agents.sessions.turns.retrieve"
        assert record["messages"] == HELLO_TEXT
        assert (record["model"], record["latency_ms"]) == (fake.MODEL, 3000.0)
        assert record["ts"].startswith("2023-11-14T22:13:31")

    def test_async_listing(self, cap: CapturedRecords) -> None:
        """turns.list awaited as a page (AsyncOpenAI)."""

        async def main() -> None:
            client = fakes.async_client(fake.FakeAgents(turns=[fake.turn(), fake.turn("turn_2")]))
            page = await client.beta.agents.sessions.turns.list(fake.SESSION)
            assert [t.id for t in page.data] == ["turn_1", "turn_2"]

        asyncio.run(main())
        assert sorted(r["response_id"] for r in cap.calls) == ["turn_1", "turn_2"]


class TestTransparency:
    def test_input_given_as_an_iterator(self, cap: CapturedRecords) -> None:
        """events.create answers None (202) as without llmlog; messages given as an
        iterator reach the server whole and are the next turn's prompt."""
        server = fake.FakeAgents(stream=fake.Events().turn().items)
        client = fakes.sync_client(server)
        message = {"type": "agent.session.input.message", "input": iter(HELLO)}
        assert client.beta.agents.sessions.events.create(fake.SESSION, events=[message]) is None
        assert server.sent == [[{"type": "agent.session.input.message", "input": HELLO}]]
        assert cap.calls == []
        for _ in client.beta.agents.sessions.events.stream(fake.SESSION):
            pass
        (record,) = cap.calls
        assert record["messages"] == HELLO
