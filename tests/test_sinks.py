"""Sinks: private files, rotation and retention, trouble reported never raised."""

from __future__ import annotations

import io
import json
import os
import stat
import sys
import time
from pathlib import Path

import pytest

from llmlog import _guard
from llmlog._file_sink import CHECK_SECONDS, PRUNE_SECONDS, FileSink
from llmlog._log_files import RECENT_SECONDS, rotated_files, rotated_name
from llmlog.sinks import StreamSink, sink_for


def line(i: int, size: int = 100) -> bytes:
    """A line that starts as llmlog's do: a file that does not is refused."""
    return f'{{"event":"llm.call","schema":1,"i": {i}, "pad": "{"x" * size}"}}\n'.encode()


def aged(path: Path, days: float, data: bytes = b"") -> Path:
    """``path`` holding ``data``, last written ``days`` ago."""
    path.write_bytes(data or line(0))
    then = time.time() - days * 86400
    os.utime(path, (then, then))
    return path


class TestFileSink:
    def test_file_is_0600_and_directory_0700(self, tmp_path: Path) -> None:
        """Prompts are private: only the owner may read the log or list its folder."""
        sink = FileSink(tmp_path / "new" / "llmlog.jsonl")
        sink.write(line(0))
        sink.close()
        assert stat.S_IMODE(os.stat(tmp_path / "new" / "llmlog.jsonl").st_mode) == 0o600
        assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o700

    def test_lines_are_appended_whole(self, tmp_path: Path) -> None:
        """Each write is one whole line at the end of the file."""
        path = tmp_path / "llmlog.jsonl"
        path.write_bytes(line(-1))
        sink = FileSink(path)
        for i in range(3):
            sink.write(line(i))
        assert path.read_bytes().splitlines() == [line(i).rstrip() for i in (-1, 0, 1, 2)]

    def test_rotation_keeps_every_line(self, tmp_path: Path) -> None:
        """Past max_bytes the file is renamed aside; no line is lost or split."""
        path = tmp_path / "llmlog.jsonl"
        sink = FileSink(path, max_bytes=1000, backup_count=100)
        for i in range(50):
            sink.write(line(i))
        backups = rotated_files(path)
        assert len(backups) >= 4
        everything = b"".join(p.read_bytes() for p in [*backups, path])
        assert everything == b"".join(line(i) for i in range(50))
        assert all(p.stat().st_size <= 1000 for p in [*backups, path])

    def test_backup_count_limits_rotated_files(self, tmp_path: Path) -> None:
        """Only the newest backup_count rotated files are kept."""
        path = tmp_path / "llmlog.jsonl"
        sink = FileSink(path, max_bytes=300, backup_count=2)
        for i in range(40):
            sink.write(line(i))
        assert len(rotated_files(path)) == 2

    def test_backup_count_holds_for_a_name_with_glob_characters(self, tmp_path: Path) -> None:
        """``app[prod].jsonl``: its rotated files are found (and pruned) like any other's."""
        path = tmp_path / "app[prod]*?.jsonl"
        sink = FileSink(path, max_bytes=10, backup_count=2)
        for i in range(6):
            sink.write(f'{{"event":"llm.call","schema":1,"n": {i}}}\n'.encode())
        sink.close()
        assert len(rotated_files(path)) == 2

    def test_retention_deletes_old_rotated_files(self, tmp_path: Path) -> None:
        """Rotated files older than retention_days go at the next rotation."""
        path = tmp_path / "llmlog.jsonl"
        old = rotated_name(path, now_ns=1_000_000_000_000_000_000, pid=1)
        old.write_bytes(line(0))
        two_days_ago = time.time() - 2 * 86400
        os.utime(old, (two_days_ago, two_days_ago))
        sink = FileSink(path, max_bytes=200, backup_count=100, retention_days=1)
        for i in range(5):
            sink.write(line(i))
        assert not old.exists()
        assert rotated_files(path)

    def test_retention_applies_when_the_sink_opens(self, tmp_path: Path) -> None:
        """A quiet app never reaches max_bytes: its old rotated files go at its next start."""
        path = tmp_path / "llmlog.jsonl"
        old = aged(rotated_name(path, now_ns=1_000_000_000_000_000_000, pid=1), days=40)
        kept = aged(rotated_name(path, now_ns=time.time_ns() - 10 * 86400 * 10**9), days=10)
        sink = FileSink(path, retention_days=30)
        sink.write(line(1))
        assert not old.exists() and kept.exists()
        assert path.read_bytes() == line(1)

    def test_retention_applies_hourly_while_the_app_runs(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Checked at most every PRUNE_SECONDS from the write path (a clock compare per
        line), so a long-running quiet app expires its files too."""
        path = tmp_path / "llmlog.jsonl"
        sink = FileSink(path, retention_days=30)
        sink.write(line(0))
        old = aged(rotated_name(path, now_ns=1_000_000_000_000_000_000, pid=1), days=40)
        start = time.monotonic()
        monkeypatch.setattr(time, "monotonic", lambda: start + PRUNE_SECONDS / 2)
        sink.write(line(1))
        assert old.exists()
        monkeypatch.setattr(time, "monotonic", lambda: start + PRUNE_SECONDS + 1)
        sink.write(line(2))
        assert not old.exists()
        assert path.read_bytes() == line(0) + line(1) + line(2)

    def test_a_log_all_older_than_the_retention_is_rotated_aside_then_deleted(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Its newest record is past the retention: it is renamed aside when the sink opens
        (another process writing to it reopens the new file; nothing is lost) and deleted
        at a later check, once no process can still be finishing a line in it."""
        path = tmp_path / "llmlog.jsonl"
        other = FileSink(path)  # another process, idle for 40 days
        other.write(line(0))
        aged(path, days=40, data=line(0))
        sink = FileSink(path, retention_days=30)
        sink.write(line(1))
        (aside,) = rotated_files(path)
        assert aside.read_bytes() == line(0)
        later, wall = time.monotonic() + PRUNE_SECONDS, time.time() + PRUNE_SECONDS
        monkeypatch.setattr(time, "monotonic", lambda: later)
        monkeypatch.setattr(time, "time", lambda: wall)
        other.write(line(2))
        assert path.read_bytes() == line(1) + line(2)
        sink.write(line(3))  # an hour on
        assert not aside.exists()
        assert path.read_bytes() == line(1) + line(2) + line(3)

    def test_a_file_rotated_moments_ago_is_not_deleted_for_its_age(self, tmp_path: Path) -> None:
        """Another process just rotated an old log aside and may still be finishing a line
        in it: kept for RECENT_SECONDS (the time in its name), however old its mtime."""
        path = tmp_path / "llmlog.jsonl"
        recent = rotated_name(path, now_ns=time.time_ns() - int(RECENT_SECONDS / 2 * 1e9))
        aged(recent, days=40)
        sink = FileSink(path, max_bytes=200, backup_count=100, retention_days=30)
        for i in range(5):
            sink.write(line(i))
        assert recent.exists()
        assert len(rotated_files(path)) > 1

    def test_a_file_rotated_by_another_process_is_reopened(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Once the path points at a new file, lines go there (checked every CHECK_SECONDS)."""
        path = tmp_path / "llmlog.jsonl"
        sink = FileSink(path)
        sink.write(line(0))
        path.rename(tmp_path / "llmlog-elsewhere.jsonl")
        sink.write(line(1))  # within the check interval: still the renamed file, not lost
        later = time.monotonic() + CHECK_SECONDS
        monkeypatch.setattr(time, "monotonic", lambda: later)
        sink.write(line(2))
        assert (tmp_path / "llmlog-elsewhere.jsonl").read_bytes() == line(0) + line(1)
        assert path.read_bytes() == line(2)

    def test_rotated_names_sort_by_time(self, tmp_path: Path) -> None:
        """Rotated file names sort in the order they were made."""
        path = tmp_path / "llmlog.jsonl"
        a = rotated_name(path, now_ns=1_700_000_000_000_000_000, pid=99)
        b = rotated_name(path, now_ns=1_700_000_000_500_000_000, pid=1)
        assert a.name < b.name
        assert a.name.startswith("llmlog-20231114T") and a.name.endswith("-99.jsonl")

    def test_write_errors_are_reported_once_and_retried(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A failing disk: no exception, one message, lost lines counted, recovery later."""
        _guard._reset_for_tests()
        blocker = tmp_path / "file"
        blocker.write_text("")
        sink = FileSink(blocker / "llmlog.jsonl")
        for i in range(5):
            sink.write(line(i))
        assert capsys.readouterr().err.count("cannot write to") == 1
        assert _guard.counts["sink_lost"] == 5
        blocker.unlink()
        monkeypatch.setattr(time, "monotonic", lambda: 1e12)
        sink.write(line(9))
        assert (blocker / "llmlog.jsonl").read_bytes() == line(9)


class TestStreamSink:
    def test_stdout_is_looked_up_at_each_write(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Writes go to whatever sys.stdout is at the time."""
        sink = sink_for("stdout", max_bytes=0, backup_count=0, retention_days=0)
        assert isinstance(sink, StreamSink)
        sink.write(b'{"a": 1}\n')
        assert capsys.readouterr().out == '{"a": 1}\n'

    @pytest.mark.parametrize("encoding", ["ascii", "latin-1", "cp1252"])
    @pytest.mark.parametrize("name", ["stdout", "stderr"])
    def test_a_non_utf8_stream_still_gets_the_record_in_utf8(
        self, monkeypatch: pytest.MonkeyPatch, encoding: str, name: str
    ) -> None:
        """LANG=C (ascii) or a Windows code page: the record is written as UTF-8 bytes,
        never lost to an encoding error; the app's pending text comes out first."""
        _guard._reset_for_tests()
        raw = io.BytesIO()
        stream = io.TextIOWrapper(raw, encoding=encoding, write_through=False)
        monkeypatch.setattr(sys, name, stream)
        record = json.dumps({"text": "café ☕ 𝄞"}, ensure_ascii=False).encode() + b"\n"
        stream.write("app line\n")  # still in the text layer
        StreamSink(name).write(record)
        assert raw.getvalue() == b"app line\n" + record
        assert _guard.counts.get("sink_lost", 0) == 0

    def test_a_text_only_stream_that_cannot_encode_gets_json_escapes(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """No binary buffer to write to: non-ASCII is escaped the JSON way, same record."""

        class AsciiOnly:
            def __init__(self) -> None:
                self.text = ""

            def write(self, text: str) -> int:
                text.encode("ascii")
                self.text += text
                return len(text)

            def flush(self) -> None:
                pass

        _guard._reset_for_tests()
        stream = AsciiOnly()
        monkeypatch.setattr(sys, "stdout", stream)
        value = {"text": "café ☕ 𝄞", "n": 1}
        StreamSink("stdout").write(json.dumps(value, ensure_ascii=False).encode() + b"\n")
        assert stream.text.endswith("\n") and stream.text.isascii()
        assert json.loads(stream.text) == value
        assert _guard.counts.get("sink_lost", 0) == 0


class TestPaths:
    def test_a_relative_path_is_fixed_when_the_sink_is_made(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An app that chdirs after instrument() keeps writing to the same file."""
        monkeypatch.chdir(tmp_path)
        sink = FileSink("logs/llmlog.jsonl")
        assert sink.path == tmp_path / "logs" / "llmlog.jsonl"
        (tmp_path / "elsewhere").mkdir()
        monkeypatch.chdir(tmp_path / "elsewhere")
        sink.write(line(0))
        sink.close()
        assert (tmp_path / "logs" / "llmlog.jsonl").read_bytes() == line(0)
        assert not (tmp_path / "elsewhere" / "logs").exists()


class TestPermissions:
    def test_every_missing_directory_is_created_0700(self, tmp_path: Path) -> None:
        """Under umask 000 too: parents made on the way are as private as the last one."""
        previous = os.umask(0)
        try:
            sink = FileSink(tmp_path / "a" / "b" / "logs" / "llmlog.jsonl")
            sink.write(line(0))
            sink.close()
        finally:
            os.umask(previous)
        for directory in ("a", "a/b", "a/b/logs"):
            assert stat.S_IMODE(os.stat(tmp_path / directory).st_mode) == 0o700, directory
        assert stat.S_IMODE(os.stat(tmp_path / "a/b/logs/llmlog.jsonl").st_mode) == 0o600

    def test_an_existing_readable_file_is_reported_once_and_left_alone(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The app's own choice of mode is kept, but stderr names the file and its mode."""
        _guard._reset_for_tests()
        path = tmp_path / "llmlog.jsonl"
        path.write_bytes(b"")
        path.chmod(0o644)
        for _ in range(2):
            sink = FileSink(path)
            sink.write(line(0))
            sink.close()
        err = capsys.readouterr().err
        assert err.count(f"{path} has mode 0o644") == 1
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        assert len(path.read_bytes().splitlines()) == 2

    def test_a_device_is_not_reported(self, capsys: pytest.CaptureFixture[str]) -> None:
        """/dev/null is 0666 by design and keeps nothing: no "chmod 600 /dev/null" advice."""
        _guard._reset_for_tests()
        sink = FileSink("/dev/null")
        sink.write(line(0))
        sink.close()
        assert capsys.readouterr().err == ""
        assert _guard.counts.get("sink_lost", 0) == 0

    def test_a_private_file_is_not_reported(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        _guard._reset_for_tests()
        sink = FileSink(tmp_path / "llmlog.jsonl")
        sink.write(line(0))
        sink.close()
        assert capsys.readouterr().err == ""
