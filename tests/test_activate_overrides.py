"""Settings given to ``activate()`` (a sitecustomize's) win over ``LLMLOG_*``, as documented,
but never silently: an ``llmlog-run --output`` they override is said, once per process tree,
and a strict stop names where the failing output came from."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llmlog.fake_provider import FakeProvider, start_server
from test_activate import run

CHILD = (
    "import subprocess, sys\nsubprocess.run([sys.executable, '-c', 'import llmlog'], check=True)\n"
)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with start_server() as server:
        yield server


def activating(**settings: object) -> str:
    return f"from llmlog._activate import activate\nactivate(**{settings!r})\n"


def test_a_keyword_overriding_a_different_variable_is_said_once(
    fake: FakeProvider, tmp_path: Path
) -> None:
    mine, theirs = tmp_path / "mine.jsonl", tmp_path / "theirs.jsonl"
    code = activating(output=str(theirs)) + CHILD
    result = run(code, {"LLMLOG_OUTPUT": str(mine)}, fake)
    assert result.returncode == 0, result.stderr
    said = f"keyword output={str(theirs)!r} overrides LLMLOG_OUTPUT={mine}"
    assert result.stderr.count(said) == 1, result.stderr


@pytest.mark.parametrize(
    ("env", "keyword"),
    [({"LLMLOG_REDACT": "pii"}, {"redact": "pii"}), ({}, {"redact": "secrets"})],
    ids=["same value", "no variable"],
)
def test_nothing_is_said_when_nothing_is_overridden(
    fake: FakeProvider, tmp_path: Path, env: dict[str, str], keyword: dict[str, str]
) -> None:
    code = activating(output=str(tmp_path / "x.jsonl"), **keyword)
    result = run(code, {"LLMLOG_OUTPUT": str(tmp_path / "x.jsonl"), **env}, fake)
    assert result.returncode == 0, result.stderr
    assert "overrides" not in result.stderr


def test_a_strict_stop_names_the_keyword_not_the_unset_variable(
    fake: FakeProvider, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    result = run(activating(strict=True, output=str(blocker / "x.jsonl")), {}, fake)
    assert result.returncode == 78
    assert f"keyword output={blocker / 'x.jsonl'} cannot be written" in result.stderr
    assert "LLMLOG_OUTPUT=" not in result.stderr
