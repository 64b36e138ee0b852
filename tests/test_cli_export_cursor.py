"""``llmlog export --cursor FILE``: every call written since the last run, exactly once."""

from __future__ import annotations

import fcntl
import gzip
import os
import stat
from pathlib import Path
from typing import Any

import orjson
import pytest

import llmlog
import openai_fakes as fakes
from llmlog._file_sink import FileSink
from llmlog.cli import main
from test_cli_at_scale import call

LINE = len(orjson.dumps(call(1)) + b"\n")  # every test record's line is this long


def line(n: int, **fields: Any) -> bytes:
    return orjson.dumps(call(n, **fields)) + b"\n"


def append(path: Path, *numbers: int) -> None:
    with path.open("ab") as out:
        out.write(b"".join(line(n) for n in numbers))


def exported(log: Path, cursor: Path, *argv: str) -> list[int]:
    """The call numbers one ``export --cursor`` run writes (it must succeed)."""
    out = cursor.parent / "batch.jsonl"
    status = main(["export", "--log", str(log), "--cursor", str(cursor), "-o", str(out), *argv])
    assert status == 0
    return [int(orjson.loads(row)["id"][3:9]) for row in out.read_bytes().splitlines()]


@pytest.fixture
def log(tmp_path: Path) -> Path:
    folder = tmp_path / "logs"
    folder.mkdir()
    return folder / "llmlog.jsonl"


@pytest.fixture
def cursor(tmp_path: Path) -> Path:
    return tmp_path / "export.cursor"


class TestExactlyOnce:
    def test_three_runs_with_writes_between_export_each_call_once(
        self, log: Path, cursor: Path
    ) -> None:
        """The first run (no cursor file yet) exports everything; each later run only what
        was written since, by llmlog's own writer; a run with nothing new exports nothing."""
        sink = FileSink(log)
        for n in (1, 2):
            sink.write(line(n))
        assert exported(log, cursor) == [1, 2]
        for n in (3, 4, 5):
            sink.write(line(n))
        assert exported(log, cursor) == [3, 4, 5]
        assert exported(log, cursor) == []
        sink.write(line(6))
        sink.close()
        assert exported(log, cursor) == [6]

    def test_a_long_call_written_after_a_short_one_is_exported(
        self, log: Path, cursor: Path
    ) -> None:
        """A stream started before a quick call ends after it: its record, with the earlier
        ts, is written later, and the run after that exports it (a ts watermark loses it)."""
        llmlog.instrument(output=str(log), redact="off")
        try:
            slow = fakes.sync_client(
                lambda _: fakes.sse_response(fakes.chat_chunks(pieces=("slow", "answer")))
            )
            quick = fakes.sync_client(lambda _: fakes.json_response(fakes.chat_completion()))
            stream = slow.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "A long"}], stream=True
            )
            next(iter(stream))
            quick.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "B quick"}]
            )
            assert llmlog.flush(10)
            first = prompts(log, cursor)
            for _ in stream:
                pass
            assert llmlog.flush(10)
            second = prompts(log, cursor)
        finally:
            llmlog.uninstrument()
        assert (first, second) == (["B quick"], ["A long"])
        ts = [orjson.loads(row)["ts"] for row in log.read_bytes().splitlines()]
        assert ts[1] < ts[0]  # A started first, was written last

    def test_a_partial_last_line_waits_until_it_is_complete(self, log: Path, cursor: Path) -> None:
        """A line the writer has not finished is not exported (nor skipped as broken): the
        next run, once it ends in a newline, exports it."""
        third = line(3)
        log.write_bytes(line(1) + line(2) + third[:100])
        assert exported(log, cursor) == [1, 2]
        append_bytes(log, third[100:] + line(4))
        assert exported(log, cursor) == [3, 4]


def append_bytes(path: Path, data: bytes) -> None:
    with path.open("ab") as out:
        out.write(data)


def prompts(log: Path, cursor: Path) -> list[str]:
    out = cursor.parent / "batch.jsonl"
    assert main(["export", "--log", str(log), "--cursor", str(cursor), "-o", str(out)]) == 0
    rows = [orjson.loads(row) for row in out.read_bytes().splitlines()]
    return [row["messages"][0]["content"] for row in rows]


class TestRotation:
    def test_llmlogs_own_rotation_continues_the_renamed_file(self, log: Path, cursor: Path) -> None:
        """The writer renames the full file aside between runs: the calls written to it
        after the last run and those in the new active file are exported, once; gzipping
        the rotated file later exports nothing again."""
        sink = FileSink(log, max_bytes=3 * LINE)
        for n in (1, 2):
            sink.write(line(n))
        assert exported(log, cursor) == [1, 2]
        for n in (3, 4, 5):
            sink.write(line(n))
        (rotated,) = [p for p in log.parent.iterdir() if p != log]
        assert exported(log, cursor) == [3, 4, 5]
        gzip_file(rotated)
        sink.write(line(6))
        sink.close()
        assert exported(log, cursor) == [6]

    def test_logrotates_rename_then_later_gzip(self, log: Path, cursor: Path) -> None:
        """logrotate moves the file to ``.1`` (calls written after the last run still in
        it) and the app starts a new file; at the next rotation ``.1`` becomes ``.2.gz``
        (``delaycompress``): nothing is exported twice, nothing lost."""
        append(log, 1, 2)
        assert exported(log, cursor) == [1, 2]
        append(log, 3)
        first = log.with_name("llmlog.jsonl.1")
        log.rename(first)
        append(log, 4)
        assert exported(log, cursor) == [3, 4]
        append(log, 5)
        gzip_file(first, log.with_name("llmlog.jsonl.2.gz"))
        log.rename(first)
        append(log, 6)
        assert exported(log, cursor) == [5, 6]
        assert exported(log, cursor) == []

    def test_a_gz_on_the_inode_of_another_exported_file(self, log: Path, cursor: Path) -> None:
        """gzip deletes a file and the next new file may get its inode: ``.2.gz`` (the
        calls of ``.2``) on the inode ``.1`` had. Matched by its first bytes, not taken
        for ``.1`` rewritten: nothing is exported again."""
        first, second = log.with_name("llmlog.jsonl.1"), log.with_name("llmlog.jsonl.2")
        append(second, 1, 2)
        append(first, 3, 4)
        append(log, 5)
        assert sorted(exported(log, cursor)) == [1, 2, 3, 4, 5]
        packed = gzip.compress(second.read_bytes())
        with first.open("r+b") as reused:  # .1's inode, now holding .2's calls gzipped
            reused.truncate(0)
            reused.write(packed)
        first.rename(log.with_name("llmlog.jsonl.2.gz"))
        second.unlink()
        assert exported(log, cursor) == []

    def test_a_rotated_file_gzipped_with_calls_not_yet_exported(
        self, log: Path, cursor: Path
    ) -> None:
        """Rotated and compressed between two runs (``compress`` without ``delaycompress``):
        the ``.gz`` is read on from where its plain file was left."""
        append(log, 1, 2)
        assert exported(log, cursor) == [1, 2]
        append(log, 3)
        gzip_file(log, log.with_name("llmlog.jsonl.1.gz"))
        append(log, 4)
        assert exported(log, cursor) == [3, 4]

    def test_an_unchanged_gz_is_not_decompressed_again(
        self, log: Path, cursor: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A rotated ``.gz`` read to its end last run, the same size on disk: not read past
        its first bytes (a month of compressed logs is not decompressed at every run)."""
        append(log, *range(1, 9))
        gzip_file(log, log.with_name("llmlog.jsonl.1.gz"))
        append(log, 9)
        assert exported(log, cursor) == [*range(1, 10)]
        seeks: list[int] = []
        real_seek = gzip.GzipFile.seek

        def counting_seek(stream: gzip.GzipFile, offset: int, whence: int = 0) -> int:
            seeks.append(offset)
            return real_seek(stream, offset, whence)

        monkeypatch.setattr(gzip.GzipFile, "seek", counting_seek)
        assert exported(log, cursor) == []
        assert seeks == []

    def test_a_deleted_file_is_forgotten(self, log: Path, cursor: Path) -> None:
        """A rotated file deleted (pruned) leaves the cursor; the others go on."""
        append(log, 1)
        rotated = log.with_name("llmlog.jsonl.1")
        log.rename(rotated)
        append(log, 2)
        assert exported(log, cursor) == [1, 2]
        rotated.unlink()
        append(log, 3)
        assert exported(log, cursor) == [3]
        names = [mark["name"] for mark in orjson.loads(cursor.read_bytes())["files"]]
        assert names == ["llmlog.jsonl"]


def gzip_file(plain: Path, packed: Path | None = None) -> Path:
    """``gzip plain`` (the plain file removed), to ``packed`` if given."""
    packed = packed or plain.with_name(plain.name + ".gz")
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    return packed


class TestTruncation:
    def test_a_file_shorter_than_the_cursor_is_read_from_its_start(
        self, log: Path, cursor: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Emptied (``truncate -s 0``, copytruncate) and written again: its calls are
        exported, with a warning."""
        append(log, 1, 2, 3)
        assert exported(log, cursor) == [1, 2, 3]
        log.write_bytes(line(4))  # same inode, shorter than the offset
        assert exported(log, cursor) == [4]
        assert "truncated" in capsys.readouterr().err

    def test_a_file_truncated_and_regrown_past_the_cursor(
        self, log: Path, cursor: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Truncated, then longer than the offset again by the next run: its start no
        longer matches, so all of it is new."""
        append(log, 1)
        assert exported(log, cursor) == [1]
        log.write_bytes(line(2) + line(3))
        assert exported(log, cursor) == [2, 3]
        assert "truncated" in capsys.readouterr().err

    def test_a_file_cut_short_keeping_its_start_is_read_again(
        self, log: Path, cursor: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Shorter than the offset though it begins the same way (its end cut off): what
        it holds is read again from its start, with a warning, not skipped."""
        append(log, 1, 2, 3, 4, 5)
        assert exported(log, cursor) == [1, 2, 3, 4, 5]
        os.truncate(log, 4 * LINE)
        assert exported(log, cursor) == [1, 2, 3, 4]
        assert "truncated since the last run" in capsys.readouterr().err

    def test_copytruncate_copy_is_not_exported_again(self, log: Path, cursor: Path) -> None:
        """logrotate's ``copytruncate``: the copy is the file read before (its start matches),
        the original emptied and written to again."""
        append(log, 1, 2)
        assert exported(log, cursor) == [1, 2]
        append(log, 3)
        log.with_name("llmlog.jsonl.1").write_bytes(log.read_bytes())
        log.write_bytes(line(4))
        assert exported(log, cursor) == [3, 4]


class TestOptions:
    def test_filtered_out_calls_are_passed_over_for_good(self, log: Path, cursor: Path) -> None:
        """With --model the cursor still moves past the other calls: a later run without
        the filter does not export them."""
        log.write_bytes(line(1, model="gpt-4o") + line(2, model="claude-x") + line(3))
        assert exported(log, cursor, "--model", "claude-*") == [2]
        append(log, 4)
        assert exported(log, cursor) == [4]

    def test_limit_is_refused(
        self, log: Path, cursor: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--limit would skip calls for good or repeat them: exit 2, and no cursor made."""
        append(log, 1)
        argv = ["export", "--log", str(log), "--cursor", str(cursor), "--limit", "5"]
        assert main(argv) == 2
        assert "--limit cannot be used with --cursor" in capsys.readouterr().err
        assert not cursor.exists()

    def test_the_cursor_is_private_and_replaced_whole(self, log: Path, cursor: Path) -> None:
        """0600 under any umask, no temporary file left beside it."""
        append(log, 1)
        old = os.umask(0)
        try:
            exported(log, cursor)
        finally:
            os.umask(old)
        assert stat.S_IMODE(cursor.stat().st_mode) == 0o600
        assert sorted(p.name for p in cursor.parent.iterdir()) == [
            ".export.cursor.lock",
            "batch.jsonl",
            "export.cursor",
            "logs",
        ]

    def test_two_runs_at_once_are_refused(
        self, log: Path, cursor: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A run while another holds the cursor (an overlapping cron job) would export the
        same calls: exit 2; once that one is done, a run goes ahead."""
        append(log, 1)
        other = os.open(cursor.with_name(".export.cursor.lock"), os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(other, fcntl.LOCK_EX)
            assert main(["export", "--log", str(log), "--cursor", str(cursor)]) == 2
            assert "another llmlog export is running" in capsys.readouterr().err
        finally:
            os.close(other)
        assert exported(log, cursor) == [1]

    def test_a_damaged_cursor_is_refused(
        self, log: Path, cursor: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Not silently taken for a first run (which would export every call again)."""
        append(log, 1)
        cursor.write_text('{"files": 3}')
        assert main(["export", "--log", str(log), "--cursor", str(cursor)]) == 2
        assert "not an llmlog export cursor" in capsys.readouterr().err

    def test_a_cursor_among_the_logs_files_is_refused(
        self, log: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A cursor named like a rotated file of the log would be read as calls."""
        append(log, 1)
        bad = log.with_name("llmlog.jsonl.1")
        assert main(["export", "--log", str(log), "--cursor", str(bad)]) == 2
        assert "a file of the log, or named like one" in capsys.readouterr().err
        assert not bad.exists()

    def test_a_failed_export_leaves_the_cursor_alone(self, log: Path, cursor: Path) -> None:
        """The cursor moves only once the calls are written: an -o that cannot be written
        exports them next time."""
        append(log, 1)
        argv = ["export", "--log", str(log), "--cursor", str(cursor)]
        assert main([*argv, "-o", str(log.parent / "nowhere" / "x.jsonl")]) == 2
        assert not cursor.exists()
        assert exported(log, cursor) == [1]
