"""The app cannot tell llmlog is there: same results, same exceptions, one record per call."""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest

import llmlog
import llmlog.testing
import openai_fakes as fakes
from llmlog import _pipeline
from llmlog.instrumentors import _base
from llmlog.instrumentors import openai as openai_instrumentor
from llmlog.testing import CapturedRecords

MESSAGES = [{"role": "user", "content": "Say hello"}]

# Every recorded entry point: (name, call(client) -> what the app keeps, comparable).
CALLS: list[tuple[str, Callable[[openai.OpenAI], Any]]] = [
    ("chat", lambda c: c.chat.completions.create(model="gpt-4o", messages=MESSAGES)),
    (
        "chat-stream",
        lambda c: list(c.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)),
    ),
    ("responses", lambda c: c.responses.create(model="gpt-4o", input="Hi")),
    (
        "responses-stream",
        lambda c: list(c.responses.create(model="gpt-4o", input="Hi", stream=True)),
    ),
    ("completions", lambda c: c.completions.create(model="gpt-3.5-turbo-instruct", prompt="Hi")),
    ("embeddings", lambda c: c.embeddings.create(model="text-embedding-3-small", input="Hi")),
    ("images", lambda c: c.images.generate(model="gpt-image-1", prompt="cat")),
    ("moderations", lambda c: c.moderations.create(input="text")),
    ("input-tokens", lambda c: c.responses.input_tokens.count(model="gpt-5", input="Hi")),
    (
        "batches",
        lambda c: c.batches.create(
            input_file_id="file-1", endpoint="/v1/responses", completion_window="24h"
        ),
    ),
    (
        "transcriptions",
        lambda c: c.audio.transcriptions.create(
            model="whisper-1", file=("a.mp3", b"ID3", "audio/mpeg")
        ),
    ),
    ("speech", lambda c: c.audio.speech.create(model="tts-1", voice="alloy", input="Hi").content),
    (
        "raw",
        lambda c: c.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=MESSAGES
        ).parse(),
    ),
]


if fakes.HAS_DECISIONS:
    CALLS.append(
        (
            "decisions",
            lambda c: c.decisions.create(
                model="gpt-6-luna",
                input="Hi",
                questions=[{"type": "predicate", "question": "Greeting?"}],
            ),
        )
    )


def comparable(value: Any) -> Any:
    """What the app sees of a result, minus per-request randomness."""
    if isinstance(value, list):
        return [comparable(v) for v in value]
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return (type(value), dump(), getattr(value, "_request_id", None))
    return value


@pytest.fixture
def llm() -> Iterator[CapturedRecords]:
    with llmlog.testing.capture_records(redact="off") as cap:
        yield cap


class TestSameResults:
    @pytest.mark.parametrize(("name", "call"), CALLS, ids=[name for name, _ in CALLS])
    def test_result_type_and_values_are_unchanged(
        self, name: str, call: Callable[[openai.OpenAI], Any]
    ) -> None:
        """Every entry point: the same type and values as without llmlog, and one record."""
        bare = comparable(call(fakes.sync_client(fakes.default_fake())))
        with llmlog.testing.capture_records(redact="off") as llm:
            instrumented = comparable(call(fakes.sync_client(fakes.default_fake())))
            assert len(llm.calls) == 1, name
        assert instrumented == bare

    def test_requests_on_the_wire_are_unchanged(self) -> None:
        """The HTTP request bodies and headers the SDK sends are the same with llmlog."""

        def sent() -> list[tuple[bytes, dict[str, str]]]:
            fake = fakes.default_fake()
            client = fakes.sync_client(fake)
            for _, call in CALLS:
                call(client)
            volatile = {
                "x-stainless-retry-count",
                "x-stainless-read-timeout",
                "content-type",
                "content-length",
            }
            return [
                (
                    r.content if b"--" not in r.content[:2] else b"multipart",
                    {k: v for k, v in r.headers.items() if k not in volatile},
                )
                for r in fake.requests
            ]

        bare = sent()
        with llmlog.testing.capture_records(redact="off"):
            instrumented = sent()
        assert instrumented == bare

    @pytest.mark.parametrize("instrumented", [False, True], ids=["bare", "llmlog"])
    def test_an_async_call_is_a_coroutine_named_as_the_sdks(self, instrumented: bool) -> None:
        """What a warning for a coroutine never awaited, ``repr(task)`` and asyncio's debug
        log show: the SDK's method, not llmlog's wrapper."""
        with llmlog.testing.capture_records(disabled_providers=() if instrumented else ("openai",)):
            client = fakes.async_client(fakes.default_fake())
            calls = [
                client.chat.completions.create(model="m", messages=[]),
                client.embeddings.create(model="m", input="x"),
            ]
        for coroutine in calls:
            coroutine.close()
        assert [c.__qualname__ for c in calls] == [
            "AsyncCompletions.create",
            "AsyncEmbeddings.create",
        ]
        assert [c.__name__ for c in calls] == ["create", "create"]


class TestErrors:
    def test_sdk_exceptions_propagate_as_the_same_object(self, llm: CapturedRecords) -> None:
        """The exception the app catches is the SDK's own object, raised once."""
        seen: list[BaseException] = []

        def handler(request: httpx2.Request) -> httpx2.Response:
            return fakes.json_response(fakes.error_body("bad", "invalid_request_error"), 400)

        client = fakes.sync_client(handler)
        original = client._make_status_error_from_response

        def remember(response: httpx2.Response) -> openai.APIStatusError:
            error = original(response)
            seen.append(error)
            return error

        client._make_status_error_from_response = remember  # type: ignore[method-assign]
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        assert caught.value is seen[0]
        assert llm.calls[0]["error"]["status_code"] == 400

    def test_mid_stream_error_propagates_and_keeps_the_partial_output(
        self, llm: CapturedRecords
    ) -> None:
        """An error chunk mid-stream: the app gets APIError; the record keeps the text so far."""
        error = {"error": {"message": "server overloaded"}}
        chunks = [*fakes.chat_chunks(("par", "tial"))[:3], error]
        fake = fakes.FakeOpenAI(
            routes={"/chat/completions": lambda _: fakes.sse_response(chunks, done=False)}
        )
        client = fakes.sync_client(fake)
        received = []
        with pytest.raises(openai.APIError, match="server overloaded"):
            for chunk in client.chat.completions.create(
                model="gpt-4o", messages=MESSAGES, stream=True
            ):
                received.append(chunk)
        assert len(received) == 3
        [record] = llm.calls
        assert record["status"] == "error" and record["output"]["text"] == "partial"
        assert record["error"]["message"] == "server overloaded"

    def test_retries_make_one_record(self, llm: CapturedRecords) -> None:
        """max_retries: a 500 then a 200 is two HTTP attempts and one record (ok)."""
        answers = iter(
            [
                fakes.json_response(fakes.error_body("oops", "server_error"), 500),
                fakes.json_response(fakes.chat_completion()),
            ]
        )
        fake = fakes.FakeOpenAI(routes={"/chat/completions": lambda _: next(answers)})
        client = fakes.sync_client(fake, max_retries=1)
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, timeout=5)
        assert len(fake.requests) == 2
        [record] = llm.calls
        assert record["status"] == "ok"

    def test_a_bug_in_extraction_leaves_the_call_unharmed(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """If extraction raises (an llmlog bug) the app still gets its result; it is reported."""
        monkeypatch.setenv("_LLMLOG_RAISE_INTERNAL_ERRORS", "0")

        def broken(cap: Any) -> dict[str, Any]:
            raise RuntimeError("extraction bug")

        monkeypatch.setattr(
            openai_instrumentor,
            "PROVIDER",
            dataclasses.replace(openai_instrumentor.PROVIDER, extract=broken),
        )
        with llmlog.testing.capture_records(redact="off") as llm:
            client = fakes.sync_client(fakes.default_fake())
            result = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            assert result.choices[0].message.content == "Hello there!"
            [record] = llm.calls
        assert record["status"] == "ok" and record["output"] is None
        assert "extraction bug" in capsys.readouterr().err

    def test_a_bug_in_on_result_returns_the_original_result(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """If on_result raises, the app gets the SDK's own result object."""
        monkeypatch.setenv("_LLMLOG_RAISE_INTERNAL_ERRORS", "0")

        def broken(cap: Any, result: Any) -> Any:
            raise RuntimeError("on_result bug")

        monkeypatch.setattr(
            openai_instrumentor,
            "PROVIDER",
            dataclasses.replace(openai_instrumentor.PROVIDER, on_result=broken),
        )
        with llmlog.testing.capture_records(redact="off") as llm:
            client = fakes.sync_client(fakes.default_fake())
            stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
            assert type(stream) is openai.Stream
            assert len(list(stream)) == 5
            assert len(llm.calls) == 1


class TestInstrumentation:
    def test_instrumenting_twice_never_logs_twice(self, tmp_path: Path) -> None:
        """Repeated instrument() calls (same or new settings): still one record per call."""
        output = tmp_path / "calls.jsonl"
        llmlog.instrument(output=str(output), redact="off")
        try:
            llmlog.instrument(output=str(output), redact="off")
            llmlog.instrument(output=str(output), redact="secrets")
            client = fakes.sync_client(fakes.default_fake())
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            assert llmlog.flush(10)
        finally:
            llmlog.uninstrument()
        records = [json.loads(line) for line in output.read_text().splitlines()]
        assert [r["method"] for r in records if r["event"] == "llm.call"] == [
            "chat.completions.create"
        ]

    def test_instrument_again_without_settings_keeps_those_in_force(self, tmp_path: Path) -> None:
        """A sitecustomize (or llmlog-run) chose the output; the app's own bare
        ``instrument()`` must not send the log back to the default place."""
        chosen = tmp_path / "chosen.jsonl"
        llmlog.instrument(output=str(chosen), redact="off")
        try:
            llmlog.instrument()
            fakes.sync_client(fakes.default_fake()).chat.completions.create(
                model="gpt-4o", messages=MESSAGES
            )
            assert llmlog.flush(10)
        finally:
            llmlog.uninstrument()
        assert "chat.completions.create" in chosen.read_text()

    def test_instrument_again_changes_only_the_settings_it_names(self, tmp_path: Path) -> None:
        """A later ``instrument(service=...)`` keeps the output and the redaction level
        chosen before (not the environment's ``off``); ``None`` resets one; after
        ``uninstrument()`` nothing is kept."""
        chosen = tmp_path / "chosen.jsonl"
        llmlog.instrument(output=str(chosen), redact="secrets")
        try:
            llmlog.instrument(service="checkout")
            pipeline = _pipeline.current()
            assert pipeline is not None
            kept = pipeline.settings
            assert (kept.output, kept.redact, kept.service) == (str(chosen), "secrets", "checkout")
            llmlog.instrument(service=None)
            assert pipeline_settings().service == "" and pipeline_settings().redact == "secrets"
        finally:
            llmlog.uninstrument()
        llmlog.instrument(service="fresh")
        try:
            assert pipeline_settings().output != str(chosen)
        finally:
            llmlog.uninstrument()

    def test_a_provider_disabled_by_a_later_instrument_is_unpatched(self, tmp_path: Path) -> None:
        """``instrument(disabled_providers="openai")`` after an earlier ``instrument()``:
        openai's calls are no longer recorded (they were, to the new file)."""
        first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
        llmlog.instrument(output=str(first), redact="off")
        try:
            llmlog.instrument(output=str(second), redact="off", disabled_providers="openai")
            fakes.sync_client(fakes.default_fake()).chat.completions.create(
                model="gpt-4o", messages=MESSAGES
            )
            assert llmlog.flush(10)
            assert _base.is_active("anthropic") and not _base.is_active("openai")
        finally:
            llmlog.uninstrument()
        written = [p.read_text() for p in (first, second) if p.exists()]
        assert not any("llm.call" in text for text in written)

    def test_arguments_nested_past_the_recursion_limit_are_still_recorded(
        self, llm: CapturedRecords
    ) -> None:
        """A tool schema 450 levels deep (the SDK sends it): the call succeeds and has its
        record, say without its params, rather than none."""
        schema: dict[str, Any] = {"type": "string"}
        for _ in range(450):
            schema = {"type": "object", "properties": {"p": schema}}
        tool = {"type": "function", "function": {"name": "f", "parameters": schema}}
        client = fakes.sync_client(fakes.default_fake())
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, tools=[tool])
        [record] = llm.calls
        assert record["status"] == "ok" and record["model"] == "gpt-4o"

    async def test_a_call_made_during_another_call_is_recorded_too(
        self, llm: CapturedRecords
    ) -> None:
        """A guardrail call through a second client, from the first client's HTTP hook (sync
        and async): two model calls, two records."""
        guard = fakes.sync_client(fakes.default_fake())

        def check(request: httpx2.Request) -> None:
            guard.moderations.create(input="is this fine?")

        async def async_check(request: httpx2.Request) -> None:
            check(request)

        def hooked(client_class: Any, http_class: Any, hook: Any) -> Any:
            transport = httpx2.MockTransport(fakes.default_fake())
            http = http_class(transport=transport, event_hooks={"request": [hook]})
            return client_class(api_key="sk-test", http_client=http)

        hooked(openai.OpenAI, httpx2.Client, check).chat.completions.create(
            model="gpt-4o", messages=MESSAGES
        )
        await hooked(openai.AsyncOpenAI, httpx2.AsyncClient, async_check).chat.completions.create(
            model="gpt-4o", messages=MESSAGES
        )
        assert sorted(r["method"] for r in llm.calls) == [
            "chat.completions.create",
            "chat.completions.create",
            "moderations.create",
            "moderations.create",
        ]

    def test_uninstrument_removes_every_openai_patch(self) -> None:
        """After uninstrument() no openai method is wrapped and calls are not recorded."""
        from openai.resources.chat.completions.completions import Completions

        original = Completions.create
        with llmlog.testing.capture_records(redact="off"):
            fakes.sync_client(fakes.default_fake()).chat.completions.create(
                model="gpt-4o", messages=MESSAGES
            )
            assert Completions.create is not original
        assert Completions.create is original
        assert not [key for key in _base.installed() if key[0].startswith("openai")]

    def test_every_table_target_exists_in_the_installed_sdk(self) -> None:
        """The patch table matches the installed SDK: every row (and helper) is patched."""
        with llmlog.testing.capture_records(redact="off"):
            rows = openai_instrumentor.TARGETS + openai_instrumentor.HELPERS
            # Older SDKs lack some modules (decisions), or some classes of a module they
            # have (3.25: translations without TranslationsConnection): those rows are
            # skipped by design. A method missing from a class that is there is not.
            modules = {
                t.module: importlib.import_module(t.module)
                for t in rows
                if fakes.importable(t.module)
            }
            wanted = {
                (t.module, t.qualname)
                for t in rows
                if t.module in modules and hasattr(modules[t.module], t.qualname.split(".")[0])
            }
            assert wanted <= set(_base.installed())

    def test_with_raw_response_accessed_before_instrumenting_passes_through(self) -> None:
        """A with_raw_response accessor cached before instrument() keeps working (unrecorded)."""
        client = fakes.sync_client(fakes.default_fake())
        raw_api = client.chat.completions.with_raw_response
        with llmlog.testing.capture_records(redact="off"):
            raw = raw_api.create(model="gpt-4o", messages=MESSAGES)
            assert raw.parse().choices[0].message.content == "Hello there!"


def pipeline_settings() -> Any:
    pipeline = _pipeline.current()
    assert pipeline is not None
    return pipeline.settings
