"""Patch mechanics: wrappers, exactly one record, transparency, install/uninstall."""

from __future__ import annotations

import asyncio
import collections

import pytest
import wrapt

from llmlog import _guard
from llmlog.instrumentors import _arguments, _base
from llmlog.testing import CapturedRecords, capture_records
from support import toy_instrumentor, toy_sdk

MESSAGES = [{"role": "user", "content": "hello there world"}]


class TestCalls:
    def test_a_call_gives_one_record_and_the_same_object(self, toy: CapturedRecords) -> None:
        """The app gets the SDK's own object; one record holds output, usage, latency."""
        answer = toy_sdk.Client().create(messages=MESSAGES, model="toy-1", temperature=0.2)
        assert type(answer) is toy_sdk.Answer
        [record] = toy.calls
        assert record["provider"] == "toy"
        assert record["output"]["text"] == "hello there world"
        assert record["usage"]["total_tokens"] == 6
        assert record["params"] == {"temperature": 0.2}
        assert record["status"] == "ok"
        assert record["latency_ms"] >= 0

    def test_the_sdks_exception_propagates_as_the_same_object(self, toy: CapturedRecords) -> None:
        """Same type, same object; the record says error with the status code."""
        client = toy_sdk.Client()
        with pytest.raises(toy_sdk.ToyError) as info:
            client.create(messages=MESSAGES, model="toy-1", fail=True)
        [record] = toy.calls
        assert record["status"] == "error"
        assert record["error"]["type"] == "ToyError"
        assert record["error"]["status_code"] == 529
        assert record["error"]["body"] == info.value.body

    def test_messages_are_a_snapshot(self, toy: CapturedRecords) -> None:
        """An app appending to its history after the call does not change the record."""
        history = [{"role": "user", "content": "first question"}]
        toy_sdk.Client().create(messages=history, model="toy-1")
        history.append({"role": "assistant", "content": "later"})
        history[0]["content"] = "rewritten"
        [record] = toy.calls
        assert record["messages"] == [{"role": "user", "content": "first question"}]

    def test_sequences_are_copied_and_string_likes_kept_whole(self) -> None:
        """A deque is copied as the list the SDK reads; a UserString (whose items are
        UserStrings) is one value, not an endless list."""
        assert _arguments.snapshot(collections.deque([{"a": [1]}])) == [{"a": [1]}]
        word = collections.UserString("END")
        assert _arguments.snapshot({"stop": word}) == {"stop": word}

    async def test_async_calls_are_recorded(self, toy: CapturedRecords) -> None:
        """The async twin returns the same object and writes one record."""
        answer = await toy_sdk.Client().acreate(messages=MESSAGES, model="toy-1")
        assert answer.text == "hello there world"
        assert [r["output"]["text"] for r in toy.calls] == ["hello there world"]

    async def test_cancelled_async_call_is_recorded_as_cancelled(
        self, toy: CapturedRecords
    ) -> None:
        """A task cancelled during the call gives a `cancelled` record; the error propagates."""

        async def slow(*args: object, **kwargs: object) -> None:
            await asyncio.sleep(10)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(
                toy_sdk.Client,
                "acreate",
                wrapt.FunctionWrapper(
                    slow,
                    _base.make_wrapper(
                        toy_instrumentor.PROVIDER, toy_instrumentor.PROVIDER.targets[1]
                    ),
                ),
            )
            task = asyncio.ensure_future(toy_sdk.Client().acreate(messages=MESSAGES, model="m"))
            await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        [record] = toy.calls
        assert record["status"] == "cancelled"


class TestNeverHarmsTheApp:
    def test_a_bug_in_extraction_leaves_the_call_unharmed(
        self,
        toy: CapturedRecords,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Extraction blowing up: the app still gets its answer; stderr says so once."""
        monkeypatch.setenv("_LLMLOG_RAISE_INTERNAL_ERRORS", "0")
        _guard._reset_for_tests()

        def broken(cap: object) -> dict[str, object]:
            raise RuntimeError("bug in llmlog")

        client = toy_sdk.Client()
        # A Capture keeps the extract function of its provider; replace it for this provider.
        original = toy_instrumentor.PROVIDER.extract
        object.__setattr__(toy_instrumentor.PROVIDER, "extract", broken)
        try:
            for _ in range(3):
                assert client.create(messages=MESSAGES, model="toy-1").text == "hello there world"
            records = toy.calls
        finally:
            object.__setattr__(toy_instrumentor.PROVIDER, "extract", original)
        assert len(records) == 3  # still one record per call, with what is known
        assert records[0]["output"] is None
        err = capsys.readouterr().err
        assert err.count("internal error in toy extraction") == 1
        assert _guard.counts["bug:toy extraction"] == 3

    def test_a_secret_in_an_internal_errors_message_is_not_printed(
        self,
        toy: CapturedRecords,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """An exception's message may quote the app's data (a header, an argument's
        repr); the traceback on stderr goes through the ``secrets`` rules first."""
        monkeypatch.setenv("_LLMLOG_RAISE_INTERNAL_ERRORS", "0")
        _guard._reset_for_tests()
        key = "sk-proj-" + "Q7x" * 16

        def broken(cap: object) -> dict[str, object]:
            raise TypeError(f"cannot read header Authorization: Bearer {key}")

        original = toy_instrumentor.PROVIDER.extract
        object.__setattr__(toy_instrumentor.PROVIDER, "extract", broken)
        try:
            toy_sdk.Client().create(messages=MESSAGES, model="toy-1")
            assert len(toy.calls) == 1
        finally:
            object.__setattr__(toy_instrumentor.PROVIDER, "extract", original)
        err = capsys.readouterr().err
        assert "cannot read header Authorization:" in err and "internal error" in err
        assert key not in err and key[:20] not in err


class TestInstallation:
    def test_instrumenting_twice_never_logs_twice(self) -> None:
        """Repeated install: one wrapper, one record per call."""
        with capture_records(redact="off") as cap:
            _base.install(toy_instrumentor.PROVIDER)
            _base.install(toy_instrumentor.PROVIDER)
            toy_sdk.Client().create(messages=MESSAGES, model="toy-1")
            assert len(cap.calls) == 1

    def test_uninstall_restores_the_original(self) -> None:
        """After the capture block, the SDK method is the original function again."""
        original = toy_sdk.Client.__dict__["create"]
        with capture_records(redact="off"):
            _base.install(toy_instrumentor.PROVIDER)
            assert toy_sdk.Client.__dict__["create"] is not original
        assert toy_sdk.Client.__dict__["create"] is original

    def test_uninstall_removes_only_our_wrapper_under_another(self) -> None:
        """Another library wrapping on top keeps its wrapper; ours is spliced out."""
        original = toy_sdk.Client.__dict__["create"]
        seen: list[str] = []

        def theirs(wrapped, instance, args, kwargs):  # type: ignore[no-untyped-def]
            seen.append("theirs")
            return wrapped(*args, **kwargs)

        with capture_records(redact="off"):
            _base.install(toy_instrumentor.PROVIDER)
            handle = wrapt.wrap_function_wrapper(toy_sdk, "Client.create", theirs)
        try:
            with capture_records(redact="off") as later:  # a live one: it would get a record
                toy_sdk.Client().create(messages=MESSAGES, model="toy-1")
                assert seen == ["theirs"]
                assert later.calls == []
        finally:
            wrapt.unwrap_object(toy_sdk, "Client.create", handle)
        assert toy_sdk.Client.__dict__["create"] is original

    def test_a_missing_target_is_skipped(self) -> None:
        """A patch-table row naming something this SDK version lacks is not fatal."""
        provider = _base.Provider(
            name="toy",
            targets=(
                *toy_instrumentor.PROVIDER.targets,
                _base.Target(toy_instrumentor.MODULE, "Client.gone", "gone", "chat", False),
            ),
            extract=toy_instrumentor.extract,
            on_result=toy_instrumentor.on_result,
        )
        with capture_records(redact="off") as cap:
            _base.install(provider)
            assert (toy_instrumentor.MODULE, "Client.gone") not in _base.installed()
            toy_sdk.Client().create(messages=MESSAGES, model="toy-1")
            assert len(cap.calls) == 1

    def test_stale_bound_wrappers_pass_through_after_uninstrument(self) -> None:
        """A method captured while instrumented (like with_raw_response) stops logging."""
        with capture_records(redact="off"):
            _base.install(toy_instrumentor.PROVIDER)
            bound = toy_sdk.Client().create
        with capture_records(redact="off") as later:
            bound(messages=MESSAGES, model="toy-1")
            assert later.calls == []


class TestTraceContext:
    def test_the_active_opentelemetry_span_is_recorded(self, toy: CapturedRecords) -> None:
        """Inside an OpenTelemetry span, the record carries its trace and span ids."""
        trace = pytest.importorskip("opentelemetry.trace")
        span_context = trace.SpanContext(
            trace_id=0x0123456789ABCDEF0123456789ABCDEF,
            span_id=0x0123456789ABCDEF,
            is_remote=False,
            trace_flags=trace.TraceFlags(1),
        )
        with trace.use_span(trace.NonRecordingSpan(span_context)):
            toy_sdk.Client().create(messages=MESSAGES, model="toy-1")
        toy_sdk.Client().create(messages=MESSAGES, model="toy-1")
        inside, outside = toy.calls
        assert inside["trace_id"] == "0123456789abcdef0123456789abcdef"
        assert inside["span_id"] == "0123456789abcdef"
        assert outside["trace_id"] is None
