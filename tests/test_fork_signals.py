"""A fork beside llmlog behaves as without it: a SIGTERM that reaches a child as it is forked
still ends it, and llmlog's own thread does not make Python 3.12+ warn at the fork."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

HANG = 120  # seconds: only a hang takes this long


def run_app(code: str, tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(code))
    env = {**os.environ, "LLMLOG_OUTPUT": str(tmp_path / "llmlog.jsonl")}
    return subprocess.run(
        [sys.executable, *options, str(script)],
        capture_output=True,
        text=True,
        timeout=HANG,
        env=env,
        cwd=tmp_path,
    )


CHILDREN_LISTED = Path(f"/proc/self/task/{threading.get_native_id()}/children").exists()


@pytest.mark.skipif(not CHILDREN_LISTED, reason="needs /proc/<pid>/task/<tid>/children")
def test_a_sigterm_sent_as_a_child_is_forked_ends_the_child(tmp_path: Path) -> None:
    """The parent sends SIGTERM to each child the moment fork() returns, as
    ``Pool.terminate()`` may to a worker it has just forked. Without llmlog the default
    action ends the child. llmlog's SIGTERM handler was inherited by the child, and CPython
    drops a signal that comes before it has set itself up in the child: 22 children in 30
    lived on (a ``with Pool() as pool:`` then waits for its worker for ever)."""
    proc = run_app(
        """
        import os, signal, threading
        import llmlog

        llmlog.instrument()
        me = threading.get_native_id()

        def end_new_children():
            with open(f"/proc/self/task/{me}/children") as listed:
                for pid in listed.read().split():
                    os.kill(int(pid), signal.SIGTERM)

        os.register_at_fork(after_in_parent=end_new_children)
        heap = [str(i) * 20 for i in range(300_000)]  # copied on write: a slower child start
        lived = 0
        for _ in range(20):
            pid = os.fork()
            if pid == 0:
                for _ in range(200_000):
                    pass
                os._exit(0)
            _, status = os.waitpid(pid, 0)
            lived += not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM)
        print("lived on:", lived)
        """,
        tmp_path,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "lived on: 0\n", "")


def test_pools_used_as_with_blocks_end(tmp_path: Path) -> None:
    """``with Pool() as pool:`` ends with ``terminate()``: a SIGTERM to every worker, one of
    them maybe forked an instant before. Before the fix about one pool in eight hung."""
    proc = run_app(
        """
        import multiprocessing
        import llmlog

        llmlog.instrument()
        llmlog._pipeline.prepare()  # the writer runs, as after a first call

        def double(x):
            return 2 * x

        if __name__ == "__main__":
            for _ in range(16):
                with multiprocessing.get_context("fork").Pool(2) as pool:
                    assert pool.map(double, [1, 2, 3]) == [2, 4, 6]
            print("done")
        """,
        tmp_path,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "done\n", "")


FORK_APP = """
    import os, sys, threading
    import llmlog

    llmlog.instrument()
    llmlog._pipeline.prepare()  # the writer's thread runs
    if sys.argv[1:] == ["with-a-thread"]:
        threading.Thread(target=threading.Event().wait, daemon=True).start()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    print([f for f in __import__("warnings").filters if "multi-threaded" in str(f[1])])
    """


@pytest.mark.skipif(sys.version_info < (3, 12), reason="Python 3.12 added the warning")
def test_llmlogs_thread_alone_does_not_make_a_fork_warn(tmp_path: Path) -> None:
    """Python 3.12+ warns at a fork in a process with threads; llmlog's writer alone made
    every fork of a single-threaded app warn (shown for a fork in __main__ and under pytest). An app
    with a thread of its own is still warned, as without llmlog; the filters are left as
    they were."""
    script = tmp_path / "fork_app.py"
    script.write_text(textwrap.dedent(FORK_APP))
    options = [sys.executable, "-W", "always::DeprecationWarning", str(script)]
    alone = subprocess.run(options, capture_output=True, text=True, timeout=HANG)
    assert (alone.returncode, alone.stdout, alone.stderr) == (0, "[]\n", "")
    threaded = subprocess.run(
        [*options, "with-a-thread"], capture_output=True, text=True, timeout=HANG
    )
    assert threaded.returncode == 0
    assert "is multi-threaded, use of fork()" in threaded.stderr


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_a_multiprocessing_child_ends_by_sigterm_at_once(tmp_path: Path, method: str) -> None:
    """A Pool worker waits for its next task in a semaphore, and a SIGTERM that comes just
    before the wait begins never runs a handler in Python: the worker, and the app's exit
    with it, waited for ever. In a multiprocessing child SIGTERM keeps its default (the
    parent keeps llmlog's drain), and each call there is written before it returns."""
    proc = run_app(
        f"""
        import multiprocessing, signal
        import llmlog

        llmlog.instrument()

        def default_sigterm(_):
            return signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

        if __name__ == "__main__":
            with multiprocessing.get_context({method!r}).Pool(1) as pool:
                in_child = pool.map(default_sigterm, [0])
            print(in_child, default_sigterm(0))
        """,
        tmp_path,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "[True] False\n", "")
