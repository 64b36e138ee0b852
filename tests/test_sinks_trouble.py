"""File sink under trouble: a full disk, neighbours in the log folder, a symlinked path,
batches bigger than a whole file, a file or folder deleted while the app runs."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from llmlog import _file_sink, _guard, _log_files
from llmlog._file_sink import CHECK_SECONDS, FileSink
from llmlog._log_files import rotated_files, rotated_name


def line(i: int, size: int = 100) -> bytes:
    """A line that starts as llmlog's do: a file that does not is refused."""
    return f'{{"event":"llm.call","schema":1,"i": {i}, "pad": "{"x" * size}"}}\n'.encode()


def parsed(path: Path) -> tuple[list[int], list[bytes]]:
    """(the ``i`` of every record, the lines that are not records) of one file."""
    good: list[int] = []
    bad: list[bytes] = []
    for raw in path.read_bytes().splitlines():
        if not raw.strip():
            continue
        try:
            good.append(json.loads(raw)["i"])
        except ValueError:
            bad.append(raw)
    return good, bad


class FullDisk:
    """``os.write`` on a disk with ``room`` bytes left: a short count, then ENOSPC.

    ``room = None``: space is back. Descriptors 0-2 (pytest's) are left alone.
    """

    def __init__(self, room: int | None) -> None:
        self.room = room
        self.real = os.write

    def __call__(self, fd: int, data: bytes | memoryview) -> int:
        if self.room is None or fd <= 2:
            return self.real(fd, data)
        if self.room == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = self.real(fd, bytes(memoryview(data)[: self.room]))
        self.room -= written
        return written


class TestFullDisk:
    def test_a_short_write_loses_only_the_cut_lines_counted_and_glues_nothing(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The disk fills mid-batch: whole lines stay, the cut ones are counted lost and
        reported once, and once space is back new records start on a line of their own."""
        _guard._reset_for_tests()
        monkeypatch.setattr(_file_sink, "RETRY_SECONDS", 0.0)
        path = tmp_path / "llmlog.jsonl"
        sink = FileSink(path)
        sink.write(line(0))
        disk = FullDisk(room=len(line(1)) + len(line(2)) + 20)
        monkeypatch.setattr(os, "write", disk)
        sink.write_many([line(i) for i in range(1, 6)])  # 1, 2 whole; 3 cut; 4, 5 not written
        sink.write(line(6))  # disk still full
        assert _guard.counts["sink_lost"] == 4
        assert capsys.readouterr().err.count("cannot write to") == 1
        disk.room = None  # space is back
        sink.write_many([line(7), line(8)])
        sink.write(line(9))
        good, bad = parsed(path)
        assert good == [0, 1, 2, 7, 8, 9]
        assert bad == [line(3)[:20]]  # the fragment stays a line of its own
        assert _guard.counts["sink_lost"] == 4
        assert sink._size == path.stat().st_size

    def test_a_file_rotated_away_meanwhile_gets_no_blank_line(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The newline ends our fragment in its own file; a fresh file starts clean."""
        monkeypatch.setattr(_file_sink, "RETRY_SECONDS", 0.0)
        path = tmp_path / "llmlog.jsonl"
        sink = FileSink(path)
        disk = FullDisk(room=30)
        monkeypatch.setattr(os, "write", disk)
        sink.write(line(0))
        disk.room = None
        path.rename(tmp_path / "llmlog-elsewhere.jsonl")  # another process rotated
        sink.write(line(1))
        assert path.read_bytes() == line(1)
        assert (tmp_path / "llmlog-elsewhere.jsonl").read_bytes() == line(0)[:30]

    def test_a_write_that_cannot_finish_its_batch_retries_the_rest(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A short count alone (no error) is not a loss: the rest is written after it."""
        _guard._reset_for_tests()
        path = tmp_path / "llmlog.jsonl"
        sink = FileSink(path)
        real = os.write
        monkeypatch.setattr(os, "write", lambda fd, data: real(fd, bytes(data)[:7]))
        sink.write_many([line(i) for i in range(3)])
        assert path.read_bytes() == line(0) + line(1) + line(2)
        assert sink._size == path.stat().st_size
        assert not _guard.counts

    def test_file_size_limit_in_a_real_process(self, tmp_path: Path) -> None:
        """RLIMIT_FSIZE (like a full quota) cuts a real write short, then refuses it."""
        script = """
import json, resource, signal, sys
from llmlog import _file_sink, _guard
_file_sink.RETRY_SECONDS = 0.0
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
line = lambda i: json.dumps({"event": "llm.call", "schema": 1, "i": i, "pad": "x" * 100}
                           ).encode() + b"\\n"
sink = _file_sink.FileSink(sys.argv[1])
sink.write(line(0))
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, resource.RLIM_INFINITY))
sink.write_many([line(i) for i in range(1, 21)])
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
sink.write_many([line(21), line(22)])
print(json.dumps(dict(_guard.counts)))
"""
        done = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / "llmlog.jsonl")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        counts = json.loads(done.stdout)
        good, bad = parsed(tmp_path / "llmlog.jsonl")
        whole = len(good) - 2
        assert good == [*range(whole), 21, 22]
        assert len(bad) == 1
        assert counts["sink_lost"] == 21 - whole
        assert done.stderr.count("File too large") == 1

    def test_a_fragment_another_writer_left_is_not_glued_to_our_line(self, tmp_path: Path) -> None:
        """Another process (or an earlier run) had its line cut by a full disk: our first
        line starts on a line of its own and is counted by nobody as lost."""
        path = tmp_path / "llmlog.jsonl"
        path.write_bytes(line(0) + line(1)[:20])  # someone else's cut line
        path.chmod(0o600)
        sink = FileSink(path)
        sink.write(line(2))
        sink.write(line(3))
        sink.close()
        assert parsed(path) == ([0, 2, 3], [line(1)[:20]])

    def test_another_writers_line_still_being_appended_is_no_fragment(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A file ending mid-line while another process appends a long line (page by page,
        its writer descheduled between pages) is not a fragment: a newline before our line
        would leave a blank line once that write ends. The other writer ends its line while
        the sink waits to be sure."""
        path = tmp_path / "llmlog.jsonl"
        path.write_bytes(line(0) + line(1)[:20])  # the other writer's first page so far
        path.chmod(0o600)
        pauses: list[float] = []

        def other_writer_goes_on(seconds: float) -> None:
            if not pauses:
                with path.open("ab") as f:
                    f.write(line(1)[20:])
            pauses.append(seconds)

        monkeypatch.setattr(_log_files.time, "sleep", other_writer_goes_on)
        sink = FileSink(path)
        sink.write(line(2))
        sink.close()
        assert parsed(path) == ([0, 1, 2], [])
        assert b"\n\n" not in path.read_bytes() and len(pauses) == 1


class TestPruning:
    def neighbours(self, folder: Path) -> list[Path]:
        """Another service's files next to ``app.jsonl``: they share its prefix."""
        names = [
            "app-worker.jsonl",
            "app-worker-20260101T000000.000000Z-1.jsonl",
            "app-worker-20260102T000000.000000Z-1.jsonl.gz",
            "app-old.jsonl",
            "app-.jsonl",
            "app-20260101T000000.000000Z-1.jsonl.bak",
        ]
        two_days_ago = time.time() - 2 * 86400
        paths = []
        for name in names:
            p = folder / name
            p.write_bytes(b'{"other": true}\n')
            os.utime(p, (two_days_ago, two_days_ago))
            paths.append(p)
        return paths

    def test_backup_count_prunes_only_this_logs_rotated_files(self, tmp_path: Path) -> None:
        """``app.jsonl`` rotating next to ``app-worker.jsonl`` leaves app-worker's files be."""
        others = self.neighbours(tmp_path)
        path = tmp_path / "app.jsonl"
        sink = FileSink(path, max_bytes=300, backup_count=1)
        for i in range(20):
            sink.write(line(i))
        assert all(p.exists() for p in others)
        assert len(rotated_files(path)) == 1

    def test_retention_prunes_only_this_logs_rotated_files(self, tmp_path: Path) -> None:
        """Old neighbours survive retention; this log's own old files (.gz too) do not."""
        others = self.neighbours(tmp_path)
        path = tmp_path / "app.jsonl"
        old = rotated_name(path, now_ns=1_000_000_000_000_000_000, pid=1)
        old_gz = old.with_name(old.name + ".gz")
        for p in (old, old_gz):
            p.write_bytes(line(0))
            os.utime(p, (1e9, 1e9))
        sink = FileSink(path, max_bytes=300, backup_count=100, retention_days=1)
        for i in range(5):
            sink.write(line(i))
        assert all(p.exists() for p in others)
        assert not old.exists() and not old_gz.exists()
        assert rotated_files(path)

    def test_a_file_that_cannot_be_deleted_costs_no_record(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Pruning is best effort: an old file that will not go stays, records still land."""
        _guard._reset_for_tests()
        path = tmp_path / "app.jsonl"
        old = rotated_name(path, now_ns=1_000_000_000_000_000_000, pid=1)
        old.write_bytes(line(0))
        os.utime(old, (1e9, 1e9))

        def refuse(self: Path, missing_ok: bool = False) -> None:
            raise PermissionError(13, "Permission denied", str(self))

        monkeypatch.setattr(Path, "unlink", refuse)
        sink = FileSink(path, max_bytes=300, backup_count=100, retention_days=1)
        for i in range(10):
            sink.write(line(i))
        assert _guard.counts.get("sink_lost", 0) == 0
        assert old.exists()
        assert sorted(i for p in [*rotated_files(path), path] for i in parsed(p)[0]) == [
            0,
            *range(10),
        ]

    def test_rotated_files_matches_exactly_the_names_rotation_makes(self, tmp_path: Path) -> None:
        path = tmp_path / "app.jsonl"
        made = rotated_name(path, now_ns=1_700_000_000_000_000_000, pid=4242)
        gz = made.with_name(made.name + ".gz")
        for p in (made, gz, *self.neighbours(tmp_path)):
            p.touch()
        assert rotated_files(path) == [made, gz]


class TestSymlinks:
    def test_a_symlink_at_the_log_path_is_not_written_through(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Someone else's file behind a link stays untouched; stderr names the link once."""
        _guard._reset_for_tests()
        target = tmp_path / "target"
        target.write_bytes(b"theirs\n")
        target.chmod(0o644)
        path = tmp_path / "llmlog.jsonl"
        path.symlink_to(target)
        sink = FileSink(path)
        for i in range(3):
            sink.write(line(i))
        sink.write_many([line(3), line(4)])
        assert target.read_bytes() == b"theirs\n"
        err = capsys.readouterr().err
        assert err.count(str(path)) == 1 and "symbolic link" in err
        assert _guard.counts["sink_lost"] == 5

    def test_a_dangling_symlink_is_not_followed_either(self, tmp_path: Path) -> None:
        """A link to a file not there yet would otherwise create it wherever it points."""
        _guard._reset_for_tests()
        path = tmp_path / "llmlog.jsonl"
        path.symlink_to(tmp_path / "elsewhere")
        FileSink(path).write(line(0))
        assert not (tmp_path / "elsewhere").exists()
        assert _guard.counts["sink_lost"] == 1

    def test_a_symlinked_directory_is_fine(self, tmp_path: Path) -> None:
        """Links earlier in the path (``/var/log -> /data/log``) are normal and followed."""
        (tmp_path / "real").mkdir(mode=0o700)
        (tmp_path / "logs").symlink_to(tmp_path / "real")
        sink = FileSink(tmp_path / "logs" / "llmlog.jsonl")
        sink.write(line(0))
        assert (tmp_path / "real" / "llmlog.jsonl").read_bytes() == line(0)


class TestRotationBlocked:
    def test_a_folder_we_may_not_rename_in_loses_no_record(
        self,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The file stays writable but cannot be rotated (a read-only folder: rename is
        refused): it grows past max_bytes (said once), every record is kept."""
        _guard._reset_for_tests()
        path = tmp_path / "llmlog.jsonl"
        sink = FileSink(path, max_bytes=500)
        sink.write(line(0))

        def refused(src: object, dst: object) -> None:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

        monkeypatch.setattr(os, "rename", refused)
        for i in range(1, 20):
            sink.write(line(i))
        sink.close()
        assert parsed(path) == (list(range(20)), [])
        assert not _guard.counts.get("sink_lost")
        assert capsys.readouterr().err.count("cannot rotate") == 1


class TestFifo:
    def test_a_fifo_nobody_reads_yet_does_not_hang_the_writer(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Opening it fails at once (reported, counted, retried) instead of blocking the
        writer, and with it every os.fork() and the exit."""
        _guard._reset_for_tests()
        fifo = tmp_path / "llmlog.fifo"
        os.mkfifo(fifo, 0o600)
        sink = FileSink(fifo)
        writer = threading.Thread(target=sink.write, args=(line(0),), daemon=True)
        writer.start()
        writer.join(5)
        assert not writer.is_alive()
        assert _guard.counts["sink_lost"] == 1
        assert "cannot write to" in capsys.readouterr().err


class TestRotationBound:
    def test_a_batch_bigger_than_max_bytes_is_spread_over_files(self, tmp_path: Path) -> None:
        """A batch of 64 lines does not make one file many times max_bytes."""
        path = tmp_path / "llmlog.jsonl"
        sink = FileSink(path, max_bytes=1000, backup_count=100)
        sink.write(line(-1))
        sink.write_many([line(i) for i in range(64)])
        files = [*rotated_files(path), path]
        assert all(p.stat().st_size <= 1000 for p in files)
        everything = b"".join(p.read_bytes() for p in files)
        assert everything == b"".join(line(i) for i in range(-1, 64))

    def test_a_line_bigger_than_max_bytes_gets_a_file_of_its_own(self, tmp_path: Path) -> None:
        path = tmp_path / "llmlog.jsonl"
        sink = FileSink(path, max_bytes=1000, backup_count=100)
        sink.write_many([line(0), line(1, size=2000), line(2)])
        files = [*rotated_files(path), path]
        assert [p.read_bytes() for p in files] == [line(0), line(1, size=2000), line(2)]


class Clock:
    """``time.monotonic`` that moves only when told: a check is due after each ``tick``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = time.monotonic()
        monkeypatch.setattr(time, "monotonic", lambda: self.now)

    def tick(self) -> None:
        self.now += CHECK_SECONDS * 1.01  # a float sum may fall just short of the interval


class TestDeletedFile:
    """The log (or its folder) deleted while the app runs: the lines written to the deleted
    file before the next check are written again to the new one, silently; nothing lost."""

    @pytest.fixture
    def clock(self, monkeypatch: pytest.MonkeyPatch) -> Clock:
        """A clock to pass the sink's checks at will, and no trouble counted before."""
        _guard._reset_for_tests()
        return Clock(monkeypatch)

    def checked(self, sink: FileSink, clock: Clock, i: int) -> None:
        """Write ``i`` with a check: the lines before it are safely in the file."""
        clock.tick()
        sink.write(line(i))

    def test_lines_written_after_the_file_was_deleted_are_not_lost(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], clock: Clock
    ) -> None:
        path = tmp_path / "llmlog.jsonl"
        sink = FileSink(path)
        sink.write(line(0))
        self.checked(sink, clock, 1)
        path.unlink()
        sink.write(line(2))  # before the next check: to the deleted file
        sink.write_many([line(3), line(4)])
        self.checked(sink, clock, 5)  # the check makes a new file
        sink.write(line(6))
        # 1 went with the file, but was written since the last check: it comes back
        assert path.read_bytes() == b"".join(line(i) for i in range(1, 7))
        assert sink._size == path.stat().st_size
        assert not _guard.counts
        assert capsys.readouterr().err == ""

    def test_lines_written_after_the_folder_was_deleted_are_not_lost(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], clock: Clock
    ) -> None:
        """``rm -rf llm_logs``: the folder comes back (0700) with every record since."""
        folder = tmp_path / "llm_logs"
        path = folder / "llmlog.jsonl"
        sink = FileSink(path)
        sink.write(line(0))
        self.checked(sink, clock, 1)
        shutil.rmtree(folder)
        sink.write_many([line(2), line(3)])
        self.checked(sink, clock, 4)
        assert parsed(path) == ([1, 2, 3, 4], [])
        assert (folder.stat().st_mode & 0o777, path.stat().st_mode & 0o777) == (0o700, 0o600)
        assert not _guard.counts
        assert capsys.readouterr().err == ""

    def test_a_file_moved_over_the_log_gets_the_lines_after_its_own(
        self, tmp_path: Path, clock: Clock
    ) -> None:
        """Replaced (``mv other llmlog.jsonl``): the old file is deleted just the same."""
        path = tmp_path / "llmlog.jsonl"
        sink = FileSink(path)
        self.checked(sink, clock, 0)
        other = tmp_path / "other"
        other.write_bytes(line(100))
        other.chmod(0o600)
        os.replace(other, path)
        sink.write(line(1))
        self.checked(sink, clock, 2)
        assert parsed(path) == ([100, 0, 1, 2], [])
        assert not _guard.counts

    def test_a_deletion_found_by_a_rotation_loses_nothing_either(
        self, tmp_path: Path, clock: Clock
    ) -> None:
        """A batch crossing ``max_bytes`` before the check: the rotation finds the file
        gone; the lines it took go first to the new file, the batch after them."""
        path = tmp_path / "llmlog.jsonl"
        sink = FileSink(path, max_bytes=1000, backup_count=100)
        self.checked(sink, clock, 0)
        path.unlink()
        sink.write_many([line(1), line(2)])
        sink.write_many([line(i) for i in range(3, 12)])  # crosses max_bytes: a rotation
        files = [*rotated_files(path), path]
        assert [i for p in files for i in parsed(p)[0]] == list(range(12))
        assert all(p.stat().st_size <= 1000 for p in files)
        assert not _guard.counts

    def test_lines_taken_by_a_deletion_just_before_close_are_written_again(
        self, tmp_path: Path, clock: Clock
    ) -> None:
        """``llmlog.uninstrument()`` (or a reconfiguration) right after the deletion."""
        path = tmp_path / "llmlog.jsonl"
        sink = FileSink(path)
        self.checked(sink, clock, 0)
        path.unlink()
        sink.write(line(1))
        sink.close()
        assert parsed(path) == ([0, 1], [])
        assert not _guard.counts

    def test_a_file_deleted_after_our_last_line_does_not_get_it_back(
        self, tmp_path: Path, clock: Clock
    ) -> None:
        """Deleted while the app was quiet: the lines went with the file on purpose (its
        ctime, set by the deletion, is after its mtime, set by our last write)."""
        _guard._reset_for_tests()
        path = tmp_path / "llmlog.jsonl"
        sink = FileSink(path)
        sink.write_many([line(0), line(1)])
        time.sleep(0.05)  # past the file system's timestamp granularity
        path.unlink()
        clock.tick()
        sink.write(line(2))
        assert path.read_bytes() == line(2)
        sink.close()
        assert path.read_bytes() == line(2)
        assert not _guard.counts

    def test_more_than_keep_bytes_in_the_window_is_counted_and_said_once(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Memory stays bounded: the newest lines are written again, the older ones beyond
        ``KEEP_BYTES`` are counted lost and reported once, never dropped silently."""
        _guard._reset_for_tests()
        clock = Clock(monkeypatch)
        monkeypatch.setattr(_file_sink, "KEEP_BYTES", 3 * len(line(0)))
        path = tmp_path / "llmlog.jsonl"
        sink = FileSink(path)
        self.checked(sink, clock, 0)
        path.unlink()
        for i in range(1, 6):
            sink.write(line(i))
        self.checked(sink, clock, 6)
        *again, last = parsed(path)[0]
        assert last == 6 and again == list(range(6 - len(again), 6)) and again  # the newest
        lost = 6 - len(again)  # of the 0 to 5 written since the check: the oldest
        assert lost and _guard.counts["sink_lost"] == lost
        self.checked(sink, clock, 7)
        path.unlink()
        sink.write_many([line(i) for i in range(8, 13)])  # one batch, bigger than KEEP_BYTES
        self.checked(sink, clock, 13)
        assert parsed(path) == ([13], [])
        assert _guard.counts["sink_lost"] == lost + 6  # 7, and the batch
        assert capsys.readouterr().err.count("was deleted while llmlog wrote to it") == 1

    def test_rotation_by_another_process_writes_nothing_twice(
        self, tmp_path: Path, clock: Clock
    ) -> None:
        """Renamed (another llmlog, logrotate ``create``): its lines stay in it."""
        path = tmp_path / "llmlog.jsonl"
        sink = FileSink(path)
        self.checked(sink, clock, 0)
        aside = tmp_path / "llmlog.jsonl.1"
        path.rename(aside)
        path.touch(mode=0o600)  # logrotate's create
        sink.write(line(1))
        self.checked(sink, clock, 2)
        sink.close()
        assert (aside.read_bytes(), path.read_bytes()) == (line(0) + line(1), line(2))

    def test_copytruncate_writes_nothing_twice(self, tmp_path: Path, clock: Clock) -> None:
        """logrotate ``copytruncate``: the same file, emptied; the copy has the lines."""
        path = tmp_path / "llmlog.jsonl"
        sink = FileSink(path)
        self.checked(sink, clock, 0)
        sink.write(line(1))
        shutil.copyfile(path, tmp_path / "llmlog.jsonl.1")
        os.truncate(path, 0)
        sink.write(line(2))
        self.checked(sink, clock, 3)
        sink.close()
        assert (tmp_path / "llmlog.jsonl.1").read_bytes() == line(0) + line(1)
        assert path.read_bytes() == line(2) + line(3)

    def test_a_rotated_file_deleted_later_does_not_come_back(
        self, tmp_path: Path, clock: Clock
    ) -> None:
        """logrotate's ``create`` then its cleanup of old files: we wrote nothing since."""
        _guard._reset_for_tests()
        path = tmp_path / "llmlog.jsonl"
        sink = FileSink(path)
        sink.write(line(0))
        time.sleep(0.05)
        aside = tmp_path / "llmlog.jsonl.1"
        path.rename(aside)
        aside.unlink()
        clock.tick()
        sink.write(line(1))
        assert path.read_bytes() == line(1)
        assert not _guard.counts

    def test_a_forked_child_closes_the_descriptor_it_inherited(self, tmp_path: Path) -> None:
        """Kept open, it would hold a rotated-away file on disk for the child's life."""
        path = tmp_path / "llmlog.jsonl"
        sink = FileSink(path)
        sink.write(line(0))
        inherited = sink._fd
        assert inherited is not None
        sink.forget_after_fork()  # what the child does
        with pytest.raises(OSError):
            os.fstat(inherited)

    def test_a_forked_child_does_not_write_its_parents_lines(self, tmp_path: Path) -> None:
        """After a fork the parent's kept lines are the parent's to write again."""
        path = tmp_path / "llmlog.jsonl"
        sink = FileSink(path)
        sink.write(line(0))
        path.unlink()
        sink.write(line(1))
        sink.forget_after_fork()  # what the child does
        sink.write(line(2))
        sink.close()
        assert parsed(path) == ([2], [])


class TestNoFlock:
    def test_a_filesystem_without_flock_still_rotates_and_loses_nothing(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Lustre without ``-o flock`` (ENOSYS), some NFS (ENOLCK): rotation goes on
        without the lock; no record is lost past the first ``max_bytes``."""
        _guard._reset_for_tests()

        class NoFlock:
            LOCK_EX, LOCK_UN = _file_sink.fcntl.LOCK_EX, _file_sink.fcntl.LOCK_UN

            @staticmethod
            def flock(fd: int, operation: int) -> None:
                raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))

        monkeypatch.setattr(_file_sink, "fcntl", NoFlock)
        path = tmp_path / "llmlog.jsonl"
        sink = FileSink(path, max_bytes=1000, backup_count=100)
        for i in range(50):
            sink.write(line(i))
        sink.close()
        backups = rotated_files(path)
        assert len(backups) >= 4
        assert all(p.stat().st_size <= 1000 for p in backups)
        everything = b"".join(p.read_bytes() for p in [*backups, path])
        assert everything == b"".join(line(i) for i in range(50))
        assert not _guard.counts.get("sink_lost")


_SHARED_PIPE_WRITERS = """
import json, os, sys
from llmlog.sinks import sink_for, write_lines
sink = sink_for(sys.argv[1], max_bytes=0, backup_count=0, retention_days=0)
kids = []
for k in range(4):  # forked workers (gunicorn, multiprocessing) sharing the sink's target
    pid = os.fork()
    if pid == 0:
        for i in range(0, 16, 2):
            pad = chr(ord("a") + k) * 100_000  # a record far bigger than PIPE_BUF
            write_lines(sink, [json.dumps({"k": k, "i": j, "pad": pad}).encode() + b"\\n"
                               for j in (i, i + 1)])
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
"""


class TestPipes:
    @staticmethod
    def records(data: bytes) -> tuple[list[tuple[int, int]], int]:
        """((k, i) of every whole record, sorted; how many lines are not records)."""
        good, bad = [], 0
        for raw in data.splitlines():
            try:
                record = json.loads(raw)
                good.append((record["k"], record["i"]))
            except ValueError:
                bad += 1
        return sorted(good), bad

    @staticmethod
    def read_slowly(fd: int) -> bytes:
        """Everything until EOF, a pipe's worth at a time, so the writers find it full."""
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
            time.sleep(0.001)
        return b"".join(chunks)

    def test_processes_sharing_stdout_never_interleave_records(self) -> None:
        """Forked workers logging 100 KB records to stdout, a pipe (``| tee``, a
        container's log driver): every record arrives whole."""
        proc = subprocess.Popen(
            [sys.executable, "-c", _SHARED_PIPE_WRITERS, "stdout"], stdout=subprocess.PIPE
        )
        assert proc.stdout is not None
        data = self.read_slowly(proc.stdout.fileno())
        assert proc.wait(timeout=30) == 0
        assert self.records(data) == ([(k, i) for k in range(4) for i in range(16)], 0)

    def test_processes_sharing_a_fifo_never_interleave_records(self, tmp_path: Path) -> None:
        """The same through a FIFO at ``LLMLOG_OUTPUT`` (batches of records in one write)."""
        fifo = tmp_path / "llmlog.fifo"
        os.mkfifo(fifo, 0o600)
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        os.set_blocking(reader, True)
        keep_open = os.open(fifo, os.O_WRONLY)  # no EOF before the writers are done
        proc = subprocess.Popen([sys.executable, "-c", _SHARED_PIPE_WRITERS, str(fifo)])
        closer = threading.Thread(target=lambda: (proc.wait(30), os.close(keep_open)))
        closer.start()
        try:
            data = self.read_slowly(reader)
        finally:
            closer.join()
            os.close(reader)
        assert proc.returncode == 0
        assert self.records(data) == ([(k, i) for k in range(4) for i in range(16)], 0)

    @pytest.mark.parametrize("unbuffered", ["1", ""])
    def test_a_non_blocking_stdout_read_slowly_loses_nothing(self, unbuffered: str) -> None:
        """stdout in O_NONBLOCK mode (a parent such as node set it) whose reader lags: a
        record waits for room instead of being dropped (unbuffered: silently) or cut."""
        script = """
import fcntl, json, os, sys
from llmlog import _guard
from llmlog.sinks import StreamSink
fcntl.fcntl(1, fcntl.F_SETFL, fcntl.fcntl(1, fcntl.F_GETFL) | os.O_NONBLOCK)
sink = StreamSink("stdout")
sys.stderr.write("writing\\n")
sys.stderr.flush()
for i in range(200):
    sink.write(json.dumps({"k": 0, "i": i, "pad": "x" * 3000}).encode() + b"\\n")
sys.stderr.write(json.dumps(dict(_guard.counts)) + "\\n")
"""
        proc = _child(script, unbuffered)
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stderr.readline() == b"writing\n"
        time.sleep(0.3)  # 600 KB into a 64 KB pipe meanwhile: it is full long before
        data = proc.stdout.read()
        counts = json.loads(proc.stderr.read().splitlines()[-1])
        assert proc.wait(timeout=30) == 0
        assert self.records(data) == ([(0, i) for i in range(200)], 0)
        assert counts == {}

    @pytest.mark.parametrize("unbuffered", ["1", ""])
    def test_a_non_blocking_stdout_nobody_reads_loses_whole_records_counted(
        self, unbuffered: str
    ) -> None:
        """Nobody reads: once the pipe is full, a record waits ``STREAM_WAIT_SECONDS`` and
        is counted lost and said once, never cut (records of ``PIPE_BUF`` bytes: a pipe
        takes them whole or not at all)."""
        script = """
import fcntl, json, os, sys
from llmlog import _guard, sinks
sinks.STREAM_WAIT_SECONDS = 0.2
fcntl.fcntl(1, fcntl.F_SETFL, fcntl.fcntl(1, fcntl.F_GETFL) | os.O_NONBLOCK)
sink = sinks.StreamSink("stdout")
for i in range(100):  # 400 KB: far more than a pipe holds
    record = json.dumps({"k": 0, "i": i, "pad": ""}).encode()
    sink.write(record[:-2] + b"x" * (4096 - len(record) - 1) + b'"}\\n')
    if _guard.counts["sink_lost"]:
        break
sys.stderr.write(json.dumps(dict(_guard.counts)) + "\\n")
"""
        proc = _child(script, unbuffered)
        assert proc.wait(timeout=30) == 0  # nothing read from its stdout until it is done
        assert proc.stdout is not None and proc.stderr is not None
        good, bad = self.records(proc.stdout.read())
        err = proc.stderr.read()
        assert json.loads(err.splitlines()[-1]).get("sink_lost") == 1 and bad == 0
        assert 0 < len(good) < 99 and good == [(0, i) for i in range(len(good))]
        assert err.count(b"cannot write to stdout") == 1


class TestSinkFailing:
    def test_lines_a_sink_fails_on_unexpectedly_are_counted_lost(self, tmp_path: Path) -> None:
        """A sink raising something it does not handle (here the OS layer's ValueError for
        a NUL in the path): its lines are counted lost (``flush()`` says False), the other
        sinks still get them, and the error goes on to the writer's report."""
        from llmlog._chain import SinkLogger
        from llmlog.sinks import MemorySink

        _guard._reset_for_tests()
        memory = MemorySink()
        logger = SinkLogger([FileSink(f"{tmp_path}/log\0.jsonl"), memory])
        logger.msg(line(0))
        logger.msg(line(1))
        with pytest.raises(ValueError, match="null"):
            logger.write_out()
        assert _guard.counts["sink_lost"] == 2
        assert memory.lines == [line(0), line(1)]


def _child(script: str, unbuffered: str) -> subprocess.Popen[bytes]:
    """``python -c script`` with its stdout and stderr piped to us."""
    env = {**os.environ, "PYTHONUNBUFFERED": unbuffered}
    return subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
