"""``llmlog export``: jsonl, csv, parquet and OpenAI chat fine-tuning files."""

from __future__ import annotations

import csv
import io
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

import llmlog
from llmlog.cli import main
from llmlog.cli.export import FLAT_COLUMNS, _write_parquet_duckdb, flat_row
from llmlog.fake_provider import start_server
from test_cli_main import PROMPTS, clients, make_real_log, schema_record, write_jsonl


@pytest.fixture(scope="module")
def real_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    return make_real_log(tmp_path_factory)


def export(log: Path, *argv: str) -> int:
    return main(["export", "--log", str(log), *argv])


class TestFormats:
    def test_jsonl_is_the_records_as_logged(
        self, real_log: tuple[Path, list[Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Filtered records, unchanged, one per line; the count goes to stderr."""
        path, records = real_log
        out = tmp_path / "ok.jsonl"
        assert export(path, "--status", "ok", "-o", str(out)) == 0
        assert [orjson.loads(line) for line in out.read_bytes().splitlines()] == records[:3]
        assert "wrote 3 calls" in capsys.readouterr().err

    @pytest.mark.parametrize("form", ["jsonl", "csv", "parquet", "openai-chat"])
    def test_export_files_are_private_like_the_log(
        self, real_log: tuple[Path, list[Any]], tmp_path: Path, form: str
    ) -> None:
        """An export holds the log's prompts: created 0600 under any umask, and an existing
        file it replaces made 0600 too."""
        path = real_log[0]
        fresh, existing = tmp_path / f"new.{form}", tmp_path / f"old.{form}"
        existing.write_text("")
        existing.chmod(0o644)
        old_umask = os.umask(0)
        try:
            for out in (fresh, existing):
                assert export(path, "--format", form, "-o", str(out)) == 0
        finally:
            os.umask(old_umask)
        assert [stat.S_IMODE(p.stat().st_mode) for p in (fresh, existing)] == [0o600, 0o600]

    def test_an_export_to_a_device_leaves_the_device_alone(
        self, real_log: tuple[Path, list[Any]]
    ) -> None:
        """``-o /dev/null`` works and keeps /dev/null's mode (as root, a chmod would make it
        unwritable for every other user of the machine)."""
        before = os.stat(os.devnull).st_mode
        try:
            assert export(real_log[0], "-o", os.devnull) == 0
            assert os.stat(os.devnull).st_mode == before
        finally:
            if os.stat(os.devnull).st_mode != before:  # undo what a regression did
                os.chmod(os.devnull, stat.S_IMODE(before))

    def test_jsonl_goes_to_stdout_without_a_file(
        self, real_log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """No -o: standard output, so it pipes; --limit keeps the most recent."""
        path, records = real_log
        assert export(path, "--limit", "1") == 0
        assert orjson.loads(capsys.readouterr().out) == records[-1]

    @pytest.mark.parametrize("form", ["jsonl", "csv", "openai-chat"])
    def test_dash_is_standard_output_not_a_file_named_dash(
        self,
        real_log: tuple[Path, list[Any]],
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        form: str,
    ) -> None:
        """-o - writes to standard output, as with no -o; no file named '-' appears."""
        monkeypatch.chdir(tmp_path)
        assert export(real_log[0], "--format", form) == 0
        to_stdout = capsys.readouterr().out
        assert export(real_log[0], "--format", form, "-o", "-") == 0
        assert capsys.readouterr().out == to_stdout != ""
        assert list(tmp_path.iterdir()) == []

    def test_csv_has_one_flat_row_per_call(
        self, real_log: tuple[Path, list[Any]], tmp_path: Path
    ) -> None:
        """Header of FLAT_COLUMNS; prompt, output, tokens and template readable as text."""
        path, records = real_log
        out = tmp_path / "calls.csv"
        assert export(path, "--format", "csv", "-o", str(out)) == 0
        with out.open(newline="") as stream:
            rows = list(csv.DictReader(stream))
        assert list(rows[0]) == list(FLAT_COLUMNS) and len(rows) == 4
        assert rows[0]["prompt"] == PROMPTS[0] and rows[0]["system"] == "Be brief."
        assert rows[0]["output"] == records[0]["output"]["text"]
        assert rows[0]["template"] == "greet" and rows[0]["template_version"] == "2"
        assert rows[3]["error_type"] == "InternalServerError"

    def test_parquet_keeps_numbers_as_numbers(
        self, real_log: tuple[Path, list[Any]], tmp_path: Path
    ) -> None:
        """Through pyarrow: typed columns, the same rows as flat_row."""
        path, records = real_log
        out = tmp_path / "calls.parquet"
        assert export(path, "--format", "parquet", "-o", str(out)) == 0
        table = pq.read_table(out)
        assert table.column_names == list(FLAT_COLUMNS)
        assert table.to_pylist() == [flat_row(r) for r in records]

    def test_parquet_through_duckdb_when_pyarrow_is_missing(
        self, real_log: tuple[Path, list[Any]], tmp_path: Path
    ) -> None:
        """The DuckDB fallback writes the same rows."""
        records = real_log[1]
        out = tmp_path / "duck.parquet"
        modes: list[int] = []

        def rows() -> Iterator[dict[str, Any]]:
            for record in records:  # while the staging file is written: who may read it
                modes.extend(p.stat().st_mode & 0o777 for p in tmp_path.iterdir())
                yield flat_row(record)

        old_umask = os.umask(0o022)
        try:
            assert _write_parquet_duckdb(out, rows()) == 4
        finally:
            os.umask(old_umask)
        assert pq.read_table(out).to_pylist() == [flat_row(r) for r in records]
        assert list(tmp_path.iterdir()) == [out]
        assert out.stat().st_mode & 0o777 == 0o600
        assert modes and all(mode & 0o077 == 0 for mode in modes), [oct(m) for m in modes]

    def test_parquet_through_duckdb_in_a_directory_named_like_a_glob(
        self, real_log: tuple[Path, list[Any]], tmp_path: Path
    ) -> None:
        """DuckDB reads its staging file by its exact name, `[` in the directory or not."""
        records = real_log[1]
        out = tmp_path / "out[*]" / "duck.parquet"
        out.parent.mkdir()
        assert _write_parquet_duckdb(out, (flat_row(r) for r in records)) == 4
        assert pq.read_table(out).to_pylist() == [flat_row(r) for r in records]

    def test_parquet_without_either_library_says_what_to_install(
        self,
        real_log: tuple[Path, list[Any]],
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """No pyarrow, no DuckDB: a clear error naming the extras, before the file is
        created (no empty file left behind)."""
        monkeypatch.setitem(sys.modules, "pyarrow", None)
        monkeypatch.setitem(sys.modules, "duckdb", None)
        out = tmp_path / "x.parquet"
        assert export(real_log[0], "--format", "parquet", "-o", str(out)) == 2
        assert "llmlog[parquet]" in capsys.readouterr().err
        assert not out.exists()

    def test_parquet_needs_a_file(
        self, real_log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Binary output never goes to the terminal."""
        assert export(real_log[0], "--format", "parquet") == 2
        assert "-o FILE.parquet" in capsys.readouterr().err


class TestNeverIntoTheLog:
    @pytest.mark.parametrize("target", ["active", "rotated", "symlink", "dir-file"])
    def test_an_output_that_is_a_file_of_the_log_is_refused_untouched(
        self,
        real_log: tuple[Path, list[Any]],
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        target: str,
    ) -> None:
        """-o naming the log, a rotated file of it, a link to it, or a file of a --log
        directory: exit 2 before the file is opened (it would be emptied, then read)."""
        logs = tmp_path / "logs"
        logs.mkdir()
        active = logs / "llmlog.jsonl"
        rotated = logs / "llmlog-20260101T000000.000000Z-7.jsonl"
        for path in (active, rotated):
            path.write_bytes(real_log[0].read_bytes())
        (tmp_path / "link.jsonl").symlink_to(active)
        log, out = {
            "active": (active, active),
            "rotated": (active, rotated),
            "symlink": (active, tmp_path / "link.jsonl"),
            "dir-file": (logs, rotated),
        }[target]
        before = out.read_bytes()
        for form in ("jsonl", "csv", "parquet", "openai-chat"):
            assert export(log, "--format", form, "-o", str(out)) == 2
            assert "exporting into it would destroy it" in capsys.readouterr().err
        assert out.read_bytes() == before

    def test_a_new_file_in_a_log_directory_is_refused(
        self, real_log: tuple[Path, list[Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """-o dir/new.jsonl with --log dir/: it would be read as the log next time."""
        logs = tmp_path / "logs"
        logs.mkdir()
        (logs / "llmlog.jsonl").write_bytes(real_log[0].read_bytes())
        assert export(logs, "-o", str(logs / "export.jsonl")) == 2
        assert "is in the log directory" in capsys.readouterr().err
        assert not (logs / "export.jsonl").exists()

    def test_a_new_file_named_like_a_rotated_file_of_the_log_is_refused(
        self,
        real_log: tuple[Path, list[Any]],
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """-o llm_logs/llmlog-<time>Z-<pid>.jsonl beside the default log: the next read would
        take it for a rotated file of the log and count every call twice. Refused, not made;
        another log's rotated name (llmlog-worker-...) or one in another folder is written."""
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("LLMLOG_OUTPUT", raising=False)
        log = tmp_path / "llm_logs" / "llmlog.jsonl"
        log.parent.mkdir()
        log.write_bytes(real_log[0].read_bytes())
        for name in (
            "llmlog-20260101T000000Z-1.jsonl",
            "llmlog-20260101T000000.123456Z-42.jsonl",
            "llmlog-20260101T000000Z-1.jsonl.gz",
        ):
            assert main(["export", "-o", f"llm_logs/{name}"]) == 2
            assert "named like a rotated file of the log" in capsys.readouterr().err
        assert sorted(p.name for p in log.parent.iterdir()) == ["llmlog.jsonl"]
        for allowed in (
            "llm_logs/llmlog-worker-20260101T000000Z-1.jsonl",
            "llmlog-20260101T000000Z-1.jsonl",
        ):
            assert main(["export", "-o", allowed]) == 0
            assert Path(allowed).read_bytes() == log.read_bytes()


class TestOpenAIChat:
    def test_successful_calls_become_fine_tuning_examples(
        self, real_log: tuple[Path, list[Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """system + messages + the assistant's answer; the failed call is skipped and counted."""
        path, records = real_log
        out = tmp_path / "train.jsonl"
        assert export(path, "--format", "openai-chat", "-o", str(out)) == 0
        examples = [orjson.loads(line) for line in out.read_bytes().splitlines()]
        assert len(examples) == 3
        assert examples[0] == {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": PROMPTS[0]},
                {"role": "assistant", "content": records[0]["output"]["text"]},
            ]
        }
        assert "skipped 1 calls (1 not successful)" in capsys.readouterr().err

    def test_tool_calls_are_written_in_openai_shape(self, tmp_path: Path) -> None:
        """A logged {id, name, arguments} becomes a function tool call."""
        call = {"id": "call_1", "name": "weather", "arguments": '{"city":"Paris"}'}
        record = schema_record(
            1, output={"text": None, "tool_calls": [call], "finish_reason": "tool_calls"}
        )
        out = tmp_path / "t.jsonl"
        assert (
            export(
                write_jsonl(tmp_path / "l.jsonl", [record]),
                "--format",
                "openai-chat",
                "-o",
                str(out),
            )
            == 0
        )
        (example,) = [orjson.loads(line) for line in out.read_bytes().splitlines()]
        assert example["messages"][-1] == {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        }

    def test_metadata_only_and_media_calls_are_skipped(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Roles without text, or an image kept as a hash, cannot make an example."""
        metadata_only = schema_record(1, messages=[{"role": "user"}])
        image = {"type": "image", "mime": "image/png", "bytes": 10, "sha256": "ab"}
        with_media = schema_record(2, messages=[{"role": "user", "content": [image]}])
        log = write_jsonl(tmp_path / "l.jsonl", [metadata_only, with_media])
        assert export(log, "--format", "openai-chat") == 0
        captured = capsys.readouterr()
        assert captured.out == ""
        assert "skipped 2 calls (2 with non-text or metadata-only messages)" in captured.err

    def test_calls_with_truncated_text_are_skipped_and_counted(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A prompt or answer llmlog cut would teach the model its '…[truncated]' marker."""
        cut = "Q" * 50 + "…[truncated 30 chars]"
        in_prompt = schema_record(
            1,
            messages=[{"role": "user", "content": cut}],
            truncated={"messages[0].content": 80},
        )
        in_answer = schema_record(
            2,
            output={"text": cut, "tool_calls": [], "finish_reason": "stop"},
            truncated={"output.text": 80},
        )
        in_system = schema_record(3, system=cut, truncated={"system": 80})
        in_params = schema_record(4, truncated={"params.tools[0].description": 9000})
        log = write_jsonl(tmp_path / "l.jsonl", [in_prompt, in_answer, in_system, in_params])
        assert export(log, "--format", "openai-chat") == 0
        captured = capsys.readouterr()
        (example,) = [orjson.loads(line) for line in captured.out.splitlines()]
        assert example["messages"][-1]["content"] == "answer 4"
        assert "skipped 3 calls (3 with text truncated in the log)" in captured.err


WEATHER = {
    "name": "get_weather",
    "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def log_tool_calls(path: Path) -> list[dict[str, Any]]:
    """The same tool offered through chat completions, Responses and Anthropic messages,
    each call made through the real SDK against the fake provider."""
    with start_server() as fake:
        oai, claude = clients(fake)
        llmlog.instrument(output=str(path), redact="off")
        try:
            ask = [{"role": "user", "content": "Use the get_weather tool for Paris"}]
            oai.chat.completions.create(
                model="gpt-4o", messages=ask, tools=[{"type": "function", "function": WEATHER}]
            )
            oai.responses.create(model="gpt-4o", input=ask, tools=[{"type": "function", **WEATHER}])
            claude.messages.create(
                model="claude-haiku-4-5",
                max_tokens=100,
                messages=ask,
                tools=[{"name": WEATHER["name"], "description": WEATHER["description"],
                        "input_schema": WEATHER["parameters"]}],
            )  # fmt: skip
            assert llmlog.flush(10.0)
        finally:
            llmlog.uninstrument()
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


class TestOpenAIChatScope:
    def test_function_tools_are_written_in_the_chat_shape(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Each line carries the tools the call offered (the fine-tuning format's `tools`),
        converted from the Responses and Anthropic shapes."""
        records = log_tool_calls(tmp_path / "llmlog.jsonl")
        assert [r["operation"] for r in records] == ["chat.completions", "responses", "messages"]
        out = tmp_path / "train.jsonl"
        assert export(tmp_path / "llmlog.jsonl", "--format", "openai-chat", "-o", str(out)) == 0
        examples = [orjson.loads(line) for line in out.read_bytes().splitlines()]
        assert examples, capsys.readouterr().err
        for example in examples:
            assert example["tools"] == [{"type": "function", "function": WEATHER}]

    def test_calls_that_are_not_chat_are_not_examples(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An image generation's revised prompt is not an assistant's answer; a hosted tool
        cannot be written in the format: both are skipped and counted."""
        image = schema_record(
            1,
            operation="images",
            method="images.generate",
            messages=[{"role": "user", "content": "a red fox"}],
            output={"text": "A red fox in snow, photo", "tool_calls": [], "images": 1},
        )
        hosted = schema_record(2, params={"tools": [{"type": "web_search"}]})
        log = write_jsonl(tmp_path / "l.jsonl", [image, hosted, schema_record(3)])
        assert export(log, "--format", "openai-chat") == 0
        captured = capsys.readouterr()
        (example,) = [orjson.loads(line) for line in captured.out.splitlines()]
        assert example["messages"][-1]["content"] == "answer 3" and "tools" not in example
        assert "1 not chat calls (images)" in captured.err
        assert "1 with tools that are not functions" in captured.err


NON_ASCII = "Grüße, 你好 →"


class TestEncodings:
    def test_files_are_utf8_under_an_ascii_locale(self, tmp_path: Path) -> None:
        """export -o writes UTF-8 whatever the locale says (here the C locale, ASCII)."""
        log = write_jsonl(
            tmp_path / "l.jsonl",
            [schema_record(1, messages=[{"role": "user", "content": NON_ASCII}])],
        )
        out = tmp_path / "out.csv"
        code = "from llmlog.cli import main; raise SystemExit(main())"
        env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
        env.pop("PYTHONIOENCODING", None)
        subprocess.run(
            [sys.executable, "-c", code, "export", "--log", str(log), "--format", "csv",
             "-o", str(out)],
            env=env, capture_output=True, check=True,
        )  # fmt: skip
        (row,) = csv.DictReader(out.read_text(encoding="utf-8").splitlines())
        assert row["prompt"] == NON_ASCII

    def test_a_terminal_that_cannot_show_a_character_gets_an_escape_not_a_traceback(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """tail to an ASCII stdout prints \\u escapes for what it cannot encode."""
        log = write_jsonl(
            tmp_path / "l.jsonl",
            [schema_record(1, messages=[{"role": "user", "content": NON_ASCII}])],
        )
        raw = io.BytesIO()
        monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="ascii"))
        assert main(["tail", "--log", str(log)]) == 0
        sys.stdout.flush()
        printed = raw.getvalue().decode("ascii")
        assert printed.count("Gr\\xfc\\xdfe, \\u4f60\\u597d \\u2192") == 1

    @pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
    def test_csv_to_stdout_is_utf8_whatever_its_encoding(
        self, tmp_path: Path, encoding: str
    ) -> None:
        """csv on stdout is the same UTF-8 bytes -o writes (like jsonl), not escapes or
        Latin-1: the stream's encoding is the terminal's, not the data's."""
        log = write_jsonl(
            tmp_path / "l.jsonl",
            [schema_record(1, messages=[{"role": "user", "content": NON_ASCII}])],
        )
        code = "from llmlog.cli import main; raise SystemExit(main())"
        argv = [sys.executable, "-c", code, "export", "--log", str(log), "--format", "csv"]
        env = {**os.environ, "PYTHONIOENCODING": encoding}
        printed = subprocess.run(argv, env=env, capture_output=True, check=True).stdout
        out = tmp_path / "out.csv"
        subprocess.run([*argv, "-o", str(out)], env=env, capture_output=True, check=True)
        assert printed == out.read_bytes()
        (row,) = csv.DictReader(printed.decode("utf-8").splitlines())
        assert row["prompt"] == NON_ASCII


class TestLimitMemory:
    @pytest.mark.parametrize("gz", [False, True])
    def test_limit_holds_one_record_at_a_time_not_n(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], gz: bool
    ) -> None:
        """`export --limit N` kept the N newest records parsed while choosing them (N large
        records: gigabytes). It chooses on their times and places, then reads the chosen
        again one at a time: the same records, in the same order, with a small peak."""
        import gzip
        import tracemalloc

        big = "x" * 40_000
        records = [
            schema_record(n, messages=[{"role": "user", "content": f"{n} {big}"}])
            for n in range(1, 201)
        ]
        rotated = tmp_path / "llmlog-20260101T000000.000000Z-1.jsonl"
        write_jsonl(rotated, records[:100])
        if gz:
            Path(f"{rotated}.gz").write_bytes(gzip.compress(rotated.read_bytes()))
            rotated.unlink()
        write_jsonl(tmp_path / "llmlog.jsonl", records[100:])
        out = tmp_path / "out" / "export.jsonl"
        out.parent.mkdir()
        tracemalloc.start()
        try:
            assert main(["export", "--log", str(tmp_path), "--limit", "150", "-o", str(out)]) == 0
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        capsys.readouterr()
        newest = sorted(records, key=lambda r: (r["ts"], int(r["id"][-3:])))[-150:]
        assert [orjson.loads(line)["id"] for line in out.read_bytes().splitlines()] == [
            r["id"] for r in newest
        ]
        assert peak < 3_000_000  # 150 records of 40 kB held at once: over 6 MB


ANOTHER_UID = 2000
as_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="needs root, to give a file to another user (uid 2000) as an attacker would",
)


class TestPlantedOutput:
    """-o in a folder others can write to (a shared /tmp folder): what is planted there."""

    @pytest.fixture
    def shared(self, tmp_path: Path) -> Path:
        folder = tmp_path / "shared"
        folder.mkdir()
        folder.chmod(0o1777)
        return folder

    @pytest.mark.parametrize("form", ["jsonl", "csv", "parquet", "openai-chat"])
    def test_a_symlink_at_the_output_is_refused_and_its_target_untouched(
        self,
        real_log: tuple[Path, list[Any]],
        tmp_path: Path,
        shared: Path,
        capsys: pytest.CaptureFixture[str],
        form: str,
    ) -> None:
        """export.csv -> the victim's file: the export truncated it, made it 0600 and
        wrote the prompts into it. Now exit 2, the file as it was."""
        victim = tmp_path / "victimfile"
        victim.write_text("precious\n")
        victim.chmod(0o640)
        (shared / "export.out").symlink_to(victim)
        assert export(real_log[0], "--format", form, "-o", str(shared / "export.out")) == 2
        assert "is a symbolic link" in capsys.readouterr().err
        assert victim.read_text() == "precious\n" and stat.S_IMODE(victim.stat().st_mode) == 0o640
        assert sorted(p.name for p in shared.iterdir()) == ["export.out"]

    @as_root
    def test_another_users_file_at_the_output_is_refused(
        self, real_log: tuple[Path, list[Any]], shared: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A 0666 file another user made at the name got the prompts; now refused, untouched."""
        planted = shared / "export.jsonl"
        planted.write_text("")
        planted.chmod(0o666)
        os.chown(planted, ANOTHER_UID, ANOTHER_UID)
        assert export(real_log[0], "-o", str(planted)) == 2
        assert f"another user's file (uid {ANOTHER_UID})" in capsys.readouterr().err
        assert planted.read_text() == "" and planted.stat().st_uid == ANOTHER_UID

    def test_the_export_is_a_new_private_file_renamed_into_place(
        self, real_log: tuple[Path, list[Any]], shared: Path
    ) -> None:
        """An existing file of one's own is replaced, not written through: a hard link to
        it (or anyone holding it open) keeps the old contents; no temporary file is left."""
        out = shared / "export.jsonl"
        out.write_text("old\n")
        os.link(out, shared / "other-name")
        assert export(real_log[0], "-o", str(out)) == 0
        assert (shared / "other-name").read_text() == "old\n"
        assert out.read_bytes() == real_log[0].read_bytes()
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        assert sorted(p.name for p in shared.iterdir()) == ["export.jsonl", "other-name"]
