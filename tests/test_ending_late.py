"""How a process's end reaches the pipeline, in real processes: a loss at os._exit or a
signal is said before the process dies; SIGHUP is left to the app; a call cut by
``sys.exit()`` is cancelled; calls after the exit drain (at ``pii`` too) and calls of
threads the exit still waits for get their real record; a call nobody can record any
more is said; a child forked from a thread ends when its threads do."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import llmlog

TESTS = Path(__file__).parent
TESTED = Path(llmlog.__file__).parents[1]  # the llmlog under test, in the child too

PRELUDE = """
import atexit, os, signal, sys, threading, time
import llmlog
from llmlog import _ending, _pipeline
from llmlog.instrumentors import _base
from support import toy_instrumentor, toy_sdk

def setup(**settings):
    settings.setdefault("redact", "secrets")
    llmlog.instrument(output=OUT, **settings)
    _base.install(toy_instrumentor.PROVIDER)

def call(text):
    return toy_sdk.Client().create(messages=[{"role": "user", "content": text}], model="toy")

def queue_until_drained():
    # the writer sleeps until something drains the queue: a record no drain writes is lost
    _pipeline.IDLE_WAIT = _pipeline.WRITER_WAIT = _pipeline.BATCH_LINGER = 3600.0
    _pipeline.HANDOVER_BATCH = 10**6
"""


def run(code: str, out: Path, timeout: float = 100) -> subprocess.CompletedProcess[str]:
    """``code`` after :data:`PRELUDE` in a new interpreter (``OUT`` is the log file)."""
    return run_python(f"OUT = {str(out)!r}\n" + PRELUDE + textwrap.dedent(code), timeout)


def run_python(script: str, timeout: float, **options: Any) -> subprocess.CompletedProcess[str]:
    """``script`` in a new interpreter that imports this checkout's llmlog and the tests'
    helpers, llmlog's own errors raised; ``options`` for :func:`subprocess.run`."""
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env(),
        check=False,
        **options,
    )


def child_env() -> dict[str, str]:
    """The environment of a child interpreter that imports this checkout's llmlog and the
    tests' helpers, llmlog's own errors raised."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTED)]),
        "_LLMLOG_RAISE_INTERNAL_ERRORS": "1",
    }


def records(out: Path) -> list[dict[str, Any]]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines()]


def texts(out: Path) -> list[str]:
    return [r["messages"][0]["content"] for r in records(out)]


ENDINGS = {
    "os._exit": ("os._exit(0)", 0),
    "SIGTERM": ("os.kill(os.getpid(), signal.SIGTERM); time.sleep(60)", -signal.SIGTERM),
}


class TestALossAtTheEndIsSaid:
    """os._exit and a SIGTERM drain on a helper thread for the flush timeout; the process
    ends when that wait does, and used to end before the helper said what was lost."""

    @pytest.mark.timeout(120)
    @pytest.mark.parametrize("ending", list(ENDINGS))
    def test_a_writer_too_slow_for_the_flush_timeout(self, tmp_path: Path, ending: str) -> None:
        out = tmp_path / "llmlog.jsonl"
        how, status = ENDINGS[ending]
        proc = run(
            f"""
            setup(flush_timeout=0.5)
            call("warm")
            assert llmlog.flush(60)
            pipeline = _pipeline.current()
            emit = pipeline._emit
            def slow(event, fields):  # 50 ms a record: 40 records need 2 s
                time.sleep(0.05)
                emit(event, fields)
            pipeline._emit = slow
            for i in range(40):
                call(f"c{{i}}")
            {how}
            """,
            out,
        )
        assert proc.returncode == status, proc.stderr
        assert len(records(out)) < 41
        said = f"records still pending 0.5s after the drain at {ending} began were lost"
        assert proc.stderr.count(said) == 1, proc.stderr
        assert proc.stderr.count("llmlog:") == 1, proc.stderr

    @pytest.mark.timeout(120)
    @pytest.mark.parametrize("ending", list(ENDINGS))
    def test_a_drain_stuck_before_it_writes(self, tmp_path: Path, ending: str) -> None:
        """A hook recording open calls waits (a lock the interrupted thread holds): the
        helper never gets to say anything; the thread waiting for it does."""
        out = tmp_path / "llmlog.jsonl"
        how, status = ENDINGS[ending]
        proc = run(
            f"""
            queue_until_drained()
            setup(flush_timeout=0.5)
            for i in range(5):
                call(f"c{{i}}")
            _ending.before_exit.insert(0, lambda: time.sleep(30))
            {how}
            """,
            out,
        )
        assert proc.returncode == status, proc.stderr
        assert records(out) == []
        assert proc.stderr.count("records still pending 0.5s") == 1, proc.stderr

    @pytest.mark.timeout(120)
    def test_nothing_is_said_when_nothing_is_lost(self, tmp_path: Path) -> None:
        out = tmp_path / "llmlog.jsonl"
        proc = run(
            """
            queue_until_drained()
            setup(flush_timeout=30)
            for i in range(5):
                call(f"c{i}")
            os._exit(0)
            """,
            out,
        )
        assert proc.returncode == 0, proc.stderr
        assert len(records(out)) == 5
        assert "llmlog:" not in proc.stderr


class TestNoFalseLoss:
    @pytest.mark.timeout(120)
    def test_a_written_queue_is_not_said_lost_with_no_flush_time(self, tmp_path: Path) -> None:
        """``LLMLOG_FLUSH_TIMEOUT=0`` and every record written already: ``flush(0)`` says
        False once the exit drain began, and the exit said records were lost."""
        out = tmp_path / "llmlog.jsonl"
        proc = run(
            """
            setup(flush_timeout=0)
            call("c0")
            assert llmlog.flush(30)
            time.sleep(0.3)
            """,
            out,
        )
        assert proc.returncode == 0, proc.stderr
        assert texts(out) == ["c0"]
        assert "were lost" not in proc.stderr


class TestSighup:
    def test_sighup_is_left_to_the_app(self) -> None:
        """No handler on SIGHUP: programs tell they run under ``nohup`` by
        ``signal.getsignal(SIGHUP) != SIG_DFL``, and one put there by llmlog made an app in
        a terminal think it was detached (a SIGHUP's queue is lost: README, Known limits)."""
        code = (
            "import signal, llmlog, tempfile\n"
            "llmlog.instrument(output=tempfile.mkdtemp() + '/l.jsonl', redact='secrets')\n"
            "print(signal.getsignal(signal.SIGHUP) is signal.SIG_DFL)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
        )
        assert done.stdout.strip() == "True"


class TestSysExitInACall:
    @pytest.mark.timeout(120)
    def test_a_call_cut_by_a_graceful_sigterm_handler_is_cancelled(self, tmp_path: Path) -> None:
        """The usual graceful handler, ``sys.exit(0)`` on SIGTERM (gunicorn's QUIT/INT
        too), raises SystemExit in the call waiting for its answer: cancelled, as a
        Ctrl-C is, not an error."""
        out = tmp_path / "llmlog.jsonl"
        proc = run(
            """
            from openai_fakes import sync_client
            signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
            llmlog.instrument(output=OUT, redact="secrets")
            threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM)).start()
            def slow(request):
                time.sleep(30)
                raise AssertionError("the signal did not come")
            sync_client(slow).chat.completions.create(model="m", messages=[])
            """,
            out,
        )
        assert proc.returncode == 0, proc.stderr
        [record] = records(out)
        assert record["status"] == "cancelled"
        assert record["error"]["type"] == "SystemExit"


needs_presidio = pytest.mark.skipif(
    importlib.util.find_spec("presidio_analyzer") is None, reason="presidio not installed"
)


class TestCallsAfterTheExitDrain:
    @needs_presidio
    @pytest.mark.timeout(120)
    def test_a_late_call_at_pii_is_redacted_not_marked(self, tmp_path: Path) -> None:
        """The drain's deadline passed (the PII worker was not up in 0.3 s): a call of a
        later atexit hook, written by its own thread, has no deadline and waits for the
        worker as any call does; its text is redacted, not replaced."""
        out = tmp_path / "llmlog.jsonl"
        proc = run(
            """
            # registered before instrument(): runs after llmlog's drain
            atexit.register(call, "late reply to john.smith@example.com")
            setup(redact="pii", flush_timeout=0.3)
            call("first reply to john.smith@example.com")
            """,
            out,
        )
        assert proc.returncode == 0, proc.stderr
        [late] = [r for r in records(out) if "late" in json.dumps(r["output"])]
        assert late["messages"] == [{"role": "user", "content": "late reply to <EMAIL_ADDRESS>"}]

    @pytest.mark.timeout(120)
    def test_a_call_of_a_thread_the_exit_still_waits_for_is_not_cancelled(
        self, tmp_path: Path
    ) -> None:
        """A multiprocessing child runs its finalizers (llmlog's drain) before it joins its
        threads: a call of a non-daemon thread still waiting then ends normally, and its
        record says so (it was `cancelled`, without usage, though it got its answer)."""
        out = tmp_path / "llmlog.jsonl"
        proc = run(
            """
            import multiprocessing
            from openai_fakes import chat_completion, json_response, sync_client
            def slow(request):
                time.sleep(1.0)
                return json_response(chat_completion())
            def ask():
                sync_client(slow).chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "in a thread"}]
                )
            def job():
                threading.Thread(target=ask).start()
                time.sleep(0.3)  # the call is on its way when the child's job returns
            if __name__ == "__main__":
                llmlog.instrument(output=OUT, redact="secrets")
                child = multiprocessing.get_context("fork").Process(target=job)
                child.start(); child.join()
                print(child.exitcode)
            """,
            out,
        )
        assert proc.returncode == 0 and proc.stdout.strip() == "0", proc.stderr
        [record] = records(out)
        assert record["status"] == "ok", record
        assert record["usage"] is not None

    @pytest.mark.timeout(120)
    def test_a_daemon_call_in_flight_at_the_very_end_is_said(self, tmp_path: Path) -> None:
        """A daemon thread goes on calling after the exit drain (a later atexit hook
        waits); the call it is in when the interpreter stops it for good has no record:
        one line says so."""
        out = tmp_path / "llmlog.jsonl"
        proc = run(
            """
            from openai_fakes import chat_completion, json_response, sync_client
            def slow(request):
                time.sleep(0.2)
                return json_response(chat_completion())
            client = sync_client(slow)
            def loop():
                while True:
                    client.chat.completions.create(model="m", messages=[])
            atexit.register(time.sleep, 0.5)  # before instrument(): after llmlog's drain
            llmlog.instrument(output=OUT, redact="secrets")
            threading.Thread(target=loop, daemon=True).start()
            time.sleep(0.5)
            """,
            out,
        )
        assert proc.returncode == 0, proc.stderr
        said = "1 call(s) still in flight when the interpreter stopped its threads"
        assert proc.stderr.count(said) == 1, proc.stderr
        assert len(records(out)) >= 3


class TestForkedFromAThread:
    @pytest.mark.timeout(120)
    def test_the_child_ends_soon_after_its_thread(self, tmp_path: Path) -> None:
        """The writer of a child forked from a thread checks every 50 ms whether it is the
        last thread left (it slept up to 1 s, IDLE_WAIT, keeping the child alive)."""
        out = tmp_path / "llmlog.jsonl"
        proc = run(
            """
            setup()
            call("parent")
            def fork_here():
                pid = os.fork()
                if pid == 0:
                    call("child")
                    assert llmlog.flush(10)  # the writer wrote it and goes back to sleep
                    return  # the child's only thread ends: so does the child
                os.waitpid(pid, 0)
            thread = threading.Thread(target=fork_here)
            thread.start(); thread.join()
            """,
            out,
        )
        assert proc.returncode == 0, proc.stderr
        assert sorted(texts(out)) == ["child", "parent"]
