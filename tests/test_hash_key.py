"""The prompt_hash key kept beside the log: used only if it is this user's own and private,
so that a key another user planted (whose value they know) never keys the hashes."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from llmlog import _guard
from llmlog._hash_key import KEY_FILE, prompt_hash_key

as_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="giving a file to another user (os.chown) needs root"
)


def planted(folder: Path, mode: int, uid: int = -1) -> Path:
    key = folder / KEY_FILE
    key.write_text("known-to-the-attacker")
    os.chown(key, uid, uid)
    key.chmod(mode)
    return key


def not_used(key: Path, capsys: pytest.CaptureFixture[str], why: str) -> None:
    """Two processes' worth of keys: neither the planted one, each its own; the planted
    file left as it was; said once."""
    log = key.parent / "app.jsonl"
    first, second = prompt_hash_key("", log), prompt_hash_key("", log)
    assert "known-to-the-attacker" not in (first, second)
    assert first != second and len(first) == 64
    assert key.read_text() == "known-to-the-attacker"
    err = capsys.readouterr().err
    assert err.count("not using the prompt_hash key") == 1 and why in err


def test_a_fresh_folder_gets_a_private_key_used_again(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "app.jsonl"
    key = prompt_hash_key("", log)
    assert prompt_hash_key("", log) == key == (log.parent / KEY_FILE).read_text()
    assert (log.parent / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert prompt_hash_key("from-env", log) == "from-env"


def test_a_key_others_may_read_is_not_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ours, but 0644: anyone on the machine may have read it."""
    _guard._reset_for_tests()
    not_used(planted(tmp_path, 0o644), capsys, "has mode 0o644: other users may read it")


def test_a_fifo_at_the_key_path_neither_hangs_nor_is_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _guard._reset_for_tests()
    os.mkfifo(tmp_path / KEY_FILE, 0o600)
    got: list[str] = []
    reading = threading.Thread(
        target=lambda: got.append(prompt_hash_key("", tmp_path / "app.jsonl")), daemon=True
    )
    reading.start()
    reading.join(5)
    assert got and len(got[0]) == 64
    assert "is not a regular file" in capsys.readouterr().err


def test_no_key_is_kept_in_a_folder_every_user_may_write_to(tmp_path: Path) -> None:
    """Anyone could swap it there; the log is not written there either (the sink says so)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    log = shared / "app.jsonl"
    assert prompt_hash_key("", log) != prompt_hash_key("", log)
    assert not (shared / KEY_FILE).exists()


@as_root
def test_another_users_key_in_a_sticky_folder_is_not_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reviewer's case: 0444, owned by the attacker, in a /tmp-like folder."""
    _guard._reset_for_tests()
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    not_used(planted(shared, 0o444, uid=2000), capsys, "is owned by another user (uid 2000)")
