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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
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
    stream_chunks: Callable[[Any], Any]
    """client -> the chunk objects of one streamed answer (read bare, once)."""
    stream_method: str
    stream_operation: str
    stream_is_content: Callable[[Any], bool]
    stream_named_events: bool = False
    """The SDK makes chunks of named events only (anthropic): the tee checks each name."""


def _openai_scenario() -> Scenario:
    import httpx2
    import openai

    from llmlog.instrumentors._openai_chunks import is_content_for

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

    def stream_chunks(client: Any) -> Any:
        return client.chat.completions.create(model="gpt-4o", messages=messages, stream=True)

    def stream_call(client: Any) -> None:
        for _ in stream_chunks(client):
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
        stream_chunks=stream_chunks,
        stream_method="chat.completions.create",
        stream_operation="chat.completions",
        stream_is_content=is_content_for("chat.completions"),
    )


def _anthropic_scenario() -> Scenario:
    from _overhead_anthropic import scenario_fields

    return Scenario(**scenario_fields())


SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "openai": _openai_scenario,
    "anthropic": _anthropic_scenario,
}
"""provider -> scenario factory (the Anthropic row is added next to this one)."""


class _Event:
    """A server-sent event as the SDKs' decoders yield it."""

    __slots__ = ("data", "event")

    def __init__(self, data: str, event: str | None) -> None:
        self.data = data
        self.event = event


class _ListDecoder:
    def __init__(self, events: list[_Event]) -> None:
        self.events = events

    def iter_bytes(self, _body: Any) -> Any:
        return iter(self.events)


class _ListStream:
    """Chunks already in memory, pulled event by event through a decoder the way the
    SDKs' streams do: isolates what llmlog adds per chunk (the proxy and the event tee)."""

    def __init__(self, chunks: list[Any], events: list[_Event]) -> None:
        self.chunks = chunks
        self._decoder = _ListDecoder(events)

    def __iter__(self) -> Any:
        for _event, chunk in zip(self._decoder.iter_bytes(None), self.chunks, strict=True):
            yield chunk

    def close(self) -> None:
        pass


def measure(provider: str, mode: str, kind: str, calls: int, warmup: int) -> dict[str, float]:
    """In this (fresh) process: per-call caller-thread CPU and total process CPU, in µs.

    ``mode``: ``bare``; ``llmlog`` (instrumented, writer thread running);
    ``caller-only`` (instrumented, finished captures dropped instead of queued,
    so no writer runs and nothing outlives the call: the wrappers' own cost).
    """
    sys.path.insert(0, SRC)
    scenario = SCENARIOS[provider]()
    answer = scenario.plain_answer if kind == "plain" else scenario.stream_answer
    call = scenario.plain_call if kind == "plain" else scenario.stream_call
    client = scenario.make_client(answer)
    if kind == "proxy":
        chunks = list(scenario.stream_chunks(client))
        events = [
            _Event(chunk.model_dump_json(exclude_unset=True), getattr(chunk, "type", None))
            for chunk in chunks
        ]
        call = _proxy_call(provider, scenario, chunks, events, mode)
    if mode != "bare":
        import llmlog

        out = Path(tempfile.mkdtemp()) / "calls.jsonl"
        llmlog.instrument(output=str(out), redact="secrets", service="bench")
        if mode == "caller-only":
            from llmlog.instrumentors import _base, _in_flight

            dropped = SimpleNamespace(
                submit=lambda cap: None, prepare=lambda: None, current=lambda: None
            )
            _base._pipeline = dropped  # type: ignore[assignment]  # (prepare)
            _in_flight._pipeline = dropped  # type: ignore[assignment]  # (submit, in finish)
    for _ in range(warmup):
        call(client)
    if mode != "bare":
        llmlog.flush(30)
    gc.collect()
    if os.environ.get("BENCH_GC_FREEZE"):  # bench_instructions: full collections of the
        gc.freeze()  # SDK's import-time heap would swamp the count per call
    gc_timer = _CallerGcTimer()
    gc.callbacks.append(gc_timer)
    per_call = []
    process_start = time.process_time_ns()
    for _ in range(calls):
        start = time.thread_time_ns()
        call(client)
        per_call.append(time.thread_time_ns() - start)
    gc_ns = gc_timer.total_ns
    gc.callbacks.remove(gc_timer)
    if mode != "bare":
        assert llmlog.flush(60), "writer did not drain"
    process_total = time.process_time_ns() - process_start
    return {
        "thread_us": statistics.median(per_call) / 1000,
        "process_us": process_total / calls / 1000,
        "gc_us": gc_ns / calls / 1000,
    }


class _CallerGcTimer:
    """CPU time the cyclic GC spends on the measuring thread (collections run on
    whichever thread allocates, so objects kept alive elsewhere are paid for here)."""

    def __init__(self) -> None:
        self.caller = threading.get_ident()
        self.total_ns = 0
        self._start = 0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if threading.get_ident() != self.caller:
            return
        if phase == "start":
            self._start = time.thread_time_ns()
        else:
            self.total_ns += time.thread_time_ns() - self._start


def _proxy_call(
    provider: str, scenario: Scenario, chunks: list[Any], events: list[_Event], mode: str
) -> Callable[[Any], None]:
    """Iterate prebuilt chunks bare, or through the stream proxy as ``on_result`` returns it."""
    if mode == "bare":

        def bare(client: Any) -> None:
            for _ in _ListStream(chunks, events):
                pass

        return bare
    import importlib

    from llmlog._record import Capture
    from llmlog.instrumentors._stream import SyncStreamProxy

    instrumentor = importlib.import_module(f"llmlog.instrumentors.{provider}")

    def proxied(client: Any) -> None:
        cap = Capture(
            provider=provider,
            method=scenario.stream_method,
            operation=scenario.stream_operation,
            kwargs={},
            extract=instrumentor.PROVIDER.extract,
        )
        proxy = SyncStreamProxy(
            _ListStream(chunks, events),
            cap,
            scenario.stream_is_content,
            named_events=scenario.stream_named_events,
        )
        for _ in proxy:
            pass

    return proxied


def _run_child(provider: str, mode: str, kind: str, calls: int, warmup: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", f"{provider},{mode},{kind},{calls},{warmup}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LLMLOG_")}
    env["PYTHONPATH"] = SRC
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def breakdown(provider: str, repeat: int = 2000) -> None:
    """Where the time goes, piece by piece (timeit in this process; µs per call or record).

    Caller thread: kwargs snapshot, capture start, ``on_result`` + ``finish``.
    Writer thread: ``extract`` and each processor of the chain, for one
    non-stream record and one 500-chunk streamed record.
    """
    import timeit

    sys.path.insert(0, SRC)
    import llmlog
    from llmlog import _pipeline
    from llmlog._chain import build_processors
    from llmlog.instrumentors import _arguments, _base, _in_flight

    scenario = SCENARIOS[provider]()
    kept: list[Any] = []
    llmlog.instrument(output=str(Path(tempfile.mkdtemp()) / "x.jsonl"), redact="secrets")
    keeping = SimpleNamespace(submit=kept.append, prepare=lambda: None, current=lambda: None)
    _base._pipeline = keeping  # type: ignore[assignment]
    _in_flight._pipeline = keeping  # type: ignore[assignment]
    scenario.plain_call(scenario.make_client(scenario.plain_answer))
    scenario.stream_call(scenario.make_client(scenario.stream_answer))
    plain, streamed = kept
    provider_row = next(p for p in _base._wanted.values() if p.name == provider)
    target = next(t for t in provider_row.targets if t.method == plain.method)

    def per(func: Callable[[], Any], number: int = repeat) -> str:
        func()  # first-use work (the price table, compiled patterns) is not per record
        return f"{timeit.timeit(func, number=number) / number * 1e6:.1f} µs"

    client = scenario.make_client(scenario.plain_answer)

    def caller_path() -> None:
        cap = _base._start(provider_row, target, plain.kwargs, client)
        provider_row.on_result(cap, plain.result)

    def start() -> Any:
        return _base._start(provider_row, target, plain.kwargs, client)

    print(f"caller: snapshot of the kwargs  {per(lambda: _arguments.snapshot(plain.kwargs))}")
    print(f"caller: start a capture        {per(start)}")
    print(f"caller: start + on_result       {per(caller_path)}")
    kept.clear()
    chain = build_processors(_pipeline.current().settings)  # type: ignore[union-attr]
    for label, cap, number in (("non-stream", plain, repeat), ("stream", streamed, 20)):
        print(f"writer ({label}): extract {per(lambda c=cap: c.extract(c), number)}")
        event: Any = {"_capture": cap}
        for processor in chain:
            name = getattr(processor, "__name__", type(processor).__name__)
            before = event

            def run(p: Any = processor, e: Any = before) -> Any:
                return p(None, "info", dict(e))

            print(f"writer ({label}):   {name} {per(run, number)}")
            event = processor(None, "info", dict(before))


MODES = ("bare", "llmlog", "caller-only")
KINDS = ("plain", "stream", "proxy")
Results = dict[tuple[str, str], list[dict[str, float]]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", default="openai", choices=sorted(SCENARIOS))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=1000, help="non-stream calls per process")
    parser.add_argument("--streams", type=int, default=40, help="streamed answers per process")
    parser.add_argument("--breakdown", action="store_true", help="time each piece instead")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.breakdown:
        breakdown(args.provider)
        return
    if args.child:
        provider, mode, kind, calls, warmup = args.child.split(",")
        print(json.dumps(measure(provider, mode, kind, int(calls), int(warmup))))
        return
    results: Results = {}
    counts = {"plain": args.calls, "stream": args.streams, "proxy": args.calls}
    for round_number in range(args.rounds):
        for kind in KINDS:
            # Interleaved, and the order rotates each round so no mode always runs first.
            order = MODES[round_number % 3 :] + MODES[: round_number % 3]
            for mode in order:
                calls = counts[kind]
                result = _run_child(args.provider, mode, kind, calls, max(10, calls // 10))
                results.setdefault((kind, mode), []).append(result)
        print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)
    report(args.provider, results, args)


def report(provider: str, results: Results, args: Any) -> None:
    """Markdown table: medians over rounds."""

    def median(kind: str, mode: str, key: str = "thread_us") -> float:
        return statistics.median(r[key] for r in results[(kind, mode)])

    version = subprocess.run(
        [sys.executable, "-c", f"import {provider}; print({provider}.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    print(f"\n{provider} {version}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs,")
    print(f"{args.rounds} rounds; per process {args.calls} calls or {args.streams} streams")
    print(f"of {STREAM_CHUNKS} chunks; medians over rounds of per-call medians.\n")
    print(
        "| call | bare (caller CPU) | llmlog (caller CPU) | overhead | ratio"
        " | overhead without writer | GC on caller (bare / llmlog) | total CPU added incl. writer |"
    )
    print("|---|---|---|---|---|---|---|---|")
    names = {
        "plain": "non-stream chat call",
        "stream": f"streamed chat answer ({STREAM_CHUNKS} chunks)",
        "proxy": f"proxy and event tee alone over {STREAM_CHUNKS} prebuilt chunks",
    }
    for kind in KINDS:
        bare, instrumented = median(kind, "bare"), median(kind, "llmlog")
        caller_only = median(kind, "caller-only") - bare
        total = median(kind, "llmlog", "process_us") - median(kind, "bare", "process_us")
        per = STREAM_CHUNKS if kind != "plain" else 1
        unit = " per chunk" if per > 1 else ""
        print(
            f"| {names[kind]} | {bare:.1f} µs | {instrumented:.1f} µs"
            f" | {instrumented - bare:+.1f} µs ({(instrumented - bare) / per:+.3f} µs{unit})"
            f" | {instrumented / bare:.3f} | {caller_only / per:+.3f} µs{unit}"
            f" | {median(kind, 'bare', 'gc_us'):.1f} / {median(kind, 'llmlog', 'gc_us'):.1f} µs"
            f" | {total:+.1f} µs |"
        )


if __name__ == "__main__":
    main()
