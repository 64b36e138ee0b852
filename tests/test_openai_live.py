"""Live sessions (``live.connect()``, forks, sidebands) and the calls they delegate, through
real clients and a loopback Live server (``openai_live_fake``)."""

# ruff: noqa: F811 - the shared fixtures (ws_testing) are parameters of the tests

from __future__ import annotations

import gc
import json
import time
from typing import Any

import pytest

from llmlog.instrumentors import _base
from llmlog.instrumentors._openai_live import LiveSession, LiveSidebandSession
from llmlog.testing import CapturedRecords

websockets = pytest.importorskip("websockets")
live_module = pytest.importorskip("openai.resources.live.live", reason="this openai has no Live")

from openai_live_fake import DECISION, USAGE  # noqa: E402 - needs websockets
from ws_testing import (  # noqa: E402
    async_client,
    base_url,  # noqa: F401 - a fixture
    client,
    llm,  # noqa: F401 - a fixture
    read_until,
)

QUESTIONS = [{"type": "predicate", "name": "wants_booking", "question": "Booking wanted?"}]
TOOLS = [{"type": "function", "name": "find_tables", "parameters": {"type": "object"}}]
RESPONSES = {"type": "responses", "responses": {"model": "gpt-5.5", "instructions": "Find."}}
EPSILON_MS = 1  # latencies are time.perf_counter() spans, rounded to the microsecond

needs_decision_requests = pytest.mark.skipif(
    not hasattr(live_module, "LiveDecisionResource"),
    reason="this openai's LiveConnection has no decision.create (LiveDecisionResource)",
)


def start(connection: Any, **session: Any) -> None:
    connection.session.start(session={"model": "gpt-live-1", **session})
    read_until(connection, "session.started")


def speak(connection: Any, audio: str = "UklGRg==", until: str = "session.usage.updated") -> None:
    connection.session.input_audio.append(audio=audio)
    read_until(connection, until)


def close(connection: Any) -> None:
    connection.session.close()
    read_until(connection, "session.closed")


def by_operation(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = {record["operation"]: record for record in records}
    assert len(found) == len(records)
    return found


class TestSession:
    def test_a_session_is_one_record(self, base_url: str, llm: CapturedRecords) -> None:
        """Settings from the server, the conversation in order, usage in seconds, priced."""
        initial = [{"role": "user", "content": [{"type": "input_text", "text": "Hi, it's Ann."}]}]
        with client(base_url).live.connect() as connection:
            start(connection, instructions="Be brief.", input=initial, store=True)
            speak(connection)
            connection.session.instructions.append(content="Seats for two.", delegation_id=None)
            read_until(connection, "session.instructions.appended")
            speak(connection)
            close(connection)
        [record] = llm.calls
        assert (record["method"], record["operation"]) == ("live.connect", "live")
        assert (record["model"], record["status"], record["stream"]) == ("gpt-live-1", "ok", True)
        assert record["response_id"].startswith("live_")
        assert record["system"] == "Be brief."
        said = {"role": "user", "content": [{"type": "input_audio", "transcript": "Book a table"}]}
        appended = {"type": "instructions", "text": "Seats for two."}
        assert record["messages"] == [
            {"role": "user", "content": [{"type": "input_text", "text": "Hi, it's Ann."}]},
            said,
            {"role": "developer", "content": [appended]},
            said,
        ]
        assert record["params"] == {"store": True}
        assert record["output"]["text"] == "Sure, booked.\nSure, booked."
        assert record["output"]["finish_reason"] == "close_requested"
        assert record["usage"]["raw"] == {"type": "duration", "seconds": 3.0}
        assert record["cost_usd"] == pytest.approx(3.0 * 3 / 3600)  # $3 per audio hour
        assert 0 < record["ttft_ms"] <= record["latency_ms"]

    def test_leaving_the_block_ends_it_with_the_usage_so_far(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        with client(base_url).live.connect() as connection:
            start(connection)
            speak(connection)
        [record] = llm.calls
        assert (record["status"], record["output"]["text"]) == ("ok", "Sure, booked.")
        assert record["output"]["finish_reason"] is None
        assert record["usage"]["raw"]["seconds"] == 1.5

    def test_the_app_reads_the_same_events_as_without_llmlog(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        def run() -> list[tuple[str, dict[str, Any]]]:
            with client(base_url).live.connect() as connection:
                connection.session.start(session={"model": "gpt-live-1", "delegation": RESPONSES})
                connection.session.input_audio.append(audio="fake-delegate")
                connection.session.close()
                events = [(type(e).__name__, e.model_dump()) for e in connection]
            return [(name, {**e, "event_id": None}) for name, e in events]  # numbered by the fake

        instrumented = run()
        _base.uninstall_all()
        bare = run()
        for events in (instrumented, bare):
            for _, event in events:
                for holder in (event, event.get("event") or {}):
                    (holder.get("session") or holder.get("response") or {}).pop("id", None)
                    holder.pop("delegation_id", None)
                (event.get("delegation") or {}).update(id=None, response_id=None)
        assert bare == instrumented
        assert len(instrumented) == 12 and len(llm.calls) == 2

    def test_a_lost_connection_is_an_error_record(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        with (
            pytest.raises(websockets.exceptions.ConnectionClosedError) as raised,
            client(base_url).live.connect() as connection,
        ):
            start(connection)
            speak(connection)
            speak(connection, "fake-drop")
        [record] = llm.calls
        assert (record["status"], record["output"]["text"]) == ("error", "Sure, booked.")
        assert record["error"]["type"] == type(raised.value).__name__

    def test_a_session_started_again_after_reconnecting_is_a_new_record(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        """The SDK reconnects and the app starts a new session (billed apart): a new record."""
        held: list[Any] = []

        def start_again(event: Any) -> None:  # queued, sent once reconnected
            held[0].session.start(session={"model": "gpt-live-1"})

        reconnecting = {"on_reconnecting": start_again, "initial_delay": 0.01}
        with client(base_url).live.connect(**reconnecting) as connection:
            held.append(connection)
            start(connection)
            speak(connection, "fake-drop", "session.started")
            speak(connection)
            close(connection)
        lost, again = llm.calls
        assert (lost["status"], lost["output"]["text"]) == ("error", None)
        assert (again["status"], again["output"]["text"]) == ("ok", "Sure, booked.")
        assert lost["response_id"] != again["response_id"]

    def test_a_normal_close_by_the_server_ends_it_well(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        with client(base_url).live.connect() as connection:
            start(connection)
            connection.session.input_audio.append(audio="fake-bye")
            assert [event.type for event in connection] == []
        [record] = llm.calls
        assert record["status"] == "ok"

    def test_an_abandoned_connection_is_cancelled_when_collected(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        manager = client(base_url).live.connect()
        connection = manager.enter()
        start(connection)
        speak(connection)
        socket = connection._connection
        del manager, connection
        record = the_only_record(llm)
        assert (record["status"], record["output"]["text"]) == ("cancelled", "Sure, booked.")
        socket.close()

    def test_an_error_that_ends_it_is_the_records(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        """An error nothing follows is what ended the session; one it went on after is not."""
        for audios in (["x", "fake-error"], ["fake-error", "x"]):
            with client(base_url).live.connect() as connection:
                start(connection)
                for audio in audios:
                    speak(
                        connection,
                        audio,
                        "error" if audio == "fake-error" else "session.usage.updated",
                    )
        ended, recovered = llm.calls
        assert (ended["status"], ended["error"]["message"]) == ("error", "Bad audio.")
        assert (ended["error"]["type"], ended["output"]["text"]) == (
            "invalid_request_error",
            "Sure, booked.",
        )
        assert (recovered["status"], recovered["error"]) == ("ok", None)

    def test_the_server_losing_the_session_is_an_error(self, llm: CapturedRecords) -> None:
        session = LiveSession()
        closed = {"type": "session.closed", "reason": "connection_lost", "usage": {"seconds": 2}}
        session.received(json.dumps({**closed, "session": {"id": "live_1", "model": "gpt-live-1"}}))
        [record] = llm.calls
        assert (record["status"], record["error"]["type"]) == ("error", "connection_lost")
        assert record["usage"]["raw"]["seconds"] == 2 and record["model"] == "gpt-live-1"

    async def test_async(self, base_url: str, llm: CapturedRecords) -> None:
        live = async_client(base_url).live
        async with live.connect() as connection:
            await connection.session.start(session={"model": "gpt-live-1"})
            await connection.session.input_audio.append(audio="UklGRg==")
            async for event in connection:
                if event.type == "session.usage.updated":
                    break
            await connection.session.close()
            async for event in connection:
                if event.type == "session.closed":
                    break
        [record] = llm.calls
        assert (record["method"], record["output"]["text"]) == ("live.connect", "Sure, booked.")
        assert record["usage"]["raw"]["seconds"] == 1.5


class TestForksAndSidebands:
    def test_a_fork_is_a_session_of_its_own(self, base_url: str, llm: CapturedRecords) -> None:
        with client(base_url).live.forks.connect(session_id="live_stored") as connection:
            connection.session.start(session={"store": False})
            read_until(connection, "session.started")
            speak(connection)
            close(connection)
        [record] = llm.calls
        assert (record["method"], record["model"]) == ("live.forks.connect", "gpt-live-1")
        assert (record["output"]["text"], record["status"]) == ("Sure, booked.", "ok")
        assert record["response_id"] not in (None, "live_stored")

    def test_a_sideband_records_the_session_it_watches(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        """The session attached to: its id from the app, its model when the server says it,
        the audio seconds no earlier record of this process reported."""
        sideband = client(base_url).live.sideband.connect
        with sideband(session_id="live_watched") as connection:
            connection.session.instructions.append(content="VIP caller.", delegation_id=None)
            read_until(connection, "session.usage.updated")
        with sideband(session_id="live_watched") as connection:
            connection.session.instructions.append(content="Thank them.", delegation_id=None)
            read_until(connection, "session.usage.updated")
            close(connection)
        left, closed = llm.calls
        assert (left["method"], left["response_id"]) == ("live.sideband.connect", "live_watched")
        assert (left["output"]["text"], left["status"], left["model"]) == (
            "Sure, booked.",
            "ok",
            None,
        )
        said = {"role": "user", "content": [{"type": "input_audio", "transcript": "Book a table"}]}
        appended = {"type": "instructions", "text": "VIP caller."}
        assert left["messages"] == [{"role": "developer", "content": [appended]}, said]
        assert (closed["model"], closed["response_id"]) == ("gpt-live-1", "live_watched")
        # The server counts the session's total (3 s); the first record reported 1.5 of them.
        assert closed["usage"]["raw"]["seconds"] == 1.5

    def test_two_sidebands_watching_at_once_both_report_the_time_they_share(
        self, llm: CapturedRecords
    ) -> None:
        """A and B watch one session from its start; A leaves at 30 s, B at 40 s: each
        reports what no record that ended before it began reported (A 30, B 40)."""

        class Manager:
            def __init__(self) -> None:
                self._Manager__session_id = "live_shared"

        def usage(session: LiveSidebandSession, seconds: int) -> None:
            event = {"type": "session.usage.updated", "usage": {"seconds": seconds}}
            session.received(json.dumps(event))

        first, second = LiveSidebandSession(), LiveSidebandSession()
        first.opened(Manager())
        second.opened(Manager())
        for seconds in (10, 20, 30):
            usage(first, seconds)
            usage(second, seconds)
        first.closed()
        usage(second, 40)
        second.closed()
        assert [r["usage"]["raw"]["seconds"] for r in llm.calls] == [30, 40]

    def test_active_and_paused_seconds_are_kept_each_record_its_own(
        self, llm: CapturedRecords
    ) -> None:
        """openai 3.57 splits the billed seconds into active and paused ones: each record
        keeps the split of its own time (a later watcher of the session: what came after)."""

        class Manager:
            def __init__(self) -> None:
                self._Manager__session_id = "live_paused"

        def watch(usage: dict[str, int]) -> None:
            session = LiveSidebandSession()
            session.opened(Manager())
            session.received(json.dumps({"type": "session.usage.updated", "usage": usage}))
            session.closed()

        watch({"seconds": 30, "active_seconds": 10, "paused_seconds": 20})
        watch({"seconds": 50, "active_seconds": 25, "paused_seconds": 25})
        first, later = (r["usage"]["raw"] for r in llm.calls)
        assert first == {
            "type": "duration",
            "seconds": 30,
            "active_seconds": 10,
            "paused_seconds": 20,
        }
        assert later == {
            "type": "duration",
            "seconds": 20,
            "active_seconds": 15,
            "paused_seconds": 5,
        }

    def test_a_sideband_the_sdk_reconnects_goes_on_recording(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        """No new session.started comes: the next event starts the next record, whose usage
        counts from where the lost one's ended (together: the session's total)."""
        held: list[Any] = []

        def speak_again(event: Any) -> None:  # queued, sent once reconnected
            held[0].session.instructions.append(content="fake-delegate", delegation_id=None)

        reconnecting = {"on_reconnecting": speak_again, "initial_delay": 0.01}
        sideband = client(base_url).live.sideband.connect
        with sideband(session_id="live_again", **reconnecting) as connection:
            held.append(connection)
            connection.session.instructions.append(content="Hello.", delegation_id=None)
            read_until(connection, "session.usage.updated")
            connection.session.instructions.append(content="fake-drop", delegation_id=None)
            read_until(connection, "session.usage.updated")
            close(connection)
        records = llm.calls
        lost, again = (r for r in records if r["operation"] == "live")
        assert (lost["status"], again["status"]) == ("error", "ok")
        assert lost["response_id"] == again["response_id"] == "live_again"
        assert lost["usage"]["raw"]["seconds"] == again["usage"]["raw"]["seconds"] == 1.5
        assert again["output"]["text"] == "I found two."
        assert [r["operation"] for r in records].count("responses") == 1


def queue_of_its_own(monkeypatch: pytest.MonkeyPatch, connection_class: type) -> None:
    """The SDK's connection class, made to take a send queue of its own when its manager's is
    empty, as openai 3.12-3.19 did (``send_queue or SendQueue()``: an empty queue is falsy).
    Passing None lets the SDK itself make the new queue, on any version."""
    init = connection_class.__init__

    def __init__(self: Any, *args: Any, send_queue: Any = None, **kwargs: Any) -> None:
        init(self, *args, send_queue=send_queue or None, **kwargs)

    monkeypatch.setattr(connection_class, "__init__", __init__)


def the_only_record(llm: CapturedRecords) -> dict[str, Any]:
    """The one record, once the connection and its manager are collected (a phantom
    session would be finished then)."""
    gc.collect()
    [record] = llm.calls
    return record


class TestAConnectionWithAQueueOfItsOwn:
    """The manager queues what the app sends before the connection opens; older SDKs give
    the connection a new queue when nothing was queued. llmlog follows the session there."""

    def test_a_session_is_still_one_record(
        self, base_url: str, llm: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        queue_of_its_own(monkeypatch, live_module.LiveConnection)
        manager = client(base_url).live.connect()
        with manager as connection:
            assert connection._send_queue is not manager._LiveConnectionManager__send_queue
            start(connection)
            speak(connection)
            close(connection)
        del manager, connection
        record = the_only_record(llm)
        assert (record["method"], record["model"], record["status"]) == (
            "live.connect",
            "gpt-live-1",
            "ok",
        )
        assert record["usage"]["raw"]["seconds"] == 1.5

    def test_a_sideband_keeps_the_id_of_the_session_it_watches(
        self, base_url: str, llm: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        sideband = pytest.importorskip("openai.resources.live.sideband")
        queue_of_its_own(monkeypatch, sideband.SidebandConnection)
        # A session no other test watches: each process counts the seconds it reported.
        manager = client(base_url).live.sideband.connect(session_id="live_own_queue")
        with manager as connection:
            assert connection._send_queue is not manager._SidebandConnectionManager__send_queue
            connection.session.instructions.append(content="Hello.", delegation_id=None)
            read_until(connection, "session.usage.updated")
        del manager, connection
        record = the_only_record(llm)
        assert (record["method"], record["response_id"], record["status"]) == (
            "live.sideband.connect",
            "live_own_queue",
            "ok",
        )

    async def test_async(
        self, base_url: str, llm: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        queue_of_its_own(monkeypatch, live_module.AsyncLiveConnection)
        manager = async_client(base_url).live.connect()
        async with manager as connection:
            assert connection._send_queue is not manager._AsyncLiveConnectionManager__send_queue
            await connection.session.start(session={"model": "gpt-live-1"})
            await connection.session.close()
            async for event in connection:
                if event.type == "session.closed":
                    break
        del manager, connection
        record = the_only_record(llm)
        assert (record["method"], record["model"], record["status"]) == (
            "live.connect",
            "gpt-live-1",
            "ok",
        )


class TestDelegated:
    def test_a_delegated_response_is_a_record_of_its_own(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        """Model and settings from the delegation; output from the deltas (the server
        clears it from the snapshots); usage from the end."""
        delegation = {**RESPONSES, "responses": {**RESPONSES["responses"], "tools": TOOLS}}
        with client(base_url).live.connect() as connection:
            start(connection, delegation=delegation)
            speak(connection, "fake-delegate")
            close(connection)
        records = by_operation(llm.calls)
        response, session = records["responses"], records["live"]
        assert (response["method"], response["status"]) == ("live.connect", "ok")
        assert (response["model"], response["system"]) == ("gpt-5.5", "Find.")
        assert (response["messages"], response["params"]["tools"]) == (None, TOOLS)
        assert response["output"]["text"] == "Found two."
        assert response["output"]["finish_reason"] == "completed"
        assert response["response_id"].startswith("resp_dlg_")
        usage = response["usage"]
        assert (usage["input_tokens"], usage["cached_input_tokens"]) == (12, 4)
        assert (usage["output_tokens"], usage["reasoning_tokens"]) == (2, 0)
        assert usage["raw"] == USAGE
        assert 0 < response["ttft_ms"] <= response["latency_ms"] < session["latency_ms"]
        assert session["output"]["text"] == "I found two."
        assert session["params"]["delegation"] == delegation

    def test_a_failed_delegated_response(self, base_url: str, llm: CapturedRecords) -> None:
        with client(base_url).live.connect() as connection:
            start(connection, delegation=RESPONSES)
            speak(connection, "fake-delegate-fail")
        response = by_operation(llm.calls)["responses"]
        assert (response["status"], response["output"]["text"]) == ("error", "Found two.")
        assert response["error"]["message"] == "The backend fell over."

    def test_one_in_flight_when_the_session_ends(self, base_url: str, llm: CapturedRecords) -> None:
        """Closing: cancelled with what arrived; a lost connection: an error."""
        with client(base_url).live.connect() as connection:
            start(connection, delegation=RESPONSES)
            speak(connection, "fake-delegate-hang", "session.output_transcript.delta")
        with (
            pytest.raises(websockets.exceptions.ConnectionClosedError),
            client(base_url).live.connect() as connection,
        ):
            start(connection, delegation=RESPONSES)
            speak(connection, "fake-delegate-hang", "session.output_transcript.delta")
            speak(connection, "fake-drop")
        cancelled, lost = (r for r in llm.calls if r["operation"] == "responses")
        assert (cancelled["status"], cancelled["output"]["text"]) == ("cancelled", "Look")
        assert (lost["status"], lost["output"]["text"]) == ("error", "Look")

    def test_a_response_the_app_asks_for_takes_its_items(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        item = {"type": "message", "role": "user", "content": "Any table at eight?"}
        with client(base_url).live.connect() as connection:
            start(connection, delegation=RESPONSES)
            connection.response.item.create(item=item)
            item["content"] = "changed after sending"
            connection.response.create()
            read_until(connection, "response.event")
            events = read_until(connection, "response.event", "session.usage.updated")
            while events[-1].event["type"] != "response.completed":
                events = read_until(connection, "response.event")
        response = by_operation(llm.calls)["responses"]
        assert response["messages"] == [{**item, "content": "Any table at eight?"}]
        assert (response["output"]["text"], response["status"]) == ("Done.", "ok")

    def test_a_delegated_decision(self, base_url: str, llm: CapturedRecords) -> None:
        decisions = {"model": "gpt-6-luna", "questions": QUESTIONS}
        with client(base_url).live.connect() as connection:
            start(connection, delegation={"type": "decisions", "decisions": decisions})
            speak(connection, "fake-decide")
        decision = by_operation(llm.calls)["decisions"]
        assert (decision["method"], decision["model"]) == ("live.connect", "gpt-6-luna")
        assert decision["params"] == {"questions": QUESTIONS}
        assert decision["output"]["answers"] == DECISION["answers"]
        assert (decision["usage"]["input_tokens"], decision["usage"]["output_tokens"]) == (30, 2)
        assert decision["latency_ms"] is not None

    def test_a_triggered_decision(self, base_url: str, llm: CapturedRecords) -> None:
        """A trigger's questions; its latency is unknown (it started with a transcript delta)."""
        trigger = {
            "type": "decisions",
            "event_type": "session.input_transcript.delta",
            "decisions": {"questions": QUESTIONS},
        }
        with client(base_url).live.connect() as connection:
            start(connection, triggers=[trigger])
            speak(connection, "fake-trigger", "decision.event")
        decision = by_operation(llm.calls)["decisions"]
        assert (decision["params"], decision["model"]) == ({"questions": QUESTIONS}, "gpt-6-luna")
        assert decision["latency_ms"] is None

    @needs_decision_requests
    def test_a_decision_the_app_asks_for(self, base_url: str, llm: CapturedRecords) -> None:
        decisions = {"model": "gpt-6-luna", "questions": QUESTIONS}
        with client(base_url).live.connect() as connection:
            start(connection, delegation={"type": "decisions", "decisions": decisions})
            connection.decision.create(event_id="ask_1")
            read_until(connection, "decision.event")
        decision = by_operation(llm.calls)["decisions"]
        assert decision["output"]["answers"] == DECISION["answers"]
        assert decision["latency_ms"] > 0


class TestRequestsTheAppSends:
    @needs_decision_requests
    def test_a_refused_request_leaves_no_start_behind(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        """Each request is timed from its own sending: a refused one, or one continuing a
        delegation, is never the start of a later answer; the session goes on well."""
        decisions = {"model": "gpt-6-luna", "questions": QUESTIONS}
        with client(base_url).live.connect() as connection:
            start(connection, delegation={"type": "decisions", "decisions": decisions})
            connection.decision.create(event_id="refused")
            read_until(connection, "error")
            time.sleep(0.5)
            asked = time.perf_counter()
            connection.decision.create(event_id="asked")
            read_until(connection, "decision.event")
            answered = time.perf_counter()
            connection.decision.create(event_id="refused")
            read_until(connection, "error")
            close(connection)
        decision = by_operation(llm.calls)["decisions"]
        assert decision["latency_ms"] <= (answered - asked) * 1000 + EPSILON_MS  # not from before
        assert by_operation(llm.calls)["live"]["status"] == "ok"  # a command failed, not it

    def test_a_continued_delegation_takes_the_request_that_continued_it(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        with client(base_url).live.connect() as connection:
            start(connection, delegation=RESPONSES)
            speak(connection, "fake-delegate")
            continuing = time.perf_counter()
            connection.response.create(event_id="continue_1")
            read_until(connection, "response.event")
            completed(connection)
            continued_at = time.perf_counter()
            time.sleep(0.5)
            asking = time.perf_counter()
            connection.response.create()
            completed(connection)
            asked_at = time.perf_counter()
        first, continued, asked = (r for r in llm.calls if r["operation"] == "responses")
        assert first["output"]["text"] == "Found two."
        assert continued["output"]["text"] == asked["output"]["text"] == "Done."
        assert continued["latency_ms"] <= (continued_at - continuing) * 1000 + EPSILON_MS
        assert asked["latency_ms"] <= (asked_at - asking) * 1000 + EPSILON_MS  # its own request

    def test_a_start_queued_after_a_loss_is_no_session_until_the_server_starts_it(
        self, llm: CapturedRecords
    ) -> None:
        """The SDK may never send it (its reconnect failed): no second record."""
        session = LiveSession()
        session.lost(websockets.exceptions.ConnectionClosedError(None, None))
        session.sent(json.dumps({"type": "session.start", "session": {"model": "gpt-live-1"}}))
        session.closed()
        assert [r["status"] for r in llm.calls] == ["error"]

    def test_a_second_start_does_not_change_the_running_sessions_settings(
        self, llm: CapturedRecords
    ) -> None:
        session = LiveSession()
        started = {"type": "session.started", "session": {"id": "live_1", "model": "gpt-live-1"}}
        session.received(json.dumps(started))
        session.sent(json.dumps({"type": "session.start", "session": {"model": "other"}}))
        session.closed()
        [record] = llm.calls
        assert record["model"] == "gpt-live-1"

    def test_no_delegated_call_starts_after_the_session_ended(self, llm: CapturedRecords) -> None:
        """A nested event the reader hands over after another thread closed the session."""
        session = LiveSession()
        session.closed()
        nested = {"type": "response.created", "response": {"id": "resp_1", "output": []}}
        session.received(json.dumps({"type": "response.event", "event": nested}))
        session.received(json.dumps({"type": "decision.event", "event": {}}))
        assert [r["operation"] for r in llm.calls] == ["live"]

    def test_audio_never_reaches_a_record(self, base_url: str, llm: CapturedRecords) -> None:
        with client(base_url).live.connect() as connection:
            start(connection, delegation=RESPONSES)
            speak(connection, "UklGRgAAAABXQVZF")
            speak(connection, "fake-delegate")
            close(connection)
        written = json.dumps(llm.calls)
        assert "UklGRg" not in written and "AAAA" not in written
        assert len(llm.calls) == 2


def completed(connection: Any) -> None:
    """Read until a nested response completes."""
    while read_until(connection, "response.event")[-1].event["type"] != "response.completed":
        pass
