"""One measured process: one contender, every workload, raw timings out as JSON.

Run by ``bench_peers.py`` with the Python of the contender's virtualenv. Per
call it reads the wall clock and the *calling thread's* CPU clock; around each
batch of calls (flush included) it reads the process CPU clock, which also
counts background threads (writer, span exporter, sender).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _variants
import _workload


def measure(
    variant: str, workload: str, calls: int, warmup: int, url: str, handler: Any, flush: Any
) -> dict[str, Any]:
    provider, mode, transport = workload.split(":")
    stream = mode == "stream"
    client = _variants.wrap_client(
        variant, _workload.make_client(provider, transport, url, handler)
    )
    for _ in range(warmup):
        _workload.one_call(client, provider, stream)
    flush()
    gc.collect()
    wall: list[int] = []
    cpu: list[int] = []
    chunks = 0
    perf, thread_cpu = time.perf_counter_ns, time.thread_time_ns
    process_start = time.process_time_ns()
    wall_start = perf()
    for _ in range(calls):
        c0, t0 = thread_cpu(), perf()
        chunks = _workload.one_call(client, provider, stream)
        t1, c1 = perf(), thread_cpu()
        wall.append(t1 - t0)
        cpu.append(c1 - c0)
    flush()
    return {
        "wall_ns": wall,
        "cpu_ns": cpu,
        "process_cpu_ns_per_call": (time.process_time_ns() - process_start) / calls,
        "elapsed_ns_per_call": (perf() - wall_start) / calls,
        "chunks": chunks,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variant", required=True)
    parser.add_argument(
        "--workloads", required=True, help="comma-separated provider:mode:transport"
    )
    parser.add_argument("--calls", type=int, required=True, help="non-stream calls per workload")
    parser.add_argument("--stream-calls", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--answer-words", type=int, default=90)
    parser.add_argument("--chunks", type=int, default=500, help="stream chunks (mock transport)")
    parser.add_argument("--url", default="")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    result: dict[str, Any] = {"variant": args.variant, "python": sys.version.split()[0]}
    with tempfile.TemporaryDirectory(prefix="llmlog-bench-") as out_dir:
        try:
            flush = _variants.setup(args.variant, Path(out_dir))
        except Exception as exc:  # a peer that cannot run here is reported, not fatal
            result["error"] = f"{type(exc).__name__}: {exc}"
            result["traceback"] = traceback.format_exc()
            Path(args.out).write_text(json.dumps(result))
            return 0
        handler = _workload.mock_handler(args.answer_words, args.chunks)
        result["workloads"] = {}
        for workload in args.workloads.split(","):
            stream = ":stream:" in workload
            calls = args.stream_calls if stream else args.calls
            warmup = max(2, args.warmup // 10) if stream else args.warmup
            try:
                result["workloads"][workload] = measure(
                    args.variant, workload, calls, warmup, args.url, handler, flush
                )
            except Exception as exc:
                result["workloads"][workload] = {"error": f"{type(exc).__name__}: {exc}"}
                traceback.print_exc()
        result["lines_written"] = _count_lines(Path(out_dir))
    result["versions"] = _versions()
    Path(args.out).write_text(json.dumps(result))
    return 0


def _count_lines(out_dir: Path) -> int:
    """Lines the contender wrote locally (a check that it really captured every call)."""
    return sum(path.read_bytes().count(b"\n") for path in out_dir.rglob("*.jsonl"))


def _versions() -> dict[str, str]:
    from importlib import metadata

    names = [
        "openai",
        "anthropic",
        "httpx2",
        "pydantic",
        "llmlog",
        "openinference-instrumentation-openai",
        "openinference-instrumentation-anthropic",
        "opentelemetry-instrumentation-openai",
        "opentelemetry-instrumentation-anthropic",
        "opentelemetry-instrumentation-openai-v2",
        "opentelemetry-sdk",
        "logfire",
        "langsmith",
    ]
    found = {}
    if "llmlog" in sys.modules:
        found["llmlog"] = sys.modules["llmlog"].__version__
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


if __name__ == "__main__":
    raise SystemExit(main())
