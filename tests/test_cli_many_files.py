"""A ``--log`` folder with more active files than the process may have open (one log per
worker process or host): each command held every active file open while it ran, and failed
with "Too many open files" under ``ulimit -n``."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from llmlog.cli import main
from test_cli_main import schema_record, write_jsonl

WORKERS = 400
OPEN_FILES = 128  # the soft limit each command runs under: far fewer than WORKERS

# Lowers the soft open-file limit, then runs the CLI with the arguments after the code;
# ``--rotate PATH`` first makes DuckDB's connect rotate PATH as the writer does (rename it
# aside, start a new one): after the log was listed, before DuckDB reads it;
# ``--rotate-on-output PATH LINE`` rotates it so when the first call is written to stdout
# (after every file was looked at, before the later ones are read), then writes LINE to the
# new file, as a busy writer would.
WRAPPER = """
import os, resource, sys
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), hard))
argv = sys.argv[2:]
def rotate(active):
    os.rename(active, active[: -len(".jsonl")] + "-20260101T000000Z-1.jsonl")
    open(active, "wb").close()
if argv[0] == "--rotate-on-output":
    active, new_line, argv = argv[1], argv[2], argv[3:]
    class RotatingOutput:
        def __init__(self, out):
            self.out, self.buffer, self.pending = out, self, [active]
        def write(self, data):
            while self.pending:
                rotate(self.pending.pop())
                with open(active, "ab") as log:
                    log.write(new_line.encode() + b"\\n")
            return self.out.buffer.write(data)
        def flush(self):
            self.out.flush()
        def isatty(self):
            return False
    sys.stdout = RotatingOutput(sys.stdout)
if argv[0] == "--rotate":
    import duckdb
    active, argv = argv[1], argv[2:]
    connect = duckdb.connect
    def rotating_connect(*args, **kwargs):
        rotate(active)
        return connect(*args, **kwargs)
    duckdb.connect = rotating_connect
from llmlog.cli import main
sys.exit(main(argv))
"""

COMMANDS = [
    ["stats", "--json", "--engine", "python"],
    ["stats", "--json", "--engine", "duckdb"],
    ["sql", "SELECT count(*) AS calls, sum(latency_ms) AS total FROM calls"],
    ["search", "question 17"],
    ["check", "--max-error-rate", "0.5"],
    ["export", "--format", "jsonl"],
    ["show", schema_record(WORKERS - 1)["id"]],
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One active log per worker, and one file each rotated from a few of them."""
    return write_workers(tmp_path_factory.mktemp("workers"))


def write_workers(folder: Path) -> Path:
    """:data:`WORKERS` active logs in ``folder`` (call n in worker n's), and a rotated file
    each (call ``WORKERS + n``) for the first three."""
    for n in range(WORKERS):
        write_jsonl(folder / f"worker-{n:03d}.jsonl", [schema_record(n)])
    for n in range(3):
        rotated = folder / f"worker-{n:03d}-20251201T000000Z-1.jsonl"
        write_jsonl(rotated, [schema_record(WORKERS + n)])
    return folder


def run_limited(*argv: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a process whose soft open-file limit is :data:`OPEN_FILES`."""
    code = [sys.executable, "-c", WRAPPER, str(OPEN_FILES), *argv]
    return subprocess.run(code, capture_output=True, text=True, check=False, env=os.environ)


@pytest.mark.skipif(sys.platform == "win32", reason="no RLIMIT_NOFILE to lower")
@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: " ".join(argv[:4]))
def test_a_folder_of_more_logs_than_open_files_reads_whole(
    folder: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Under the limit the command succeeds with the answer it gives without one."""
    if "duckdb" in argv or argv[0] == "sql":
        pytest.importorskip("duckdb")
    limited = run_limited(*argv, "--log", str(folder))
    assert limited.returncode == 0, limited.stderr
    assert "Too many open files" not in limited.stderr
    status = main([*argv, "--log", str(folder)])
    unlimited = capsys.readouterr()
    assert status == 0
    assert (limited.stdout, limited.stderr) == (unlimited.out, unlimited.err)
    if argv[0] == "stats":
        assert orjson.loads(limited.stdout)["groups"][0]["calls"] == WORKERS + 3
    if argv[0] == "export":
        assert len(limited.stdout.splitlines()) == WORKERS + 3


@pytest.mark.skipif(sys.platform == "win32", reason="no RLIMIT_NOFILE to lower")
def test_the_file_written_last_is_still_held_through_a_rotation(tmp_path: Path) -> None:
    """Past the limit's room some files are read by name; the ones written to lately are
    held, so the file a worker is writing to is read whole when it rotates mid-command."""
    pytest.importorskip("duckdb")
    for n in range(WORKERS):
        write_jsonl(tmp_path / f"worker-{n:03d}.jsonl", [schema_record(n)])
    busy = write_jsonl(tmp_path / "worker-busy.jsonl", [schema_record(n) for n in range(500, 520)])
    idle_since = time.time() - 3600  # every other worker last wrote an hour ago
    for path in tmp_path.iterdir():
        if path != busy:
            os.utime(path, (idle_since, idle_since))
    argv = ["--rotate", str(busy), "stats", "--json", "--engine", "duckdb"]
    limited = run_limited(*argv, "--log", str(tmp_path))
    assert limited.returncode == 0, limited.stderr
    assert orjson.loads(limited.stdout)["groups"][0]["calls"] == WORKERS + 20


def call_numbers(jsonl: str | bytes) -> list[int]:
    """The numbers of the :func:`schema_record` calls in an export's JSON lines."""
    return [int(orjson.loads(row)["id"][len("01TEST") :]) for row in jsonl.splitlines()]


def export_cursor(*argv: str) -> list[int]:
    """The calls one ``export --cursor`` run under the limit writes (it must succeed)."""
    limited = run_limited(*argv)
    assert limited.returncode == 0, limited.stderr
    assert "Too many open files" not in limited.stderr
    return call_numbers(limited.stdout)


@pytest.mark.skipif(sys.platform == "win32", reason="no RLIMIT_NOFILE to lower")
def test_export_cursor_under_the_limit_exports_each_call_once(tmp_path: Path) -> None:
    """``export --cursor`` looked at every file of the folder, rotated ones too, with all of
    them open at once; under the limit the first run exports every call, the next one the
    calls written since (appended, in a rotated file, in a new worker's log), nothing twice."""
    folder = write_workers(tmp_path / "logs")
    cursor = tmp_path / "export.cursor"
    argv = ["export", "--format", "jsonl", "--cursor", str(cursor), "--log", str(folder)]
    assert sorted(export_cursor(*argv)) == list(range(WORKERS + 3))
    for n in (5, 150, 399):
        with (folder / f"worker-{n:03d}.jsonl").open("ab") as log:
            log.write(orjson.dumps(schema_record(1000 + n)) + b"\n")
    busy = folder / "worker-200.jsonl"
    with busy.open("ab") as log:
        log.write(orjson.dumps(schema_record(1200)) + b"\n")
    busy.rename(folder / "worker-200-20260101T000000Z-1.jsonl")  # rotated, as the writer does
    write_jsonl(busy, [schema_record(1201)])
    rotated = folder / "worker-001-20251201T000000Z-1.jsonl"  # exported already, then gzipped
    Path(f"{rotated}.gz").write_bytes(gzip.compress(rotated.read_bytes()))
    rotated.unlink()
    write_jsonl(folder / "worker-new.jsonl", [schema_record(1500)])
    second = export_cursor(*argv)
    assert sorted(second) == [1005, 1150, 1200, 1201, 1399, 1500]
    assert second.index(1200) < second.index(1201)  # the rotated file's calls first
    assert export_cursor(*argv) == []


@pytest.mark.skipif(sys.platform == "win32", reason="no RLIMIT_NOFILE to lower")
def test_export_cursor_leaves_a_file_rotated_before_its_turn_for_the_next_run(
    tmp_path: Path,
) -> None:
    """Past the limit's room a file is read by name when its turn comes; rotated before then
    it is another file under that name, already written to: not read as the file looked at
    but left (with a warning) for the next run, which finds the file under its rotated name
    and reads the new one whole. Each call is exported once, none lost."""
    folder = write_workers(tmp_path / "logs")
    idle = folder / "worker-300.jsonl"  # written to longest ago: read by name, not held
    an_hour_ago = time.time() - 3600
    os.utime(idle, (an_hour_ago, an_hour_ago))
    cursor = tmp_path / "export.cursor"
    argv = ["export", "--format", "jsonl", "--cursor", str(cursor), "--log", str(folder)]
    new_call = orjson.dumps(schema_record(2000)).decode()
    first = run_limited("--rotate-on-output", str(idle), new_call, *argv)
    assert first.returncode == 0, first.stderr
    assert f"{idle}: renamed or removed while the log was read" in first.stderr
    exported = call_numbers(first.stdout)
    assert 300 not in exported
    assert 2000 not in exported  # not listed when the run began: the next run's
    exported += export_cursor(*argv)
    assert sorted(exported) == [*range(WORKERS + 3), 2000]
