"""``LLMLOG_ENABLED=1 python app.py``: the ``llmlog.pth`` start-up line.

The line only runs where llmlog is installed; tests that need it are skipped
otherwise (``pip install -e .`` installs it). ``TestRealInstall`` builds a
wheel and installs it, and the checkout in editable mode, into throwaway
virtual environments (slowest test here: about 15 s; it needs pip to find
hatchling in its cache or on the package index).
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import sysconfig
import textwrap
import venv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmlog.fake_provider import FakeProvider, start_server

ROOT = Path(__file__).resolve().parents[1]
PTH = ROOT / "llmlog.pth"
SITE_DIRS = [*site.getsitepackages(), site.getusersitepackages()]
INSTALLED = any((Path(d) / "llmlog.pth").exists() for d in SITE_DIRS)
needs_install = pytest.mark.skipif(
    not INSTALLED, reason="llmlog.pth not installed (pip install -e .)"
)

LOADED = "import sys; print(sorted(m for m in sys.modules if m.startswith('llmlog')))"
STATE = "import sys; a = sys.modules.get('llmlog._activate'); print(bool(a and a._outcome))"
CALL = """
import openai
openai.OpenAI().chat.completions.create(
    model="gpt-4o-mini", messages=[{"role": "user", "content": "hi from %s"}]
)
"""


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with start_server() as server:
        yield server


def run(
    argv: list[str], python: str = sys.executable, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("LLMLOG_")}
    full.pop("PYTHONPATH", None)  # the installed package must be found on its own
    full.update(env)
    return subprocess.run(
        [python, *argv], env=full, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


class TestLine:
    def test_is_one_import_line(self) -> None:
        """site executes a .pth line only if it starts with `import`; everything is on it."""
        lines = PTH.read_text().splitlines()
        assert len(lines) == 1
        assert lines[0].startswith("import ")
        compile(lines[0], str(PTH), "exec")

    def test_costs_nothing_and_imports_nothing_when_off(self) -> None:
        """Executed with the switch off, the line imports no module at all."""
        line = PTH.read_text().strip()
        code = "import os, sys\nos.environ.pop('LLMLOG_ENABLED', None)\nbefore = set(sys.modules)\n"
        code += f"exec({line!r})\nprint(sorted(set(sys.modules) - before))"
        result = subprocess.run(
            [sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60
        )
        assert result.stdout.strip() == "[]", result.stderr


def exec_line(prelude: str, after: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    """Execute the repository's line (not the installed one) after ``prelude``, with
    ``env`` set first; ``-S``: no installed line runs at start-up."""
    line = PTH.read_text().strip()
    code = f"import os, sys\nos.environ.update({env!r})\n{prelude}\nexec({line!r})\n{after}"
    full = {k: v for k, v in os.environ.items() if not k.startswith(("LLMLOG_", "_LLMLOG"))}
    full["PYTHONPATH"] = os.pathsep.join(sys.path[1:])  # what -S leaves out, llmlog included
    return subprocess.run(
        [sys.executable, "-S", "-c", code], env=full, capture_output=True, text=True, timeout=60
    )


NO_LLMLOG = "sys.modules['llmlog'] = None"
NO_SDK = "sys.modules['openai'] = None; sys.modules['anthropic'] = None"
SHOW = "print('app ran', os.environ['LLMLOG_ENABLED'])"


class TestLineFailures:
    def test_cannot_import_llmlog_is_said_once_and_does_not_switch_children_off(self) -> None:
        """Said once per process tree (a second run is silent); LLMLOG_ENABLED stays as it
        was, so a child in an interpreter with llmlog still logs."""
        after = "exec(" + repr(PTH.read_text().strip()) + ")\n" + SHOW
        result = exec_line(NO_LLMLOG, after, LLMLOG_ENABLED="1")
        assert result.returncode == 0
        assert result.stdout.strip() == "app ran 1"
        [line] = result.stderr.strip().splitlines()
        assert "cannot import llmlog in" in line and sys.executable in line
        assert "LLM calls made in this interpreter are not logged" in line
        assert "the application runs without" not in line  # the app it starts may well not

    def test_strict_without_sdk_does_not_stop(self) -> None:
        """A wrapper's Python with neither llmlog nor an SDK cannot lose a call: it runs."""
        result = exec_line(f"{NO_LLMLOG}; {NO_SDK}", SHOW, LLMLOG_ENABLED="1", LLMLOG_STRICT="1")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "app ran 1"

    def test_without_llmlog_and_sdk_nothing_is_said(self) -> None:
        """Nothing there could go unlogged; the app such a wrapper starts reports for itself."""
        result = exec_line(f"{NO_LLMLOG}; {NO_SDK}", SHOW, LLMLOG_ENABLED="1")
        assert result.returncode == 0 and result.stderr == ""

    def test_strict_with_an_sdk_stops(self) -> None:
        """An SDK but no llmlog: calls would go unlogged, so strict mode stops with 78."""
        result = exec_line(NO_LLMLOG, SHOW, LLMLOG_ENABLED="1", LLMLOG_STRICT="1")
        assert result.returncode == 78
        assert result.stdout == "" and "stopping: cannot import llmlog" in result.stderr

    @pytest.mark.parametrize("program", ["/venv/bin/llmlog-run", "llmlog"])
    def test_llmlogs_own_commands_are_not_activated(self, program: str) -> None:
        """llmlog-run and llmlog report bad settings themselves; the line leaves them be."""
        prelude = f"sys.argv = [{program!r}]"
        after = "print(sorted(m for m in sys.modules if m.startswith('llmlog')))"
        result = exec_line(prelude, after, LLMLOG_ENABLED="1", LLMLOG_STRICT="1")
        assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr
        app = exec_line("sys.argv = ['/srv/app.py']", after, LLMLOG_ENABLED="1")
        assert "llmlog._activate" in app.stdout, app.stderr


@needs_install
class TestInstalledLine:
    @pytest.mark.parametrize("value", [None, "0", "off", ""])
    def test_off_imports_nothing_of_llmlog(self, value: str | None) -> None:
        """Unset, 0, off or empty: no llmlog module is even imported."""
        env = {} if value is None else {"LLMLOG_ENABLED": value}
        result = run(["-c", LOADED], **env)
        assert result.stdout.strip() == "[]", result.stderr

    def test_on_activates_before_the_app(self) -> None:
        """LLMLOG_ENABLED=1: llmlog is active when the app's first line runs."""
        result = run(["-c", STATE], LLMLOG_ENABLED="1", LLMLOG_REDACT="secrets")
        assert result.stdout.strip() == "True", result.stderr

    def test_python_dash_m(self, tmp_path: Path) -> None:
        """`python -m package.module` is activated too."""
        (tmp_path / "myapp.py").write_text(STATE + "\n")
        result = run(["-m", "myapp"], cwd=tmp_path, LLMLOG_ENABLED="1", LLMLOG_REDACT="secrets")
        assert result.stdout.strip() == "True", result.stderr

    def test_console_script(self, tmp_path: Path) -> None:
        """An executable script with a Python shebang (what console scripts are) is activated."""
        script = tmp_path / "my-tool"
        script.write_text(f"#!{sys.executable}\n{STATE}\n")
        script.chmod(0o755)
        result = run([], python=str(script), LLMLOG_ENABLED="1", LLMLOG_REDACT="secrets")
        assert result.stdout.strip() == "True", result.stderr

    def test_bad_setting_reported_and_app_runs(self) -> None:
        """A bad value is one stderr line; the app runs unlogged."""
        result = run(["-c", "print('app ran')"], LLMLOG_ENABLED="1", LLMLOG_CAPTURE="all")
        assert result.returncode == 0
        assert result.stdout.strip() == "app ran"
        assert "LLMLOG_CAPTURE='all'" in result.stderr and "full, metadata" in result.stderr

    @pytest.mark.parametrize("value", ["2", "enabled"])
    def test_a_switch_neither_on_nor_off_is_reported_and_app_runs(self, value: str) -> None:
        """LLMLOG_ENABLED=2 is not silently "off" (instrument() refuses it too): one stderr
        line names the variable and its values; start-up never fails."""
        result = run(["-c", "print('app ran')"], LLMLOG_ENABLED=value)
        assert result.returncode == 0
        assert result.stdout.strip() == "app ran"
        [line] = result.stderr.strip().splitlines()
        assert f"LLMLOG_ENABLED={value!r}" in line and "1, 0, true, false" in line

    def test_strict_bad_setting_stops_cleanly(self) -> None:
        """Under LLMLOG_STRICT=1 the interpreter exits 78 at start-up, without a traceback."""
        result = run(
            ["-c", "print('app ran')"],
            LLMLOG_ENABLED="1",
            LLMLOG_CAPTURE="all",
            LLMLOG_STRICT="1",
        )
        assert result.returncode == 78
        assert result.stdout == ""
        assert "Traceback" not in result.stderr and "Fatal" not in result.stderr

    def test_llmlog_run_reports_a_bad_value_itself(self, tmp_path: Path) -> None:
        """With LLMLOG_ENABLED=1 exported, llmlog-run is not activated by the line: its
        own error and exit status 2, not a start-up "not activated" and 78."""
        script = tmp_path / "llmlog-run"  # what the console script is
        script.write_text(
            f"#!{sys.executable}\nimport sys\nfrom llmlog.launcher import main\nsys.exit(main())\n"
        )
        script.chmod(0o755)
        result = run(
            ["echo", "hi"],
            python=str(script),
            LLMLOG_ENABLED="1",
            LLMLOG_STRICT="1",
            LLMLOG_CAPTURE="all",
        )
        assert result.returncode == 2, result.stderr
        assert "llmlog-run: error" in result.stderr and "not activated" not in result.stderr

    def test_children_subprocess_fork_and_spawn_are_logged(
        self, fake: FakeProvider, tmp_path: Path
    ) -> None:
        """subprocess, multiprocessing fork and spawn children each log their own call."""
        out = tmp_path / "log.jsonl"
        app = tmp_path / "app.py"
        app.write_text(
            textwrap.dedent(
                """
                import multiprocessing, subprocess, sys
                import openai

                def call(where):
                    message = {"role": "user", "content": f"hi from {where}"}
                    openai.OpenAI().chat.completions.create(model="gpt-4o-mini", messages=[message])

                if __name__ == "__main__":
                    call("parent")
                    code = "import app; app.call('subprocess')"
                    subprocess.run([sys.executable, "-c", code], check=True)
                    for method in ("fork", "spawn"):
                        context = multiprocessing.get_context(method)
                        child = context.Process(target=call, args=(method,))
                        child.start()
                        child.join()
                        assert child.exitcode == 0
                """
            )
        )
        result = run(
            [str(app)],
            cwd=tmp_path,
            LLMLOG_ENABLED="1",
            LLMLOG_OUTPUT=str(out),
            LLMLOG_REDACT="secrets",
            **fake.env(),
        )
        assert result.returncode == 0, result.stderr
        found = {r["messages"][0]["content"]: r["process"]["pid"] for r in records(out)}
        assert set(found) == {
            "hi from parent",
            "hi from subprocess",
            "hi from fork",
            "hi from spawn",
        }
        assert len(set(found.values())) == 4

    def test_settings_given_in_code_reach_every_kind_of_child(
        self, fake: FakeProvider, tmp_path: Path
    ) -> None:
        """LLMLOG_ENABLED=1 and instrument(output=relative, capture=, redact=) in the app:
        spawn, forkserver and subprocess children, started in another directory, log to
        the same file with the same settings; nothing goes to the default file."""
        other = tmp_path / "other"
        other.mkdir()
        app = tmp_path / "app.py"
        app.write_text(
            textwrap.dedent(
                f"""
                import multiprocessing, os, subprocess, sys
                import openai, llmlog

                def call(where):
                    message = {{"role": "user", "content": f"hi from {{where}}"}}
                    openai.OpenAI().chat.completions.create(model="gpt-4o-mini", messages=[message])

                if __name__ == "__main__":
                    llmlog.instrument(output="logs/app.jsonl", capture="metadata", redact="secrets")
                    call("parent")
                    os.chdir({str(other)!r})
                    code = "import app; app.call('subprocess')"
                    subprocess.run([sys.executable, "-c", code], check=True,
                                   env={{**os.environ, "PYTHONPATH": {str(tmp_path)!r}}})
                    sys.path.insert(0, {str(tmp_path)!r})
                    for method in ("spawn", "forkserver"):
                        context = multiprocessing.get_context(method)
                        child = context.Process(target=call, args=(method,))
                        child.start()
                        child.join()
                        assert child.exitcode == 0
                """
            )
        )
        result = run(
            [str(app)], cwd=tmp_path, LLMLOG_ENABLED="1", LLMLOG_REDACT="pii", **fake.env()
        )
        assert result.returncode == 0, result.stderr
        written = records(tmp_path / "logs" / "app.jsonl")
        assert len(written) == 4 and len({r["process"]["pid"] for r in written}) == 4
        assert all(r["messages"] == [{"role": "user"}] for r in written)  # capture=metadata
        assert list(tmp_path.rglob("llmlog.jsonl")) == []


def throwaway_venv(where: Path) -> Path:
    """A venv without pip whose dependencies come from this interpreter's site-packages.

    A path line in a ``.pth`` adds the directory without running *its* ``.pth``
    files, so the only llmlog start-up line in effect is the one installed here.
    """
    venv.EnvBuilder(with_pip=False).create(where)
    python = where / "bin" / "python"
    purelib = run(["-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], str(python))
    deps = Path(purelib.stdout.strip()) / "_deps_from_test_runner.pth"
    deps.write_text(sysconfig.get_path("purelib") + "\n")
    return python


def pip_install(python: Path, *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0 and "hatchling" in result.stderr:
        pytest.skip(f"pip cannot build llmlog here (no hatchling): {result.stderr[-300:]}")
    assert result.returncode == 0, result.stderr


class TestRealInstall:
    """Slow (throwaway venvs, a real build): the .pth ships with both kinds of install."""

    @pytest.mark.parametrize("mode", ["wheel", "editable"])
    def test_install_ships_a_working_line(
        self, fake: FakeProvider, tmp_path: Path, mode: str
    ) -> None:
        """After `pip install .` / `pip install -e .`: off imports nothing, on logs calls."""
        python = throwaway_venv(tmp_path / "venv")
        pip_install(python, *(["-e", str(ROOT)] if mode == "editable" else [str(ROOT)]))
        off = run(["-c", LOADED], str(python), cwd=tmp_path)
        assert off.stdout.strip() == "[]", off.stderr
        out = tmp_path / "log.jsonl"
        on = run(
            ["-c", CALL % mode],
            str(python),
            cwd=tmp_path,
            LLMLOG_ENABLED="1",
            LLMLOG_OUTPUT=str(out),
            LLMLOG_REDACT="secrets",
            **fake.env(),
        )
        assert on.returncode == 0, on.stderr
        assert [r["messages"][0]["content"] for r in records(out)] == [f"hi from {mode}"]
        code = "import llmlog, llmlog.launcher as l; print(llmlog.__file__, l.BOOTSTRAP_DIR)"
        package, bootstrap = run(["-c", code], str(python)).stdout.split()
        assert Path(package).is_relative_to(ROOT) == (mode == "editable")
        assert (Path(bootstrap) / "sitecustomize.py").is_file()


class TestSdkInALaterSiteFolder:
    """The SDK in a folder ``site`` adds after ``llmlog.pth`` ran (a venv with
    ``--system-site-packages``, the user site, Debian's ``dist-packages``): built here as
    path lines sorting before and after the line."""

    @pytest.fixture
    def python(self, tmp_path: Path) -> Path:
        venv.EnvBuilder(with_pip=False).create(tmp_path / "venv")
        python = tmp_path / "venv" / "bin" / "python"
        purelib = run(["-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], str(python))
        site_dir = Path(purelib.stdout.strip())
        deps, late = tmp_path / "deps", tmp_path / "late"
        deps.mkdir()
        late.mkdir()
        here = Path(sysconfig.get_path("purelib"))
        for entry in here.iterdir():
            sdk = entry.name.split("-")[0] in ("openai", "anthropic")
            (late if sdk else deps).joinpath(entry.name).symlink_to(entry)
        import llmlog

        tested = Path(llmlog.__file__).resolve().parents[1]  # the llmlog under test
        (site_dir / "a-early.pth").write_text(f"{tested}\n{deps}\n")
        (site_dir / "llmlog.pth").write_text(PTH.read_text())
        (site_dir / "zz-late.pth").write_text(f"{late}\n")
        return python

    def test_the_environment_switch_logs_even_under_strict(
        self, python: Path, fake: FakeProvider, tmp_path: Path
    ) -> None:
        """Logged, nothing said (it was: "no supported SDK is installed", unlogged)."""
        out = tmp_path / "log.jsonl"
        env = {"LLMLOG_ENABLED": "1", "LLMLOG_STRICT": "1", "LLMLOG_REDACT": "secrets"}
        result = run(
            ["-c", CALL % "late"], str(python), LLMLOG_OUTPUT=str(out), **env, **fake.env()
        )
        assert result.returncode == 0 and result.stderr == "", result.stderr
        assert [r["messages"][0]["content"] for r in records(out)] == ["hi from late"]

    def test_the_launcher_logs(self, python: Path, fake: FakeProvider, tmp_path: Path) -> None:
        """Under llmlog-run the line waits, and the bootstrap sitecustomize finds the SDK."""
        out = tmp_path / "log.jsonl"
        args = ["-m", "llmlog.launcher", "--output", str(out), "--redact", "secrets"]
        result = run([*args, str(python), "-c", CALL % "run"], str(python), **fake.env())
        assert result.returncode == 0 and result.stderr == "", result.stderr
        assert [r["messages"][0]["content"] for r in records(out)] == ["hi from run"]
