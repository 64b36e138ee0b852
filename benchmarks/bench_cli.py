"""How fast is ``llmlog stats`` on a big log, and how much memory does it take?

Generates logs of realistic records (~2 KB each, shaped like what the writer
writes: system prompt, messages, output, usage, process...), then runs
``llmlog stats`` in a fresh process per size and reports wall time and peak
RSS. Also measures the cost processor per record.

    python benchmarks/bench_cli.py                  # 250k, 500k, 1M records
    python benchmarks/bench_cli.py --sizes 100000 --engines duckdb python

The log files go to a temporary directory (``--dir`` to choose) and are
deleted afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

MODELS = ("gpt-4o", "gpt-4o-mini", "o3", "claude-sonnet-4-5", "claude-haiku-4-5")
RUNNER = "import sys; from llmlog.cli import main; sys.exit(main(sys.argv[1:]))"


def record(number: int, rng: random.Random) -> dict[str, Any]:
    model = MODELS[number % len(MODELS)]
    provider = "anthropic" if model.startswith("claude") else "openai"
    day = 1 + number % 28
    status = "error" if rng.random() < 0.03 else "ok"
    question = (
        f"Question {number}: summarise the customer's last three orders and suggest a reply. "
    )
    answer = "Here is a short summary of the orders and a suggested reply for the customer. "
    return {
        "event": "llm.call",
        "schema": 1,
        "id": f"01BENCH{number:019d}",
        "ts": f"2026-01-{day:02d}T{number % 24:02d}:00:00.{number % 1_000_000:06d}Z",
        "provider": provider,
        "operation": "messages" if provider == "anthropic" else "chat.completions",
        "method": "messages.create" if provider == "anthropic" else "chat.completions.create",
        "request_id": f"req_{number:012d}",
        "response_id": f"msg_{number:012d}",
        "model": model,
        "response_model": model + "-2025-01-01",
        "params": {"temperature": 0.2, "max_tokens": 800},
        "system": "You are a support assistant for an online shop. Be brief and friendly. " * 3,
        "messages": [
            {"role": "user", "content": question * 4},
            {"role": "assistant", "content": answer * 2},
            {"role": "user", "content": "Thanks, now in French please. " * 3},
        ],
        "output": {
            "text": answer * 8 if status == "ok" else None,
            "tool_calls": [],
            "finish_reason": "stop",
            "refusal": None,
            "parsed": None,
        },
        "usage": None
        if status == "error"
        else {
            "input_tokens": 400 + number % 300,
            "output_tokens": 150 + number % 100,
            "cached_input_tokens": 128 if number % 3 == 0 else 0,
            "cache_write_tokens": None,
            "reasoning_tokens": None,
            "total_tokens": 550 + number % 400,
            "raw": {"prompt_tokens": 400 + number % 300, "completion_tokens": 150 + number % 100},
        },
        "cost_usd": None if status == "error" else round(0.0005 + rng.random() * 0.01, 6),
        "price_source": "genai-prices 0.2.3",
        "latency_ms": round(rng.lognormvariate(6.5, 0.6), 3),
        "ttft_ms": round(rng.lognormvariate(5.5, 0.5), 3) if number % 2 else None,
        "stream": bool(number % 2),
        "status": status,
        "error": {"type": "APIError", "message": "boom", "status_code": 500, "body": None}
        if status == "error"
        else None,
        "prompt_hash": f"{number % 5000:064x}",
        "session_id": f"session-{number % 1000}",
        "user_id": f"user-{number % 300}",
        "template": {"name": f"template-{number % 7}", "version": "3", "variables": {"n": number}},
        "tags": {"env": "bench"},
        "trace_id": None,
        "span_id": None,
        "redactions": {},
        "truncated": None,
        "process": {
            "service": "shop-assistant",
            "pid": 4242,
            "host": "bench-host",
            "sdk": {"name": provider, "version": "3.54.0"},
            "llmlog": "0.1.0",
        },
    }


def generate(path: Path, count: int) -> float:
    """Write ``count`` records; return the file size in GB."""
    rng = random.Random(count)
    with path.open("wb") as out:
        batch: list[bytes] = []
        for number in range(count):
            batch.append(orjson.dumps(record(number, rng)))
            if len(batch) == 10_000:
                out.write(b"\n".join(batch) + b"\n")
                batch = []
        if batch:
            out.write(b"\n".join(batch) + b"\n")
    return path.stat().st_size / 1e9


def run_stats(path: Path, engine: str, by: str | None) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MB) of one ``llmlog stats``.

    CPU time is reported because wall time on a shared machine measures the
    neighbours too; on an idle 2-core machine wall ~ CPU / 2 for DuckDB.
    """
    argv = [sys.executable, "-c", RUNNER, "stats", "--log", str(path), "--engine", engine]
    if by:
        argv += ["--by", by]
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"llmlog stats failed with exit status {child.returncode}")
    cpu = usage.ru_utime + usage.ru_stime
    return elapsed, cpu, usage.ru_maxrss / 1024  # Linux reports kilobytes


def bench_cost(count: int = 50_000) -> float:
    """Microseconds per record for the cost processor, after the first call."""
    from llmlog.cost import add_cost

    rng = random.Random(1)
    records = [record(n, rng) for n in range(count)]
    add_cost(None, "", dict(records[0]))
    start = time.perf_counter()
    for item in records:
        add_cost(None, "", item)
    return (time.perf_counter() - start) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[250_000, 500_000, 1_000_000])
    parser.add_argument("--engines", nargs="+", default=["duckdb"])
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="llmlog-bench-", dir=args.dir))
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    headers = ("records", "GB", "engine", "by", "wall s", "cpu s", "peak MB")
    print(" ".join(h.rjust(w) for h, w in zip(headers, (9, 5, 7, 6, 7, 6, 8), strict=True)))
    try:
        for size in sorted(args.sizes):
            path = workdir / f"llmlog-{size}.jsonl"
            gigabytes = generate(path, size)
            for engine in args.engines:
                for by in (None, "model"):
                    wall, cpu, peak_mb = run_stats(path, engine, by)
                    print(
                        f"{size:>9} {gigabytes:>5.2f} {engine:>7} {by or '-':>6} "
                        f"{wall:>7.2f} {cpu:>6.2f} {peak_mb:>8.0f}",
                        flush=True,
                    )
            if not args.keep:
                path.unlink()
        # Last: its records fill this process, and a child forked from it
        # would report that memory as its own peak.
        print(f"cost processor: {bench_cost():.1f} us/record")
    finally:
        if not args.keep:
            for leftover in workdir.glob("*"):
                leftover.unlink()
            workdir.rmdir()


if __name__ == "__main__":
    main()
