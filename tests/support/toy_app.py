"""A toy app for subprocess tests: ``python toy_app.py OUTPUT N [MODE]``.

Instruments llmlog (settings from the environment), makes N toy calls and exits the way
MODE says: ``exit`` (normal end), ``fork`` (a forked child makes the calls), ``mp-fork``
/ ``mp-spawn`` (a multiprocessing child does), ``open-stream`` (a stream still open,
half-read, when the interpreter exits), ``fork-open-stream`` (a child forked while the
parent reads a stream ends with ``sys.exit``), ``sigterm`` / ``own-sigterm`` (prints
``ready`` and sleeps until a SIGTERM; ``own-sigterm`` has a handler of its own that
exits 3), ``chained-sigterm`` (a handler installed after ``instrument()`` calls the one
it replaced, then makes one more call and exits 4), ``pool-fork`` / ``pool-spawn`` (a
``with Pool()`` block whose workers make the calls), ``fork-in-thread`` (a child forked
from a thread makes the calls, and its only thread returns), ``atexit-late`` (an atexit
hook registered before ``instrument()`` makes one more call), ``daemon-at-exit`` (a
daemon thread goes on calling while the interpreter exits, counting its calls in
OUTPUT.calls).

``ctrl-c`` (a KeyboardInterrupt ends the app right after its calls),
``ctrl-c-in-exit-drain`` (a SIGINT arrives while the exit's drain runs),
``os-exit-in-handler`` (a SIGTERM handler calls ``os._exit`` while the main thread
holds a lock the exit's drain needs), ``fork-os-exit`` (a forked child makes the calls
and ends with ``os._exit``),
``exit-chain-built`` (``exit`` once the writer has built its chain),
``sigterm-in-exit-drain`` (a SIGTERM arrives while the exit's drain holds a lock, as
when ``Pool.terminate()`` signals a worker that is just exiting).

``TOY_SLOW_WRITER=1`` keeps the writer asleep until something drains the queue, so a
record nobody drains is lost for sure rather than by timing.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FORK_GUARD_TAKEN: list[bool] = []
"""Per fork in this process: whether llmlog's before-fork hook got its fork guard (False:
it waited FORK_WAIT in vain). Read by an after-fork hook registered before llmlog's, so
it runs before llmlog's own resets the flag."""


def _read_fork_guard() -> None:
    forks = sys.modules.get("llmlog._forks")
    if forks is not None:
        FORK_GUARD_TAKEN.append(forks.taken)


os.register_at_fork(after_in_parent=_read_fork_guard)

# (imported after the at-fork hook above)
import llmlog  # noqa: E402
from llmlog import _pipeline  # noqa: E402
from llmlog.instrumentors import _base  # noqa: E402
from support import toy_instrumentor, toy_sdk  # noqa: E402

if os.environ.get("TOY_SLOW_WRITER") == "1":
    _pipeline.IDLE_WAIT = _pipeline.WRITER_WAIT = _pipeline.BATCH_LINGER = 3600.0
    _pipeline.HANDOVER_BATCH = 10**6


def setup(output: str) -> None:
    llmlog.instrument(output=output, redact=os.environ.get("TOY_REDACT", "off"))
    _base.install(toy_instrumentor.PROVIDER)


def calls(n: int, tag: str) -> None:
    client = toy_sdk.Client()
    for i in range(n):
        answer = client.create(messages=[{"role": "user", "content": f"{tag} {i}"}], model="toy")
        assert answer.text == f"{tag} {i}"


def child(output: str, n: int) -> None:
    setup(output)
    calls(n, f"child-{os.getpid()}")


def pool_work(args: tuple[str, int]) -> int:
    output, n = args
    setup(output)  # a no-op in a forked worker (same settings); spawned ones start afresh
    calls(n, f"pool-{os.getpid()}")
    return n


def wait_for_sigterm() -> None:
    print("ready", flush=True)
    time.sleep(600)
    sys.exit(9)  # never reached when the SIGTERM arrives


def fork_in_thread(n: int, outcome: list[str]) -> None:
    """The child's only thread is this one, become its main thread; it returns."""
    pid = os.fork()
    if pid == 0:
        calls(n, "forked")
        return
    for _ in range(1200):  # up to 120 s on a loaded machine; a hung child is killed
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            outcome.append(f"child exit status {os.waitstatus_to_exitcode(status)}")
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    outcome.append("child still running after 120 s")


KEPT: object = None


def main() -> None:
    output, n, mode = sys.argv[1], int(sys.argv[2]), (sys.argv[3] if len(sys.argv) > 3 else "exit")
    if mode == "exit":
        setup(output)
        calls(n, "main")
    elif mode == "exit-chain-built":  # the writer's chain is built when the process ends
        setup(output)
        calls(n, "main")
        pipeline = _pipeline.current()
        for _ in range(6000):  # (its imports took over a second on a loaded machine)
            if pipeline is None or pipeline._logger is not None:
                break
            time.sleep(0.01)
    elif mode == "fork":
        setup(output)
        calls(1, "parent-before")
        pid = os.fork()
        if pid == 0:
            calls(n, "forked")
            llmlog.flush(10)
            os._exit(0)
        os.waitpid(pid, 0)
        calls(1, "parent-after")
    elif mode == "ctrl-c":  # Ctrl-C right after the calls, while the writer imports
        setup(output)
        calls(n, "main")
        raise KeyboardInterrupt
    elif mode == "ctrl-c-in-exit-drain":  # Ctrl-C while the exit's drain runs
        from llmlog import _ending

        setup(output)
        calls(n, "main")
        _ending.before_exit.insert(0, lambda: os.kill(os.getpid(), signal.SIGINT))
    elif mode == "os-exit-in-handler":  # a SIGTERM handler calls os._exit mid-lock
        from llmlog.instrumentors import _openai_agent_sessions

        setup(output)
        calls(n, "main")
        signal.signal(signal.SIGTERM, lambda *_: os._exit(3))
        with _openai_agent_sessions._lock:  # a before-exit hook takes it
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(60)
    elif mode == "fork-os-exit":  # a child ends with os._exit, no flush (ForkingMixIn's way)
        setup(output)
        pid = os.fork()
        if pid == 0:
            calls(n, "forked")
            os._exit(3)
        _, status = os.waitpid(pid, 0)
        print(f"child exit status {os.waitstatus_to_exitcode(status)}")
    elif mode == "fork-at-first-record":  # while the writer imports its chain's modules
        setup(output)
        calls(1, "parent")
        threading.Thread(target=llmlog.flush).start()
        while "genai_prices" not in sys.modules:  # the price table: loggers made at import
            time.sleep(0.0005)
        pid = os.fork()
        if pid == 0:
            calls(n, "forked")
            sys.exit(0)
        print(f"fork guard taken: {FORK_GUARD_TAKEN}", flush=True)
        os.waitpid(pid, 0)
    elif mode == "execv":  # the process replaces itself: what it queued must not be lost
        setup(output)
        calls(n, "before-exec")
        os.execv(sys.executable, [sys.executable, __file__, output, str(n), "exit"])
    elif mode == "open-stream":
        setup(output)
        global KEPT
        KEPT = toy_sdk.Client().create(
            messages=[{"role": "user", "content": "left open at exit"}], model="toy", stream=True
        )
        next(KEPT)
    elif mode == "fork-open-stream":
        setup(output)
        stream = toy_sdk.Client().create(
            messages=[{"role": "user", "content": "read by the parent"}], model="toy", stream=True
        )
        next(stream)
        pid = os.fork()
        if pid == 0:
            calls(n, "forked")
            sys.exit(0)  # the exit hooks run: they must not end the parent's stream
        os.waitpid(pid, 0)
        list(stream)
    elif mode in ("sigterm", "own-sigterm"):
        if mode == "own-sigterm":
            signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(3))
        setup(output)
        calls(n, "main")
        wait_for_sigterm()
    elif mode == "chained-sigterm":
        setup(output)
        previous = signal.getsignal(signal.SIGTERM)

        def shut_down(signum: int, frame: object) -> None:
            if callable(previous):
                previous(signum, frame)
            calls(1, "shutdown")
            sys.exit(4)

        signal.signal(signal.SIGTERM, shut_down)
        calls(n, "main")
        wait_for_sigterm()
    elif mode in ("pool-fork", "pool-spawn"):
        setup(output)
        with multiprocessing.get_context(mode[5:]).Pool(2) as pool:  # __exit__: terminate()
            assert pool.map(pool_work, [(output, n)] * 4) == [n] * 4
    elif mode == "sigterm-in-exit-drain":
        from llmlog import _ending
        from llmlog.instrumentors import _openai_agent_sessions

        setup(output)
        calls(n, "main")
        signalled: list[bool] = []

        def signal_mid_drain() -> None:
            if not signalled:  # (a second drain would call it again)
                signalled.append(True)
                with _openai_agent_sessions._lock:  # a later before-exit hook takes it
                    os.kill(os.getpid(), signal.SIGTERM)
                    time.sleep(0.05)

        _ending.before_exit.insert(0, signal_mid_drain)
    elif mode == "fork-in-thread":
        setup(output)
        calls(1, "parent")
        outcome: list[str] = []
        thread = threading.Thread(target=fork_in_thread, args=(n, outcome))
        thread.start()
        thread.join()
        print(*outcome)
    elif mode == "atexit-late":
        atexit.register(calls, 1, "late")  # registered first, so it runs after llmlog's drain
        setup(output)
        calls(n, "main")
    elif mode == "daemon-at-exit":
        atexit.register(time.sleep, 0.3)  # runs after llmlog's drain: the daemon goes on
        setup(output)
        counter = os.open(output + ".calls", os.O_WRONLY | os.O_CREAT | os.O_APPEND)

        def loop() -> None:
            for i in range(10**9):
                calls(1, f"daemon-{i}")
                os.write(counter, b"x")

        threading.Thread(target=loop, daemon=True).start()
        while os.fstat(counter).st_size < n:
            time.sleep(0.01)
    elif mode in ("mp-fork", "mp-spawn"):
        setup(output)
        ctx = multiprocessing.get_context(mode[3:])
        proc = ctx.Process(target=child, args=(output, n))
        proc.start()
        proc.join()
        sys.exit(proc.exitcode)


if __name__ == "__main__":
    main()
