"""``llmlog sql``: DuckDB over the logs as the view ``calls``."""

from __future__ import annotations

import gzip
import os
import subprocess
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

    def test_a_value_holding_a_newline_stays_one_row(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A model's answer with a line break and a fake id after it: one printed line per
        row, as the count says, the break spelled out."""
        answer = "Paris.\n01ZZZZZZZZZZZZZZZZZZZZZZZZ  All good\u2028here"
        output = {"text": answer, "tool_calls": [], "finish_reason": "stop"}
        log = write_jsonl(tmp_path / "l.jsonl", [schema_record(n, output=output) for n in (1, 2)])
        query = "SELECT id, output.text AS text FROM calls ORDER BY id"
        assert main(["sql", "--log", str(log), query]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 2 + 2 + 1 and lines[-1] == "(2 rows)"
        assert lines[2] == f"{schema_record(1)['id']}  Paris.\\x0a01{'Z' * 24}  All good\\u2028here"

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


def sql_rows(capsys: pytest.CaptureFixture[str], log: Path, query: str) -> list[dict[str, Any]]:
    assert main(["sql", "--log", str(log), "--json", query]) == 0
    return [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]


class TestTypes:
    def test_whole_records_fetch_without_pytz(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`SELECT *` returns ts (and a zoned timestamp a query makes) without pytz, which
        the query extra does not install."""
        monkeypatch.setitem(sys.modules, "pytz", None)
        log = write_jsonl(tmp_path / "l.jsonl", [schema_record(1)])
        (row,) = sql_rows(capsys, log, "SELECT *, ts::TIMESTAMPTZ AS zoned FROM calls")
        assert row["id"] == schema_record(1)["id"]
        assert row["ts"] == row["zoned"] == "2026-01-02T10:00:00+00:00"

    def test_ts_is_utc_whatever_the_machine_time_zone(self, tmp_path: Path) -> None:
        """A call at 03:00 UTC on Jan 2 is on Jan 2 also for a reader in Los Angeles."""
        log = write_jsonl(
            tmp_path / "l.jsonl", [schema_record(1, ts="2026-01-02T03:00:00.000000Z")]
        )
        code = "from llmlog.cli import main; raise SystemExit(main())"
        query = "SELECT ts::date AS day, hour(ts) AS h FROM calls"
        result = subprocess.run(
            [sys.executable, "-c", code, "sql", "--json", "--log", str(log), query],
            env={**os.environ, "TZ": "America/Los_Angeles"},
            capture_output=True,
            check=True,
        )
        assert orjson.loads(result.stdout) == {"day": "2026-01-02", "h": 3}

    def test_values_past_duckdbs_type_sample_are_kept(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Fields first seen after the rows DuckDB samples to guess types (trace ids,
        truncation notes, content given as parts) are in the view, not NULL."""
        plain = [schema_record(n) for n in range(21_000)]
        late = [
            schema_record(
                n,
                trace_id=f"{n:032x}",
                truncated={"messages[0].content": 9},
                messages=[{"role": "user", "content": [{"type": "text", "text": f"q{n}"}]}],
            )
            for n in range(21_000, 21_500)
        ]
        log = write_jsonl(tmp_path / "l.jsonl", plain + late)
        query = (
            "SELECT count(trace_id) AS traces, count(truncated) AS cut, "
            "max(messages->0->'content'->0->>'text') AS text FROM calls"
        )
        assert sql_rows(capsys, log, query) == [{"traces": 500, "cut": 500, "text": "q21499"}]

    def test_a_value_of_the_wrong_type_is_reported_not_silently_null(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A latency logged as text reads as NULL, and a warning names the column."""
        log = write_jsonl(
            tmp_path / "l.jsonl", [schema_record(1), schema_record(2, latency_ms="slow")]
        )
        assert main(["sql", "--log", str(log), "--json", "SELECT count(*) AS n FROM calls"]) == 0
        captured = capsys.readouterr()
        assert orjson.loads(captured.out) == {"n": 2}
        assert "latency_ms (1)" in captured.err and "NULL" in captured.err

    def test_json_writes_decimals_and_huge_integers_as_numbers(
        self, real_log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """DECIMAL and HUGEINT (sum of BIGINT) values are JSON numbers with every digit,
        also inside lists and structs; not text, not a traceback."""
        path, records = real_log
        query = (
            "SELECT 0.5 AS half, sum(cost_usd)::DECIMAL(18, 8) AS cost, "
            "sum(usage.input_tokens) AS tokens, (1::HUGEINT << 100) AS huge, "
            "[1.25::DECIMAL(4, 2)] AS list, {'d': 2.5::DECIMAL(4, 1)} AS struct FROM calls"
        )
        assert main(["sql", "--log", str(path), "--json", query]) == 0
        line = capsys.readouterr().out
        assert '"half":0.5,' in line and '"huge":1267650600228229401496703205376,' in line
        assert '"list":[1.25],"struct":{"d":2.5}}' in line
        row = orjson.loads(line.replace("1267650600228229401496703205376", "0"))
        assert row["cost"] == pytest.approx(
            sum(r["cost_usd"] for r in records if r["cost_usd"] is not None), abs=1e-8
        )
        assert row["tokens"] == sum((r["usage"] or {}).get("input_tokens") or 0 for r in records)

    def test_output_keys_beyond_the_schema_are_kept(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An embeddings call's output.dimensions is a field of the output struct."""
        output = {"text": None, "tool_calls": [], "embeddings": 2, "dimensions": 1536}
        log = write_jsonl(tmp_path / "l.jsonl", [schema_record(1, output=output)])
        rows = sql_rows(capsys, log, "SELECT output.dimensions::INT AS d FROM calls")
        assert rows == [{"d": 1536}]

    @pytest.mark.parametrize("schema", [2, "1", 1.0, True])
    def test_records_of_an_unknown_schema_are_left_out_with_a_warning(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], schema: Any
    ) -> None:
        """A schema-2 record is not a row of `calls`, nor one whose schema is "1" or 1.0
        (as stats skips them); one warning says how many were skipped."""
        log = write_jsonl(tmp_path / "l.jsonl", [schema_record(1), schema_record(2, schema=schema)])
        assert main(["sql", "--log", str(log), "--json", "SELECT count(*) AS n FROM calls"]) == 0
        captured = capsys.readouterr()
        assert orjson.loads(captured.out) == {"n": 1}
        assert "1 record of an unknown schema skipped" in captured.err


class TestNestedValues:
    QUERY = (
        "SELECT histogram(usage.input_tokens) AS h, list(latency_ms::DECIMAL(10, 3)) AS l, "
        "{'span': max(ts) - min(ts)} AS s FROM calls"
    )

    def test_maps_decimals_and_intervals_inside_lists_and_structs_print(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A MAP's keys are numbers (histogram), a list holds DECIMALs, a struct an INTERVAL:
        JSON in the table and with --json, not a traceback."""
        log = write_jsonl(tmp_path / "l.jsonl", [schema_record(1), schema_record(2)])
        assert main(["sql", "--log", str(log), self.QUERY]) == 0
        assert '{"10":2}  [1.000,2.000]  {"span":"1 day, 0:00:00"}' in capsys.readouterr().out
        assert sql_rows(capsys, log, self.QUERY) == [
            {"h": {"10": 2}, "l": [1.0, 2.0], "s": {"span": "1 day, 0:00:00"}}
        ]


class TestDamagedFiles:
    def test_a_broken_line_is_counted_in_a_warning(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Lines that are not JSON records are not rows, and one warning per file says
        how many, as stats says it."""
        log = write_jsonl(
            tmp_path / "l.jsonl", [schema_record(1)], tail=b'garbled\n{"event": "llm.'
        )
        assert main(["sql", "--log", str(log), "--json", "SELECT count(*) AS n FROM calls"]) == 0
        captured = capsys.readouterr()
        assert orjson.loads(captured.out) == {"n": 1} and captured.err.count("warning") == 1
        assert f"{log}: skipped 2 lines (not a complete JSON record" in captured.err

    @pytest.mark.parametrize(("keep", "calls"), [(0, 1), (100, 1), (-8, 10)])
    def test_a_gz_file_cut_short_is_read_as_far_as_it_goes(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], keep: int, calls: int
    ) -> None:
        """DuckDB fails the whole query on an empty or cut .gz file (the first 100 bytes,
        all but the 8-byte trailer); sql reads the rest of the log and the readable part
        of that file, and names it in one warning."""
        lines = b"".join(orjson.dumps(schema_record(n)) + b"\n" for n in range(9))
        damaged = tmp_path / "llmlog-20260101T000000Z-1.jsonl.gz"
        damaged.write_bytes(gzip.compress(lines)[:keep])
        log = write_jsonl(tmp_path / "llmlog.jsonl", [schema_record(10)])
        assert main(["sql", "--log", str(log), "--json", "SELECT count(*) AS n FROM calls"]) == 0
        captured = capsys.readouterr()
        assert orjson.loads(captured.out) == {"n": calls} and captured.err.count("warning") == 1
        assert f"{damaged}: stopped reading at a damaged part" in captured.err
