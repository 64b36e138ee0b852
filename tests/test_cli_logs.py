"""Finding the log (``--log``, ``LLMLOG_OUTPUT``, the default) and reading its files."""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from llmlog.cli import main
from llmlog.cli._logs import CliError, iter_records, locate
from test_cli_main import make_real_log, schema_record, write_jsonl


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

    def test_a_rotated_file_damaged_inside_is_read_up_to_the_damage(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """zlib's own error (a bad deflate block), not only gzip's: a warning, no traceback,
        and no exit 1 that `check` would mean as a breach."""
        (tmp_path / "llmlog.jsonl").write_bytes(b"")
        lines = b"".join(orjson.dumps(schema_record(n)) + b"\n" for n in range(400))
        packed = bytearray(gzip.compress(lines))
        packed[100:108] = b"\xff" * 8  # zlib: "invalid distance too far back"
        (tmp_path / "llmlog-20260101T000000Z-1.jsonl.gz").write_bytes(bytes(packed))
        read = list(iter_records(locate(str(tmp_path / "llmlog.jsonl")).existing_files()))
        assert len(read) < 400
        assert "stopped reading at a damaged part" in capsys.readouterr().err
        status = main(["check", "--log", str(tmp_path), "--max-error-rate", "50%"])
        assert status == 0

    def test_a_missing_directory_is_a_clear_error(self, tmp_path: Path) -> None:
        """Pointing at a directory that does not exist says which."""
        with pytest.raises(CliError, match="does not exist"):
            locate(str(tmp_path / "gone") + "/").files()


class TestOrder:
    @pytest.mark.parametrize("by_dir", [False, True])
    def test_rotated_files_are_ordered_by_the_time_in_their_name_not_their_mtime(
        self, tmp_path: Path, by_dir: bool, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A copied or restored log has fresh mtimes; the writer's names still say the order,
        so --limit keeps the records that are really the most recent."""
        names = [
            "llmlog-20251231T235959Z-9.jsonl.gz",
            "llmlog-20260101T000000.000001Z-1.jsonl",
            "llmlog-20260102T000000.000001Z-1.jsonl",
        ]
        paths = []
        for number, name in enumerate(names, start=1):
            path = tmp_path / name
            if name.endswith(".gz"):
                with gzip.open(path, "wb") as packed:
                    packed.write(orjson.dumps(schema_record(number)) + b"\n")
            else:
                write_jsonl(path, [schema_record(number)])
            paths.append(path)
        active = write_jsonl(tmp_path / "llmlog.jsonl", [schema_record(4)])
        now = time.time()
        for age, path in enumerate([active, *paths]):  # newest name, oldest mtime
            os.utime(path, (now - 100 * age, now - 100 * age))
        log = str(tmp_path) if by_dir else str(active)
        assert locate(log).files() == [*paths, active]
        assert main(["path", "--files", "--log", log]) == 0
        listed = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
        assert listed == [str(p.resolve()) for p in (*paths, active)]
        assert main(["tail", "--log", log, "--limit", "1"]) == 0
        assert schema_record(4)["id"][:12] in capsys.readouterr().out

    def test_records_of_an_unknown_schema_are_skipped_with_one_warning(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Every command reads through iter_records: schema 2 (a newer writer) is left out."""
        log = write_jsonl(
            tmp_path / "l.jsonl",
            [schema_record(1), schema_record(2, schema=2), schema_record(3, schema=None)],
        )
        assert [r["id"] for r in iter_records([log])] == [schema_record(1)["id"]]
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "2 records of an unknown schema skipped" in err


@pytest.fixture(scope="module")
def real_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    return make_real_log(tmp_path_factory)


class TestOtherFiles:
    @pytest.mark.parametrize(
        ("argv", "skipped"),
        [
            (
                ["stats", "--json", "--engine", "python"],
                "skipped line 5 (not a complete JSON record, or not llmlog's)",
            ),
            (
                ["stats", "--json", "--engine", "duckdb"],
                "skipped 1 line (not a complete JSON record, or not llmlog's",
            ),
            (["tail"], "skipped line 5 (not a complete JSON record, or not llmlog's)"),
        ],
    )
    def test_another_programs_json_line_is_skipped_as_foreign_by_both_engines(
        self,
        tmp_path: Path,
        real_log: tuple[Path, list[Any]],
        capsys: pytest.CaptureFixture[str],
        argv: list[str],
        skipped: str,
    ) -> None:
        """A JSON object without ``event`` (another program's log line in the file) was "a
        record of an unknown schema ... a newer llmlog may read them" to the Python reader
        and a foreign line to DuckDB's: both skip it as not llmlog's."""
        log = tmp_path / "llmlog.jsonl"
        log.write_bytes(real_log[0].read_bytes() + b'{"level": "info", "msg": "started"}\n')
        assert main([*argv, "--log", str(log)]) == 0
        captured = capsys.readouterr()
        if argv[0] == "stats":
            assert sum(g["calls"] for g in orjson.loads(captured.out)["groups"]) == 4
        else:
            assert len(captured.out.splitlines()) == 4
        assert skipped in captured.err and "unknown schema" not in captured.err

    @pytest.mark.parametrize("by_dir", [False, True])
    def test_a_rotated_file_and_its_gz_copy_are_read_once(
        self,
        tmp_path: Path,
        real_log: tuple[Path, list[Any]],
        capsys: pytest.CaptureFixture[str],
        by_dir: bool,
    ) -> None:
        """`gzip -k` (or logrotate between compressing and deleting) leaves a rotated file
        and its .gz side by side: the same records, counted twice. The plain one is read."""
        rotated = tmp_path / "llmlog-20260101T000000.000000Z-1.jsonl"
        rotated.write_bytes(real_log[0].read_bytes())
        Path(f"{rotated}.gz").write_bytes(gzip.compress(rotated.read_bytes()))
        active = write_jsonl(tmp_path / "llmlog.jsonl", [schema_record(1)])
        log = f"{tmp_path}/" if by_dir else str(active)
        assert locate(log).files() == [rotated, active]
        for engine in ("python", "duckdb"):
            assert main(["stats", "--json", "--engine", engine, "--log", log]) == 0
            groups = orjson.loads(capsys.readouterr().out)["groups"]
            assert sum(g["calls"] for g in groups) == 5
        assert main(["tail", "--log", log]) == 0
        assert len(capsys.readouterr().out.splitlines()) == 5


ANOTHER_UID = 2000
as_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="needs root, to give files to another user (uid 2000) as an attacker would",
)


def _forged(number: int) -> dict[str, Any]:
    return schema_record(number, id=f"01FORGED{number:018d}", cost_usd=999.0)


class TestPlantedFiles:
    """In a folder others can write to, a file under a rotated name is not the app's."""

    def test_a_rotated_name_dated_in_the_future_is_not_read(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """app-20991231T...: sorted last, read as the newest calls. Now skipped, with one
        warning naming it; a name dated a minute ahead (another clock) is still read."""
        log = write_jsonl(tmp_path / "app.jsonl", [schema_record(1)])
        write_jsonl(tmp_path / "app-20991231T000000.000000Z-1.jsonl", [_forged(2)])
        soon = time.strftime("%Y%m%dT%H%M%S", time.gmtime(time.time() + 60))
        write_jsonl(tmp_path / f"app-{soon}.000000Z-1.jsonl", [schema_record(3)])
        assert main(["stats", "--log", str(log), "--json", "--engine", "python"]) == 0
        captured = capsys.readouterr()
        assert orjson.loads(captured.out)["groups"][0]["calls"] == 2
        assert captured.err.count("llmlog: warning:") == 1
        assert "app-20991231T000000.000000Z-1.jsonl (dated ahead of now)" in captured.err

    @as_root
    @pytest.mark.parametrize("as_directory", [False, True])
    def test_another_users_files_are_not_read(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], as_directory: bool
    ) -> None:
        """Files uid 2000 planted beside the app's log (a rotated name, a .jsonl in a --log
        directory) held records stats, check and replay took for the app's calls."""
        shared = tmp_path / "shared"
        log = write_jsonl(shared / "app.jsonl", [schema_record(1)])
        shared.chmod(0o1777)
        planted = [
            write_jsonl(shared / "app-20260101T000000.000000Z-1.jsonl", [_forged(2)]),
            write_jsonl(shared / "extra.jsonl", [_forged(3)]),
        ]
        for path in planted:
            os.chown(path, ANOTHER_UID, ANOTHER_UID)
        where = str(shared) if as_directory else str(log)
        assert main(["stats", "--log", where, "--json", "--engine", "python"]) == 0
        captured = capsys.readouterr()
        assert orjson.loads(captured.out)["groups"][0]["calls"] == 1
        assert f"app-20260101T000000.000000Z-1.jsonl (uid {ANOTHER_UID})" in captured.err
        assert main(["show", "--log", where, "01FORGED"]) == 2
        assert "no record with an id starting '01FORGED'" in capsys.readouterr().err

    @as_root
    def test_root_reads_the_log_of_the_user_who_owns_it(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An admin inspecting an app's log as root reads every file of the app's user."""
        folder = tmp_path / "app_logs"
        log = write_jsonl(folder / "app.jsonl", [schema_record(1)])
        rotated = write_jsonl(folder / "app-20260101T000000.000000Z-1.jsonl", [schema_record(2)])
        for path in (folder, log, rotated):
            os.chown(path, ANOTHER_UID, ANOTHER_UID)
        for where in (log, folder):
            assert main(["stats", "--log", str(where), "--json", "--engine", "python"]) == 0
            captured = capsys.readouterr()
            assert orjson.loads(captured.out)["groups"][0]["calls"] == 2 and captured.err == ""
