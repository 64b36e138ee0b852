"""``--error`` on error codes and causes, ``--service``, ``--tool``, ``stats --by error`` and
``--by service``, the output tokens per second of streams, and ``show latest`` / ``show -N``:
both engines alike, through the command line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from llmlog.cli import main
from llmlog.fake_provider import start_server
from test_cli_main import make_real_log, schema_record, write_jsonl, write_responses_tool_log
from test_cli_stats import _flat, python_value_matches

ENGINES = ("duckdb", "python")


def process(service: Any) -> dict[str, Any]:
    return {"service": service, "pid": 1, "host": "h", "sdk": {}, "llmlog": "0"}


def error(kind: str, message: str, code: Any = None, cause: Any = None) -> dict[str, Any]:
    """An ``error`` field; ``code`` and ``cause`` left out when None (an older record)."""
    fields: dict[str, Any] = {"type": kind, "message": message, "status_code": None, "body": None}
    if code is not None:
        fields["code"] = code
    if cause is not None:
        fields["cause"] = cause
    return fields


def failed(number: int, **fields: Any) -> dict[str, Any]:
    return schema_record(number, status="error", usage=None, cost_usd=None, **fields)


def tools(*names: Any) -> dict[str, Any]:
    calls = [{"id": f"c{n}", "type": "function", "name": name} for n, name in enumerate(names)]
    return {"text": None, "tool_calls": calls, "finish_reason": "tool_calls"}


def stats_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(["stats", "--json", *argv]) == 0
    result: dict[str, Any] = orjson.loads(capsys.readouterr().out)
    return result


def selected(capsys: pytest.CaptureFixture[str], log: Path, engine: str, *argv: str) -> int:
    """How many calls ``stats`` counts under the filters ``argv`` with ``engine``."""
    (group,) = stats_json(capsys, "--log", str(log), "--engine", engine, *argv)["groups"]
    calls: int = group["calls"]
    return calls


def exported(capsys: pytest.CaptureFixture[str], log: Path, *argv: str) -> list[str]:
    """The record ids ``export`` writes under the filters (the Python predicate)."""
    assert main(["export", "--log", str(log), *argv]) == 0
    return [orjson.loads(line)["id"] for line in capsys.readouterr().out.splitlines()]


@pytest.fixture
def mixed_log(tmp_path: Path) -> Path:
    """Calls of three services, with and without tools, failed in several ways."""
    limited = "RateLimitError"
    connect = [
        {"type": "ConnectError", "message": "[Errno -2] Name or service not known"},
        {"type": "gaierror", "message": None},
        "not an object",
    ]
    records = [
        schema_record(1, process=process("api"), output=tools("get_weather", "search_docs")),
        schema_record(2, process=process("api-worker"), output=tools("lookup")),
        schema_record(3, process=process("batch"), output={"tool_calls": None}),
        schema_record(4, process=None, output=None),
        schema_record(5, process=process(7), output=tools(7, None)),
        failed(6, process=process("api"), error=error(limited, "slow", "rate_limit_exceeded")),
        failed(7, process=process("api"), error=error(limited, "quota", "insufficient_quota")),
        failed(8, process=process("batch"), error=error("APIConnectionError", "no", cause=connect)),
        failed(9, error=error("BadRequestError", "too long", "context_length_exceeded")),
        failed(10, error=error("InternalServerError", "boom")),  # an older record: no code
        failed(11, error=error("OddError", "odd", code=500, cause={"type": "ConnectError"})),
    ]  # fmt: skip
    return write_jsonl(tmp_path / "llmlog.jsonl", records)


class TestErrorCodesAndCauses:
    @pytest.mark.parametrize("engine", ENGINES)
    @pytest.mark.parametrize(
        ("needle", "count"),
        [
            ("insufficient_quota", 1),  # a code
            ("RATE_LIMIT", 1),  # part of a code, any case (not "RateLimitError": no "_")
            ("exceeded", 2),  # rate_limit_exceeded, context_length_exceeded
            ("connecterror", 1),  # a cause's type; a cause not in a list is not read
            ("name or service", 1),  # a cause's message
            ("gaierror", 1),
            ("boom", 1),  # a record without code or cause: still its message
            ("ratelimiterror", 2),
            ("500", 0),  # a code that is not text; no record has the status code 500
        ],
    )
    def test_error_matches_the_code_and_each_cause(
        self, mixed_log: Path, engine: str, needle: str, count: int, capsys: Any
    ) -> None:
        """--error finds a call by its provider's error code and by its causes' type or
        message, in any case, with either engine."""
        assert selected(capsys, mixed_log, engine, "--error", needle) == count

    def test_the_python_filter_of_tail_finds_the_same_calls(
        self, mixed_log: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """export --error (the Python predicate) finds a cause's message and a code."""
        assert len(exported(capsys, mixed_log, "--error", "service not known")) == 1
        assert len(exported(capsys, mixed_log, "--error", "Insufficient_Quota")) == 1


class TestServiceAndTool:
    @pytest.mark.parametrize("engine", ENGINES)
    @pytest.mark.parametrize(
        ("option", "pattern", "count"),
        [
            ("--service", "api", 3),  # exact: not api-worker
            ("--service", "api*", 4),
            ("--service", "b?tch", 2),
            ("--service", "7", 0),  # a service that is not text is missing
            ("--tool", "get_weather", 1),
            ("--tool", "search_*", 1),
            ("--tool", "*o*", 2),  # get_weather and search_docs: one call; lookup
            ("--tool", "7", 0),
        ],
    )
    def test_glob_filters(
        self, mixed_log: Path, engine: str, option: str, pattern: str, count: int, capsys: Any
    ) -> None:
        """--service matches process.service, --tool the names of the tools the answer
        asked for, as globs like --model, with either engine."""
        assert selected(capsys, mixed_log, engine, option, pattern) == count

    def test_export_selects_by_tool_and_service(
        self, mixed_log: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The Python predicate (export) agrees."""
        assert len(exported(capsys, mixed_log, "--tool", "look*")) == 1
        assert len(exported(capsys, mixed_log, "--service", "api*", "--status", "ok")) == 2

    def test_tool_on_a_real_responses_call(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A Responses call whose answer asked for get_weather, logged by the real pipeline."""
        path = tmp_path / "tools.jsonl"
        with start_server() as server:
            records = write_responses_tool_log(path, server)
        asked = [r["id"] for r in records if r["output"]["tool_calls"]]
        assert asked and len(asked) < len(records)
        for engine in ENGINES:
            assert selected(capsys, path, engine, "--tool", "get_*") == len(asked)
        assert exported(capsys, path, "--tool", "get_weather") == asked


class TestGroupings:
    @pytest.mark.parametrize("engine", ENGINES)
    def test_by_error_is_type_and_code(
        self, mixed_log: Path, engine: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Failed calls by type:code (the type alone without a code); calls without an
        error under no key, as other groupings show a missing value."""
        result = stats_json(capsys, "--log", str(mixed_log), "--engine", engine, "--by", "error")
        assert {g["key"]: g["calls"] for g in result["groups"]} == {
            None: 5,
            "RateLimitError:rate_limit_exceeded": 1,
            "RateLimitError:insufficient_quota": 1,
            "APIConnectionError": 1,
            "BadRequestError:context_length_exceeded": 1,
            "InternalServerError": 1,
            "OddError": 1,
        }

    @pytest.mark.parametrize("engine", ENGINES)
    def test_by_service(
        self, mixed_log: Path, engine: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """One group per process.service; none, or not text, under no key."""
        result = stats_json(capsys, "--log", str(mixed_log), "--engine", engine, "--by", "service")
        groups = {g["key"]: g["calls"] for g in result["groups"]}
        assert groups == {"api": 3, "api-worker": 1, "batch": 2, None: 5}

    @pytest.mark.parametrize("by", ["error", "service"])
    def test_both_engines_agree(
        self, mixed_log: Path, by: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """DuckDB and Python report the same groups and numbers for the new groupings."""
        duck = stats_json(capsys, "--log", str(mixed_log), "--by", by, "--engine", "duckdb")
        python = stats_json(capsys, "--log", str(mixed_log), "--by", by, "--engine", "python")
        assert _flat(duck) == _flat(python)

    def test_the_table_names_the_groups(
        self, mixed_log: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """stats --by error prints type:code rows and a (none) row for the calls that
        did not fail."""
        assert main(["stats", "--log", str(mixed_log), "--by", "error"]) == 0
        rows = [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:]]
        assert rows[0] == "(none)" and "RateLimitError:insufficient_quota" in rows


def streamed(number: int, tokens: Any, latency: Any, ttft: Any, **fields: Any) -> dict[str, Any]:
    from llmlog._record import usage_record

    usage = None if tokens is None else usage_record(input_tokens=3, output_tokens=tokens)
    fields.setdefault("stream", True)
    return schema_record(number, usage=usage, latency_ms=latency, ttft_ms=ttft, **fields)


class TestOutputSpeed:
    @pytest.fixture
    def speed_log(self, tmp_path: Path) -> Path:
        records = [
            streamed(1, 100, 1100.0, 100.0),  # 100 tokens in 1 s: 100 tok/s
            streamed(2, 50, 600, 100),  # 100 tok/s
            streamed(3, 300, 1600.0, 100.0),  # 200 tok/s
            streamed(4, 40, 300.0, 100.0),  # 200 tok/s
            streamed(5, 900, 1100.0, 100.0),  # 900 tok/s
            streamed(6, 100, 1100.0, 100.0, stream=False),  # not a stream: left out
            streamed(7, None, 1100.0, 100.0),  # no usage
            streamed(8, 100, 1100.0, None),  # no first token
            streamed(9, 100, 100.0, 100.0),  # no time after the first token
            streamed(10, 100, 1100.0, "100"),  # a time that is not a number
        ]
        return write_jsonl(tmp_path / "llmlog.jsonl", records)

    @pytest.mark.parametrize("engine", ENGINES)
    def test_percentiles_of_output_tokens_per_second(
        self, speed_log: Path, engine: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Output tokens over the time after the first token, for streams with usage and a
        first token: p50 200, p95 between 200 and 900 (interpolated) with either engine."""
        (group,) = stats_json(capsys, "--log", str(speed_log), "--engine", engine)["groups"]
        assert group["output_tokens_per_s"] == {"p50": 200.0, "p95": 760.0}

    @pytest.mark.parametrize("engine", ENGINES)
    def test_none_without_a_measured_stream(
        self, tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Calls without a stream to measure have no speed: null percentiles."""
        log = write_jsonl(
            tmp_path / "llmlog.jsonl",
            [streamed(1, 100, 1100.0, 100.0, stream=False), streamed(2, None, 900.0, 50.0)],
        )
        (group,) = stats_json(capsys, "--log", str(log), "--engine", engine)["groups"]
        assert group["output_tokens_per_s"] == {"p50": None, "p95": None}

    @pytest.mark.parametrize("engine", ENGINES)
    def test_the_table_has_a_speed_column(
        self, speed_log: Path, engine: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """tok/s p50 in the table: 200.0 overall; - for a group without a measured stream."""
        assert main(["stats", "--log", str(speed_log), "--engine", engine, "--by", "day"]) == 0
        header, _, *rows = capsys.readouterr().out.splitlines()
        cells = [dict(zip(_cells(header), _cells(row), strict=True)) for row in rows]
        speeds = {row["day"]: row["tok/s p50"] for row in cells}
        assert speeds["2026-01-04"] == "200.0" and speeds["2026-01-07"] == "-"

    @pytest.mark.parametrize("by", ["model", "provider", "day", "status", "error", "service"])
    def test_both_engines_agree_on_a_real_log(
        self, real_log: tuple[Path, list[Any]], by: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """On records the real pipeline wrote (one stream with usage), both engines give
        the same numbers, speed included, for every grouping."""
        path, records = real_log
        duck = stats_json(capsys, "--log", str(path), "--by", by, "--engine", "duckdb")
        python = stats_json(capsys, "--log", str(path), "--by", by, "--engine", "python")
        assert _flat(duck).keys() == _flat(python).keys()
        for key, value in _flat(duck).items():
            assert python_value_matches(value, _flat(python)[key]), key
        (stream,) = [r for r in records if r["stream"]]
        speed = stream["usage"]["output_tokens"] / (
            (stream["latency_ms"] - stream["ttft_ms"]) / 1000
        )
        measured = [g["output_tokens_per_s"]["p50"] for g in python["groups"]]
        assert [m for m in measured if m is not None] == [pytest.approx(speed, abs=1e-3)]


def _cells(line: str) -> list[str]:
    return re.split(r"\s{2,}", line.strip())


@pytest.fixture(scope="module")
def real_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    return make_real_log(tmp_path_factory)


class TestShowRecent:
    @pytest.fixture
    def log(self, tmp_path: Path) -> Path:
        """Four calls, written out of time order: the 3rd of January's is the latest."""
        records = [
            schema_record(2),
            failed(1, error=error("RateLimitError", "slow")),
            schema_record(0),
            failed(27, error=error("APITimeoutError", "late")),  # moved to 2025 below
        ]
        records[3]["ts"] = "2025-12-31T10:00:00.000000Z"
        return write_jsonl(tmp_path / "llmlog.jsonl", records)

    def shown(self, capsys: pytest.CaptureFixture[str], log: Path, *argv: str) -> str:
        assert main(["show", "--log", str(log), "--json", *argv]) == 0
        record_id: str = orjson.loads(capsys.readouterr().out)["id"]
        return record_id

    @pytest.mark.parametrize(
        ("which", "number"), [("latest", 2), ("LATEST", 2), ("-1", 2), ("-2", 1), ("-4", 27)]
    )
    def test_the_nth_most_recent_call_by_time(
        self, log: Path, which: str, number: int, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """show latest is show -1; -N counts back by the calls' time, not their place in
        the file."""
        assert self.shown(capsys, log, which) == f"01TEST{number:020d}"

    def test_the_filters_narrow_what_is_counted(
        self, log: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """show latest --status error: the last failure; -2 the one before it."""
        assert self.shown(capsys, log, "latest", "--status", "error") == f"01TEST{1:020d}"
        assert self.shown(capsys, log, "-2", "--error", "e") == f"01TEST{27:020d}"

    def test_the_text_layout_is_the_same_as_by_id(
        self, log: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without --json, the call laid out for reading, as show ID does."""
        assert main(["show", "--log", str(log), f"01TEST{2:020d}"]) == 0
        by_id = capsys.readouterr().out
        assert main(["show", "--log", str(log), "latest"]) == 0
        assert capsys.readouterr().out == by_id

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (["-5"], "cannot show call -5: the log has only 4 calls "),
            (["-3", "--status", "error"], "only 2 calls matching the filters"),
            (["latest", "--model", "nothing"], "the log has no calls matching the filters"),
            (["-0"], "there is no -0"),
            ([f"01TEST{2:020d}", "--status", "ok"], "an id names one call"),
        ],
    )
    def test_too_few_calls_is_a_clear_error(
        self, log: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Fewer calls than N (or a -0, or filters beside an id): exit 2 and say why."""
        assert main(["show", "--log", str(log), *argv]) == 2
        assert message in capsys.readouterr().err

    def test_an_empty_log_has_no_latest_call(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A log with no call yet: the same clear error."""
        log = write_jsonl(tmp_path / "llmlog.jsonl", [])
        assert main(["show", "--log", str(log), "latest"]) == 2
        assert "the log has no calls" in capsys.readouterr().err
