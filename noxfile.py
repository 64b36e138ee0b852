"""Test matrix: provider SDKs (none, each, both) x (oldest supported, latest), lint, typing.

``nox -l`` lists the sessions. The CI job runs the README's single test
command; these sessions are for checking SDK versions before a release.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True

PYTHONS = ["3.11"]  # requires-python = ">=3.11"; add versions as the machines grow them
OLDEST = {"openai": "openai==3.4.0", "anthropic": "anthropic==2.0.0"}
LATEST = {"openai": "openai", "anthropic": "anthropic"}
TEST_TOOLS = ["pytest", "pytest-asyncio", "pytest-timeout", "jsonschema", "duckdb"]


@nox.session(python=PYTHONS)
@nox.parametrize("sdks", ["none", "openai", "anthropic", "openai,anthropic"])
@nox.parametrize("versions", ["oldest", "latest"])
def tests(session: nox.Session, sdks: str, versions: str) -> None:
    """The suite with a given set of provider SDKs; tests of an absent SDK skip."""
    if sdks == "none" and versions == "oldest":
        session.skip("no SDK: nothing to pin")
    pins = OLDEST if versions == "oldest" else LATEST
    session.install("-e", ".", *TEST_TOOLS)
    if sdks != "none":
        session.install(*(pins[name] for name in sdks.split(",")))
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
