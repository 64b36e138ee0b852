"""llmlog beside other tools patching the same SDK methods (emulated here: LangSmith's
async check, OpenTelemetry's wrapt patch and its ``unwrap``, Sentry's ``functools.wraps``
patch that it never removes), through the real SDKs."""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import wrapt
from openai.resources.chat.completions.completions import AsyncCompletions, Completions

import anthropic_fakes
import llmlog
import llmlog.testing
import openai_fakes as fakes
from llmlog import _guard

MESSAGES = [{"role": "user", "content": "Say hello"}]
PRISTINE = Completions.__dict__["create"]


def _openai(is_async: bool) -> Any:
    client = fakes.async_client if is_async else fakes.sync_client
    return client(fakes.default_fake()).chat.completions.create


def _anthropic(is_async: bool) -> Any:
    handler = anthropic_fakes.json_handler(anthropic_fakes.message())
    client = anthropic_fakes.async_client if is_async else anthropic_fakes.sync_client
    return client(handler).messages.create


def _answers(method: Any) -> tuple[bool, bool, bool]:
    """What tools ask: the method's and its __wrapped__'s iscoroutinefunction, and
    instructor's walk of the whole __wrapped__ chain."""
    walk = any(inspect.iscoroutinefunction(f) for f in wrapt.wrapper_chain(method))
    return (
        inspect.iscoroutinefunction(method),
        inspect.iscoroutinefunction(method.__wrapped__),
        walk,
    )


def _langsmith_is_async(func: Any) -> bool:
    return inspect.iscoroutinefunction(func) or (
        hasattr(func, "__wrapped__") and inspect.iscoroutinefunction(func.__wrapped__)
    )


class TestAsyncChecks:
    @pytest.mark.parametrize("sdk", [_openai, _anthropic])
    @pytest.mark.parametrize("is_async", [False, True])
    def test_answers_are_the_bare_ones(self, sdk: Callable[[bool], Any], is_async: bool) -> None:
        """Bare and under llmlog: (False, False, False) sync; (False, True, True) async,
        ``method.__wrapped__`` being the SDK's very ``async def``."""
        bare = sdk(is_async)
        with llmlog.testing.capture_records(redact="off"):
            method = sdk(is_async)
            assert _answers(method) == _answers(bare) == (False, is_async, is_async)
            assert _langsmith_is_async(method) is is_async
            if is_async:
                assert method.__wrapped__ is bare.__wrapped__

    def test_reading_through_the_class_still_gives_the_sdk_shim(self) -> None:
        """What an OpenTelemetry-style unwrap puts back is the SDK's ``required_args``
        shim, not the function beneath it."""
        shim = AsyncCompletions.__dict__["create"]
        with llmlog.testing.capture_records(redact="off"):
            assert AsyncCompletions.create.__wrapped__ is shim
            assert not inspect.iscoroutinefunction(AsyncCompletions.create.__wrapped__)

    async def test_a_langsmith_style_wrapper_awaits_and_one_record_is_written(self) -> None:
        """LangSmith picks its async wrapper, so it awaits the call (the run's output is
        the answer, not a coroutine)."""
        outputs: list[Any] = []
        with llmlog.testing.capture_records(redact="off") as llm:
            completions = fakes.async_client(fakes.default_fake()).chat.completions
            method = completions.create
            assert _langsmith_is_async(method)

            @functools.wraps(method)
            async def traced(*args: Any, **kwargs: Any) -> Any:
                outputs.append(await method(*args, **kwargs))
                return outputs[-1]

            completions.create = traced  # type: ignore[method-assign]
            await completions.create(model="gpt-4o", messages=MESSAGES)
        assert type(outputs[0]).__name__ == "ChatCompletion"
        assert len(llm.calls) == 1


def _instrument(tmp_path: Path) -> None:
    llmlog.instrument(output=str(tmp_path / "calls.jsonl"), redact="off")


@pytest.fixture
def log(tmp_path: Path) -> Iterator[Callable[[], int]]:
    """llmlog writing to a file; gives how many call records were written since last
    asked. The class and llmlog's notices are restored afterwards."""
    path = tmp_path / "calls.jsonl"
    seen = [0]

    def new_records() -> int:
        llmlog.flush()
        lines = path.read_text().splitlines() if path.exists() else []
        calls = [line for line in lines if json.loads(line).get("event") == "llm.call"]
        count, seen[0] = len(calls) - seen[0], len(calls)
        return count

    _guard._reset_for_tests()
    try:
        yield new_records
    finally:  # a wrapper of ours left beneath a peer is forgotten at the next instrument()
        llmlog.uninstrument()
        Completions.create = PRISTINE  # type: ignore[method-assign]
        _instrument(tmp_path)
        llmlog.uninstrument()
        _guard._reset_for_tests()


def _call() -> None:
    _openai(False)(model="gpt-4o", messages=MESSAGES)


def _wrapt_peer(calls: list[int]) -> Callable[[], None]:
    """An OpenTelemetry-style instrumentor: wrapt patch; its uninstrument is ``unwrap``."""

    def traced(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        calls.append(1)
        return wrapped(*args, **kwargs)

    wrapt.wrap_function_wrapper(Completions, "create", traced)
    return lambda: setattr(Completions, "create", Completions.create.__wrapped__)


def _functools_peer(calls: list[int]) -> Callable[[], None]:
    """A Sentry-style integration: ``functools.wraps`` patch (its undoing, which Sentry
    has not, is setting the attribute back to what it wrapped)."""
    original = Completions.create

    @functools.wraps(original)
    def traced(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    Completions.create = traced  # type: ignore[method-assign]
    return lambda: setattr(Completions, "create", traced.__wrapped__)


class TestPeerTakesOurPatch:
    def test_instrument_puts_back_what_a_peer_unwrap_removed(
        self, log: Callable[[], int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Peer first, llmlog over it, then the peer's unwrap removes llmlog's wrapper:
        instrument() patches again; uninstrument() is clean; said once on stderr."""
        peer_calls: list[int] = []
        peer_off = _wrapt_peer(peer_calls)
        _instrument(tmp_path)
        _call()
        assert log() == 1
        peer_off()
        _call()
        assert log() == 0
        _instrument(tmp_path)
        _call()
        assert log() == 1
        Completions.create = vars(Completions)["create"].__wrapped__  # unwrap()
        llmlog.instrument()  # as sitecustomize and the app both say it: no settings again
        _call()
        assert log() == 1
        llmlog.uninstrument()
        _call()
        assert log() == 0
        assert not [key for key in llmlog.trouble() if key.startswith("bug:")]
        err = capsys.readouterr().err
        assert err.count("another tool removed llmlog's patch") == 1
        assert "Traceback" not in err


class TestPeerHoldsOurPatch:
    def test_uninstrument_leaves_a_pass_through_and_instrument_re_arms_it(
        self, log: Callable[[], int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """llmlog first, a functools.wraps patch over it: uninstrument() leaves llmlog's
        wrapper beneath, logging nothing; instrument() re-arms it, no second wrapper."""
        peer_calls: list[int] = []
        _instrument(tmp_path)
        peer_off = _functools_peer(peer_calls)
        for _ in range(3):
            llmlog.uninstrument()
            _call()
            assert log() == 0
            _instrument(tmp_path)
            _call()
            assert log() == 1
        ours = [f for f in wrapt.wrapper_chain(Completions.__dict__["create"]) if f is not PRISTINE]
        assert sum(isinstance(f, wrapt.BoundFunctionWrapper) for f in ours) == 1
        assert len(peer_calls) == 6
        llmlog.uninstrument()
        peer_off()  # the peer goes too: llmlog's wrapper is on top again, taken off cleanly
        _instrument(tmp_path)
        llmlog.uninstrument()
        assert Completions.__dict__["create"] is PRISTINE
        assert not [key for key in llmlog.trouble() if key.startswith("bug:")]
        err = capsys.readouterr().err
        assert err.count("wraps llmlog's, which stays in place") == 1
        assert "Traceback" not in err


ORDERS = [
    "L1 P1 l0 L1",
    "P0 L1 l0 L1",
    "P0 L1 p0 L1",
    "L1 P1 l0 p0 L1",
    "L1 P1 p1 L1 l0 L1",
    "P0 L1 p0 l0 L1 l0 L1",
    "P0 L1 l0 p0 L1 l0",
]


@pytest.mark.parametrize("peer", [_wrapt_peer, _functools_peer])
@pytest.mark.parametrize("steps", ORDERS)
def test_one_record_per_call_in_any_order(
    peer: Callable[[list[int]], Callable[[], None]],
    steps: str,
    log: Callable[[], int],
    tmp_path: Path,
) -> None:
    """Each step (L/l: llmlog.instrument()/uninstrument(), P/p: the peer on/off), then a
    call and the records it gave: one while llmlog is on (none after the peer took
    llmlog's wrapper with its own, until instrument()), never two."""
    peer_off: list[Callable[[], None]] = []
    for step, wanted in steps.split():
        if step == "L":
            _instrument(tmp_path)
        elif step == "l":
            llmlog.uninstrument()
        elif step == "P":
            peer_off.append(peer([]))
        else:
            peer_off.pop()()
        _call()
        assert log() == int(wanted), f"after {step} of {steps}"
    assert not [key for key in llmlog.trouble() if key.startswith("bug:")]


async def test_an_async_parse_coroutine_is_named_as_the_sdks() -> None:
    """A warning about a parse never awaited names ``AsyncAPIResponse.parse``, as bare."""
    with llmlog.testing.capture_records(redact="off"):
        completions = fakes.async_client(fakes.default_fake()).chat.completions
        streamed = completions.with_streaming_response.create(model="gpt-4o", messages=MESSAGES)
        async with streamed as response:
            coroutine = response.parse()
            names = coroutine.__name__, coroutine.__qualname__
            coroutine.close()
    assert names == ("parse", "AsyncAPIResponse.parse")
