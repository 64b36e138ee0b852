"""What llmlog adds per call, counted in CPU instructions under valgrind (callgrind).

Run: ``PYTHONPATH=src python benchmarks/bench_instructions.py [--provider openai] [--calls 200]``

Timings on a shared machine move by more than llmlog costs (``bench_overhead.py``
saw a bare call vary by 50% from process to process); instruction counts do not.
Each configuration of ``bench_overhead.py`` (the same client, calls and
transport) runs in a fresh process under callgrind three times, with N, 2N and 3N
calls; the differences, divided by N, are the cost of one call with start-up,
imports and warm-up cancelled out (both are printed: they agree when the count is
steady). Hash seeds are fixed and the heap left by imports is frozen out of the
cyclic GC, whose full passes over it would otherwise swamp the count. Reported per call:

- ``bare``: the SDK call alone;
- ``caller-only``: llmlog's work on the app's thread (captures dropped);
- ``llmlog``: everything, the writer's chain included (every thread is counted).

Instructions are not time: they miss cache misses and waits, which is where a
writer sharing the app's cores costs more (``bench_overhead.py`` measures that).
The µs column converts at the bare call's own rate (its native µs / instructions),
an estimate for comparing changes, not a timing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = str(HERE.parent / "src")
MODES = ("bare", "caller-only", "llmlog")


def instructions(provider: str, mode: str, kind: str, calls: int) -> int:
    """Instructions of one child process (all threads) running ``calls`` calls."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            str(HERE / "bench_overhead.py"),
            "--child",
            f"{provider},{mode},{kind},{calls},10",
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("LLMLOG_")}
        env.update(PYTHONPATH=SRC, PYTHONHASHSEED="0", BENCH_GC_FREEZE="1")
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
        found = re.search(r"Collected : (\d+)", done.stderr)
        if found is None:
            raise RuntimeError(f"no instruction count from callgrind:\n{done.stderr[-2000:]}")
        return int(found.group(1))


def native_us(provider: str, kind: str, calls: int) -> float:
    """The bare call's median caller CPU in µs, natively (for the µs estimate)."""
    command = [sys.executable, str(HERE / "bench_overhead.py"), "--child"]
    command.append(f"{provider},bare,{kind},{calls},10")
    env = dict(os.environ, PYTHONPATH=SRC)
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return float(json.loads(done.stdout.strip().splitlines()[-1])["thread_us"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", default="openai", choices=("openai", "anthropic"))
    parser.add_argument("--kind", default="plain", choices=("plain", "stream"))
    parser.add_argument("--calls", type=int, default=200, help="N (and 2N) calls per process")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("bench_instructions.py needs valgrind (apt install valgrind)")
    per_call = {}
    for mode in MODES:
        counts = [instructions(args.provider, mode, args.kind, k * args.calls) for k in (1, 2, 3)]
        slopes = [(b - a) / args.calls for a, b in itertools.pairwise(counts)]
        per_call[mode] = sum(slopes) / 2
        shown = " and ".join(f"{slope:,.0f}" for slope in slopes)
        print(f"{mode}: {shown} instructions per call (N to 2N, 2N to 3N)", file=sys.stderr)
    bare = per_call["bare"]
    us_per_instruction = native_us(args.provider, args.kind, args.calls * 5) / bare
    print(f"\n{args.provider}, {args.kind} calls, N = {args.calls}; instructions per call\n")
    print("| | instructions per call | added | added, µs at the bare call's rate |")
    print("|---|---|---|---|")
    for mode in MODES:
        added = per_call[mode] - bare
        cells = " | " if mode == "bare" else f"{added:+,.0f} | {added * us_per_instruction:+.1f}"
        print(f"| {mode} | {per_call[mode]:,.0f} | {cells} |")


if __name__ == "__main__":
    main()
