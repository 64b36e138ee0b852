"""The filters shared by every command: parsing, and Python and SQL selecting alike."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from llmlog.cli import _duck, main
from llmlog.cli._filters import Filters, add_filter_args, parse_duration_s, parse_time
from llmlog.cli._logs import CliError
from test_cli_main import make_real_log, schema_record, write_jsonl

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def real_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    return make_real_log(tmp_path_factory)


class TestParsing:
    @pytest.mark.parametrize(
        ("text", "seconds"),
        [
            ("500ms", 0.5),
            ("5s", 5.0),
            ("2", 2.0),
            ("1.5m", 90.0),
            ("24h", 86400.0),
            ("7d", 604800.0),
        ],
    )
    def test_durations(self, text: str, seconds: float) -> None:
        """Durations take ms, s, m, h, d, w; a bare number is seconds."""
        assert parse_duration_s(text) == seconds

    def test_a_bad_duration_says_what_is_expected(self) -> None:
        """'fast' is not a duration; the message shows examples."""
        with pytest.raises(CliError, match="500ms, 5s"):
            parse_duration_s("fast")

    def test_since_as_a_duration_counts_back_from_now(self) -> None:
        """--since 24h is the same instant a day earlier, written like a record's ts."""
        assert parse_time("24h", now=NOW) == "2026-01-09T12:00:00.000000Z"
        assert parse_time("30m", now=NOW) == "2026-01-10T11:30:00.000000Z"

    def test_since_as_an_iso_time_is_utc_unless_it_says_otherwise(self) -> None:
        """A date is midnight UTC; an offset is converted to UTC."""
        assert parse_time("2026-01-05") == "2026-01-05T00:00:00.000000Z"
        assert parse_time("2026-01-05T02:00+02:00") == "2026-01-05T00:00:00.000000Z"

    def test_a_bad_time_is_a_clear_error(self) -> None:
        """'yesterday' is refused with examples of what works."""
        with pytest.raises(CliError, match="ISO date"):
            parse_time("yesterday")

    def test_an_eight_digit_number_is_a_basic_iso_date_not_hours(self) -> None:
        """--since 20260115 is 15 January 2026, as fromisoformat reads it."""
        assert parse_time("20260115", now=NOW) == "2026-01-15T00:00:00.000000Z"

    @pytest.mark.parametrize("option", ["--since", "--until"])
    @pytest.mark.parametrize("value", ["48", "2026", "1.5", " 7 "])
    def test_a_bare_number_is_a_usage_error_naming_the_forms(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str
    ) -> None:
        """48 hours? days? the year 2026? Exit 2, with 24h, 7d and an ISO date as examples
        (a bare number used to be hours, silently)."""
        log = write_jsonl(tmp_path / "l.jsonl", [schema_record(1)])
        assert main(["tail", "--log", str(log), f"{option}={value}"]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and f"{option} {value!r} is not a time" in captured.err
        assert "24h, 7d" in captured.err and "2026-01-31" in captured.err

    @pytest.mark.parametrize(
        "text",
        ["99999999w", "1" * 400, "99999999", "0001-01-01T00:00+01:00", "9999-12-31T23:59-05:00"],
    )
    def test_a_time_out_of_range_is_a_clear_error_naming_the_option(self, text: str) -> None:
        """A duration reaching before year 1, an impossible date: CliError, not a traceback."""
        with pytest.raises(CliError, match=r"--until .* ISO date/time"):
            parse_time(text, now=NOW, option="--until")

    def test_a_date_given_to_until_takes_in_that_whole_day(self) -> None:
        """--until 2026-01-05 ends at the next midnight (any ISO date form); a time is kept."""
        for text in ("2026-01-05", "20260105", " 2026-01-05 "):
            until = parse_time(text, option="--until", end_of_day=True)
            assert until == "2026-01-06T00:00:00.000000Z"
        until = parse_time("2026-01-05T12:00", option="--until", end_of_day=True)
        assert until == "2026-01-05T12:00:00.000000Z"

    def test_a_year_before_1000_keeps_four_digits(self) -> None:
        """ts strings compare as text: year 618 must read 0618 to sort before 2026."""
        assert parse_time("0618-07-05") == "0618-07-05T00:00:00.000000Z"

    @pytest.mark.parametrize(
        ("argv", "status"),
        [
            (["check", "--max-error-rate", "50%", "--since", "20260101"], 0),
            (["check", "--max-error-rate", "0%", "--since", "20260101"], 1),
            (["check", "--max-error-rate", "50%", "--since", "99999999w"], 2),
            (["tail", "--since", "99999999w"], 2),
            (["stats", "--until", "99999999"], 2),
        ],
    )
    def test_commands_exit_0_1_or_2_never_with_a_traceback(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], status: int
    ) -> None:
        """check keeps its documented statuses; a bad --since/--until is a usage error (2)."""
        failed = schema_record(2, status="error")
        log = write_jsonl(tmp_path / "l.jsonl", [schema_record(1), failed])
        assert main([argv[0], "--log", str(log), *argv[1:]]) == status
        err = capsys.readouterr().err
        if status == 2:
            assert err.startswith("llmlog: error: --") and "24h, 7d" in err

    @pytest.mark.parametrize("given", ["ERROR", "Error", " error "])
    def test_status_is_taken_in_any_case(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], given: str
    ) -> None:
        """--status ERROR selects the error calls: a status written in capitals is the same
        status, not a filter that matches nothing."""
        log = write_jsonl(
            tmp_path / "l.jsonl", [schema_record(1), schema_record(2, status="error")]
        )
        assert main(["stats", "--json", "--log", str(log), "--status", given]) == 0
        (group,) = orjson.loads(capsys.readouterr().out)["groups"]
        assert (group["calls"], group["errors"]) == (1, 1)

    @pytest.mark.parametrize(
        "command", [["stats"], ["check"], ["tail"], ["search", "question"], ["export"]]
    )
    @pytest.mark.parametrize("given", ["bogus", "failed", ""])
    def test_an_unknown_status_is_a_usage_error_naming_the_statuses(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], given: str
    ) -> None:
        """--status bogus would select nothing and print "0 calls" as if that were the answer:
        exit 2 and the three statuses a record can have."""
        log = write_jsonl(tmp_path / "l.jsonl", [schema_record(1)])
        assert main([command[0], "--log", str(log), *command[1:], "--status", given]) == 2
        captured = capsys.readouterr()
        assert "argument --status" in captured.err and "ok, error, cancelled" in captured.err
        assert captured.out == ""

    def test_limit_must_be_positive(self) -> None:
        """--limit 0 is an argparse error, not an empty result."""
        parser = argparse.ArgumentParser()
        add_filter_args(parser)
        with pytest.raises(SystemExit):
            parser.parse_args(["--limit", "0"])


# One call a day, 2026-01-02 to 2026-01-04, each at 10:00 UTC.
DAYS = [schema_record(n) for n in (1, 2, 3)]
# How many calls each command shows, read from its output.
COMMAND_COUNTS = {
    "tail": (["tail"], lambda out: len(out.splitlines())),
    "search": (["search", "question"], lambda out: len(out.splitlines())),
    "export": (["export"], lambda out: len(out.splitlines())),
    "stats-python": (
        ["stats", "--json", "--engine", "python"],
        lambda out: sum(g["calls"] for g in orjson.loads(out)["groups"]),
    ),
    "stats-duckdb": (
        ["stats", "--json", "--engine", "duckdb"],
        lambda out: sum(g["calls"] for g in orjson.loads(out)["groups"]),
    ),
    "check": (
        ["check", "--max-error-rate", "50%"],
        lambda out: int(out.splitlines()[-1].split(": ")[1].split(" call")[0]),
    ),
}


class TestWindow:
    @pytest.mark.parametrize("command", COMMAND_COUNTS)
    @pytest.mark.parametrize(
        ("since", "until", "calls"),
        [
            ("2026-01-03", "2026-01-03", 1),  # the day itself, not nothing
            ("2026-01-02", "20260103", 2),
            ("2026-01-03T09:00", "2026-01-03T10:00", 0),  # a time is where the window ends
            ("2026-01-03T09:00", "2026-01-03T10:00:01", 1),
        ],
    )
    def test_until_a_date_includes_that_day_in_every_command(
        self,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        command: str,
        since: str,
        until: str,
        calls: int,
    ) -> None:
        """--since D --until D is the day D (it used to select nothing), alike in every
        command and in both stats engines."""
        log = write_jsonl(tmp_path / "l.jsonl", DAYS)
        argv, count = COMMAND_COUNTS[command]
        status = main([*argv, "--log", str(log), "--since", since, "--until", until])
        assert status == (1 if command == "search" and not calls else 0)
        assert count(capsys.readouterr().out) == calls

    @pytest.mark.parametrize("command", COMMAND_COUNTS)
    @pytest.mark.parametrize(
        ("since", "until"),
        [("2026-01-04", "2026-01-03"), ("2026-01-03T10:00", "2026-01-03T10:00"), ("1h", "2h")],
    )
    def test_a_window_that_ends_before_it_starts_is_a_usage_error(
        self,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        command: str,
        since: str,
        until: str,
    ) -> None:
        """--since not before --until: exit 2 saying so, not a silent "0 calls"."""
        log = write_jsonl(tmp_path / "l.jsonl", DAYS)
        argv = COMMAND_COUNTS[command][0]
        assert main([*argv, "--log", str(log), "--since", since, "--until", until]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert f"llmlog: error: --since {since} (" in captured.err
        assert f"is not before --until {until} (" in captured.err


RECORDS = [
    schema_record(1, model="gpt-4o", session_id="a", latency_ms=100.0),
    schema_record(2, model="gpt-4o-mini", response_model="gpt-4o-mini-2024", user_id="u"),
    schema_record(3, provider="anthropic", model="claude-x", status="error", latency_ms=3000.0),
    schema_record(4, template={"name": "greet", "version": "1", "variables": None}),
    schema_record(5, template="plain-name", latency_ms=None),
    schema_record(6, session_id="a", ts="2026-02-01T00:00:00.000000Z"),
]

CASES: list[tuple[dict[str, Any], list[int]]] = [
    ({"model": "gpt-4o"}, [1, 4, 5, 6]),
    ({"model": "gpt-4o-mini*"}, [2]),
    ({"model": "*2024"}, [2]),
    ({"provider": "anthropic"}, [3]),
    ({"status": "error"}, [3]),
    ({"session": "a"}, [1, 6]),
    ({"user": "u"}, [2]),
    ({"template": "greet"}, [4]),
    ({"template": "plain-*"}, [5]),
    ({"since": "2026-01-04T10:00:00.000000Z"}, [3, 4, 5, 6]),
    ({"until": "2026-01-04T10:00:00.000000Z"}, [1, 2]),
    ({"min_latency_ms": 1000.0}, [3]),
    ({"session": "a", "since": "2026-01-03T00:00:00.000000Z"}, [6]),
]


class TestSelection:
    @pytest.mark.parametrize(("values", "expected"), CASES)
    def test_python_predicate(self, values: dict[str, Any], expected: list[int]) -> None:
        """Each filter keeps exactly the records it names."""
        keep = Filters(**values).predicate()
        assert [int(r["id"][-3:]) for r in RECORDS if keep(r)] == expected

    @pytest.mark.parametrize(("values", "expected"), CASES)
    def test_sql_condition_selects_the_same(
        self, tmp_path: Path, values: dict[str, Any], expected: list[int]
    ) -> None:
        """The SQL form used by DuckDB selects the same records as the Python form."""
        log = write_jsonl(tmp_path / "l.jsonl", RECORDS)
        where, params = Filters(**values).sql_where()
        query = (
            f"SELECT id FROM {_duck.stats_source([log])} "
            f"WHERE event IS NOT NULL AND {where} ORDER BY id"
        )
        rows = duckdb.connect().execute(query, params).fetchall()
        assert [int(row[0][-3:]) for row in rows] == expected


def _error(kind: Any, message: Any, code: Any) -> dict[str, Any]:
    return {"type": kind, "message": message, "status_code": code, "body": None}


ERROR_RECORDS = [
    schema_record(1),
    schema_record(7, status="error", error=_error("RateLimitError", "Error code: 429 - slow", 429)),
    schema_record(
        8,
        status="error",
        error=_error("BadRequestError", "This model's maximum context length is 8192", 400),
    ),
    schema_record(9, status="error", error=_error("APIConnectionError", "Connection error.", None)),
    schema_record(10, status="error", error=_error("X", "Ünïcode ÉCOLE", "503")),
    schema_record(11, status="error", error="a string, not an error object"),
    schema_record(12, status="error", error=_error(None, 42, True)),
]

ERROR_CASES: list[tuple[str, list[int]]] = [
    ("429", [7]),
    ("ratelimit", [7]),
    ("ratelimiterror", [7]),
    ("context length", [8]),
    ("400", [8]),
    ("connection", [9]),
    ("école", [10]),
    ("503", []),  # a status code logged as text is no status code, in either engine
    ("string", []),
    ("42", [7]),
    ("error", [7, 8, 9]),
]


class TestErrorFilter:
    """--error TEXT: "has this error happened before?" by type, status code or message."""

    @pytest.mark.parametrize(("text", "expected"), ERROR_CASES)
    def test_python_and_sql_select_the_same_errors(
        self, tmp_path: Path, text: str, expected: list[int]
    ) -> None:
        log = write_jsonl(tmp_path / "l.jsonl", ERROR_RECORDS)
        keep = Filters(error=text).predicate()
        assert [int(r["id"][-3:]) for r in ERROR_RECORDS if keep(r)] == expected
        where, params = Filters(error=text).sql_where()
        query = (
            f"SELECT id FROM {_duck.stats_source([log])} "
            f"WHERE event IS NOT NULL AND {where} ORDER BY id"
        )
        rows = duckdb.connect().execute(query, params).fetchall()
        assert [int(row[0][-3:]) for row in rows] == expected

    @pytest.mark.parametrize(
        "argv",
        [
            ["stats", "--json", "--engine", "python"],
            ["stats", "--json", "--engine", "duckdb"],
            ["tail"],
            ["search", "fail"],
            ["export"],
        ],
    )
    def test_every_command_selects_by_error_in_a_real_log(
        self,
        real_log: tuple[Path, list[Any]],
        capsys: pytest.CaptureFixture[str],
        argv: list[str],
    ) -> None:
        """The real log's failed call (HTTP 500 from the fake provider) is found by its
        status code, its type in any case, or words of its message; nothing else is."""
        path, records = real_log
        failed = records[3]
        assert failed["error"]["status_code"] == 500
        for text in ("500", "internalservererror", "INTERNAL", "error code: 500"):
            assert main([*argv, "--log", str(path), "--error", text]) == 0
            out = capsys.readouterr().out
            if argv[0] == "stats":
                assert [g["calls"] for g in orjson.loads(out)["groups"]] == [1]
            else:
                assert len(out.splitlines()) == 1 and failed["id"][:12] in out
        status = main([*argv, "--log", str(path), "--error", "429"])
        out = capsys.readouterr().out
        if argv[0] == "stats":
            assert status == 0 and sum(g["calls"] for g in orjson.loads(out)["groups"]) == 0
        else:
            assert out == ""
