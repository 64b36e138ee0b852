"""``llmlog stats`` (and the aggregation behind it): both engines, every grouping."""

from __future__ import annotations

import gzip
import math
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from llmlog.cli import main
from test_cli_main import make_real_log, schema_record, write_jsonl

ENGINES = ("duckdb", "python")


@pytest.fixture(scope="module")
def real_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    return make_real_log(tmp_path_factory)


def stats_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(["stats", "--json", *argv]) == 0
    result: dict[str, Any] = orjson.loads(capsys.readouterr().out)
    return result


class TestOnARealLog:
    @pytest.mark.parametrize("engine", ENGINES)
    def test_totals_match_the_records(
        self, real_log: tuple[Path, list[Any]], engine: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Calls, errors, tokens and cost add up to what the pipeline wrote."""
        path, records = real_log
        (group,) = stats_json(capsys, "--log", str(path), "--engine", engine)["groups"]
        assert group["calls"] == 4 and group["errors"] == 1 and group["error_rate"] == 0.25
        assert group["input_tokens"] == sum(
            (r["usage"] or {}).get("input_tokens") or 0 for r in records
        )
        assert group["cost_usd"] == pytest.approx(
            sum(r["cost_usd"] for r in records if r["cost_usd"] is not None), abs=1e-6
        )
        assert group["unpriced_calls"] == 0  # the failed call: no usage, not billed
        assert group["ttft_ms"]["p50"] == pytest.approx(records[1]["ttft_ms"], abs=1e-3)

    @pytest.mark.parametrize(
        "by", ["model", "provider", "template", "session", "day", "status", "server"]
    )
    def test_both_engines_agree_for_every_grouping(
        self, real_log: tuple[Path, list[Any]], by: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """DuckDB and the pure-Python path report the same groups and numbers."""
        path = str(real_log[0])
        duck = stats_json(capsys, "--log", path, "--by", by, "--engine", "duckdb")
        python = stats_json(capsys, "--log", path, "--by", by, "--engine", "python")
        assert _flat(duck).keys() == _flat(python).keys()
        for key, value in _flat(duck).items():
            assert python_value_matches(value, _flat(python)[key]), key

    def test_groups_by_provider(
        self, real_log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Three OpenAI calls and one Anthropic call, busiest group first."""
        groups = stats_json(capsys, "--log", str(real_log[0]), "--by", "provider")["groups"]
        assert [(g["key"], g["calls"]) for g in groups] == [("openai", 3), ("anthropic", 1)]

    def test_template_and_session_come_from_llmlog_context(
        self, real_log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The two calls made inside llmlog.context(template=greet) group under its name."""
        groups = stats_json(capsys, "--log", str(real_log[0]), "--by", "template")["groups"]
        assert {g["key"]: g["calls"] for g in groups} == {"greet": 2, None: 2}

    def test_the_default_output_is_a_table(
        self, real_log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A header with the percentile columns, one row per model; the failed call's model
        costs $0 (not billed), not an unknown cost."""
        assert main(["stats", "--log", str(real_log[0]), "--by", "model"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].split()[:7] == ["model", "calls", "errors", "err%", "p50", "p95", "p99"]
        assert any(line.startswith("fake-error") and line.rstrip().endswith("$0") for line in lines)
        assert len(lines) == 2 + 4


def _flat(value: Any, path: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        return {
            k: v for key, item in value.items() for k, v in _flat(item, f"{path}.{key}").items()
        }
    if isinstance(value, list):
        return {
            k: v for i, item in enumerate(value) for k, v in _flat(item, f"{path}[{i}]").items()
        }
    return {path: value}


def python_value_matches(a: Any, b: Any) -> bool:
    # Rounded outputs (3 decimals) may differ by one unit in the last place.
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, abs_tol=2e-3)
    return bool(a == b)


class TestNumbers:
    @pytest.mark.parametrize("engine", ENGINES)
    def test_percentiles_interpolate_linearly(
        self, tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Latencies 1..100 ms give p50 50.5, p95 95.05, p99 99.01 (DuckDB's quantile_cont)."""
        log = write_jsonl(tmp_path / "l.jsonl", [schema_record(n) for n in range(1, 101)])
        (group,) = stats_json(capsys, "--log", str(log), "--engine", engine)["groups"]
        assert group["latency_ms"] == {"p50": 50.5, "p95": 95.05, "p99": 99.01}
        assert group["ttft_ms"] == {"p50": None, "p95": None, "p99": None}

    @pytest.mark.parametrize("engine", ENGINES)
    def test_an_empty_selection_is_zero_calls(
        self, tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Filters that match nothing give one group with 0 calls, not an error."""
        log = write_jsonl(tmp_path / "l.jsonl", [schema_record(1)])
        result = stats_json(capsys, "--log", str(log), "--engine", engine, "--model", "nope")
        assert result["groups"][0]["calls"] == 0
        assert result["groups"][0]["cost_usd"] is None

    @pytest.mark.parametrize("engine", ENGINES)
    def test_calls_grouped_by_the_server_they_went_to(
        self, tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--by server: a gateway's calls apart from the provider's own; a value of the
        wrong type counts as missing in both engines."""
        servers = ["api.openai.com", "llm.corp.example", "api.openai.com", 123]
        records = [schema_record(n, server_address=s) for n, s in enumerate(servers)]
        log = write_jsonl(tmp_path / "l.jsonl", records)
        groups = stats_json(capsys, "--log", str(log), "--by", "server", "--engine", engine)
        counts = {g["key"]: g["calls"] for g in groups["groups"]}
        assert counts == {"api.openai.com": 2, "llm.corp.example": 1, None: 1}

    @pytest.mark.parametrize("engine", ENGINES)
    def test_days_are_listed_in_date_order(
        self, tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--by day sorts by the day, not by the number of calls."""
        log = write_jsonl(tmp_path / "l.jsonl", [schema_record(n) for n in (3, 1, 2, 2)])
        groups = stats_json(capsys, "--log", str(log), "--by", "day", "--engine", engine)["groups"]
        assert [g["key"] for g in groups] == ["2026-01-02", "2026-01-03", "2026-01-04"]


class TestFilesAndDamage:
    @pytest.mark.parametrize("engine", ENGINES)
    def test_rotated_and_compressed_files_are_all_read(
        self, tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The active file, a rotated file and a gzipped rotated file are one log."""
        write_jsonl(tmp_path / "llmlog-20260101T000000Z-1.jsonl", [schema_record(1)])
        with gzip.open(tmp_path / "llmlog-20251231T000000Z-1.jsonl.gz", "wb") as packed:
            packed.write(orjson.dumps(schema_record(2)) + b"\n")
        active = write_jsonl(tmp_path / "llmlog.jsonl", [schema_record(3)])
        write_jsonl(tmp_path / "other.jsonl", [schema_record(4)])
        by_file = stats_json(capsys, "--log", str(active), "--engine", engine)
        by_dir = stats_json(capsys, "--log", str(tmp_path), "--engine", engine)
        assert by_file["groups"][0]["calls"] == 3
        assert by_dir["groups"][0]["calls"] == 4

    @pytest.mark.parametrize("name", ["llm*log.jsonl", "llm?log.jsonl", "logs[1]/llmlog.jsonl"])
    def test_glob_characters_in_the_path_are_plain_characters(
        self,
        real_log: tuple[Path, list[Any]],
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        name: str,
    ) -> None:
        """DuckDB (stats, sql) reads the named log only, as the Python reader does: a `*`,
        `?` or `[` in its path does not bring in llmXlog.jsonl or logs1/llmlog.jsonl."""
        log = tmp_path / name
        log.parent.mkdir(exist_ok=True)
        log.write_bytes(real_log[0].read_bytes())
        decoys = [schema_record(n) for n in range(3)]
        write_jsonl(tmp_path / "llmXlog.jsonl", decoys)
        write_jsonl(tmp_path / "logs1" / "llmlog.jsonl", decoys)
        counts = [
            stats_json(capsys, "--log", str(log), "--engine", engine)["groups"][0]["calls"]
            for engine in ENGINES
        ]
        assert main(["sql", "--log", str(log), "--json", "SELECT count(*) AS n FROM calls"]) == 0
        assert [*counts, orjson.loads(capsys.readouterr().out)["n"]] == [4, 4, 4]

    @pytest.mark.parametrize("engine", ENGINES)
    def test_a_truncated_last_line_is_skipped_with_one_warning(
        self, tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A writer that crashed mid-line costs one record and a warning, not a traceback."""
        log = write_jsonl(
            tmp_path / "l.jsonl", [schema_record(1), schema_record(2)], tail=b'{"event":"llm.ca'
        )
        assert main(["stats", "--json", "--log", str(log), "--engine", engine]) == 0
        captured = capsys.readouterr()
        assert orjson.loads(captured.out)["groups"][0]["calls"] == 2
        assert captured.err.count("warning") == 1
        assert "not a complete JSON record" in captured.err

    def test_a_damaged_gzip_file_falls_back_to_the_python_reader(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """DuckDB refuses a corrupt .gz; auto mode says so and reads the rest in Python;
        --engine duckdb is an error that suggests the Python engine."""
        write_jsonl(tmp_path / "llmlog.jsonl", [schema_record(1), schema_record(2)])
        (tmp_path / "llmlog-20250101T000000Z-1.jsonl.gz").write_bytes(b"\x1f\x8b not gzip at all")
        (group,) = stats_json(capsys, "--log", str(tmp_path))["groups"]
        assert group["calls"] == 2
        assert main(["stats", "--log", str(tmp_path), "--engine", "duckdb"]) == 2
        err = capsys.readouterr().err
        assert "DuckDB could not read the log" in err and "--engine python" in err

    @pytest.mark.parametrize("engine", ENGINES)
    def test_calls_the_writer_dropped_are_reported_not_counted(
        self, tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """llmlog.dropped notices in the window add up to one warning; they are not calls."""

        def dropped(day: int, count: int) -> dict[str, Any]:
            ts = f"2026-01-{day:02d}T00:00:00.000000Z"
            return {
                "event": "llmlog.dropped",
                "schema": 1,
                "id": f"D{day}",
                "ts": ts,
                "count": count,
            }

        log = write_jsonl(
            tmp_path / "l.jsonl", [schema_record(1), dropped(2, 5), dropped(3, 2), dropped(9, 40)]
        )
        argv = ["stats", "--json", "--log", str(log), "--engine", engine, "--until", "2026-01-05"]
        assert main(argv) == 0
        captured = capsys.readouterr()
        assert orjson.loads(captured.out)["groups"][0]["calls"] == 1
        assert "7 calls in this window were not logged" in captured.err

    def test_an_unknown_grouping_is_a_clear_error(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--by colour names the valid choices and exits 2."""
        log = write_jsonl(tmp_path / "l.jsonl", [schema_record(1)])
        assert main(["stats", "--log", str(log), "--by", "colour"]) == 2
        err = capsys.readouterr().err
        assert "cannot group by 'colour'" in err and "model, provider, template" in err

    def test_an_empty_directory_says_nothing_was_logged(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """No log files is an error that says so."""
        assert main(["stats", "--log", str(tmp_path)]) == 2
        assert "no log files" in capsys.readouterr().err

    def test_without_duckdb_the_python_engine_is_used(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """stats works without the optional extra."""
        monkeypatch.setitem(sys.modules, "duckdb", None)
        log = write_jsonl(tmp_path / "l.jsonl", [schema_record(n) for n in range(1, 5)])
        (group,) = stats_json(capsys, "--log", str(log))["groups"]
        assert group["calls"] == 4
        assert math.isclose(group["latency_ms"]["p50"], 2.5)


class TestSumsAndMarkers:
    @pytest.mark.parametrize("engine", ENGINES)
    def test_json_keeps_the_cost_of_tiny_calls(
        self, tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A call costing $0.0000002 (a few embedding tokens) is not rounded to 0.0."""
        log = write_jsonl(tmp_path / "l.jsonl", [schema_record(1, cost_usd=2e-7)])
        (group,) = stats_json(capsys, "--log", str(log), "--engine", engine)["groups"]
        assert group["cost_usd"] == 2e-7

    @pytest.mark.parametrize("engine", ENGINES)
    def test_calls_of_unknown_usage_are_counted_and_marked(
        self, tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """usage null (a stream without include_usage) is not 0 tokens: the sums say they
        leave such calls out, in JSON and with a * in the table, as cost does."""
        log = write_jsonl(
            tmp_path / "l.jsonl", [schema_record(1), schema_record(2, usage=None, cost_usd=None)]
        )
        (group,) = stats_json(capsys, "--log", str(log), "--engine", engine)["groups"]
        assert group["input_tokens"] == 10 and group["unknown_usage_calls"] == 1
        assert main(["stats", "--log", str(log), "--engine", engine]) == 0
        row = capsys.readouterr().out.splitlines()[2].split()
        assert row[-4:] == ["10*", "5*", "0*", "$0.001000*"]

    @pytest.mark.parametrize("engine", ENGINES)
    def test_every_dropped_notice_counts_when_grouping_by_day(
        self, tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Notices on three days add up to one warning of 15, not one day's 5."""
        notices = [
            {"event": "llmlog.dropped", "schema": 1, "id": f"D{d}", "ts": f"2026-01-0{d}T00:00Z",
             "count": 5}
            for d in (2, 3, 4)
        ]  # fmt: skip
        log = write_jsonl(tmp_path / "l.jsonl", [schema_record(1), *notices])
        assert main(["stats", "--log", str(log), "--by", "day", "--engine", engine]) == 0
        err = capsys.readouterr().err
        assert "15 calls in this window were not logged" in err and err.count("warning") == 1

    @pytest.mark.parametrize("engine", ENGINES)
    @pytest.mark.parametrize(("by", "field"), [("user", "user_id"), ("session", "session_id")])
    def test_groups_by_user_and_session(
        self, tmp_path: Path, engine: str, by: str, field: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--by user (the README promises it) and --by session group by the context's ids."""
        records = [schema_record(n, **{field: f"x{n % 2}"}) for n in range(1, 6)]
        log = write_jsonl(tmp_path / "l.jsonl", records)
        result = stats_json(capsys, "--log", str(log), "--by", by, "--engine", engine)
        assert [(g["key"], g["calls"]) for g in result["groups"]] == [("x1", 3), ("x0", 2)]

    @pytest.mark.parametrize("engine", ENGINES)
    def test_a_user_id_holding_a_newline_stays_one_row(
        self, tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An end user picks "eve", a newline and a fake row as their id: the table shows
        one row for them, the newline spelled out, and no row for a user who made no call."""
        fake_row = "alice  1  0  0.0  1ms  1ms  1ms  -  -  20  5  8  $0.000090"
        records = [
            schema_record(1, user_id="mallory"),
            schema_record(2, user_id=f"eve\n{fake_row}"),
        ]
        log = write_jsonl(tmp_path / "l.jsonl", records)
        assert main(["stats", "--log", str(log), "--by", "user", "--engine", engine]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 2 + 2
        assert sorted(line.split()[0] for line in lines[2:]) == ["eve\\x0aalice", "mallory"]

    def test_both_engines_sum_costs_to_the_same_last_digit(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Many costs of very different sizes: DuckDB's fsum agrees with Python's math.fsum."""
        costs = [1e-7 * (n % 7 + 1) + (0.3 if n % 10 == 0 else 0.0) for n in range(3000)]
        log = write_jsonl(
            tmp_path / "l.jsonl", [schema_record(n, cost_usd=c) for n, c in enumerate(costs)]
        )
        duck = stats_json(capsys, "--log", str(log), "--engine", "duckdb")["groups"][0]
        python = stats_json(capsys, "--log", str(log), "--engine", "python")["groups"][0]
        assert duck["cost_usd"] == python["cost_usd"] == math.fsum(costs)

    @pytest.mark.parametrize("engine", ENGINES)
    def test_records_of_an_unknown_schema_are_skipped_with_one_warning(
        self, tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A schema-2 record (a newer writer) is not counted as a call, and the reader hears."""
        newer = [schema_record(n, schema=2, latency_ms=99999.0) for n in (2, 3)]
        log = write_jsonl(tmp_path / "l.jsonl", [schema_record(1), *newer])
        assert main(["stats", "--json", "--log", str(log), "--by", "day", "--engine", engine]) == 0
        captured = capsys.readouterr()
        assert [g["calls"] for g in orjson.loads(captured.out)["groups"]] == [1]
        assert captured.err.count("warning") == 1
        assert "2 records of an unknown schema skipped" in captured.err
