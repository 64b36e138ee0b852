"""Settings given to ``activate()`` (a sitecustomize's) win over ``LLMLOG_*``, as documented,
but never silently: an ``llmlog-run --output`` they override is said, once per process tree,
and a strict stop names where the failing output came from."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llmlog.fake_provider import FakeProvider, start_server
from llmlog.launcher import child_environment
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


def test_a_secret_setting_is_named_never_shown(fake: FakeProvider, tmp_path: Path) -> None:
    ours, theirs = "sitecustomize-key-0123456789abcdef", "environment-key-0123456789abcdef"
    code = activating(output=str(tmp_path / "x.jsonl"), redact_operator="hash", redact_key=ours)
    result = run(code, {"LLMLOG_REDACT_KEY": theirs}, fake)
    assert result.returncode == 0, result.stderr
    assert "keyword redact_key overrides a different LLMLOG_REDACT_KEY" in result.stderr
    assert ours not in result.stderr and theirs not in result.stderr


def test_the_default_llmlog_exported_itself_is_not_overridden(
    fake: FakeProvider, tmp_path: Path
) -> None:
    """The ``.pth`` line's activation exported the default output; a sitecustomize's
    keyword then chose the file: no choice of the user's was overridden."""
    code = f"os.chdir({str(tmp_path)!r})\n"
    code += "from llmlog._activate import activate_from_env\nactivate_from_env()\n"
    code += activating(output=str(tmp_path / "mine.jsonl"))
    result = run(code, {"LLMLOG_ENABLED": "1"}, fake)
    assert result.returncode == 0, result.stderr
    assert "overrides" not in result.stderr


@pytest.mark.parametrize(
    ("options", "defaulted"), [({}, True), ({"output": "chosen.jsonl"}, False)]
)
def test_the_launcher_marks_only_the_default_output(
    options: dict[str, str], defaulted: bool
) -> None:
    from llmlog._activate import OUTPUT_DEFAULTED

    env = child_environment({}, options)
    assert (env.get(OUTPUT_DEFAULTED) == env["LLMLOG_OUTPUT"]) is defaulted
