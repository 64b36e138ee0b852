"""Valid JSON with a field of the wrong type: read as missing by every command, never a
traceback, and counted alike by both ``stats`` engines.

The records start as a real log the pipeline wrote; one field is then changed, as a
hand edit, another tool or a damaged copy could.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

from llmlog.cli import main
from llmlog.cli.export import FLAT_COLUMNS, _write_parquet_duckdb, flat_row, typed_row
from test_cli_main import make_real_log, write_jsonl
from test_cli_stats import _flat, python_value_matches

ODD = ["21.3", [], ["x"], {}, {"a": 1}, True]


@pytest.fixture(scope="module")
def real_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    return make_real_log(tmp_path_factory)


def edited(real_log: tuple[Path, list[Any]], tmp_path: Path, **fields: Any) -> Path:
    """The real log with ``fields`` set in its first record (``usage__x``: a usage key)."""
    records = orjson.loads(orjson.dumps(real_log[1]))
    for name, value in fields.items():
        if name.startswith("usage__"):
            records[0]["usage"][name.removeprefix("usage__")] = value
        else:
            records[0][name] = value
    return write_jsonl(tmp_path / "llmlog.jsonl", records)


class TestNoTraceback:
    @pytest.mark.parametrize("value", ODD)
    def test_a_latency_that_is_not_a_number_shows_as_unknown(
        self,
        real_log: tuple[Path, list[Any]],
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        value: Any,
    ) -> None:
        """tail, search and show print `-` for a latency or TTFT they cannot read."""
        log = str(edited(real_log, tmp_path, latency_ms=value, ttft_ms=value))
        first = real_log[1][0]["id"]
        assert main(["tail", "--log", log]) == 0
        assert f"{first[:12]}  gpt-4o  ok  -  " in capsys.readouterr().out
        assert main(["search", "--log", log, "hello"]) == 0
        assert main(["show", "--log", log, first]) == 0
        assert "latency   -" in capsys.readouterr().out

    @pytest.mark.parametrize(
        "fields",
        [
            {"latency_ms": "21.3", "cost_usd": "0.0001"},
            {"usage__input_tokens": "5", "usage__output_tokens": 1.5},
            {"usage__input_tokens": 2**64 - 1, "usage__output_tokens": True},
            {"ts": 5, "model": ["x"], "id": {"a": 1}, "status": True},
        ],
    )
    @pytest.mark.parametrize("writer", ["pyarrow", "duckdb"])
    def test_parquet_writes_a_wrong_typed_value_as_missing(
        self,
        real_log: tuple[Path, list[Any]],
        tmp_path: Path,
        fields: dict[str, Any],
        writer: str,
    ) -> None:
        """Both parquet writers: the odd value is null, the other rows are untouched."""
        log = edited(real_log, tmp_path, **fields)
        out = tmp_path / "calls.parquet"
        if writer == "pyarrow":
            assert main(["export", "--log", str(log), "--format", "parquet", "-o", str(out)]) == 0
        else:
            rows = [flat_row(orjson.loads(line)) for line in log.read_bytes().splitlines()]
            assert _write_parquet_duckdb(out, rows) == len(rows)
        table = pq.read_table(out).to_pylist()
        assert table[1:] == [flat_row(r) for r in real_log[1][1:]]
        columns = {"usage__input_tokens": "input_tokens", "usage__output_tokens": "output_tokens"}
        for name in fields:
            assert table[0][columns.get(name, name)] is None, name
        assert set(table[0]) == set(FLAT_COLUMNS)

    def test_typed_row_keeps_what_fits(self, real_log: tuple[Path, list[Any]]) -> None:
        """Well-typed rows pass through unchanged."""
        for record in real_log[1]:
            assert typed_row(flat_row(record)) == flat_row(record)


class TestBothEnginesAgree:
    @pytest.mark.parametrize(
        "fields",
        [
            {"cost_usd": "12.5"},
            {"cost_usd": True, "latency_ms": "900", "ttft_ms": [1]},
            {"usage__input_tokens": "1000", "usage__cached_input_tokens": 2.5},
            {"usage": "lots"},
            {"model": 123, "session_id": True, "status": {"error": 1}},
            {"template": {"name": 7, "version": "1"}},
            {"ts": 20260101},
        ],
    )
    @pytest.mark.parametrize("by", [None, "model", "template", "session", "day", "status"])
    def test_a_value_that_is_not_of_its_type_is_missing_in_both(
        self,
        real_log: tuple[Path, list[Any]],
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        fields: dict[str, Any],
        by: str | None,
    ) -> None:
        """ "cost_usd": "12.5" is an unpriced call in DuckDB as in Python, a model of 123
        no model, a text ts no day: the same groups and numbers from both engines."""
        log = str(edited(real_log, tmp_path, **fields))
        results = []
        for engine in ("duckdb", "python"):
            argv = ["stats", "--json", "--log", log, "--engine", engine]
            assert main(argv + (["--by", by] if by else [])) == 0
            results.append(orjson.loads(capsys.readouterr().out)["groups"])
        duck, python = results
        for group in (*duck, *python):
            group["cost_usd"] = round(group["cost_usd"] or 0, 12)
        duck_flat, python_flat = _flat(duck), _flat(python)
        assert duck_flat.keys() == python_flat.keys()
        for key, value in duck_flat.items():
            if "_ms." in key:  # percentiles, rounded by each engine: one unit in the last place
                assert python_value_matches(value, python_flat[key]), key
            else:
                assert value == python_flat[key], key

    def test_a_cost_written_as_text_is_unpriced(
        self,
        real_log: tuple[Path, list[Any]],
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Not a number: not added to the cost (DuckDB used to cast "12.5" to $12.50)."""
        log = str(edited(real_log, tmp_path, cost_usd="12.5"))
        assert main(["stats", "--json", "--log", log, "--engine", "duckdb"]) == 0
        (group,) = orjson.loads(capsys.readouterr().out)["groups"]
        # The edited call; the failed one (no usage, not billed) is not unpriced.
        assert group["cost_usd"] < 1 and group["unpriced_calls"] == 1
