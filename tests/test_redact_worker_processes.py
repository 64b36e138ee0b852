"""The PII worker beside the app's processes: not the app's child, one for a whole process
group, and no ``os.fork()`` waits for it to start.

Every process ran here is a session leader of its own (``start_new_session``), so that it
never meets the worker of the test run's own process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parent.parent / "src")

PRELUDE = """
import os, subprocess, sys
from llmlog._config import Settings
from llmlog._redact_worker import client
from llmlog.redaction import Redact

def parent_of(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])

processor = Redact(Settings(redact="pii"))

def redacted(text):
    return processor(None, "info", {"messages": [text]})["messages"][0]

def in_a_child(text, group_worker):  # text redacted in a forked child; group_worker's?
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            served = redacted(text), parent_of(client().worker_pid) == group_worker
            os.write(write_end, "{} {}".format(*served).encode())
        finally:
            os._exit(0)
    os.waitpid(child, 0)
    return os.read(read_end, 1000).decode()
"""


def run_app(code: str, tmp_path: Path, timeout: float = 120) -> list[str]:
    """Run ``code`` (after PRELUDE) as a script in a session of its own; its stdout lines."""
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(PRELUDE) + textwrap.dedent(code))
    env = {**os.environ, "PYTHONPATH": SRC}
    done = subprocess.run(
        [sys.executable, str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        start_new_session=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_an_app_that_reaps_all_its_children_does_not_wait_for_the_worker(
    tmp_path: Path,
) -> None:
    """``while True: os.wait()`` until there are no children (a pre-fork server's or a
    script's own reaping) waited for ever: the worker was the app's child, alive until the
    app exits. The process the app starts forks the worker and exits."""
    out = run_app(
        """
        print(redacted("mail a@example.com"))
        child = os.fork()
        if child == 0:
            os._exit(7)
        reaped = []
        while True:
            try:
                reaped.append(os.wait()[0])
            except ChildProcessError:
                break
        print(reaped == [child], client().worker_pid is not None)
        """,
        tmp_path,
        timeout=60,
    )
    assert out == ["mail <EMAIL_ADDRESS>", "True True"]


def test_a_forked_child_is_served_by_its_parents_worker(tmp_path: Path) -> None:
    """A forked child (a ``multiprocessing`` fork worker) does not start a worker of its own
    (~1 s before its first record, ~100 MB): its parent's forks one for it, presidio built."""
    out = run_app(
        """
        print(redacted("mail a@example.com"))
        parents_worker = client().worker_pid
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:
            try:
                text = redacted("call +44 20 7946 0958")
                mine = client().worker_pid
                same = parent_of(mine) == parent_of(parents_worker)  # both forks of one worker
                with open(f"/proc/{mine}/smaps_rollup") as memory:
                    private = sum(int(line.split()[1]) for line in memory
                                  if line.startswith("Private_Dirty:")) // 1024
                # Built before the fork, presidio is shared with it (a fork building its own
                # has ~70 MB of its own: as slow to serve its first record as a new worker).
                os.write(write_end, f"{text} {same} {private < 40}".encode())
            finally:
                os._exit(0)
        os.close(write_end)
        os.waitpid(child, 0)
        print(os.read(read_end, 1000).decode())
        print(redacted("mail b@example.com"), client().worker_pid == parents_worker)
        """,
        tmp_path,
    )
    assert out == [
        "mail <EMAIL_ADDRESS>",
        "call <PHONE_NUMBER> True True",
        "mail <EMAIL_ADDRESS> True",
    ]


def test_the_processes_of_one_group_share_its_worker_and_no_others(tmp_path: Path) -> None:
    """A subprocess of the same group, interpreter and PYTHONPATH is served by the app's
    worker; one in a session of its own, or with another PYTHONPATH (its worker would import
    other things), starts its own."""
    out = run_app(
        """
        print(redacted("mail a@example.com"))
        app_worker = parent_of(client().worker_pid)  # the app's is served by a fork too
        probe = (
            "import sys; sys.path.insert(0, sys.argv[1]);"
            "from llmlog._config import Settings;"
            "from llmlog._redact_worker import client;"
            "from llmlog.redaction import Redact;"
            "r = Redact(Settings(redact='pii'))(None, 'info', {'messages': ['a@example.com']});"
            "stat = open(f'/proc/{client().worker_pid}/stat').read();"
            "print(r['messages'][0], stat.rsplit(')', 1)[1].split()[1])"
        )
        other_path = {**os.environ, "PYTHONPATH": os.environ["PYTHONPATH"] + os.pathsep}
        for how in [{}, {"start_new_session": True}, {"env": other_path}]:
            done = subprocess.run(
                [sys.executable, "-c", probe, sys.path[0]], capture_output=True, text=True,
                check=True, **how
            )
            text, parent = done.stdout.split()
            print(text, "served by the app's worker" if int(parent) == app_worker else "own")
        """,
        tmp_path,
    )
    assert out == [
        "mail <EMAIL_ADDRESS>",
        "<EMAIL_ADDRESS> served by the app's worker",
        "<EMAIL_ADDRESS> own",
        "<EMAIL_ADDRESS> own",
    ]


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_a_pools_workers_are_served_by_the_apps_worker(method: str, tmp_path: Path) -> None:
    """``multiprocessing`` children of every start method find the app's worker."""
    out = run_app(
        f"""
        import multiprocessing

        def redact_in_child(text):
            return redacted(text), parent_of(client().worker_pid)

        if __name__ == "__main__":
            print(redacted("mail a@example.com"))
            app_worker = parent_of(client().worker_pid)  # the app's is served by a fork too
            with multiprocessing.get_context({method!r}).Pool(2) as pool:
                results = pool.map(redact_in_child, ["a@example.com", "b@example.com"] * 2)
            print(sorted({{text for text, _ in results}}))
            print(all(parent == app_worker for _, parent in results))
        """,
        tmp_path,
    )
    assert out == ["mail <EMAIL_ADDRESS>", "['<EMAIL_ADDRESS>']", "True"]


def test_a_fork_does_not_wait_for_the_worker_to_start(tmp_path: Path) -> None:
    """The writer waiting for the worker (its start: a second, more on a loaded machine)
    held the lock ``os.fork()`` waits for (up to ``FORK_WAIT``): a fork right after the
    first call waited as long (here 90 s, past the test's timeout). The wait for another
    process lets forks go ahead; the child does not warn of the parent's starting worker."""
    slow_site = tmp_path / "slow_site"
    slow_site.mkdir()
    (slow_site / "sitecustomize.py").write_text("import time\ntime.sleep(90)\n")
    out = run_app(
        f"""
        import json, time
        import httpx2, openai, llmlog
        from llmlog import _forks
        from llmlog._fake_openai import chat_completions

        def answer(request):
            reply = chat_completions(json.loads(request.content))
            return httpx2.Response(reply.status, json=dict(reply.body))

        _forks.FORK_WAIT = 600.0  # a fork waiting for the writer outlasts the test's timeout
        llmlog.instrument(output={str(tmp_path / "l.jsonl")!r}, redact="pii")
        # What the worker will import: its interpreter takes 90 s to start.
        os.environ["PYTHONPATH"] = {str(slow_site)!r} + os.pathsep + os.environ["PYTHONPATH"]
        app = openai.OpenAI(
            api_key="sk-test", http_client=httpx2.Client(transport=httpx2.MockTransport(answer))
        )
        app.chat.completions.create(model="gpt-4o", messages=[{{"role": "user", "content": "hi"}}])
        while not any(open(f"/proc/self/task/{{t}}/children").read().strip()
                      for t in os.listdir("/proc/self/task")):
            time.sleep(0.05)  # until the writer has started the worker's process
        time.sleep(0.5)  # and waits for its hello
        import warnings
        warnings.simplefilter("error", ResourceWarning)  # (as under -X dev -W error)
        caught = []
        sys.unraisablehook = lambda unraisable: caught.append(repr(unraisable.exc_value))
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:
            import gc
            gc.collect()
            os.write(write_end, repr(caught).encode())
            os._exit(0)
        os.waitpid(child, 0)
        print("forked, in the child:", os.read(read_end, 1000).decode())
        for task in os.listdir("/proc/self/task"):  # for the test to end the sleeper
            print(open(f"/proc/self/task/{{task}}/children").read().strip())
        os._exit(0)
        """,
        tmp_path,
        timeout=60,
    )
    forked = out.index("forked, in the child: []")  # no ResourceWarning for the starter
    for pid in " ".join(out[forked + 1 :]).split():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)


def test_processes_whose_first_records_come_together_share_one_worker(tmp_path: Path) -> None:
    """A parent that never logs (a pre-fork server's master) forks workers whose first calls
    come at once: each found no worker listening yet and started its own (4 x ~110 MB). The
    first binds the group's name before its worker starts; the others wait for that one."""
    slow_site = tmp_path / "slow_site"
    slow_site.mkdir()
    (slow_site / "sitecustomize.py").write_text("import time\ntime.sleep(2)\n")
    out = run_app(
        f"""
        # What the worker will import: its interpreter takes 2 s to start (a loaded machine).
        os.environ["PYTHONPATH"] = {str(slow_site)!r} + os.pathsep + os.environ["PYTHONPATH"]
        read_end, write_end = os.pipe()
        go_read, go_write = os.pipe()
        done_read, done_write = os.pipe()
        children = []
        for _ in range(4):
            child = os.fork()
            if child == 0:
                try:
                    os.read(go_read, 1)
                    text = redacted("mail a@example.com")
                    os.write(write_end, f"{{text}}\\n".encode())
                    os.read(done_read, 1)  # (the first to exit would end the worker)
                finally:
                    os._exit(0)
            children.append(child)
        os.write(go_write, b"gggg")
        lines = []
        with os.fdopen(read_end) as replies:
            while len(lines) < 4:
                lines.append(replies.readline().strip())
        workers = {{}}  # pid: parent, of every worker process started for these children
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{{pid}}/environ", "rb") as environ:
                    if {str(slow_site)!r}.encode() in environ.read():
                        if "_redact_worker_process" in open(f"/proc/{{pid}}/cmdline").read():
                            workers[int(pid)] = parent_of(pid)
            except OSError:
                pass
        os.write(done_write, b"dddd")
        for child in children:
            os.waitpid(child, 0)
        print(sorted(set(lines)), len(lines))
        print("workers started:", sum(parent not in workers for parent in workers.values()))
        """,
        tmp_path,
    )
    assert out == ["['mail <EMAIL_ADDRESS>'] 4", "workers started: 1"]


def test_a_long_request_of_the_app_does_not_hold_up_another_process(tmp_path: Path) -> None:
    """The worker answered its app and accepted others' connections in turn: a child's first
    record waited behind the app's long request (~6 s here; a short-lived process lost its
    texts at exit). The app's requests are served by a fork too: the child is served while
    the app's request still runs."""
    out = run_app(
        """
        import threading
        print(redacted("mail a@example.com"))
        long_text = "call +1 415 555 0100 or +1 415 555 0199, " * 7_000
        long_request = threading.Thread(target=redacted, args=(long_text,))
        long_request.start()
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:
            try:
                os.write(write_end, redacted("mail b@example.com").encode())
            finally:
                os._exit(0)
        os.waitpid(child, 0)
        print(os.read(read_end, 1000).decode(), "before the app's request ended:",
              long_request.is_alive())
        os._exit(0)
        """,
        tmp_path,
    )
    assert out == [
        "mail <EMAIL_ADDRESS>",
        "mail <EMAIL_ADDRESS> before the app's request ended: True",
    ]


@pytest.mark.timeout(120)
def test_a_stopped_group_worker_is_given_up_on(tmp_path: Path) -> None:
    """A group's worker that says nothing (stopped, swapped out) held another process's
    first record 125 s (a worker's start time allowed, plus a request's); one that only
    accepts and forks is given 20 s, then the process starts a worker of its own."""
    out = run_app(
        """
        import signal
        print(redacted("mail a@example.com"))
        group_worker = parent_of(client().worker_pid)  # the app's server forked from it
        with open(f"/proc/{group_worker}/cmdline") as cmdline:
            assert "_redact_worker_process" in cmdline.read()
        os.kill(group_worker, signal.SIGSTOP)
        try:
            print(in_a_child("mail b@example.com", group_worker))
        finally:
            os.kill(group_worker, signal.SIGCONT)
        """,
        tmp_path,
        timeout=90,
    )
    assert out == ["mail <EMAIL_ADDRESS>", "mail <EMAIL_ADDRESS> False"]


def test_a_subreaper_app_is_left_no_zombie_of_its_workers(tmp_path: Path) -> None:
    """An app that is PID 1 or a subreaper gets the orphaned group worker as its child: each
    worker replaced (killed) left a zombie of it in the app, and one more at exit."""
    out = run_app(
        """
        import ctypes, signal, time
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER

        def zombies():
            found = []
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open(f"/proc/{pid}/stat") as stat:
                        fields = stat.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if fields[0] == "Z" and int(fields[1]) == os.getpid():
                    found.append(int(pid))
            return found

        for round in range(3):
            print(redacted(f"mail a{round}@example.com"))
            os.kill(client().worker_pid, signal.SIGKILL)
        print(redacted("mail b@example.com"))
        client().release()
        time.sleep(0.5)  # (a zombie would stay)
        print("zombies:", zombies())
        """,
        tmp_path,
    )
    assert out[-1] == "zombies: []"
    assert out[:-1] == ["mail <EMAIL_ADDRESS>"] * 4


def test_the_group_keeps_a_worker_when_the_apps_is_replaced(tmp_path: Path) -> None:
    """The app's worker killed (the OOM killer) and replaced: the replacement connected to
    the old group worker as it ended, or started one that did not listen; the group's next
    processes then each started their own. The old one is waited for, the new one listens."""
    out = run_app(
        """
        import signal
        for round in range(3):
            print(redacted(f"mail a{round}@example.com"))
            os.kill(client().worker_pid, signal.SIGKILL)
        print(redacted("mail b@example.com"))
        print(in_a_child("mail c@example.com", parent_of(client().worker_pid)))
        """,
        tmp_path,
    )
    assert out == ["mail <EMAIL_ADDRESS>"] * 4 + ["mail <EMAIL_ADDRESS> True"]


def test_a_worker_killed_as_it_starts_is_started_once_more(tmp_path: Path) -> None:
    """A worker that ended before its hello (killed as it loaded presidio: the OOM killer on
    a tight container) made its process redact on the writer thread for good, presidio
    holding the app's GIL. It is started once more first."""
    site = tmp_path / "site"
    site.mkdir()
    marker = tmp_path / "killed_once"
    (site / "sitecustomize.py").write_text(
        textwrap.dedent(
            f"""
            import os, pathlib, signal
            marker = pathlib.Path({str(marker)!r})
            if os.environ.get("LLMLOG_ENABLED") == "0" and not marker.exists():
                marker.touch()  # the first worker's interpreter is killed as it starts
                os.kill(os.getpid(), signal.SIGKILL)
            """
        )
    )
    out = run_app(
        f"""
        from llmlog import _guard
        os.environ["PYTHONPATH"] = {str(site)!r} + os.pathsep + os.environ["PYTHONPATH"]
        print(redacted("mail a@example.com"), client().worker_pid is not None)
        print(dict(_guard.counts))
        """,
        tmp_path,
    )
    assert marker.exists()
    assert out == ["mail <EMAIL_ADDRESS> True", "{}"]
