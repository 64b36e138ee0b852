"""An app that closes descriptors it did not open (``os.closerange(3, ...)`` in-process, as a
daemon library that does not detach or a test harness does) and then opens its own files,
which get the lowest free numbers: llmlog's log must never write into them nor close them,
and must lose no record."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import llmlog
from llmlog import _guard
from llmlog._file_sink import CHECK_SECONDS, FileSink

NOTICE = "the app closed llmlog's descriptor of"
"""The start of what llmlog says once on stderr when it finds its descriptor closed."""

APP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC


def line(i: int) -> bytes:
    """A line that starts as llmlog's do: a file that does not is refused."""
    return f'{{"event":"llm.call","schema":1,"i": {i}}}\n'.encode()


def numbers(path: Path) -> list[int]:
    """The ``i`` of every line of the log ``path``."""
    return [json.loads(raw)["i"] for raw in path.read_bytes().splitlines()]


def descriptors_of(path: Path) -> list[int]:
    """This process's descriptors open on ``path`` (Linux's ``/proc/self/fd``)."""
    found = []
    for entry in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{entry}") == str(path):
                found.append(int(entry))
        except OSError:  # the listing's own descriptor, gone already
            continue
    return found


def app_file_on(number: int, path: Path) -> None:
    """The app opens its own file ``path``, which lands on ``number`` (freed by the app)."""
    fd = os.open(path, APP_FLAGS, 0o600)
    if fd != number:
        os.dup2(fd, number, inheritable=False)
        os.close(fd)


def sink_whose_number_the_app_took(log: Path, mine: Path) -> tuple[FileSink, int]:
    """A sink that wrote line 0 to ``log``, whose descriptor the app then closed and reused
    for its own file ``mine``; and that number."""
    sink = FileSink(log)
    sink.write(line(0))
    [fd] = descriptors_of(log)
    os.close(fd)
    app_file_on(fd, mine)
    return sink, fd


class Clock:
    """``time.monotonic`` that moves only when told: a check is due after each ``tick``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = time.monotonic()
        monkeypatch.setattr(time, "monotonic", lambda: self.now)

    def tick(self) -> None:
        self.now += CHECK_SECONDS * 1.01


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """A clock to pass the sink's checks at will, and no trouble counted before."""
    _guard._reset_for_tests()
    return Clock(monkeypatch)


class TestTheSinksDescriptor:
    @pytest.mark.skipif(
        resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 256,
        reason="a soft descriptor limit under 256 puts llmlog's floor lower",
    )
    def test_it_sits_above_the_numbers_an_apps_files_get_first(self, tmp_path: Path) -> None:
        """Each open takes the lowest free number: an app holding fewer than 128 files at a
        time never gets the number of llmlog's log, even after closing it by mistake. It
        stays close-on-exec (a child the app starts does not inherit it)."""
        log = tmp_path / "llmlog.jsonl"
        sink = FileSink(log)
        sink.write(line(0))
        [fd] = descriptors_of(log)
        assert fd >= 128
        assert not os.get_inheritable(fd)
        sink.close()
        assert descriptors_of(log) == []

    @pytest.mark.parametrize("checked", [False, True], ids=["between-checks", "at-a-check"])
    def test_a_number_the_app_reused_is_neither_written_nor_closed(
        self,
        tmp_path: Path,
        clock: Clock,
        capsys: pytest.CaptureFixture[str],
        checked: bool,
    ) -> None:
        """The app closed llmlog's descriptor and opened its own file on the number: the
        next line goes to the log, reopened; the app's file gets none and stays open (also
        when the sink closes); llmlog says so once; nothing is lost."""
        log, mine = tmp_path / "llmlog.jsonl", tmp_path / "app.txt"
        sink, fd = sink_whose_number_the_app_took(log, mine)
        for i in (1, 2):
            if checked:
                clock.tick()
            sink.write(line(i))
        sink.close()
        os.write(fd, b"the app's line\n")  # still the app's: llmlog closed nothing of it
        os.close(fd)
        assert mine.read_bytes() == b"the app's line\n"
        assert numbers(log) == [0, 1, 2]
        assert capsys.readouterr().err.count(NOTICE) == 1
        assert "sink_lost" not in llmlog.trouble()

    def test_a_descriptor_closed_under_the_sink_is_reopened(
        self, tmp_path: Path, clock: Clock, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Closed, its number left free (EBADF): the log is reopened, no line lost."""
        log = tmp_path / "llmlog.jsonl"
        sink = FileSink(log)
        sink.write(line(0))
        [fd] = descriptors_of(log)
        os.close(fd)
        sink.write(line(1))
        sink.close()
        assert numbers(log) == [0, 1]
        assert capsys.readouterr().err.count(NOTICE) == 1
        assert "sink_lost" not in llmlog.trouble()

    def test_a_forked_child_does_not_close_a_file_the_app_opened_on_the_number(
        self, tmp_path: Path, clock: Clock
    ) -> None:
        """The inherited descriptor is closed in a child, unless the app has put a file of
        its own on the number since (a child forked by C code, whose at-fork hooks did not
        run, lets go of it at its first record)."""
        log, mine = tmp_path / "llmlog.jsonl", tmp_path / "app.txt"
        sink, fd = sink_whose_number_the_app_took(log, mine)
        sink.forget_after_fork()
        os.write(fd, b"the app's line\n")
        os.close(fd)
        assert mine.read_bytes() == b"the app's line\n"


APP = """
    import json, os, sys, time
    import httpx2, openai, llmlog
    from llmlog._fake_openai import chat_completions

    def answer(request):
        reply = chat_completions(json.loads(request.content))
        return httpx2.Response(reply.status, json=dict(reply.body))

    def descriptors_of(path):
        found = []
        for entry in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{entry}") == path:
                    found.append(int(entry))
            except OSError:
                continue
        return found

    log, mine, pause = sys.argv[1], sys.argv[2], float(sys.argv[3])
    llmlog.instrument(output=log)
    app = openai.OpenAI(
        api_key="sk-test", http_client=httpx2.Client(transport=httpx2.MockTransport(answer))
    )
    app.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "first"}])
    assert llmlog.flush(60)
    [llmlogs] = descriptors_of(log)
    os.closerange(3, 4096)
    own = os.open(mine, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)  # the lowest number
    if llmlogs != own:
        os.dup2(own, llmlogs)  # and the number llmlog's log had: the app's file too
    os.write(own, b"the app's first line\\n")
    time.sleep(pause)
    app.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "second"}])
    assert llmlog.flush(60)
    os.write(own, b"the app's second line\\n")
    os.write(llmlogs, b"the app's third line\\n")  # llmlog closed neither
    llmlog.uninstrument()
    os.write(llmlogs, b"the app's last line\\n")
    """


class TestInARealApp:
    @pytest.mark.parametrize("pause", [0.0, 2 * CHECK_SECONDS], ids=["at-once", "after-a-check"])
    def test_an_app_that_closes_every_descriptor_gets_no_record_in_its_file(
        self, tmp_path: Path, pause: float
    ) -> None:
        """A real openai call logged, every descriptor but 0-2 closed, the app's own file
        opened (on the lowest number, and on the one llmlog's log had), a second call: the
        app's file holds only the app's lines, the log each record once, and stderr the
        notice once. (The pause only chooses which of the sink's paths meets the closed
        descriptor: the outcome is the same.)"""
        log, mine = tmp_path / "llmlog.jsonl", tmp_path / "app.txt"
        src = str(Path(llmlog.__file__).resolve().parent.parent)  # the llmlog under test
        env = {**os.environ, "PYTHONPATH": src, "LLMLOG_REDACT": "secrets"}
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(APP), str(log), str(mine), str(pause)],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr
        assert mine.read_text() == (
            "the app's first line\nthe app's second line\n"
            "the app's third line\nthe app's last line\n"
        )
        records = [json.loads(raw) for raw in log.read_text().splitlines()]
        asked = [r["messages"][0]["content"] for r in records]
        assert sorted(asked) == ["first", "second"]
        assert done.stderr.count(NOTICE) == 1
        assert done.stderr.startswith(f"llmlog: {NOTICE} {log} ")
        assert done.stderr.count("\n") == 1


class TestThePiiWorkersDescriptors:
    @pytest.mark.timeout(180)
    def test_the_texts_never_go_to_a_file_the_app_opened_on_their_numbers(
        self, tmp_path: Path
    ) -> None:
        """The writer sends a record's texts, unredacted, to the PII worker: after the app
        closed llmlog's descriptors of it and opened its own file on every number llmlog had,
        the texts went into the app's file. The worker is let go untouched and another used."""
        app_file = tmp_path / "app.txt"
        code = f"""
            import os
            from llmlog._config import Settings
            from llmlog.redaction import Redact
            processor = Redact(Settings(redact="pii"))
            print(processor(None, "info", {{"messages": ["mail a@example.com"]}})["messages"])
            ours = [int(n) for n in os.listdir("/proc/self/fd") if int(n) > 2]
            os.closerange(3, 4096)
            fd = os.open({str(app_file)!r}, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            os.write(fd, b"app\\n")
            for number in ours:
                if number != fd:
                    os.dup2(fd, number)
            print(processor(None, "info", {{"messages": ["mail b@example.com"]}})["messages"])
            """
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            env={**os.environ, "PYTHONPATH": str(Path(llmlog.__file__).parent.parent)},
            capture_output=True,
            text=True,
            timeout=150,
            start_new_session=True,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == ["['mail <EMAIL_ADDRESS>']"] * 2
        assert app_file.read_bytes() == b"app\n"
        assert done.stderr.count("the app closed llmlog's descriptors of its PII") == 1
