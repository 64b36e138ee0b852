"""Test matrix: both provider SDKs at (oldest supported, latest), lint, typing.

``nox -l`` lists the sessions. The CI job runs the README's single test
command; these sessions are for checking SDK versions before a release. The suite
needs both SDKs installed (many tests drive one SDK beside the other); llmlog itself
runs with either alone.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True

PYTHONS = ["3.11", "3.12", "3.13"]  # requires-python = ">=3.11"; CI runs the first
OLDEST = {"openai": "openai==3.4.0", "anthropic": "anthropic==2.0.0"}
LATEST = {"openai": "openai", "anthropic": "anthropic"}
# The test extra but its SDK pins (pyproject.toml), so that the pins above hold.
TEST_TOOLS = [
    "duckdb>=2.0",
    "pyarrow>=15",
    "pytest>=8",
    "pytest-asyncio>=0.24",
    "pytest-timeout>=2.3",
    "websockets>=13,<16",
    "jsonschema>=4.20",
    "trio>=0.25",
    "ruff>=0.6",
    "mypy>=1.10",
]


@nox.session(python=PYTHONS)
@nox.parametrize("versions", ["oldest", "latest"])
def tests(session: nox.Session, versions: str) -> None:
    """The suite with both provider SDKs at their oldest supported or latest versions."""
    pins = OLDEST if versions == "oldest" else LATEST
    session.install("-e", ".", *TEST_TOOLS)
    session.install(*pins.values())
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHONS[0])
def lint(session: nox.Session) -> None:
    """ruff, as CI runs it."""
    session.install("ruff")
    session.run("ruff", "check", "src", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "noxfile.py")


@nox.session(python=PYTHONS[0])
def typing(session: nox.Session) -> None:
    """mypy --strict on the package and on this file."""
    session.install("-e", ".[all]", "mypy", "nox")
    session.run("mypy", "--strict", "src/llmlog", "noxfile.py")
