"""``llmlog replay``: re-send a logged request through the real SDK, against the fake provider."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import openai
import orjson
import pytest

import anthropic_fakes
import llmlog
import openai_fakes
from llmlog.cli import main
from llmlog.cli._replayable import caveats, problems, replay_request
from llmlog.fake_provider import FakeProvider, start_server
from test_cli_main import (
    PROMPTS,
    clients,
    schema_record,
    write_jsonl,
    write_real_log,
    write_responses_tool_log,
)


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


def replay_to_fake(path: Path, record_id: str, fake: FakeProvider) -> int:
    """``llmlog replay --yes`` of ``record_id`` in ``path`` to the fake provider: exit status."""
    return main(["replay", "--yes", "--log", str(path), record_id, "--provider-url", fake.url])


class TestReplay:
    def test_the_same_request_is_sent_and_logged_as_a_replay(
        self, log: tuple[Path, list[Any]], fake: FakeProvider, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """System prompt and messages go out as the app sent them; the new record links back."""
        path, records = log
        original = records[0]
        assert (
            main(
                [
                    "replay",
                    "--yes",
                    "--log",
                    str(path),
                    original["id"][:20],
                    "--provider-url",
                    fake.url,
                ]
            )
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

    def test_a_stream_is_replayed_as_a_stream_and_the_model_can_change(
        self, log: tuple[Path, list[Any]], fake: FakeProvider, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--model sends to another model; a stream goes out as a stream again, with its
        stream_options, and its assembled answer is printed as a whole answer is."""
        path, records = log
        assert (
            main(
                [
                    "replay",
                    "--yes",
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
        assert body["model"] == "gpt-4.1" and body["stream"] is True
        assert body["stream_options"] == {"include_usage": True}
        new = records_in(path)[-1]
        assert new["model"] == "gpt-4.1" and new["stream"] is True and new["usage"] is not None
        assert "This is a fake answer from gpt-4.1" in capsys.readouterr().out

    def test_an_anthropic_stream_is_replayed_as_a_stream(
        self, tmp_path: Path, fake: FakeProvider, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """``messages.stream`` sent ``"stream": true``: so does the replay."""
        path = tmp_path / "llmlog.jsonl"
        _, claude = clients(fake)
        llmlog.instrument(output=str(path), redact="off")
        try:
            with claude.messages.stream(
                model="claude-haiku-4-5",
                max_tokens=50,
                messages=[{"role": "user", "content": "hi"}],
            ) as stream:
                stream.get_final_text()
            assert llmlog.flush(10.0)
        finally:
            llmlog.uninstrument()
        (original,) = records_in(path)
        assert replay_to_fake(path, original["id"], fake) == 0
        route, body = fake.requests[-1]
        assert route.endswith("/messages") and body["stream"] is True
        new = records_in(path)[-1]
        assert new["stream"] is True and new["output"]["text"] == original["output"]["text"]
        assert "This is a fake answer" in capsys.readouterr().out

    @pytest.mark.parametrize("provider", ["openai", "anthropic"])
    def test_extra_body_keys_are_sent_again_in_the_body(
        self, tmp_path: Path, fake: FakeProvider, provider: str
    ) -> None:
        """The record's params hold an ``extra_body``'s keys merged in; the SDK method does
        not take them as arguments, so the replay sends them as ``extra_body`` again."""
        path = tmp_path / "llmlog.jsonl"
        oai, claude = clients(fake)
        llmlog.instrument(output=str(path), redact="secrets")
        try:
            if provider == "openai":
                oai.chat.completions.create(
                    model="gpt-4o",
                    messages=[{"role": "user", "content": "hi"}],
                    extra_body={"top_k": 5},
                )
            else:
                claude.messages.create(
                    model="claude-haiku-4-5",
                    max_tokens=64,
                    messages=[{"role": "user", "content": "hi"}],
                    extra_body={"top_k": 5},
                )
            llmlog.flush(30)
        finally:
            llmlog.uninstrument()
        (original,) = records_in(path)
        assert replay_to_fake(path, original["id"], fake) == 0
        _, body = fake.requests[-1]
        assert body["top_k"] == 5 and body["messages"] == [{"role": "user", "content": "hi"}]
        new = records_in(path)[-1]
        assert new["status"] == "ok" and new["tags"]["replay_of"] == original["id"]

    def test_a_provider_error_is_reported_and_the_failed_replay_is_logged(
        self, log: tuple[Path, list[Any]], fake: FakeProvider, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An HTTP 500 on the replay: exit 2, the status in the message, the call in the log."""
        path, records = log
        assert (
            main(
                [
                    "replay",
                    "--yes",
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

    def test_a_redacted_key_in_the_request_is_refused(
        self, tmp_path: Path, fake: FakeProvider, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Keys of the app's data are redacted like values: metadata {"Project Falcon": ...}
        is logged as {"<DENY_LIST>": ...}; replaying would send the tag as the key."""
        path = tmp_path / "llmlog.jsonl"
        oai, _ = clients(fake)
        llmlog.instrument(output=str(path), redact="secrets", redact_deny="Project Falcon")
        try:
            oai.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "hello"}],
                metadata={"Project Falcon": "launch-team"},
                store=True,
            )
            assert llmlog.flush(10.0)
        finally:
            llmlog.uninstrument()
        (record,) = records_in(path)
        assert record["params"]["metadata"] == {"<DENY_LIST>": "launch-team"}
        sent = len(fake.requests)
        assert main(["replay", "--log", str(path), record["id"], "--provider-url", fake.url]) == 2
        assert "params.metadata has a key holding the redaction tag <DENY_LIST>" in (
            capsys.readouterr().err
        )
        assert len(fake.requests) == sent

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

    def test_encrypted_state_passed_back_is_named_as_such(self) -> None:
        """A thinking block's signature (or a reasoning item's encrypted_content) is kept as
        a hash: replay names it as the provider's encrypted state, not as media."""
        signature = {"type": "encrypted", "mime": None, "bytes": 400, "sha256": "cd"}
        block = {"type": "thinking", "thinking": "Let me see.", "signature": signature}
        record = schema_record(1, messages=[{"role": "assistant", "content": [block]}])
        assert problems(record) == [
            "messages[0].content[0].signature is the provider's encrypted state (a thinking "
            "block's signature or data, a reasoning item's encrypted_content), kept only as a hash"
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
        self,
        log: tuple[Path, list[Any]],
        fake: FakeProvider,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """No OPENAI_API_KEY and no --provider-url: nothing is sent. (OPENAI_BASE_URL names
        the host the call went to, so that is where a replay would go.)"""
        path, records = log
        monkeypatch.setenv("OPENAI_BASE_URL", f"{fake.url}/v1")
        assert main(["replay", "--log", str(path), records[0]["id"]]) == 2
        assert "set OPENAI_API_KEY or pass --provider-url" in capsys.readouterr().err
        assert len(records_in(path)) == 4


def _intercepted(monkeypatch: pytest.MonkeyPatch) -> list[httpx2.Request]:
    """Every OpenAI / Anthropic client made from now on answers from a MockTransport: the
    requests it was asked to send, and nothing leaves the machine."""
    sent: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        if request.url.path.endswith("/messages"):
            return httpx2.Response(200, json=anthropic_fakes.message())
        return openai_fakes.json_response(openai_fakes.chat_completion())

    for cls in (openai.OpenAI, anthropic.Anthropic):
        init = cls.__init__

        def patched(self: Any, *args: Any, _init: Any = init, **kwargs: Any) -> None:
            kwargs["http_client"] = httpx2.Client(transport=httpx2.MockTransport(answer))
            _init(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", patched)
    return sent


class TestWhereItGoes:
    """A prompt is re-sent only to the host it went to, unless --provider-url says where."""

    @pytest.fixture
    def elsewhere(self, tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
        """Calls the app made to Azure (OpenAI SDK) and to a gateway (Anthropic SDK)."""
        path = tmp_path / "llmlog.jsonl"
        azure = openai_fakes.azure_client(
            lambda _: openai_fakes.json_response(openai_fakes.chat_completion())
        )
        gateway = anthropic_fakes.sync_client(
            anthropic_fakes.json_handler(anthropic_fakes.message()),
            base_url="https://llm-gateway.example.com",
        )
        llmlog.instrument(output=str(path), redact="off")
        try:
            azure.chat.completions.create(
                model="my-deploy", messages=[{"role": "user", "content": "EU-only data"}]
            )
            gateway.messages.create(
                model="claude-haiku-4-5",
                max_tokens=50,
                messages=[{"role": "user", "content": "EU-only data"}],
            )
            assert llmlog.flush(10.0)
        finally:
            llmlog.uninstrument()
        return path, records_in(path)

    def test_a_call_to_another_host_is_refused_naming_it_and_provider_url(
        self,
        elsewhere: tuple[Path, list[dict[str, Any]]],
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Azure's and the gateway's calls were re-sent to api.openai.com and
        api.anthropic.com with the keys in the environment, exit 0. Now: exit 2, the record's
        host and --provider-url named, nothing sent."""
        path, records = elsewhere
        assert [r["server_address"] for r in records] == [
            "example-resource.openai.azure.com",
            "llm-gateway.example.com",
        ]
        monkeypatch.setenv("OPENAI_API_KEY", "sk-prod")
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-prod")
        for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
        sent = _intercepted(monkeypatch)
        for record, default in zip(records, ("api.openai.com", "api.anthropic.com"), strict=True):
            assert main(["replay", "--log", str(path), record["id"]]) == 2
            err = capsys.readouterr().err
            assert f"the call went to {record['server_address']}" in err
            assert f"would go to {default}" in err and "pass --provider-url" in err
        assert sent == [] and len(records_in(path)) == 2

    def test_a_call_is_replayed_where_it_went_and_not_where_an_env_url_points(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A call to api.openai.com goes back there; with OPENAI_BASE_URL naming another host
        it would not: refused. --provider-url sends it where it says."""
        path = tmp_path / "llmlog.jsonl"
        client = openai_fakes.sync_client(
            lambda _: openai_fakes.json_response(openai_fakes.chat_completion())
        )
        llmlog.instrument(output=str(path), redact="off")
        try:
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
            )
            assert llmlog.flush(10.0)
        finally:
            llmlog.uninstrument()
        (record,) = records_in(path)
        assert record["server_address"] == "api.openai.com"
        monkeypatch.setenv("OPENAI_API_KEY", "sk-prod")
        sent = _intercepted(monkeypatch)
        monkeypatch.setenv("OPENAI_BASE_URL", "https://proxy.example.com/v1")
        assert main(["replay", "--log", str(path), record["id"]]) == 2
        assert "would go to proxy.example.com" in capsys.readouterr().err and sent == []
        monkeypatch.delenv("OPENAI_BASE_URL")
        assert main(["replay", "--yes", "--log", str(path), record["id"]]) == 0
        assert [str(r.url) for r in sent] == ["https://api.openai.com/v1/chat/completions"]
        argv = ["--yes", "--provider-url", "https://proxy.example.com"]
        assert main(["replay", "--log", str(path), record["id"], *argv]) == 0
        assert str(sent[-1].url) == "https://proxy.example.com/v1/chat/completions"


CACHED_BLOCKS = [
    {"type": "text", "text": "Policy", "cache_control": {"type": "ephemeral"}},
    {"type": "text", "text": "Second block"},
]


class TestSystemPrompt:
    """The log keeps the system prompt as one text; replay sends only what that text can be."""

    def test_system_sent_in_pieces_is_replayed_as_one_and_said_so(
        self, tmp_path: Path, fake: FakeProvider, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """developer + system parts (OpenAI) and text blocks (Anthropic) were logged joined:
        the replay sends the joined text (what the model read) and says on stderr that it
        may have been several pieces. Blocks with cache_control were logged as sent
        (``params.system``): they go back as they were, with nothing to say."""
        path = tmp_path / "llmlog.jsonl"
        oai, claude = clients(fake)
        llmlog.instrument(output=str(path), redact="off")
        try:
            oai.chat.completions.create(
                model="gpt-4o",
                messages=[
                    {"role": "developer", "content": "Be terse."},
                    {"role": "system", "content": [{"type": "text", "text": "Part A"}]},
                    {"role": "user", "content": "hi"},
                ],
            )
            claude.messages.create(
                model="claude-haiku-4-5",
                max_tokens=5,
                system=[{"type": "text", "text": "Policy"}, {"type": "text", "text": "More"}],
                messages=[{"role": "user", "content": "hi"}],
            )
            claude.messages.create(
                model="claude-haiku-4-5",
                max_tokens=5,
                system=CACHED_BLOCKS,
                messages=[{"role": "user", "content": "hi"}],
            )
            assert llmlog.flush(10.0)
        finally:
            llmlog.uninstrument()
        sent = len(fake.requests)
        for record, pieces in zip(
            records_in(path),
            ["system/developer messages or text parts", "text blocks", None],
            strict=True,
        ):
            assert replay_to_fake(path, record["id"], fake) == 0
            err = capsys.readouterr().err
            assert ("system may have been several" in err) is (pieces is not None)
            if pieces is not None:
                assert f"system may have been several {pieces}" in err
        assert len(fake.requests) == sent + 3
        assert fake.requests[-1][1]["system"] == CACHED_BLOCKS

    def test_a_developer_role_is_said_and_an_empty_system_message_is_sent_again(
        self, tmp_path: Path, fake: FakeProvider, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The log keeps a leading developer message as ``system`` text, without its role:
        replay says it sends a system message. An empty leading system message (logged as
        "") was left out of the replay; it is sent again."""
        path = tmp_path / "llmlog.jsonl"
        oai, _ = clients(fake)
        llmlog.instrument(output=str(path), redact="off")
        try:
            for lead in (
                {"role": "developer", "content": "Formatting re-enabled."},
                {"role": "system", "content": ""},
            ):
                oai.chat.completions.create(
                    model="gpt-4o", messages=[lead, {"role": "user", "content": "hi"}]
                )
            assert llmlog.flush(10.0)
        finally:
            llmlog.uninstrument()
        developer, empty = records_in(path)
        assert (developer["system"], empty["system"]) == ("Formatting re-enabled.", "")
        for record, lead in ((developer, "Formatting re-enabled."), (empty, "")):
            assert replay_to_fake(path, record["id"], fake) == 0
            assert fake.requests[-1][1]["messages"] == [
                {"role": "system", "content": lead},
                {"role": "user", "content": "hi"},
            ]
            err = capsys.readouterr().err
            assert "system may have been a developer message, or text parts" in err

    def test_a_responses_system_text_is_sent_as_instructions_and_said_so(
        self, tmp_path: Path, fake: FakeProvider, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The leading developer item the app sent goes back as ``instructions`` (the log keeps
        one system text: it cannot tell the two apart) and stderr says so; the rest of the
        input as the app sent it."""
        path = tmp_path / "llmlog.jsonl"
        first, second = write_responses_tool_log(path, fake)
        sent = [body for route, body in fake.requests if route.endswith("/responses")][-2:]
        for record, original in zip((first, second), sent, strict=True):
            assert replay_to_fake(path, record["id"], fake) == 0
            route, body = fake.requests[-1]
            developer, *rest = original["input"]
            assert route.endswith("/responses") and developer["role"] == "developer"
            assert body["instructions"] == developer["content"]
            assert body["input"] == rest
            assert "it is sent as instructions=" in capsys.readouterr().err

    def test_anthropic_blocks_logged_as_a_list_are_sent_as_that_list(self) -> None:
        """Blocks with cache_control go back as blocks, not as one joined string."""
        blocks = [
            {"type": "text", "text": "Policy", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Second block"},
        ]
        record = schema_record(
            1, provider="anthropic", operation="messages", model="claude-x", system=blocks
        )
        assert replay_request(record).kwargs["system"] == blocks

    def test_one_line_of_system_text_is_one_system_message_and_later_ones_stay_in_place(
        self,
    ) -> None:
        """A later developer message was never moved into system: it is sent where it was."""
        messages = [
            {"role": "user", "content": "hi"},
            {"role": "developer", "content": "now in French"},
            {"role": "user", "content": "again"},
        ]
        record = schema_record(1, system="Be brief.", messages=messages)
        assert replay_request(record).kwargs["messages"] == [
            {"role": "system", "content": "Be brief."},
            *messages,
        ]

    def test_a_cached_anthropic_call_with_no_marker_left_is_noted(self) -> None:
        """The prompt cache was used but nothing logged carries cache_control: the system
        blocks did, and the one logged line of text lost it (replayed, uncached, with a note)."""
        fields: dict[str, Any] = {
            "provider": "anthropic",
            "operation": "messages",
            "model": "claude-x",
            "system": "Long policy",
            "usage": {"input_tokens": 5, "cache_write_tokens": 2048, "output_tokens": 1},
        }
        assert problems(schema_record(1, **fields)) == []
        assert caveats(schema_record(1, **fields)) == [
            "the call used the prompt cache, yet nothing logged is marked cache_control: its "
            "system prompt may have been (the log does not keep that), so the replay may not "
            "be cached"
        ]
        marked = [
            {
                "role": "user",
                "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}],
            }
        ]
        assert caveats(schema_record(2, **fields, messages=marked)) == []

    def test_an_openai_system_that_is_not_text_is_refused(self) -> None:
        """Nothing logs an OpenAI system prompt as a list; replay does not guess its roles."""
        record = schema_record(1, system=[{"type": "text", "text": "x"}])
        assert problems(record) == ["system is logged as a list, not as text"]


class _Terminal(io.StringIO):
    """Standard input that is a terminal, where the user types ``answer``."""

    def isatty(self) -> bool:
        return True


def _costly_log(path: Path, **fields: Any) -> dict[str, Any]:
    """A log holding one call as a forged line would have it: another project's header, a
    query, a timeout, 64 answers of up to 100k tokens from o1-pro."""
    params = {
        "n": 64,
        "max_completion_tokens": 100000,
        "extra_headers": {"OpenAI-Project": "proj_someone_else"},
        "extra_query": {"x": "1"},
        "timeout": 600,
        "extra_body": {"top_k": 5},
    }
    record = schema_record(1, model="o1-pro", params=params, **fields)
    write_jsonl(path, [record])
    return record


class TestBeforeSending:
    """What a log line asks for is not all sent, and nothing is sent unseen."""

    def test_headers_query_and_timeout_from_the_log_are_not_sent(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The logged OpenAI-Project header and ?x=1 went out with the user's key: now they
        are left out, and said so; extra_body (part of the body as sent) still goes."""
        path = tmp_path / "llmlog.jsonl"
        record = _costly_log(path, server_address="api.openai.com")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-prod")
        monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
        sent = _intercepted(monkeypatch)
        assert main(["replay", "--yes", "--log", str(path), record["id"]]) == 0
        (request,) = sent
        assert str(request.url) == "https://api.openai.com/v1/chat/completions"
        assert "openai-project" not in request.headers
        body = orjson.loads(request.content)
        assert body["top_k"] == 5 and body["n"] == 64
        err = capsys.readouterr().err
        assert "params.extra_headers, params.extra_query, params.timeout are not sent" in err

    def test_without_a_terminal_it_shows_what_would_be_sent_and_asks_for_yes(
        self, tmp_path: Path, fake: FakeProvider, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Host, model, n, token limits and stream are printed first; with no terminal to
        ask on and no --yes: exit 2 naming --yes, nothing sent."""
        path = tmp_path / "llmlog.jsonl"
        record = _costly_log(path)
        sent = len(fake.requests)
        assert main(["replay", "--log", str(path), record["id"], "--provider-url", fake.url]) == 2
        err = capsys.readouterr().err
        assert f"to {fake.url}/v1/: model o1-pro, n 64, max_completion_tokens 100000" in err
        assert "stream no" in err and "pass --yes to send it" in err
        assert len(fake.requests) == sent and len(records_in(path)) == 1

    @pytest.mark.parametrize(("answer", "status"), [("y\n", 0), ("n\n", 2), ("\n", 2)])
    def test_at_a_terminal_only_a_y_sends_it(
        self,
        tmp_path: Path,
        fake: FakeProvider,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        answer: str,
        status: int,
    ) -> None:
        path = tmp_path / "llmlog.jsonl"
        record = _costly_log(path)
        monkeypatch.setattr(sys, "stdin", _Terminal(answer))
        sent = len(fake.requests)
        assert main(["replay", "--log", str(path), record["id"], "--provider-url", fake.url]) == (
            status
        )
        err = capsys.readouterr().err
        assert "send it? [y/N]" in err
        assert len(fake.requests) == sent + (status == 0)
        assert ("llmlog: error: not sent" in err) is (status != 0)


class TestWhichKey:
    """The environment's key goes only where the call went, never over plain http."""

    @pytest.fixture
    def to_openai(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
        path = tmp_path / "llmlog.jsonl"
        record = schema_record(1, server_address="api.openai.com")
        write_jsonl(path, [record])
        monkeypatch.setenv("OPENAI_API_KEY", "sk-prod")
        monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
        return path, record["id"]

    def test_another_host_gets_a_dummy_key_unless_api_key_env_names_one(
        self,
        to_openai: tuple[Path, str],
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """--provider-url to another host sent OPENAI_API_KEY there; now a dummy key, or the
        variable --api-key-env names; the call's own host still gets OPENAI_API_KEY."""
        path, record_id = to_openai
        monkeypatch.setenv("PROXY_KEY", "sk-proxy")
        sent = _intercepted(monkeypatch)
        replay = ["replay", "--yes", "--log", str(path), record_id, "--provider-url"]
        assert main([*replay, "https://proxy.example.com"]) == 0
        assert "API key: none (a dummy key" in capsys.readouterr().err
        assert main([*replay, "https://proxy.example.com", "--api-key-env", "PROXY_KEY"]) == 0
        assert "API key: $PROXY_KEY" in capsys.readouterr().err
        assert main([*replay, "https://api.openai.com"]) == 0
        assert [(r.url.host, r.headers["authorization"]) for r in sent] == [
            ("proxy.example.com", "Bearer replay"),
            ("proxy.example.com", "Bearer sk-proxy"),
            ("api.openai.com", "Bearer sk-prod"),
        ]
        assert main([*replay, "https://proxy.example.com", "--api-key-env", "UNSET_KEY"]) == 2
        assert "--api-key-env UNSET_KEY: that variable is not set" in capsys.readouterr().err
        assert len(sent) == 3

    def test_plain_http_is_refused_unless_to_this_machine(
        self,
        to_openai: tuple[Path, str],
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """http:// to another machine would carry the prompt (and a key) in clear: exit 2,
        nothing sent. Loopback (the fake provider) is fine."""
        path, record_id = to_openai
        sent = _intercepted(monkeypatch)
        replay = ["replay", "--yes", "--log", str(path), record_id, "--provider-url"]
        for url in ("http://10.0.0.5:8080", "http://api.openai.com", "ftp://127.0.0.1"):
            assert main([*replay, url]) == 2
            assert "llmlog: error: --provider-url" in capsys.readouterr().err
        assert sent == []
        for url in ("http://127.0.0.1:8089", "http://localhost:8089", "http://[::1]:8089"):
            assert main([*replay, url]) == 0
        assert [r.headers["authorization"] for r in sent] == ["Bearer replay"] * 3

    def test_a_base_url_in_the_environment_over_http_gets_no_key(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The host error suggests OPENAI_BASE_URL; set to a LAN server over plain http, it
        must not carry OPENAI_API_KEY in clear either (a dummy key, unless --api-key-env)."""
        path = tmp_path / "llmlog.jsonl"
        record = schema_record(1, server_address="10.0.0.5")
        write_jsonl(path, [record])
        monkeypatch.setenv("OPENAI_API_KEY", "sk-prod")
        monkeypatch.setenv("OPENAI_BASE_URL", "http://10.0.0.5:11434/v1")
        sent = _intercepted(monkeypatch)
        assert main(["replay", "--yes", "--log", str(path), record["id"]]) == 0
        assert [(r.url.host, r.headers["authorization"]) for r in sent] == [
            ("10.0.0.5", "Bearer replay")
        ]

    @pytest.mark.parametrize("host", ["ollama", "10.0.0.5", "gpu-box.lan"])
    def test_plain_http_to_the_calls_own_lan_server_is_replayed(
        self, host: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A call the app made to Ollama or vLLM on the local network went there over http:
        it may be replayed there (with a dummy key: the environment's never in clear); a
        public host over http stays refused."""
        path = tmp_path / "llmlog.jsonl"
        record = schema_record(1, server_address=host)
        write_jsonl(path, [record])
        monkeypatch.setenv("OPENAI_API_KEY", "sk-prod")
        sent = _intercepted(monkeypatch)
        replay = ["replay", "--yes", "--log", str(path), record["id"], "--provider-url"]
        assert main([*replay, f"http://{host}:11434"]) == 0
        assert [(r.url.host, r.headers["authorization"]) for r in sent] == [(host, "Bearer replay")]
