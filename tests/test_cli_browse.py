"""``llmlog tail``, ``show`` and ``search`` on logs the real pipeline wrote."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import orjson
import pytest

from llmlog.cli import _follow, main
from llmlog.cli._logs import locate
from llmlog.cli.browse import follow
from llmlog.fake_provider import start_server
from test_cli_main import (
    PROMPTS,
    make_real_log,
    schema_record,
    write_jsonl,
    write_real_log,
    write_responses_tool_log,
)


@pytest.fixture(scope="module")
def real_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    return make_real_log(tmp_path_factory)


class TestTail:
    def test_one_line_per_call_oldest_first(
        self, real_log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Each call is one line with its time, id, model, status and the prompt."""
        path, records = real_log
        assert main(["tail", "--log", str(path)]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 4
        for line, record in zip(lines, records, strict=True):
            assert record["id"][:12] in line
        assert "  gpt-4o  ok  " in lines[0] and PROMPTS[0] in lines[0]
        assert "error:500" in lines[3]

    def test_limit_keeps_the_most_recent(
        self, real_log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--limit 2 shows the last two calls."""
        path, records = real_log
        assert main(["tail", "--log", str(path), "--limit", "2"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert [records[2]["id"][:12] in lines[0], records[3]["id"][:12] in lines[1]] == [
            True,
            True,
        ]

    def test_filters_apply(
        self, real_log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--provider anthropic shows only the Anthropic call."""
        path, records = real_log
        assert main(["tail", "--log", str(path), "--provider", "anthropic"]) == 0
        (line,) = capsys.readouterr().out.splitlines()
        assert records[2]["id"][:12] in line

    def test_follow_yields_records_appended_later_even_across_rotation(
        self, tmp_path: Path
    ) -> None:
        """New lines are seen as written; a half-written line waits for its end;
        after rotation the new active file is followed."""
        active = write_jsonl(tmp_path / "llmlog.jsonl", [schema_record(1)])
        seen: list[dict[str, Any]] = []
        polls = _Polls()

        def read() -> None:
            for record in follow(locate(str(active)), poll_s=0.01, should_stop=polls):
                seen.append(record)

        reader = threading.Thread(target=read)
        reader.start()
        try:
            assert polls.started.wait(10)  # watching: the log is open, at its end
            line = orjson.dumps(schema_record(2)) + b"\n"
            with active.open("ab") as out:
                out.write(line[:20])
                out.flush()
                polls.wait_for_another()  # the half line was read, and is held
                out.write(line[20:])
            _wait_for(lambda: len(seen) == 1)
            active.rename(tmp_path / "llmlog-20260101T000000Z-1.jsonl")
            polls.wait_for_another()  # the log gone, seen
            write_jsonl(active, [schema_record(3)])
            _wait_for(lambda: len(seen) == 2)
        finally:
            polls.stop.set()
            reader.join(5)
        assert [r["id"] for r in seen] == [schema_record(2)["id"], schema_record(3)["id"]]


class TestFollowBeforeTheFirstCall:
    @pytest.mark.parametrize("log", [None, "llm_logs", "llm_logs/"])
    def test_tail_f_waits_for_the_log_the_app_writes_later(
        self, tmp_path: Path, log: str | None
    ) -> None:
        """`llmlog tail -f` started before the app's first call (no llm_logs/ yet) says it
        waits, then shows the calls once the app writes llm_logs/llmlog.jsonl: with the
        default log, and with --log naming the folder, trailing / or not."""
        env = {k: v for k, v in os.environ.items() if k != "LLMLOG_OUTPUT"}
        argv = [sys.executable, "-m", "llmlog.cli", "tail", "-f"]
        tail = subprocess.Popen(
            [*argv, *(["--log", log] if log else [])],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        out, err = _read_lines(tail.stdout), _read_lines(tail.stderr)
        try:
            _wait_for(lambda: err, timeout=60)  # started (or failed) on a loaded machine
            assert "waiting for the first call" in err[0]
            write_jsonl(
                tmp_path / "llm_logs" / "llmlog.jsonl", [schema_record(1), schema_record(2)]
            )
            _wait_for(lambda: len(out) == 2, timeout=60)
        finally:
            tail.kill()
            tail.wait(30)
        assert len(out) == 2 and "question 1" in out[0] and "question 2" in out[1], (out, err)


def _read_lines(stream: IO[str] | None) -> list[str]:
    """The lines of a child's output, as they come (read by a thread: never blocks a test)."""
    assert stream is not None
    lines: list[str] = []

    def read() -> None:
        for line in stream:
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    return lines


class _Polls:
    """``follow``'s ``should_stop``: counts its polls, so a test knows when it watches
    (the first call comes once every log is open) and when another poll went by."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.stop = threading.Event()
        self.count = 0

    def __call__(self) -> bool:
        self.count += 1
        self.started.set()
        return self.stop.is_set()

    def wait_for_another(self) -> None:
        """Until a whole poll went by (two calls: the one under way may be past its read)."""
        seen = self.count
        _wait_for(lambda: self.count >= seen + 2)


def _wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.fixture(scope="module")
def two_logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    """A directory of two logs: worker.jsonl written first, then api.jsonl (the newest
    calls are in the file whose name sorts first); the newest records."""
    logs = tmp_path_factory.mktemp("two")
    with start_server() as server:
        write_real_log(logs / "worker.jsonl", server)
        return logs, write_real_log(logs / "api.jsonl", server)


class TestSeveralLogsInADirectory:
    @pytest.mark.parametrize("argv", [["tail"], ["search", "a"], ["export", "--format", "jsonl"]])
    def test_limit_keeps_the_most_recent_calls_of_any_file(
        self,
        two_logs: tuple[Path, list[Any]],
        capsys: pytest.CaptureFixture[str],
        argv: list[str],
    ) -> None:
        """--limit 2 on a directory: the two latest calls by time, not the last file's."""
        logs, newest = two_logs
        assert main([*argv, "--log", f"{logs}/", "--limit", "2"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 2
        assert [newest[2]["id"][:12] in lines[0], newest[3]["id"][:12] in lines[1]] == [True] * 2

    def test_follow_reads_every_log_of_the_directory(self, tmp_path: Path) -> None:
        """tail -f DIR/: new lines of each log, and of a log started later, all shown."""
        api = write_jsonl(tmp_path / "api.jsonl", [schema_record(1)])
        worker = write_jsonl(tmp_path / "worker.jsonl", [schema_record(2)])
        seen: list[str] = []
        polls = _Polls()

        def read() -> None:
            for record in follow(locate(f"{tmp_path}/"), poll_s=0.01, should_stop=polls):
                seen.append(record["id"])

        reader = threading.Thread(target=read)
        reader.start()
        try:
            assert polls.started.wait(10)  # watching: every log is open, at its end
            for path, number in ((api, 3), (worker, 4)):
                with path.open("ab") as out:
                    out.write(orjson.dumps(schema_record(number)) + b"\n")
            write_jsonl(tmp_path / "batch.jsonl", [schema_record(5)])
            _wait_for(lambda: len(seen) == 3)
        finally:
            polls.stop.set()
            reader.join(5)
        assert sorted(seen) == [schema_record(n)["id"] for n in (3, 4, 5)]


class TestShow:
    def test_a_unique_prefix_shows_the_whole_call(
        self, real_log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """System prompt, user message, output, tokens and cost are all there."""
        path, records = real_log
        record = records[0]
        assert main(["show", "--log", str(path), record["id"][:-3]]) == 0
        out = capsys.readouterr().out
        assert record["id"] in out
        assert "Be brief." in out and PROMPTS[0] in out and record["output"]["text"] in out
        assert "genai-prices" in out and "greet" in out

    def test_an_id_is_read_in_any_case(
        self, real_log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """ULIDs are case-insensitive: a prefix typed in lower case finds the call."""
        path, records = real_log
        assert main(["show", "--log", str(path), "--json", records[0]["id"][:-3].lower()]) == 0
        assert orjson.loads(capsys.readouterr().out) == records[0]

    def test_json_is_the_record_as_logged(
        self, real_log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--json prints the record itself, indented."""
        path, records = real_log
        assert main(["show", "--log", str(path), "--json", records[2]["id"]]) == 0
        assert orjson.loads(capsys.readouterr().out) == records[2]

    def test_an_ambiguous_prefix_lists_candidates(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A prefix shared by several ids is refused, naming them."""
        log = write_jsonl(tmp_path / "l.jsonl", [schema_record(1), schema_record(2)])
        assert main(["show", "--log", str(log), "01TEST"]) == 2
        err = capsys.readouterr().err
        assert "matches 2 records" in err and schema_record(1)["id"] in err

    def test_an_unknown_id_is_an_error(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """No match: exit 2 with the prefix in the message."""
        log = write_jsonl(tmp_path / "l.jsonl", [schema_record(1)])
        assert main(["show", "--log", str(log), "ZZZ"]) == 2
        assert "no record with an id starting 'ZZZ'" in capsys.readouterr().err

    def test_tool_calls_and_tool_results_of_a_chat_history_are_shown(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An assistant turn that only called a tool shows the call (name, arguments), not
        ``null``; the tool's answer keeps its tool_call_id; a plain turn prints as before."""
        call = {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        }
        record = schema_record(
            1,
            messages=[
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            ],
        )
        log = write_jsonl(tmp_path / "l.jsonl", [record])
        assert main(["show", "--log", str(log), record["id"]]) == 0
        out = capsys.readouterr().out
        assert "\n\nuser\n    Weather in Paris?\n\nassistant\n    {\n" in out
        assert '"name": "get_weather"' in out and '"arguments": "{\\"city\\":\\"Paris\\"}"' in out
        assert '\ntool\n    sunny\n    {\n      "tool_call_id": "call_1"\n    }\n' in out
        assert "null" not in out

    def test_responses_items_without_a_role_are_shown_under_their_type(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The function_call item sent back and its function_call_output: their type, name,
        call_id and output, where ``?`` and ``null`` stood."""
        with start_server() as server:
            _, second = write_responses_tool_log(tmp_path / "l.jsonl", server)
        assert main(["show", "--log", str(tmp_path / "l.jsonl"), second["id"]]) == 0
        out = capsys.readouterr().out
        (call,) = [m for m in second["messages"] if m.get("type") == "function_call"]
        assert "\nfunction_call\n    {\n" in out and "\nfunction_call_output\n    {\n" in out
        assert out.count(f'"call_id": "{call["call_id"]}"') == 2
        assert '"name": "get_weather"' in out and '"output": "{\\"sky\\": \\"sunny\\"}"' in out
        assert "\n?\n" not in out and "null" not in out

    def test_reasoning_and_item_references_are_labelled_by_their_type(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Any item without a role goes under its type, with what it holds."""
        summary = [{"type": "summary_text", "text": "Thinking it over"}]
        record = schema_record(
            1,
            operation="responses",
            method="responses.create",
            messages=[
                {"role": "user", "content": "Hi"},
                {"type": "reasoning", "id": "rs_1", "summary": summary},
                {"type": "item_reference", "id": "msg_7"},
            ],
        )
        log = write_jsonl(tmp_path / "l.jsonl", [record])
        assert main(["show", "--log", str(log), record["id"]]) == 0
        out = capsys.readouterr().out
        assert "\nreasoning\n    {\n" in out and '"text": "Thinking it over"' in out
        assert '\nitem_reference\n    {\n      "id": "msg_7"\n    }\n' in out


class TestSearch:
    def test_finds_text_in_prompts_case_insensitively(
        self, real_log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """'PARIS' finds the call whose prompt says Paris."""
        path, records = real_log
        assert main(["search", "--log", str(path), "PARIS"]) == 0
        (line,) = capsys.readouterr().out.splitlines()
        assert records[0]["id"][:12] in line

    def test_finds_text_in_outputs_and_system_prompts(
        self, real_log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Output text and the system prompt are searched too."""
        path, records = real_log
        assert main(["search", "--log", str(path), "no real model was called"]) == 0
        assert len(capsys.readouterr().out.splitlines()) == 3
        assert main(["search", "--log", str(path), "you are terse"]) == 0
        assert records[2]["id"][:12] in capsys.readouterr().out

    def test_no_match_exits_1(
        self, real_log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Nothing found says so on stderr and exits 1 (like grep)."""
        assert main(["search", "--log", str(real_log[0]), "zebra"]) == 1
        assert "no calls contain 'zebra'" in capsys.readouterr().err

    def test_search_combines_with_filters(
        self, real_log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--status error narrows a search to failed calls."""
        path, records = real_log
        assert main(["search", "--log", str(path), "fail", "--status", "error"]) == 0
        (line,) = capsys.readouterr().out.splitlines()
        assert records[3]["id"][:12] in line


class TestSearchUnicode:
    @pytest.mark.parametrize("text", ["\u00e9cole", "e\u0301cole", "\u00c9COLE", "E\u0301COLE"])
    def test_accents_match_in_either_unicode_form_and_any_case(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
    ) -> None:
        """école typed precomposed or decomposed, lower or upper case, finds it logged either
        way (NFC + casefold on both sides)."""
        composed = schema_record(1, messages=[{"role": "user", "content": "\u00e9cole (one)"}])
        split = schema_record(2, messages=[{"role": "user", "content": "e\u0301cole (two)"}])
        log = write_jsonl(tmp_path / "l.jsonl", [composed, split])
        assert main(["search", "--log", str(log), text]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 2 and "(one)" in lines[0] and "(two)" in lines[1]


class TestSearchLooksAtTextOnly:
    def test_roles_and_structure_do_not_match(
        self, real_log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Every call has a 'user' role and a finish reason; neither is text anyone wrote."""
        for word in ("user", "role", "finish_reason"):
            assert main(["search", "--log", str(real_log[0]), word]) == 1, word
        capsys.readouterr()

    def test_text_parts_and_tool_calls_match_but_ids_and_types_do_not(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Text inside content parts, tool names and arguments are searched; the part type,
        the tool-call id and the finish reason are not."""
        call = {"id": "call_zq81", "name": "get_weather", "arguments": '{"city": "Oslo"}'}
        record = schema_record(
            1,
            messages=[{"role": "user", "content": [{"type": "input_text", "text": "Forecast?"}]}],
            output={"text": None, "tool_calls": [call], "finish_reason": "tool_calls"},
        )
        log = write_jsonl(tmp_path / "l.jsonl", [record])
        found = {
            word: main(["search", "--log", str(log), word])
            for word in ("forecast", "GET_WEATHER", "oslo", "input_text", "call_zq81", "tool_calls")
        }
        capsys.readouterr()
        assert found == {
            "forecast": 0, "GET_WEATHER": 0, "oslo": 0,
            "input_text": 1, "call_zq81": 1, "tool_calls": 1,
        }  # fmt: skip


class TestSearchResponsesItems:
    def test_function_calls_and_their_outputs_sent_back_are_searched(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A Responses input's function_call item (name, arguments) and its
        function_call_output are tool-call text, like chat's tool_calls and tool messages."""
        with start_server() as server:
            first, second = write_responses_tool_log(tmp_path / "l.jsonl", server)
        log = str(tmp_path / "l.jsonl")
        assert main(["search", "--log", log, "sunny"]) == 0
        (line,) = capsys.readouterr().out.splitlines()
        assert second["id"][:12] in line
        (call,) = first["output"]["tool_calls"]
        assert main(["search", "--log", log, call["arguments"]]) == 0
        assert len(capsys.readouterr().out.splitlines()) == 2  # answer of one, input of the next


class TestFollowRotation:
    def test_lines_written_just_before_the_rotation_are_not_lost(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The writer appends a last line to the old file and renames it between follow's
        read and its rotation check: the line is read before moving to the new file."""
        active = write_jsonl(tmp_path / "llmlog.jsonl", [schema_record(1)])
        real_replaced = _follow._replaced
        checks = []

        def writer_rotates_meanwhile(path: Path, stream: Any) -> bool:
            checks.append(path)
            if len(checks) == 2:
                with active.open("ab") as out:
                    out.write(orjson.dumps(schema_record(2)) + b"\n")
                active.rename(tmp_path / "llmlog-20260101T000000.000001Z-1.jsonl")
                write_jsonl(active, [schema_record(3)])
            return real_replaced(path, stream)

        monkeypatch.setattr(_follow, "_replaced", writer_rotates_meanwhile)
        seen = [
            record["id"]
            for record in follow(
                locate(str(active)), poll_s=0.001, should_stop=lambda: len(checks) >= 5
            )
        ]
        assert seen == [schema_record(2)["id"], schema_record(3)["id"]]

    @pytest.mark.parametrize("by_dir", [False, True])
    def test_files_rotated_between_two_polls_are_all_read(
        self, tmp_path: Path, by_dir: bool
    ) -> None:
        """The log rotated twice between two polls (a busy app, a small LLMLOG_MAX_BYTES):
        the file in between was skipped whole. Every record is read, in order, once."""
        active = write_jsonl(tmp_path / "llmlog.jsonl", [schema_record(1)])
        polls = []

        def stop() -> bool:
            polls.append(1)
            if len(polls) == 2:
                for n in (2, 3):
                    with active.open("ab") as out:
                        out.write(orjson.dumps(schema_record(n)) + b"\n")
                    active.rename(tmp_path / f"llmlog-20260101T000000.00000{n}Z-1.jsonl")
                write_jsonl(active, [schema_record(4)])
            return len(polls) > 5

        log = f"{tmp_path}/" if by_dir else str(active)
        seen = [r["id"] for r in follow(locate(log), poll_s=0.001, should_stop=stop)]
        assert seen == [schema_record(n)["id"] for n in (2, 3, 4)]

    def test_a_log_started_and_rotated_between_two_polls_is_read_whole(
        self, tmp_path: Path
    ) -> None:
        """`tail -f` waiting on an empty directory: the app's first calls rotate the log
        twice before the next poll. The rotated files are new too: every record is read."""
        polls = []

        def stop() -> bool:
            polls.append(1)
            if len(polls) == 2:
                for n in (1, 2):
                    write_jsonl(tmp_path / "llmlog.jsonl", [schema_record(n)])
                    (tmp_path / "llmlog.jsonl").rename(
                        tmp_path / f"llmlog-20260101T000000.00000{n}Z-1.jsonl"
                    )
                write_jsonl(tmp_path / "llmlog.jsonl", [schema_record(3)])
            return len(polls) > 5

        location = locate(f"{tmp_path}/")
        seen = [r["id"] for r in follow(location, poll_s=0.001, should_stop=stop, shown=[])]
        assert seen == [schema_record(n)["id"] for n in (1, 2, 3)]

    def test_records_of_an_unknown_schema_are_not_followed(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """tail -f skips a newer writer's records too, and says so."""
        active = write_jsonl(tmp_path / "llmlog.jsonl", [])
        reads = []

        def stop() -> bool:
            reads.append(1)
            if len(reads) == 2:
                write_jsonl(active, [schema_record(1, schema=2), schema_record(2)])
            return len(reads) > 4

        seen = [r["id"] for r in follow(locate(str(active)), poll_s=0.001, should_stop=stop)]
        assert seen == [schema_record(2)["id"]]
        assert "1 record of an unknown schema skipped" in capsys.readouterr().err
