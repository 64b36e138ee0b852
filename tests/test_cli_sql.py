"""``llmlog sql``: DuckDB over the logs as the view ``calls``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from llmlog.cli import main
from test_cli_main import make_real_log, schema_record, write_jsonl


@pytest.fixture(scope="module")
def real_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    return make_real_log(tmp_path_factory)


class TestSql:
    def test_nested_fields_are_queryable(
        self, real_log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """usage.input_tokens and template.name work as struct fields of `calls`."""
        path, records = real_log
        query = (
            "SELECT template.name AS t, sum(usage.input_tokens) AS tokens FROM calls "
            "WHERE template IS NOT NULL GROUP BY ALL"
        )
        assert main(["sql", "--log", str(path), "--json", query]) == 0
        (row,) = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
        expected = sum(r["usage"]["input_tokens"] for r in records if r["template"])
        assert row == {"t": "greet", "tokens": expected}

    def test_the_table_output_counts_its_rows(
        self, real_log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without --json: a table with the column names and a row count."""
        query = "SELECT provider, count(*) AS n FROM calls GROUP BY ALL ORDER BY n DESC"
        assert main(["sql", "--log", str(real_log[0]), query]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].split() == ["provider", "n"]
        assert lines[2].split() == ["openai", "3"] and lines[-1] == "(2 rows)"

    def test_rotated_and_damaged_files_are_part_of_the_view(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Every file of the log is in `calls`; a broken line is not a row."""
        write_jsonl(tmp_path / "llmlog-20260101T000000Z-1.jsonl", [schema_record(1)])
        write_jsonl(tmp_path / "llmlog.jsonl", [schema_record(2)], tail=b'{"event": "llm.')
        assert (
            main(["sql", "--log", str(tmp_path), "--json", "SELECT count(*) AS n FROM calls"]) == 0
        )
        assert orjson.loads(capsys.readouterr().out) == {"n": 2}

    def test_a_bad_query_is_one_line_of_error(
        self, real_log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """DuckDB's message, first line only, exit 2."""
        assert main(["sql", "--log", str(real_log[0]), "SELECT nope FROM calls"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("llmlog: error: query failed:") and "nope" in err
        assert err.count("\n") == 1

    def test_without_duckdb_it_says_how_to_install_it(
        self,
        real_log: tuple[Path, list[Any]],
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """The extra is named: pip install 'llmlog[query]'."""
        monkeypatch.setitem(sys.modules, "duckdb", None)
        assert main(["sql", "--log", str(real_log[0]), "SELECT 1"]) == 2
        assert "pip install 'llmlog[query]'" in capsys.readouterr().err
