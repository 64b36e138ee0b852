"""Finding the log (``--log``, ``LLMLOG_OUTPUT``, the default) and reading its files."""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import orjson
import pytest

from llmlog.cli import main
from llmlog.cli._logs import CliError, iter_records, locate
from test_cli_main import schema_record, write_jsonl


class TestLocate:
    def test_log_flag_wins(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """--log beats LLMLOG_OUTPUT."""
        monkeypatch.setenv("LLMLOG_OUTPUT", str(tmp_path / "env.jsonl"))
        assert locate(str(tmp_path / "flag.jsonl")).path == tmp_path / "flag.jsonl"

    def test_env_is_read_through_settings(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without --log, LLMLOG_OUTPUT says where the log is; `llmlog path` prints it."""
        monkeypatch.setenv("LLMLOG_OUTPUT", str(tmp_path / "env.jsonl"))
        assert main(["path"]) == 0
        assert capsys.readouterr().out.strip() == str((tmp_path / "env.jsonl").resolve())

    def test_default_is_the_writers_default(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """No flag, no variable: ./llm_logs/llmlog.jsonl, as the writer uses."""
        monkeypatch.chdir(tmp_path)
        location = locate(None)
        assert location.path == Path("llm_logs/llmlog.jsonl") and not location.is_dir

    @pytest.mark.parametrize("stream", ["stdout", "stderr"])
    def test_a_stream_output_has_no_file_to_read(
        self, stream: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """LLMLOG_OUTPUT=stdout is explained, with the way out (--log)."""
        monkeypatch.setenv("LLMLOG_OUTPUT", stream)
        with pytest.raises(CliError, match="--log"):
            locate(None)

    def test_path_files_lists_rotated_siblings(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`llmlog path --files` names every file that makes up the log."""
        write_jsonl(tmp_path / "llmlog-20260101T000000Z-7.jsonl", [schema_record(1)])
        write_jsonl(tmp_path / "llmlog.jsonl", [schema_record(2)])
        assert main(["path", "--files", "--log", str(tmp_path / "llmlog.jsonl")]) == 0
        assert len(capsys.readouterr().out.splitlines()) == 2


class TestFiles:
    def test_rotated_files_come_first_and_unrelated_files_are_ignored(self, tmp_path: Path) -> None:
        """<stem>-<UTC time>-<pid>.jsonl[.gz] siblings (the writer's rotated names, not any
        <stem>-* file), oldest first, then the active file."""
        old = write_jsonl(tmp_path / "llmlog-20260101T000000Z-1.jsonl", [schema_record(1)])
        older = tmp_path / "llmlog-20251201T000000Z-1.jsonl.gz"
        with gzip.open(older, "wb") as packed:
            packed.write(orjson.dumps(schema_record(2)) + b"\n")
        active = write_jsonl(tmp_path / "llmlog.jsonl", [schema_record(3)])
        write_jsonl(tmp_path / "notes.jsonl", [schema_record(4)])
        write_jsonl(tmp_path / "llmlog-worker.jsonl", [schema_record(5)])  # another service's log
        now = time.time()
        os.utime(older, (now - 20, now - 20))
        os.utime(old, (now - 10, now - 10))
        files = locate(str(active)).files()
        assert files == [older, old, active]
        assert [r["id"] for r in iter_records(files)] == [schema_record(n)["id"] for n in (2, 1, 3)]

    def test_a_directory_means_every_log_file_in_it(self, tmp_path: Path) -> None:
        """--log DIR reads all *.jsonl and *.jsonl.gz there, and nothing else."""
        write_jsonl(tmp_path / "a.jsonl", [schema_record(1)])
        write_jsonl(tmp_path / "b.jsonl", [schema_record(2)])
        (tmp_path / "readme.txt").write_text("not a log")
        assert len(locate(str(tmp_path)).files()) == 2

    def test_damaged_lines_anywhere_are_skipped_and_counted_once(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Bad lines in the middle and at the end: one warning naming the first line."""
        log = write_jsonl(
            tmp_path / "l.jsonl", [schema_record(1)], tail=b"garbage\n[1, 2]\n" + b'{"id": "x'
        )
        assert len(list(iter_records([log]))) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "3 lines (first: line 2)" in err

    def test_a_missing_directory_is_a_clear_error(self, tmp_path: Path) -> None:
        """Pointing at a directory that does not exist says which."""
        with pytest.raises(CliError, match="does not exist"):
            locate(str(tmp_path / "gone") + "/").files()
