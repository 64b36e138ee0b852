"""``llmlog replay``: where the replayed call is logged, and how unknown token counts and a
possibly lost cache mark are shown. Calls go through the real SDKs to the fake provider."""

from __future__ import annotations

import gzip
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

import llmlog
from llmlog._record import usage_record
from llmlog.cli import main
from llmlog.cli._replayable import caveats
from llmlog.cli.replay import side_by_side
from llmlog.fake_provider import FakeProvider, start_server
from test_cli_main import clients, schema_record, write_jsonl

ROTATED = "-20250101T000000.000000Z-1"
"""A rotated name's stamp and pid, dated in the past (a future one is not read)."""


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with start_server() as server:
        yield server


@pytest.fixture(autouse=True)
def _no_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMLOG_REDACT", "secrets")
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def records_in(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def one_call(path: Path, fake: FakeProvider, content: str = "Where is my refund?") -> str:
    """One chat call through the real SDK, logged to ``path``: its record's id."""
    oai, _ = clients(fake)
    llmlog.instrument(output=str(path))
    try:
        oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": content}])
        assert llmlog.flush(10.0)
    finally:
        llmlog.uninstrument()
    return str(records_in(path)[-1]["id"])


def replay(log: Path, record_id: str, fake: FakeProvider) -> int:
    return main(["replay", "--yes", "--log", str(log), record_id, "--provider-url", fake.url])


def replays_of(path: Path, record_id: str) -> list[dict[str, Any]]:
    return [r for r in records_in(path) if (r.get("tags") or {}).get("replay_of") == record_id]


class TestWhereTheReplayIsLogged:
    def test_a_directory_holding_only_a_rotated_file_gets_its_active_file_back(
        self, tmp_path: Path, fake: FakeProvider, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The rotated file stays as rotation left it; the replay starts ``llmlog.jsonl``
        again, private to its owner, and is found there to print."""
        record_id = one_call(tmp_path / "llmlog.jsonl", fake)
        rotated = tmp_path / f"llmlog{ROTATED}.jsonl"
        (tmp_path / "llmlog.jsonl").rename(rotated)
        before = rotated.read_bytes()
        assert replay(tmp_path, record_id, fake) == 0
        assert rotated.read_bytes() == before
        active = tmp_path / "llmlog.jsonl"
        assert len(replays_of(active, record_id)) == 1 and len(records_in(active)) == 1
        assert stat.S_IMODE(active.stat().st_mode) == 0o600
        assert record_id in capsys.readouterr().out

    def test_another_logs_file_in_the_directory_is_left_alone(
        self, tmp_path: Path, fake: FakeProvider
    ) -> None:
        """``zeta.jsonl`` sorts after ``app.jsonl``: the replay of an ``app`` call still goes
        to ``app.jsonl``, even when the call is in one of its rotated files."""
        app = tmp_path / "app.jsonl"
        old_id = one_call(app, fake, "first")
        app.rename(tmp_path / f"app{ROTATED}.jsonl")
        new_id = one_call(app, fake, "second")
        one_call(tmp_path / "zeta.jsonl", fake, "another app")
        zeta = (tmp_path / "zeta.jsonl").read_bytes()
        assert replay(tmp_path, old_id, fake) == 0
        assert replay(tmp_path, new_id, fake) == 0
        assert (tmp_path / "zeta.jsonl").read_bytes() == zeta
        assert len(replays_of(app, old_id)) == 1 and len(replays_of(app, new_id)) == 1

    def test_a_call_in_a_gzipped_rotated_file_is_replayed_into_the_active_one(
        self, tmp_path: Path, fake: FakeProvider
    ) -> None:
        """Appending plain lines to a ``.gz`` would break it: the active name is used."""
        app = tmp_path / "app.jsonl"
        record_id = one_call(app, fake)
        packed = tmp_path / f"app{ROTATED}.jsonl.gz"
        packed.write_bytes(gzip.compress(app.read_bytes()))
        app.unlink()
        before = packed.read_bytes()
        assert replay(tmp_path, record_id, fake) == 0
        assert packed.read_bytes() == before
        assert len(replays_of(app, record_id)) == 1

    @pytest.mark.parametrize("numbered", ["llmlog.jsonl.1", "llmlog.jsonl.2.gz"])
    def test_logrotates_numbered_files_are_rotated_files_too(
        self, tmp_path: Path, fake: FakeProvider, numbered: str
    ) -> None:
        """A call in logrotate's ``llmlog.jsonl.1`` or ``.2.gz``: the replay goes to
        ``llmlog.jsonl``, and every record of the numbered file is still read."""
        active = tmp_path / "llmlog.jsonl"
        record_id = one_call(active, fake)
        one_call(active, fake, "another")
        old = tmp_path / numbered
        if numbered.endswith(".gz"):
            old.write_bytes(gzip.compress(active.read_bytes()))
            active.unlink()
        else:
            active.rename(old)
        before = old.read_bytes()
        assert replay(tmp_path, record_id, fake) == 0
        assert old.read_bytes() == before
        assert sorted(p.name for p in tmp_path.glob("llmlog.jsonl*")) == sorted(
            {"llmlog.jsonl", numbered}
        )
        assert len(replays_of(active, record_id)) == 1

    def test_log_naming_a_rotated_file_writes_to_its_active_file(
        self, tmp_path: Path, fake: FakeProvider, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """``--log app-…Z-1.jsonl``: the replay goes to ``app.jsonl``, and is shown."""
        app = tmp_path / "app.jsonl"
        record_id = one_call(app, fake)
        rotated = tmp_path / f"app{ROTATED}.jsonl"
        app.rename(rotated)
        before = rotated.read_bytes()
        assert replay(rotated, record_id, fake) == 0
        assert rotated.read_bytes() == before
        (new,) = replays_of(app, record_id)
        assert new["id"] in capsys.readouterr().out


class TestUnknownTokenCounts:
    def test_tail_shows_a_cancelled_streams_unknown_counts_as_question_marks(
        self, tmp_path: Path, fake: FakeProvider, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A stream closed early without usage: not ``?>0`` (no answer tokens) but ``?>?``."""
        path = tmp_path / "llmlog.jsonl"
        oai, _ = clients(fake)
        llmlog.instrument(output=str(path))
        try:
            stream = oai.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "stream"}], stream=True
            )
            for number, _ in enumerate(stream):
                if number == 2:
                    break
            stream.close()
            assert llmlog.flush(10.0)
        finally:
            llmlog.uninstrument()
        (record,) = records_in(path)
        assert record["usage"] is None and record["output"]["text"]
        assert main(["tail", "--log", str(path)]) == 0
        assert " ?>? " in capsys.readouterr().out

    def test_one_unknown_count_is_a_question_mark_beside_the_known_one(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        usage = usage_record(input_tokens=12, output_tokens=None)
        path = write_jsonl(tmp_path / "llmlog.jsonl", [schema_record(1, usage=usage)])
        assert main(["tail", "--log", str(path)]) == 0
        assert " 12>? " in capsys.readouterr().out

    def test_replays_columns_show_question_marks_not_none(self) -> None:
        unknown = schema_record(1, usage=None, status="cancelled")
        shown = side_by_side(unknown, schema_record(2), width=100)
        assert "?>? tokens" in shown and "10>5 tokens" in shown
        assert "None" not in shown


class TestCacheCaveat:
    def test_a_possibly_lost_cache_mark_is_said_as_a_possibility(self) -> None:
        record = schema_record(
            1,
            provider="anthropic",
            operation="messages",
            model="claude-haiku-4-5",
            system="You are terse.",
            usage=usage_record(input_tokens=10, output_tokens=2, cached_input_tokens=3),
        )
        (caveat,) = caveats(record)
        assert "may have been" in caveat and "may not be cached" in caveat
        assert "carried cache_control" not in caveat
