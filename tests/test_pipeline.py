"""The pipeline: nothing lost at exit, in forks, under load; the app never harmed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llmlog import _ending, _guard, _pipeline
from llmlog._config import Settings
from llmlog._record import Capture
from support.blocked_sink import BlockedSink

TOY_APP = Path(__file__).parent / "support" / "toy_app.py"


def run_toy(
    output: Path | str, n: int, mode: str = "exit", **env: str
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, str(TOY_APP), str(output), str(n), mode],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=240,
        check=False,
        start_new_session=True,  # as an app: never served by the test run's own PII worker
    )


def run_code(code: str) -> subprocess.CompletedProcess[str]:
    """``python -c`` of an indented script."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def read_lines(directory: Path) -> list[dict[str, object]]:
    lines: list[dict[str, object]] = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            lines.append(json.loads(line))
    return lines


class TestNothingIsLost:
    def test_exit_drains_every_record(self, tmp_path: Path) -> None:
        """A process logging 10,000 records and exiting at once leaves 10,000 lines."""
        out = tmp_path / "logs" / "llmlog.jsonl"
        proc = run_toy(out, 10_000)
        assert proc.returncode == 0, proc.stderr
        records = read_lines(out.parent)
        assert len(records) == 10_000
        assert len({r["id"] for r in records}) == 10_000

    def test_a_forked_child_ending_with_os_exit_writes_its_records(self, tmp_path: Path) -> None:
        """os._exit runs no exit hook (socketserver's forking servers end each request's
        child so): the queue is written first, and the exit status is the child's."""
        proc = run_toy(tmp_path / "llmlog.jsonl", 5, "fork-os-exit", **SLOW)
        assert proc.returncode == 0, proc.stderr
        assert "child exit status 3" in proc.stdout
        texts = [r["output"]["text"] for r in read_lines(tmp_path)]  # type: ignore[index]
        assert sorted(texts) == [f"forked {i}" for i in range(5)]

    def test_os_exit_from_a_handler_holding_a_drain_lock_still_exits(self, tmp_path: Path) -> None:
        """The drain before os._exit runs aside, bounded by LLMLOG_FLUSH_TIMEOUT: a lock
        its caller holds (a signal handler cut into a hook) cannot hang the process."""
        output = tmp_path / "llmlog.jsonl"
        proc = run_toy(output, 2, "os-exit-in-handler", LLMLOG_FLUSH_TIMEOUT="0.5", **SLOW)
        assert proc.returncode == 3, proc.stderr

    def test_a_forked_child_writes_its_own_records(self, tmp_path: Path) -> None:
        """os.fork(): the child's records are written by the child, none twice."""
        out = tmp_path / "llmlog.jsonl"
        proc = run_toy(out, 50, "fork")
        assert proc.returncode == 0, proc.stderr
        texts = [r["output"]["text"] for r in read_lines(tmp_path)]  # type: ignore[index]
        assert sorted(texts) == sorted(
            ["parent-before 0", "parent-after 0"] + [f"forked {i}" for i in range(50)]
        )
        pids = {r["process"]["pid"] for r in read_lines(tmp_path)}  # type: ignore[index]
        assert len(pids) == 2

    def test_a_fork_waits_for_the_writers_slice_to_end(self) -> None:
        """A fork mid-slice waits for it: a child must not inherit a half-done import (a fork
        during the writer's first import of structlog left the child's copy broken for good
        and its records lost) or a half-done write."""
        started, finished = threading.Event(), threading.Event()

        class SlowSink(_ListSink):
            def write(self, line: bytes) -> None:
                started.set()
                threading.Event().wait(0.3)  # lets go of the GIL, as an import's reads do
                super().write(line)
                finished.set()

        pipeline = _pipeline.Pipeline(Settings(redact="off"), sinks=[SlowSink()])
        cap = _capture(0)
        cap.extract = lambda cap: {}
        pipeline.submit(cap)
        threading.Thread(target=pipeline.flush, args=(10,), daemon=True).start()
        assert started.wait(10)
        pid = os.fork()
        if pid == 0:  # the child: did the write end before the fork?
            os._exit(0 if finished.is_set() else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        pipeline.close(5)

    @pytest.mark.parametrize("mode", ["mp-fork", "mp-spawn"])
    def test_a_multiprocessing_child_writes_its_records(self, tmp_path: Path, mode: str) -> None:
        """multiprocessing children end with os._exit (fork) or sys.exit (spawn): all written."""
        out = tmp_path / "llmlog.jsonl"
        proc = run_toy(out, 500, mode)
        assert proc.returncode == 0, proc.stderr
        assert len(read_lines(tmp_path)) == 500

    def test_a_stream_still_open_at_exit_is_recorded(self, tmp_path: Path) -> None:
        """A half-read stream the app still holds at exit: one cancelled record, partial text."""
        out = tmp_path / "llmlog.jsonl"
        proc = run_toy(out, 1, "open-stream")
        assert proc.returncode == 0, proc.stderr
        [record] = read_lines(tmp_path)
        assert record["status"] == "cancelled"
        assert record["output"]["text"] == "left"  # type: ignore[index]

    def test_a_forked_child_leaves_the_parents_open_stream_alone(self, tmp_path: Path) -> None:
        """A child forked mid-stream inherits the parent's list of open streams; at its exit
        it must not record the parent's stream as cancelled (one call, one record)."""
        proc = run_toy(tmp_path / "llmlog.jsonl", 2, "fork-open-stream")
        assert proc.returncode == 0, proc.stderr
        records = read_lines(tmp_path)
        assert sorted(r["status"] for r in records if r["stream"]) == ["ok"]
        assert len(records) == 3  # the stream and the child's two calls

    def test_two_processes_share_a_rotating_file(self, tmp_path: Path) -> None:
        """2 x 10,000 records into one file rotating every 256 KB: 20,000 intact lines."""
        out = tmp_path / "llmlog.jsonl"
        env = {
            "LLMLOG_MAX_BYTES": str(256 * 1024),
            "LLMLOG_BACKUP_COUNT": "1000",
            "LLMLOG_FLUSH_TIMEOUT": "120",  # a loaded 2-core machine drains slowly
        }
        procs = [
            subprocess.Popen(
                [sys.executable, str(TOY_APP), str(out), "10000"],
                env={**os.environ, **env},
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        for p in procs:
            assert p.wait(timeout=240) == 0, p.stderr.read() if p.stderr else ""
        records = read_lines(tmp_path)
        assert len(list(tmp_path.glob("llmlog-*.jsonl"))) > 2
        assert len(records) == 20_000
        assert len({r["id"] for r in records}) == 20_000


class TestNeverHarmsTheApp:
    def test_a_full_disk_is_reported_once_and_the_app_carries_on(self) -> None:
        """Writing to /dev/full: every call succeeds; stderr says so exactly once."""
        proc = run_toy("/dev/full", 200)
        assert proc.returncode == 0
        assert proc.stderr.count("cannot write to /dev/full") == 1

    def test_an_unusable_directory_is_reported_once(self, tmp_path: Path) -> None:
        """The log path under a regular file (not a directory): calls succeed, one message."""
        blocker = tmp_path / "not-a-dir"
        blocker.write_text("")
        proc = run_toy(blocker / "llmlog.jsonl", 50)
        assert proc.returncode == 0
        assert proc.stderr.count("cannot write to") == 1
        assert "not-a-dir" in proc.stderr


class _ClosableBlockedSink(BlockedSink):
    closed = 0

    def close(self) -> None:
        self.closed += 1


def _capture(i: int) -> Capture:
    return Capture(
        provider="toy",
        method="create",
        operation="chat",
        kwargs={"messages": [{"role": "user", "content": str(i)}]},
        extract=lambda cap: {},
        end_perf=0.0,
    )


class TestBackPressure:
    def test_a_full_queue_drops_counts_and_says_so(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Queue of 2 behind a stuck sink: extra records are dropped, counted in a line of
        llmlog's own (its name first; no cost or redaction fields: it is not a call)."""
        _guard._reset_for_tests()
        sink = BlockedSink()
        pipeline = _pipeline.Pipeline(Settings(queue_size=2, redact="secrets"), sinks=[sink])
        for i in range(10):
            pipeline.submit(_capture(i))
        sink.release.set()
        assert pipeline.flush(10)
        records = [json.loads(line) for line in sink.lines]
        dropped = [r for r in records if r["event"] == "llmlog.dropped"]
        calls = [r for r in records if r["event"] == "llm.call"]
        assert len(calls) + sum(r["count"] for r in dropped) == 10
        assert [list(r) for r in dropped] == [["event", "schema", "id", "ts", "count"]] * len(
            dropped
        )
        assert (
            dropped and len(calls) < 10
        )  # the queue, and one slice of lines waiting to be written
        assert capsys.readouterr().err.count("queue is full") == 1
        pipeline.close(1)

    def test_a_stuck_writer_makes_one_call_wait_not_every_call(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Behind a stuck sink the first call finding the queue full waits for room in vain;
        the next ones drop at once (each waiting 50 ms would slow the app ~40x). Once the
        writer has made room, a full queue is worth a wait again."""
        _guard._reset_for_tests()
        sink = BlockedSink()
        pipeline = _pipeline.Pipeline(Settings(queue_size=2, redact="off"), sinks=[sink])
        waits: list[bool] = []
        wait = pipeline._wait_for_room

        def counted() -> bool:
            waits.append(wait())
            return waits[-1]

        monkeypatch.setattr(pipeline, "_wait_for_room", counted)
        for i in range(20):
            pipeline.submit(_capture(i))
        sink.release.set()
        # (a first wait may find room: the writer takes a record before it blocks)
        assert waits and len(waits) <= 3 and waits[-1] is False
        assert pipeline.flush(10)
        # the writer made room: stuck again, the first call to find the queue full waits
        sink.release.clear()
        sink.writing.clear()
        pipeline.submit(_capture(100))
        pipeline.flush(0)  # wakes the writer, which takes the record and blocks writing it
        assert sink.writing.wait(10)
        before = len(waits)
        for i in range(5):  # two fill the queue, the next one waits in vain, the rest drop
            pipeline.submit(_capture(101 + i))
        assert waits[before:] == [False]
        sink.release.set()
        assert pipeline.flush(10)
        pipeline.close(1)

    def test_flush_without_waiting_says_true_once_everything_is_written(self) -> None:
        """``flush(0)`` is a health check: True when nothing is left to write, False while
        a record is still on its way (the writer stuck on its sink)."""
        sink = BlockedSink()
        pipeline = _pipeline.Pipeline(Settings(redact="off"), sinks=[sink])
        pipeline.submit(_capture(0))
        assert sink.writing.wait(10)
        assert pipeline.flush(0) is False
        sink.release.set()
        assert pipeline.flush(10) is True
        deadline = time.monotonic() + 10
        while not pipeline._writer_waiting and time.monotonic() < deadline:
            time.sleep(0.001)  # the writer ends the flush's slice, then waits
        assert pipeline.flush(0) is True
        assert pipeline.flush(0) is True
        pipeline.close(1)

    def test_a_pipeline_closed_with_records_left_writes_them_and_flush_waits(self) -> None:
        """``uninstrument()`` or ``instrument()`` again while the writer is behind: its
        records are still written (the writer goes on, then closes its sinks), and
        ``flush()`` says False until they are."""
        sink = _ClosableBlockedSink()
        pipeline = _pipeline.Pipeline(Settings(redact="off"), sinks=[sink])
        for i in range(5):
            pipeline.submit(_capture(i))
        assert sink.writing.wait(10)
        pipeline.close(0.1)
        assert pipeline in _pipeline._retired and not sink.closed
        assert _pipeline.wait_for_retired(0.1) is False
        sink.release.set()
        assert _pipeline.wait_for_retired(10) is True
        assert len(sink.lines) == 5 and sink.closed == 1
        assert pipeline not in _pipeline._retired

    def test_the_exit_waits_for_a_closed_pipelines_writer_and_says_what_it_lost(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        _guard._reset_for_tests()
        sink = _ClosableBlockedSink()
        pipeline = _pipeline.Pipeline(Settings(redact="off", flush_timeout=0.2), sinks=[sink])
        pipeline.submit(_capture(0))
        assert sink.writing.wait(10)
        pipeline.close(0)
        _ending._drain_retired()  # the writer still stuck after the flush timeout
        assert "were lost" in capsys.readouterr().err
        sink.release.set()
        assert _pipeline.wait_for_retired(10) is True

    def test_flush_times_out_instead_of_hanging(self) -> None:
        """flush(timeout) returns False while the writer is stuck."""
        sink = BlockedSink()
        pipeline = _pipeline.Pipeline(Settings(redact="off"), sinks=[sink])
        pipeline.submit(_capture(0))
        assert pipeline.flush(0.2) is False
        sink.release.set()
        assert pipeline.flush(10) is True
        pipeline.close(1)


class _ListSink:
    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def write(self, line: bytes) -> None:
        self.lines.append(line)

    def close(self) -> None:
        pass

    def wait_for(self, count: int) -> None:
        """Until ``count`` lines arrived, or 10 s."""
        pause = threading.Event()
        for _ in range(100):
            if len(self.lines) >= count:
                return
            pause.wait(0.1)


def _waiting_pipeline(sink: _ListSink, **settings: Any) -> _pipeline.Pipeline:
    """A pipeline whose writer is up and asleep on an empty queue, waiting for hand-overs."""
    pipeline = _pipeline.Pipeline(Settings(redact="off", **settings), sinks=[sink])
    pipeline.submit(_capture(-1))
    assert pipeline.flush(10)
    sink.lines.clear()
    return pipeline


class TestBatching:
    def test_records_are_written_without_a_flush_in_order(self) -> None:
        """The writer's batching wait ends by itself: nobody has to flush for records to land."""
        sink = _ListSink()
        pipeline = _pipeline.Pipeline(Settings(redact="off"), sinks=[sink])
        for i in range(50):
            cap = _capture(i)
            cap.extract = lambda cap: {"messages": cap.kwargs["messages"]}
            pipeline.submit(cap)
        sink.wait_for(50)
        contents = [json.loads(line)["messages"][0]["content"] for line in sink.lines]
        assert contents == [str(i) for i in range(50)]
        pipeline.close(1)

    def test_a_half_full_queue_is_written_at_once(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Back-pressure hands over early, so a burst never finds the queue full (batch and
        linger are made endless here: only the half-full rule can save these records)."""
        monkeypatch.setattr(_pipeline, "BATCH_LINGER", 3600.0)
        monkeypatch.setattr(_pipeline, "WRITER_WAIT", 3600.0)
        monkeypatch.setattr(_pipeline, "IDLE_WAIT", 3600.0)
        monkeypatch.setattr(_pipeline, "HANDOVER_BATCH", 10**6)
        waits: list[int] = []
        real_wait = _pipeline.Pipeline._wait_for_room

        def wait_for_room(pipeline: _pipeline.Pipeline) -> bool:
            waits.append(len(pipeline._queue))
            return real_wait(pipeline)

        monkeypatch.setattr(_pipeline.Pipeline, "_wait_for_room", wait_for_room)
        monkeypatch.setattr(_pipeline, "HANDOVER_WAIT", 5.0)  # a loaded machine wakes slowly
        sink = _ListSink()
        pipeline = _waiting_pipeline(sink, queue_size=8)
        for i in range(16):
            pipeline.submit(_capture(i))
        assert pipeline.flush(10)
        assert len(sink.lines) == 16
        assert waits == []  # the queue was never full
        pipeline.close(1)


class TestHandOver:
    """The app's thread hands the GIL to the writer; the writer never waits for it alone."""

    @pytest.fixture(autouse=True)
    def _writer_never_wakes_an_empty_queue(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(_pipeline, "IDLE_WAIT", 3600.0)

    def test_a_full_batch_is_handed_over(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """HANDOVER_BATCH queued records are written without a flush (the writer
        sleeps for an hour on its own)."""
        monkeypatch.setattr(_pipeline, "BATCH_LINGER", 3600.0)
        sink = _ListSink()
        pipeline = _waiting_pipeline(sink)
        for i in range(_pipeline.HANDOVER_BATCH):
            pipeline.submit(_capture(i))
        sink.wait_for(_pipeline.HANDOVER_BATCH)
        assert len(sink.lines) == _pipeline.HANDOVER_BATCH
        pipeline.close(1)

    def test_a_lingering_record_is_handed_over_by_the_next_call(self) -> None:
        """A record older than BATCH_LINGER goes out with the next submit, batch or not."""
        sink = _ListSink()
        pipeline = _waiting_pipeline(sink)
        pipeline.submit(_capture(0))
        threading.Event().wait(_pipeline.BATCH_LINGER * 2)
        pipeline.submit(_capture(1))
        sink.wait_for(2)
        assert len(sink.lines) == 2
        pipeline.close(1)

    def test_a_slice_ends_with_records_left_and_none_is_lost(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With a zero CPU slice a hand-over takes one record and leaves the rest queued;
        a flush takes the rest, in order. (The writer never wakes by itself here: its
        waits are an hour long, so only the hand-over wakes it.)"""
        monkeypatch.setattr(_pipeline, "GIL_SLICE", 0.0)
        monkeypatch.setattr(_pipeline, "HANDOVER_BATCH", 4)
        monkeypatch.setattr(_pipeline, "BATCH_LINGER", 3600.0)
        monkeypatch.setattr(_pipeline, "WRITER_WAIT", 3600.0)
        sink = _ListSink()
        pipeline = _waiting_pipeline(sink)
        _until(lambda: pipeline._writer_waiting)
        wakes = pipeline._wakes
        for i in range(_pipeline.HANDOVER_BATCH):  # the last one hands over
            cap = _capture(i)
            cap.extract = lambda cap: {"messages": cap.kwargs["messages"]}
            pipeline.submit(cap)
        _until(lambda: pipeline._wakes > wakes and pipeline._writer_waiting)  # its slice ended
        assert pipeline._wakes == wakes + 1
        assert len(pipeline._queue) == _pipeline.HANDOVER_BATCH - 1  # it took one record
        assert pipeline.flush(10)
        contents = [json.loads(line)["messages"][0]["content"] for line in sink.lines]
        assert contents == [str(i) for i in range(_pipeline.HANDOVER_BATCH)]
        pipeline.close(1)


def _until(condition: Callable[[], bool]) -> None:
    """Until ``condition()`` holds, or 10 s (a hang detector, not a timed assertion)."""
    pause = threading.Event()
    for _ in range(1000):
        if condition():
            return
        pause.wait(0.01)


def start_toy(output: Path, n: int, mode: str, **env: str) -> subprocess.Popen[str]:
    """The toy app in ``mode``, its stdout readable line by line (``ready`` first)."""
    return subprocess.Popen(
        [sys.executable, str(TOY_APP), str(output), str(n), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )


def stopped_by_sigterm(proc: subprocess.Popen[str]) -> int:
    """Send SIGTERM once the app says ``ready``; its exit status."""
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=240)
    assert "Traceback" not in err, err
    return proc.returncode


SLOW = {"TOY_SLOW_WRITER": "1"}  # records stay queued until something drains them


class TestProcessesEndingOtherwise:
    @pytest.mark.parametrize("call_at_import", ["0", "1"])
    @pytest.mark.parametrize("method", ["spawn", "forkserver"])
    def test_children_of_a_module_that_instruments_at_import(
        self, tmp_path: Path, method: str, call_at_import: str
    ) -> None:
        """A spawn or forkserver child runs the module's instrument() (and maybe a call:
        the writer starts) before multiprocessing empties its finalizers, and ends with
        os._exit: its records are drained all the same."""
        output = tmp_path / "llmlog.jsonl"
        proc = subprocess.run(
            [sys.executable, str(TOY_APP.parent / "toy_module_level.py"), str(output), "3", method],
            capture_output=True,
            text=True,
            timeout=240,
            env={
                **os.environ,
                "TOY_OUTPUT": str(output),
                "TOY_CALL_AT_IMPORT": call_at_import,
                **SLOW,
            },
        )
        assert proc.returncode == 0, proc.stderr
        # each child's calls, and the call at import in the parent and in each child
        assert len(read_lines(tmp_path)) == 6 + 3 * int(call_at_import), proc.stderr

    def test_records_waiting_for_the_pii_worker_at_exit_are_written(self, tmp_path: Path) -> None:
        """A short-lived process at ``pii``: its worker (presidio) is not up before the
        exit drain's deadline. The records go out with their texts marked, not lost."""
        proc = run_toy(
            tmp_path / "llmlog.jsonl",
            3,
            "exit-chain-built",  # (else the writer's own imports may take the 0.6 s)
            TOY_REDACT="pii",
            LLMLOG_FLUSH_TIMEOUT="0.6",
            **SLOW,
        )
        assert proc.returncode == 0, proc.stderr
        records = read_lines(tmp_path)
        assert len(records) == 3, proc.stderr
        assert all(r["messages"] == "<REDACTION_FAILED>" for r in records)  # type: ignore[index]
        assert all(r["status"] == "ok" and r["model"] == "toy" for r in records)  # type: ignore[index]
        assert "did not answer within LLMLOG_FLUSH_TIMEOUT" in proc.stderr
        assert "Traceback" not in proc.stderr

    def test_execv_writes_what_was_queued_first(self, tmp_path: Path) -> None:
        """os.exec* replaces the process and runs no exit hook: the queue goes first."""
        proc = run_toy(tmp_path / "llmlog.jsonl", 3, "execv", **SLOW)
        assert proc.returncode == 0, proc.stderr
        texts = sorted(r["messages"][0]["content"] for r in read_lines(tmp_path))  # type: ignore[index]
        assert texts == [f"before-exec {i}" for i in range(3)] + [f"main {i}" for i in range(3)]

    def test_a_failed_exec_leaves_open_calls_open(self, tmp_path: Path) -> None:
        """execvp tries each PATH entry; a program that is not there, a text file without
        #!, a script whose interpreter is missing: no drain (open streams are not ended as
        cancelled), and os.execv still pickles as itself."""
        output = tmp_path / "llmlog.jsonl"
        proc = subprocess.run(
            [sys.executable, str(TOY_APP.parent / "toy_exec_fails.py"), str(output)],
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert proc.returncode == 0, proc.stderr
        [record] = read_lines(tmp_path)
        assert record["status"] == "ok", record  # read to its end after the failed exec

    def test_a_fork_while_the_writer_imports_its_modules(self, tmp_path: Path) -> None:
        """The writer's first record imports modules that make loggers (logging's lock):
        a fork then neither waits for the writer in vain nor leaves the child stuck."""
        proc = run_toy(tmp_path / "llmlog.jsonl", 2, "fork-at-first-record")
        assert proc.returncode == 0, proc.stderr
        assert "fork guard taken: [True]" in proc.stdout, proc.stdout  # not a FORK_WAIT timeout
        assert len(read_lines(tmp_path)) == 3, proc.stderr


class TestSigterm:
    """`docker stop`, Kubernetes and Pool.terminate() end Python apps with SIGTERM."""

    def test_a_sigterm_writes_every_record_and_still_kills(self, tmp_path: Path) -> None:
        """The queue is drained, then the process dies by the signal as it would have."""
        proc = start_toy(tmp_path / "llmlog.jsonl", 5, "sigterm", **SLOW)
        assert stopped_by_sigterm(proc) == -signal.SIGTERM
        assert len(read_lines(tmp_path)) == 5

    def test_sigterm_default_leaves_the_signal_alone(self, tmp_path: Path) -> None:
        """LLMLOG_SIGTERM=default: nothing installed, so nothing drains the queue."""
        proc = start_toy(tmp_path / "llmlog.jsonl", 5, "sigterm", LLMLOG_SIGTERM="default", **SLOW)
        assert stopped_by_sigterm(proc) == -signal.SIGTERM
        assert read_lines(tmp_path) == []

    def test_an_apps_own_handler_is_kept(self, tmp_path: Path) -> None:
        """The app's handler (set before instrument()) runs; its sys.exit drains as usual."""
        proc = start_toy(tmp_path / "llmlog.jsonl", 5, "own-sigterm", **SLOW)
        assert stopped_by_sigterm(proc) == 3
        assert len(read_lines(tmp_path)) == 5

    def test_an_apps_handler_chaining_to_ours_keeps_the_process(self, tmp_path: Path) -> None:
        """A handler installed after instrument() that calls the one it replaced (as
        well-behaved handlers do) gets the queue written, then goes on: its shutdown code
        runs, makes a call, and ends the process its own way."""
        proc = start_toy(tmp_path / "llmlog.jsonl", 5, "chained-sigterm", **SLOW)
        assert stopped_by_sigterm(proc) == 4
        assert len(read_lines(tmp_path)) == 6

    @pytest.mark.parametrize("mode", ["pool-fork", "pool-spawn"])
    def test_a_pool_used_as_a_with_block_loses_nothing(self, tmp_path: Path, mode: str) -> None:
        """`with Pool() as pool:` ends with terminate(), a SIGTERM to every worker."""
        proc = run_toy(tmp_path / "llmlog.jsonl", 3, mode, **SLOW)
        assert proc.returncode == 0, proc.stderr
        texts = [r["output"]["text"] for r in read_lines(tmp_path)]  # type: ignore[index]
        assert len(texts) == 12 and all(t.startswith("pool-") for t in texts)

    def test_a_sigterm_during_the_exit_drain_lets_it_finish(self, tmp_path: Path) -> None:
        """A second drain from the handler would wait for the lock the interrupted one
        holds until its deadline, and lose the queue (a Pool worker exiting as
        terminate() signals it); the exit's drain finishes, then the signal ends it."""
        proc = run_toy(tmp_path / "llmlog.jsonl", 5, "sigterm-in-exit-drain", **SLOW)
        assert proc.returncode == -signal.SIGTERM, proc.stderr
        assert len(read_lines(tmp_path)) == 5

    def test_an_app_ended_by_ctrl_c_still_dies_by_sigint(self, tmp_path: Path) -> None:
        """Its records are written, and the status stays the one of a Ctrl-C (130 in a
        shell): the writer's imports at exit (string exec) made CPython forget it (1)."""
        proc = run_toy(tmp_path / "llmlog.jsonl", 3, "ctrl-c")
        assert proc.returncode == -signal.SIGINT, proc.stderr
        assert len(read_lines(tmp_path)) == 3

    def test_a_ctrl_c_a_console_caught_does_not_end_the_app_by_sigint(self, tmp_path: Path) -> None:
        """code.InteractiveConsole (and python -i) keeps the KeyboardInterrupt it showed in
        sys.last_value; the app then ends normally, with status 0."""
        code = f"""
        import code, llmlog
        llmlog.instrument(output={str(tmp_path / "llmlog.jsonl")!r}, redact="off")
        console = code.InteractiveConsole()
        console.push("raise KeyboardInterrupt")
        console.push("print('after')")
        """
        proc = run_code(code)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == "after\n"

    def test_ctrl_c_during_the_exit_drain_is_one_line_not_a_traceback(self, tmp_path: Path) -> None:
        """A user pressing Ctrl-C while the queue is written at exit: no llmlog traceback
        ("Exception ignored in atexit callback"), one line saying records may be lost."""
        proc = run_toy(tmp_path / "llmlog.jsonl", 3, "ctrl-c-in-exit-drain", **SLOW)
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
        assert proc.stderr.count("interrupted at exit (Ctrl-C)") == 1

    @pytest.mark.parametrize("name", ["SIGTERM"])
    def test_the_handler_goes_only_where_sigterm_was_left_to_default(
        self, tmp_path: Path, name: str
    ) -> None:
        """Installed by instrument() in the main thread over SIG_DFL only, removed by
        uninstrument(); an app's handler or an ignored signal (``nohup``) is never replaced;
        LLMLOG_SIGTERM=default leaves both alone."""
        code = f"""
        import signal, threading, llmlog
        kw = dict(output={str(tmp_path / "llmlog.jsonl")!r}, redact="secrets")
        def state():
            handler = signal.getsignal(signal.{name})
            return handler.__name__ if callable(handler) else str(handler)
        def app_handler(signum, frame):
            pass
        seen = [state()]
        llmlog.instrument(**kw); seen.append(state())
        llmlog.uninstrument(); seen.append(state())
        llmlog.instrument(sigterm="default", **kw); seen.append(state())
        llmlog.uninstrument()
        worker = threading.Thread(target=llmlog.instrument, kwargs=kw)
        worker.start(); worker.join(); seen.append(state())
        llmlog.uninstrument()
        for handler in (app_handler, signal.SIG_IGN):
            signal.signal(signal.{name}, handler)
            llmlog.instrument(**kw); seen.append(state())
            llmlog.uninstrument(); seen.append(state())
        print(" ".join(seen))
        """
        proc = run_code(code)
        assert proc.returncode == 0, proc.stderr
        default, ignored = str(signal.SIG_DFL), str(signal.SIG_IGN)
        assert proc.stdout.split() == [
            default,
            "_on_sigterm",
            default,
            default,
            default,  # instrument() from a thread: no handler (and no error)
            "app_handler",
            "app_handler",
            ignored,
            ignored,
        ]


class TestLateCalls:
    """Threads and exits the app does not wait for."""

    def test_a_child_forked_from_a_thread_exits_when_that_thread_ends(self, tmp_path: Path) -> None:
        """In the child that thread is the main one; when it returns, the writer is the
        last thread left: it writes the child's records and ends, and so does the child."""
        proc = run_toy(tmp_path / "llmlog.jsonl", 5, "fork-in-thread")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "child exit status 0"
        texts = sorted(r["output"]["text"] for r in read_lines(tmp_path))  # type: ignore[index]
        assert texts == [f"forked {i}" for i in range(5)] + ["parent 0"]

    def test_a_call_from_a_later_atexit_hook_is_written(self, tmp_path: Path) -> None:
        """An atexit hook registered before instrument() runs after llmlog's exit drain."""
        proc = run_toy(tmp_path / "llmlog.jsonl", 5, "atexit-late", **SLOW)
        assert proc.returncode == 0, proc.stderr
        texts = sorted(r["output"]["text"] for r in read_lines(tmp_path))  # type: ignore[index]
        assert texts == ["late 0"] + [f"main {i}" for i in range(5)]

    def test_a_daemon_threads_calls_during_exit_are_written(self, tmp_path: Path) -> None:
        """Every call a daemon thread completed while the interpreter exited has its record
        (one more may have been written just before the thread was frozen)."""
        out = tmp_path / "llmlog.jsonl"
        proc = run_toy(out, 20, "daemon-at-exit", **SLOW)
        assert proc.returncode == 0, proc.stderr
        completed = len(Path(f"{out}.calls").read_bytes())
        assert completed >= 20
        assert completed <= len(read_lines(tmp_path)) <= completed + 1

    def test_after_the_exit_drain_a_call_is_written_at_once(self) -> None:
        """Nothing drains after the exit drain: the caller's thread writes its record."""
        sink = _ListSink()
        pipeline = _waiting_pipeline(sink)
        _ending.final_drain(pipeline, 10, "at exit")
        pipeline.submit(_capture(0))
        assert len(sink.lines) == 1  # no flush, no writer slice: written already
        pipeline.close(1)

    def test_a_call_too_late_to_write_is_counted_and_said_once(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Once the interpreter finalizes even that is impossible: counted, one message."""
        _guard._reset_for_tests()
        sink = _ListSink()
        pipeline = _waiting_pipeline(sink)
        _ending.final_drain(pipeline, 10, "at exit")
        monkeypatch.setattr(sys, "is_finalizing", lambda: True)
        for i in range(3):
            pipeline.submit(_capture(i))
        monkeypatch.undo()
        assert sink.lines == []
        assert _guard.counts["lost_at_shutdown"] == 3
        assert capsys.readouterr().err.count("could not be recorded") == 1
        pipeline.close(1)
