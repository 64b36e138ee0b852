"""The public API is explicit: nothing leaks or vanishes by accident."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

import llmlog
import openai_fakes as fakes


class TestPublicAPI:
    def test_all_is_pinned_and_sorted(self) -> None:
        """`llmlog.__all__` is exactly the documented names, sorted."""
        assert llmlog.__all__ == [
            "__version__",
            "bind",
            "context",
            "flush",
            "instrument",
            "trouble",
            "unbind",
            "uninstrument",
        ]
        assert llmlog.__all__ == sorted(llmlog.__all__)
        for name in llmlog.__all__:
            assert getattr(llmlog, name) is not None

    def test_trouble_counts_what_llmlog_could_not_do(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A log path under a file (not a directory): the records are lost, said once on
        stderr, and ``trouble()`` counts them (a copy: the app cannot reset llmlog's counts)."""
        from llmlog import _guard

        _guard._reset_for_tests()
        client = fakes.sync_client(fakes.default_fake())
        blocker = tmp_path / "not-a-directory"
        blocker.write_text("")
        llmlog.instrument(output=str(blocker / "llmlog.jsonl"), redact="secrets")
        try:
            assert llmlog.trouble() == {}
            for _ in range(3):
                client.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
                )
            assert llmlog.flush(10) is False  # records were lost, not written
            assert llmlog.flush(10) is True  # none lost since
        finally:
            llmlog.uninstrument()
        found = llmlog.trouble()
        assert found["sink_lost"] == 3
        assert capsys.readouterr().err.count(f"cannot write to {blocker}") == 1
        found.clear()
        assert llmlog.trouble()["sink_lost"] == 3
        _guard._reset_for_tests()

    def test_an_unknown_llmlog_variable_is_named_once(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A misspelt variable would silently not apply: it is said, with the setting it
        may have meant, once however often logging is turned on."""
        from llmlog import _activate, _guard

        _guard._reset_for_tests()
        monkeypatch.delenv(_activate.REPORTED, raising=False)
        monkeypatch.setenv("LLMLOG_OUPUT", "calls.jsonl")
        try:
            for redact in ("secrets", "off"):
                llmlog.instrument(output=str(tmp_path / "llmlog.jsonl"), redact=redact)
        finally:
            llmlog.uninstrument()
            _guard._reset_for_tests()
        said = "ignoring LLMLOG_OUPUT (did you mean LLMLOG_OUTPUT?): not an llmlog setting"
        assert capsys.readouterr().err.count(said) == 1

    def test_prompt_hashes_are_keyed_by_a_key_kept_beside_the_log(self, tmp_path: Path) -> None:
        """An unkeyed sha256 would give a redacted SSN back to whoever tries them all: the
        hash is an HMAC with a random key kept beside the log (0600), so two processes or
        runs writing that log still hash equal prompts equally."""
        from llmlog._hash_key import KEY_FILE
        from llmlog.processors import PromptHash

        client = fakes.sync_client(fakes.default_fake())
        messages = [{"role": "user", "content": "My SSN is 123-45-6789"}]
        out = tmp_path / "logs" / "llmlog.jsonl"
        for _ in range(2):  # a restart: a new pipeline reads the same key
            llmlog.instrument(output=str(out), redact="off")
            try:
                client.chat.completions.create(model="gpt-4o", messages=messages)
                assert llmlog.flush(10)
            finally:
                llmlog.uninstrument()
        first, second = (json.loads(line) for line in out.read_text().splitlines())
        assert first["prompt_hash"] == second["prompt_hash"]
        unkeyed = PromptHash("")(None, "info", {**first, "prompt_hash": None})["prompt_hash"]
        assert first["prompt_hash"] != unkeyed
        assert (out.parent / KEY_FILE).stat().st_mode & 0o777 == 0o600

    def test_package_is_typed(self) -> None:
        """py.typed ships, so type checkers read our annotations."""
        assert resources.files("llmlog").joinpath("py.typed").is_file()

    def test_importing_llmlog_imports_no_sdk_and_no_presidio(self) -> None:
        """`import llmlog` stays light: no provider SDK, no presidio, no duckdb."""
        code = (
            "import sys, llmlog; "
            "heavy = [m for m in ('openai', 'anthropic', 'presidio_analyzer', 'spacy', 'duckdb') "
            "if m in sys.modules]; print(heavy)"
        )
        assert printed_by(code) == "[]"

    def test_submodules_the_readme_names_work_after_a_plain_import(self) -> None:
        """`llmlog.fake_provider.start_server()`, `llmlog.testing.capture_records()`,
        `llmlog.redaction.add_recognizer(...)` as the README writes them, with no import of
        the submodule first; they are not imported by `import llmlog` itself."""
        code = (
            "import sys, llmlog; "
            "before = [m for m in ('llmlog.fake_provider', 'llmlog.testing') if m in sys.modules]; "
            "names = (llmlog.fake_provider.start_server, llmlog.testing.capture_records, "
            "llmlog.redaction.add_recognizer); print(before, len(names))"
        )
        assert printed_by(code) == "[] 3"


def printed_by(code: str) -> str:
    """What ``code`` prints in a fresh interpreter (nothing imported before it)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()
