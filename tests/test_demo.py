"""``llmlog demo``: the README's first command works offline and shows what llmlog does.

The demo runs with the network blocked: a ``sitecustomize`` on ``PYTHONPATH``
refuses every non-loopback connection and name lookup (and notes the
attempt), in the demo process and -- through the bootstrap's chaining -- in
the app ``llmlog-run`` starts.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest

from llmlog import _demo_app
from llmlog.demo import describe, totals

ROOT = Path(__file__).resolve().parents[1]
FAST_DEMO = ("-m", "llmlog.demo", "--ttft-ms", "5", "--token-delay-ms", "1")

NO_NETWORK = """
import os, socket

_LOCAL = ("127.0.0.1", "::1", "localhost")
_connect, _getaddrinfo = socket.socket.connect, socket.getaddrinfo


def _refuse(what):
    with open(os.environ["NETWORK_ATTEMPTS"], "a") as attempts:
        attempts.write(f"{os.getpid()} {what}\\n")
    raise OSError(f"network blocked by the test: {what}")


def connect(self, address):
    if self.family != socket.AF_UNIX and address[0] not in _LOCAL:
        _refuse(address)
    return _connect(self, address)


def getaddrinfo(host, *args, **kwargs):
    if host not in _LOCAL and host is not None:
        _refuse(host)
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect, socket.getaddrinfo = connect, getaddrinfo
"""


def offline_env(tmp_path: Path) -> dict[str, str]:
    blocker = tmp_path / "offline"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(NO_NETWORK)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMLOG_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(blocker), env.get("PYTHONPATH")] if p)
    env["NETWORK_ATTEMPTS"] = str(tmp_path / "network_attempts.txt")
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        env.pop(name, None)
    return env


def run_in(cwd: Path, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    """``python *argv`` in ``cwd`` with ``env`` (see :func:`offline_env`)."""
    return subprocess.run(
        [sys.executable, *argv], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


class TestDemoRun:
    def test_runs_offline_and_logs_every_kind_of_call(self, tmp_path: Path) -> None:
        """Both SDKs, a stream, a tool call, two handled errors; secrets never reach the log."""
        out = tmp_path / "llm_logs" / "demo" / "llmlog.jsonl"  # as the default, two new dirs
        env = offline_env(tmp_path)
        result = subprocess.run(
            [sys.executable, "-m", "llmlog.demo", "--output", str(out), "--ttft-ms", "5"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            umask=0o022,
        )
        assert result.returncode == 0, result.stderr
        assert not (tmp_path / "network_attempts.txt").exists()
        records = read(out)
        assert f"{len(records)} calls logged to {out}" in result.stdout
        assert {r["provider"] for r in records} == {"openai", "anthropic"}
        assert any(r["stream"] and r["ttft_ms"] for r in records)
        assert any(r["output"]["tool_calls"] for r in records)
        errors = sorted(r["error"]["status_code"] for r in records if r["status"] == "error")
        assert errors == [429, 500]
        found = {kind for r in records for kind in (r["redactions"] or {})}
        assert {"EMAIL_ADDRESS", "API_KEY"} <= found
        text = out.read_text()
        assert "jane.doe@example.com" not in text and _demo_app.LEAKED_KEY not in text
        assert "llmlog stats --by model --log llm_logs/demo" in result.stdout  # cwd-relative
        for directory in (out.parent.parent, out.parent):  # private like the log itself
            assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory

    def test_unwritable_default_and_a_proxy_still_give_a_logged_demo(self, tmp_path: Path) -> None:
        """Run where ./llm_logs cannot be made (a file is in the way, as a read-only folder
        would be) and with HTTP(S)_PROXY set: it logs to a temporary folder, says so, and
        its loopback calls bypass the proxy."""
        (tmp_path / "llm_logs").write_text("not a folder")
        env = offline_env(tmp_path)
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            env[name] = "http://127.0.0.1:9"  # nothing listens there
        env.pop("NO_PROXY", None)
        env.pop("no_proxy", None)
        result = run_in(tmp_path, env, *FAST_DEMO)
        assert result.returncode == 0, result.stderr
        assert f"cannot write {tmp_path / 'llm_logs/demo/llmlog.jsonl'}" in result.stdout
        fallback = Path(result.stdout.split("logging to ", 1)[1].split()[0])
        try:
            assert read(fallback) and f"calls logged to {fallback}" in result.stdout
        finally:
            shutil.rmtree(fallback.parent, ignore_errors=True)

    def test_an_unwritable_output_fails_and_names_it(self, tmp_path: Path) -> None:
        """--output where nothing can be written: exit status 1 and the path, not "0 calls"."""
        (tmp_path / "blocker").write_text("a file, not a folder")
        out = tmp_path / "blocker" / "llmlog.jsonl"
        result = run_in(tmp_path, offline_env(tmp_path), "-m", "llmlog.demo", "--output", str(out))
        assert result.returncode == 1
        assert f"cannot write the log {out}" in result.stderr
        assert "calls logged" not in result.stdout

    def test_the_commands_it_suggests_read_the_demo_log(self, tmp_path: Path) -> None:
        """The demo logs apart from the app's log, which `llmlog` reads by default: the
        commands it prints name the demo's log, and each works when pasted as printed."""
        env = offline_env(tmp_path)
        result = run_in(tmp_path, env, *FAST_DEMO)
        assert result.returncode == 0, result.stderr
        commands = [line.split() for line in result.stdout.splitlines() if line[:9] == "  llmlog "]
        assert [c[1] for c in commands] == ["stats", "tail", "show"]
        first_id = read(tmp_path / "llm_logs" / "demo" / "llmlog.jsonl")[0]["id"]
        outputs = []
        for command in commands:
            assert command[-2:] == ["--log", "llm_logs/demo"]
            ran = run_in(tmp_path, env, "-m", "llmlog.cli", *command[1:])
            assert ran.returncode == 0, ran.stderr
            outputs.append(ran.stdout)
        assert "fake-error" in outputs[0] and "claude-haiku-4-5" in outputs[0]
        assert len(outputs[1].splitlines()) == 2 and first_id in outputs[2]

    @pytest.mark.parametrize("flag", ["--ttft-ms", "--token-delay-ms"])
    def test_a_negative_delay_is_a_usage_error(self, tmp_path: Path, flag: str) -> None:
        """--ttft-ms -5: exit 2 naming the flag and its range, before anything runs."""
        result = run_in(tmp_path, offline_env(tmp_path), "-m", "llmlog.cli", "demo", flag, "-5")
        assert result.returncode == 2
        assert f"argument {flag}: '-5' is not a delay" in result.stderr
        assert "Traceback" not in result.stderr and not (tmp_path / "llm_logs").exists()

    @pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs the git checkout")
    def test_fresh_clone_with_the_readme_command(self, tmp_path: Path) -> None:
        """Slow (~20 s): clone, `pip install -e .`, `llmlog demo`, network blocked for the demo.

        Dependencies come from this interpreter (a path line in the venv), so
        only llmlog itself is installed from the clone, as the README does.
        """
        clone = tmp_path / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=60)
        env_dir = clone / ".venv"
        venv.EnvBuilder(with_pip=False).create(env_dir)
        python = env_dir / "bin" / "python"
        purelib = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        runner = subprocess.run(
            [sys.executable, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        (Path(purelib) / "_deps_from_test_runner.pth").write_text(runner + "\n")
        pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
        install = subprocess.run(
            [*pip, "--no-deps", "-e", str(clone)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if install.returncode != 0 and "hatchling" in install.stderr:
            pytest.skip("pip cannot build llmlog here (no hatchling in cache or index)")
        assert install.returncode == 0, install.stderr
        env = offline_env(tmp_path)
        env.pop("PYTHONPATH")  # only the clone's install, no checkout on the path
        env["PYTHONPATH"] = str(tmp_path / "offline")
        env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env['PATH']}"
        demo = subprocess.run(
            ["llmlog", "demo", "--ttft-ms", "5"],
            env=env,
            cwd=clone,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert demo.returncode == 0, demo.stderr
        assert not (tmp_path / "network_attempts.txt").exists()
        log = clone / "llm_logs" / "demo" / "llmlog.jsonl"
        assert str(log) in demo.stdout
        assert all(r["process"]["llmlog"] for r in read(log))
        assert shutil.which("llmlog-run", path=str(env_dir / "bin"))


RECORD: dict[str, Any] = {
    "provider": "openai",
    "method": "chat.completions.create",
    "model": "gpt-4o-mini",
    "stream": True,
    "status": "ok",
    "usage": {"input_tokens": 12, "output_tokens": 30},
    "latency_ms": 412.3,
    "ttft_ms": 98.7,
    "cost_usd": 0.000021,
    "messages": [{"role": "user", "content": "Hi, I'm <EMAIL_ADDRESS>\nthanks"}],
    "output": {"tool_calls": [{"name": "get_weather", "arguments": '{"city": "Paris"}'}]},
    "redactions": {"EMAIL_ADDRESS": 1},
    "error": None,
}


class TestSummary:
    def test_a_call_in_a_few_lines(self) -> None:
        """What was called, outcome and numbers, the logged prompt, tool calls, redactions."""
        assert describe(3, RECORD) == [
            " 3. openai chat.completions.create (stream)  model=gpt-4o-mini",
            "    ok  12 in / 30 out  412 ms, first token 99 ms  $0.000021",
            "    prompt: Hi, I'm <EMAIL_ADDRESS> thanks",
            '    tool call: get_weather({"city": "Paris"})',
            "    redacted: EMAIL_ADDRESS x1",
        ]

    def test_an_error_names_its_type_and_status(self) -> None:
        """Failed calls show the error instead of usage."""
        failed = {
            **RECORD,
            "stream": False,
            "status": "error",
            "ttft_ms": None,
            "usage": None,
            "output": None,
            "redactions": None,
            "error": {"type": "RateLimitError", "status_code": 429},
        }
        assert describe(1, failed)[1] == "    error: RateLimitError 429  412 ms"

    def test_totals(self) -> None:
        """Calls, errors, tokens and cost add up over the run."""
        failed = {**RECORD, "status": "error", "usage": None, "cost_usd": None}
        assert totals([RECORD, failed]).strip() == (
            "total: 2 calls, 1 errors, 42 tokens, $0.000021 at list prices"
        )
