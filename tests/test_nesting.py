"""The nesting guard and helper labels: only the SDK's own calls inside a call are skipped
or labelled, never the calls of a task or thread the app starts during one; and a call's
coroutine closed outside its task leaves nothing behind."""

from __future__ import annotations

import asyncio
import contextvars
import json
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import httpx2
import openai
import pytest

from llmlog.testing import CapturedRecords, capture_records
from openai_fakes import (
    chat_completion,
    error_body,
    json_response,
    response_events,
    response_object,
    sse_response,
)


@pytest.fixture
def cap() -> Any:
    with capture_records(redact="off") as captured:
        yield captured


def said(request: httpx2.Request) -> str:
    body = json.loads(request.content)
    messages = body.get("messages")
    return str(messages[0]["content"] if messages else body.get("input"))


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def prompts(cap: CapturedRecords) -> list[str]:
    return sorted(r["messages"][0]["content"] if r["messages"] else "" for r in cap.calls)


def async_openai(
    handler: Callable[[httpx2.Request], Awaitable[httpx2.Response]], **hooks: list[Any]
) -> openai.AsyncOpenAI:
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler), event_hooks=hooks)
    return openai.AsyncOpenAI(api_key="sk-test", http_client=http, max_retries=0)


def sync_openai(handler: Callable[[httpx2.Request], httpx2.Response], **hooks: list[Any]) -> Any:
    http = httpx2.Client(transport=httpx2.MockTransport(handler), event_hooks=hooks)
    return openai.OpenAI(api_key="sk-test", http_client=http, max_retries=0)


class TestSpawnedDuringACall:
    async def test_a_worker_task_started_from_a_hook_is_recorded(
        self, cap: CapturedRecords
    ) -> None:
        """A lazily started worker (created in an httpx hook of the first call) copies the
        call's context; its own calls on the same client, later, are the app's."""
        queue: asyncio.Queue[str] = asyncio.Queue()
        workers: list[asyncio.Task[None]] = []

        async def answer(request: httpx2.Request) -> httpx2.Response:
            return json_response(chat_completion(text=said(request)))

        async def worker() -> None:
            while True:
                text = await queue.get()
                await client.chat.completions.create(model="m", messages=ask(text))
                queue.task_done()

        async def on_request(request: httpx2.Request) -> None:
            if not workers:
                workers.append(asyncio.create_task(worker()))

        client = async_openai(answer, request=[on_request])
        await client.chat.completions.create(model="m", messages=ask("first"))
        for i in range(3):
            queue.put_nowait(f"worker-{i}")
        await queue.join()
        workers[0].cancel()
        assert prompts(cap) == ["first", "worker-0", "worker-1", "worker-2"]

    async def test_a_task_calling_while_the_call_is_still_in_flight_is_recorded(
        self, cap: CapturedRecords
    ) -> None:
        """The outer call waits for the spawned task's own call: two calls, two records."""
        inner_arrived = asyncio.Event()
        spawned: list[asyncio.Task[Any]] = []

        async def answer(request: httpx2.Request) -> httpx2.Response:
            if said(request) == "outer":
                await asyncio.wait_for(inner_arrived.wait(), 5)
            else:
                inner_arrived.set()
            return json_response(chat_completion(text=said(request)))

        async def on_request(request: httpx2.Request) -> None:
            if said(request) == "outer":
                spawned.append(
                    asyncio.create_task(
                        client.chat.completions.create(model="m", messages=ask("inner"))
                    )
                )

        client = async_openai(answer, request=[on_request])
        await client.chat.completions.create(model="m", messages=ask("outer"))
        await spawned[0]
        assert prompts(cap) == ["inner", "outer"]

    def test_a_thread_running_a_copy_of_the_context_is_recorded(self, cap: CapturedRecords) -> None:
        """A hook hands work to a thread with the call's context (as ``asyncio.to_thread``
        and executors with ``copy_context`` do): the thread's call is its own."""
        done: list[str] = []

        def answer(request: httpx2.Request) -> httpx2.Response:
            return json_response(chat_completion(text=said(request)))

        def audit() -> None:
            done.append(client.chat.completions.create(model="m", messages=ask("audit")).id)

        def on_request(request: httpx2.Request) -> None:
            if said(request) == "outer":
                context = contextvars.copy_context()
                thread = threading.Thread(target=context.run, args=(audit,))
                thread.start()
                thread.join(5)

        client = sync_openai(answer, request=[on_request])
        client.chat.completions.create(model="m", messages=ask("outer"))
        assert done
        assert prompts(cap) == ["audit", "outer"]

    async def test_a_call_inside_the_call_in_the_same_task_is_still_skipped(
        self, cap: CapturedRecords
    ) -> None:
        """Within the call's own extent (same client, same task), a call is the SDK's own:
        the guard still holds there."""

        async def answer(request: httpx2.Request) -> httpx2.Response:
            return json_response(chat_completion(text=said(request)))

        async def on_request(request: httpx2.Request) -> None:
            if said(request) == "outer":
                await client.chat.completions.create(model="m", messages=ask("inside"))

        client = async_openai(answer, request=[on_request])
        await client.chat.completions.create(model="m", messages=ask("outer"))
        await client.chat.completions.create(model="m", messages=ask("after"))
        assert prompts(cap) == ["after", "outer"]

    def test_a_sync_call_inside_the_call_on_the_same_thread_is_still_skipped(
        self, cap: CapturedRecords
    ) -> None:
        def answer(request: httpx2.Request) -> httpx2.Response:
            return json_response(chat_completion(text=said(request)))

        def on_request(request: httpx2.Request) -> None:
            if said(request) == "outer":
                client.chat.completions.create(model="m", messages=ask("inside"))

        client = sync_openai(answer, request=[on_request])
        client.chat.completions.create(model="m", messages=ask("outer"))
        client.chat.completions.create(model="m", messages=ask("after"))
        assert prompts(cap) == ["after", "outer"]


class TestHelperLabels:
    async def test_a_task_started_inside_responses_stream_is_not_labelled(
        self, cap: CapturedRecords
    ) -> None:
        """The ``responses.stream`` label belongs to the helper's own request, not to the
        calls of a task started during it."""
        spawned: list[asyncio.Task[Any]] = []

        async def answer(request: httpx2.Request) -> httpx2.Response:
            if json.loads(request.content).get("stream"):
                return sse_response(response_events(), named=True, done=False)
            return json_response(response_object())

        async def on_request(request: httpx2.Request) -> None:
            if not spawned:

                async def later() -> None:
                    await asyncio.sleep(0.01)
                    await client.responses.create(model="m", input="later")

                spawned.append(asyncio.create_task(later()))

        client = async_openai(answer, request=[on_request])
        async with client.responses.stream(model="m", input="helper") as stream:
            await stream.get_final_response()
        await spawned[0]
        methods = sorted(r["method"] for r in cap.calls)
        assert methods == ["responses.create", "responses.stream"]

    def test_a_failed_responses_stream_is_labelled(self, cap: CapturedRecords) -> None:
        """A request the helper makes that fails is still the helper's call."""

        def fail(request: httpx2.Request) -> httpx2.Response:
            return json_response(error_body("boom", "server_error"), 500)

        client = sync_openai(fail)
        with (
            pytest.raises(openai.InternalServerError),
            client.responses.stream(model="m", input="x"),
        ):
            pass
        [record] = cap.calls
        assert (record["method"], record["status"]) == ("responses.stream", "error")

    async def test_a_failed_or_cancelled_async_responses_stream_is_labelled(
        self, cap: CapturedRecords
    ) -> None:
        async def fail(request: httpx2.Request) -> httpx2.Response:
            return json_response(error_body("boom", "server_error"), 500)

        async def hang(request: httpx2.Request) -> httpx2.Response:
            await asyncio.sleep(10)
            raise AssertionError("cancelled before")

        with pytest.raises(openai.InternalServerError):
            async with async_openai(fail).responses.stream(model="m", input="x"):
                pass

        async def enter() -> None:
            async with async_openai(hang).responses.stream(model="m", input="x"):
                pass

        task = asyncio.create_task(enter())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert [(r["method"], r["status"]) for r in cap.calls] == [
            ("responses.stream", "error"),
            ("responses.stream", "cancelled"),
        ]


class TestClosedOutsideItsTask:
    def test_closing_a_pending_calls_coroutine_raises_nothing(self, cap: CapturedRecords) -> None:
        """``coro.close()`` from outside the task that ran it (cleanup code): the SDK alone
        would close quietly, so must llmlog; the call is recorded as cancelled."""

        async def hang(request: httpx2.Request) -> httpx2.Response:
            await asyncio.sleep(10)
            raise AssertionError("closed before")

        loop = asyncio.new_event_loop()
        try:
            client = async_openai(hang)
            create = client.chat.completions.create(model="m", messages=ask("closed"))
            stream = client.responses.stream(model="m", input="helper").__aenter__()
            tasks = [loop.create_task(create), loop.create_task(stream)]
            loop.run_until_complete(asyncio.sleep(0.05))
            create.close()  # raised ValueError (a token of another Context) before
            stream.close()
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        finally:
            loop.close()
        assert sorted((r["method"], r["status"]) for r in cap.calls) == [
            ("chat.completions.create", "cancelled"),
            ("responses.stream", "cancelled"),
        ]
