"""The two guards of the drain before a signal the process sends itself to end, in real
processes: the signal still goes out when something interrupts the drain (Ctrl-C while it
is waited for), and PID 1 (a container's init, which survives a default-action signal it
sends itself) drains nothing: its stream, read on afterwards, is recorded whole."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from test_ending_late import TESTED, TESTS
from test_server_shutdowns import PRELUDE, RAISES, run, texts_and_statuses

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

CTRL_C_WHILE_THE_DRAIN_IS_WAITED_FOR = """
def ctrl_c(frame, event, arg):
    # as CPython runs a pending Ctrl-C once the wait returns (join's lock, 3.13's join)
    if (
        event == "c_return"
        and frame.f_code.co_name in ("_wait_for_tstate_lock", "join")
        and getattr(arg, "__name__", "") in ("acquire", "join")
    ):
        sys.setprofile(None)
        raise KeyboardInterrupt

sys.setprofile(ctrl_c)
"""


@pytest.mark.parametrize("how", list(RAISES))
def test_the_signal_is_sent_when_ctrl_c_interrupts_the_drain(tmp_path: Path, how: str) -> None:
    out = tmp_path / "llmlog.jsonl"
    proc = run(
        f"""
        SIG = signal.SIGTERM
        llmlog.instrument(output=OUT, redact="secrets")
        signal.signal(SIG, signal.SIG_DFL)  # as uvicorn puts back the default it found
        queue_until_drained()
        call("served")
        {textwrap.indent(CTRL_C_WHILE_THE_DRAIN_IS_WAITED_FOR, " " * 8).strip()}
        try:
            {RAISES[how]}
        except KeyboardInterrupt:
            print("interrupted, and the signal was not sent")
        """,
        out,
    )
    assert proc.returncode == -signal.SIGTERM, (proc.stdout, proc.stderr)
    assert proc.stdout == ""


def _pid_namespace_works() -> bool:
    """Whether this system lets an unprivileged user start a process as PID 1 (user and
    PID namespaces: Linux, unless the kernel or a container's seccomp refuses them)."""
    if shutil.which("unshare") is None:
        return False
    probe = [*_AS_PID_1, sys.executable, "-c", "import os; assert os.getpid() == 1"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


_AS_PID_1 = ["unshare", "--user", "--pid", "--fork", "--map-root-user"]


def _run_as_pid_1(code: str, out: Path) -> subprocess.CompletedProcess[str]:
    """``code`` after the servers' prelude, in a new interpreter that is PID 1 of a new PID
    namespace (as a container's entrypoint run without an init), in a session of its own:
    its group is itself (``unshare``, the leader of the one it was born in, is outside)."""
    script = f"OUT = {str(out)!r}\n" + PRELUDE + "os.setsid()\n" + textwrap.dedent(code)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTED)]),
        "_LLMLOG_RAISE_INTERNAL_ERRORS": "1",
    }
    return subprocess.run(
        [*_AS_PID_1, sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
        start_new_session=True,  # a signal to its group reaches neither pytest nor unshare
    )


AS_PID_1 = [how for how in RAISES if how != "os.killpg of its group"]
"""(Its group is 1: ``killpg(1, sig)`` is ``kill(-1, sig)``, every other process.)"""


@pytest.mark.skipif(not _pid_namespace_works(), reason="no user+PID namespace (unshare)")
@pytest.mark.parametrize("how", AS_PID_1)
def test_pid_1_sending_itself_a_default_action_signal_drains_nothing(
    tmp_path: Path, how: str
) -> None:
    """The kernel ignores it (init has no default action): a drain would have been no
    last one, and would have ended the stream the app reads on as cancelled."""
    out = tmp_path / "llmlog.jsonl"
    proc = _run_as_pid_1(
        f"""
        SIG = signal.SIGTERM
        llmlog.instrument(output=OUT, redact="secrets")
        signal.signal(SIG, signal.SIG_DFL)  # llmlog's own SIGTERM handler is not the point
        stream = call("streamed", stream=True)
        {RAISES[how]}
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        print("pid", os.getpid(), "went on")
        """,
        out,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "pid 1 went on\n"
    assert texts_and_statuses(out) == [("streamed", "ok")], proc.stderr


@pytest.mark.skipif(not _pid_namespace_works(), reason="no user+PID namespace (unshare)")
def test_sigterm_to_pid_1_writes_the_queue_and_the_app_goes_on(tmp_path: Path) -> None:
    """``docker stop`` on an entrypoint run without an init: llmlog's SIGTERM handler
    writes what is queued (the SIGKILL that follows would lose it) and returns, as the
    kernel would have ignored the signal; the stream the app reads on is recorded whole."""
    out = tmp_path / "llmlog.jsonl"
    proc = _run_as_pid_1(
        """
        llmlog.instrument(output=OUT, redact="secrets")
        call("finished")
        stream = call("streamed", stream=True)
        os.kill(os.getpid(), signal.SIGTERM)
        print("written", len(open(OUT).readlines()))
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        print("went on")
        """,
        out,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "written 1\nwent on\n"
    assert texts_and_statuses(out) == [("finished", "ok"), ("streamed", "ok")], proc.stderr
