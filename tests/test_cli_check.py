"""``llmlog check``: thresholds for cron and CI."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

import llmlog
import openai_fakes
from llmlog.cli import main
from llmlog.cli._format import cost
from llmlog.fake_provider import FakeProvider, start_server
from test_cli_main import clients, make_real_log, schema_record, write_jsonl, write_real_log


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with start_server() as server:
        yield server


@pytest.fixture(scope="module")
def real_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    return make_real_log(tmp_path_factory)


def check(capsys: pytest.CaptureFixture[str], log: Path, *argv: str) -> tuple[int, list[str]]:
    status = main(["check", "--log", str(log), *argv])
    return status, capsys.readouterr().out.splitlines()


class TestThresholds:
    def test_all_thresholds_holding_exits_0(
        self, real_log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Generous limits: exit 0 and one 'ok' line."""
        status, lines = check(
            capsys, real_log[0], "--max-error-rate", "50%", "--max-p95-latency", "60s",
            "--max-cost-per-day", "10",
        )  # fmt: skip
        assert status == 0 and lines == ["ok: 4 calls checked, every threshold holds"]

    def test_each_breach_is_one_message_and_exit_1(
        self, real_log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Error rate 25% over 1%, p95 over 1ms and cost over $0: three FAIL lines."""
        status, lines = check(
            capsys, real_log[0], "--max-error-rate", "1%", "--max-p95-latency", "1ms",
            "--max-cost-per-day", "0",
        )  # fmt: skip
        assert status == 1 and len(lines) == 3
        assert lines[0] == "FAIL error rate 25.00% > 1.00% (1 of 4 calls)"
        assert lines[1].startswith("FAIL p95 latency")
        assert lines[2].startswith("FAIL cost per day over $0")

    def test_cost_per_day_names_the_worst_day(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Two expensive days: one message with the count and the highest day."""
        records = [schema_record(n, cost_usd=c) for n, c in ((1, 30.0), (2, 70.0), (3, 1.0))]
        status, lines = check(
            capsys, write_jsonl(tmp_path / "l.jsonl", records), "--max-cost-per-day", "20"
        )
        assert status == 1
        assert lines == ["FAIL cost per day over $20.00 on 2 days, highest 2026-01-03: $70.00"]

    def test_cost_per_day_counts_the_whole_day_of_a_short_window(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`--since 1h` run hourly (README's cron line) asks whether today is over the limit:
        the day's earlier calls count too, not only the last hour's."""
        records = [
            schema_record(2, cost_usd=c, ts=f"2026-01-03T{hour:02d}:00:00.000000Z")
            for hour, c in ((1, 40.0), (9, 40.0), (23, 5.0))
        ]
        log = write_jsonl(tmp_path / "l.jsonl", records)
        since = ("--since", "2026-01-03T22:30")
        status, lines = check(capsys, log, "--max-cost-per-day", "50", *since)
        assert status == 1
        assert lines == ["FAIL cost per day over $50.00 on 2026-01-03: $85.00"]
        status, lines = check(capsys, log, "--max-error-rate", "1%", *since)
        assert status == 0 and lines == ["ok: 1 call checked, every threshold holds"]
        window = ("--since", "2026-01-03T08:00", "--until", "2026-01-03T10:00")
        status, lines = check(capsys, log, "--max-cost-per-day", "50", *window)
        assert lines == ["FAIL cost per day over $50.00 on 2026-01-03: $85.00"]

    def test_hedging_answers_count_against_the_uncertain_rate(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """'I'm not sure' and 'As an AI' (any case, curly apostrophes too) are hedges."""
        texts = ["Paris.", "I\u2019m not sure, maybe Lyon.", "AS AN AI I cannot say.", "Rome."]
        records = [
            schema_record(n, output={"text": t, "tool_calls": [], "finish_reason": "stop"})
            for n, t in enumerate(texts)
        ]
        log = write_jsonl(tmp_path / "l.jsonl", records)
        status, lines = check(capsys, log, "--max-uncertain-rate", "10%")
        assert status == 1
        assert lines == ["FAIL uncertain answers 50.00% > 10.00% (2 of 4 answers hedge)"]
        assert check(capsys, log, "--max-uncertain-rate", "50%")[0] == 0

    def test_since_limits_the_window(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An old error outside --since does not count."""
        records = [schema_record(1, status="error"), schema_record(5)]
        log = write_jsonl(tmp_path / "l.jsonl", records)
        assert check(capsys, log, "--max-error-rate", "0")[0] == 1
        assert check(capsys, log, "--max-error-rate", "0", "--since", "2026-01-05")[0] == 0


class TestArguments:
    def test_a_provider_is_taken_in_any_case_and_an_unknown_one_refused(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--provider OpenAI selected nothing and the check passed; bogus is refused."""
        log = write_jsonl(tmp_path / "l.jsonl", [schema_record(1, status="error")])
        assert check(capsys, log, "--max-error-rate", "1%", "--provider", "OpenAI")[0] == 1
        assert (
            main(["check", "--log", str(log), "--max-error-rate", "1%", "--provider", "bogus"]) == 2
        )
        assert "'bogus' is not a provider: use openai, anthropic" in capsys.readouterr().err

    def test_tiny_costs_do_not_print_as_zero(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An embedding's $0.00000004 is over a $0 limit; it printed as $0.000000."""
        for tiny in (4e-8, 5e-7):  # (the second rounds down to $0.000000 too)
            log = write_jsonl(tmp_path / f"{tiny}.jsonl", [schema_record(1, cost_usd=tiny)])
            status, lines = check(capsys, log, "--max-cost-per-day", "0")
            assert status == 1
            assert lines == ["FAIL cost per day over $0 on 2026-01-02: <$0.000001"]


class TestPii:
    def test_unredacted_pii_is_found_and_redacted_tags_are_not(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An email logged in clear fails --pii; a `<EMAIL_ADDRESS>` tag does not."""
        clear = schema_record(1, messages=[{"role": "user", "content": "mail bob@example.com"}])
        tagged = schema_record(
            2,
            messages=[{"role": "user", "content": "mail <EMAIL_ADDRESS>"}],
            redactions={"EMAIL_ADDRESS": 1},
        )
        status, lines = check(capsys, write_jsonl(tmp_path / "a.jsonl", [clear, tagged]), "--pii")
        assert status == 1
        assert lines == [
            f"FAIL unredacted PII in 1 call (EMAIL_ADDRESS x1); first: llmlog show {clear['id']}"
        ]
        assert check(capsys, write_jsonl(tmp_path / "b" / "b.jsonl", [tagged]), "--pii")[0] == 0

    def test_a_real_log_redacted_at_the_secrets_level_still_holds_no_secret(
        self, real_log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The API key the app sent was redacted by the writer; --pii finds nothing left."""
        assert check(capsys, real_log[0], "--pii")[0] == 0


class TestUsage:
    def test_no_threshold_is_a_usage_error(
        self, real_log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`llmlog check` alone says which options exist."""
        assert main(["check", "--log", str(real_log[0])]) == 2
        assert "--max-error-rate" in capsys.readouterr().err

    @pytest.mark.parametrize("value", ["lots", "150%", "-1"])
    def test_a_bad_rate_is_refused(
        self, real_log: tuple[Path, list[Any]], value: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Rates are 0..100% or 0..1."""
        assert main(["check", "--log", str(real_log[0]), "--max-error-rate", value]) == 2
        assert "--max-error-rate" in capsys.readouterr().err

    @pytest.mark.parametrize(
        ("option", "value"),
        [
            (option, value)
            for option in ("--max-cost-per-day", "--max-error-rate", "--max-uncertain-rate")
            for value in ("nan", "NaN", "inf", "-inf", "-1", "$nan")
        ]
        + [
            (option, value)
            for option in ("--max-p95-latency", "--min-latency")
            for value in ("nan", "infs", "-5s")
        ],
    )
    def test_a_threshold_that_is_not_a_finite_number_is_refused(
        self,
        real_log: tuple[Path, list[Any]],
        capsys: pytest.CaptureFixture[str],
        option: str,
        value: str,
    ) -> None:
        """nan is never exceeded and inf never reached: such a threshold would check
        nothing while saying it holds. Exit 2, naming the option and the value."""
        extra = ["--max-error-rate", "50%"] if option == "--min-latency" else []
        assert main(["check", "--log", str(real_log[0]), *extra, f"{option}={value}"]) == 2
        captured = capsys.readouterr()
        assert value in captured.err and captured.out == ""
        assert option in captured.err

    @pytest.mark.parametrize(
        ("argv", "named"),
        [
            (["check", "--max-p95-latency", "slow"], "--max-p95-latency 'slow' is not a duration"),
            (["tail", "--min-latency", "fast"], "--min-latency 'fast' is not a duration"),
            (
                ["check", "--max-error-rate", "1%", "--min-latency", "fast"],
                "--min-latency 'fast' is not a duration",
            ),
        ],
    )
    def test_a_bad_duration_names_its_option(
        self,
        real_log: tuple[Path, list[Any]],
        capsys: pytest.CaptureFixture[str],
        argv: list[str],
        named: str,
    ) -> None:
        """Which of the options was not a duration: the error says, as other errors do."""
        assert main([*argv, "--log", str(real_log[0])]) == 2
        assert named in capsys.readouterr().err

    @pytest.mark.parametrize("value", ["1", "1.0", "5", "50"])
    def test_a_bare_rate_of_1_or_more_is_refused_as_ambiguous(
        self, real_log: tuple[Path, list[Any]], value: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`--max-error-rate 1` was read as the fraction 1 (100%: it can never fail) where 1%
        was meant; a bare number is a fraction below 1, else write the %."""
        assert main(["check", "--log", str(real_log[0]), "--max-error-rate", value]) == 2
        err = capsys.readouterr().err
        assert f"--max-error-rate: {value!r} is ambiguous" in err
        assert f"write {value}%" in err and "100%" in err
        assert check(capsys, real_log[0], "--max-error-rate", "0.5")[0] == 0
        assert check(capsys, real_log[0], "--max-error-rate", "1%")[0] == 1

    def test_a_log_file_name_not_there_beside_other_logs_may_be_a_typo(
        self, real_log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`--log llm_logs/llmlg.jsonl` beside llm_logs/llmlog.jsonl checked 0 calls and
        passed silently; the warning names the path and the logs there. It is no error (an
        idle worker's own log may not exist yet), but nothing checked: with
        --fail-on-no-data, exit 1."""
        typo = real_log[0].parent / "llmlg.jsonl"
        assert main(["check", "--log", str(typo), "--max-error-rate", "1%"]) == 0
        captured = capsys.readouterr()
        assert f"--log {typo}: no such log file" in captured.err
        assert "holds other llmlog logs (llmlog.jsonl): a typo?" in captured.err
        assert captured.out.splitlines()[-1].startswith("nothing checked")
        failing = ["check", "--log", str(typo), "--max-error-rate", "1%", "--fail-on-no-data"]
        assert main(failing) == 1


class TestNotChecked:
    def test_a_threshold_with_nothing_to_judge_by_says_so(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Every call unpriced, none with a latency, no text answer: three NOT CHECKED lines
        and no claim that every threshold holds; nothing was breached, so exit 0."""
        records = [
            schema_record(
                n,
                cost_usd=None,
                latency_ms=None,
                output={"text": None, "tool_calls": [], "finish_reason": "stop"},
            )
            for n in range(1, 6)
        ]
        status, lines = check(
            capsys, write_jsonl(tmp_path / "l.jsonl", records), "--max-cost-per-day", "50",
            "--max-p95-latency", "5s", "--max-uncertain-rate", "5%", "--max-error-rate", "1%",
        )  # fmt: skip
        assert status == 0
        assert lines == [
            "NOT CHECKED p95 latency: no call has a latency",
            "NOT CHECKED cost per day: 5 calls unpriced",
            "NOT CHECKED uncertain answers: no successful call has a text answer",
            "ok: 5 calls checked, no threshold breached; 3 could not be checked",
        ]

    def test_an_empty_window_checks_nothing(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """No calls in the window: the error rate is not 0%, it is unknown."""
        log = write_jsonl(tmp_path / "l.jsonl", [schema_record(1)])
        status, lines = check(capsys, log, "--max-error-rate", "1%", "--since", "2027-01-01")
        assert status == 0
        assert lines[0] == "NOT CHECKED error rate: no calls in the window"

    @pytest.mark.parametrize("log", [None, "llm_logs", "llm_logs/"])
    def test_no_log_yet_is_no_calls_not_an_error(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        log: str | None,
    ) -> None:
        """CI whose app made no call: no llm_logs/ at all (default log, or --log naming it).
        Nothing to judge: NOT CHECKED and exit 0, with one warning naming where llmlog looked."""
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("LLMLOG_OUTPUT", raising=False)
        argv = ["check", "--max-error-rate", "1%", "--max-cost-per-day", "5"]
        assert main([*argv, *(["--log", log] if log else [])]) == 0
        captured = capsys.readouterr()
        assert captured.out.splitlines() == [
            "NOT CHECKED error rate: no calls in the window",
            "NOT CHECKED cost per day: no calls in the window",
            "nothing checked: 0 calls in the window, and no threshold had anything to judge it by",
        ]
        where = Path(log or "llm_logs/llmlog.jsonl")
        assert captured.err == (
            f"llmlog: warning: no log at {where} yet (nothing logged?); checking 0 calls\n"
        )

    def test_fail_on_no_data_makes_nothing_checked_exit_1(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An empty window checks nothing: said apart from "ok", and with --fail-on-no-data
        it is exit 1 (CI whose app stopped logging must not pass). A window that checks
        every threshold still exits 0 with it."""
        log = write_jsonl(tmp_path / "l.jsonl", [schema_record(1)])
        window = ("--since", "2027-01-01")
        status, lines = check(capsys, log, "--max-error-rate", "1%", *window)
        assert status == 0
        assert lines[-1] == (
            "nothing checked: 0 calls in the window, and no threshold had anything to judge it by"
        )
        failing = check(capsys, log, "--max-error-rate", "1%", "--fail-on-no-data", *window)
        assert failing == (1, lines)
        assert check(capsys, log, "--max-error-rate", "1%", "--fail-on-no-data")[0] == 0

    def test_a_day_partly_unpriced_is_a_lower_bound_not_a_pass(
        self, tmp_path: Path, fake: FakeProvider, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A priced call and two streams without usage (no include_usage: unpriced) on one
        day passed --max-cost-per-day as if the day were priced. Now the line says how many
        calls are unpriced, the day is not fully checked, and --fail-on-no-data fails it.
        A failed call (HTTP 500: not billed) does not count as unpriced."""
        path = tmp_path / "llmlog.jsonl"
        write_real_log(path, fake)  # three priced calls and a failed one
        oai, _ = clients(fake)
        llmlog.instrument(output=str(path), redact="off")
        try:
            for _ in range(2):
                for _ in oai.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": "x"}], stream=True
                ):
                    pass
            assert llmlog.flush(10.0)
        finally:
            llmlog.uninstrument()
        records = [orjson.loads(line) for line in path.read_bytes().splitlines()]
        unpriced = [r["cost_usd"] is None for r in records]
        assert unpriced == [False, False, False, False, True, True]  # the refused call: $0
        assert records[3]["status"] == "error"
        day = records[0]["ts"][:10]
        priced = math.fsum(r["cost_usd"] for r in records[:3])
        status, lines = check(capsys, path, "--max-cost-per-day", "1000")
        assert status == 0
        assert lines == [
            f"NOT CHECKED cost per day on {day} ({cost(priced)} priced): 2 of 6 calls "
            "unpriced; cost is a lower bound",
            "ok: 6 calls checked, no threshold breached; 1 could not be checked",
        ]
        assert check(capsys, path, "--max-cost-per-day", "1000", "--fail-on-no-data")[0] == 1
        status, lines = check(capsys, path, "--max-cost-per-day", "0")  # over even so: a breach
        assert status == 1
        assert lines == [f"FAIL cost per day over {cost(0.0)} on {day}: {cost(priced)}"]

    def test_a_day_with_free_calls_is_fully_priced(
        self, tmp_path: Path, fake: FakeProvider, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A moderation bills nothing: its cost is 0, not unknown, so a day with one is
        checked whole, not called a lower bound (nor failed by --fail-on-no-data)."""
        path = tmp_path / "llmlog.jsonl"
        write_real_log(path, fake)  # three priced calls and a failed one
        llmlog.instrument(output=str(path), redact="off")
        try:
            moderator = openai_fakes.sync_client(openai_fakes.default_fake())
            moderator.moderations.create(model="omni-moderation-latest", input="x")
            assert llmlog.flush(10.0)
        finally:
            llmlog.uninstrument()
        status, lines = check(capsys, path, "--max-cost-per-day", "1000", "--fail-on-no-data")
        assert (status, lines) == (0, ["ok: 5 calls checked, every threshold holds"])

    def test_a_breach_still_fails_beside_an_unchecked_threshold(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """FAIL lines first, then what could not be checked; exit 1."""
        records = [schema_record(n, status="error", cost_usd=None) for n in range(1, 3)]
        status, lines = check(
            capsys, write_jsonl(tmp_path / "l.jsonl", records), "--max-error-rate", "1%",
            "--max-cost-per-day", "1",
        )  # fmt: skip
        assert status == 1
        assert lines == [
            "FAIL error rate 100.00% > 1.00% (2 of 2 calls)",
            "NOT CHECKED cost per day: 2 calls unpriced",
        ]

    def test_a_latency_just_over_the_limit_shows_the_difference(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """p95 4742ms over a 4740ms limit is not printed as '4.74s > 4.74s'."""
        log = write_jsonl(tmp_path / "l.jsonl", [schema_record(1, latency_ms=4742.0)])
        status, lines = check(capsys, log, "--max-p95-latency", "4740ms")
        assert status == 1 and lines == ["FAIL p95 latency 4742ms > 4740ms"]
