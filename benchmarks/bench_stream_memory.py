"""Memory a long stream costs: while the app reads it, and when the writer makes its record.

One process per case (bare, llmlog) and provider: a real client over
``httpx2.MockTransport`` reads a stream of ``--chunks`` chunks; ``tracemalloc``
(which sees every thread) gives the peak above what was allocated before the call,
during the call and up to the end of ``llmlog.flush()``, per chunk.

    python benchmarks/bench_stream_memory.py [--chunks 20000]
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _workload  # noqa: E402


def measure(provider: str, with_llmlog: bool, chunks: int) -> tuple[float, float]:
    """Peak bytes per chunk: during the call, and up to the record written."""
    import llmlog

    with tempfile.TemporaryDirectory() as out:
        if with_llmlog:
            llmlog.instrument(output=f"{out}/llmlog.jsonl", redact="secrets")
        handler = _workload.mock_handler(90, chunks)
        client = _workload.make_client(provider, "mock", None, handler)
        _workload.one_call(client, provider, True)  # warm-up: imports, first record
        llmlog.flush()
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        _workload.one_call(client, provider, True)
        during = tracemalloc.get_traced_memory()[1] - base
        llmlog.flush()
        overall = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
    return during / chunks, overall / chunks  # bytes per chunk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--one", nargs=2, metavar=("PROVIDER", "CASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        during, overall = measure(args.one[0], args.one[1] == "llmlog", args.chunks)
        print(f"{during:.0f} {overall:.0f}")
        return
    print("| provider | case | peak during the call | peak up to the record written |")
    print("|---|---|---|---|")
    for provider in ("openai", "anthropic"):
        for case in ("bare", "llmlog"):
            command = [
                sys.executable,
                __file__,
                "--chunks",
                str(args.chunks),
                "--one",
                provider,
                case,
            ]
            during, overall = subprocess.run(
                command, check=True, capture_output=True, text=True
            ).stdout.split()
            print(f"| {provider} | {case} | {during} | {overall} |")


if __name__ == "__main__":
    main()
