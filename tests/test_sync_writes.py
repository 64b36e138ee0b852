"""``LLMLOG_SYNC_WRITES``: each call returns only once its record is written.

For serverless runtimes that freeze the process as soon as the handler returns (AWS
Lambda, Cloud Functions, Cloud Run with CPU only during requests) or end it without a
signal: the writer thread may not get its turn before that.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

import openai_fakes as ofake
from llmlog._config import Settings
from support.blocked_sink import BlockedSink, logging_to
from test_ending_late import child_env, records

ASK = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


def _answer(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(200, json=ofake.chat_completion("A"))


@pytest.fixture
def slow_disk(request: pytest.FixtureRequest) -> Iterator[BlockedSink]:
    """A sink that waits to be released; ``sync_writes`` as the test's parameter."""
    with logging_to(BlockedSink(), redact="secrets", sync_writes=request.param) as sink:
        yield sink


@pytest.mark.parametrize("slow_disk", [True], indirect=True)
def test_a_call_returns_once_its_record_is_written(slow_disk: BlockedSink) -> None:
    threading.Timer(0.2, slow_disk.release.set).start()  # the disk answers a moment later
    ofake.sync_client(_answer).chat.completions.create(**ASK)  # type: ignore[call-overload]
    assert len(slow_disk.lines) == 1


@pytest.mark.parametrize("slow_disk", [False], indirect=True)
def test_by_default_a_call_does_not_wait_for_its_record(slow_disk: BlockedSink) -> None:
    """(What the setting changes: the call returns while the writer still waits.)"""
    ofake.sync_client(_answer).chat.completions.create(**ASK)  # type: ignore[call-overload]
    assert slow_disk.lines == []


@pytest.mark.parametrize("slow_disk", [True], indirect=True)
async def test_a_stream_ends_once_its_record_is_written(slow_disk: BlockedSink) -> None:
    client = ofake.async_client(lambda request: ofake.sse_response(ofake.chat_chunks()))
    stream = await client.chat.completions.create(**ASK, stream=True)  # type: ignore[call-overload]
    threading.Timer(0.2, slow_disk.release.set).start()
    async for _chunk in stream:
        pass
    assert len(slow_disk.lines) == 1


@pytest.mark.parametrize("sync_writes", [True, False])
def test_a_process_killed_once_the_call_returned_keeps_its_record(
    tmp_path: Path, sync_writes: bool
) -> None:
    """The sandbox is frozen and reclaimed as the handler returns: killed from outside,
    no signal to act on. At the default redaction the record waits for the PII worker to
    start (~1 s): without the setting it is lost, with it the call waited for it."""
    out = tmp_path / "llmlog.jsonl"
    script = f"""
import sys, time, httpx2, llmlog, openai_fakes as ofake
llmlog.instrument(output={str(out)!r}, sync_writes={sync_writes})
answer = lambda request: httpx2.Response(200, json=ofake.chat_completion("A"))
ask = dict(model="gpt-4o", messages=[{{"role": "user", "content": "hi"}}])
ofake.sync_client(answer).chat.completions.create(**ask)
print("returned", flush=True)
time.sleep(60)
"""
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=child_env()
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "returned\n"
    finally:
        child.kill()
        child.wait(60)
    assert len(records(out)) == (1 if sync_writes else 0)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, False),
        ({"AWS_LAMBDA_FUNCTION_NAME": "answer-bot"}, True),
        ({"FUNCTION_TARGET": "handle"}, True),
        ({"AWS_LAMBDA_FUNCTION_NAME": "answer-bot", "LLMLOG_SYNC_WRITES": "0"}, False),
        ({"LLMLOG_SYNC_WRITES": "1"}, True),
    ],
)
def test_on_by_default_where_the_runtime_freezes_the_process(
    environ: dict[str, str], expected: bool
) -> None:
    assert Settings.from_env(environ).sync_writes is expected


def test_a_stuck_writer_costs_one_wait_not_one_per_call() -> None:
    """A hung disk: the first call waits its flush timeout in vain; the next ones do not
    wait (each would have taken the 3 s again: 12 s for these four)."""
    with logging_to(BlockedSink(), redact="secrets", sync_writes=True, flush_timeout=3):
        client = ofake.sync_client(_answer)
        started = time.monotonic()
        for _ in range(4):
            client.chat.completions.create(**ASK)  # type: ignore[call-overload]
        assert time.monotonic() - started < 9  # a hang detector, not a speed test
