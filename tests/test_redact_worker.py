"""The presidio tier's worker process: lazy, offline, fork-safe, gone with the app."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from llmlog._config import Settings
from llmlog._redact_detect import DetectorConfig
from llmlog._redact_worker import WorkerError, client
from llmlog.redaction import Redact

SRC = str(Path(__file__).resolve().parent.parent / "src")


def run_python(code: str, env_extra: dict[str, str] | None = None) -> str:
    """Run ``code`` in a fresh interpreter with llmlog importable; return its stdout."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    env.update(env_extra or {})
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for an absent reaper counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class TestLaziness:
    def test_nothing_heavy_happens_until_the_first_record(self) -> None:
        """validate() and Redact() import no presidio and start no process; the app process
        never imports presidio at all, since the matching happens in the worker."""
        out = run_python(
            """
            import sys
            from llmlog._config import Settings
            from llmlog._redact_worker import client
            from llmlog.redaction import Redact, validate
            validate(Settings())
            processor = Redact(Settings())
            print("presidio_analyzer" in sys.modules, client().worker_pid)
            record = processor(None, "info", {"messages": ["mail a@example.com"]})
            print(record["messages"][0], "presidio_analyzer" in sys.modules)
            print(client().worker_pid is not None)
            """
        )
        assert out.split("\n")[:3] == ["False None", "mail <EMAIL_ADDRESS> False", "True"]

    @pytest.mark.parametrize("executable", ["''", "shutil.which('false')"])
    def test_without_a_worker_the_same_redaction_runs_in_process(self, executable: str) -> None:
        """Where no worker can be started (no interpreter; one that exits at once), records are
        still redacted as configured, on the writer thread."""
        out = run_python(
            f"""
            import shutil, sys
            from llmlog._config import Settings
            from llmlog.redaction import Redact
            processor = Redact(Settings())
            sys.executable = {executable}
            for _ in range(2):
                record = processor(None, "info", {{"messages": ["mail a@example.com"]}})
                print(record["messages"][0])
            print("presidio_analyzer" in sys.modules)
            """
        )
        assert out.split("\n")[:3] == ["mail <EMAIL_ADDRESS>", "mail <EMAIL_ADDRESS>", "True"]


class TestOffline:
    def test_nothing_is_downloaded_at_any_level(self, tmp_path: Path) -> None:
        """With every socket blocked (in the app and, through sitecustomize, in the worker),
        all levels build and redact, and no connection is ever attempted."""
        attempts = tmp_path / "attempts.txt"
        site = tmp_path / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text(
            textwrap.dedent(
                f"""
                import socket

                def _blocked(*args, **kwargs):
                    if getattr(args[0], "family", None) == socket.AF_UNIX:
                        raise OSError("no local worker either")  # (not the network)
                    with open({str(attempts)!r}, "a") as log:
                        log.write(repr(args[1:2]) + "\\n")
                    raise OSError("network blocked by the test")

                socket.socket.connect = _blocked
                socket.socket.connect_ex = _blocked
                socket.getaddrinfo = _blocked
                socket.create_connection = _blocked
                """
            )
        )
        import spacy

        model = tmp_path / "blank_model"
        spacy.blank("en").to_disk(model)
        out = run_python(
            f"""
            from llmlog._config import Settings
            from llmlog.redaction import Redact, validate
            text = "mail a@example.com or +44 20 7946 0958, key sk-proj-abc123DEF456ghi789JKL0"
            for level, in_process in [("secrets", False), ("pii", False), ("pii", True),
                                      ("ner", False)]:
                settings = Settings(redact=level, ner_model={str(model)!r})
                validate(settings)
                processor = Redact(settings, in_process=in_process)
                print(processor(None, "info", {{"messages": [text]}})["messages"][0])
            """,
            {"PYTHONPATH": os.pathsep.join([str(site), SRC])},
        )
        assert out.splitlines() == [
            "mail a@example.com or +44 20 7946 0958, key <API_KEY>",
            "mail <EMAIL_ADDRESS> or <PHONE_NUMBER>, key <API_KEY>",
            "mail <EMAIL_ADDRESS> or <PHONE_NUMBER>, key <API_KEY>",
            "mail <EMAIL_ADDRESS> or <PHONE_NUMBER>, key <API_KEY>",
        ]
        assert not attempts.exists(), attempts.read_text()

    def test_presidio_logging_stays_out_of_the_app_logs(self) -> None:
        """In-process presidio logs nothing through the app's root logger."""
        out = run_python(
            """
            import logging, io
            stream = io.StringIO()
            logging.basicConfig(stream=stream, level=logging.DEBUG)
            from llmlog._config import Settings
            from llmlog.redaction import Redact
            Redact(Settings(), in_process=True)(None, "info", {"messages": ["a@example.com"]})
            print(repr([l for l in stream.getvalue().splitlines() if "presidio" in l.lower()
                        or "tldextract" in l.lower()]))
            """
        )
        assert out.strip() == "[]"


class TestProcessLifecycle:
    def test_a_forked_child_gets_its_own_worker(self) -> None:
        """After fork the child never talks to the parent's worker; both keep working."""
        processor = Redact(Settings(redact="pii"))
        processor.warm_up()
        parent_worker = client().worker_pid
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child
            try:
                out = processor(None, "info", {"messages": ["a@example.com"]})
                os.write(write_end, f"{out['messages'][0]} {client().worker_pid}".encode())
            finally:
                os._exit(0)
        os.close(write_end)
        os.waitpid(child, 0)
        with os.fdopen(read_end) as pipe:
            text, child_worker = pipe.read().split()
        assert text == "<EMAIL_ADDRESS>"
        assert int(child_worker) != parent_worker
        out = processor(None, "info", {"messages": ["b@example.com"]})
        assert out["messages"] == ["<EMAIL_ADDRESS>"]
        assert client().worker_pid == parent_worker

    @pytest.mark.parametrize("ending", ["exit", "kill"])
    def test_the_worker_ends_with_the_app(self, ending: str) -> None:
        """Whether the app exits normally or is killed, its worker goes too."""
        code = """
            import os, signal, sys
            from llmlog._config import Settings
            from llmlog._redact_worker import client
            from llmlog.redaction import Redact
            Redact(Settings()).warm_up()
            print(client().worker_pid, flush=True)
            if sys.argv[-1] == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            """
        env = {**os.environ, "PYTHONPATH": SRC}
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code), ending],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        worker = int(done.stdout.split()[0])
        deadline = time.monotonic() + 60
        while pid_alive(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(worker)

    def test_an_app_exit_leaves_no_worker_or_pipe_behind(self, tmp_path: Path) -> None:
        """Python warns at exit of a child process still running and of pipes left open
        (``-W default``, ``-X dev``): an app that logged at the default level showed three
        ResourceWarnings the same app without llmlog did not, and its worker outlived it
        (~200 ms of tearing presidio down). The exit lets the worker go and reaps it."""
        code = """
            import json, sys
            import httpx2, openai, llmlog
            from llmlog._fake_openai import chat_completions
            from llmlog._redact_worker import client

            def answer(request):
                reply = chat_completions(json.loads(request.content))
                return httpx2.Response(reply.status, json=dict(reply.body))

            llmlog.instrument(output=sys.argv[-1])
            app = openai.OpenAI(
                api_key="sk-test", http_client=httpx2.Client(transport=httpx2.MockTransport(answer))
            )
            hello = [{"role": "user", "content": "hi"}]
            app.chat.completions.create(model="gpt-4o", messages=hello)
            assert llmlog.flush(60)
            print(client().worker_pid, flush=True)
            """
        env = {**os.environ, "PYTHONPATH": SRC}
        done = subprocess.run(
            [
                sys.executable,
                "-W",
                "always",
                "-c",
                textwrap.dedent(code),
                str(tmp_path / "l.jsonl"),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        worker = int(done.stdout.split()[0])
        assert not pid_alive(worker)
        assert (done.returncode, done.stderr) == (0, "")


class TestIsolation:
    def test_a_sitecustomize_that_prints_does_not_break_the_replies(self, tmp_path: Path) -> None:
        """The worker runs the app's site (to find presidio where the app does), so also a
        sitecustomize that prints: its stdout must not be the reply channel."""
        (tmp_path / "sitecustomize.py").write_text("print('hello from the image sitecustomize')\n")
        path = os.pathsep.join([str(tmp_path), SRC, os.environ.get("PYTHONPATH", "")])
        out = run_python(
            """
            from llmlog import _guard
            from llmlog._config import Settings
            from llmlog._redact_worker import client
            from llmlog.redaction import Redact
            record = Redact(Settings())(None, "info", {"messages": ["mail a@example.com"]})
            print(record["messages"][0], client()._answered, dict(_guard.counts))
            """,
            {"PYTHONPATH": path},
        )
        assert out.splitlines() == [
            "hello from the image sitecustomize",
            "mail <EMAIL_ADDRESS> True {}",
        ]


class TestWorkerTrouble:
    """A real worker, really killed or stopped: records keep being redacted, or fail fast."""

    @pytest.mark.timeout(120)
    def test_an_app_with_sigpipe_at_its_default_survives_a_dead_worker(self) -> None:
        """CLI tools set SIGPIPE back to its default (so that ``| head`` ends quietly): the
        write to a worker that died raised it on the writer's thread, and the app died
        with status 141. Now the write fails with EPIPE and the worker is replaced."""
        out = run_python(
            """
            import os, signal, time
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            from llmlog._config import Settings
            from llmlog._redact_worker import client
            from llmlog.redaction import Redact

            processor = Redact(Settings())
            processor.warm_up()
            os.kill(client().worker_pid, signal.SIGKILL)
            time.sleep(0.5)
            print(processor(None, "info", {"messages": ["a@b.com"]})["messages"])
            """
        )
        assert out.strip() == "['<EMAIL_ADDRESS>']"

    @pytest.mark.timeout(120)
    @pytest.mark.parametrize("when", ["idle", "mid-request"])
    def test_a_killed_worker_is_replaced_and_the_record_sent_again(self, when: str) -> None:
        """SIGKILL (the OOM killer) while idle (the next write is a broken pipe) or while the
        request waits in its pipe (end of file before any reply): the record is redacted by a
        new worker, and llmlog says once what happened, as a warning, not as a bug."""
        out = run_python(
            f"""
            import contextlib, io, os, signal, threading, time
            from llmlog import _guard
            from llmlog._config import Settings
            from llmlog._redact_worker import client
            from llmlog.redaction import Redact

            def dead(pid):  # a zombie, or reaped already (by the client, mid-request)
                try:
                    with open(f"/proc/{{pid}}/stat") as stat:
                        return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
                except FileNotFoundError:
                    return True

            processor = Redact(Settings())
            processor.warm_up()
            old, found, err = client().worker_pid, {{}}, io.StringIO()
            redact = lambda: found.update(r=processor(None, "info", {{"messages": ["a@b.com"]}}))
            asking = threading.Thread(target=redact)
            with contextlib.redirect_stderr(err):
                try:
                    if {when!r} == "mid-request":
                        os.kill(old, signal.SIGSTOP)
                        asking.start()
                        time.sleep(0.5)  # the request waits in the pipe, unanswered
                finally:
                    os.kill(old, signal.SIGKILL)
                deadline = time.monotonic() + 30
                while not dead(old) and time.monotonic() < deadline:
                    time.sleep(0.01)
                if {when!r} == "idle":
                    asking.start()
                asking.join()
                print(found["r"]["messages"][0], client().worker_pid not in (None, old))
                print(processor(None, "info", {{"messages": ["c@d.com"]}})["messages"][0])
            print(dict(_guard.counts))
            print(err.getvalue().replace(str(old), "PID"))
            """
        )
        assert out.splitlines()[:4] == [
            "<EMAIL_ADDRESS> True",
            "<EMAIL_ADDRESS>",
            "{'redact_worker_died': 1}",
            "llmlog: the PII redaction worker (pid PID) ended unexpectedly (killed, or crashed); "
            "a new one was started and the record sent again (said once, counted as "
            "redact_worker_died)",
        ]

    @pytest.mark.timeout(120)
    def test_the_record_fails_when_the_new_worker_fails_too(self) -> None:
        """The record is sent again once only: if the new worker cannot answer either, its
        texts are marked as before, and both troubles are counted."""
        out = run_python(
            """
            import contextlib, io, os, shutil, signal, sys
            from llmlog import _guard
            from llmlog._config import Settings
            from llmlog._redact_worker import client
            from llmlog.redaction import Redact
            processor = Redact(Settings())
            processor.warm_up()
            sys.executable = shutil.which("false")  # every new worker exits at once
            os.kill(client().worker_pid, signal.SIGKILL)
            with contextlib.redirect_stderr(io.StringIO()):
                for _ in range(2):
                    print(processor(None, "info", {"messages": ["a@b.com"]})["messages"])
            print(sorted(_guard.counts.items()))
            """,
            {"_LLMLOG_RAISE_INTERNAL_ERRORS": "0"},
        )
        assert out.splitlines() == [
            "<REDACTION_FAILED>",
            "<REDACTION_FAILED>",
            "[('bug:redaction', 2), ('redact_worker_died', 1)]",
        ]

    @pytest.mark.timeout(120)
    def test_a_hung_worker_with_a_small_request_is_given_up_on_in_seconds(self) -> None:
        """A stopped worker costs the writer seconds (5 s for a small request; it took 60 s),
        then it is replaced and the next record is redacted."""
        config = DetectorConfig(level="pii")
        client().find_all(config, ["warm up"])
        hung = client().worker_pid
        assert hung is not None
        os.kill(hung, signal.SIGSTOP)
        try:
            with pytest.raises(WorkerError, match="did not answer in time"):
                client().find_all(config, ["mail a@example.com"])
        finally:
            if client().worker_pid == hung:  # not reaped yet: still ours to signal
                os.kill(hung, signal.SIGCONT)
                os.kill(hung, signal.SIGKILL)
        assert client().worker_pid is None  # the hung worker was killed
        assert not pid_alive(hung)
        assert client().find_all(config, ["mail b@example.com"]) == [[(5, 18, "EMAIL_ADDRESS")]]
        assert client().worker_pid not in (None, hung)

    @pytest.mark.timeout(120)
    def test_a_worker_that_cannot_import_presidio_falls_back_to_the_writer_thread(
        self, tmp_path: Path
    ) -> None:
        """The app found presidio on a path it added at run time, its worker's interpreter
        does not: the record is redacted on the writer thread, and llmlog says so once."""
        blocker = tmp_path / "presidio_analyzer"
        blocker.mkdir()
        (blocker / "__init__.py").write_text("raise ImportError('not for this interpreter')\n")
        out = run_python(
            f"""
            import contextlib, io, os, sys
            from llmlog import _guard
            from llmlog._config import Settings
            from llmlog._redact_worker import client
            from llmlog.redaction import Redact
            os.environ["PYTHONPATH"] = {str(tmp_path)!r}  # what the worker will import from
            processor, err = Redact(Settings()), io.StringIO()
            with contextlib.redirect_stderr(err):
                for _ in range(2):
                    print(processor(None, "info", {{"messages": ["mail a@example.com"]}}))
            print(client().worker_pid, dict(_guard.counts))
            print(err.getvalue().replace(sys.executable, "PYTHON"))
            """
        )
        assert out.splitlines()[:4] == [
            "{'messages': ['mail <EMAIL_ADDRESS>'], 'redactions': {'EMAIL_ADDRESS': 1}}",
            "{'messages': ['mail <EMAIL_ADDRESS>'], 'redactions': {'EMAIL_ADDRESS': 1}}",
            "None {'redact_in_process': 1}",
            "llmlog: the redaction worker (PYTHON) cannot import presidio: ImportError: not for "
            "this interpreter; redacting on the writer thread",
        ]
