"""Start-up and settings that must hold what the README promises: a failed activation is
counted, strict mode is as strict through the sitecustomize example, a relative output
stays put, children follow logging back on, values are read as written, and ``unbind()``
clears a pooled thread's values."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import llmlog
import openai_fakes as fakes
from llmlog._config import Settings
from llmlog.fake_provider import FakeProvider, start_server
from llmlog.testing import capture_records
from test_activate import ACTIVATE, CALL_CLAUDE, ROOT, records, run

EXAMPLE = ROOT / "sitecustomize_example" / "sitecustomize.py"
HEALTH = "import llmlog\nprint(json.dumps(llmlog.trouble()), llmlog.flush(10))\n"
CHILD = "import subprocess, sys\nsubprocess.run([sys.executable, '-c', CODE], check=True)\n"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with start_server() as server:
        yield server


def ask(client: Any) -> None:
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])


class TestAFailedStartUpIsCounted:
    def test_trouble_counts_it_and_flush_is_false_until_logging_is_on(
        self, fake: FakeProvider, tmp_path: Path
    ) -> None:
        """LLMLOG_REDACT=FULL: the app runs unlogged, and a health check sees it (trouble()
        counts ``activation_failed``, flush() is False); once the app's own instrument()
        turns logging on, flush() is True again (the count stays: it happened)."""
        out = tmp_path / "log.jsonl"
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_REDACT": "FULL"}
        code = "import json\n" + ACTIVATE + HEALTH
        code += f"llmlog.instrument(redact='secrets', output={str(out)!r})\n" + HEALTH
        result = run(code, env, fake)
        assert result.returncode == 0, result.stderr
        failed, started = result.stdout.splitlines()[1:]
        assert failed == '{"activation_failed": 1} False'
        assert started == '{"activation_failed": 1} True'
        assert result.stderr.count("LLMLOG_REDACT='FULL' is not valid") == 1

    def test_bad_settings_over_logging_already_on_leave_it_on(
        self, fake: FakeProvider, tmp_path: Path
    ) -> None:
        """The environment turned logging on, then a sitecustomize's settings are bad: the
        failure is counted, but logging goes on with the settings in force, stderr says so
        (not "runs without LLM logging") and flush() stays True."""
        out = tmp_path / "log.jsonl"
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_OUTPUT": str(out)}
        code = "import json\n" + ACTIVATE
        code += "from llmlog._activate import activate\nactivate(capture='everything')\n"
        code += CALL_CLAUDE + HEALTH
        result = run(code, env, fake)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[-1] == '{"activation_failed": 1} True'
        assert "logging goes on with those already in force" in result.stderr
        assert "runs without LLM logging" not in result.stderr
        assert len(records(out)) == 1

    def test_a_child_failing_the_same_way_counts_it_too(self, fake: FakeProvider) -> None:
        """Said once per process tree, but counted in every process that runs unlogged."""
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_CAPTURE": "all"}
        code = "import json\n" + ACTIVATE + HEALTH
        result = run(f"CODE = {code!r}\n" + code + CHILD, env, fake)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["False", '{"activation_failed":', "1}", "False"] * 2
        assert result.stderr.count("LLMLOG_CAPTURE='all'") == 1


class TestStrictThroughTheSitecustomizeExample:
    START = f"import runpy\nrunpy.run_path({str(EXAMPLE)!r})\nprint('app ran')\n"

    def test_strict_env_checks_that_the_log_can_be_written(
        self, fake: FakeProvider, tmp_path: Path
    ) -> None:
        """LLMLOG_STRICT=1 with the example's settings: a log that cannot be written (its
        folder ``llm_logs`` is a file) stops the app, as LLMLOG_STRICT=1 does on its own."""
        (tmp_path / "llm_logs").write_text("")
        code = f"os.chdir({str(tmp_path)!r})\n" + self.START
        result = run(code, {"LLMLOG_STRICT": "1"}, fake)
        assert result.returncode == 78, result.stderr
        assert "app ran" not in result.stdout
        assert "llm_logs is not a folder" in result.stderr

    @pytest.mark.parametrize("value", ["2", "ture"])
    def test_a_strict_value_neither_on_nor_off_is_refused(
        self, fake: FakeProvider, tmp_path: Path, value: str
    ) -> None:
        """Not silently ignored under the example: refused, and (failing closed) stopped."""
        code = f"os.chdir({str(tmp_path)!r})\n" + self.START
        result = run(code, {"LLMLOG_STRICT": value}, fake)
        assert result.returncode == 78
        assert f"LLMLOG_STRICT={value!r} is not valid" in result.stderr

    def test_an_older_copy_passing_strict_false_is_as_strict(
        self, fake: FakeProvider, tmp_path: Path
    ) -> None:
        """Copies already in images pass ``strict=False``: LLMLOG_STRICT=1 still checks the
        log, as activate() already stops on any other failure then."""
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("")
        code = "from llmlog._activate import activate\n"
        code += f"activate(strict=False, output={str(blocker / 'x.jsonl')!r})\nprint('app ran')\n"
        result = run(code, {"LLMLOG_STRICT": "1"}, fake)
        assert result.returncode == 78
        assert f"{blocker} is not a folder" in result.stderr


class TestARelativeOutputStaysWhereLoggingStarted:
    @pytest.mark.parametrize(
        ("given", "written"),
        [({"output": "rel.jsonl"}, "rel.jsonl"), ({}, "llm_logs/llmlog.jsonl")],
        ids=["given", "default"],
    )
    def test_a_later_call_after_a_chdir_keeps_the_file(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        given: dict[str, str],
        written: str,
    ) -> None:
        """instrument(service=...) after a chdir keeps writing where logging started; after
        uninstrument() a new start resolves the output where it is made."""
        first, second = tmp_path / "A", tmp_path / "B"
        first.mkdir()
        second.mkdir()
        client = fakes.sync_client(fakes.default_fake())
        monkeypatch.chdir(first)
        llmlog.instrument(redact="secrets", **given)
        try:
            ask(client)
            monkeypatch.chdir(second)
            llmlog.instrument(service="x")
            ask(client)
            assert llmlog.flush(10)
        finally:
            llmlog.uninstrument()
        kept = records(first / written)
        assert len(kept) == 2 and kept[1]["process"]["service"] == "x"
        assert not (second / written).exists()
        llmlog.instrument(redact="secrets", **given)
        try:
            ask(client)
            assert llmlog.flush(10)
        finally:
            llmlog.uninstrument()
        assert len(records(second / written)) == 1


class TestChildrenFollowLoggingBackOn:
    def test_enabled_false_then_a_plain_instrument_logs_children_again(
        self, fake: FakeProvider, tmp_path: Path
    ) -> None:
        """instrument(enabled=False) then instrument(): logging is on here, and in the
        children started from then on (as after uninstrument() then instrument())."""
        out = tmp_path / "log.jsonl"
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_REDACT": "secrets", "LLMLOG_OUTPUT": str(out)}
        code = ACTIVATE + CALL_CLAUDE
        app = f"CODE = {code!r}\n" + ACTIVATE + "import llmlog\n"
        app += "llmlog.instrument(enabled=False)\nllmlog.instrument()\n"
        app += "print('children:', os.environ['LLMLOG_ENABLED'])\n"
        app += CALL_CLAUDE + "llmlog.flush(10)\n" + CHILD
        result = run(app, env, fake)
        assert result.returncode == 0, result.stderr
        assert "children: 1" in result.stdout
        assert len({r["process"]["pid"] for r in records(out)}) == 2


class TestValuesAreReadAsWritten:
    @pytest.mark.parametrize("value", ["$HOME/x.jsonl", "${TMPDIR}/x.jsonl", "logs/$USER.jsonl"])
    def test_an_output_with_a_variable_is_refused(self, value: str) -> None:
        """Nothing expands it (systemd's Environment=, .env loaders): refused, naming the
        variable (and the keyword), rather than writing to a folder named ``$HOME``."""
        with pytest.raises(ValueError, match=r"^LLMLOG_OUTPUT=.* variables are not expanded"):
            Settings.from_env({"LLMLOG_OUTPUT": value})
        with pytest.raises(ValueError, match=r"^keyword output \(or LLMLOG_OUTPUT"):
            Settings.from_env({}, output=value)

    def test_a_dollar_that_names_no_variable_is_a_path(self) -> None:
        """``$`` alone or before a digit is no variable reference: the path is taken."""
        assert Settings.from_env({"LLMLOG_OUTPUT": "/logs/cost$.jsonl"}).output.endswith("$.jsonl")
        assert Settings.from_env({"LLMLOG_OUTPUT": "/logs/a$1.jsonl"}).output == "/logs/a$1.jsonl"

    def test_activation_on_an_output_with_a_variable_creates_no_folder(
        self, fake: FakeProvider, tmp_path: Path
    ) -> None:
        """The app runs unlogged, told why; no ``$HOME`` folder appears."""
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_OUTPUT": "$HOME/x.jsonl"}
        result = run(f"os.chdir({str(tmp_path)!r})\n" + ACTIVATE + CALL_CLAUDE, env, fake)
        assert result.returncode == 0, result.stderr
        assert "variables are not expanded" in result.stderr
        assert list(tmp_path.iterdir()) == []

    def test_text_values_are_stripped_and_a_blank_service_is_the_default(self) -> None:
        """As every other setting: surrounding spaces do not count."""
        assert Settings.from_env({"LLMLOG_SERVICE": "  api  "}).service == "api"
        assert Settings.from_env({"LLMLOG_SERVICE": " "}).service == ""
        assert Settings.from_env({}, service=" api\n").service == "api"
        assert Settings.from_env({"LLMLOG_NER_MODEL": " en_core_web_md "}).ner_model == (
            "en_core_web_md"
        )

    @pytest.mark.parametrize("value", ["", "  "])
    def test_a_blank_ner_model_is_the_default_model(self, value: str) -> None:
        """A deployment template's empty value neither names a model that is not there
        ("needs the spaCy model ''" at the first call) nor stops logging."""
        assert Settings.from_env({"LLMLOG_NER_MODEL": value}).ner_model == "en_core_web_sm"

    def test_the_redaction_key_is_kept_exactly(self) -> None:
        """Its bytes key the hashes: spaces in it are part of it."""
        key = " k" * 10
        assert Settings.from_env({"LLMLOG_REDACT_KEY": key}).redact_key == key


class TestLauncherArguments:
    def launch(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        from test_launcher import launch

        return launch(list(args), cwd=cwd)

    def test_an_abbreviated_option_is_refused(self, tmp_path: Path) -> None:
        """--outp is a typo, not --output: refused (status 2), the command not run."""
        command = (sys.executable, "-c", "print('ran')")
        result = self.launch("--outp", "o.jsonl", *command, cwd=tmp_path)
        assert result.returncode == 2
        assert "unrecognized arguments: --outp" in result.stderr and "ran" not in result.stdout

    def test_help_says_the_value_form_and_exit_status_126(self) -> None:
        """A deny term starting with - needs --redact-deny=-term; 126 is listed."""
        text = " ".join(self.launch("--help").stdout.split())
        assert "--redact-deny=-secret" in text
        assert "126: the command cannot be run (not executable)" in text


class TestUnbind:
    def test_a_pooled_thread_forgets_the_previous_jobs_values(self) -> None:
        """One worker thread runs both jobs (its context lives as long as it does): the
        second job, calling unbind() first, logs no user_id of the first."""
        client = fakes.sync_client(fakes.default_fake())

        def first() -> None:
            llmlog.bind(user_id="alice", tags=["job1"])
            ask(client)

        def second() -> None:
            llmlog.unbind()
            ask(client)

        with capture_records(redact="secrets") as cap, ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(first).result()
            pool.submit(second).result()
        got = [(r["user_id"], r["tags"]) for r in cap.calls]
        assert got == [("alice", {"job1": True}), (None, None)]

    def test_unbind_is_public(self) -> None:
        """Exported beside bind(), documented."""
        assert "unbind" in llmlog.__all__ and llmlog.unbind.__doc__
