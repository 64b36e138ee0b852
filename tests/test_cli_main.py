"""The ``llmlog`` dispatcher, and the real-pipeline logs every CLI test reads.

``write_real_log`` is imported by the other ``test_cli_*`` files: it makes
real SDK calls against llmlog's loopback fake provider with llmlog
instrumented, so the CLI is tested on records exactly as the writer writes them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import orjson
import pytest

import llmlog
from llmlog.cli import main
from llmlog.fake_provider import FakeProvider, start_server

PROMPTS = (
    "Say hello to Paris",
    "Stream me a poem",
    "Hi there, my key is sk-abcdefghijklmnopqrstuv1234",
)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with start_server() as server:
        yield server


def clients(fake: FakeProvider) -> tuple[openai.OpenAI, anthropic.Anthropic]:
    return (
        openai.OpenAI(base_url=f"{fake.url}/v1", api_key="fake", max_retries=0),
        anthropic.Anthropic(base_url=fake.url, api_key="fake", max_retries=0),
    )


def write_real_log(path: Path, fake: FakeProvider, **settings: Any) -> list[dict[str, Any]]:
    """Four calls through the real SDKs and llmlog's pipeline into ``path``; their records.

    An OpenAI chat call in a session with a template, an OpenAI stream, an
    Anthropic call carrying a secret (redacted to ``<API_KEY>``), an OpenAI
    call that fails with HTTP 500.
    """
    oai, claude = clients(fake)
    llmlog.instrument(output=str(path), **{"redact": "secrets", **settings})
    try:
        with llmlog.context(
            session_id="s1", user_id="u1", template={"name": "greet", "version": "2"}
        ):
            oai.chat.completions.create(
                model="gpt-4o",
                messages=[
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": PROMPTS[0]},
                ],
            )
            for _ in oai.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": PROMPTS[1]}],
                stream=True,
                stream_options={"include_usage": True},
            ):
                pass
        claude.messages.create(
            model="claude-haiku-4-5",
            max_tokens=100,
            system="You are terse.",
            messages=[{"role": "user", "content": PROMPTS[2]}],
        )
        with pytest.raises(openai.InternalServerError):
            oai.chat.completions.create(
                model="fake-error", messages=[{"role": "user", "content": "fail"}]
            )
        assert llmlog.flush(10.0)
    finally:
        llmlog.uninstrument()
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def write_responses_tool_log(path: Path, fake: FakeProvider) -> list[dict[str, Any]]:
    """Two Responses calls through the real SDK into ``path``; their records.

    The input starts with a developer message; the second call sends back the first
    answer's ``function_call`` item and a ``function_call_output`` (``{"sky": "sunny"}``).
    """
    oai, _ = clients(fake)
    tools = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
    items: list[Any] = [
        {"role": "developer", "content": "Be terse."},
        {"role": "user", "content": "What is the weather in Rome? Use the tool."},
    ]
    llmlog.instrument(output=str(path), redact="off")
    try:
        first = oai.responses.create(model="gpt-4.1-mini", input=items, tools=tools)
        call = next(item for item in first.output if item.type == "function_call")
        items += [
            call.model_dump(exclude_none=True),
            {"type": "function_call_output", "call_id": call.call_id, "output": '{"sky": "sunny"}'},
        ]
        oai.responses.create(model="gpt-4.1-mini", input=items, tools=tools)
        assert llmlog.flush(10.0)
    finally:
        llmlog.uninstrument()
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def schema_record(number: int, **fields: Any) -> dict[str, Any]:
    """A schema-1 record with chosen values, for numbers the SDKs cannot be made to produce
    (exact latencies, many days); every field of ``FIELDS`` is present."""
    from llmlog._record import FIELDS, usage_record

    base: dict[str, Any] = dict.fromkeys(FIELDS)
    base.update(
        event="llm.call",
        schema=1,
        id=f"01TEST{number:020d}",
        ts=f"2026-01-{1 + number % 28:02d}T10:00:00.000000Z",
        provider="openai",
        operation="chat.completions",
        method="chat.completions.create",
        model="gpt-4o",
        messages=[{"role": "user", "content": f"question {number}"}],
        output={"text": f"answer {number}", "tool_calls": [], "finish_reason": "stop"},
        usage=usage_record(input_tokens=10, output_tokens=5),
        cost_usd=0.001,
        latency_ms=float(number),
        status="ok",
    )
    base.update(fields)
    return base


def write_jsonl(path: Path, records: list[dict[str, Any]], tail: bytes = b"") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records) + tail)
    return path


def make_real_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """A module-scoped real log: its path and records (see :func:`write_real_log`)."""
    path = tmp_path_factory.mktemp("real") / "llmlog.jsonl"
    with start_server() as server:
        return path, write_real_log(path, server)


class TestDispatch:
    def test_help_lists_every_command_including_forwarded_ones(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """``llmlog --help`` names all commands, also ``demo`` and ``fake-provider``."""
        assert main(["--help"]) == 0
        out = capsys.readouterr().out
        for name in ("stats", "tail", "show", "search", "sql", "check", "export", "replay"):
            assert name in out
        assert "path" in out and "demo" in out and "fake-provider" in out

    def test_no_command_is_a_usage_error(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Running ``llmlog`` with nothing exits 2 with argparse's usage line."""
        assert main([]) == 2
        assert "usage: llmlog" in capsys.readouterr().err

    def test_fake_provider_arguments_are_forwarded_untouched(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """``llmlog fake-provider --help`` is the fake provider's own help."""
        assert main(["fake-provider", "--help"]) == 0
        assert "llmlog fake-provider" in capsys.readouterr().out

    def test_a_missing_forwarded_module_is_a_clear_error(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """When ``llmlog.demo`` is not there, ``llmlog demo`` says so and exits 2."""
        monkeypatch.setitem(sys.modules, "llmlog.demo", None)
        assert main(["demo"]) == 2
        assert "llmlog.demo is missing" in capsys.readouterr().err

    def test_bad_input_never_shows_a_traceback(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A missing log directory is one line on stderr and exit 2."""
        assert main(["stats", "--log", str(tmp_path / "nope" / "x.jsonl")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("llmlog: error: log directory") and "Traceback" not in err


class TestRealLog:
    def test_the_shared_log_holds_four_real_records(
        self, tmp_path: Path, fake: FakeProvider
    ) -> None:
        """The helper the CLI tests rely on writes what it promises (cost included)."""
        records = write_real_log(tmp_path / "llmlog.jsonl", fake)
        assert [r["status"] for r in records] == ["ok", "ok", "ok", "error"]
        assert [r["provider"] for r in records] == ["openai", "openai", "anthropic", "openai"]
        assert records[0]["cost_usd"] > 0
        assert records[3]["cost_usd"] == 0  # refused (HTTP 500): not billed
        assert records[1]["stream"] is True and records[1]["ttft_ms"] is not None
        assert "<API_KEY>" in records[2]["messages"][0]["content"]


class TestModule:
    def test_python_dash_m_runs_the_cli(self) -> None:
        """`python -m llmlog.cli` is `llmlog` (where the console script is not on PATH)."""
        import subprocess

        result = subprocess.run(
            [sys.executable, "-m", "llmlog.cli", "--help"], capture_output=True, check=False
        )
        assert result.returncode == 0 and b"usage: llmlog" in result.stdout
