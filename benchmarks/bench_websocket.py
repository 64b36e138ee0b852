"""What llmlog adds on the app's thread per WebSocket message (Responses and Realtime).

Every message the app receives passes through llmlog's ``recv_bytes`` wrapper,
which reads its ``type`` and keeps it for the response in flight. This times
that wrapper (the real one, with a real session and a response in flight) on
the common messages, next to what the SDK itself spends turning the same
message into an event (``parse_event``, which ``recv()`` and iteration call).
One process, ``thread_time``, the median of ``--rounds`` rounds.

    python benchmarks/bench_websocket.py [--messages 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai.resources.realtime.realtime as realtime_module
import openai.resources.responses.responses as responses_module

import llmlog
from llmlog.instrumentors import _openai_websocket as websocket
from llmlog.instrumentors import _openai_websocket_patches as patches
from llmlog.instrumentors._openai_realtime import RealtimeSession

TEXT_DELTA = {"type": "response.output_text.delta", "sequence_number": 7, "item_id": "msg_1"}
TEXT_DELTA.update(output_index=0, content_index=0, delta=" word", logprobs=[])
AUDIO = base64.b64encode(bytes(4800)).decode()  # 100 ms of 24 kHz pcm16
MESSAGES: dict[str, tuple[str, type[websocket.Session], Any, dict[str, Any]]] = {
    "responses: text delta": ("Responses", websocket.Session, responses_module, TEXT_DELTA),
    "realtime: transcript delta": (
        "Realtime",
        RealtimeSession,
        realtime_module,
        {"type": "response.output_audio_transcript.delta", "event_id": "e", "response_id": "r"}
        | {"item_id": "i", "output_index": 0, "content_index": 0, "delta": " word"},
    ),
    "realtime: audio delta (100 ms)": (
        "Realtime",
        RealtimeSession,
        realtime_module,
        {"type": "response.output_audio.delta", "event_id": "e", "response_id": "r"}
        | {"item_id": "i", "output_index": 0, "content_index": 0, "delta": AUDIO},
    ),
}


class _Queue:
    """Stands in for the SDK's send queue: sessions are kept per queue."""


class _Connection:
    def __init__(self) -> None:
        self._send_queue = _Queue()


def _per_call(function: Callable[[], Any], count: int) -> float:
    started = time.thread_time_ns()
    for _ in range(count):
        function()
    return (time.thread_time_ns() - started) / count / 1000


def measure(name: str, count: int) -> tuple[float, float]:
    prefix, session_class, module, event = MESSAGES[name]
    message = json.dumps(event).encode()
    recv = patches.wrappers(prefix, session_class)[f"{prefix}Connection.recv_bytes"]
    connection = _Connection()
    session = patches._session(connection, session_class)
    assert session is not None
    session.sent(json.dumps({"type": "response.create", "model": "gpt-5", "input": "Hi"}))
    started = {"type": "response.created", "response": {"id": "r", "status": "in_progress"}}
    session.received(json.dumps(started).encode())

    def receive() -> bytes:
        return message

    wrapped = _per_call(lambda: recv(receive, connection, (), {}), count)
    bare = _per_call(receive, count)
    connection_class = getattr(module, f"{prefix}Connection")
    parse = _per_call(lambda: connection_class.parse_event(None, message), max(count // 20, 100))
    session.end_all("cancelled")  # let the record go (it holds every message)
    return wrapped - bare, parse


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    llmlog.instrument(output=str(Path(tempfile.mkdtemp()) / "llmlog.jsonl"))
    print("| message | llmlog on the app's thread, µs | the SDK's parse_event, µs |")
    print("|---|---|---|")
    for name in MESSAGES:
        rounds = [measure(name, args.messages) for _ in range(args.rounds)]
        added = statistics.median(r[0] for r in rounds)
        parse = statistics.median(r[1] for r in rounds)
        print(f"| {name} | {added:.2f} | {parse:.1f} |")
    llmlog.flush(60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
