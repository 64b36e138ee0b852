"""A file llmlog did not write, at the log path or under a rotated name beside it, is never
appended to, rotated, expired or pruned: refused once on stderr, counted, the app unharmed.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import llmlog
import openai_fakes
from llmlog import _guard
from llmlog._config import Settings
from llmlog._file_sink import FileSink
from llmlog._log_files import (
    FOLDER_FLAGS,
    prune_rotated,
    rotated_files,
    rotated_name,
    write_problem,
)
from llmlog._log_signature import is_log_file, looks_like_log, vet_log
from llmlog._record import EVENT_DROPPED
from llmlog._record_builder import CaptureToRecord
from llmlog.processors import render

CSV = b"id,name\n1,alice\n2,bob\n"
DAY = 86400


def record(i: int) -> bytes:
    """A line as llmlog writes it (compact, ``event`` then ``schema`` first)."""
    return f'{{"event":"llm.call","schema":1,"id":"{i}","pad":"{"x" * 100}"}}\n'.encode()


def foreign(path: Path, data: bytes = CSV, days_old: float = 0.0) -> tuple[bytes, int]:
    """``path`` holding ``data``, last changed ``days_old`` ago: (its bytes, its mtime)."""
    path.write_bytes(data)
    path.chmod(0o600)
    then = time.time() - days_old * DAY
    os.utime(path, (then, then))
    return data, path.stat().st_mtime_ns


def untouched(path: Path, before: tuple[bytes, int]) -> bool:
    return (path.read_bytes(), path.stat().st_mtime_ns) == before


def siblings(path: Path) -> list[str]:
    """Names beside ``path`` starting with its stem (where rotation would put it)."""
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.stem))


def no_sink_trouble() -> bool:
    return not [kind for kind in llmlog.trouble() if kind.startswith("sink")]


@pytest.fixture(autouse=True)
def fresh_trouble() -> Iterator[None]:
    _guard._reset_for_tests()
    yield
    llmlog.uninstrument()


def call_openai(times: int = 3) -> list[str]:
    """``times`` chat calls through the real SDK; what the app got back."""
    client = openai_fakes.sync_client(openai_fakes.default_fake())
    answers = []
    for _ in range(times):
        reply = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )
        answers.append(reply.choices[0].message.content or "")
    return answers


def run_app(path: Path, **settings: Any) -> tuple[list[str], bool]:
    """One app run logging to ``path``: (its answers, what flush() said)."""
    llmlog.instrument(output=str(path), redact="off", **settings)
    try:
        answers = call_openai()
        return answers, llmlog.flush(10.0)
    finally:
        llmlog.uninstrument()


class TestForeignFileAtTheLogPath:
    def test_size_rotation_leaves_a_csv_untouched(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The reviewer's case: LLMLOG_OUTPUT=customers.csv with a size limit renamed the
        CSV aside and deleted it (backup_count 0). Now its bytes, mtime and name stay, the
        app's calls answer as without llmlog, the records are counted lost, said once."""
        path = tmp_path / "customers.csv"
        before = foreign(path)
        answers, flushed = run_app(path, max_bytes=100, backup_count=0)
        answers += run_app(path, max_bytes=100, backup_count=0)[0]
        assert answers == call_openai(6)  # uninstrumented now: the same answers
        assert untouched(path, before)
        assert siblings(path) == ["customers.csv"]
        assert flushed is False
        trouble = llmlog.trouble()
        assert trouble[f"sink_foreign:{path}"] >= 1 and trouble["sink_lost"] >= 1
        said = [line for line in capsys.readouterr().err.splitlines() if str(path) in line]
        assert len(said) == 1
        assert "(LLMLOG_OUTPUT)" in said[0] and "not an llmlog log" in said[0]

    def test_day_expiry_leaves_an_old_csv_untouched(self, tmp_path: Path) -> None:
        """With the defaults, a data.csv last changed 40 days ago was rotated aside as
        expired on the first run and deleted by retention on the next. Not any more."""
        path = tmp_path / "data.csv"
        before = foreign(path, days_old=40)
        for _ in range(2):
            run_app(path)
        assert untouched(path, before)
        assert siblings(path) == ["data.csv"]
        assert llmlog.trouble()[f"sink_foreign:{path}"] >= 1

    def test_the_apps_own_json_log_is_not_llmlogs(self, tmp_path: Path) -> None:
        """``--output app.log``, the app's own JSON lines: not appended to either."""
        path = tmp_path / "app.log"
        before = foreign(path, b'{"event":"user logged in","level":"info"}\n')
        sink = FileSink(path, max_bytes=100, backup_count=0)
        for i in range(3):
            sink.write(record(i))
        sink.close()
        assert untouched(path, before)
        assert siblings(path) == ["app.log"]

    def test_a_log_emptied_with_echo_is_used(self, tmp_path: Path) -> None:
        """``echo > llmlog.jsonl`` leaves one newline: still an empty log, not a foreign
        file (every record would be lost until someone moved it)."""
        path = tmp_path / "llmlog.jsonl"
        path.write_bytes(b"\n")
        path.chmod(0o600)
        assert run_app(path)[1] is True
        assert b'{"event":"llm.call"' in path.read_bytes()
        assert no_sink_trouble()

    def test_a_log_rotated_aside_while_it_is_checked_is_judged_as_itself(
        self, tmp_path: Path
    ) -> None:
        """Another process renames the log just opened and makes a new file at the name:
        the file opened is judged (llmlog's), not the one now under the name."""
        path = tmp_path / "llmlog.jsonl"
        path.write_bytes(record(0))
        path.chmod(0o600)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        folder = os.open(tmp_path, FOLDER_FLAGS)
        try:
            path.rename(tmp_path / "llmlog-rotated.jsonl")
            path.write_bytes(CSV)  # (not what fd writes to)
            assert vet_log(path, fd, folder) is True
        finally:
            os.close(fd)
            os.close(folder)

    def test_a_name_gone_is_no_verdict(self, tmp_path: Path) -> None:
        """A rotated name deleted (or renamed) by another process before it is read is
        neither an llmlog log nor a foreign file: strict start-up never calls it foreign."""
        assert is_log_file(tmp_path / "gone.jsonl") is None

    def test_an_empty_file_is_used(self, tmp_path: Path) -> None:
        path = tmp_path / "empty.jsonl"
        path.touch(mode=0o600)
        assert run_app(path)[1] is True
        assert path.read_bytes().startswith(b'{"event":"llm.call"')
        assert no_sink_trouble()

    def test_llmlogs_own_log_is_appended_to_rotated_and_pruned(self, tmp_path: Path) -> None:
        """A log an earlier run wrote is llmlog's: appended to, then rotated and pruned."""
        path = tmp_path / "llmlog.jsonl"
        assert run_app(path)[1] is True
        first = path.read_bytes()
        assert run_app(path)[1] is True
        assert path.read_bytes().startswith(first) and len(path.read_bytes()) > len(first)
        assert run_app(path, max_bytes=len(first), backup_count=1)[1] is True
        assert len(rotated_files(path)) == 1
        assert no_sink_trouble()

    def test_strict_start_up_stops_on_a_file_that_is_not_a_log(self, tmp_path: Path) -> None:
        """LLMLOG_STRICT=1 names LLMLOG_OUTPUT and why, and the app does not run."""
        path = tmp_path / "customers.csv"
        before = foreign(path)
        assert "not an llmlog log" in (write_problem(path) or "")
        env = {k: v for k, v in os.environ.items() if not k.startswith("LLMLOG_")}
        env.update(LLMLOG_ENABLED="1", LLMLOG_STRICT="1", LLMLOG_OUTPUT=str(path))
        code = "from llmlog._activate import activate_from_env\nactivate_from_env()\nprint('ran')"
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        assert (done.returncode, done.stdout) == (78, "")
        assert f"LLMLOG_OUTPUT={path} cannot be written: {path}: it is not an llmlog log" in (
            done.stderr
        )
        assert untouched(path, before)


def rotated(path: Path, days_old: float, data: bytes, pid: int) -> Path:
    """A file under a name rotation gives ``path``, rotated and last changed then."""
    then = time.time() - days_old * DAY
    made = rotated_name(path, now_ns=int(then * 1e9), pid=pid)
    made.write_bytes(data)
    os.utime(made, (then, then))
    return made


class TestPruning:
    def test_a_foreign_file_under_a_rotated_name_is_kept_and_not_counted(
        self, tmp_path: Path
    ) -> None:
        """``app-20260101T000000Z-1.jsonl`` that llmlog did not write survives both the
        count and the age limit; counted, it would have pushed one of ours out too."""
        path = tmp_path / "app.jsonl"
        theirs = rotated(path, 40, CSV, pid=1)
        ours = [rotated(path, 3 - i, record(i), pid=10 + i) for i in range(3)]
        prune_rotated(path, backup_count=2, retention_days=0)
        assert rotated_files(path) == [theirs, *ours[1:]]
        prune_rotated(path, backup_count=100, retention_days=1)
        assert rotated_files(path) == [theirs]
        assert theirs.read_bytes() == CSV

    def test_gzip_copies_are_judged_by_what_they_hold(self, tmp_path: Path) -> None:
        """logrotate's ``.gz`` of an llmlog log goes; a gzipped CSV or a damaged ``.gz``
        stays."""
        path = tmp_path / "app.jsonl"
        names = [rotated(path, 40, b"", pid=pid) for pid in (1, 2, 3)]
        ours, theirs, damaged = (p.with_name(p.name + ".gz") for p in names)
        for p in names:
            p.unlink()
        for p, data in (
            (ours, gzip.compress(record(0) * 50)),
            (theirs, gzip.compress(CSV)),
            (damaged, b"\x1f\x8b\x08\x00garbage"),
        ):
            p.write_bytes(data)
            os.utime(p, (time.time() - 40 * DAY,) * 2)
        prune_rotated(path, backup_count=100, retention_days=1)
        assert rotated_files(path) == [theirs, damaged]


class TestSignature:
    @pytest.mark.parametrize(
        "head",
        [
            b"",
            record(0),
            record(0) * 3,
            b'{"event": "llm.call", "schema": 1, "id": "x"}\n',  # re-serialized: spaces
            b'{"event":"llm.ca\n' + record(1),  # a first line a full disk cut short
            b'{"ev',  # and nothing after it yet
            record(0)[:60],  # a first line longer than what was read
            b"\n",  # emptied with `echo > llmlog.jsonl`
            b"\r\n\n  \n",
            b"\n\n" + record(0),
            b"\xef\xbb\xbf" + record(0),  # a byte-order mark an editor put there
        ],
    )
    def test_llmlog_logs(self, head: bytes) -> None:
        assert looks_like_log(head)

    @pytest.mark.parametrize(
        "head",
        [
            CSV,
            b"2026-01-01 12:00:00 INFO app started\n",
            b'{"event":"user logged in","level":"info"}\n',  # structlog JSON
            b'{"level":"info","event":"llm.call","schema":1}\n',  # not first
            b'{\n  "event": "llm.call",\n  "schema": 1\n}\n',  # pretty-printed JSON
            b"\x1f\x8b\x08\x00",
            b"\x00\x01binary",
        ],
    )
    def test_other_files(self, head: bytes) -> None:
        assert not looks_like_log(head)

    def test_every_line_llmlog_writes_has_the_signature(self, tmp_path: Path) -> None:
        """A real call's record and llmlog's own ``llmlog.dropped`` line, as the writer
        renders them: the signature follows the record builder if it ever changes."""
        path = tmp_path / "llmlog.jsonl"
        run_app(path)
        call = path.read_bytes().splitlines(keepends=True)[0]
        settings = Settings()
        dropped = render(
            None,
            "info",
            CaptureToRecord(settings)(
                None, "info", {"schema": 1, "id": "x", "count": 2, "event": EVENT_DROPPED}
            ),
        )
        for line in (call, dropped):
            assert looks_like_log(line), line[:80]
            (tmp_path / "one.jsonl").write_bytes(line)
            assert is_log_file(tmp_path / "one.jsonl")
