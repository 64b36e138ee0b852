"""What llmlog adds to an Anthropic call: caller-thread CPU and total CPU per record.

Run: ``PYTHONPATH=src python benchmarks/_overhead_anthropic.py [--rounds 7] [--calls 300]``

The same calls go through a real ``anthropic.Anthropic`` client over
``httpx2.MockTransport`` (no network), bare and instrumented, in interleaved
rounds so drift hits both sides alike:

- ``messages.create``: a ~1 KB prompt (system + user), a short answer;
- ``messages.create(stream=True)``: the same prompt, a 500-delta answer;
- ``messages.stream()`` + ``get_final_text()``: the helper over the same 500 deltas.

Reported per case: the median caller-thread CPU of one call (``time.thread_time``:
the writer thread is not in it) bare and instrumented, the difference (and per
streamed delta), and the total process CPU per record including the writer
thread (redaction ``secrets``, JSON lines written to a temporary file).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import anthropic
import httpx2

MODEL = "claude-haiku-4-5"
DELTAS = 500
SYSTEM = "You are a careful assistant for a logistics company. " * 6
PROMPT = "Summarise the shipment report below in three bullet points, keep every number exact. " * 8

Call = Callable[[], Any]


def _message_body() -> bytes:
    body = {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": "Three bullets: on time, 4% late, 2 lost."}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 260, "output_tokens": 18, "cache_read_input_tokens": 0},
    }
    return json.dumps(body).encode()


def _sse_body() -> bytes:
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_bench_stream",
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 260, "output_tokens": 1},
        },
    }
    events: list[dict[str, Any]] = [
        start,
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta"}}
    events += [delta | {"delta": {"type": "text_delta", "text": "word "}} for _ in range(DELTAS)]
    events += [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": DELTAS},
        },
        {"type": "message_stop"},
    ]
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


def _client(body: bytes, content_type: str) -> anthropic.Anthropic:
    headers = {"request-id": "req_bench", "content-type": content_type}

    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=body, headers=headers)

    http = httpx2.Client(transport=httpx2.MockTransport(answer))
    return anthropic.Anthropic(api_key="sk-ant-bench", http_client=http, max_retries=0)


def scenario_fields() -> dict[str, Any]:
    """The Anthropic row of ``bench_overhead.py``: ``Scenario(**scenario_fields())``."""
    from llmlog.instrumentors.anthropic import is_content_event

    kwargs = _request()
    json_headers = {"request-id": "req_bench", "content-type": "application/json"}
    sse_headers = {"request-id": "req_bench", "content-type": "text/event-stream"}
    message, sse = _message_body(), _sse_body()

    def make_client(handler: Callable[[Any], Any]) -> anthropic.Anthropic:
        http = httpx2.Client(transport=httpx2.MockTransport(handler))
        return anthropic.Anthropic(api_key="sk-ant-bench", http_client=http, max_retries=0)

    def stream_chunks(client: anthropic.Anthropic) -> Any:
        return client.messages.create(**kwargs, stream=True)

    def stream_call(client: anthropic.Anthropic) -> None:
        for _event in stream_chunks(client):
            pass

    return {
        "make_client": make_client,
        "plain_call": lambda client: client.messages.create(**kwargs),
        "stream_call": stream_call,
        "plain_answer": lambda request: httpx2.Response(200, content=message, headers=json_headers),
        "stream_answer": lambda request: httpx2.Response(200, content=sse, headers=sse_headers),
        "stream_chunks": stream_chunks,
        "stream_method": "messages.create",
        "stream_operation": "messages",
        "stream_is_content": is_content_event,
        "stream_named_events": True,
    }


def _request() -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 512,
        "system": SYSTEM,
        "messages": [{"role": "user", "content": PROMPT}],
    }


def cases() -> dict[str, tuple[Call, int]]:
    """Case name -> (one call, streamed deltas per call)."""
    plain = _client(_message_body(), "application/json")
    streamed = _client(_sse_body(), "text/event-stream")
    kwargs = _request()

    def create() -> Any:
        return plain.messages.create(**kwargs)

    def create_stream() -> Any:
        for _event in streamed.messages.create(**kwargs, stream=True):
            pass

    def stream_helper() -> Any:
        with streamed.messages.stream(**kwargs) as stream:
            return stream.get_final_text()

    return {
        "messages.create": (create, 0),
        "messages.create(stream=True)": (create_stream, DELTAS),
        "messages.stream() helper": (stream_helper, DELTAS),
    }


def _caller_cpu_us(call: Call, calls: int) -> list[float]:
    samples = []
    for _ in range(calls):
        start = time.thread_time_ns()
        call()
        samples.append((time.thread_time_ns() - start) / 1000)
    return samples


def _process_cpu_us(call: Call, calls: int, flush: bool) -> float:
    import llmlog

    start = time.process_time_ns()
    for _ in range(calls):
        call()
    if flush:
        llmlog.flush(60)
    return (time.process_time_ns() - start) / 1000 / calls


def measure(rounds: int, calls: int) -> list[dict[str, Any]]:
    """Interleaved bare/instrumented rounds per case; medians in microseconds."""
    import llmlog

    results = []
    with tempfile.TemporaryDirectory() as folder:
        settings = {"output": str(Path(folder) / "bench.jsonl"), "redact": "secrets"}
        for name, (call, deltas) in cases().items():
            for _ in range(20):  # warm up imports, pydantic caches, price tables
                call()
            bare: list[float] = []
            logged: list[float] = []
            bare_total: list[float] = []
            logged_total: list[float] = []
            for _ in range(rounds):
                bare += _caller_cpu_us(call, calls)
                bare_total.append(_process_cpu_us(call, calls, flush=False))
                llmlog.instrument(**settings)
                logged += _caller_cpu_us(call, calls)
                logged_total.append(_process_cpu_us(call, calls, flush=True))
                llmlog.uninstrument()
            bare_us, logged_us = statistics.median(bare), statistics.median(logged)
            added = logged_us - bare_us
            results.append(
                {
                    "case": name,
                    "bare_us": bare_us,
                    "instrumented_us": logged_us,
                    "added_caller_us": added,
                    "ratio": logged_us / bare_us,
                    "added_per_delta_us": added / deltas if deltas else None,
                    "added_total_cpu_per_record_us": statistics.median(logged_total)
                    - statistics.median(bare_total),
                }
            )
    return results


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| case | bare µs | with llmlog µs | added (caller) µs | ratio | added per delta µs "
        "| added total CPU per record µs |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results:
        per_delta = row["added_per_delta_us"]
        lines.append(
            f"| {row['case']} | {row['bare_us']:.0f} | {row['instrumented_us']:.0f} "
            f"| {row['added_caller_us']:.1f} | {row['ratio']:.3f} "
            f"| {'-' if per_delta is None else f'{per_delta:.3f}'} "
            f"| {row['added_total_cpu_per_record_us']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    print(f"anthropic {anthropic.__version__}, {args.rounds} rounds x {args.calls} calls")
    print(table(measure(args.rounds, args.calls)))


if __name__ == "__main__":
    main()
