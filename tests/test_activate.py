"""Activation from the environment: on, off, and never taking the application down.

Each test runs a fresh interpreter, as activation happens once per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from llmlog import _activate
from llmlog.fake_provider import FakeProvider, start_server

ROOT = Path(__file__).resolve().parents[1]

CALL_CLAUDE = """
import anthropic
anthropic.Anthropic().messages.create(
    model="claude-haiku-4-5", max_tokens=20, messages=[{"role": "user", "content": "Hello"}]
)
print("app ran")
"""
ACTIVATE = "from llmlog._activate import activate_from_env\nprint(activate_from_env())\n"
#: The SDKs cannot be found until ``sys.meta_path.remove(hidden)``: their folder is not on
#: sys.path yet (as one ``site`` adds after the ``.pth`` line ran).
HIDE_SDKS_FOR_NOW = """
import sys
class Hidden:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("openai", "anthropic"):
            raise ModuleNotFoundError(name)
hidden = Hidden()
sys.meta_path.insert(0, hidden)
"""
SECRET = "sk-ant-api03-abcdefghij0123456789abcdEFGH"
#: Prints whether llmlog's pipeline runs, without the cost of importing an SDK.
STATE = "import llmlog._pipeline\nprint('on' if llmlog._pipeline.current() else 'off')\n"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with start_server() as server:
        yield server


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "log.jsonl"


def run(code: str, env: dict[str, str], fake: FakeProvider) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new interpreter after setting ``env`` (the LLMLOG_* settings).

    The settings are applied by the code itself, not passed at start-up, so the
    installed ``.pth`` line stays out of the way and ``activate_from_env`` is
    what is tested.
    """
    full = {k: v for k, v in os.environ.items() if not k.startswith("LLMLOG_")}
    full.update(fake.env())
    prelude = f"import os\nos.environ.update({env!r})\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


def records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


class TestSwitch:
    @pytest.mark.parametrize("value", ["", "0", "false", "off", "no"])
    def test_off_values_do_not_instrument(self, fake: FakeProvider, out: Path, value: str) -> None:
        """Empty or off values leave the SDKs alone: nothing is logged."""
        result = run(ACTIVATE + STATE, {"LLMLOG_ENABLED": value}, fake)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["False", "off"]

    @pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
    def test_on_values_activate(self, fake: FakeProvider, out: Path, value: str) -> None:
        """Truthy values start llmlog, silently."""
        env = {"LLMLOG_ENABLED": value, "LLMLOG_OUTPUT": str(out)}
        result = run(ACTIVATE + STATE, env, fake)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["True", "on"]
        assert result.stderr == ""

    def test_calls_are_logged_with_settings_from_the_environment(
        self, fake: FakeProvider, out: Path
    ) -> None:
        """An SDK call made after activation lands in LLMLOG_OUTPUT, redacted as configured."""
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_OUTPUT": str(out), "LLMLOG_CAPTURE": "metadata"}
        env["LLMLOG_REDACT"] = "secrets"  # Presidio's start-up is not what is tested here
        result = run(ACTIVATE + CALL_CLAUDE, env, fake)
        assert result.returncode == 0, result.stderr
        [record] = records(out)
        assert record["provider"] == "anthropic"
        assert "Hello" not in json.dumps(record["messages"])

    def test_second_call_is_a_no_op(self, fake: FakeProvider, out: Path) -> None:
        """The .pth line and the bootstrap may both activate: one instrumentation, one record."""
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_OUTPUT": str(out), "LLMLOG_REDACT": "secrets"}
        result = run(ACTIVATE + ACTIVATE + CALL_CLAUDE, env, fake)
        assert result.stdout.split() == ["True", "True", "app", "ran"]
        assert len(records(out)) == 1

    def test_explicit_settings_win_after_environment_activation(
        self, fake: FakeProvider, out: Path, tmp_path: Path
    ) -> None:
        """A sitecustomize with explicit settings overrides what the .pth line set up."""
        other = tmp_path / "explicit.jsonl"
        code = (
            ACTIVATE + f"from llmlog._activate import activate\nactivate(output={str(other)!r})\n"
        )
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_OUTPUT": str(out), "LLMLOG_REDACT": "secrets"}
        result = run(code + CALL_CLAUDE, env, fake)
        assert result.returncode == 0, result.stderr
        assert records(out) == []
        assert len(records(other)) == 1

    def test_a_relative_output_is_one_file_for_the_app_and_its_children(
        self, fake: FakeProvider, tmp_path: Path
    ) -> None:
        """Resolved at activation and exported absolute: a later chdir and a child started
        in another directory still append to the one file."""
        other = tmp_path / "other"
        other.mkdir()
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_OUTPUT": "logs/x.jsonl", "LLMLOG_REDACT": "secrets"}
        child = ACTIVATE + CALL_CLAUDE
        code = f"os.chdir({str(tmp_path)!r})\n" + ACTIVATE + f"os.chdir({str(other)!r})\n"
        code += CALL_CLAUDE + "import subprocess, sys\n"
        code += f"subprocess.run([sys.executable, '-c', {child!r}], check=True)\n"
        code += "print(os.environ['LLMLOG_OUTPUT'])\n"
        result = run(code, env, fake)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split()[-1] == str(tmp_path / "logs" / "x.jsonl")
        assert len(records(tmp_path / "logs" / "x.jsonl")) == 2
        assert not (other / "logs").exists()


class TestFailures:
    def test_bad_setting_is_reported_once_and_the_app_runs(
        self, fake: FakeProvider, out: Path
    ) -> None:
        """One stderr line names the variable and the allowed values; the app goes on unlogged."""
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_OUTPUT": str(out), "LLMLOG_REDACT": "bogus"}
        result = run(ACTIVATE + ACTIVATE + STATE + "print('app ran')", env, fake)
        assert result.returncode == 0
        assert result.stdout.split() == ["False", "False", "off", "app", "ran"]
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1
        assert "not activated" in lines[0] and "LLMLOG_REDACT='bogus'" in lines[0]
        assert "off, secrets, pii, ner" in lines[0]
        assert records(out) == []

    @pytest.mark.parametrize("value", ["2", "enabled", "True!"])
    def test_a_switch_neither_on_nor_off_is_reported_and_the_app_runs(
        self, fake: FakeProvider, out: Path, value: str
    ) -> None:
        """Not silently off (instrument() refuses the value): one line naming the variable
        and its allowed values, the app runs unlogged; the value is left for children."""
        env = {"LLMLOG_ENABLED": value, "LLMLOG_OUTPUT": str(out)}
        code = ACTIVATE + ACTIVATE + STATE + "import os; print(os.environ['LLMLOG_ENABLED'])"
        result = run(code, env, fake)
        assert result.returncode == 0
        assert result.stdout.split() == ["False", "False", "off", value]
        [line] = result.stderr.strip().splitlines()
        assert f"LLMLOG_ENABLED={value!r}" in line
        assert "one of 1, 0, true, false, yes, no, on, off" in line

    def test_a_switch_neither_on_nor_off_stops_under_strict(
        self, fake: FakeProvider, out: Path
    ) -> None:
        """LLMLOG_STRICT=1 asked never to run unlogged: status 78, as for any bad value."""
        env = {"LLMLOG_ENABLED": "2", "LLMLOG_STRICT": "1"}
        result = run(ACTIVATE + "print('app ran')", env, fake)
        assert result.returncode == 78
        assert "app ran" not in result.stdout and "LLMLOG_ENABLED='2'" in result.stderr

    def test_a_failure_is_said_once_per_process_tree(self, fake: FakeProvider, out: Path) -> None:
        """A child failing the same way stays silent (the _LLMLOG_REPORTED marker), and
        LLMLOG_ENABLED is not rewritten: a child may be an interpreter that can log."""
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_FLUSH_TIMEOUT": "soon"}
        child = "import subprocess, sys\nsubprocess.run([sys.executable, '-c', CODE], check=True)\n"
        code = ACTIVATE + "import os; print(os.environ['LLMLOG_ENABLED'])\n"
        result = run(f"CODE = {code!r}\n" + code + child, env, fake)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["False", "1", "False", "1"]
        [line] = result.stderr.strip().splitlines()
        assert "LLMLOG_FLUSH_TIMEOUT='soon'" in line

    def test_a_wrapper_without_sdk_does_not_stop_or_switch_off_the_app(
        self, fake: FakeProvider, out: Path
    ) -> None:
        """poetry run / tox / a supervisor in a Python without SDK, under LLMLOG_STRICT=1:
        not stopped, nothing said (nothing to log there); the app it starts is logged."""
        hide = "import sys; sys.modules['openai'] = None; sys.modules['anthropic'] = None\n"
        app = ACTIVATE + CALL_CLAUDE
        wrapper = hide + ACTIVATE + STATE
        wrapper += (
            f"import subprocess\nsubprocess.run([sys.executable, '-c', {app!r}], check=True)\n"
        )
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_STRICT": "1", "LLMLOG_OUTPUT": str(out)}
        env["LLMLOG_REDACT"] = "secrets"
        result = run(wrapper, env, fake)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["False", "off", "True", "app", "ran"]
        assert result.stderr == ""
        assert len(records(out)) == 1

    def test_sitecustomize_settings_apply_after_the_line_failed_on_a_bad_value(
        self, fake: FakeProvider, out: Path
    ) -> None:
        """The .pth line fails on LLMLOG_CAPTURE=all; sitecustomize_example's settings (which
        win over it) still activate, and say so."""
        example = ROOT / "sitecustomize_example" / "sitecustomize.py"
        code = f"os.chdir({str(out.parent)!r})\n" + ACTIVATE + "import runpy\n"
        code += f"runpy.run_path({str(example)!r})\n" + STATE
        result = run(code, {"LLMLOG_ENABLED": "1", "LLMLOG_CAPTURE": "all"}, fake)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["False", "on"]
        first, second = result.stderr.strip().splitlines()
        assert "not activated" in first and "LLMLOG_CAPTURE='all'" in first
        assert "activated after all" in second

    @pytest.mark.parametrize("value", ["2", "ture"])
    def test_a_strict_value_neither_on_nor_off_stops(
        self, fake: FakeProvider, out: Path, value: str
    ) -> None:
        """LLMLOG_STRICT=2 is refused, and fails closed: the app does not run unlogged."""
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_STRICT": value, "LLMLOG_OUTPUT": str(out)}
        result = run(ACTIVATE + "print('app ran')", env, fake)
        assert result.returncode == 78
        assert "app ran" not in result.stdout
        assert f"LLMLOG_STRICT={value!r} is not valid" in result.stderr

    def test_strict_mode_stops_before_the_app(self, fake: FakeProvider, out: Path) -> None:
        """LLMLOG_STRICT=1: the process exits with status 78 and the app never runs."""
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_STRICT": "1", "LLMLOG_REDACT": "bogus"}
        result = run(ACTIVATE + "print('app ran')", env, fake)
        assert result.returncode == _activate.EXIT_CODE == 78
        assert "app ran" not in result.stdout
        assert "in strict mode, stopping" in result.stderr
        assert "Traceback" not in result.stderr

    def test_strict_mode_stops_when_the_log_cannot_be_written(
        self, fake: FakeProvider, tmp_path: Path
    ) -> None:
        """Strict: a log file that cannot be made (its folder is a file) would be running
        unlogged; the app does not run, and the message names LLMLOG_OUTPUT and why. Not
        strict, the app runs (the file may become writable later)."""
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("")
        output = str(blocker / "llmlog.jsonl")
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_STRICT": "1", "LLMLOG_OUTPUT": output}
        result = run(ACTIVATE + "print('app ran')", env, fake)
        assert result.returncode == 78
        assert "app ran" not in result.stdout
        assert f"LLMLOG_OUTPUT={output} cannot be written: {blocker} is not a folder" in (
            result.stderr
        )
        result = run(ACTIVATE + "print('app ran')", {**env, "LLMLOG_STRICT": "0"}, fake)
        assert (result.returncode, result.stdout) == (0, "True\napp ran\n")

    def test_strict_start_up_sees_a_name_too_long_to_create(self, tmp_path: Path) -> None:
        """``os.access`` on the folder said yes, the writer then failed on every record: a
        file or folder name past the file system's limit is found before the app runs."""
        from llmlog._log_files import write_problem

        too_long = "a" * 300
        for path in (tmp_path / f"{too_long}.jsonl", tmp_path / too_long / "llmlog.jsonl"):
            problem = write_problem(path)
            assert problem is not None and "a name longer than" in problem
        assert write_problem(tmp_path / "new" / "llmlog.jsonl") is None
        (tmp_path / "old.jsonl").write_text("")
        assert write_problem(tmp_path / "old.jsonl") is None

    def test_settings_redaction_cannot_honour_are_a_failure(
        self, fake: FakeProvider, out: Path
    ) -> None:
        """A value valid on its own but unusable (hash without key) is reported too."""
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_REDACT_OPERATOR": "hash"}
        result = run(ACTIVATE + STATE, env, fake)
        assert result.returncode == 0
        assert "not activated" in result.stderr and "LLMLOG_REDACT_KEY" in result.stderr

    def test_no_sdk_is_not_a_failure_and_the_sdk_imported_later_is_logged(
        self, fake: FakeProvider, out: Path
    ) -> None:
        """No SDK in sight (its folder not on sys.path yet): nothing said, not stopped even
        under LLMLOG_STRICT=1; once the SDK can be imported, its calls are logged."""
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_STRICT": "1", "LLMLOG_OUTPUT": str(out)}
        env["LLMLOG_REDACT"] = "secrets"
        code = HIDE_SDKS_FOR_NOW + ACTIVATE + "sys.meta_path.remove(hidden)\n" + CALL_CLAUDE
        result = run(code, env, fake)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["False", "app", "ran"]
        assert result.stderr == ""
        assert [r["provider"] for r in records(out)] == ["anthropic"]

    def test_uninstrument_cancels_an_activation_waiting_for_the_sdk(
        self, fake: FakeProvider, out: Path
    ) -> None:
        """uninstrument() before the SDK's import: logging stays off, as it would with the SDK
        importable at start-up."""
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_OUTPUT": str(out), "LLMLOG_REDACT": "secrets"}
        code = HIDE_SDKS_FOR_NOW + ACTIVATE + "import llmlog\nllmlog.uninstrument()\n"
        result = run(code + "sys.meta_path.remove(hidden)\n" + CALL_CLAUDE, env, fake)
        assert result.returncode == 0, result.stderr
        assert records(out) == []

    def test_a_failure_at_the_sdks_import_never_stops_the_running_app(
        self, fake: FakeProvider, out: Path
    ) -> None:
        """A setting only found unusable when the SDK is imported (its key too short): said on
        stderr, the app goes on, even under strict mode (its side effects are done by then)."""
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_STRICT": "1", "LLMLOG_OUTPUT": str(out)}
        env.update(LLMLOG_REDACT="secrets", LLMLOG_REDACT_KEY="short")
        code = HIDE_SDKS_FOR_NOW + ACTIVATE + "print('charged')\nsys.meta_path.remove(hidden)\n"
        result = run(code + CALL_CLAUDE, env, fake)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["False", "charged", "app", "ran"]
        assert "LLMLOG_REDACT_KEY" in result.stderr and records(out) == []

    def test_disabled_provider_does_not_count_as_missing(
        self, fake: FakeProvider, out: Path
    ) -> None:
        """Only the SDKs that would be instrumented must be installed."""
        hide = "import sys; sys.modules['openai'] = None\n"
        env = {
            "LLMLOG_ENABLED": "1",
            "LLMLOG_OUTPUT": str(out),
            "LLMLOG_DISABLED_PROVIDERS": "openai",
        }
        result = run(hide + ACTIVATE + STATE, env, fake)
        assert result.stdout.split() == ["True", "on"]

    def test_a_crash_inside_instrument_is_contained(self, fake: FakeProvider, out: Path) -> None:
        """Even an unexpected exception from llmlog itself only produces the message."""
        breaking = "import llmlog\ndef broken(**kw): raise RuntimeError('boom')\n"
        breaking += "llmlog.instrument = broken\n"
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_OUTPUT": str(out)}
        result = run(breaking + ACTIVATE + "print('app ran')", env, fake)
        assert result.returncode == 0
        assert "RuntimeError: boom" in result.stderr
        assert result.stdout.split() == ["False", "app", "ran"]


class TestFail:
    def test_strict_calls_stop_with_the_exit_code(self, capsys: pytest.CaptureFixture[str]) -> None:
        """fail(strict=True) says why, then stops with EXIT_CODE (os._exit in real use)."""

        class Stopped(Exception):
            pass

        def stop(code: int) -> NoReturn:
            raise Stopped(code)

        with pytest.raises(Stopped) as stopped:
            _activate.fail("because", strict=True, stop=stop)
        assert stopped.value.args == (78,)
        assert capsys.readouterr().err == (
            "llmlog: activation failed in strict mode, stopping: because\n"
        )

    def test_is_on_accepts_the_settings_spellings(self) -> None:
        """is_on matches the settings table's truthy values, case- and space-insensitive."""
        assert [_activate.is_on(v) for v in ("1", " True ", "yes", "ON")] == [True] * 4
        assert [_activate.is_on(v) for v in ("", None, "0", "2", "off")] == [False] * 5
        assert [_activate.is_off(v) for v in ("", None, "0", " False ", "no", "OFF")] == [True] * 6
        assert [_activate.is_off(v) for v in ("1", "2", "enabled")] == [False] * 3


CHILD = "import subprocess, sys\nsubprocess.run([sys.executable, '-c', CODE], check=True{extra})\n"


class TestSettingsGivenInCode:
    """instrument(**settings) in an app the environment activates (LLMLOG_ENABLED=1,
    llmlog-run): the settings reach the child processes, which the environment activates."""

    def test_keyword_settings_reach_a_child_started_elsewhere(
        self, fake: FakeProvider, tmp_path: Path
    ) -> None:
        """A relative output (one absolute file), capture and redaction chosen in code apply
        to a child in another directory too; nothing goes to the default file."""
        other = tmp_path / "other"
        other.mkdir()
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_REDACT": "pii"}
        code = ACTIVATE + CALL_CLAUDE.replace("Hello", "Hello alice@example.com")
        app = f"os.chdir({str(tmp_path)!r})\nCODE = {code!r}\n" + ACTIVATE
        app += "import llmlog\n"
        app += "llmlog.instrument(output='logs/app.jsonl', capture='metadata', redact='secrets')\n"
        app += CHILD.format(extra=f", cwd={str(other)!r}")
        result = run(app, env, fake)
        assert result.returncode == 0, result.stderr
        [record] = records(tmp_path / "logs" / "app.jsonl")
        assert "Hello" not in json.dumps(record["messages"])
        assert not (other / "llm_logs").exists() and not (tmp_path / "llm_logs").exists()

    def test_the_redact_key_never_goes_to_children_who_redact_by_tag_without_it(
        self, fake: FakeProvider, out: Path
    ) -> None:
        """The key stays out of the environment; a child without it in LLMLOG_REDACT_KEY still
        logs, redacting by tag (hashing needs the key), silently; one given the key hashes."""
        key = "k" * 20
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_REDACT": "secrets", "LLMLOG_OUTPUT": str(out)}
        call = CALL_CLAUDE.replace("Hello", f"Hello {SECRET}")
        code = ACTIVATE + "import os\nprint(os.environ.get('LLMLOG_REDACT_KEY'))\n" + call
        app = f"CODE = {code!r}\n" + ACTIVATE + "import llmlog\n"
        app += f"llmlog.instrument(redact_key={key!r}, redact_operator='hash')\n" + call
        app += CHILD.format(extra="")
        app += CHILD.format(extra=f", env={{**os.environ, 'LLMLOG_REDACT_KEY': {key!r}}}")
        result = run(app, env, fake)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == [
            *["True", "app", "ran"],
            *["True", "None", "app", "ran"],
            *["True", key, "app", "ran"],
        ]
        assert result.stderr == "" and key not in json.dumps(records(out))
        texts = sorted(r["messages"][0]["content"] for r in records(out))  # any order
        assert texts[0].startswith("Hello <API_KEY:") and texts[1] == texts[0]
        assert texts[2] == "Hello <API_KEY>"  # the child without the key

    def test_strict_children_running_the_apps_own_instrument_are_not_stopped(
        self, fake: FakeProvider, out: Path
    ) -> None:
        """A worker re-running the app's module (spawn, a pool, the same script) passes the
        key itself: under strict mode it starts and logs, as its parent does."""
        key = "k" * 20
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_STRICT": "1", "LLMLOG_OUTPUT": str(out)}
        own = f"import llmlog\nllmlog.instrument(redact_key={key!r}, redact_operator='hash')\n"
        code = ACTIVATE + own + CALL_CLAUDE
        app = f"CODE = {code!r}\n" + ACTIVATE + own + CALL_CLAUDE + CHILD.format(extra="")
        result = run(app, env, fake)
        assert result.returncode == 0, result.stderr
        assert len(records(out)) == 2

    def test_an_earlier_instrument_call_does_not_change_a_later_one(
        self, fake: FakeProvider, out: Path, tmp_path: Path
    ) -> None:
        """What one call passed on to children is not read back by this process: after
        uninstrument(), instrument(output=...) has the defaults (a suite instrumenting per test)."""
        later = tmp_path / "later.jsonl"
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_REDACT": "secrets", "LLMLOG_OUTPUT": str(out)}
        app = ACTIVATE + "import llmlog\n"
        app += "llmlog.instrument(disabled_providers=['anthropic'], capture='metadata')\n"
        app += f"llmlog.uninstrument()\nllmlog.instrument(output={str(later)!r})\n"
        result = run(app + CALL_CLAUDE + "llmlog.flush(10)\n", env, fake)
        assert result.returncode == 0, result.stderr
        [record] = records(later)
        assert record["messages"] == [{"role": "user", "content": "Hello"}]

    def test_enabled_false_then_true_switches_children_back_on(
        self, fake: FakeProvider, out: Path
    ) -> None:
        """instrument(enabled=False) then instrument(enabled=True): children log again."""
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_REDACT": "secrets", "LLMLOG_OUTPUT": str(out)}
        code = ACTIVATE + CALL_CLAUDE
        app = f"CODE = {code!r}\n" + ACTIVATE + "import llmlog\n"
        app += "llmlog.instrument(enabled=False)\nllmlog.instrument(enabled=True)\n"
        app += CALL_CLAUDE + "llmlog.flush(10)\n" + CHILD.format(extra="")
        result = run(app, env, fake)
        assert result.returncode == 0, result.stderr
        assert len(records(out)) == 2

    def test_enabled_false_does_not_log_here_nor_in_children(
        self, fake: FakeProvider, out: Path
    ) -> None:
        """instrument(enabled=False) wins over LLMLOG_ENABLED=1: logging goes off, for the
        children started from then on too."""
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_REDACT": "secrets", "LLMLOG_OUTPUT": str(out)}
        code = ACTIVATE + CALL_CLAUDE
        app = f"CODE = {code!r}\n" + ACTIVATE + "import llmlog\nllmlog.instrument(enabled=False)\n"
        app += STATE + CALL_CLAUDE + CHILD.format(extra="")
        result = run(app, env, fake)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["True", "off", "app", "ran", "False", "app", "ran"]
        assert records(out) == []

    def test_enabled_false_without_the_environment_does_not_instrument(
        self, fake: FakeProvider, out: Path
    ) -> None:
        """Not a value llmlog ignores: no patch, no pipeline, no record."""
        app = f"import llmlog\nllmlog.instrument(enabled=False, output={str(out)!r})\n"
        result = run(app + STATE + CALL_CLAUDE, {"LLMLOG_REDACT": "secrets"}, fake)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["off", "app", "ran"]
        assert records(out) == []


class TestSitecustomizeExample:
    """sitecustomize_example/sitecustomize.py in an interpreter that cannot import llmlog."""

    EXAMPLE = ROOT / "sitecustomize_example" / "sitecustomize.py"
    NO_LLMLOG = "import runpy, sys\nsys.modules['llmlog'] = None\n"
    NO_SDK = "sys.modules['openai'] = None; sys.modules['anthropic'] = None\n"

    def start(self, hide: str) -> str:
        return self.NO_LLMLOG + hide + f"runpy.run_path({str(self.EXAMPLE)!r})\n"

    def test_cannot_import_llmlog_is_said_once_per_process_tree(self, fake: FakeProvider) -> None:
        """The app and its child each run the file; one line in all, naming the interpreter."""
        code = self.start("") + "print('ran')\n"
        app = f"CODE = {code!r}\n" + code + CHILD.format(extra="")
        result = run(app, {}, fake)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["ran", "ran"]
        [line] = result.stderr.strip().splitlines()
        assert "cannot import llmlog in" in line and sys.executable in line

    def test_strict_does_not_stop_an_interpreter_without_sdk(self, fake: FakeProvider) -> None:
        """Nothing could go unlogged there: it runs, and says nothing."""
        result = run(self.start(self.NO_SDK) + "print('ran')", {"LLMLOG_STRICT": "1"}, fake)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "ran" and result.stderr == ""

    def test_strict_stops_an_interpreter_with_an_sdk(self, fake: FakeProvider) -> None:
        """An SDK but no llmlog: its calls would go unlogged, so strict mode stops (78)."""
        result = run(self.start("") + "print('ran')", {"LLMLOG_STRICT": "1"}, fake)
        assert result.returncode == 78
        assert result.stdout == "" and "stopping: cannot import llmlog" in result.stderr
