"""A toy app for subprocess tests: ``python toy_app.py OUTPUT N [MODE]``.

Instruments llmlog (settings from the environment), makes N toy calls and
exits the way MODE says: ``exit`` (normal end), ``fork`` (a forked child makes
the calls), ``mp-fork`` / ``mp-spawn`` (a multiprocessing child does), ``open-stream``
(a stream still open, half-read, when the interpreter exits), ``fork-open-stream`` (a
child forked while the parent reads a stream ends with ``sys.exit``).
"""

from __future__ import annotations

import multiprocessing
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import llmlog
from llmlog.instrumentors import _base
from support import toy_instrumentor, toy_sdk


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


KEPT: object = None


def main() -> None:
    output, n, mode = sys.argv[1], int(sys.argv[2]), (sys.argv[3] if len(sys.argv) > 3 else "exit")
    if mode == "exit":
        setup(output)
        calls(n, "main")
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
    elif mode in ("mp-fork", "mp-spawn"):
        setup(output)
        ctx = multiprocessing.get_context(mode[3:])
        proc = ctx.Process(target=child, args=(output, n))
        proc.start()
        proc.join()
        sys.exit(proc.exitcode)


if __name__ == "__main__":
    main()
