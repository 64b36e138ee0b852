"""Reading logs back: a gzipped export, files llmlog does not name, standard input,
``tail -f`` whose reader went away, and which calls count as unpriced."""

from __future__ import annotations

import csv
import gzip
import io
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from llmlog.cli import main
from llmlog.cli._logs import locate
from test_cli_main import make_real_log, schema_record, write_jsonl

ENGINES = ("duckdb", "python")


@pytest.fixture(scope="module")
def real_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    """Three priced calls and a failed one (HTTP 500, no usage) through the real SDKs."""
    return make_real_log(tmp_path_factory)


def stats_group(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    """The one group of ``stats --json``."""
    assert main(["stats", "--json", *argv]) == 0
    (group,) = orjson.loads(capsys.readouterr().out)["groups"]
    assert isinstance(group, dict)
    return group


class TestGzipExport:
    @pytest.mark.parametrize("form", ["jsonl", "openai-chat"])
    def test_a_gz_name_gets_gzip_that_reads_back_as_the_calls(
        self,
        real_log: tuple[Path, list[Any]],
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        form: str,
    ) -> None:
        """`-o archive.jsonl.gz` wrote plain lines under a gzip name: read back, `stats`
        showed 0 calls and `check` checked nothing. Now the file is gzip (0600, like the
        log), and stats and check read every call in it."""
        log, records = real_log
        out = tmp_path / "archive.jsonl.gz"
        assert main(["export", "--log", str(log), "--format", form, "-o", str(out)]) == 0
        assert out.read_bytes()[:2] == b"\x1f\x8b"
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        lines = [orjson.loads(line) for line in gzip.decompress(out.read_bytes()).splitlines()]
        if form == "openai-chat":
            assert len(lines) == 3 and all("messages" in line for line in lines)
            return
        assert lines == records
        capsys.readouterr()
        assert stats_group(capsys, "--log", str(out))["calls"] == 4
        assert main(["check", "--log", str(out), "--max-error-rate", "1%"]) == 1
        assert capsys.readouterr().out.startswith("FAIL error rate 25.00% > 1.00% (1 of 4 calls)")

    def test_a_csv_gz_is_gzipped_csv(
        self, real_log: tuple[Path, list[Any]], tmp_path: Path
    ) -> None:
        """csv under a .gz name is gzipped too (pandas and DuckDB read calls.csv.gz)."""
        out = tmp_path / "calls.csv.gz"
        assert main(["export", "--log", str(real_log[0]), "--format", "csv", "-o", str(out)]) == 0
        rows = list(csv.DictReader(io.StringIO(gzip.decompress(out.read_bytes()).decode())))
        assert [row["id"] for row in rows] == [r["id"] for r in real_log[1]]

    def test_parquet_under_a_gz_name_is_refused_before_any_file_is_made(
        self,
        real_log: tuple[Path, list[Any]],
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Parquet is compressed inside; a gzip of it is read by nothing: exit 2, no file."""
        out = tmp_path / "calls.parquet.gz"
        argv = ["export", "--log", str(real_log[0]), "--format", "parquet", "-o", str(out)]
        assert main(argv) == 2
        assert "name it FILE.parquet" in capsys.readouterr().err
        assert list(tmp_path.iterdir()) == []


class TestNamesAndStreams:
    def test_a_directory_of_other_names_says_what_it_holds_and_what_is_read(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`--log DIR` holding only calls.log said "nothing logged yet?"; it names the
        files found, which names are read, and the way out."""
        write_jsonl(tmp_path / "calls.log", [schema_record(1)])
        assert main(["stats", "--log", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert f"no log files in {tmp_path}: it holds calls.log, but" in err
        assert "*.jsonl and *.jsonl.gz" in err and "pass --log FILE" in err
        assert "nothing logged yet" not in err

    def test_a_directory_with_only_the_writers_key_file_has_nothing_logged_yet(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Hidden files (the writer's .llmlog-hash-key) are not named as files found."""
        (tmp_path / ".llmlog-hash-key").write_bytes(b"k" * 32)
        assert main(["stats", "--log", str(tmp_path)]) == 2
        assert "(nothing logged yet?)" in capsys.readouterr().err

    @pytest.mark.parametrize("as_dir", [False, True])
    def test_logrotates_numbered_files_are_read_oldest_first(
        self, tmp_path: Path, as_dir: bool, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """logrotate's `llmlog.jsonl.1` and `llmlog.jsonl.2.gz` are rotated files of
        llmlog.jsonl: read, the highest number (the oldest) first, the active file last."""
        oldest = tmp_path / "llmlog.jsonl.2.gz"
        oldest.write_bytes(gzip.compress(orjson.dumps(schema_record(1)) + b"\n"))
        older = write_jsonl(tmp_path / "llmlog.jsonl.1", [schema_record(2)])
        active = write_jsonl(tmp_path / "llmlog.jsonl", [schema_record(3)])
        log = str(tmp_path if as_dir else active)
        assert locate(log).files() == [oldest, older, active]
        assert stats_group(capsys, "--log", log)["calls"] == 3

    def test_an_export_under_a_numbered_name_beside_the_log_is_refused(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`-o llmlog.jsonl.1` beside the log would be read as part of it next time."""
        log = write_jsonl(tmp_path / "llmlog.jsonl", [schema_record(1)])
        assert main(["export", "--log", str(log), "-o", str(tmp_path / "llmlog.jsonl.1")]) == 2
        assert "named like a rotated file of the log" in capsys.readouterr().err

    def test_standard_input_is_refused_with_the_way_out(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`--log -` said "no log files at -"; it says why a pipe is not read and what to do."""
        assert main(["stats", "--log", "-"]) == 2
        err = capsys.readouterr().err
        assert "cannot read the log from standard input" in err
        assert "save it to a file first" in err

    def test_a_pipe_named_as_the_log_is_refused_without_blocking(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A FIFO (what `--log /dev/stdin` is under `docker logs app |`) is refused by its
        type, before it is opened (opening it would wait for a writer)."""
        fifo = tmp_path / "calls.fifo"
        os.mkfifo(fifo)
        assert main(["stats", "--log", str(fifo)]) == 2
        assert f"cannot read the log from {fifo}: a pipe or device can be read only once" in (
            capsys.readouterr().err
        )

    def test_dev_stdin_piped_into_is_refused_and_a_redirected_file_is_read(
        self, tmp_path: Path
    ) -> None:
        """`cat log | llmlog stats --log /dev/stdin` is refused; `< log` is a file: read."""
        log = write_jsonl(tmp_path / "calls.log", [schema_record(1), schema_record(2)])
        argv = [sys.executable, "-m", "llmlog.cli", "stats", "--json", "--log", "/dev/stdin"]
        piped = subprocess.run(argv, input=log.read_bytes(), capture_output=True, timeout=60)
        assert piped.returncode == 2
        assert b"cannot read the log from /dev/stdin" in piped.stderr
        with log.open("rb") as redirected:
            read = subprocess.run(argv, stdin=redirected, capture_output=True, timeout=60)
        assert read.returncode == 0, read.stderr
        assert orjson.loads(read.stdout)["groups"][0]["calls"] == 2


class TestTailFollowsItsReader:
    def test_tail_f_ends_when_the_reader_of_its_output_exits(self, tmp_path: Path) -> None:
        """`llmlog tail -f | grep -m1 X` kept running after grep exited, until a later record
        was written. It ends (exit 0, nothing on stderr) once its reader is gone. The
        timeouts only guard against a hang; nothing is timed."""
        log = write_jsonl(tmp_path / "llmlog.jsonl", [schema_record(1)])
        tail = subprocess.Popen(
            [sys.executable, "-m", "llmlog.cli", "tail", "-f", "--log", str(log)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        reader = subprocess.Popen(
            [sys.executable, "-c", "import sys; sys.stdout.write(sys.stdin.readline())"],
            stdin=tail.stdout,
            stdout=subprocess.PIPE,
        )
        assert tail.stdout is not None
        tail.stdout.close()  # the reader holds the only read end now
        line, _ = reader.communicate(timeout=60)
        assert b"gpt-4o" in line
        try:
            status = tail.wait(timeout=60)
        except subprocess.TimeoutExpired:
            tail.kill()
            tail.communicate()
            pytest.fail("tail -f kept running after the reader of its output exited")
        assert tail.stderr is not None
        assert (status, tail.stderr.read()) == (0, b"")


class TestUnpriced:
    @pytest.mark.parametrize("engine", ENGINES)
    def test_a_failed_call_without_usage_is_not_unpriced(
        self, real_log: tuple[Path, list[Any]], engine: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The real log's failed call (HTTP 500: no usage, not billed; its record now says so)
        made stats mark the cost incomplete, where check leaves such calls out. One rule now,
        in both engines."""
        log, records = real_log
        assert [(r["status"], r["usage"], r["cost_usd"]) for r in records[3:]] == [
            ("error", None, 0.0)
        ]
        group = stats_group(capsys, "--log", str(log), "--engine", engine)
        assert (group["calls"], group["unpriced_calls"]) == (4, 0)
        assert main(["stats", "--log", str(log), "--by", "status", "--engine", engine]) == 0
        rows = capsys.readouterr().out.splitlines()[2:]
        assert not [row for row in rows if row.rstrip().endswith(("*", "-"))]

    @pytest.mark.parametrize("engine", ENGINES)
    def test_unpriced_calls_that_may_be_billed_still_count(
        self, tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without a cost: a successful call, a cancelled one and a failed one that reported
        usage (billed for it) or streamed content are unpriced; a failed one without usage
        or content is not."""
        records = [
            schema_record(1, cost_usd=None),
            schema_record(2, cost_usd=None, status="cancelled", usage=None),
            schema_record(3, cost_usd=None, status="error"),
            schema_record(4, cost_usd=None, status="error", usage=None),
            schema_record(5, cost_usd=None, status="error", usage="10 tokens"),  # no usage
            # a stream that failed after its first words: tokens were generated, and billed
            schema_record(6, cost_usd=None, status="error", usage=None, ttft_ms=120.0),
        ]
        log = write_jsonl(tmp_path / "llmlog.jsonl", records)
        assert stats_group(capsys, "--log", str(log), "--engine", engine)["unpriced_calls"] == 4

    def test_check_and_stats_agree_on_a_day_of_failed_calls(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A day whose calls all failed without usage billed nothing: stats shows $0, and
        check judges the day ($0), not "unpriced"."""
        records = [schema_record(n, cost_usd=None, status="error", usage=None) for n in (1, 29)]
        log = write_jsonl(tmp_path / "llmlog.jsonl", records)
        assert main(["stats", "--log", str(log)]) == 0
        assert capsys.readouterr().out.splitlines()[-1].rstrip().endswith("$0")
        assert main(["check", "--log", str(log), "--max-cost-per-day", "5"]) == 0
        assert capsys.readouterr().out.splitlines() == [
            "ok: 2 calls checked, every threshold holds"
        ]
