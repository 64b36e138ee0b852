"""A call's whole life, through the real SDK clients: cancellation by any event loop,
calls still in flight at exit or at ``uninstrument()``, a writer started while a garbage
collection finishes a stream, context taken when a helper sends its request, streams
abandoned at ``asyncio.run``'s end."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

import anthropic_fakes
import llmlog
from llmlog._record import is_cancellation
from llmlog.instrumentors import _base
from llmlog.testing import CapturedRecords, capture_records
from openai_fakes import async_client, chat_chunks, chat_completion, default_fake, json_response
from openai_fakes import sync_client as openai_client

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def cap() -> Iterator[CapturedRecords]:
    with capture_records(redact="off") as captured:
        yield captured


def trio_like_cancelled() -> type[BaseException]:
    """A stand-in for ``trio.Cancelled`` (what anyio raises under trio): a BaseException
    of that name from the ``trio`` package."""
    return type("Cancelled", (BaseException,), {"__module__": "trio._core._exceptions"})


def raising(exc: BaseException) -> Any:
    def handle(request: httpx2.Request) -> httpx2.Response:
        raise exc

    return handle


class TestCancellationByAnyLoop:
    def test_which_exceptions_are_cancellations(self) -> None:
        import concurrent.futures

        class AppCancelled(asyncio.CancelledError):
            pass

        cancelled = trio_like_cancelled()
        assert is_cancellation(asyncio.CancelledError())
        assert is_cancellation(AppCancelled())
        assert is_cancellation(concurrent.futures.CancelledError())
        assert is_cancellation(cancelled())
        assert is_cancellation(type("Sub", (cancelled,), {})())
        assert is_cancellation(KeyboardInterrupt())
        assert is_cancellation(GeneratorExit())
        assert not is_cancellation(ValueError("x"))
        assert not is_cancellation(type("Cancelled", (Exception,), {})())  # not trio's

    def test_a_trio_cancellation_of_a_call_is_cancelled(self, cap: CapturedRecords) -> None:
        cancelled = trio_like_cancelled()
        with pytest.raises(cancelled):
            openai_client(raising(cancelled())).chat.completions.create(
                model="m", messages=MESSAGES
            )
        [record] = cap.calls
        assert (record["status"], record["error"]["type"]) == ("cancelled", "Cancelled")

    def test_a_trio_cancellation_mid_stream_is_cancelled(self, cap: CapturedRecords) -> None:
        cancelled = trio_like_cancelled()
        lines = [f"data: {json.dumps(chunk)}\n\n".encode() for chunk in chat_chunks()]

        class Body(httpx2.SyncByteStream):
            def __iter__(self) -> Iterator[bytes]:
                yield from lines[:2]
                raise cancelled()

        def handle(request: httpx2.Request) -> httpx2.Response:
            return httpx2.Response(
                200, headers={"content-type": "text/event-stream"}, stream=Body()
            )

        stream = openai_client(handle).chat.completions.create(
            model="m", messages=MESSAGES, stream=True
        )
        with pytest.raises(cancelled):
            for _ in stream:
                pass
        [record] = cap.calls
        assert record["status"] == "cancelled"

    def test_a_trio_cancellation_entering_messages_stream_is_cancelled(
        self, cap: CapturedRecords
    ) -> None:
        cancelled = trio_like_cancelled()
        client = anthropic_fakes.sync_client(raising(cancelled()))
        with (
            pytest.raises(cancelled),
            client.messages.stream(model=anthropic_fakes.MODEL, max_tokens=5, messages=MESSAGES),
        ):
            pass
        [record] = cap.calls
        assert (record["method"], record["status"]) == ("messages.stream", "cancelled")

    def test_under_trio_itself(self, cap: CapturedRecords) -> None:
        trio = pytest.importorskip("trio")

        async def slow(request: httpx2.Request) -> httpx2.Response:
            await trio.sleep(5)
            return json_response(chat_completion())

        async def main() -> bool:
            client = async_client(slow)
            with trio.move_on_after(0.05) as scope:
                await client.chat.completions.create(model="m", messages=MESSAGES)
            return bool(scope.cancelled_caught)

        assert trio.run(main)
        [record] = cap.calls
        assert (record["status"], record["error"]["type"]) == ("cancelled", "Cancelled")


class TestWriterStart:
    def test_a_collection_while_the_writer_starts_cannot_deadlock(
        self, cap: CapturedRecords, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The first call starts the writer; a garbage collection right then (here: the
        writer's Thread being built) finishes an abandoned stream, whose record comes back
        into the pipeline: queued, not a second writer, not a deadlock. (The stream is
        opened under ``cap``; the calls below go to a fresh pipeline, its writer not
        started yet.)"""
        client = openai_client(default_fake())
        abandoned = [client.chat.completions.create(model="m", messages=MESSAGES, stream=True)]
        next(iter(abandoned[0]))
        fresh = capture_records()
        cap = fresh.__enter__()
        outcome: list[Any] = []

        def first_call() -> None:
            outcome.append(client.chat.completions.create(model="m", messages=MESSAGES))

        caller = threading.Thread(target=first_call, daemon=True)
        real_thread = threading.Thread
        writers: list[str] = []

        class CollectingThread(real_thread):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                if kwargs.get("name") == "llmlog-writer":
                    writers.append("started")
                    abandoned.clear()  # the stream's finalizer runs here
                    gc.collect()
                super().__init__(*args, **kwargs)

        monkeypatch.setattr(threading, "Thread", CollectingThread)
        try:
            caller.start()
            caller.join(10)
            monkeypatch.undo()
            assert not caller.is_alive(), "deadlocked"
            assert outcome
            assert writers == ["started"]
            assert sorted(r["status"] for r in cap.calls) == ["cancelled", "ok"]
        finally:
            fresh.__exit__(None, None, None)


class TestCtrlC:
    def test_ctrl_c_in_the_first_call_keeps_the_exit_status_of_a_sigint(
        self, tmp_path: Path
    ) -> None:
        """A script stopped by Ctrl-C during its first (slow) call dies of SIGINT as it does
        without llmlog, its record written: the writer got ready while the call ran (an
        import while the interpreter exits turns that status into 1)."""
        out = tmp_path / "llmlog.jsonl"
        script = f"""
            import time, llmlog
            from openai_fakes import sync_client
            llmlog.instrument(output={str(out)!r}, redact="secrets")
            def slow(request):
                time.sleep(1.5)
                raise KeyboardInterrupt  # the user presses Ctrl-C while the call waits
            sync_client(slow).chat.completions.create(model="m", messages=[])
        """
        tested = Path(llmlog.__file__).parents[1]  # the llmlog under test, in the child too
        path = os.pathsep.join([str(Path(__file__).parent), str(tested)])
        env = {"PYTHONPATH": path, "_LLMLOG_RAISE_INTERNAL_ERRORS": "1"}
        proc = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(script)],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert proc.returncode == -signal.SIGINT, proc.stderr
        [record] = [json.loads(line) for line in out.read_text().splitlines()]
        assert record["status"] == "cancelled"


class TestInFlightAtTheEnd:
    def test_a_call_recorded_at_exit_is_not_recorded_again_when_it_ends(
        self, cap: CapturedRecords
    ) -> None:
        """The exit hook records a call still waiting as ``cancelled``; the thread that gets
        its answer afterwards hands it to the app, with no second record."""
        arrived, release = threading.Event(), threading.Event()
        answers: list[Any] = []

        def handle(request: httpx2.Request) -> httpx2.Response:
            arrived.set()
            release.wait(5)
            return json_response(chat_completion())

        client = openai_client(handle)
        thread = threading.Thread(
            target=lambda: answers.append(
                client.chat.completions.create(model="m", messages=MESSAGES)
            )
        )
        thread.start()
        assert arrived.wait(5)
        for hook in llmlog._ending.before_exit:
            hook()
        release.set()
        thread.join(5)
        assert answers[0].choices[0].message.content == "Hello there!"
        [record] = cap.calls
        assert (record["status"], record["error"]) == ("cancelled", None)
        assert record["messages"] == MESSAGES

    def test_calls_in_flight_at_exit_are_recorded(self, tmp_path: Path) -> None:
        """A daemon thread inside a slow ``create()`` and a task pending in a loop that is
        never closed, when the interpreter exits: each gets one ``cancelled`` record."""
        out = tmp_path / "calls.jsonl"
        script = tmp_path / "app.py"
        script.write_text(
            textwrap.dedent(
                f"""
                import asyncio, sys, threading, time
                sys.path[:0] = {sys.path!r}
                import httpx2, llmlog, openai
                from openai_fakes import async_client, sync_client

                llmlog.instrument(output={str(out)!r}, redact="off")
                arrived = threading.Event()

                def slow(request):
                    arrived.set()
                    time.sleep(30)

                async def aslow(request):
                    await asyncio.sleep(30)

                def ask(text):
                    return [{{"role": "user", "content": text}}]

                client = sync_client(slow)
                def call():
                    client.chat.completions.create(model="m", messages=ask("thread"))

                threading.Thread(target=call, daemon=True).start()
                arrived.wait(10)
                loop = asyncio.new_event_loop()
                call = async_client(aslow).chat.completions.create(model="m", messages=ask("task"))
                task = loop.create_task(call)
                loop.run_until_complete(asyncio.sleep(0.1))
                """
            )
        )
        proc = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
        )
        assert proc.returncode == 0, proc.stderr
        records = [json.loads(line) for line in out.read_text().splitlines()]
        found = sorted((r["messages"][0]["content"], r["status"], r["error"]) for r in records)
        assert found == [("task", "cancelled", None), ("thread", "cancelled", None)]

    def test_uninstrument_records_open_streams_and_calls_in_flight(self, tmp_path: Path) -> None:
        """A stream still open and calls in flight on other threads: the one that ends
        within the flush timeout is recorded as it ended, the one still waiting then and
        the stream as ``cancelled``; each app thread gets its answer untouched."""
        out = tmp_path / "calls.jsonl"
        arrived = {"quick": threading.Event(), "slow": threading.Event()}
        release = {"quick": threading.Event(), "slow": threading.Event()}
        answers: dict[str, Any] = {}

        def handle(request: httpx2.Request) -> httpx2.Response:
            text = json.loads(request.content)["messages"][0]["content"]
            if text in arrived:
                arrived[text].set()
                assert release[text].wait(30)
            return default_fake()(request)

        def release_quick_once_uninstrumenting() -> None:
            """Lets "quick" answer once uninstrument() has begun (and so waits for it)."""
            deadline = time.monotonic() + 30
            while _base._active and time.monotonic() < deadline:
                time.sleep(0.001)
            release["quick"].set()

        client = openai_client(handle)

        def call(text: str) -> None:
            messages = [{"role": "user", "content": text}]
            answers[text] = client.chat.completions.create(model="m", messages=messages)

        # (the timeout only bounds the wait for "slow", held until uninstrument() is over;
        # "quick" is let go as the wait begins, and needs a fraction of it)
        llmlog.instrument(output=str(out), redact="off", flush_timeout=2.0)
        try:
            threads = [threading.Thread(target=call, args=(text,)) for text in arrived]
            for thread in threads:
                thread.start()
            for event in arrived.values():
                assert event.wait(5)
            stream = client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "stream"}], stream=True
            )
            next(iter(stream))
            releaser = threading.Thread(target=release_quick_once_uninstrumenting)
            releaser.start()
        finally:
            llmlog.uninstrument()
            for event in release.values():  # "slow" answers only now ("quick" did already)
                event.set()
        releaser.join(5)
        assert [chunk.id for chunk in stream]  # the app reads on, as without llmlog
        for thread in threads:
            thread.join(5)
        assert set(answers) == {"quick", "slow"}
        records = [json.loads(line) for line in out.read_text().splitlines()]
        found = sorted((r["messages"][0]["content"], r["status"]) for r in records)
        assert found == [("quick", "ok"), ("slow", "cancelled"), ("stream", "cancelled")]


class TestHelperContext:
    def test_messages_stream_takes_the_context_when_entered(self, cap: CapturedRecords) -> None:
        """Values are taken when the call starts: when the helper sends its request."""
        handler = anthropic_fakes.sse_handler(anthropic_fakes.stream_events())
        client = anthropic_fakes.sync_client(handler)
        manager = client.messages.stream(
            model=anthropic_fakes.MODEL, max_tokens=5, messages=MESSAGES
        )
        with llmlog.context(session_id="entered-here"), manager as stream:
            stream.get_final_message()
        [record] = cap.calls
        assert record["session_id"] == "entered-here"

    async def test_async_messages_stream_takes_the_context_when_entered(
        self, cap: CapturedRecords
    ) -> None:
        handler = anthropic_fakes.sse_handler(anthropic_fakes.stream_events())
        client = anthropic_fakes.async_client(handler)
        with llmlog.context(session_id="built-here"):
            manager = client.messages.stream(
                model=anthropic_fakes.MODEL, max_tokens=5, messages=MESSAGES
            )
        with llmlog.context(session_id="entered-here"):
            async with manager as stream:
                await stream.get_final_message()
        [record] = cap.calls
        assert record["session_id"] == "entered-here"


class TestAbandonedAsyncStreams:
    def test_a_stream_left_at_asyncio_run_end_is_cancelled_without_an_error(
        self, cap: CapturedRecords
    ) -> None:
        """A stream kept, unfinished, past ``asyncio.run``: the app saw no CancelledError,
        and its record (when the app lets go of it) says none, like any abandoned stream."""
        kept: list[Any] = []

        async def main() -> None:
            client = async_client(default_fake())
            stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
            async for _ in stream:
                break
            kept.append(stream)

        asyncio.run(main())
        kept.clear()
        gc.collect()
        [record] = cap.calls
        assert (record["status"], record["error"]) == ("cancelled", None)
