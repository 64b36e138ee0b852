"""What llmlog adds to an SDK call, on the app's thread and in total.

Run: ``PYTHONPATH=src python benchmarks/bench_overhead.py [--provider openai] [--rounds 7]``

The same calls go through a real SDK client over ``httpx2.MockTransport``
(answers prebuilt, so the transport costs the same with and without llmlog):
N non-stream calls with a ~1 KB prompt, and M streamed answers of 500 chunks.
Each measurement runs in a fresh process; bare and instrumented processes are
interleaved, round after round, so drift (CPU frequency, caches, neighbours)
hits both alike. Reported per call, median over rounds:

- caller-thread CPU (``time.thread_time``): what the app's own thread pays;
  the overhead is instrumented minus bare, also as a ratio to bare;
- total process CPU including the writer thread (the batch is flushed before
  the clock stops): what a record costs the machine, redaction ``secrets``.

Providers are rows of :data:`SCENARIOS`; add one by writing its ``Scenario``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SRC = str(Path(__file__).resolve().parent.parent / "src")
STREAM_CHUNKS = 500
SYSTEM = "You are a careful assistant for a travel agency. Answer briefly and cite sources. " * 2
QUESTION = (
    "I am planning a two-week trip through northern Norway in late September with two children. "
    "We would like to see the northern lights, take one coastal ferry, and avoid driving more "
    "than four hours on any day. Which towns should we stay in, how many nights in each, and "
    "what should we book in advance? Please also say what clothing we need and whether the "
    "weather usually allows hiking at that time of year. "
) * 2  # with SYSTEM: ~1 KB of prompt


@dataclass(frozen=True)
class Scenario:
    """One provider's client and calls, over a transport that answers instantly."""

    make_client: Callable[[Callable[[Any], Any]], Any]
    plain_call: Callable[[Any], Any]
    stream_call: Callable[[Any], Any]
    plain_answer: Callable[[Any], Any]
    stream_answer: Callable[[Any], Any]


def _openai_scenario() -> Scenario:
    import httpx2
    import openai

    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]
    completion = json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-2024-08-06",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Tromsø, 4 nights. " * 20},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 250, "completion_tokens": 120, "total_tokens": 370},
        }
    ).encode()

    def sse_chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        body = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(body)}\n\n"

    words = [sse_chunk({"content": f"w{i} "}) for i in range(STREAM_CHUNKS - 2)]
    stream_body = "".join(
        [
            sse_chunk({"role": "assistant", "content": ""}),
            *words,
            sse_chunk({}, "stop"),
            "data: [DONE]\n\n",
        ]
    ).encode()
    json_headers = {"content-type": "application/json", "x-request-id": "req_bench"}
    sse_headers = {"content-type": "text/event-stream", "x-request-id": "req_bench"}

    def make_client(handler: Callable[[Any], Any]) -> Any:
        transport = httpx2.MockTransport(handler)
        return openai.OpenAI(
            api_key="sk-bench", http_client=httpx2.Client(transport=transport), max_retries=0
        )

    def stream_call(client: Any) -> None:
        for _ in client.chat.completions.create(model="gpt-4o", messages=messages, stream=True):
            pass

    return Scenario(
        make_client=make_client,
        plain_call=lambda client: client.chat.completions.create(
            model="gpt-4o", messages=messages, temperature=0.2
        ),
        stream_call=stream_call,
        plain_answer=lambda request: httpx2.Response(200, content=completion, headers=json_headers),
        stream_answer=lambda request: httpx2.Response(
            200, content=stream_body, headers=sse_headers
        ),
    )


SCENARIOS: dict[str, Callable[[], Scenario]] = {"openai": _openai_scenario}
"""provider -> scenario factory (the Anthropic row is added next to this one)."""


def measure(
    provider: str, instrumented: bool, kind: str, calls: int, warmup: int
) -> dict[str, float]:
    """In this (fresh) process: per-call caller-thread CPU and total process CPU, in µs."""
    sys.path.insert(0, SRC)
    scenario = SCENARIOS[provider]()
    answer = scenario.plain_answer if kind == "plain" else scenario.stream_answer
    call = scenario.plain_call if kind == "plain" else scenario.stream_call
    client = scenario.make_client(answer)
    if instrumented:
        import llmlog

        out = Path(tempfile.mkdtemp()) / "calls.jsonl"
        llmlog.instrument(output=str(out), redact="secrets", service="bench")
    for _ in range(warmup):
        call(client)
    if instrumented:
        llmlog.flush(30)
    gc.collect()
    per_call = []
    process_start = time.process_time_ns()
    for _ in range(calls):
        start = time.thread_time_ns()
        call(client)
        per_call.append(time.thread_time_ns() - start)
    if instrumented:
        assert llmlog.flush(60), "writer did not drain"
    process_total = time.process_time_ns() - process_start
    return {
        "thread_us": statistics.median(per_call) / 1000,
        "process_us": process_total / calls / 1000,
    }


def _run_child(
    provider: str, instrumented: bool, kind: str, calls: int, warmup: int
) -> dict[str, float]:
    command = [
        sys.executable,
        __file__,
        "--child",
        f"{provider},{int(instrumented)},{kind},{calls},{warmup}",
    ]
    env = {**os.environ, "PYTHONPATH": SRC}
    env = {k: v for k, v in env.items() if not k.startswith("LLMLOG_")}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", default="openai", choices=sorted(SCENARIOS))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=1000, help="non-stream calls per process")
    parser.add_argument("--streams", type=int, default=60, help="streamed answers per process")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        provider, instrumented, kind, calls, warmup = args.child.split(",")
        print(json.dumps(measure(provider, instrumented == "1", kind, int(calls), int(warmup))))
        return
    results: dict[tuple[str, bool], list[dict[str, float]]] = {}
    for round_number in range(args.rounds):
        for kind, calls in (("plain", args.calls), ("stream", args.streams)):
            order = (False, True) if round_number % 2 == 0 else (True, False)
            for instrumented in order:
                result = _run_child(args.provider, instrumented, kind, calls, max(20, calls // 10))
                results.setdefault((kind, instrumented), []).append(result)
        print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)
    report(args.provider, results, args)


def report(
    provider: str, results: dict[tuple[str, bool], list[dict[str, float]]], args: Any
) -> None:
    """Markdown table: medians over rounds."""

    def median(kind: str, instrumented: bool, key: str) -> float:
        return statistics.median(r[key] for r in results[(kind, instrumented)])

    import openai  # the SDK version goes into the table

    print(
        f"\n{provider} {openai.__version__}, Python {sys.version.split()[0]}, {args.rounds} rounds,"
    )
    print(f"{args.calls} calls / {args.streams} streams of {STREAM_CHUNKS} chunks per process\n")
    print(
        "| call | bare caller CPU | + llmlog caller CPU | overhead | ratio | per chunk"
        " | total CPU added (incl. writer) |"
    )
    print("|---|---|---|---|---|---|---|")
    for kind in ("plain", "stream"):
        bare = median(kind, False, "thread_us")
        instr = median(kind, True, "thread_us")
        added_total = median(kind, True, "process_us") - median(kind, False, "process_us")
        per_chunk = f"{(instr - bare) / STREAM_CHUNKS:.3f} µs" if kind == "stream" else "—"
        print(
            f"| {kind} | {bare:.1f} µs | {instr:.1f} µs | {instr - bare:+.1f} µs | "
            f"{instr / bare:.3f} | {per_chunk} | {added_total:+.1f} µs |"
        )


if __name__ == "__main__":
    main()
