"""How servers and worker pools end their processes, reproduced with plain signal calls in
a real interpreter (the real SDK over a fake transport): uvicorn's workers put SIGTERM's
default back and raise it again; celery's pool blocks SIGTERM in its thread while it holds
a lock, and its cold shutdown cuts a task's call short with ``SystemExit`` before it kills
the worker; a quiet server's record lands without waiting for the writer's idle sleep."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from test_ending_late import records, run_python

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

PRELUDE = """
import os, signal, subprocess, sys, threading, time
import llmlog
from llmlog import _pipeline
from openai_fakes import chat_chunks, chat_completion, json_response, sse_response, sync_client

def answer(request):
    if b'"stream":true' in request.content.replace(b" ", b""):
        return sse_response(chat_chunks())
    return json_response(chat_completion())

client = sync_client(answer)

def call(text, **options):
    return client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": text}], **options
    )

def queue_until_drained():
    # the writer sleeps until something drains the queue: a record no drain writes is lost
    _pipeline.IDLE_WAIT = _pipeline.WRITER_WAIT = _pipeline.BATCH_LINGER = 3600.0
    _pipeline.QUIET_AFTER = 3600.0
    _pipeline.HANDOVER_BATCH = 10**6

def killed_from_outside(signum):
    # as a server's master or a pool's parent does: no drain of ours can run first
    subprocess.run([sys.executable, "-c", f"import os; os.kill({os.getpid()}, {int(signum)})"])
    time.sleep(60)
"""


def run(code: str, out: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``code`` after :data:`PRELUDE` in a new interpreter, in a session of its own (a
    signal to its process group reaches nothing else); ``OUT`` is the log file."""
    script = f"OUT = {str(out)!r}\n" + PRELUDE + textwrap.dedent(code)
    return run_python(script, timeout, start_new_session=True)


def texts_and_statuses(out: Path) -> list[tuple[str, str]]:
    return [(r["messages"][0]["content"], r["status"]) for r in records(out)]


RAISES = {
    "signal.raise_signal": "signal.raise_signal(SIG)",
    "os.kill of itself": "os.kill(os.getpid(), SIG)",
    "os.kill of its group": "os.kill(0, SIG)",
    "os.killpg of its group": "os.killpg(os.getpgrp(), SIG)",
}


class TestASignalTheProcessSendsItself:
    """uvicorn (``--workers``, gunicorn's ``UvicornWorker``) handles SIGTERM while it serves,
    then puts back the default it found and raises the signal again: the queue is written
    first, and the process still dies by the signal."""

    @pytest.mark.parametrize("how", list(RAISES))
    @pytest.mark.parametrize("name", ["SIGTERM", "SIGINT", "SIGHUP"])
    def test_uvicorns_worker_raising_the_signal_again(
        self, tmp_path: Path, how: str, name: str
    ) -> None:
        out = tmp_path / "llmlog.jsonl"
        proc = run(
            f"""
            SIG = signal.{name}
            signal.signal(SIG, signal.SIG_DFL)               # UvicornWorker.init_signals
            found = signal.signal(SIG, lambda *a: None)      # Server.capture_signals
            llmlog.instrument(output=OUT, redact="secrets")  # the app, imported by the worker
            queue_until_drained()
            call("served")
            signal.signal(SIG, found)                        # capture_signals ends ...
            {RAISES[how]}                                    # ... and raises it again
            time.sleep(60)
            """,
            out,
        )
        assert proc.returncode == -getattr(signal, name), proc.stderr
        assert texts_and_statuses(out) == [("served", "ok")], proc.stderr
        assert "Traceback" not in proc.stderr, proc.stderr

    def test_activated_before_the_worker_puts_sigterms_default_back(self, tmp_path: Path) -> None:
        """gunicorn's master activated llmlog (``LLMLOG_ENABLED=1``), whose SIGTERM drain
        the forked worker replaces with the default before uvicorn captures it."""
        out = tmp_path / "llmlog.jsonl"
        proc = run(
            """
            llmlog.instrument(output=OUT, redact="secrets")
            queue_until_drained()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            found = signal.signal(signal.SIGTERM, lambda *a: None)
            call("served")
            signal.signal(signal.SIGTERM, found)
            signal.raise_signal(signal.SIGTERM)
            """,
            out,
        )
        assert proc.returncode == -signal.SIGTERM, proc.stderr
        assert texts_and_statuses(out) == [("served", "ok")], proc.stderr

    @pytest.mark.parametrize("case", ["handled by the app", "blocked", "not ending"])
    def test_a_signal_that_does_not_end_the_process_drains_nothing(
        self, tmp_path: Path, case: str
    ) -> None:
        """A stream the app reads on afterwards is recorded as read to its end, not as
        cancelled by a drain that was not the last."""
        send = {
            "handled by the app": "signal.signal(signal.SIGUSR1, lambda *a: print('handled'));"
            " signal.raise_signal(signal.SIGUSR1)",
            "blocked": "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM});"
            " signal.signal(signal.SIGTERM, signal.SIG_DFL);"
            " signal.raise_signal(signal.SIGTERM);"
            " signal.sigtimedwait({signal.SIGTERM}, 10); print('handled')",
            "not ending": "signal.raise_signal(signal.SIGCHLD); print('handled')",
        }[case]
        out = tmp_path / "llmlog.jsonl"
        proc = run(
            f"""
            llmlog.instrument(output=OUT, redact="secrets")
            stream = call("streamed", stream=True)
            {send}
            text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            """,
            out,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == "handled\n"
        assert texts_and_statuses(out) == [("streamed", "ok")], proc.stderr


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads masks from /proc")
class TestTheAppsSignalMaskHolds:
    """billiard (celery's pool) blocks SIGTERM in its worker's thread while it holds a lock
    shared with the other processes: the signal must wait until it unblocks it. A thread of
    llmlog's that took it would end the process with the lock held (celery then hangs)."""

    def test_a_sigterm_from_outside_waits_for_the_app_to_unblock_it(self, tmp_path: Path) -> None:
        out = tmp_path / "llmlog.jsonl"
        proc = run(
            """
            llmlog.instrument(output=OUT, redact="secrets")
            call("before")                                   # the writer runs
            signal.signal(signal.SIGTERM, signal.SIG_DFL)    # billiard's, as it ends
            before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
            subprocess.run([sys.executable, "-c", f"import os; os.kill({os.getpid()}, 15)"])
            while signal.SIGTERM not in signal.sigpending():
                time.sleep(0.01)
            time.sleep(0.3)                                  # the critical section's work
            print("lock released", flush=True)
            signal.pthread_sigmask(signal.SIG_SETMASK, before)
            time.sleep(60)
            """,
            out,
        )
        assert proc.returncode == -signal.SIGTERM, proc.stderr
        assert proc.stdout == "lock released\n", proc.stderr

    def test_llmlogs_threads_block_signals_and_its_worker_does_not(self, tmp_path: Path) -> None:
        """The writer and the drain's helper block every signal but the faults (a crash
        in them still reaches ``faulthandler``); the PII worker process started from the
        writer starts with nothing blocked; the app's thread keeps its own mask."""
        pytest.importorskip("presidio_analyzer")
        out = tmp_path / "llmlog.jsonl"
        proc = run(
            """
            import json
            from llmlog import _ending, _redact_worker
            llmlog.instrument(output=OUT, redact="pii")
            call("mail me at jane.doe@example.com")       # the writer starts the worker
            assert llmlog.flush(120)
            def blocked(status_file):
                [line] = [l for l in open(status_file) if l.startswith("SigBlk:")]
                mask = int(line.split()[1], 16)
                return [s for s in range(1, 65) if mask >> (s - 1) & 1]
            helper = []
            def in_the_helper(pipeline, seconds):
                helper.extend(sorted(signal.pthread_sigmask(signal.SIG_BLOCK, ())))
            _ending.drain_aside(in_the_helper, "a test")
            writer = _pipeline.current()._thread.native_id
            print(json.dumps({
                "writer": blocked(f"/proc/self/task/{writer}/status"),
                "helper": helper,
                "worker": blocked(f"/proc/{_redact_worker.client().worker_pid}/status"),
                "app": blocked(f"/proc/self/task/{threading.get_native_id()}/status"),
            }))
            """,
            out,
        )
        assert proc.returncode == 0, proc.stderr
        masks = json.loads(proc.stdout)
        faults = {signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGTRAP}
        unblockable = {signal.SIGKILL, signal.SIGSTOP}
        expected = sorted(int(s) for s in signal.valid_signals() - faults - unblockable)
        expected = [s for s in expected if s != signal.SIGSYS]
        assert masks["writer"] == expected
        assert masks["helper"] == expected
        assert masks["worker"] == [] and masks["app"] == []


class TestACallCutShortAsTheProcessEnds:
    """celery's cold shutdown raises ``SystemExit`` in the running task, then its pool kills
    the worker with SIGTERM a moment later, before any exit drain: the cut call's record
    is written before the exception goes on to the app."""

    @pytest.mark.parametrize("raised", ["SystemExit", "KeyboardInterrupt"])
    def test_the_record_is_written_before_the_exception_goes_on(
        self, tmp_path: Path, raised: str
    ) -> None:
        out = tmp_path / "llmlog.jsonl"
        proc = run(
            f"""
            llmlog.instrument(output=OUT, redact="secrets")
            call("warm")
            assert llmlog.flush(60)
            queue_until_drained()
            def cut(request):
                raise {raised}()                  # the shutdown's signal handler raises it
            try:
                sync_client(cut).chat.completions.create(
                    model="gpt-4o", messages=[{{"role": "user", "content": "cut"}}]
                )
            except {raised}:
                killed_from_outside(signal.SIGKILL)   # the pool's parent: nothing drains
            """,
            out,
        )
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        assert texts_and_statuses(out) == [("warm", "ok"), ("cut", "cancelled")], proc.stderr


class TestAQuietAppsRecordLandsAtOnce:
    def test_a_record_after_a_quiet_spell_wakes_the_writer(self, tmp_path: Path) -> None:
        """An idle writer sleeps long (its wake-ups cost the app the GIL); a record that
        comes to an empty queue after a quiet spell wakes it, so that a process killed
        from outside soon after (SIGKILL, an OOM kill) has its record on disk."""
        out = tmp_path / "llmlog.jsonl"
        proc = run(
            """
            llmlog.instrument(output=OUT, redact="secrets")
            _pipeline.IDLE_WAIT = 3600.0                      # a writer that sleeps on
            call("first")
            assert llmlog.flush(60)                           # the writer is idle
            time.sleep(0.3)                                   # no request for a while
            call("served")
            for _ in range(2000):                             # written without a drain
                if len(open(OUT).read().splitlines()) == 2:
                    break
                time.sleep(0.01)
            killed_from_outside(signal.SIGKILL)
            """,
            out,
        )
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        assert texts_and_statuses(out) == [("first", "ok"), ("served", "ok")], proc.stderr
