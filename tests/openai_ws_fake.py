"""A loopback WebSocket server speaking enough of the Responses WebSocket mode for the tests.

Each ``response.create`` is answered by a script chosen by its ``model``:

- any model: ``response.created``, two text deltas ("Hel", "lo"), ``response.completed``
- ``fake-error``: an ``error`` event refusing the request (no response)
- ``fake-failed``: ``response.created``, ``response.failed``
- ``fake-hang``: ``response.created`` and one delta, then nothing
- ``fake-drop``: ``response.created`` and one delta, then the connection breaks (1011)
- ``fake-successor``: a completed response, then one the server starts on its own
- ``fake-lane-first`` / ``fake-lane-second``: the first is held after one delta until the
  second arrives; then both finish, interleaved (each on its ``stream_id``)

Anything else a client sends is ignored (and a realtime ``response.create``, which has no
``model``, gets the default script: it must not be recorded as a Responses call).
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from websockets.sync.server import ServerConnection, serve

USAGE = {
    "input_tokens": 12,
    "output_tokens": 2,
    "total_tokens": 14,
    "input_tokens_details": {"cached_tokens": 4},
    "output_tokens_details": {"reasoning_tokens": 0},
}


class _Script:
    def __init__(self, ws: ServerConnection, ids: Iterator[int]) -> None:
        self.ws, self.ids = ws, ids
        self.held: list[Any] = []

    def send(self, lane: str | None, event: dict[str, Any]) -> None:
        if lane is not None:
            event["stream_id"] = lane
        self.ws.send(json.dumps(event))

    def start(self, request: dict[str, Any], lane: str | None) -> dict[str, Any]:
        response = {
            "id": f"resp_{next(self.ids)}",
            "object": "response",
            "created_at": 1,
            "model": f"{request.get('model', 'gpt-realtime')}-2026",
            "instructions": request.get("instructions"),
            "status": "in_progress",
            "output": [],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
        }
        self.send(lane, {"type": "response.created", "sequence_number": 0, "response": response})
        return response

    def delta(self, lane: str | None, text: str) -> None:
        event = {"type": "response.output_text.delta", "sequence_number": 1, "item_id": "msg_1"}
        self.send(lane, {**event, "output_index": 0, "content_index": 0, "delta": text})

    def complete(self, lane: str | None, response: dict[str, Any], text: str) -> None:
        message = {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed"}
        message["content"] = [{"type": "output_text", "text": text, "annotations": []}]
        done = {**response, "status": "completed", "output": [message], "usage": USAGE}
        self.send(lane, {"type": "response.completed", "sequence_number": 9, "response": done})

    def answer(self, request: dict[str, Any]) -> None:
        model, lane = request.get("model"), request.get("stream_id")
        if model == "fake-error":
            error = {"type": "invalid_request_error", "code": "model_not_found"}
            error.update(message="The model does not exist.", param="model")
            self.send(lane, {"type": "error", "status": 404, "error": error})
            return
        response = self.start(request, lane)
        if model == "fake-failed":
            failed = {**response, "status": "failed"}
            failed["error"] = {"code": "server_error", "message": "The model crashed."}
            self.send(lane, {"type": "response.failed", "sequence_number": 2, "response": failed})
            return
        self.delta(lane, "Hel")
        if model == "fake-hang":
            return
        if model == "fake-drop":
            self.ws.close(code=1011, reason="server fell over")
            return
        if model == "fake-lane-first":
            self.held = [lane, response]
            return
        if model == "fake-lane-second":
            held_lane, held = self.held
            self.delta(held_lane, "lo first")
            self.complete(held_lane, held, "Hello first")
            self.delta(lane, "lo second")
            self.complete(lane, response, "Hello second")
            return
        self.delta(lane, "lo")
        self.complete(lane, response, "Hello")
        if model == "fake-successor":
            successor = self.start({"model": "fake-successor"}, lane)
            self.complete(lane, successor, "And more")


@contextmanager
def serve_responses() -> Iterator[str]:
    """Run the server on 127.0.0.1; yields the ``base_url`` for an ``openai`` client."""
    ids = itertools.count(1)

    def handle(ws: ServerConnection) -> None:
        script = _Script(ws, ids)
        for message in ws:
            event = json.loads(message)
            if event.get("type") == "response.create":
                script.answer(event.get("response") or event)

    server = serve(handle, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.socket.getsockname()[1]}/v1"
    finally:
        server.shutdown()
        thread.join(5)
