"""A log where another user could read or swap it is not written to, and another user's
files beside it are neither pruned nor counted: the attacks of a shared or foreign folder
(a FIFO planted at the log path, a 0666 file moved over it, rotated names dated 2099)."""

from __future__ import annotations

import os
import select
import stat
import time
from pathlib import Path

import pytest

from llmlog import _activate, _guard, _log_files
from llmlog._file_sink import CHECK_SECONDS, FileSink
from llmlog._log_files import prune_rotated, rotated_files, rotated_name, write_problem

OTHER = 2000
"""A uid that is not ours (needs root to give files to)."""

as_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="giving a file to another user (os.chown) needs root"
)


def line(i: int) -> bytes:
    return f'{{"event":"llm.call","schema":1,"i": {i}, "prompt": "confidential"}}\n'.encode()


def folder(tmp_path: Path, mode: int, uid: int = -1, gid: int = -1) -> Path:
    made = tmp_path / "logs"
    made.mkdir()
    os.chown(made, uid, gid)
    made.chmod(mode)  # after chown, which clears the sticky bit of a non-root's folder
    return made


def fifo_gets(fifo: Path, owner: int = -1) -> bytes:
    """What a reader of a FIFO made at ``fifo`` (0666, given to ``owner``) gets of a record."""
    os.mkfifo(fifo, 0o666)
    os.chown(fifo, owner, owner)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        FileSink(fifo).write(line(0))
        return os.read(reader, 65536)
    except BlockingIOError:  # nobody ever wrote (and a writer still has it open)
        return b""
    finally:
        os.close(reader)


def refused(capsys: pytest.CaptureFixture[str], why: str) -> bool:
    err = capsys.readouterr().err
    return err.count("refusing to write") == 1 and why in err


class TestFolders:
    def test_a_folder_every_user_may_write_to_is_not_written(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """0777 without the sticky bit: anyone could move the log aside and put a file of
        theirs (or a FIFO) in its place. Said once, records counted lost, the app unharmed."""
        _guard._reset_for_tests()
        path = folder(tmp_path, 0o777) / "app.jsonl"
        sink = FileSink(path)
        sink.write(line(0))
        sink.write(line(1))
        sink.close()
        assert not path.exists()
        assert _guard.counts["sink_lost"] == 2
        assert refused(capsys, "is writable by every user (mode 0o777, without the sticky bit)")

    def test_a_sticky_folder_is_written(self, tmp_path: Path) -> None:
        """/tmp-like (1777): others may add names, not replace ours; the file is checked."""
        path = folder(tmp_path, 0o1777) / "app.jsonl"
        sink = FileSink(path)
        sink.write(line(0))
        sink.close()
        assert path.read_bytes() == line(0)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def test_a_folder_of_ones_own_private_group_is_written(self, tmp_path: Path) -> None:
        """Group-writable is fine when the group is ours alone (umask 002 on Debian)."""
        if not _log_files._private_group(os.getegid(), os.geteuid()):
            pytest.skip("our primary group has other members here")
        path = folder(tmp_path, 0o770, gid=os.getegid()) / "app.jsonl"
        FileSink(path).write(line(0))
        assert path.read_bytes() == line(0)

    @as_root
    def test_a_folder_writable_by_a_shared_group_is_not_written(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        _guard._reset_for_tests()
        path = folder(tmp_path, 0o770, gid=65534) / "app.jsonl"  # nogroup: others' group
        FileSink(path).write(line(0))
        assert not path.exists()
        group = _log_files._group_name(65534)
        assert refused(capsys, f"is writable by group {group}, which has other members")

    @as_root
    def test_another_users_folder_and_fifo_get_no_record(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The reviewer's case: the attacker made the folder and a FIFO at the log path,
        and reads it. Not even opened: its reader sees nothing."""
        _guard._reset_for_tests()
        theirs = folder(tmp_path, 0o755, uid=OTHER, gid=OTHER)
        assert fifo_gets(theirs / "app.jsonl", OTHER) == b""
        assert _guard.counts["sink_lost"] == 1
        assert refused(capsys, f"{theirs / 'app.jsonl'} is owned by another user (uid {OTHER})")

    @as_root
    def test_root_writes_its_own_file_in_another_users_folder(self, tmp_path: Path) -> None:
        """``sudo`` after a run as the user, a root container on a bind mount: the folder
        is the user's, the file root makes there is root's 0600 (and the file's own checks
        refuse whatever the user might put in its place, as above)."""
        theirs = folder(tmp_path, 0o755, uid=OTHER, gid=OTHER)
        assert _activate._output_problem(str(theirs / "app.jsonl")) is None
        FileSink(theirs / "app.jsonl").write(line(0))
        written = (theirs / "app.jsonl").stat()
        assert (written.st_uid, written.st_mode & 0o777) == (0, 0o600)


class TestFiles:
    def test_strict_start_up_refuses_a_folder_every_user_may_write_to(self, tmp_path: Path) -> None:
        shared = folder(tmp_path, 0o777)
        problem = write_problem(shared / "app.jsonl")
        assert problem is not None and "writable by every user" in problem
        (tmp_path / "x").mkdir()
        assert write_problem(folder(tmp_path / "x", 0o700) / "app.jsonl") is None
        assert write_problem(tmp_path / "new" / "deeper" / "app.jsonl") is None

    def test_strict_start_up_leaves_a_fifos_reader_alone(self, tmp_path: Path) -> None:
        """The start-up check opened an existing log to see it could append: a FIFO's
        reader (``cat log.jsonl > out``) saw its writer come and go, ended, and every
        record was lost."""
        fifo = tmp_path / "llm.jsonl"
        os.mkfifo(fifo, 0o600)
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        try:
            assert write_problem(fifo) is None
            assert os.read(reader, 10) == b"" and not select.select([reader], [], [], 0)[0]
        finally:
            os.close(reader)

    def test_ones_own_fifo_is_written(self, tmp_path: Path) -> None:
        """A FIFO of one's own (mkfifo by the same user) is an output like any other."""
        assert fifo_gets(tmp_path / "app.fifo") == line(0)

    @as_root
    def test_another_users_fifo_in_a_sticky_folder_gets_no_record(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        _guard._reset_for_tests()
        fifo = folder(tmp_path, 0o1777) / "app.jsonl"
        assert fifo_gets(fifo, OTHER) == b""
        assert refused(capsys, f"{fifo} is owned by another user (uid {OTHER})")

    @as_root
    def test_another_users_file_put_in_place_of_ours_gets_no_record(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Ours gone (rotated, deleted), a 0666 file of theirs now has the name: the reopen
        refuses it instead of handing them every later record."""
        _guard._reset_for_tests()
        path = folder(tmp_path, 0o1777) / "app.jsonl"
        sink = FileSink(path)
        sink.write(line(0))
        path.unlink()
        path.touch()
        os.chown(path, OTHER, OTHER)
        path.chmod(0o666)
        time.sleep(CHECK_SECONDS * 1.5)
        sink.write(line(1))
        sink.close()
        assert path.read_bytes() == b""
        assert refused(capsys, f"{path} is owned by another user (uid {OTHER})")


def rotate_a_few(path: Path, count: int) -> list[Path]:
    """``count`` rotated files of ours (a second apart in their names, an hour old)."""
    made = []
    for i in range(count):
        then = time.time() - 3600 + i
        p = rotated_name(path, now_ns=int(then * 1e9), pid=100 + i)
        p.write_bytes(line(i))
        made.append(p)
    return made


class TestPruning:
    def test_rotated_names_dated_in_the_future_are_neither_counted_nor_pruned(
        self, tmp_path: Path
    ) -> None:
        """A name dated 2099 sorts last: counted, it would push our own files out."""
        path = tmp_path / "app.jsonl"
        ours = rotate_a_few(path, 2)
        planted = [path.with_name(f"app-20991231T00000{i}.000000Z-1.jsonl") for i in (1, 2)]
        for p in planted:
            p.write_bytes(b'{"event": "llm.call", "id": "FORGED"}\n')
        prune_rotated(path, backup_count=2, retention_days=0)
        assert all(p.exists() for p in [*ours, *planted])

    def test_symlinks_under_rotated_names_are_neither_counted_nor_followed(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "app.jsonl"
        ours = rotate_a_few(path, 2)
        target = tmp_path / "precious.txt"
        target.write_text("precious")
        link = rotated_name(path, now_ns=int(time.time() * 1e9), pid=999)
        link.symlink_to(target)
        prune_rotated(path, backup_count=2, retention_days=0)
        assert all(p.exists() for p in ours)
        assert target.read_text() == "precious"

    def test_own_rotated_files_are_still_pruned(self, tmp_path: Path) -> None:
        path = tmp_path / "app.jsonl"
        ours = rotate_a_few(path, 4)
        prune_rotated(path, backup_count=2, retention_days=0)
        assert rotated_files(path) == ours[2:]

    @as_root
    def test_another_users_rotated_names_in_a_shared_folder_prune_none_of_ours(
        self, tmp_path: Path
    ) -> None:
        """The reviewer's case: names planted by another user (dated now, so the clock
        check alone would not catch them) are not ours to count or delete: counted, our
        two oldest would go."""
        path = folder(tmp_path, 0o1777) / "app.jsonl"
        ours = rotate_a_few(path, 2)
        planted = []
        for i in range(3):
            p = rotated_name(path, now_ns=time.time_ns(), pid=5000 + i)
            p.write_bytes(b'{"event": "llm.call", "id": "FORGED"}\n')
            os.chown(p, OTHER, OTHER)
            planted.append(p)
        sink = FileSink(path, max_bytes=100, backup_count=5)  # room for ours and 2 more
        for i in range(3):
            sink.write(line(i) * 3)
        sink.close()
        assert all(p.exists() for p in [*ours, *planted])
