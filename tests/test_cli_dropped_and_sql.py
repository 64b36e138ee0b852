"""Calls llmlog could not log, in ``stats`` and ``check``; the struct columns of ``sql``'s
view ``calls``, which a survey of the log's keys decides."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from llmlog._record import USAGE_FIELDS
from llmlog.cli import main
from test_cli_main import schema_record, write_jsonl

ENGINES = ("duckdb", "python")


def dropped_notice(day: int, count: int) -> dict[str, Any]:
    """The line the writer logs instead of calls its full queue could not take."""
    return {
        "event": "llmlog.dropped",
        "schema": 1,
        "id": f"01DROP{day:020d}",
        "ts": f"2026-01-{day:02d}T12:00:00.000000Z",
        "count": count,
    }


@pytest.fixture(params=ENGINES)
def check_engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """``check`` has no --engine: it uses DuckDB when installed, else the Python reader."""
    engine: str = request.param
    if engine == "python":
        monkeypatch.setitem(sys.modules, "duckdb", None)
    else:
        pytest.importorskip("duckdb")
    return engine


@pytest.fixture
def mostly_dropped(tmp_path: Path) -> Path:
    """Three logged calls (days 2-4) and 50 dropped in the window; 40 more dropped on
    day 20, outside ``--until 2026-01-10``."""
    calls = [schema_record(n) for n in (1, 2, 3)]
    notices = [dropped_notice(5, 30), dropped_notice(6, 20), dropped_notice(20, 40)]
    return write_jsonl(tmp_path / "llmlog.jsonl", [*calls, *notices])


def run_check(capsys: pytest.CaptureFixture[str], log: Path, *argv: str) -> tuple[int, list[str]]:
    status = main(["check", "--log", str(log), "--until", "2026-01-10", *argv])
    return status, capsys.readouterr().out.splitlines()


class TestStatsCountsDroppedCalls:
    @pytest.mark.parametrize("engine", ENGINES)
    def test_json_has_the_dropped_count_of_the_window(
        self, mostly_dropped: Path, engine: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """dropped_calls: the notices in the window (30 + 20), not the one after it."""
        argv = ["stats", "--json", "--log", str(mostly_dropped), "--engine", engine]
        assert main([*argv, "--until", "2026-01-10"]) == 0
        result = orjson.loads(capsys.readouterr().out)
        assert result["dropped_calls"] == 50 and result["groups"][0]["calls"] == 3

    @pytest.mark.parametrize("engine", ENGINES)
    def test_json_says_zero_when_nothing_was_dropped(
        self, tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        log = write_jsonl(tmp_path / "l.jsonl", [schema_record(1)])
        assert main(["stats", "--json", "--log", str(log), "--engine", engine]) == 0
        assert orjson.loads(capsys.readouterr().out)["dropped_calls"] == 0

    @pytest.mark.parametrize("engine", ENGINES)
    def test_the_table_says_how_many_calls_it_leaves_out(
        self, mostly_dropped: Path, engine: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """On stdout under the table, not only as a warning on stderr; grouped by day too."""
        argv = ["stats", "--log", str(mostly_dropped), "--engine", engine, "--until", "2026-01-10"]
        for by in ([], ["--by", "day"]):
            assert main([*argv, *by]) == 0
            out = capsys.readouterr().out.splitlines()
            assert out[-1] == "not logged: 50 calls (llmlog's queue was full), not in the table"


class TestCheckFailsOnDroppedCalls:
    def test_dropped_calls_fail_the_check_by_default(
        self,
        mostly_dropped: Path,
        check_engine: str,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """50 calls unlogged against 3 logged: the error rate of the 3 says little. The
        check exits 1 with a line naming the count, as for a breached threshold."""
        status, lines = run_check(
            capsys, mostly_dropped, "--max-error-rate", "10%", "--fail-on-no-data"
        )
        assert status == 1
        assert lines == [
            "FAIL 50 calls in the window not logged (llmlog's queue was full) > "
            "--max-dropped 0; the other thresholds judge only the 3 calls logged"
        ]

    def test_max_dropped_allows_that_many(
        self,
        mostly_dropped: Path,
        check_engine: str,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """--max-dropped 50 holds for 50 dropped calls; 49 does not."""
        status, lines = run_check(
            capsys, mostly_dropped, "--max-error-rate", "10%", "--max-dropped", "50"
        )
        assert status == 0 and lines == ["ok: 3 calls checked, every threshold holds"]
        status, lines = run_check(capsys, mostly_dropped, "--max-dropped", "49")
        assert status == 1 and lines[0].startswith("FAIL 50 calls in the window not logged")

    def test_every_call_dropped_is_a_failure_not_nothing_checked(
        self,
        tmp_path: Path,
        check_engine: str,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """No call logged because all were dropped: not 'nothing checked' and exit 0."""
        log = write_jsonl(tmp_path / "llmlog.jsonl", [dropped_notice(3, 7)])
        status, lines = run_check(capsys, log, "--max-error-rate", "10%")
        assert status == 1
        assert lines[0].startswith("FAIL 7 calls in the window not logged")
        assert lines[1] == "NOT CHECKED error rate: no calls in the window"

    def test_a_window_without_dropped_calls_passes_as_before(
        self,
        mostly_dropped: Path,
        check_engine: str,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Only the notices in the window count: up to day 4 nothing was dropped."""
        status, lines = main(
            ["check", "--log", str(mostly_dropped), "--until", "2026-01-04T23:00Z",
             "--max-error-rate", "10%"]
        ), capsys.readouterr().out.splitlines()  # fmt: skip
        assert status == 0 and lines == ["ok: 3 calls checked, every threshold holds"]

    def test_max_dropped_alone_is_a_check(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`check --max-dropped 0` asks one thing, and gets an answer."""
        log = write_jsonl(tmp_path / "llmlog.jsonl", [schema_record(1)])
        status, lines = run_check(capsys, log, "--max-dropped", "0")
        assert status == 0 and lines == ["ok: 1 call checked, every threshold holds"]

    @pytest.mark.parametrize("value", ["-1", "lots", "1.5"])
    def test_a_bad_max_dropped_is_a_usage_error(
        self, tmp_path: Path, value: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        log = write_jsonl(tmp_path / "llmlog.jsonl", [schema_record(1)])
        assert main(["check", "--log", str(log), "--max-dropped", value]) == 2
        assert "--max-dropped" in capsys.readouterr().err

    def test_help_documents_max_dropped(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["check", "--help"]) == 0
        out = " ".join(capsys.readouterr().out.split())
        assert "--max-dropped N" in out and "default 0: any dropped call fails it" in out


class TestSqlViewColumns:
    """The view's struct columns: the schema's fields, then every other key the log's
    schema-1 call records hold (as JSON, sorted). A key counted once per distinct key set
    instead of once per record must give the same columns."""

    @pytest.fixture
    def varied_log(self, tmp_path: Path) -> Path:
        records = [
            *(schema_record(n, output={"text": "a", "audio": {"id": "x"}}) for n in range(1, 6)),
            schema_record(6, output={"zeta": 1, "text": "b", "finish_reason": "stop"}),
            schema_record(7, usage={"prompt_tokens_details": {"x": 1}, "input_tokens": 3}),
            schema_record(8, template={"team": "search", "name": "t"}),
            schema_record(9, process={"service": "api", "region": "eu", "pid": 4}),
            schema_record(10, error="a string, not an object: no keys"),
            schema_record(11, error={"type": "RateLimitError", "retry_in": 3}),
            # Not schema-1, not a call: their keys are not the view's.
            schema_record(12, schema=2, output={"other_schema": 1}),
            {**schema_record(13, output={"not_a_call": 1}), "event": "something.else"},
        ]
        return write_jsonl(tmp_path / "llmlog.jsonl", records)

    def struct_fields(
        self, capsys: pytest.CaptureFixture[str], log: Path, column: str
    ) -> list[str]:
        query = f"SELECT json_keys(to_json({column})) AS k FROM calls WHERE {column} IS NOT NULL"
        assert main(["sql", "--log", str(log), "--json", query + " LIMIT 1"]) == 0
        (line,) = capsys.readouterr().out.splitlines()
        keys: list[str] = orjson.loads(line)["k"]
        return keys

    def test_each_struct_has_the_schema_fields_then_the_logs_other_keys(
        self, varied_log: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        pytest.importorskip("duckdb")
        expected = {
            "output": ["text", "tool_calls", "finish_reason", "refusal", "parsed", "thinking",
                       "audio", "zeta"],
            "usage": [*USAGE_FIELDS, "raw", "prompt_tokens_details"],
            "error": ["type", "message", "status_code", "body", "retry_in"],
            "template": ["name", "version", "variables", "team"],
            "process": ["service", "pid", "host", "sdk", "llmlog", "region"],
        }  # fmt: skip
        for column, fields in expected.items():
            assert self.struct_fields(capsys, varied_log, column) == fields, column

    def test_the_extra_keys_read_as_json(
        self, varied_log: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        pytest.importorskip("duckdb")
        query = (
            "SELECT output.audio->>'id' AS audio, typeof(output.zeta) AS zeta_type, "
            "process.region AS region, count(*) AS n FROM calls GROUP BY ALL ORDER BY n DESC"
        )
        assert main(["sql", "--log", str(varied_log), "--json", query]) == 0
        rows = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert rows[0] == {"audio": "x", "zeta_type": "JSON", "region": None, "n": 5}
        assert {"audio": None, "zeta_type": "JSON", "region": '"eu"', "n": 1} in rows
