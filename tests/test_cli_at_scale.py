"""Reading real deployments' logs: ``--limit`` over a gzipped log read forward once, finding a
call by the provider's ids, logrotate's ``dateext`` names, a rotation while a command runs,
and ``--since`` leaving old files unread."""

from __future__ import annotations

import gzip
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from llmlog._log_files import prune_rotated, rotated_name
from llmlog.cli import main
from test_cli_main import schema_record, write_jsonl

START = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def call(n: int, ts: datetime | None = None, **fields: Any) -> dict[str, Any]:
    """A call record with an id whose first 12 characters (what ``tail`` shows) are its own."""
    when = ts or START + timedelta(seconds=n)
    ids = {
        "id": f"01H{n:06d}" + "A" * 17,
        "request_id": f"req_{n:08x}",
        "response_id": f"chatcmpl-{n:06d}",
        "prompt_hash": f"{n % 7:064x}",
    }
    return schema_record(n, ts=when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), **{**ids, **fields})


def write_gz(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_bytes(gzip.compress(b"".join(orjson.dumps(r) + b"\n" for r in records)))
    return path


def shown_ids(out: str) -> list[str]:
    """The (12-character) ids of ``tail``/``search`` lines."""
    return [line.split("  ")[1] for line in out.splitlines() if line.strip()]


class GzipReads:
    """Counts, per file, how often ``gzip.open`` opened it and how often a stream of it was
    asked to seek backwards (which decompresses again from the start)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.opens: Counter[str] = Counter()
        self.rewinds: Counter[str] = Counter()
        self.on_open: Callable[[str], None] | None = None
        real_open, real_seek = gzip.open, gzip.GzipFile.seek
        reads = self

        def counting_open(filename: Any, *args: Any, **kwargs: Any) -> Any:
            name = Path(filename).name
            reads.opens[name] += 1
            if reads.on_open is not None:
                reads.on_open(name)
            return real_open(filename, *args, **kwargs)

        def counting_seek(stream: gzip.GzipFile, offset: int, whence: int = 0) -> int:
            if whence == 0 and offset < stream.tell():
                reads.rewinds[Path(str(stream.name)).name] += 1
            return real_seek(stream, offset, whence)

        monkeypatch.setattr(gzip, "open", counting_open)
        monkeypatch.setattr(gzip.GzipFile, "seek", counting_seek)


@pytest.fixture
def gzip_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[GzipReads]:
    yield GzipReads(monkeypatch)


def completion_ordered(count: int) -> list[dict[str, Any]]:
    """``count`` calls as a busy app's writer puts them: each when it ended, while its ``ts``
    is when it started (so the file is not in ``ts`` order)."""
    rng = random.Random(7)
    calls = [call(n, latency_ms=rng.uniform(100, 20_000)) for n in range(1, count + 1)]
    return sorted(calls, key=lambda r: int(r["id"][3:9]) * 1000 + r["latency_ms"])


class TestLimitReadsForwardOnce:
    """`tail`, `search` and `export` with `--limit` read the newest N in time order again;
    in a `.gz` each step back reopened and decompressed from its start (37 s for
    `export --limit 1000` of 30,000 records). Now each file is read forward once."""

    @pytest.fixture
    def log(self, tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
        records = completion_ordered(300)
        write_gz(tmp_path / "llmlog.jsonl.1.gz", records[:250])
        write_jsonl(tmp_path / "llmlog.jsonl", records[250:])
        return tmp_path / "llmlog.jsonl", sorted(records, key=lambda r: r["ts"])

    def test_export_limit_opens_the_gz_twice_and_never_seeks_back(
        self,
        log: tuple[Path, list[dict[str, Any]]],
        gzip_reads: GzipReads,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        path, by_time = log
        out = tmp_path / "out" / "newest.jsonl"
        out.parent.mkdir()
        assert main(["export", "--log", str(path), "--limit", "120", "-o", str(out)]) == 0
        # Once to choose, once to read the chosen again: no reopening, no rewinding.
        assert gzip_reads.opens["llmlog.jsonl.1.gz"] == 2
        assert not gzip_reads.rewinds
        exported = [orjson.loads(line) for line in out.read_bytes().splitlines()]
        assert exported == by_time[-120:]  # in time order, whole

    @pytest.mark.parametrize("command", [["tail"], ["search", "question"]])
    def test_tail_and_search_limit_read_forward_in_time_order(
        self,
        log: tuple[Path, list[dict[str, Any]]],
        gzip_reads: GzipReads,
        capsys: pytest.CaptureFixture[str],
        command: list[str],
    ) -> None:
        path, by_time = log
        assert main([*command, "--log", str(path), "--limit", "80"]) == 0
        assert gzip_reads.opens["llmlog.jsonl.1.gz"] == 2
        assert not gzip_reads.rewinds
        assert shown_ids(capsys.readouterr().out) == [r["id"][:12] for r in by_time[-80:]]


class TestProviderIds:
    """ "Has it happened before?" by the id an error or a dashboard shows: `--request-id`,
    `--response-id`, `--prompt-hash` filters; `show` takes a request or response id;
    `search` given an id says which option finds it."""

    @pytest.fixture
    def log(self, tmp_path: Path) -> Path:
        return write_jsonl(tmp_path / "llmlog.jsonl", [call(n) for n in range(1, 31)])

    @pytest.mark.parametrize(
        ("option", "value", "numbers"),
        [
            ("--request-id", "req_0000000c", [12]),
            ("--response-id", "chatcmpl-000020", [20]),
            ("--prompt-hash", f"{3:064x}", [3, 10, 17, 24]),
        ],
    )
    def test_tail_selects_the_calls_with_that_id(
        self,
        log: Path,
        capsys: pytest.CaptureFixture[str],
        option: str,
        value: str,
        numbers: list[int],
    ) -> None:
        assert main(["tail", "--log", str(log), option, f" {value} ", "--limit", "50"]) == 0
        assert shown_ids(capsys.readouterr().out) == [call(n)["id"][:12] for n in numbers]

    def test_export_and_stats_take_the_same_filters(
        self, log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        out = tmp_path / "out.jsonl"
        assert (
            main(["export", "--log", str(log), "--prompt-hash", f"{5:064x}", "-o", str(out)]) == 0
        )
        assert [orjson.loads(line)["id"] for line in out.read_bytes().splitlines()] == [
            call(n)["id"] for n in (5, 12, 19, 26)
        ]
        capsys.readouterr()
        for engine in ("python", "duckdb"):
            argv = ["stats", "--json", "--engine", engine, "--log", str(log)]
            assert main([*argv, "--request-id", "req_00000001"]) == 0
            assert orjson.loads(capsys.readouterr().out)["groups"][0]["calls"] == 1
            assert main([*argv, "--prompt-hash", f"{5:064x}"]) == 0
            assert orjson.loads(capsys.readouterr().out)["groups"][0]["calls"] == 4

    def test_lines_without_the_id_are_not_parsed(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The id's bytes are looked for before a line is parsed, as `show` does: a damaged
        line without them is passed over unread (no warning about it)."""
        log = write_jsonl(tmp_path / "llmlog.jsonl", [call(1), call(2)], tail=b'{"event": "llm.c\n')
        assert main(["tail", "--log", str(log), "--request-id", "req_00000002"]) == 0
        captured = capsys.readouterr()
        assert shown_ids(captured.out) == [call(2)["id"][:12]]
        assert captured.err == ""

    @pytest.mark.parametrize("wanted", ["req_00000007", "chatcmpl-000007"])
    def test_show_finds_a_call_by_its_request_or_response_id(
        self, log: Path, capsys: pytest.CaptureFixture[str], wanted: str
    ) -> None:
        assert main(["show", "--json", "--log", str(log), wanted]) == 0
        assert orjson.loads(capsys.readouterr().out)["id"] == call(7)["id"]

    def test_show_names_the_calls_sharing_a_request_id(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        twice = [call(1), call(2, request_id="req_00000001")]
        log = write_jsonl(tmp_path / "llmlog.jsonl", twice)
        assert main(["show", "--log", str(log), "req_00000001"]) == 2
        err = capsys.readouterr().err
        assert "2 calls have the request or response id" in err and "--request-id" in err

    def test_show_of_an_unknown_id_says_what_it_looked_for(
        self, log: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["show", "--log", str(log), "req_ffffffff"]) == 2
        assert "nor a call with request id or response id 'req_ffffffff'" in capsys.readouterr().err

    @pytest.mark.parametrize(
        ("text", "option"),
        [
            ("req_0000000c", "--request-id"),
            ("chatcmpl-000020", "--response-id"),
            ("msg_01XFDUDYJgAACzvnptvVoYEL", "--response-id"),
            (f"{3:064x}", "--prompt-hash"),
        ],
    )
    def test_search_for_an_id_points_to_its_option(
        self, log: Path, capsys: pytest.CaptureFixture[str], text: str, option: str
    ) -> None:
        assert main(["search", "--log", str(log), text]) == 1
        err = capsys.readouterr().err
        assert f"no calls contain {text!r}" in err
        assert f"llmlog tail {option} {text}" in err

    def test_search_for_words_gives_no_id_hint(
        self, log: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["search", "--log", str(log), "refund policy"]) == 1
        assert "looks like an id" not in capsys.readouterr().err


class TestDateextNames:
    """logrotate's `dateext` (the default on RHEL, Fedora, Amazon Linux) names rotated files
    `llmlog.jsonl-20261122`; they were silently not read."""

    @pytest.fixture
    def folder(self, tmp_path: Path) -> Path:
        write_gz(tmp_path / "llmlog.jsonl-20260301.gz", [call(1), call(2)])
        write_jsonl(tmp_path / "llmlog.jsonl-2026030200", [call(3)])  # -%Y%m%d%H
        write_jsonl(tmp_path / "llmlog.jsonl-20260302", [call(4)])
        write_jsonl(tmp_path / "llmlog.jsonl", [call(5)])
        return tmp_path

    @pytest.mark.parametrize("where", ["file", "folder"])
    def test_dated_files_are_read_oldest_first(
        self, folder: Path, capsys: pytest.CaptureFixture[str], where: str
    ) -> None:
        log = str(folder / "llmlog.jsonl") if where == "file" else f"{folder}/"
        out = folder.parent / f"export-{where}.jsonl"
        assert main(["export", "--log", log, "-o", str(out)]) == 0
        # By the date in the name; a 10-digit stamp (hourly) after the day's 8-digit ones.
        assert [orjson.loads(line)["id"] for line in out.read_bytes().splitlines()] == [
            call(n)["id"] for n in (1, 2, 4, 3, 5)
        ]
        assert capsys.readouterr().err.count("warning") == 0

    def test_path_files_lists_them(self, folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["path", "--files", "--log", str(folder / "llmlog.jsonl")]) == 0
        names = [Path(line.split("\t")[0]).name for line in capsys.readouterr().out.splitlines()]
        assert names == [
            "llmlog.jsonl-20260301.gz",
            "llmlog.jsonl-20260302",
            "llmlog.jsonl-2026030200",
            "llmlog.jsonl",
        ]

    @pytest.mark.parametrize("where", ["file", "folder"])
    def test_siblings_under_other_names_are_named_once(
        self, folder: Path, capsys: pytest.CaptureFixture[str], where: str
    ) -> None:
        (folder / "llmlog.jsonl.1.bz2").write_bytes(b"BZh9")
        write_jsonl(folder / "llmlog.jsonl-2026-03-03", [call(6)])
        log = str(folder / "llmlog.jsonl") if where == "file" else f"{folder}/"
        assert main(["tail", "--log", log]) == 0
        err = capsys.readouterr().err
        assert err.count("llmlog: warning: not read as part of the log llmlog.jsonl") == 1
        assert "llmlog.jsonl-2026-03-03, llmlog.jsonl.1.bz2" in err

    def test_the_writers_retention_leaves_logrotates_files_alone(self, folder: Path) -> None:
        """Reading them changes nothing of what the writer deletes: its retention prunes
        only the names it gives (``llmlog-<time>-<pid>.jsonl``)."""
        own = rotated_name(folder / "llmlog.jsonl", now_ns=time.time_ns() - 90 * 86400 * 10**9)
        write_jsonl(own, [call(7)])
        month_ago = time.time() - 30 * 86400
        for path in folder.iterdir():
            os.utime(path, (month_ago, month_ago))
        prune_rotated(folder / "llmlog.jsonl", backup_count=0, retention_days=1)
        assert not own.exists()
        assert sorted(p.name for p in folder.iterdir()) == [
            "llmlog.jsonl",
            "llmlog.jsonl-20260301.gz",
            "llmlog.jsonl-20260302",
            "llmlog.jsonl-2026030200",
        ]


class TestRotationWhileReading:
    """A command listed the log, then read the active file by name: rotated in between, its
    calls were under a name the list did not have, and the new file was read instead."""

    @pytest.fixture
    def log(self, tmp_path: Path) -> Path:
        write_gz(tmp_path / "llmlog.jsonl.1.gz", [call(n) for n in range(1, 11)])
        return write_jsonl(tmp_path / "llmlog.jsonl", [call(n) for n in range(11, 31)])

    @staticmethod
    def rotate(active: Path) -> None:
        """What the writer does: rename the active file aside, start a new one."""
        os.rename(active, rotated_name(active))
        write_jsonl(active, [])

    @pytest.mark.parametrize(
        "argv",
        [
            ["export"],
            ["tail", "--limit", "25"],
            ["stats", "--json", "--engine", "python"],
        ],
    )
    def test_a_rotation_after_listing_loses_no_call(
        self,
        log: Path,
        gzip_reads: GzipReads,
        capsys: pytest.CaptureFixture[str],
        argv: list[str],
    ) -> None:
        # The older .gz is read first; the app rotates the active file as it is opened.
        rotated: list[str] = []

        def rotate_once(name: str) -> None:
            if not rotated:
                rotated.append(name)
                self.rotate(log)

        gzip_reads.on_open = rotate_once
        assert main([*argv, "--log", str(log)]) == 0
        assert rotated
        out = capsys.readouterr().out
        if argv[0] == "stats":
            assert orjson.loads(out)["groups"][0]["calls"] == 30
        elif argv[0] == "tail":
            assert shown_ids(out) == [call(n)["id"][:12] for n in range(6, 31)]
        else:
            assert [orjson.loads(line)["id"] for line in out.splitlines()] == [
                call(n)["id"] for n in range(1, 31)
            ]

    def test_duckdb_reads_the_file_rotated_after_listing(
        self, log: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """DuckDB opens the files by the names it is given: the active one's is the
        descriptor the command opened it with."""
        duckdb = pytest.importorskip("duckdb")
        real_connect = duckdb.connect

        def rotating_connect(*args: Any, **kwargs: Any) -> Any:
            self.rotate(log)
            return real_connect(*args, **kwargs)

        monkeypatch.setattr(duckdb, "connect", rotating_connect)
        assert main(["stats", "--json", "--engine", "duckdb", "--log", str(log)]) == 0
        assert orjson.loads(capsys.readouterr().out)["groups"][0]["calls"] == 30

    def test_a_rotation_while_listing_is_not_read_twice(
        self, log: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Rotated after the active file is opened and before its rotated names are listed:
        the file is under both, and read once."""
        real_glob = Path.glob
        rotated: list[bool] = []

        def rotating_glob(self: Path, pattern: str) -> Iterator[Path]:
            if not rotated:
                rotated.append(True)
                TestRotationWhileReading.rotate(log)
            return real_glob(self, pattern)

        monkeypatch.setattr(Path, "glob", rotating_glob)
        assert main(["stats", "--json", "--engine", "python", "--log", str(log)]) == 0
        assert rotated
        assert orjson.loads(capsys.readouterr().out)["groups"][0]["calls"] == 30


class TestSinceSkipsOldFiles:
    """`--since 1h` over a month of rotated files decompressed all of them. A file whose
    rotation (the writer's name) or last write (mtime, for logrotate's) is before the
    window holds no call of it, and is not opened."""

    def test_only_files_that_can_hold_the_window_are_opened(
        self,
        tmp_path: Path,
        gzip_reads: GzipReads,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        now = time.time()
        since = now - 2 * 3600

        def at(seconds: float) -> datetime:
            return datetime.fromtimestamp(seconds, UTC)

        def stamped(seconds: float, *records: dict[str, Any]) -> str:
            path = rotated_name(tmp_path / "llmlog.jsonl", now_ns=int(seconds * 1e9))
            return write_gz(path.with_name(path.name + ".gz"), list(records)).name

        def numbered(number: int, mtime: float, *records: dict[str, Any]) -> str:
            path = write_gz(tmp_path / f"llmlog.jsonl.{number}.gz", list(records))
            os.utime(path, (mtime, mtime))
            return path.name

        # Copied (mtime now), but rotated ten days ago by its name: skipped.
        old_stamp = stamped(now - 10 * 86400, call(1, at(now - 11 * 86400)))
        # Rotated a minute before the window: another process may have finished a line in
        # it later (the writer allows ten minutes), so it is read.
        edge_stamp = stamped(since - 60, call(2, at(since - 120)), call(3, at(since + 30)))
        in_stamp = stamped(now - 3600, call(4, at(now - 5000)))
        old_numbered = numbered(2, since - 3600, call(5, at(since - 4000)))
        new_numbered = numbered(1, now - 60, call(6, at(now - 100)))
        write_jsonl(tmp_path / "llmlog.jsonl", [call(7, at(now - 10))])

        assert main(["tail", "--log", f"{tmp_path}/", "--since", "2h"]) == 0
        assert set(gzip_reads.opens) == {edge_stamp, in_stamp, new_numbered}
        assert old_stamp not in gzip_reads.opens and old_numbered not in gzip_reads.opens
        assert shown_ids(capsys.readouterr().out) == [call(n)["id"][:12] for n in (3, 4, 6, 7)]
        capsys.readouterr()
        gzip_reads.opens.clear()
        assert (
            main(["check", "--log", f"{tmp_path}/", "--since", "2h", "--max-error-rate", "50%"])
            == 0
        )
        assert set(gzip_reads.opens) <= {edge_stamp, in_stamp, new_numbered}
        capsys.readouterr()
        # an old file that cannot be read: either engine would say so, had it opened it
        (tmp_path / old_stamp).write_bytes(b"not gzip")
        for engine in ("python", "duckdb"):
            argv = ["stats", "--json", "--engine", engine, "--log", f"{tmp_path}/", "--since", "2h"]
            assert main(argv) == 0
            out, err = capsys.readouterr()
            assert orjson.loads(out)["groups"][0]["calls"] == 4
            assert err == ""


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_a_gz_given_as_the_log_is_read_decompressed(
    tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--log app.jsonl.gz` (an archive): the Python engine read its compressed bytes."""
    log = write_gz(tmp_path / "app.jsonl.gz", [call(n) for n in range(1, 6)])
    assert main(["stats", "--json", "--engine", engine, "--log", str(log)]) == 0
    assert orjson.loads(capsys.readouterr().out)["groups"][0]["calls"] == 5
    assert main(["tail", "--log", str(log)]) == 0
    assert len(shown_ids(capsys.readouterr().out)) == 5
