"""WebSocket sessions (``responses.connect()``, ``realtime.connect()``) through real clients."""

# ruff: noqa: F811 - the shared fixtures (ws_testing) are parameters of the tests

from __future__ import annotations

import gc
import importlib.util
import json
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import openai.resources.responses.responses as responses_module
import pytest

from llmlog import instrumentors
from llmlog.instrumentors import _base
from llmlog.instrumentors import _openai_session_call as session_call
from llmlog.instrumentors import _openai_websocket_patches as websocket_patches
from llmlog.instrumentors._openai_realtime import RealtimeSession
from llmlog.instrumentors._openai_realtime_translation import RealtimeTranslationSession
from llmlog.testing import CapturedRecords

websockets = pytest.importorskip("websockets")
if not hasattr(responses_module, "ResponsesConnection"):
    pytest.skip("this openai has no Responses WebSocket mode", allow_module_level=True)

from openai_ws_fake import (  # noqa: E402 - needs websockets
    REALTIME_USAGE,
    TRANSCRIPTION_USAGE,
    USAGE,
)
from ws_testing import (  # noqa: E402
    async_client,
    base_url,  # noqa: F401 - a fixture
    client,
    llm,  # noqa: F401 - a fixture
    read_until,
)


def dumped(events: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(type(event).__name__, event.model_dump()) for event in events]


def lane_request(model: str, text: str, lane: str) -> Any:
    return {"type": "response.create", "model": model, "input": text, "stream_id": lane}


def exchange(base_url: str, model: str, until: str, **request: Any) -> list[Any]:
    """One response.create on a new connection; the events up to ``until``."""
    with client(base_url).responses.connect() as connection:
        connection.response.create(model=model, input="Hi", **request)
        return read_until(connection, until)


def converse(base_url: str) -> list[Any]:
    return exchange(base_url, "gpt-5", "response.completed", instructions="Be brief.")


class TestSync:
    def test_one_response_is_one_record(self, base_url: str, llm: CapturedRecords) -> None:
        """Prompt from the response.create event; output, usage and ids from the terminal event."""
        events = converse(base_url)
        [record] = llm.calls
        assert (record["operation"], record["method"]) == ("responses", "responses.connect")
        assert (record["model"], record["response_model"]) == ("gpt-5", "gpt-5-2026")
        assert record["system"] == "Be brief."
        assert record["messages"] == [{"role": "user", "content": "Hi"}]
        assert record["output"]["text"] == "Hello"
        assert record["output"]["finish_reason"] == "completed"
        assert record["usage"]["input_tokens"] == 12
        assert record["usage"]["cached_input_tokens"] == 4
        assert record["usage"]["raw"] == USAGE
        assert record["response_id"] == events[0].response.id
        assert (record["status"], record["stream"], record["error"]) == ("ok", True, None)
        assert 0 < record["ttft_ms"] <= record["latency_ms"]

    def test_the_app_reads_the_same_events_as_without_llmlog(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        instrumented = dumped(converse(base_url))
        assert len(llm.calls) == 1
        _base.uninstall_all()
        bare = dumped(converse(base_url))
        assert [event["type"] for _, event in bare] == [
            "response.created",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.completed",
        ]
        for (kind, event), (bare_kind, bare_event) in zip(instrumented, bare, strict=True):
            assert kind == bare_kind
            for response in (event.get("response"), bare_event.get("response")):
                if response is not None:
                    response.pop("id")  # the fake numbers its responses
            assert event == bare_event

    def test_each_response_on_a_connection_has_its_own_record(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        with client(base_url).responses.connect() as connection:
            for text in ("first", "second"):
                connection.response.create(model="gpt-5", input=text)
                read_until(connection, "response.completed")
        assert [r["messages"][0]["content"] for r in llm.calls] == ["first", "second"]
        assert len({r["response_id"] for r in llm.calls}) == 2

    def test_events_queued_on_the_manager_before_connecting(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        manager = client(base_url).responses.connect()
        manager.send({"type": "response.create", "model": "gpt-5", "input": "queued"})
        with manager as connection:
            read_until(connection, "response.completed")
        [record] = llm.calls
        assert record["messages"] == [{"role": "user", "content": "queued"}]

    def test_requests_queued_before_a_connection_that_fails_are_its_errors(
        self, llm: CapturedRecords
    ) -> None:
        """No server there (or a bad key): the app gets the SDK's error from ``with``, and
        each request it queued is an ``error`` record with it, at once."""
        manager = client(f"http://127.0.0.1:{_closed_port()}/v1").responses.connect()
        manager.send({"type": "response.create", "model": "gpt-5", "input": "queued"})
        with pytest.raises(OSError) as raised, manager:
            pass
        [record] = llm.calls
        assert (record["status"], record["messages"]) == (
            "error",
            [{"role": "user", "content": "queued"}],
        )
        assert record["error"]["type"] == type(raised.value).__name__

    def test_raw_json_with_type_last_and_recv_bytes(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        """The app may write its own JSON (any key order) and read raw bytes."""
        with client(base_url).responses.connect() as connection:
            event = {"model": "gpt-5", "input": "raw", "type": "response.create"}
            connection.send_raw(json.dumps(event))
            while json.loads(connection.recv_bytes())["type"] != "response.completed":
                pass
        [record] = llm.calls
        assert record["messages"] == [{"role": "user", "content": "raw"}]
        assert record["output"]["text"] == "Hello"

    def test_a_refused_request_is_an_error_record(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        [error] = exchange(base_url, "fake-error", "error")
        assert error.to_dict()["error"]["code"] == "model_not_found"
        [record] = llm.calls
        assert record["status"] == "error"
        assert record["error"]["type"] == "invalid_request_error"
        assert record["error"]["message"] == "The model does not exist."
        assert record["error"]["status_code"] == 404
        assert record["output"]["text"] is None and record["response_id"] is None

    def test_a_failed_response_is_an_error_record(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        exchange(base_url, "fake-failed", "response.failed")
        [record] = llm.calls
        assert record["status"] == "error"
        assert record["error"]["message"] == "The model crashed."

    def test_closing_mid_response_records_what_arrived(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        exchange(base_url, "fake-hang", "response.output_text.delta")
        [record] = llm.calls
        assert record["status"] == "cancelled"
        assert record["output"]["text"] == "Hel"
        assert record["response_id"] is not None

    def test_a_lost_connection_ends_the_response_as_an_error(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        with pytest.raises(websockets.exceptions.ConnectionClosedError) as raised:
            exchange(base_url, "fake-drop", "response.completed")
        [record] = llm.calls
        assert record["status"] == "error"
        assert record["error"]["type"] == type(raised.value).__name__
        assert record["output"]["text"] == "Hel"

    def test_a_response_the_server_starts_on_its_own(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        """A successor (after steering, or automatic) has a record without a request."""
        with client(base_url).responses.connect() as connection:
            connection.response.create(model="fake-successor", input="Hi")
            read_until(connection, "response.completed")
            read_until(connection, "response.completed")
        first, successor = llm.calls
        assert first["messages"] == [{"role": "user", "content": "Hi"}]
        assert successor["messages"] is None or successor["messages"] == []
        assert successor["output"]["text"] == "And more"
        assert successor["response_id"] != first["response_id"]

    def test_interleaved_lanes_keep_their_own_output(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        with client(base_url).responses.connect() as connection:
            connection.send(lane_request("fake-lane-first", "one", "a"))
            read_until(connection, "response.output_text.delta")
            connection.send(lane_request("fake-lane-second", "two", "b"))
            read_until(connection, "response.completed")
            read_until(connection, "response.completed")
        by_prompt = {r["messages"][0]["content"]: r["output"]["text"] for r in llm.calls}
        assert by_prompt == {"one": "Hello first", "two": "Hello second"}

    def test_an_abandoned_connection_is_recorded_when_collected(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        manager = client(base_url).responses.connect()
        connection = manager.enter()
        connection.response.create(model="fake-hang", input="Hi")
        read_until(connection, "response.output_text.delta")
        socket = connection._connection
        del manager, connection
        gc.collect()
        [record] = llm.calls
        assert (record["status"], record["output"]["text"]) == ("cancelled", "Hel")
        socket.close()

    def test_a_response_in_flight_at_exit_is_recorded(self, tmp_path: Path) -> None:
        out = tmp_path / "llmlog.jsonl"
        script = f"""
            import llmlog
            from openai_ws_fake import hanging_response, serve_responses
            llmlog.instrument(output={str(out)!r}, redact="secrets")  # no worker to wait for
            with serve_responses() as url:
                connection = hanging_response(url)
        """
        tests = str(Path(__file__).parent)
        proc = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(script)],
            capture_output=True,
            text=True,
            timeout=120,
            env={"PYTHONPATH": tests, "_LLMLOG_RAISE_INTERNAL_ERRORS": "1"},
        )
        assert proc.returncode == 0, proc.stderr
        [record] = [json.loads(line) for line in out.read_text().splitlines()]
        assert (record["status"], record["output"]["text"]) == ("cancelled", "Hel")


class TestMatching:
    """Which request a response belongs to, when several are in the air."""

    def test_two_threads_sending_on_one_connection(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        """Every response has one record and every request one response. (Which prompt goes
        with which answer is only known per lane: the SDK does not serialize senders, and
        llmlog must not either.)"""
        count = 300
        with client(base_url).responses.connect() as connection:

            def send(tag: str) -> None:
                for i in range(count):
                    connection.response.create(model="fake-echo", input=f"{tag}{i}")

            senders = [threading.Thread(target=send, args=(tag,)) for tag in "ab"]
            for sender in senders:
                sender.start()
            for _ in range(2 * count):
                read_until(connection, "response.completed")
            for sender in senders:
                sender.join()
        records = llm.calls
        prompts = sorted(r["messages"][0]["content"] for r in records)
        assert prompts == sorted(f"{tag}{i}" for tag in "ab" for i in range(count))
        answers = sorted(r["output"]["text"] for r in records)
        assert answers == sorted(f"answer to {prompt}" for prompt in prompts)
        assert len({r["response_id"] for r in records}) == 2 * count

    def test_a_send_that_fails_is_an_error_and_takes_no_answer(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        with client(base_url).responses.connect() as connection:
            with pytest.raises(TypeError):
                connection.send({"type": "response.create", "model": "gpt-5", "input": object()})  # type: ignore[typeddict-item]
            connection.response.create(model="gpt-5", input="Hi")
            read_until(connection, "response.completed")
        failed, answered = llm.calls
        assert (failed["status"], failed["error"]["type"], failed["output"]["text"]) == (
            "error",
            "TypeError",
            None,
        )
        assert answered["messages"] == [{"role": "user", "content": "Hi"}]
        assert answered["output"]["text"] == "Hello"

    def test_a_steered_successor_does_not_take_a_waiting_request(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        """The successor's prompt is the steering input; the queued request keeps its own."""
        with client(base_url).responses.connect() as connection:
            connection.response.create(model="fake-steered", input="A")
            read_until(connection, "response.output_text.delta")
            connection.response.create(model="gpt-5", input="B")
            steer = {"type": "response.steer", "input": "go left", "previous_response_id": "resp_1"}
            connection.send_raw(json.dumps(steer))  # openai 3.0 has no response.steer()
            for _ in range(3):
                read_until(connection, "response.completed", "response.incomplete")
        by_output = {r["output"]["text"]: r["messages"] for r in llm.calls}
        assert by_output == {
            "Hel": [{"role": "user", "content": "A"}],
            "Steered on": [{"role": "user", "content": "go left"}],
            "Hello": [{"role": "user", "content": "B"}],
        }

    def test_a_refused_request_while_another_streams(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        """An error without a sequence number (or a null one) is the request's, not the stream's."""
        with client(base_url).responses.connect() as connection:
            connection.response.create(model="fake-steered", input="A")
            read_until(connection, "response.output_text.delta")
            connection.response.create(model="fake-error", input="B")
            read_until(connection, "response.completed")
        by_prompt = {r["messages"][0]["content"]: r for r in llm.calls}
        assert (by_prompt["A"]["status"], by_prompt["A"]["output"]["text"]) == ("ok", "Hello first")
        assert (by_prompt["B"]["status"], by_prompt["B"]["response_id"]) == ("error", None)

    def test_uninstrumenting_forgets_what_was_in_flight(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        """What is in flight then ends as cancelled, once: never again after re-instrumenting."""
        with client(base_url).responses.connect() as connection:
            connection.response.create(model="fake-hang", input="A")
            read_until(connection, "response.output_text.delta")
            _base.uninstall_all()
            instrumentors.install(())
            connection.response.create(model="gpt-5", input="C")
            read_until(connection, "response.completed")
        records = [(r["messages"][0]["content"], r["status"]) for r in llm.calls]
        assert records == [("A", "cancelled"), ("C", "ok")]


def _closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class TestAsync:
    async def test_a_queued_request_of_a_connection_that_fails(self, llm: CapturedRecords) -> None:
        manager = async_client(f"http://127.0.0.1:{_closed_port()}/v1").responses.connect()
        manager.send({"type": "response.create", "model": "gpt-5", "input": "queued"})
        with pytest.raises(OSError):
            async with manager:
                pass
        assert [r["status"] for r in llm.calls] == ["error"]

    async def test_one_response_is_one_record(self, base_url: str, llm: CapturedRecords) -> None:
        async with async_client(base_url).responses.connect() as connection:
            await connection.response.create(model="gpt-5", input="Hi")
            async for event in connection:
                if event.type == "response.completed":
                    break
        [record] = llm.calls
        assert record["messages"] == [{"role": "user", "content": "Hi"}]
        assert (record["output"]["text"], record["status"]) == ("Hello", "ok")

    async def test_closing_mid_response(self, base_url: str, llm: CapturedRecords) -> None:
        async with async_client(base_url).responses.connect() as connection:
            await connection.response.create(model="fake-hang", input="Hi")
            async for event in connection:
                if event.type == "response.output_text.delta":
                    break
        [record] = llm.calls
        assert (record["status"], record["output"]["text"]) == ("cancelled", "Hel")


def transcribing(kind: str = "realtime", **transcription: Any) -> Any:
    """Session settings asking for the user's audio to be transcribed."""
    return {"type": kind, "audio": {"input": {"transcription": transcription}}}


def realtime_turn(connection: Any, **response: Any) -> list[Any]:
    """The app's text turn, then the events up to the response's end."""
    connection.session.update(session={"type": "realtime", "instructions": "Answer in French."})
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}
    connection.conversation.item.create(item=item)
    connection.response.create(response=response or None)  # type: ignore[arg-type]
    return read_until(connection, "response.done")


class TestRealtime:
    def test_a_response_is_one_record(self, base_url: str, llm: CapturedRecords) -> None:
        """Prompt: the items added since the last response; system and params: the session."""
        with client(base_url).realtime.connect(model="gpt-realtime") as connection:
            events = realtime_turn(connection)
        [record] = llm.calls
        assert (record["operation"], record["method"]) == ("realtime", "realtime.connect")
        assert (record["model"], record["response_model"]) == ("gpt-realtime",) * 2
        assert record["system"] == "Answer in French."
        assert record["messages"] == [
            {"role": "user", "content": [{"type": "input_text", "text": "Hi"}]}
        ]
        assert record["params"] == {}
        assert record["output"]["text"] == "Hello"
        assert record["output"]["finish_reason"] == "completed"
        assert record["usage"]["input_tokens"] == 20
        assert record["usage"]["cached_input_tokens"] == 5
        assert record["usage"]["raw"] == REALTIME_USAGE
        assert record["response_id"] == events[-1].response.id
        assert (record["status"], record["stream"]) == ("ok", True)
        assert record["cost_usd"] > 0  # audio at audio rates; no cached split given: as text
        assert record["price_source"].endswith("openai:gpt-realtime")
        assert 0 < record["ttft_ms"] <= record["latency_ms"]

    def test_each_turn_has_only_its_own_items(self, base_url: str, llm: CapturedRecords) -> None:
        with client(base_url).realtime.connect(model="gpt-realtime") as connection:
            realtime_turn(connection)
            realtime_turn(connection, output_modalities=["text"])
        first, second = llm.calls
        assert len(first["messages"]) == len(second["messages"]) == 1
        assert second["params"] == {"output_modalities": ["text"]}

    def test_a_spoken_turn_answered_by_the_server_on_its_own(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        """Voice activity detection: no response.create; the user's audio is a transcript,
        and its transcription (another model, billed apart) a record of its own."""
        with client(base_url).realtime.connect(model="gpt-realtime") as connection:
            settings = transcribing(model="gpt-4o-transcribe", language="en")
            connection.session.update(session=settings)
            connection.input_audio_buffer.append(audio="UklGRg==" * 50)
            connection.input_audio_buffer.commit()
            events = read_until(connection, "response.done")
        answer, heard = sorted(llm.calls, key=lambda r: r["operation"] != "realtime")
        [message] = answer["messages"]
        assert message["role"] == "user"
        assert message["content"] == [{"type": "input_audio", "transcript": "Hi there"}]
        assert answer["output"]["text"] == "Hello"
        [committed] = [e for e in events if e.type == "input_audio_buffer.committed"]
        assert (heard["operation"], heard["method"]) == ("audio.transcriptions", "realtime.connect")
        assert (heard["model"], heard["response_id"]) == ("gpt-4o-transcribe", committed.item_id)
        assert heard["messages"] == [{"role": "user", "content": [{"type": "input_audio"}]}]
        assert heard["params"] == {"language": "en"}
        assert (heard["output"]["text"], heard["status"]) == ("Hi there", "ok")
        assert (heard["usage"]["input_tokens"], heard["usage"]["output_tokens"]) == (14, 3)
        assert heard["usage"]["raw"] == TRANSCRIPTION_USAGE
        # 12 audio tokens at $6/M, 2 text at $2.50/M, 3 out at $10/M
        assert heard["cost_usd"] == pytest.approx(1.07e-4)
        assert 0 < heard["ttft_ms"] <= heard["latency_ms"]

    def test_a_transcription_session(self, base_url: str, llm: CapturedRecords) -> None:
        """A session that only transcribes: one record per committed input; a model billed
        by the second has usage without tokens."""
        with client(base_url).realtime.connect(model="gpt-realtime") as connection:
            settings = transcribing("transcription", model="whisper-1", prompt="Names: Ana")
            connection.session.update(session=settings)
            for _ in range(2):
                connection.input_audio_buffer.commit()
                read_until(connection, "conversation.item.input_audio_transcription.completed")
        first, second = llm.calls
        assert {first["operation"], second["operation"]} == {"audio.transcriptions"}
        assert first["response_id"] != second["response_id"]
        prompt = [{"type": "text", "text": "Names: Ana"}, {"type": "input_audio"}]
        assert first["messages"] == [{"role": "user", "content": prompt}]
        assert first["output"]["text"] == "Hi there"
        assert first["usage"]["input_tokens"] is None
        assert first["usage"]["raw"] == {"type": "duration", "seconds": 2.5}
        assert first["cost_usd"] == pytest.approx(2.5 * 0.36 / 3600)  # $0.36 an hour

    def test_a_failed_transcription_is_an_error_record(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        with client(base_url).realtime.connect(model="gpt-realtime") as connection:
            connection.session.update(session=transcribing(model="fake-fail"))
            connection.input_audio_buffer.commit()
            read_until(connection, "response.done")
        answer, heard = sorted(llm.calls, key=lambda r: r["operation"] != "realtime")
        assert answer["status"] == "ok"
        assert (heard["status"], heard["output"]["text"]) == ("error", "Hi")
        assert heard["error"]["type"] == "transcription_error"
        assert heard["error"]["message"] == "Audio could not be transcribed."

    def test_closing_mid_transcription_records_what_arrived(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        with client(base_url).realtime.connect(model="gpt-realtime") as connection:
            settings = transcribing("transcription", model="gpt-4o-transcribe", prompt="fake-hang")
            connection.session.update(session=settings)
            connection.input_audio_buffer.commit()
            read_until(connection, "conversation.item.input_audio_transcription.delta")
        [heard] = llm.calls
        assert (heard["status"], heard["output"]["text"]) == ("cancelled", "Hi")
        assert heard["usage"] is None

    def test_no_transcription_no_record(self, base_url: str, llm: CapturedRecords) -> None:
        """A session that does not ask for transcription gives only the response's record."""
        with client(base_url).realtime.connect(model="gpt-realtime") as connection:
            connection.input_audio_buffer.commit()
            read_until(connection, "response.done")
        [answer] = llm.calls
        assert answer["operation"] == "realtime"
        assert answer["messages"] == [
            {"role": "user", "content": [{"type": "input_audio", "transcript": None}]}
        ]

    def test_an_out_of_band_response_alongside_the_conversations(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        """Two responses at once, each followed by its id; the side one (its own input,
        outside the conversation) leaves the conversation's items to the main one."""
        with client(base_url).realtime.connect(model="gpt-realtime") as connection:
            item = {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Hi"}],
            }
            connection.conversation.item.create(item=item)  # type: ignore[arg-type]
            connection.response.create(response={"instructions": "fake-hold"})
            read_until(connection, "response.output_audio_transcript.delta")
            side = {"type": "item_reference", "id": "item_1"}
            request = {"conversation": "none", "input": [side], "instructions": "Classify."}
            connection.response.create(response=request)  # type: ignore[arg-type]
            read_until(connection, "response.done")
            read_until(connection, "response.done")
        main, aside = sorted(llm.calls, key=lambda r: r["system"] != "fake-hold")
        assert main["messages"] == [
            {"role": "user", "content": [{"type": "input_text", "text": "Hi"}]}
        ]
        assert aside["messages"] == [{"role": None, "content": [side]}]
        assert aside["params"]["conversation"] == "none"
        assert main["response_id"] != aside["response_id"]
        assert (main["status"], aside["status"]) == ("ok", "ok")
        assert (main["output"]["text"], aside["output"]["text"]) == ("Hello", "Classified")

    def test_errors_about_other_events_are_not_the_responses(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        """A refused item is not the response asked for next; a refused response.create is
        an error record even while audio keeps being sent."""
        with client(base_url).realtime.connect(model="gpt-realtime") as connection:
            bad = {"type": "function_call_output", "call_id": "bad", "output": "x"}
            connection.conversation.item.create(item=bad)  # type: ignore[arg-type]
            connection.response.create(response={"instructions": "Answer."})
            read_until(connection, "response.done")
            connection.response.create(response={"instructions": "fake-busy"})
            connection.input_audio_buffer.append(audio="UklGRg==")
            read_until(connection, "error")
        answered, refused = llm.calls
        assert (answered["status"], answered["system"]) == ("ok", "Answer.")
        assert refused["status"] == "error"
        assert refused["error"]["body"]["code"] == "conversation_already_has_active_response"
        assert refused["system"] == "fake-busy"

    def test_a_response_the_server_starts_does_not_take_a_waiting_side_request(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        """An out-of-band request waits while the server answers a spoken turn first: each
        response gets the request of its kind (``conversation_id`` tells them apart)."""
        with client(base_url).realtime.connect(model="gpt-realtime") as connection:
            connection.session.update(session=transcribing(model="gpt-4o-transcribe"))
            side = {"type": "item_reference", "id": "item_1"}
            request = {"conversation": "none", "input": [side], "instructions": "fake-later"}
            connection.response.create(response=request)  # type: ignore[arg-type]
            connection.input_audio_buffer.commit()
            read_until(connection, "response.done")
            read_until(connection, "response.done")
        responses = [r for r in llm.calls if r["operation"] == "realtime"]
        by_system = {r["system"]: (r["messages"], r["output"]["text"]) for r in responses}
        spoken = [{"role": "user", "content": [{"type": "input_audio", "transcript": "Hi there"}]}]
        assert by_system == {
            "fake-later": ([{"role": None, "content": [side]}], "Classified"),
            "Be kind.": (spoken, "Hello"),
        }

    def test_a_response_with_its_own_input_in_the_conversation(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        """Its own input is its prompt; it is still answered in the conversation."""
        own = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Own"}],
        }
        with client(base_url).realtime.connect(model="gpt-realtime") as connection:
            connection.response.create(response={"input": [own]})  # type: ignore[list-item]
            read_until(connection, "response.done")
        [record] = llm.calls
        assert record["status"] == "ok"
        assert record["messages"] == [{"role": "user", "content": own["content"]}]

    def test_an_error_is_matched_by_the_event_id_it_names(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        """An error naming another event (even about a setting of responses) is not the
        waiting request's; one naming the request's own event id is."""
        with client(base_url).realtime.connect(model="gpt-realtime") as connection:
            update: Any = {"type": "realtime", "max_output_tokens": "bad"}
            connection.session.update(session=update, event_id="evt_update")
            connection.response.create()
            read_until(connection, "error")
            read_until(connection, "response.done")
            invalid = {"instructions": "fake-invalid"}
            connection.response.create(response=invalid, event_id="evt_mine")  # type: ignore[arg-type]
            read_until(connection, "error")
        answered, refused = llm.calls
        assert (answered["status"], answered["output"]["text"]) == ("ok", "Hello")
        assert (refused["status"], refused["error"]["message"]) == ("error", "Invalid tools.")

    def test_audio_the_app_sends_is_a_stub(self, base_url: str, llm: CapturedRecords) -> None:
        audio = "UklGRiQAAABXQVZF" * 100
        with client(base_url).realtime.connect(model="gpt-realtime") as connection:
            part = {"type": "input_audio", "audio": audio}
            connection.conversation.item.create(
                item={"type": "message", "role": "user", "content": [part]}
            )
            connection.response.create()
            read_until(connection, "response.done")
        [record] = llm.calls
        [part] = record["messages"][0]["content"]
        assert part["audio"]["bytes"] == 1200 and len(part["audio"]["sha256"]) == 64
        assert audio[:64] not in json.dumps(record)

    def test_tool_calls_and_their_results(self, base_url: str, llm: CapturedRecords) -> None:
        """The model's call is output, never the next prompt; the app's result is a tool message."""
        with client(base_url).realtime.connect(model="gpt-realtime") as connection:
            realtime_turn(connection, instructions="fake-tool")
            result = {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}
            connection.conversation.item.create(item=result)  # type: ignore[arg-type]
            connection.response.create()
            read_until(connection, "response.done")
        asked, answered = llm.calls
        assert asked["output"]["tool_calls"] == [
            {
                "id": "call_1",
                "type": "function",
                "name": "get_weather",
                "arguments": '{"city": "Paris"}',
            }
        ]
        assert answered["messages"] == [
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
        ]

    def test_a_failed_response_is_an_error_record(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        with client(base_url).realtime.connect(model="gpt-realtime") as connection:
            realtime_turn(connection, instructions="fake-failed")
        [record] = llm.calls
        assert record["status"] == "error"
        assert record["error"]["message"] == "The model crashed."
        assert record["system"] == "fake-failed"  # the response's own instructions

    def test_closing_mid_response_records_the_transcript_so_far(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        with client(base_url).realtime.connect(model="gpt-realtime") as connection:
            connection.response.create(response={"instructions": "fake-hang"})
            read_until(connection, "response.output_audio_transcript.delta")
        [record] = llm.calls
        assert (record["status"], record["output"]["text"]) == ("cancelled", "Hel")

    async def test_async(self, base_url: str, llm: CapturedRecords) -> None:
        async with async_client(base_url).realtime.connect(model="gpt-realtime") as connection:
            await connection.response.create()
            async for event in connection:
                if event.type == "response.done":
                    break
        [record] = llm.calls
        assert (record["output"]["text"], record["status"]) == ("Hello", "ok")


class TestRealtimeSessionAlone:
    """The session's bookkeeping, fed messages directly (no server needed)."""

    @staticmethod
    def feed(session: Any, *events: dict[str, Any]) -> None:
        for event in events:
            session.received(json.dumps(event))

    def test_ttft_is_the_first_delta_of_the_response_itself(self, llm: CapturedRecords) -> None:
        """A transcription delta of the user's audio does not count; an audio delta does."""
        session = RealtimeSession()
        created = {"type": "response.created", "response": {"id": "r1"}}
        heard = {"type": "conversation.item.input_audio_transcription.delta", "delta": "Hi"}
        self.feed(session, created, heard)
        [cap] = [lane.current for lane in session._lanes.values()]
        assert cap.first_chunk_perf is None
        audio = {"type": "response.output_audio.delta", "response_id": "r1", "delta": "AAAA"}
        self.feed(session, audio)
        assert cap.first_chunk_perf is not None
        assert len(cap.chunks) == 1  # the audio itself is not kept
        session.end_all("cancelled")

    def test_a_response_voice_activity_started_as_the_app_asked_is_the_servers(
        self, llm: CapturedRecords
    ) -> None:
        """The user speaks just as the app sends ``response.create``: the server starts its
        own response, then refuses the app's as busy. The running response is the server's
        (the session's instructions); the app's request is the refusal's error record."""
        session = RealtimeSession()
        self.feed(session, {"type": "session.created", "session": {"instructions": "Be kind."}})
        asked = {"type": "response.create", "response": {"instructions": "Answer in French."}}
        session.sent(json.dumps(asked))
        busy = {"code": "conversation_already_has_active_response", "message": "busy"}
        self.feed(
            session,
            {"type": "response.created", "response": {"id": "r1", "conversation_id": "c"}},
            {"type": "error", "error": {"type": "invalid_request_error", **busy}},
            {"type": "response.output_text.delta", "response_id": "r1", "delta": "Hi"},
            {"type": "response.done", "response": {"id": "r1", "status": "completed"}},
        )
        refused, answered = llm.calls
        assert (refused["status"], refused["system"]) == ("error", "Answer in French.")
        assert (answered["status"], answered["system"]) == ("ok", "Be kind.")
        assert (answered["response_id"], refused["response_id"]) == ("r1", None)

    def test_deltas_without_a_response_id_go_to_the_one_response_in_flight(
        self, llm: CapturedRecords
    ) -> None:
        session = RealtimeSession()
        self.feed(
            session,
            {"type": "response.created", "response": {"id": "r1"}},
            {"type": "response.output_text.delta", "delta": "Hel"},
            {"type": "response.output_text.delta", "delta": "lo"},
        )
        session.end_all("cancelled")
        [record] = llm.calls
        assert (record["status"], record["output"]["text"]) == ("cancelled", "Hello")

    def test_a_done_for_an_unknown_response_ends_nothing(self, llm: CapturedRecords) -> None:
        session = RealtimeSession()
        self.feed(
            session,
            {"type": "response.created", "response": {"id": "r1"}},
            {"type": "response.done", "response": {"id": "r9", "status": "completed"}},
        )
        assert llm.calls == []
        self.feed(
            session, {"type": "response.done", "response": {"id": "r1", "status": "completed"}}
        )
        [record] = llm.calls
        assert (record["response_id"], record["status"]) == ("r1", "ok")

    def test_items_kept_between_responses_are_bounded(self, llm: CapturedRecords) -> None:
        session = RealtimeSession()
        for number in range(2500):
            item = {"id": f"i{number}", "type": "message", "role": "user", "content": []}
            self.feed(session, {"type": "conversation.item.added", "item": item})
        assert len(session._items) <= 1000
        self.feed(session, {"type": "session.created", "session": {"model": "gpt-realtime"}})
        assert session._items == []

    def test_transcriptions_follow_the_settings_and_are_bounded(self, llm: CapturedRecords) -> None:
        """Committed audio starts a transcription only when the settings ask for one; one
        that ends without a start is still recorded; a server that never ends them cannot
        grow the session; a lost connection ends those in flight as errors."""
        session = RealtimeSession()
        kind = "conversation.item.input_audio_transcription."
        self.feed(session, {"type": "input_audio_buffer.committed", "item_id": "a"})
        assert session._transcriptions._transcribing == {}
        settings = {"type": "session.updated", "session": transcribing(model="gpt-4o-transcribe")}
        ended = {"type": kind + "completed", "item_id": "b", "transcript": "B"}
        self.feed(session, settings, ended, ended)
        [unstarted] = llm.calls
        assert (unstarted["response_id"], unstarted["output"]["text"]) == ("b", "B")
        for number in range(150):
            self.feed(session, {"type": "input_audio_buffer.committed", "item_id": f"i{number}"})
        assert len(session._transcriptions._transcribing) == 100
        assert [r["status"] for r in llm.calls[1:]] == ["cancelled"] * 50
        session.lost(ConnectionError("gone"))
        assert session._transcriptions._transcribing == {}
        assert {r["status"] for r in llm.calls[51:]} == {"error"} and len(llm.calls) == 151
        # Ended once: the late end of an evicted one, or of one a close ended, adds nothing.
        for item in ("i0", "i149"):
            self.feed(session, {"type": kind + "completed", "item_id": item, "transcript": "X"})
        assert len(llm.calls) == 151 and session._transcriptions._transcribing == {}

    def test_a_streaming_transcription_starts_at_its_first_delta(
        self, llm: CapturedRecords
    ) -> None:
        """Models that transcribe as speech arrives send deltas before the commit."""
        session = RealtimeSession()
        kind = "conversation.item.input_audio_transcription."
        settings = {"type": "session.created", "session": transcribing(model="gpt-live-transcribe")}
        delta = {"type": kind + "delta", "item_id": "a", "delta": "Hel"}
        committed = {"type": "input_audio_buffer.committed", "item_id": "a"}
        self.feed(session, settings, delta, committed, {**delta, "delta": "lo"})
        session.end_all("cancelled")
        [record] = llm.calls
        assert (record["output"]["text"], record["status"]) == ("Hello", "cancelled")
        assert record["ttft_ms"] is None  # first seen with its first delta: not known

    def test_a_cancelled_send_is_recorded_and_takes_no_answer(self, llm: CapturedRecords) -> None:
        """It may have gone out, but left waiting it would pair every later answer wrongly."""

        class Queue(list[Any]):
            """Stands in for the SDK's send queue (sessions are kept per queue)."""

        class Connection:
            _send_queue = Queue()

        send = websocket_patches.wrappers("Realtime", RealtimeSession)["RealtimeConnection.send"]

        def interrupted(event: Any) -> None:
            raise KeyboardInterrupt

        def create(instructions: str) -> tuple[Any, ...]:
            return ({"type": "response.create", "response": {"instructions": instructions}},)

        connection = Connection()
        with pytest.raises(KeyboardInterrupt):
            send(interrupted, connection, create("A"), {})
        send(lambda event: None, connection, create("B"), {})
        session = websocket_patches._sessions[id(connection._send_queue)]
        self.feed(
            session,
            {"type": "response.created", "response": {"id": "r1"}},
            {"type": "response.done", "response": {"id": "r1", "status": "completed"}},
        )
        records = [(r["system"], r["status"]) for r in llm.calls]
        assert records == [("A", "cancelled"), ("B", "ok")]


def translate(connection: Any, chunks: int = 2, **settings: Any) -> list[Any]:
    """Settings, then ``chunks`` audio chunks, each read up to its translated transcript."""
    events = []
    if settings:
        connection.session.update(session={"audio": settings})
        events += read_until(connection, "session.updated")
    for _ in range(chunks):
        connection.session.input_audio_buffer.append(audio="UklGRg==")
        events += read_until(connection, "session.output_transcript.delta")
    return events


def has_translation_connections() -> bool:
    """Whether ``realtime.translations.connect()`` is there (openai 3.25 has the module,
    without ``Translations.connect`` and its ``TranslationsConnection``)."""
    if importlib.util.find_spec("openai.resources.realtime.translations") is None:
        return False
    module = importlib.import_module("openai.resources.realtime.translations.translations")
    return hasattr(module, "TranslationsConnection") and hasattr(module.Translations, "connect")


needs_translation_connections = pytest.mark.skipif(
    not has_translation_connections(),
    reason="this openai has no realtime.translations.connect (TranslationsConnection)",
)


@pytest.mark.skipif(
    importlib.util.find_spec("openai.resources.realtime.translations") is None,
    reason="this openai has no realtime translations",
)
class TestRealtimeTranslation:
    @needs_translation_connections
    def test_a_session_is_one_record(self, base_url: str, llm: CapturedRecords) -> None:
        """Model and settings from the server, source transcript in, translation out."""
        connect = client(base_url).realtime.translations.connect
        with connect(model="gpt-realtime-translate") as connection:
            settings = {"input": {"transcription": {"model": "gpt-4o-transcribe"}}}
            translate(connection, **settings, output={"language": "fr"})
            connection.session.close()
            read_until(connection, "session.closed")
        [record] = llm.calls
        assert (record["method"], record["operation"]) == (
            "realtime.translations.connect",
            "realtime.translation",
        )
        assert record["model"] == "gpt-realtime-translate"
        assert record["response_id"].startswith("sess_")
        assert record["params"] == {"audio": {**settings, "output": {"language": "fr"}}}
        heard = {"type": "input_audio", "transcript": "Good morning"}
        assert record["messages"] == [{"role": "user", "content": [heard]}]
        assert (record["output"]["text"], record["status"]) == ("Bonjour", "ok")
        assert (record["usage"], record["cost_usd"], record["stream"]) == (None, None, True)
        assert 0 < record["ttft_ms"] <= record["latency_ms"]

    @needs_translation_connections
    def test_leaving_the_block_ends_it(self, base_url: str, llm: CapturedRecords) -> None:
        """Closing is how a translation ends: what arrived is all of it."""
        connect = client(base_url).realtime.translations.connect
        with connect(model="gpt-realtime-translate") as connection:
            translate(connection, chunks=1)
        [record] = llm.calls
        assert (record["output"]["text"], record["status"]) == ("Bon", "ok")
        assert record["messages"][0]["content"] == [{"type": "input_audio", "transcript": None}]
        assert record["params"] == {"audio": {"input": {}, "output": {"language": "es"}}}

    @needs_translation_connections
    def test_settings_queued_before_connecting(self, base_url: str, llm: CapturedRecords) -> None:
        """Queued on the manager: sent, and the clock started, when the connection opens."""
        manager = client(base_url).realtime.translations.connect(model="gpt-realtime-translate")
        german = {"audio": {"output": {"language": "de"}}}
        manager.send({"type": "session.update", "session": german})
        time.sleep(1)
        opening = time.perf_counter()
        with manager as connection:
            read_until(connection, "session.updated")
            translate(connection, chunks=1)
        ended = time.perf_counter()
        [record] = llm.calls
        assert record["params"]["audio"]["output"] == {"language": "de"}
        # (the same clock as the record's, which rounds to the microsecond)
        assert record["latency_ms"] <= (ended - opening) * 1000 + 1  # not from before the sleep

    @needs_translation_connections
    def test_the_app_reads_the_same_events_as_without_llmlog(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        def run() -> list[tuple[str, dict[str, Any]]]:
            with client(base_url).realtime.translations.connect(model="m") as connection:
                events = dumped(translate(connection, input={"transcription": {"model": "t"}}))
            for _, event in events:
                (event.get("session") or {}).pop("id", None)  # the fake numbers its sessions
            return events

        instrumented = run()
        _base.uninstall_all()
        assert run() == instrumented
        assert len(instrumented) == 8 and len(llm.calls) == 1

    @needs_translation_connections
    def test_a_lost_connection_is_an_error_record(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        connect = client(base_url).realtime.translations.connect
        with (
            pytest.raises(websockets.exceptions.ConnectionClosedError) as raised,
            connect(model="gpt-realtime-translate") as connection,
        ):
            translate(connection, chunks=1)
            connection.session.input_audio_buffer.append(audio="fake-drop")
            read_until(connection, "session.closed")
        [record] = llm.calls
        assert (record["status"], record["output"]["text"]) == ("error", "Bon")
        assert record["error"]["type"] == type(raised.value).__name__

    @needs_translation_connections
    def test_a_session_the_sdk_reconnects_is_two_records(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        """After a lost connection the SDK recovers from, the new server session (billed
        apart) is a record of its own."""
        connect = client(base_url).realtime.translations.connect
        reconnecting = {"on_reconnecting": lambda event: None, "initial_delay": 0.01}
        with connect(model="gpt-realtime-translate", **reconnecting) as connection:
            translate(connection, chunks=1)
            connection.session.input_audio_buffer.append(audio="fake-drop")
            read_until(connection, "session.created")
            translate(connection, chunks=1)
            connection.session.close()
            read_until(connection, "session.closed")
        lost, again = llm.calls
        assert (lost["status"], lost["output"]["text"]) == ("error", "Bon")
        assert (again["status"], again["output"]["text"]) == ("ok", "Bon")
        assert lost["response_id"] != again["response_id"]

    @needs_translation_connections
    def test_a_normal_close_by_the_server_ends_it_well(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        with client(base_url).realtime.translations.connect(model="m") as connection:
            translate(connection, chunks=1)
            connection.session.input_audio_buffer.append(audio="fake-bye")
            assert [event.type for event in connection] == []
        [record] = llm.calls
        assert (record["status"], record["output"]["text"]) == ("ok", "Bon")

    @needs_translation_connections
    def test_an_abandoned_connection_is_cancelled_when_collected(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        manager = client(base_url).realtime.translations.connect(model="m")
        connection = manager.enter()
        translate(connection, chunks=1)
        socket = connection._connection
        del manager, connection
        gc.collect()
        [record] = llm.calls
        assert (record["status"], record["output"]["text"]) == ("cancelled", "Bon")
        socket.close()

    def test_the_sdks_session_helper_reading_with_a_timeout(
        self, base_url: str, llm: CapturedRecords
    ) -> None:
        """``recv(timeout=...)`` of ``openai.lib.realtime_translation`` reads past recv_bytes."""
        helper = pytest.importorskip("openai.lib.realtime_translation")
        translations = client(base_url).realtime.translations
        with helper.TranslationSession(translations, model="gpt-realtime-translate") as connection:
            connection.send({"type": "session.input_audio_buffer.append", "audio": "UklGRg=="})
            kinds = [connection.recv(timeout=5).type]
            while kinds[-1] != "session.output_transcript.delta":
                kinds.append(connection.recv(timeout=5).type)
            connection.send({"type": "session.close"})
            while connection.recv(timeout=5).type != "session.closed":
                pass
        [record] = llm.calls
        assert (record["model"], record["output"]["text"]) == ("gpt-realtime-translate", "Bon")
        assert record["status"] == "ok" and record["ttft_ms"] > 0

    def test_an_error_that_ends_it_is_the_records(self, llm: CapturedRecords) -> None:
        """An error nothing follows ended the translation; one it recovered from did not."""
        error = {"type": "error", "error": {"type": "invalid_request_error", "message": "Gone."}}
        said = {"type": "session.output_transcript.delta", "delta": "Hola"}
        for events in ([said, error], [error, said]):
            session = RealtimeTranslationSession()
            for event in events:
                session.received(json.dumps(event))
            session.closed()
        ended, recovered = llm.calls
        assert (ended["status"], ended["error"]["message"]) == ("error", "Gone.")
        assert (recovered["status"], recovered["output"]["text"]) == ("ok", "Hola")

    def test_only_a_new_server_session_begins_a_record_after_a_loss(
        self, llm: CapturedRecords
    ) -> None:
        """An admission error after a failed reconnect is no translation of its own."""
        session = RealtimeTranslationSession()
        lost = websockets.exceptions.ConnectionClosedError(None, None)
        session.lost(lost)
        session.received(json.dumps({"type": "error", "error": {"message": "Busy."}}))
        session.lost(lost)
        session.closed()
        assert [r["status"] for r in llm.calls] == ["error"]

    def test_each_transcript_is_bounded_on_its_own(
        self, llm: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A long source transcript never crowds out the translation, the record's output."""
        monkeypatch.setattr(session_call, "_MAX_KEPT", 3)
        session = RealtimeTranslationSession()
        for kind, delta in [("input", "a")] * 5 + [("output", "b")] * 5:
            event = {"type": f"session.{kind}_transcript.delta", "delta": delta}
            session.received(json.dumps(event))
        session.closed()
        [record] = llm.calls
        assert record["output"]["text"] == "bbb"
        assert record["messages"][0]["content"][0]["transcript"] == "aaa"

    @needs_translation_connections
    async def test_async(self, base_url: str, llm: CapturedRecords) -> None:
        connect = async_client(base_url).realtime.translations.connect
        async with connect(model="gpt-realtime-translate") as connection:
            await connection.session.input_audio_buffer.append(audio="UklGRg==")
            async for event in connection:
                if event.type == "session.output_transcript.delta":
                    break
        [record] = llm.calls
        assert (record["output"]["text"], record["status"]) == ("Bon", "ok")
        assert record["method"] == "realtime.translations.connect"
