"""Ctrl-C and exceptions raised by the app's signal handlers, landing inside llmlog's code.

CPython runs a pending signal handler between two bytecodes of whatever code runs, e.g.
right after a C function returns: inside llmlog's wrapper or its record's hand-over too.
A profile hook stands in for the signal at the exact point (a ``c_return`` event is where
CPython would run the handler): it raises ``KeyboardInterrupt`` as Ctrl-C's default handler
does, or sends a real signal whose Python handler raises the app's deadline. The app must
see what it would without llmlog, and every call must still get its one record.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pytest

import llmlog
import openai_fakes as fakes
from llmlog.testing import capture_records

MESSAGES = [{"role": "user", "content": "hi"}]

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="needs SIGUSR1")


class Deadline(Exception):
    """An app's time limit, as timeout-decorator, stopit or Celery raise it."""


@contextlib.contextmanager
def _interrupted_once(
    where: str, c_function: str, interrupt: Callable[[], None], raises: type[BaseException]
) -> Iterator[None]:
    """``interrupt()`` once, when ``c_function`` returns to the frame of a function named
    ``where`` (a profile hook) in the block, which must raise ``raises``; the hook is gone
    after the block."""
    armed = [True]

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        if (
            armed[0]
            and event == "c_return"
            and frame.f_code.co_name == where
            and getattr(arg, "__name__", "") == c_function
        ):
            armed[0] = False
            interrupt()

    sys.setprofile(hook)
    try:
        with pytest.raises(raises):
            yield
    finally:
        sys.setprofile(None)


def _ctrl_c() -> None:
    raise KeyboardInterrupt


@pytest.fixture
def deadline_handler() -> Iterator[Callable[[], None]]:
    """A SIGUSR1 handler raising :class:`Deadline`; yields what sends the signal."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise Deadline("request budget exceeded")

    previous = signal.signal(signal.SIGUSR1, on_signal)
    try:
        yield lambda: signal.raise_signal(signal.SIGUSR1)
    finally:
        sys.setprofile(None)
        signal.signal(signal.SIGUSR1, previous)


@pytest.fixture
def not_raising_internal_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in the app: llmlog's own errors are reported, not raised."""
    monkeypatch.delenv("_LLMLOG_RAISE_INTERNAL_ERRORS")


def _read(stream: Any) -> str:
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def _users(records: list[dict[str, Any]]) -> list[Any]:
    return sorted(r["params"].get("user") for r in records)


def test_ctrl_c_as_the_nesting_guard_is_armed_leaves_later_calls_recorded() -> None:
    client = fakes.sync_client(fakes.default_fake())
    with capture_records(redact="off") as cap:
        with _interrupted_once("sync_wrapper", "set", _ctrl_c, KeyboardInterrupt):
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES, user="u1")
        for user in ("u2", "u3", "u4"):
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES, user=user)
    assert _users(cap.records) == ["u1", "u2", "u3", "u4"]


def test_ctrl_c_as_the_async_nesting_guard_is_armed_leaves_later_calls_recorded() -> None:
    client = fakes.async_client(fakes.default_fake())

    async def calls() -> None:
        with _interrupted_once("async_call", "set", _ctrl_c, KeyboardInterrupt):
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, user="u1")
        for user in ("u2", "u3"):
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, user=user)

    with capture_records(redact="off") as cap:
        asyncio.run(calls())
    assert _users(cap.records) == ["u1", "u2", "u3"]


def test_ctrl_c_as_a_helper_label_is_set_leaves_no_label_behind() -> None:
    from llmlog.instrumentors import _base

    client = fakes.sync_client(fakes.default_fake())
    with capture_records(redact="off"):
        with (
            _interrupted_once("sync_labelled", "set", _ctrl_c, KeyboardInterrupt),
            client.responses.stream(model="gpt-4o", input="hi"),
        ):
            pass
        mark = _base._label.get()
    assert mark is None or mark[0] is None


@pytest.mark.usefixtures("not_raising_internal_errors")
def test_a_signal_handlers_deadline_while_a_stream_is_recorded_reaches_the_app(
    deadline_handler: Callable[[], None],
) -> None:
    client = fakes.sync_client(fakes.default_fake())
    bugs_before = llmlog.trouble()
    with capture_records(redact="off") as cap:
        stream = client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, user="u1"
        )
        with _interrupted_once("submit", "getpid", deadline_handler, Deadline):
            _read(stream)
        assert not _new_bugs(bugs_before)
        stream.close()  # the app lets go of it: now its record
        assert _users(cap.records) == ["u1"]
        assert cap.records[0]["status"] == "ok"  # the answer was whole
        assert cap.records[0]["output"]


@pytest.mark.usefixtures("not_raising_internal_errors")
def test_a_signal_handlers_deadline_as_a_call_is_recorded_reaches_the_app(
    deadline_handler: Callable[[], None],
) -> None:
    client = fakes.sync_client(fakes.default_fake())
    bugs_before = llmlog.trouble()
    with capture_records(redact="off") as cap:
        with _interrupted_once("submit", "getpid", deadline_handler, Deadline):
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES, user="u1")
        assert not _new_bugs(bugs_before)
    assert _users(cap.records) == ["u1"]  # recorded at the end (as cancelled), not lost


def test_ctrl_c_as_a_streams_record_is_queued_keeps_its_record() -> None:
    client = fakes.sync_client(fakes.default_fake())
    with capture_records(redact="off") as cap:
        stream = client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, user="u1"
        )
        with _interrupted_once("submit", "getpid", _ctrl_c, KeyboardInterrupt):
            _read(stream)
        stream.close()
        assert _users(cap.records) == ["u1"]
        assert cap.records[0]["output"]  # the texts read before Ctrl-C are kept


def test_the_async_streams_iterator_has_asend_and_athrow_as_the_sdks_generator() -> None:
    client = fakes.async_client(fakes.default_fake())

    async def read() -> tuple[Any, Any]:
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, user="u1"
        )
        chunks = aiter(stream)
        first = await anext(chunks)
        second = await chunks.asend(None)  # type: ignore[attr-defined]
        with pytest.raises(ValueError, match="stop"):
            await chunks.athrow(ValueError("stop"))  # type: ignore[attr-defined]
        with pytest.raises(StopAsyncIteration):
            await anext(chunks)
        return first, second

    with capture_records(redact="off") as cap:
        first, second = asyncio.run(read())
        assert first.id == second.id
        assert _users(cap.records) == ["u1"]  # the app let go of it: ended at once
        assert cap.records[0]["status"] == "cancelled"
        assert "error" not in cap.records[0] or not cap.records[0]["error"]


def _ctrl_c_as_finish_is_entered() -> None:
    """Profile hook: Ctrl-C once, as a call's record is being finished (the handler runs
    as a function is entered: before any ``try`` in it)."""
    armed = [True]

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        if armed[0] and event == "call" and frame.f_code.co_name == "finish":
            armed[0] = False
            raise KeyboardInterrupt

    sys.setprofile(hook)


@pytest.mark.parametrize("answer", ["ok", "error"])
def test_ctrl_c_as_a_calls_record_is_finished_keeps_its_record(answer: str) -> None:
    fake = fakes.default_fake()
    if answer == "error":
        fake.routes["/chat/completions"] = lambda body: fakes.json_response(fakes.error_body(), 429)
    client = fakes.sync_client(fake)
    with capture_records(redact="off") as cap:
        _ctrl_c_as_finish_is_entered()
        try:
            with pytest.raises(KeyboardInterrupt):
                client.chat.completions.create(model="gpt-4o", messages=MESSAGES, user="u1")
        finally:
            sys.setprofile(None)
    assert _users(cap.records) == ["u1"]  # recorded at the end (as cancelled), not lost


def _new_bugs(before: dict[str, int]) -> list[str]:
    """Internal errors counted since ``before`` (earlier tests' stay in the process)."""
    now = llmlog.trouble()
    return [key for key in now if key.startswith("bug") and now[key] != before.get(key)]
