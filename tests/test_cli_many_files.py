"""A ``--log`` folder with more active files than the process may have open (one log per
worker process or host): each command held every active file open while it ran, and failed
with "Too many open files" under ``ulimit -n``."""

from __future__ import annotations

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
# aside, start a new one): after the log was listed, before DuckDB reads it.
WRAPPER = """
import os, resource, sys
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), hard))
argv = sys.argv[2:]
if argv[0] == "--rotate":
    import duckdb
    active, argv = argv[1], argv[2:]
    connect = duckdb.connect
    def rotating_connect(*args, **kwargs):
        os.rename(active, active[: -len(".jsonl")] + "-20260101T000000Z-1.jsonl")
        open(active, "wb").close()
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
    folder = tmp_path_factory.mktemp("workers")
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
