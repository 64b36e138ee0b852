"""With llmlog on, an Anthropic app sees exactly what it saw without it."""

from __future__ import annotations

import gc
import inspect
import os
import subprocess
import sys
import warnings
import weakref
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest
import wrapt
from anthropic.resources.messages import messages as messages_module

import anthropic_fakes as fake
import llmlog.testing
from llmlog import instrumentors
from llmlog.instrumentors import _base
from llmlog.instrumentors import anthropic as instrumentor
from llmlog.testing import CapturedRecords

EVENTS = fake.stream_events(["Hel", "lo"], thinking=["hm"], tool_json=['{"a": 1}'])


def capture() -> Any:
    return llmlog.testing.capture_records(disabled_providers=("openai",))


@pytest.fixture
def cap() -> Iterator[CapturedRecords]:
    with capture() as captured:
        yield captured


def create(client: anthropic.Anthropic, **extra: Any) -> Any:
    return client.messages.create(model=fake.MODEL, max_tokens=5, messages=fake.user(), **extra)


def dumps(items: Any) -> list[Any]:
    return [item.model_dump() for item in items]


class TestSameResults:
    def test_message_is_the_same_type_with_the_same_values(self) -> None:
        """A plain call returns the SDK's Message, equal to the bare one, request id included."""
        client = fake.sync_client(fake.json_handler(fake.message()))
        bare = create(client)
        with capture():
            logged = create(client)
        assert type(logged) is type(bare)
        assert logged.model_dump() == bare.model_dump()
        assert logged._request_id == bare._request_id == fake.REQUEST_ID

    def test_stream_yields_the_same_events(self) -> None:
        """A proxied stream yields the same event objects' values in the same order."""
        client = fake.sync_client(fake.sse_handler(EVENTS))
        bare = dumps(create(client, stream=True))
        with capture():
            logged = dumps(create(client, stream=True))
        assert logged == bare

    async def test_async_stream_yields_the_same_events(self) -> None:
        """The async proxy yields the same events."""
        client = fake.async_client(fake.sse_handler(EVENTS))
        kwargs: dict[str, Any] = {"model": fake.MODEL, "max_tokens": 5, "messages": fake.user()}
        bare = [e.model_dump() async for e in await client.messages.create(**kwargs, stream=True)]
        with capture():
            stream = await client.messages.create(**kwargs, stream=True)
            logged = [e.model_dump() async for e in stream]
        assert logged == bare

    def test_stream_helper_final_message_is_the_same(self) -> None:
        """The helper's accumulated message and its events are unchanged."""
        client = fake.sync_client(fake.sse_handler(EVENTS))

        def run() -> tuple[Any, list[str]]:
            kwargs: dict[str, Any] = {"model": fake.MODEL, "max_tokens": 5}
            with client.messages.stream(messages=fake.user(), **kwargs) as stream:
                types = [event.type for event in stream]
                return stream.get_final_message().model_dump(), types

        bare = run()
        with capture():
            logged = run()
        assert logged == bare

    def test_stream_is_still_an_sdk_stream_and_with_returns_it(self, cap: CapturedRecords) -> None:
        """``isinstance(stream, anthropic.Stream)`` holds; ``with`` yields the same object."""
        client = fake.sync_client(fake.sse_handler(EVENTS))
        stream = create(client, stream=True)
        assert isinstance(stream, anthropic.Stream)
        with stream as entered:
            assert entered is stream
            assert entered.response.headers["request-id"] == fake.REQUEST_ID
            list(entered)
        assert len(cap.calls) == 1

    async def test_async_stream_keeps_its_type_and_context_manager(
        self, cap: CapturedRecords
    ) -> None:
        """``isinstance(stream, anthropic.AsyncStream)``; ``async with`` yields the same object."""
        client = fake.async_client(fake.sse_handler(EVENTS))
        stream = await client.messages.create(
            model=fake.MODEL, max_tokens=5, messages=fake.user(), stream=True
        )
        assert isinstance(stream, anthropic.AsyncStream)
        async with stream as entered:
            assert entered is stream
        assert cap.calls[0]["status"] == "cancelled"


class TestErrors:
    def test_sdk_exception_propagates_as_is(self, cap: CapturedRecords) -> None:
        """The SDK's error reaches the app unchanged: same type, status, request id, body."""
        body = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow"}}
        client = fake.sync_client(fake.json_handler(body, status=429, request_id="req_429"))
        with pytest.raises(anthropic.RateLimitError) as caught:
            create(client)
        assert caught.value.request_id == "req_429"
        assert caught.value.body == body
        assert cap.calls[0]["error"]["type"] == "RateLimitError"

    def test_transport_failure_keeps_its_cause(self, cap: CapturedRecords) -> None:
        """A connection failure arrives as the SDK's APIConnectionError with the original cause."""
        failure = httpx2.ConnectError("refused")

        def refuse(request: httpx2.Request) -> httpx2.Response:
            raise failure

        with pytest.raises(anthropic.APIConnectionError) as caught:
            create(fake.sync_client(refuse))
        assert caught.value.__cause__ is failure
        assert cap.calls[0]["status"] == "error"

    def test_retries_make_one_record(self, cap: CapturedRecords) -> None:
        """max_retries: two HTTP attempts, one call, one record with the final outcome."""
        attempts: list[int] = []
        handler = fake.flaky_handler(fake.json_handler(fake.message()), seen=attempts)
        create(fake.sync_client(handler, max_retries=2))
        assert len(attempts) == 2
        records = cap.calls
        assert len(records) == 1
        assert records[0]["status"] == "ok"
        assert records[0]["request_id"] == fake.REQUEST_ID


class TestNeverTwice:
    def test_installing_again_does_not_double_log(self, cap: CapturedRecords) -> None:
        """A second install (e.g. ``instrument()`` called twice) patches nothing new."""
        instrumentors.install(("openai",))
        create(fake.sync_client(fake.json_handler(fake.message())))
        assert len(cap.calls) == 1

    def test_client_made_before_instrumenting_is_logged(self) -> None:
        """Patches live on the SDK classes, so existing clients are covered."""
        client = fake.sync_client(fake.json_handler(fake.message()))
        client.messages  # noqa: B018  (the resource is cached before patching)
        with capture() as captured:
            create(client)
        assert len(captured.calls) == 1

    def test_uninstrument_removes_every_anthropic_patch(self) -> None:
        """After the block, no llmlog wrapper is left on any Anthropic target."""
        with capture():
            assert any(module.startswith("anthropic") for module, _ in _base.installed())
        assert not [key for key in _base.installed() if key[0].startswith("anthropic")]
        assert not isinstance(vars(messages_module.Messages)["create"], wrapt.FunctionWrapper)

    def test_stale_raw_response_accessor_logs_once_then_never(self) -> None:
        """``with_raw_response`` binds the method once; after uninstrument it passes through."""
        client = fake.sync_client(fake.json_handler(fake.message()))
        with capture() as first:
            raw = client.messages.with_raw_response
            raw.create(model=fake.MODEL, max_tokens=5, messages=fake.user())
            assert len(first.calls) == 1
        raw.create(model=fake.MODEL, max_tokens=5, messages=fake.user())
        with capture() as second:
            raw.create(model=fake.MODEL, max_tokens=5, messages=fake.user())
            assert len(second.calls) == 1


class TestLlmlogBugsStayInside:
    def test_bug_in_on_result_leaves_the_call_unharmed(
        self, monkeypatch: pytest.MonkeyPatch, cap: CapturedRecords
    ) -> None:
        """If reading the result fails inside llmlog, the app still gets its Message."""
        monkeypatch.setenv("_LLMLOG_RAISE_INTERNAL_ERRORS", "0")

        class Broken(dict[type, Any]):
            def __contains__(self, key: object) -> bool:
                raise RuntimeError("llmlog bug")

        monkeypatch.setattr(instrumentor, "_handler_by_class", Broken())
        reply = create(fake.sync_client(fake.json_handler(fake.message())))
        assert type(reply) is anthropic.types.Message
        assert reply.content[0].text == "Hello there."  # type: ignore[union-attr]
        assert len(cap.calls) == 1

    def test_bug_in_stream_extraction_leaves_the_stream_unharmed(
        self, monkeypatch: pytest.MonkeyPatch, cap: CapturedRecords
    ) -> None:
        """If folding events fails on the writer, the app's stream is complete anyway."""
        monkeypatch.setenv("_LLMLOG_RAISE_INTERNAL_ERRORS", "0")

        def broken(events: Any) -> Any:
            raise RuntimeError("llmlog bug")

        monkeypatch.setattr(instrumentor, "summarize_events", broken)
        client = fake.sync_client(fake.sse_handler(EVENTS))
        with client.messages.stream(model=fake.MODEL, max_tokens=5, messages=fake.user()) as s:
            assert s.get_final_text() == "Hello"
        record = cap.calls[0]
        assert (record["status"], record["output"]) == ("ok", None)


class TestAbandonedStreams:
    def test_garbage_collected_stream_is_a_cancelled_record(self, cap: CapturedRecords) -> None:
        """A stream the app drops after one event still leaves its record."""
        stream = create(fake.sync_client(fake.sse_handler(EVENTS)), stream=True)
        next(iter(stream))
        del stream
        gc.collect()
        record = cap.calls[0]
        assert record["status"] == "cancelled"


class TestObjectLifetimes:
    """The SDK ends its own tracing spans when the app drops a stream or raw response;
    a capture waiting in llmlog's queue must not keep those objects alive."""

    @pytest.fixture
    def queued(self, cap: CapturedRecords, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
        held: list[Any] = []  # finished captures, held as a slow writer would hold them
        monkeypatch.setattr(_base._pipeline, "submit", held.append)
        return held

    def test_dropped_stream_is_freed_while_its_capture_waits(self, queued: list[Any]) -> None:
        """Drop a half-read stream: the SDK stream object is collected at once."""
        stream = create(fake.sync_client(fake.sse_handler(EVENTS)), stream=True)
        inner = weakref.ref(stream.__wrapped__)
        next(iter(stream))
        del stream
        gc.collect()
        assert len(queued) == 1
        assert inner() is None

    def test_dropped_helper_stream_is_freed(self, queued: list[Any]) -> None:
        """The same for the raw stream under ``messages.stream()``."""
        client = fake.sync_client(fake.sse_handler(EVENTS))
        with client.messages.stream(model=fake.MODEL, max_tokens=5, messages=fake.user()) as s:
            inner = weakref.ref(s._raw_stream.__wrapped__)
            s.until_done()
        del s
        gc.collect()
        assert len(queued) == 1
        assert inner() is None

    def test_raw_response_is_freed(self, queued: list[Any]) -> None:
        """A raw response the app drops is not kept by its record; the record still has it all."""
        client = fake.sync_client(fake.json_handler(fake.message()))
        response = client.messages.with_raw_response.create(
            model=fake.MODEL, max_tokens=5, messages=fake.user()
        )
        gone = weakref.ref(response)
        del response
        gc.collect()
        assert gone() is None
        fields = instrumentor.extract(queued[0])
        assert fields["output"]["text"] == "Hello there."
        assert fields["request_id"] == fake.REQUEST_ID


class TestWarnings:
    def test_deprecation_warning_points_at_the_app(self, cap: CapturedRecords) -> None:
        """A deprecated-model warning names the app's line, as it does without llmlog."""
        client = fake.sync_client(fake.json_handler(fake.message()))
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
            client.messages.create(model="claude-sonnet-4-5", max_tokens=5, messages=fake.user())
        assert (seen[-1].filename, seen[-1].lineno) == (__file__, line)
        assert "deprecated" in str(seen[-1].message) and len(cap.calls) == 1

    async def test_async_warning_names_the_same_frame_as_without_llmlog(self) -> None:
        """Async: the warning names the frame it names bare (the SDK's stacklevel is counted
        from its coroutine, so that is not the app's line), with llmlog on or off."""

        async def call() -> tuple[str, int]:
            client = fake.async_client(fake.json_handler(fake.message()))
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                await client.messages.create(
                    model="claude-sonnet-4-5", max_tokens=5, messages=fake.user()
                )
            return seen[-1].filename, seen[-1].lineno

        seen = []
        for on in (False, True):
            with llmlog.testing.capture_records(redact="off") if on else nullcontext():
                seen.append(await call())  # the same line both times
        assert seen[0] == seen[1]

    def test_with_wrapts_pure_python_wrappers(self, tmp_path: Path) -> None:
        """Where wrapt runs without its C extension, its own frame is not counted either."""
        script = tmp_path / "app.py"
        app = _DEPRECATED_MODEL_APP.format(
            log=tmp_path / "calls.jsonl", call=_DEPRECATED_MODEL_CALL
        )
        script.write_text(app)
        env = {**os.environ, "WRAPT_DISABLE_EXTENSIONS": "1"}
        done = subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        line = script.read_text().splitlines().index(_DEPRECATED_MODEL_CALL) + 1
        assert done.stdout.split() == ["wrapt.wrappers", str(script), str(line)]

    def test_uninstrument_restores_the_sdk_module_global(self) -> None:
        """The shim lives only while llmlog is on."""
        with llmlog.testing.capture_records(redact="off"):
            assert messages_module.warnings is not warnings
        assert messages_module.warnings is warnings


_DEPRECATED_MODEL_CALL = (
    '    client.messages.create(model="claude-sonnet-4-5", max_tokens=5, messages=[])'
)
_DEPRECATED_MODEL_APP = """\
import warnings

import anthropic
import httpx2
import wrapt

import llmlog

llmlog.instrument(output="{log}", redact="off")
body = {{"id": "m", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [], "stop_reason": "end_turn",
        "usage": {{"input_tokens": 1, "output_tokens": 1}}}}
client = anthropic.Anthropic(api_key="k", http_client=httpx2.Client(
    transport=httpx2.MockTransport(lambda request: httpx2.Response(200, json=body))))
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
{call}
print(wrapt.FunctionWrapper.__module__, seen[-1].filename, seen[-1].lineno)
"""
