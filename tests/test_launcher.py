"""``llmlog-run``: options from the settings table, exec semantics, the bootstrap sitecustomize."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import site
import subprocess
import sys
import textwrap
import venv
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from llmlog._config import DEFAULT_OUTPUT, Settings, default_label, env_name
from llmlog.fake_provider import FakeProvider, start_server
from llmlog.launcher import BOOTSTRAP_DIR, child_environment

PY = sys.executable
_PROG_ERROR = "llmlog-run: error: "


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with start_server() as server:
        yield server


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMLOG_")}
    env.update(extra)
    return env


def launch(
    args: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``llmlog-run ARGS`` (as ``python -m llmlog.launcher``, installed or not)."""
    return subprocess.run(
        [PY, "-m", "llmlog.launcher", *args],
        env=clean_env() if env is None else env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def py(code: str) -> list[str]:
    return [PY, "-c", textwrap.dedent(code)]


SHOW_ENV = """
import json, os
print(json.dumps({k: v for k, v in os.environ.items() if k.startswith(("LLMLOG_", "PYTHONPATH"))}))
"""


class TestOptions:
    def test_help_lists_every_setting_with_its_variable_and_default(self) -> None:
        """--help is generated from the settings table: one flag per setting."""
        result = launch(["--help"])
        assert result.returncode == 0
        text = " ".join(result.stdout.split())
        for f in dataclasses.fields(Settings):
            if f.name == "enabled":
                continue
            assert f"--{f.name.replace('_', '-')}" in text
            assert f"[{env_name(f.name)}, default: {default_label(f) or 'none'}]" in text

    def test_flags_become_environment_for_the_app(self) -> None:
        """Each flag is exported as its LLMLOG_* variable, with LLMLOG_ENABLED=1."""
        args = ["--redact", "secrets", "--capture", "metadata", "--strict", "--max-bytes", "10"]
        result = launch([*args, *py(SHOW_ENV)])
        assert result.returncode == 0, result.stderr
        env = json.loads(result.stdout)
        assert env["LLMLOG_ENABLED"] == "1"
        assert env["LLMLOG_REDACT"] == "secrets"
        assert env["LLMLOG_CAPTURE"] == "metadata"
        assert env["LLMLOG_STRICT"] == "1"
        assert env["LLMLOG_MAX_BYTES"] == "10"

    def test_bootstrap_goes_first_on_pythonpath_and_existing_entries_stay(
        self, tmp_path: Path
    ) -> None:
        """The user's PYTHONPATH is kept, after the bootstrap folder."""
        env = clean_env(
            PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
        )
        result = launch(py(SHOW_ENV), env=env)
        entries = json.loads(result.stdout)["PYTHONPATH"].split(os.pathsep)
        assert entries[0] == BOOTSTRAP_DIR
        assert entries[1] == str(tmp_path)

    def test_options_after_the_command_belong_to_the_command(self) -> None:
        """Only options before COMMAND are llmlog's; the rest is the app's argv."""
        code = "import sys; print(sys.argv[1:])"
        result = launch(["--redact", "off", PY, "-c", code, "--redact", "bogus", "-x"])
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "['--redact', 'bogus', '-x']"

    def test_double_dash_separates_options_from_the_command(self) -> None:
        """`llmlog-run -- COMMAND` works like `llmlog-run COMMAND`."""
        result = launch(["--", *py("print('ran')")])
        assert result.stdout.strip() == "ran"

    @pytest.mark.parametrize(
        ("args", "named", "allowed"),
        [
            (["--redact", "bogus"], "--redact", "off, secrets, pii, ner"),
            (["--max-bytes", "-5"], "--max-bytes", "non-negative whole number"),
            (["--flush-timeout", "inf"], "--flush-timeout", "a number from 0 to 3600"),
            (["--output", ""], "--output", "stdout, stderr or a file path, not empty"),
            (["--queue-size", "0"], "--queue-size", "a whole number of at least 1"),
            (["--sigterm", "ignore"], "--sigterm", "flush, default"),
            (
                ["--disabled-providers", "openai,cohere"],
                "--disabled-providers",
                "openai, anthropic",
            ),
        ],
    )
    def test_bad_value_exits_2_before_the_app_starts(
        self, tmp_path: Path, args: list[str], named: str, allowed: str
    ) -> None:
        """The message names the option and what is allowed; the app never runs."""
        marker = tmp_path / "started"
        result = launch([*args, *py(f"open({str(marker)!r}, 'w')")])
        assert result.returncode == 2
        assert named in result.stderr and allowed in result.stderr
        assert not marker.exists()

    @pytest.mark.parametrize(
        ("args", "env", "said"),
        [
            (["--redact-key", "k3y"], {}, "LLMLOG_REDACT_KEY is too short (3 bytes)"),
            ([], {"LLMLOG_REDACT_KEY": "k3y"}, "LLMLOG_REDACT_KEY is too short (3 bytes)"),
            (["--redact-operator", "hash"], {}, "LLMLOG_REDACT_OPERATOR=hash needs a secret key"),
        ],
    )
    def test_values_redaction_cannot_honour_exit_2_before_the_app_starts(
        self, tmp_path: Path, args: list[str], env: dict[str, str], said: str
    ) -> None:
        """What instrument() would refuse in any interpreter is refused here, as a bad
        value; the key itself is never shown."""
        marker = tmp_path / "started"
        result = launch([*args, *py(f"open({str(marker)!r}, 'w')")], env=clean_env(**env))
        assert result.returncode == 2
        assert f"{_PROG_ERROR}{said}" in result.stderr and "k3y" not in result.stderr
        assert not marker.exists()

    def test_what_depends_on_the_apps_interpreter_is_left_to_it(self) -> None:
        """A spaCy model for `ner` may be installed where the app runs, not here: the
        app starts, and its own activation says what is missing."""
        result = launch(["--redact", "ner", "--ner-model", "/no/such/model", *py("print('ran')")])
        assert result.returncode == 0
        assert result.stdout.strip() == "ran" and "/no/such/model" in result.stderr

    def test_bad_inherited_variable_exits_2_naming_it(self) -> None:
        """A bad LLMLOG_* already in the environment is caught the same way."""
        result = launch(py("print('ran')"), env=clean_env(LLMLOG_CAPTURE="everything"))
        assert result.returncode == 2
        assert "LLMLOG_CAPTURE='everything'" in result.stderr
        assert "ran" not in result.stdout

    def test_no_command_is_a_usage_error(self) -> None:
        """Without COMMAND: usage on stderr, status 2."""
        result = launch(["--redact", "off"])
        assert result.returncode == 2
        assert "no command given" in result.stderr


class TestExec:
    def test_the_app_keeps_the_launchers_pid(self) -> None:
        """exec replaces the launcher: the pid the caller sees is the app's."""
        child = subprocess.Popen(
            [PY, "-m", "llmlog.launcher", *py("import os; print(os.getpid())")],
            env=clean_env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        output, _ = child.communicate(timeout=60)
        assert int(output) == child.pid

    def test_exit_status_is_the_apps(self) -> None:
        """sys.exit(7) in the app is status 7 for whoever started llmlog-run."""
        assert launch(py("import sys; sys.exit(7)")).returncode == 7

    def test_death_by_signal_is_the_apps(self) -> None:
        """An app killed by SIGTERM ends the launched process the same way."""
        result = launch(py("import os, signal; os.kill(os.getpid(), signal.SIGTERM)"))
        assert result.returncode == -signal.SIGTERM

    def test_signals_sent_to_the_launcher_reach_the_app(self) -> None:
        """SIGUSR1 sent to the pid llmlog-run started with arrives in the app's handler."""
        code = """
        import signal, sys
        signal.signal(signal.SIGUSR1, lambda *a: (print("got USR1", flush=True), sys.exit(3)))
        print("ready", flush=True)
        signal.pause()
        """
        child = subprocess.Popen(
            [PY, "-m", "llmlog.launcher", *py(code)],
            env=clean_env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        child.send_signal(signal.SIGUSR1)
        assert child.wait(timeout=30) == 3
        assert child.stdout.read().strip() == "got USR1"

    def test_command_not_found_exits_127(self) -> None:
        """An unknown command is reported by name with status 127."""
        result = launch(["no-such-command-for-llmlog", "arg"])
        assert result.returncode == 127
        assert "command not found: no-such-command-for-llmlog" in result.stderr

    def test_missing_path_exits_127(self, tmp_path: Path) -> None:
        """A path to nothing is also 127."""
        result = launch([str(tmp_path / "nothing.py")])
        assert result.returncode == 127

    def test_file_that_cannot_be_executed_exits_126(self, tmp_path: Path) -> None:
        """Found but not executable: status 126, as shells do."""
        script = tmp_path / "app.py"
        script.write_text("print('hi')\n")
        result = launch([str(script)])
        assert result.returncode == 126
        assert "cannot run" in result.stderr


class TestChildEnvironment:
    @pytest.mark.parametrize(
        ("given", "entries"),
        [
            (":/x", ["", "/x"]),
            ("/x:", ["/x", ""]),
            ("/x::/y", ["/x", "", "/y"]),
            (":", ["", ""]),
            ("", []),
            (f"{BOOTSTRAP_DIR}::/x", ["", "/x"]),
        ],
    )
    def test_empty_pythonpath_entries_are_kept_in_place(
        self, given: str, entries: list[str]
    ) -> None:
        """An empty entry is the current directory for Python: dropping it breaks imports."""
        env = child_environment({"PYTHONPATH": given.replace(":", os.pathsep)}, {})
        assert env["PYTHONPATH"].split(os.pathsep) == [BOOTSTRAP_DIR, *entries]

    def test_an_app_importing_from_its_working_directory_still_can(self, tmp_path: Path) -> None:
        """PYTHONPATH=":..." (cwd first) keeps working under llmlog-run."""
        (tmp_path / "localmod.py").write_text("VALUE = 'local'\n")
        app = tmp_path / "bin" / "app.py"  # elsewhere: its own folder is not the cwd
        app.parent.mkdir()
        app.write_text("import localmod\nprint(localmod.VALUE)\n")
        env = clean_env(PYTHONPATH=os.pathsep + os.environ.get("PYTHONPATH", ""))
        result = launch(["--redact", "secrets", PY, str(app)], env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "local"

    @pytest.mark.parametrize(
        ("given", "expected"),
        [
            (None, os.path.abspath(DEFAULT_OUTPUT)),
            ("logs/app.jsonl", os.path.abspath("logs/app.jsonl")),
            ("/var/log/app.jsonl", "/var/log/app.jsonl"),
            ("stdout", "stdout"),
            ("stderr", "stderr"),
        ],
    )
    def test_the_output_is_exported_as_an_absolute_path(
        self, given: str | None, expected: str
    ) -> None:
        """Resolved once by the launcher, so every process of the app shares one file."""
        base = {} if given is None else {"LLMLOG_OUTPUT": given}
        assert child_environment(base, {})["LLMLOG_OUTPUT"] == expected
        if given is not None:
            assert child_environment({}, {"output": given})["LLMLOG_OUTPUT"] == expected


class TestBootstrap:
    def test_the_bootstrap_folder_holds_only_sitecustomize(self) -> None:
        """Anything else there would shadow the app's own modules."""
        names = {p.name for p in Path(BOOTSTRAP_DIR).iterdir() if p.name != "__pycache__"}
        assert names == {"sitecustomize.py"}

    def test_chains_to_the_sitecustomize_it_shadows(self, tmp_path: Path) -> None:
        """A user's sitecustomize further down PYTHONPATH still runs, after llmlog activates."""
        user_dir = tmp_path / "user"
        user_dir.mkdir()
        (user_dir / "sitecustomize.py").write_text("import os\nUSER_SITE_RAN = True\n")
        env = clean_env(
            PYTHONPATH=os.pathsep.join([str(user_dir), os.environ.get("PYTHONPATH", "")])
        )
        code = """
        import sys, sitecustomize, llmlog._pipeline
        active = llmlog._pipeline.current() is not None
        print(getattr(sitecustomize, "USER_SITE_RAN", False), active)
        print(sitecustomize.__file__)
        """
        result = launch(["--redact", "secrets", *py(code)], env=env)
        assert result.returncode == 0, result.stderr
        ran, active, path = result.stdout.split()
        assert (ran, active) == ("True", "True")
        assert Path(path) == user_dir / "sitecustomize.py"

    def test_without_a_shadowed_sitecustomize_the_bootstrap_stays(self) -> None:
        """With nothing to chain to, sitecustomize is the bootstrap module itself."""
        code = "import sitecustomize; print(sitecustomize.__file__)"
        result = launch(["--redact", "secrets", *py(code)])
        assert Path(result.stdout.strip()).parent == Path(BOOTSTRAP_DIR)

    def test_a_failing_shadowed_sitecustomize_does_not_stop_the_app(self, tmp_path: Path) -> None:
        """Its error is reported the way site reports it; the app runs."""
        (tmp_path / "sitecustomize.py").write_text("raise RuntimeError('broken site')\n")
        env = clean_env(
            PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
        )
        result = launch(["--redact", "secrets", *py("print('app ran')")], env=env)
        assert result.stdout.strip() == "app ran"
        assert "Error in sitecustomize" in result.stderr and "broken site" in result.stderr

    def test_the_bootstrap_activates_on_its_own(self, tmp_path: Path) -> None:
        """Run as sitecustomize would be (no .pth involved), it starts llmlog."""
        code = f"""
        import os, runpy
        os.environ.update(LLMLOG_ENABLED="1", LLMLOG_REDACT="secrets")
        runpy.run_path({str(Path(BOOTSTRAP_DIR) / "sitecustomize.py")!r})
        import llmlog._pipeline
        print(llmlog._pipeline.current() is not None)
        """
        result = subprocess.run(
            py(code), env=clean_env(), capture_output=True, text=True, timeout=60
        )
        assert result.stdout.strip() == "True", result.stderr

    @pytest.mark.parametrize("value", ["2", "enabled"])
    def test_bootstrap_reports_a_switch_neither_on_nor_off(self, value: str) -> None:
        """LLMLOG_ENABLED=2 is not silently "off": one stderr line names the variable and
        its values, and the app runs unlogged. The variable is left as it was; the
        "said once" marker keeps children quiet."""
        code = f"""
        import os, runpy, sys
        os.environ["LLMLOG_ENABLED"] = {value!r}
        runpy.run_path({str(Path(BOOTSTRAP_DIR) / "sitecustomize.py")!r})
        print("app ran", os.environ["LLMLOG_ENABLED"], bool(os.environ["_LLMLOG_REPORTED"]))
        """
        result = subprocess.run(
            py(code), env=clean_env(), capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0
        assert result.stdout.strip() == f"app ran {value} True"
        [line] = result.stderr.strip().splitlines()
        assert f"LLMLOG_ENABLED={value!r}" in line and "1, 0, true, false" in line

    def test_bootstrap_does_nothing_when_switched_off(self) -> None:
        """LLMLOG_ENABLED=0 keeps the bootstrap quiet."""
        code = f"""
        import os, runpy, sys
        os.environ["LLMLOG_ENABLED"] = "0"
        runpy.run_path({str(Path(BOOTSTRAP_DIR) / "sitecustomize.py")!r})
        print(any(m.startswith("llmlog._pipeline") for m in sys.modules))
        """
        result = subprocess.run(
            py(code), env=clean_env(), capture_output=True, text=True, timeout=60
        )
        assert result.stdout.strip() == "False" and result.stderr == ""


def read_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


CALL = """
import openai
openai.OpenAI().chat.completions.create(
    model="gpt-4o-mini", messages=[{"role": "user", "content": "hi from %s"}]
)
"""


class TestBootstrapFailures:
    """A Python that cannot import llmlog (a wrapper's) must not switch the app's logging off."""

    RUN = f"""
    import os, runpy, sys
    os.environ.update({{env}})  # here, not at start-up: the installed .pth stays out of it
    sys.modules["llmlog"] = None  # this interpreter cannot import llmlog
    {{hide}}
    runpy.run_path({str(Path(BOOTSTRAP_DIR) / "sitecustomize.py")!r})
    runpy.run_path({str(Path(BOOTSTRAP_DIR) / "sitecustomize.py")!r})
    print("app ran", os.environ["LLMLOG_ENABLED"])
    """
    NO_SDK = "sys.modules['openai'] = None; sys.modules['anthropic'] = None"
    STRICT = {"LLMLOG_ENABLED": "1", "LLMLOG_STRICT": "1"}

    def test_cannot_import_llmlog_is_said_once_and_children_still_activate(self) -> None:
        """One line naming the interpreter; LLMLOG_ENABLED stays 1 for the children."""
        code = self.RUN.format(hide="", env={"LLMLOG_ENABLED": "1"})
        result = subprocess.run(
            py(code), env=clean_env(), capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0
        assert result.stdout.strip() == "app ran 1"
        [line] = result.stderr.strip().splitlines()
        assert "cannot import llmlog in" in line and sys.executable in line

    def test_a_wrapper_without_sdk_says_nothing(self) -> None:
        """Nothing could go unlogged there, and the app it starts is logged: no line."""
        code = self.RUN.format(hide=self.NO_SDK, env={"LLMLOG_ENABLED": "1"})
        result = subprocess.run(
            py(code), env=clean_env(), capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0
        assert result.stdout.strip() == "app ran 1" and result.stderr == ""

    def test_a_wrapper_logged_app_is_not_said_to_run_unlogged(
        self, fake: FakeProvider, tmp_path: Path
    ) -> None:
        """llmlog-run starting a wrapper whose Python has an SDK but cannot import llmlog,
        which runs the app in a Python with llmlog: the one line is about the wrapper's
        own calls, and the app is logged."""
        venv.EnvBuilder(with_pip=False).create(tmp_path / "wrapper")
        wrapper = tmp_path / "wrapper" / "bin" / "python"
        where = subprocess.run(
            [wrapper, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        )
        site_dir = Path(where.stdout.strip())
        (site_dir / "openai").mkdir()
        (site_dir / "openai" / "__init__.py").write_text("")
        (site_dir / "no_llmlog.pth").write_text("import sys; sys.modules['llmlog'] = None\n")
        out = tmp_path / "log.jsonl"
        run_app = f"import subprocess\nsubprocess.run([{PY!r}, '-c', {CALL % 'app'!r}], check=True)"
        args = ["--output", str(out), "--redact", "secrets", str(wrapper), "-c", run_app]
        result = launch(args, env=clean_env(**fake.env()))
        assert result.returncode == 0, result.stderr
        [line] = result.stderr.strip().splitlines()
        assert "the application runs without" not in line and "not activated" not in line
        assert "LLM calls made in this interpreter are not logged" in line
        assert str(wrapper) in line
        assert [r["messages"][0]["content"] for r in read_records(out)] == ["hi from app"]

    def test_strict_does_not_stop_an_interpreter_without_sdk(self) -> None:
        """With no SDK there, nothing could go unlogged: a wrapper never stops the app."""
        code = self.RUN.format(hide=self.NO_SDK, env=self.STRICT)
        result = subprocess.run(
            py(code), env=clean_env(), capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "app ran 1"

    def test_strict_stops_an_interpreter_with_an_sdk(self) -> None:
        """An SDK but no llmlog: calls would go unlogged, so strict mode stops (78)."""
        code = self.RUN.format(hide="", env=self.STRICT)
        result = subprocess.run(
            py(code), env=clean_env(), capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 78
        assert "app ran" not in result.stdout and "cannot import llmlog" in result.stderr


class TestEndToEnd:
    def test_app_and_its_python_children_are_logged(
        self, fake: FakeProvider, tmp_path: Path
    ) -> None:
        """The app's call and a subprocess's call both land in --output."""
        out = tmp_path / "log.jsonl"
        child = CALL % "child"
        spawn = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {child!r}])\n"
        app = CALL % "parent" + spawn
        env = clean_env(**fake.env())
        result = launch(["--output", str(out), "--redact", "secrets", *py(app)], env=env)
        assert result.returncode == 0, result.stderr
        records = read_records(out)
        texts = sorted(r["messages"][0]["content"] for r in records)
        assert texts == ["hi from child", "hi from parent"]
        assert len({r["process"]["pid"] for r in records}) == 2

    def test_children_elsewhere_and_a_chdir_share_the_relative_output(
        self, fake: FakeProvider, tmp_path: Path
    ) -> None:
        """--output logs/x.jsonl is one file for the app, a child in another directory and
        calls made after a chdir."""
        other = tmp_path / "other"
        other.mkdir()
        child = CALL % "child"
        app = (
            f"import os, subprocess, sys\n"
            f"subprocess.run([sys.executable, '-c', {child!r}], cwd={str(other)!r}, check=True)\n"
            f"os.chdir({str(other)!r})\n" + CALL % "after chdir"
        )
        env = clean_env(**fake.env())
        args = ["--output", "logs/x.jsonl", "--redact", "secrets", *py(app)]
        result = launch(args, env=env, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        texts = sorted(r["messages"][0]["content"] for r in read_records(tmp_path / "logs/x.jsonl"))
        assert texts == ["hi from after chdir", "hi from child"]
        assert not (other / "logs").exists()

    @pytest.mark.skipif(
        not any((Path(d) / "llmlog.pth").exists() for d in site.getsitepackages()),
        reason="llmlog.pth not installed (pip install -e .)",
    )
    def test_python_dash_I_skips_the_bootstrap_but_the_installed_line_activates(self) -> None:
        """-I ignores PYTHONPATH (no bootstrap, no chaining); LLMLOG_ENABLED still works."""
        code = "import sys; a = sys.modules.get('llmlog._activate')\n"
        code += "print(bool(a and a._outcome), 'sitecustomize' in sys.modules)"
        result = launch(["--redact", "secrets", PY, "-I", "-c", code])
        assert result.stdout.split() == ["True", "False"], result.stderr

    def test_python_dash_S_runs_unlogged(self, fake: FakeProvider, tmp_path: Path) -> None:
        """Documented limit: `python -S` skips site, hence the bootstrap and the .pth line."""
        out = tmp_path / "log.jsonl"
        code = "import sys; sys.path[:0] = " + repr(sys.path) + "\n" + CALL % "dash S"
        env = clean_env(**fake.env())
        result = launch(["--output", str(out), PY, "-S", "-c", code], env=env)
        assert result.returncode == 0, result.stderr
        assert read_records(out) == []
