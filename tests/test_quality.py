"""The code base stays clean: ruff and mypy --strict pass, docs are generated, not typed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)


# ruff next to this interpreter first: a venv's python, run without activating the venv
RUFF = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")


@pytest.mark.skipif(RUFF is None, reason="ruff not installed")
class TestLint:
    def test_ruff_check_passes(self) -> None:
        """No lint errors anywhere in the project."""
        assert RUFF is not None
        proc = run(RUFF, "check", "src", "tests", "benchmarks", "noxfile.py")
        assert proc.returncode == 0, proc.stdout + proc.stderr

    def test_ruff_format_is_applied(self) -> None:
        """The code is formatted as `ruff format` would."""
        assert RUFF is not None
        proc = run(RUFF, "format", "--check", "src", "tests", "benchmarks", "noxfile.py")
        assert proc.returncode == 0, proc.stdout + proc.stderr


class TestTyping:
    def test_mypy_strict_passes_on_the_package(self) -> None:
        """`mypy --strict` on src/llmlog reports nothing."""
        pytest.importorskip("mypy")
        proc = run(sys.executable, "-m", "mypy", "--strict", "src/llmlog")
        assert proc.returncode == 0, proc.stdout + proc.stderr


class TestCI:
    def test_ci_runs_the_readme_test_command(self) -> None:
        """.ci/run extracts exactly one command line from the README's marked block."""
        readme = (ROOT / "README.md").read_text()
        marker = readme.index("<!-- test-command -->")
        block = readme[marker:].split("```")[1]
        lines = [line for line in block.splitlines()[1:] if line.strip()]
        assert len(lines) == 1
        script = (ROOT / ".ci" / "run").read_text()
        assert "<!-- test-command -->" in script
