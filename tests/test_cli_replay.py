"""``llmlog replay``: re-send a logged request through the real SDK, against the fake provider."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from llmlog.cli import main
from llmlog.cli._replayable import problems, replay_request
from llmlog.fake_provider import FakeProvider, start_server
from test_cli_main import PROMPTS, schema_record, write_real_log


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with start_server() as server:
        yield server


@pytest.fixture
def log(
    tmp_path: Path, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, list[Any]]:
    monkeypatch.setenv("LLMLOG_REDACT", "secrets")
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "llmlog.jsonl"
    return path, write_real_log(path, fake)


def records_in(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


class TestReplay:
    def test_the_same_request_is_sent_and_logged_as_a_replay(
        self, log: tuple[Path, list[Any]], fake: FakeProvider, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """System prompt and messages go out as the app sent them; the new record links back."""
        path, records = log
        original = records[0]
        assert (
            main(["replay", "--log", str(path), original["id"][:20], "--provider-url", fake.url])
            == 0
        )
        route, body = fake.requests[-1]
        assert route.endswith("/chat/completions")
        assert body["messages"] == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": PROMPTS[0]},
        ]
        assert body["model"] == "gpt-4o"
        new = records_in(path)[-1]
        assert new["tags"]["replay_of"] == original["id"]
        assert new["messages"] == original["messages"] and new["system"] == original["system"]
        out = capsys.readouterr().out
        assert original["id"] in out and new["id"] in out
        assert out.splitlines()[0].split() == ["original", "|", "replay"]

    def test_a_stream_is_replayed_as_one_answer_and_the_model_can_change(
        self, log: tuple[Path, list[Any]], fake: FakeProvider, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--model sends to another model; stream options are left out of the replay."""
        path, records = log
        assert (
            main(
                [
                    "replay",
                    "--log",
                    str(path),
                    records[1]["id"],
                    "--provider-url",
                    fake.url,
                    "--model",
                    "gpt-4.1",
                ]
            )
            == 0
        )
        _, body = fake.requests[-1]
        assert body["model"] == "gpt-4.1" and "stream" not in body and "stream_options" not in body
        assert records_in(path)[-1]["model"] == "gpt-4.1"

    def test_a_provider_error_is_reported_and_the_failed_replay_is_logged(
        self, log: tuple[Path, list[Any]], fake: FakeProvider, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An HTTP 500 on the replay: exit 2, the status in the message, the call in the log."""
        path, records = log
        assert (
            main(
                [
                    "replay",
                    "--log",
                    str(path),
                    records[0]["id"],
                    "--provider-url",
                    fake.url,
                    "--model",
                    "fake-error",
                ]
            )
            == 2
        )
        assert "InternalServerError 500" in capsys.readouterr().err
        failed = records_in(path)[-1]
        assert failed["status"] == "error" and failed["tags"]["replay_of"] == records[0]["id"]


class TestRefusals:
    def test_a_redacted_value_in_the_request_is_refused_naming_where(
        self, log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The Anthropic prompt held a key, logged as <API_KEY>: sending that would change it."""
        path, records = log
        assert (
            main(["replay", "--log", str(path), records[2]["id"], "--provider-url", "http://x"])
            == 2
        )
        err = capsys.readouterr().err
        assert "cannot be replayed unchanged" in err
        assert "messages[0].content holds the redaction tag <API_KEY>" in err

    def test_metadata_only_content_is_refused(self) -> None:
        """Roles without text: the record says what was asked of whom, not what was asked."""
        record = schema_record(1, messages=[{"role": "user"}])
        assert problems(record) == [
            "content was captured as metadata only (LLMLOG_CAPTURE=metadata): "
            "the messages have roles but no text"
        ]

    def test_media_truncation_and_classes_are_each_named(self) -> None:
        """Every obstacle is listed, with where it is."""
        image = {"type": "image", "mime": "image/png", "bytes": 10, "sha256": "ab"}
        record = schema_record(
            1,
            messages=[{"role": "user", "content": [image]}],
            params={"response_format": {"class": "app.Answer", "json_schema": {}}},
            truncated={"system": 200_000},
        )
        assert problems(record) == [
            "messages[0].content[0] is inline image kept only as a hash",
            "params.response_format is a Python class (app.Answer) kept as its description",
            "system was truncated in the log",
        ]

    def test_numbered_and_hashed_tags_count_as_redacted(self) -> None:
        """<EMAIL_ADDRESS_2> and <EMAIL_ADDRESS:0123456789abcdef> are tags too."""
        for tag in ("<EMAIL_ADDRESS_2>", "<EMAIL_ADDRESS:0123456789abcdef>"):
            record = schema_record(1, system=f"write to {tag}", redactions={"EMAIL_ADDRESS": 1})
            assert problems(record) == [
                f"system holds the redaction tag {tag}; "
                "replaying would send the tag, not the original value"
            ]

    def test_an_unsupported_operation_is_refused(self) -> None:
        """Embeddings are not replayed; the message lists what is."""
        from llmlog.cli._logs import CliError

        with pytest.raises(CliError, match=r"replay supports openai chat\.completions"):
            replay_request(schema_record(1, operation="embeddings"))

    def test_without_a_key_or_url_it_says_which_variable_to_set(
        self, log: tuple[Path, list[Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """No OPENAI_API_KEY and no --provider-url: nothing is sent."""
        path, records = log
        assert main(["replay", "--log", str(path), records[0]["id"]]) == 2
        assert "set OPENAI_API_KEY or pass --provider-url" in capsys.readouterr().err
        assert len(records_in(path)) == 4
