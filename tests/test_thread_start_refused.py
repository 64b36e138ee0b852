"""A Python that refuses new threads while the process ends: every record still written.

CPython 3.12.0 to 3.12.2 raise ``RuntimeError: can't create new thread at interpreter
shutdown`` from ``Thread.start()`` once the main thread has returned (while the exit
waits for the app's other threads, and in ``atexit`` hooks), ``sys.is_finalizing()``
still False. Here the child interpreter's ``Thread.start`` is made to do the same, so
that the tests run on any Python; a last test runs the real thing where CPython 3.12.1
is installed. The SDKs are real, over ``httpx2.MockTransport``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import llmlog

TESTS = Path(__file__).parent
TESTED = Path(llmlog.__file__).parents[1]  # the llmlog under test, in the child too

REFUSING = """
import atexit, os, signal, sys, threading, time
_start = threading.Thread.start

def _start_unless_ending(self):
    # as CPython 3.12.0-3.12.2: no new thread once the main thread has returned
    if not threading.main_thread().is_alive():
        raise RuntimeError("can't create new thread at interpreter shutdown")
    _start(self)

threading.Thread.start = _start_unless_ending

import llmlog
from llmlog import _pipeline
from openai_fakes import chat_completion, json_response, sync_client

def call(text):
    return sync_client(lambda request: json_response(chat_completion())).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": text}]
    )

def queue_until_drained():
    # the writer sleeps until something drains the queue: a record no drain writes is lost
    _pipeline.IDLE_WAIT = _pipeline.WRITER_WAIT = _pipeline.BATCH_LINGER = 3600.0
    _pipeline.QUIET_AFTER = float("inf")
    _pipeline.HANDOVER_BATCH = 10**6
"""


def run(code: str, out: Path, python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    """``code`` after :data:`REFUSING` in a new interpreter (``OUT`` is the log file)."""
    script = f"OUT = {str(out)!r}\n" + REFUSING + textwrap.dedent(code)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTED)]),
        "_LLMLOG_RAISE_INTERNAL_ERRORS": "1",
    }
    return subprocess.run(
        [python, "-c", script], capture_output=True, text=True, timeout=100, env=env, check=False
    )


def texts(out: Path) -> list[str]:
    if not out.exists():
        return []
    lines = out.read_text().splitlines()
    return [json.loads(line)["messages"][0]["content"] for line in lines]


WORKER_AFTER_MAIN = """
def work():
    while threading.main_thread().is_alive():  # the calls begin once main has returned
        time.sleep(0.01)
    for n in range(5):
        call(f"call {n}")
    print("worker done")

llmlog.instrument(output=OUT, redact="secrets")
threading.Thread(target=work).start()
"""


@pytest.mark.timeout(120)
class TestRefusedThreads:
    def test_calls_of_a_thread_left_running_when_main_returns(self, tmp_path: Path) -> None:
        """The writer would start at the worker's first call, after main returned: refused,
        each call writes its own record (no traceback, no call lost)."""
        out = tmp_path / "llmlog.jsonl"
        proc = run(WORKER_AFTER_MAIN, out)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "worker done\n", "")
        assert texts(out) == [f"call {n}" for n in range(5)]

    def test_a_call_in_an_atexit_hook(self, tmp_path: Path) -> None:
        out = tmp_path / "llmlog.jsonl"
        proc = run(
            """
            llmlog.instrument(output=OUT, redact="secrets")
            atexit.register(lambda: print(call("at exit").choices[0].message.content))
            """,
            out,
        )
        assert (proc.returncode, proc.stderr) == (0, "")
        assert proc.stdout.strip()  # the answer
        assert texts(out) == ["at exit"]

    def test_os_exit_in_an_atexit_hook_drains_without_a_helper(self, tmp_path: Path) -> None:
        """``os._exit`` drains the queue on a helper thread: refused, on its own thread."""
        out = tmp_path / "llmlog.jsonl"
        proc = run(
            """
            llmlog.instrument(output=OUT, redact="secrets")
            queue_until_drained()
            call("queued")
            atexit.register(os._exit, 3)
            """,
            out,
        )
        assert (proc.returncode, proc.stderr) == (3, "")
        assert texts(out) == ["queued"]

    def test_sigterm_in_an_atexit_hook_drains_without_a_helper(self, tmp_path: Path) -> None:
        out = tmp_path / "llmlog.jsonl"
        proc = run(
            """
            def late():
                call("in atexit")
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(30)

            llmlog.instrument(output=OUT, redact="secrets")
            queue_until_drained()
            call("queued")
            atexit.register(late)
            """,
            out,
        )
        assert (proc.returncode, proc.stderr) == (-signal.SIGTERM, "")
        assert texts(out) == ["queued", "in atexit"]


@pytest.mark.timeout(120)
class TestWriterReadyAtTheCallsStart:
    """Calls llmlog observes or holds open start the writer as they begin, as wrapped calls
    do, not at their first record (maybe at exit, too late for a thread)."""

    def writer_running(self, code: str, tmp_path: Path) -> None:
        proc = run(
            textwrap.dedent(code)
            + "print('llmlog-writer' in [t.name for t in threading.enumerate()])\n",
            tmp_path / "llmlog.jsonl",
        )
        assert (proc.returncode, proc.stderr, proc.stdout) == (0, "", "True\n")

    def test_a_websocket_response(self, tmp_path: Path) -> None:
        self.writer_running(
            """
            from openai_ws_fake import hanging_response, serve_responses
            llmlog.instrument(output=OUT, redact="secrets")
            with serve_responses() as url:
                connection = hanging_response(url)
            """,
            tmp_path,
        )

    def test_an_observed_agent_request(self, tmp_path: Path) -> None:
        self.writer_running(
            """
            import anthropic_agent_fake as fake
            llmlog.instrument(output=OUT, redact="secrets")
            events = [fake.user_message("Hi"), *fake.request("span_1", 0.2, 1.0)[:-1]]
            client = fake.sync_client(fake.FakeAgents(events))
            for event in client.beta.sessions.events.stream(fake.SESSION):
                pass
            """,
            tmp_path,
        )


PY312 = os.environ.get("TEST_PY312_FOR_LLMLOG", "")
"""A CPython 3.12.0-3.12.2 with llmlog's dependencies, named by the one who runs the tests."""


def _usable(python: str) -> bool:
    """``python`` is a CPython 3.12.0-3.12.2 that has llmlog's dependencies."""
    if not python or not Path(python).exists():
        return False
    probe = (
        "import sys, openai, httpx2, structlog, wrapt; sys.exit(sys.version_info[:3] > (3, 12, 2))"
    )
    done = subprocess.run([python, "-c", probe], capture_output=True, timeout=60, check=False)
    return done.returncode == 0


@pytest.mark.timeout(120)
def test_the_real_cpython_3_12_1(tmp_path: Path) -> None:
    """The worker scenario on the Python that refuses for real (TEST_PY312_FOR_LLMLOG names one
    with the dependencies installed; a bare interpreter has none: skipped)."""
    if not _usable(PY312):
        pytest.skip("TEST_PY312_FOR_LLMLOG names no CPython 3.12.0-3.12.2 with the dependencies")
    out = tmp_path / "llmlog.jsonl"
    real = "threading.Thread.start = _start  # the interpreter's own refusal\n"
    proc = run(real + WORKER_AFTER_MAIN, out, python=PY312)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "worker done\n", "")
    assert texts(out) == [f"call {n}" for n in range(5)]
