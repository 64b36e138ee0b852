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


def message(text: str) -> dict[str, Any]:
    """An input-message event for ``events.create``."""
    return {
        "type": "agent.session.input.message",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": text}]}],
    }


def prompt(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "input_text", "text": text}]}]


def hello_stream() -> Any:
    """``sessions.create(stream=True)``: a session whose first turn says Hello!"""
    events = fake.Events().created().turn(items=(fake.message_item("Hello!"),)).idle()
    client = fakes.sync_client(fake.FakeAgents(stream=events.items))
    return client.beta.agents.sessions.create(
        environment=ENVIRONMENT, input="Say hello", stream=True
    )


class TestEveryWayOfReading:
    def test_get_final_result(self, cap: CapturedRecords) -> None:
        """The SDK's get_final_result() reads the stream itself: the turn is recorded,
        and the app gets the SDK's result and stream class."""
        from openai.lib.beta.agents import AgentSessionEventStream

        stream = hello_stream()
        assert type(stream) is AgentSessionEventStream
        result = stream.get_final_result()
        assert result.turn.id == "turn_1"
        assert [c.text for m in result.messages for c in m.content] == ["Hello!"]
        (record,) = cap.calls
        check_hello(record, "beta.agents.sessions.create")

    def test_with_result_collection_then_iteration(self, cap: CapturedRecords) -> None:
        stream = hello_stream().with_result_collection()
        kinds = [event.type for event in stream]
        assert (kinds[0], kinds[-1], len(kinds)) == (
            "agent.session.created",
            "agent.session.idle",
            7,
        )
        assert stream.get_final_result().turn.id == "turn_1"
        (record,) = cap.calls
        check_hello(record, "beta.agents.sessions.create")

    def test_async_get_final_result(self, cap: CapturedRecords) -> None:
        events = fake.Events().created().turn(items=(fake.message_item("Hello!"),)).idle()

        async def main() -> None:
            client = fakes.async_client(fake.FakeAgents(stream=events.items))
            stream = await client.beta.agents.sessions.create(
                environment=ENVIRONMENT, input="Say hello", stream=True
            )
            assert (await stream.get_final_result()).turn.id == "turn_1"

        asyncio.run(main())
        (record,) = cap.calls
        check_hello(record, "beta.agents.sessions.create")

    def test_next_then_get_final_result(self, cap: CapturedRecords) -> None:
        """next() for the first events, the SDK's helper for the rest: one record."""
        stream = hello_stream().with_result_collection()
        assert next(stream).type == "agent.session.created"
        assert next(stream).type == "agent.session.turn.created"
        stream.get_final_result()
        (record,) = cap.calls
        check_hello(record, "beta.agents.sessions.create")

    def test_the_sessions_stream_helpers_final_result(self, cap: CapturedRecords) -> None:
        events = fake.Events().turn(items=(fake.message_item("Hello!"),)).idle()
        client = fakes.sync_client(fake.FakeAgents(stream=events.items))
        with client.beta.agents.sessions.stream(fake.SESSION, input="Say hello") as stream:
            assert stream.get_final_result().turn.id == "turn_1"
        (record,) = cap.calls
        check_hello(record, "beta.agents.sessions.events.stream", HELLO)


class TestListingPages:
    @pytest.fixture
    def server(self) -> fake.FakeAgents:
        return fake.FakeAgents(turns=[fake.turn(), fake.turn("turn_2")], page_size=1)

    def test_next_page(self, cap: CapturedRecords, server: fake.FakeAgents) -> None:
        """page.get_next_page(): the turns of the next page are followed too."""
        page = fakes.sync_client(server).beta.agents.sessions.turns.list(fake.SESSION)
        following = page.get_next_page()
        assert [t.id for t in following.data] == ["turn_2"]
        assert sorted(r["response_id"] for r in cap.calls) == ["turn_1", "turn_2"]

    def test_async_awaited_then_iterated(
        self, cap: CapturedRecords, server: fake.FakeAgents
    ) -> None:
        async def main() -> None:
            client = fakes.async_client(server)
            page = await client.beta.agents.sessions.turns.list(fake.SESSION)
            assert [t.id async for t in page] == ["turn_1", "turn_2"]

        asyncio.run(main())
        assert sorted(r["response_id"] for r in cap.calls) == ["turn_1", "turn_2"]

    def test_async_next_page(self, cap: CapturedRecords, server: fake.FakeAgents) -> None:
        async def main() -> None:
            client = fakes.async_client(server)
            page = await client.beta.agents.sessions.turns.list(fake.SESSION)
            following = await page.get_next_page()
            assert [t.id for t in following.data] == ["turn_2"]

        asyncio.run(main())
        assert sorted(r["response_id"] for r in cap.calls) == ["turn_1", "turn_2"]


def streams_per_session(ended: set[str]) -> Any:
    """A server whose ``events.stream`` of any session shows one turn ``turn_<session>``,
    ended if the session is in ``ended`` (the same events, ids included, each time)."""
    made: dict[str, list[dict[str, Any]]] = {}

    def handler(request: Any) -> Any:
        session_id = request.url.path.removeprefix("/v1").split("/")[3]
        if session_id not in made:
            made[session_id] = fake.Events(session_id).turn(f"turn_{session_id}").items
        events = made[session_id] if session_id in ended else made[session_id][:-1]
        return fakes.sse_response(events, named=True, done=False)

    return handler


def watch(client: Any, session_id: str) -> None:
    for _ in client.beta.agents.sessions.events.stream(session_id):
        pass


class TestMemoryBounds:
    def test_a_forgotten_sessions_turn_still_ends_well(
        self, cap: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Past the sessions followed, an idle one goes first; one with a turn open goes
        when none is idle, and that turn is recorded when it really ends (its usage)."""
        monkeypatch.setattr(agent_sessions, "_MAX_SESSIONS", 2)
        ended = {"sess_b", "sess_c", "sess_d"}
        client = fakes.sync_client(streams_per_session(ended))
        watch(client, "sess_long")  # its turn begins
        watch(client, "sess_open")  # its turn begins too
        for other in ("sess_b", "sess_c", "sess_d"):
            watch(client, other)
        assert "sess_long" not in agent_sessions._sessions
        assert sorted(r["response_id"] for r in cap.calls) == [
            "turn_sess_b",
            "turn_sess_c",
            "turn_sess_d",
        ]
        ended.add("sess_long")
        watch(client, "sess_long")
        record = cap.calls[-1]
        assert (record["response_id"], record["status"]) == ("turn_sess_long", "ok")
        assert record["usage"]["input_tokens"] == 120
        assert record["output"]["text"] == "Hello!"  # once, though read twice
        agent_sessions.end_all()  # the other open turn, at exit: cancelled
        assert cap.calls[-1]["response_id"] == "turn_sess_open"
        assert cap.calls[-1]["status"] == "cancelled"

    def test_orphaned_turns_are_bounded(
        self, cap: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Open turns of forgotten sessions are kept up to a bound; one dropped past it is
        still recorded from its end, with its usage."""
        monkeypatch.setattr(agent_sessions, "_MAX_SESSIONS", 1)
        monkeypatch.setattr(agent_sessions, "_MAX_ORPHANS", 1, raising=False)
        ended: set[str] = set()
        client = fakes.sync_client(streams_per_session(ended))
        for session_id in ("sess_1", "sess_2", "sess_3"):
            watch(client, session_id)
        ended.add("sess_1")
        watch(client, "sess_1")  # dropped from the orphans (sess_2 came after it)
        ((record),) = cap.calls
        assert (record["response_id"], record["status"]) == ("turn_sess_1", "ok")
        assert record["usage"]["input_tokens"] == 120
        assert list(agent_sessions._orphans) == ["turn_sess_3"]

    def test_event_ids_are_remembered_up_to_a_bound_for_all_sessions(
        self, cap: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """One window of event ids for every session; a replay of the current turn
        within it changes nothing."""
        from llmlog.instrumentors._anthropic_followed import SeenIds

        monkeypatch.setattr(agent_sessions, "_seen", SeenIds(12))
        client = fakes.sync_client(streams_per_session(set()))
        for session_id in ("sess_1", "sess_2", "sess_3", "sess_4"):
            watch(client, session_id)  # 3 events each
        assert len(agent_sessions._seen) == 12
        events = fake.Events().turn(end=False)
        server = fake.FakeAgents(stream=events.items)
        client = fakes.sync_client(server)
        watch(client, fake.SESSION)
        watch(client, fake.SESSION)  # a reconnect: the same events again
        assert len(agent_sessions._seen) == 12
        server.stream = fake.Events().turn().items[-1:]
        watch(client, fake.SESSION)
        record = next(r for r in cap.calls if r["response_id"] == "turn_1")
        assert record["output"]["text"] == "Hello!"

    def test_input_waiting_for_a_turn_is_bounded(
        self, cap: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Input sent while no turn is seen begin: the newest messages are kept."""
        monkeypatch.setattr(agent_sessions, "_MAX_KEPT", 3)
        server = fake.FakeAgents(stream=fake.Events().turn().items)
        client = fakes.sync_client(server)
        for number in range(5):
            client.beta.agents.sessions.events.create(fake.SESSION, events=[message(f"m{number}")])
        assert sum(map(len, agent_sessions._sessions[fake.SESSION].pending)) == 3
        watch(client, fake.SESSION)
        (record,) = cap.calls
        assert record["messages"] == prompt("m2") + prompt("m3") + prompt("m4")


class TestAttribution:
    def test_the_session_events_tell_the_agent(self, cap: CapturedRecords) -> None:
        """A session this process did not create: its in_progress event carries the agent."""
        events = fake.Events().add("agent.session.in_progress", session=fake.session())
        del events.items[-1]["session_id"]  # the SDK's type has only ``session``
        events.turn(items=(fake.message_item("Hello!"),)).idle()
        watch(fakes.sync_client(fake.FakeAgents(stream=events.items)), fake.SESSION)
        (record,) = cap.calls
        assert (record["model"], record["system"]) == (fake.MODEL, fake.INSTRUCTIONS)
        assert record["cost_usd"] is not None and record["cost_usd"] > 0

    def test_an_open_turn_learns_the_agent_after_it_began(self, cap: CapturedRecords) -> None:
        events = fake.Events().turn(end=False).add("agent.session.requires_action")
        events.items[-1]["session"] = fake.session("requires_action")
        events.turn(text=None)
        watch(fakes.sync_client(fake.FakeAgents(stream=events.items)), fake.SESSION)
        (record,) = cap.calls
        assert record["model"] == fake.MODEL

    def test_input_noted_before_the_send_returns(self, cap: CapturedRecords) -> None:
        """A listener reads the turn begin while events.create is still in flight (the
        server starts the turn at once): that turn takes what was being sent."""
        chunks: list[bytes] = []
        state: dict[str, Any] = {"turns": 0}

        def body() -> Iterator[bytes]:
            while chunks:
                yield chunks.pop(0)

        def handler(request: Any) -> Any:
            if request.method == "GET":
                headers = {"content-type": "text/event-stream"}
                return fakes.httpx2.Response(200, content=body(), headers=headers)
            state["turns"] += 1
            turn_id = f"turn_{state['turns']}"
            for event in fake.Events().turn(turn_id, text=f"answer {state['turns']}").items:
                chunks.append(fakes.sse_response([event], named=True, done=False).content)
            for event in state["stream"]:  # the listener, before the 202 comes back
                if event.type == "agent.session.turn.completed":
                    break
            return fakes.httpx2.Response(202)

        client = fakes.sync_client(handler)
        chunks.append(b": open\n\n")
        state["stream"] = client.beta.agents.sessions.events.stream(fake.SESSION)
        for text in ("first question", "second question"):
            client.beta.agents.sessions.events.create(fake.SESSION, events=[message(text)])
        first, second = cap.calls
        assert (first["response_id"], first["messages"]) == ("turn_1", prompt("first question"))
        assert (second["response_id"], second["messages"]) == ("turn_2", prompt("second question"))

    def test_input_of_a_failed_send_is_dropped(self, cap: CapturedRecords) -> None:
        import openai

        server = fake.FakeAgents(stream=fake.Events().turn().items, send_status=500)
        client = fakes.sync_client(server)
        with pytest.raises(openai.InternalServerError):
            client.beta.agents.sessions.events.create(fake.SESSION, events=[message("lost")])
        server.send_status = 202
        client.beta.agents.sessions.events.create(fake.SESSION, events=[message("Say hello")])
        watch(client, fake.SESSION)
        (record,) = cap.calls
        assert record["messages"] == HELLO

    def test_polled_turns_take_their_own_input(self, cap: CapturedRecords) -> None:
        """Turns seen only in a listing (newest first): one send each, by creation order."""
        server = fake.FakeAgents()
        client = fakes.sync_client(server)
        client.beta.agents.sessions.create(environment=ENVIRONMENT, input="question A")
        client.beta.agents.sessions.events.create(fake.SESSION, events=[message("question B")])
        first, second = fake.turn("turn_1"), fake.turn("turn_2")
        second["created_at"] += 100
        server.turns = [second, first]
        list(client.beta.agents.sessions.turns.list(fake.SESSION))
        records = {r["response_id"]: r["messages"] for r in cap.calls}
        assert records == {
            "turn_1": [{"role": "user", "content": "question A"}],
            "turn_2": prompt("question B"),
        }

    def test_polled_turn_input_unknowable_is_null(self, cap: CapturedRecords) -> None:
        """Two sends, one turn seen (the other never): which went where is unknown."""
        server = fake.FakeAgents(turns=[fake.turn("turn_2")])
        client = fakes.sync_client(server)
        for text in ("question A", "question B"):
            client.beta.agents.sessions.events.create(fake.SESSION, events=[message(text)])
        client.beta.agents.sessions.turns.retrieve("turn_2", session_id=fake.SESSION)
        (record,) = cap.calls
        assert record["messages"] is None

    def test_a_subagent_turn_has_the_model_it_was_asked_for(self, cap: CapturedRecords) -> None:
        spawn = fake.spawn_item("csc_1", "gpt-5-mini")
        events = fake.Events().turn(text=None, end=False, items=(spawn,))
        events.turn("turn_sub", text="found X", subagent="sub_1").turn(text=None)
        client = fakes.sync_client(fake.FakeAgents(stream=events.items))
        client.beta.agents.sessions.retrieve(fake.SESSION)  # the root agent: gpt-5
        watch(client, fake.SESSION)
        sub, root = cap.calls
        assert (sub["response_id"], sub["model"], sub["system"]) == ("turn_sub", "gpt-5-mini", None)
        assert sub["cost_usd"] is not None and sub["cost_usd"] < root["cost_usd"]
        assert root["model"] == fake.MODEL
        assert [c["type"] for c in root["output"]["tool_calls"]] == ["create_subagent_call"]

    def test_a_subagent_not_linkable_has_no_model(self, cap: CapturedRecords) -> None:
        """Two subagents asked for at once: which is whose is unknown (null, never the
        root agent's model); the next one asked for alone has its model; a call seen
        after its subagent showed is not taken for the next subagent's."""

        def spawn(events: fake.Events, call_id: str, model: str) -> None:
            item = fake.spawn_item(call_id, model)
            events.add("agent.session.turn.item.done", turn_id="turn_1", item=item)

        events = fake.Events().turn(text=None, end=False)
        spawn(events, "csc_a", "gpt-5-mini")
        spawn(events, "csc_b", "gpt-5-nano")
        events.turn("turn_s1", subagent="sub_1").turn("turn_s2", subagent="sub_2")
        spawn(events, "csc_c", "gpt-5-nano")
        events.turn("turn_s3", subagent="sub_3").turn("turn_s4", subagent="sub_4")
        spawn(events, "csc_d", "gpt-5-mini")  # sub_4's, seen after it showed
        spawn(events, "csc_e", "gpt-5-nano")
        events.turn("turn_s5", subagent="sub_5")
        client = fakes.sync_client(fake.FakeAgents(stream=events.items))
        client.beta.agents.sessions.retrieve(fake.SESSION)  # the root agent: gpt-5
        watch(client, fake.SESSION)
        models = {r["params"]["subagent"]: r["model"] for r in cap.calls}
        assert models == {
            "sub_1": None,
            "sub_2": None,
            "sub_3": "gpt-5-nano",
            "sub_4": None,
            "sub_5": "gpt-5-nano",
        }
        assert all(r["cost_usd"] is None for r in cap.calls if r["model"] is None)

    def test_the_shell_tool_is_a_tool_call(self, cap: CapturedRecords) -> None:
        item = {
            "id": "ce_1",
            "type": "command_execution",
            "command": "ls -la",
            "cwd": "/w",
            "status": "completed",
            "turn_id": "turn_1",
            "output": "total 0",
            "exit_code": 0,
        }
        events = fake.Events().turn(items=(item, fake.message_item("Done")))
        watch(fakes.sync_client(fake.FakeAgents(stream=events.items)), fake.SESSION)
        (record,) = cap.calls
        assert record["output"]["tool_calls"] == [
            {
                "id": "ce_1",
                "type": "command_execution",
                "name": None,
                "arguments": '{"command":"ls -la","cwd":"/w"}',
            }
        ]
