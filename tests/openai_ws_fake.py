"""A loopback WebSocket server speaking enough of the Responses WebSocket mode for the tests.

Each ``response.create`` is answered by a script chosen by its ``model``:

- any model: ``response.created``, two text deltas ("Hel", "lo"), ``response.completed``
- ``fake-echo``: "answer to <input>"
- ``fake-error``: an ``error`` event refusing the request (no response)
- ``fake-failed``: ``response.created``, ``response.failed``
- ``fake-hang``: ``response.created`` and one delta, then nothing
- ``fake-drop``: ``response.created`` and one delta, then the connection breaks (1011)
- ``fake-successor``: a completed response, then one the server starts on its own
- ``fake-lane-first`` / ``fake-lane-second``: the first is held after one delta until the
  second arrives; then both finish, interleaved (each on its ``stream_id``)
- ``fake-steered``: held after one delta; requests arriving meanwhile wait. A
  ``response.steer`` then ends it (incomplete, steered), the server starts a successor on
  its own, and the waiting requests are answered. A ``fake-error`` request meanwhile is
  refused with an error whose ``sequence_number`` is null, and the held response completes.

Anything else a client sends is ignored.

On ``/v1/realtime`` it speaks the Realtime protocol instead (:class:`_Realtime`), on
``/v1/live`` the Live protocol (``openai_live_fake``).
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
        self.deferred: list[dict[str, Any]] = []

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

    def steer(self) -> None:
        lane, held = self.held
        self.held = []
        self.send(lane, {"type": "response.steer.accepted", "sequence_number": 2})
        incomplete = {**held, "status": "incomplete", "incomplete_details": {"reason": "steered"}}
        part = {"type": "output_text", "text": "Hel", "annotations": []}
        incomplete["output"] = [{"type": "message", "id": "msg_1", "role": "assistant"}]
        incomplete["output"][0].update(status="incomplete", content=[part])
        self.send(
            lane, {"type": "response.incomplete", "sequence_number": 3, "response": incomplete}
        )
        successor = self.start({"model": "fake-steered"}, lane)
        self.complete(lane, successor, "Steered on")
        for request in self.deferred:
            self.answer(request)

    def answer(self, request: dict[str, Any]) -> None:
        model, lane = request.get("model"), request.get("stream_id")
        if model == "fake-error":
            error = {"type": "invalid_request_error", "code": "model_not_found"}
            error.update(message="The model does not exist.", param="model")
            refused = {"type": "error", "status": 404, "error": error}
            if self.held and self.held[1]["model"] == "fake-steered-2026":
                self.send(lane, {**refused, "sequence_number": None})
                held_lane, held = self.held
                self.held = []
                self.complete(held_lane, held, "Hello first")
            else:
                self.send(lane, refused)
            return
        if self.held and self.held[1]["model"] == "fake-steered-2026":
            self.deferred.append(request)
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
        if model in ("fake-lane-first", "fake-steered"):
            self.held = [lane, response]
            return
        if model == "fake-lane-second":
            held_lane, held = self.held
            self.delta(held_lane, "lo first")
            self.complete(held_lane, held, "Hello first")
            self.delta(lane, "lo second")
            self.complete(lane, response, "Hello second")
            return
        if model == "fake-echo":
            self.complete(lane, response, f"answer to {request.get('input')}")
            return
        self.delta(lane, "lo")
        self.complete(lane, response, "Hello")
        if model == "fake-successor":
            successor = self.start({"model": "fake-successor"}, lane)
            self.complete(lane, successor, "And more")


REALTIME_USAGE = {
    "total_tokens": 30,
    "input_tokens": 20,
    "output_tokens": 10,
    "input_token_details": {"cached_tokens": 5, "text_tokens": 15, "audio_tokens": 5},
    "output_token_details": {"text_tokens": 3, "audio_tokens": 7},
}

TRANSCRIPTION_USAGE: dict[str, Any] = {
    "type": "tokens",
    "input_tokens": 14,
    "output_tokens": 3,
    "total_tokens": 17,
    "input_token_details": {"text_tokens": 2, "audio_tokens": 12},
}


class _Realtime:
    """A realtime session: settings, conversation items, and responses to them.

    ``response.create`` (or committing the audio buffer: the server's turn detection)
    runs a response: a transcript "Hel" + "lo" around an audio delta, then ``response.done``.
    Instructions ``fake-hang`` stop it after the first delta, ``fake-failed`` fail it,
    ``fake-tool`` make it call a tool, ``fake-hold`` hold it until the next response.create,
    which then runs alongside it (both finish, the held one first); ``fake-busy`` is
    refused as the API refuses a second response in a conversation; ``fake-later`` waits
    for the next committed audio, whose answer the server starts first. An item whose
    ``call_id`` is ``bad`` is refused with an error about that item; a request with an
    ``event_id`` and instructions ``fake-invalid`` is refused by that id.

    When the session's ``audio.input.transcription`` names a model, committed audio is
    transcribed: "Hi" + " there", then ``completed`` with token usage (``whisper-1``:
    billed by duration); model ``fake-fail`` fails, prompt ``fake-hang`` stops after the
    first delta. A ``transcription`` session transcribes and never answers.
    """

    def __init__(self, ws: ServerConnection, ids: Iterator[int]) -> None:
        self.ws, self.ids = ws, ids
        self.session = {"type": "realtime", "model": "gpt-realtime", "instructions": "Be kind."}
        self.held: dict[str, Any] | None = None
        self.later: dict[str, Any] | None = None
        self.send({"type": "session.created", "session": self.session})

    def send(self, event: dict[str, Any]) -> None:
        self.ws.send(json.dumps(event))

    def add(self, item: dict[str, Any]) -> str:
        if item.get("call_id") == "bad":
            error = {"type": "invalid_request_error", "code": "invalid_value"}
            error.update(message="No such call.", param="item.call_id", event_id=None)
            self.send({"type": "error", "event_id": "event_1", "error": error})
            return ""
        item = {"id": f"item_{next(self.ids)}", "status": "completed", **item}
        self.send({"type": "conversation.item.added", "item": item})
        self.send({"type": "conversation.item.done", "item": item})
        return str(item["id"])

    def answer(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "session.update":
            if event["session"].get("max_output_tokens") == "bad":
                error = {"type": "invalid_request_error", "code": "invalid_value"}
                error.update(
                    param="session.max_response_output_tokens", event_id=event.get("event_id")
                )
                self.send(
                    {"type": "error", "event_id": "event_4", "error": {**error, "message": "No."}}
                )
                return
            self.session = {**self.session, **event["session"]}
            self.send({"type": "session.updated", "session": self.session})
        elif kind == "conversation.item.create":
            self.add(event["item"])
        elif kind == "input_audio_buffer.commit":
            item_id = f"item_{next(self.ids)}"
            self.send({"type": "input_audio_buffer.committed", "item_id": item_id})
            heard = {"type": "input_audio", "transcript": None}
            self.add({"id": item_id, "type": "message", "role": "user", "content": [heard]})
            if self.session.get("type") == "transcription":
                self.transcribe(item_id)
                return
            response = self.start(in_conversation=True)  # the transcript comes meanwhile
            self.transcribe(item_id)
            if self.later is not None:
                later, self.later = self.later, None
                self.finish(later, self.start(in_conversation=later.get("conversation") != "none"))
            self.finish({}, response)
        elif kind == "response.create":
            request = event.get("response") or {}
            if request.get("instructions") == "fake-later":
                self.later = request
                return
            if request.get("instructions") == "fake-invalid":
                error = {"type": "invalid_request_error", "code": "invalid_value", "param": "tools"}
                error.update(message="Invalid tools.", event_id=event.get("event_id"))
                self.send({"type": "error", "event_id": "event_3", "error": error})
                return
            if request.get("instructions") == "fake-busy":
                error = {"type": "invalid_request_error", "param": None, "event_id": None}
                error.update(code="conversation_already_has_active_response")
                error["message"] = "Conversation already has an active response in progress"
                self.send({"type": "error", "event_id": "event_2", "error": error})
                return
            response = self.start(in_conversation=request.get("conversation") != "none")
            if request.get("instructions") == "fake-hold":
                self.held = response
                return
            if self.held is not None:
                held, self.held = self.held, None
                self.finish({}, held)
            self.finish(request, response)

    def transcribe(self, item_id: str) -> None:
        config = self.session.get("audio", {}).get("input", {}).get("transcription") or {}
        if not config.get("model"):
            return
        event = {"item_id": item_id, "content_index": 0}
        kind = "conversation.item.input_audio_transcription."
        self.send({"type": kind + "delta", **event, "delta": "Hi"})
        if config.get("prompt") == "fake-hang":
            return
        if config["model"] == "fake-fail":
            error = {"type": "transcription_error", "code": "audio_unintelligible"}
            error["message"] = "Audio could not be transcribed."
            self.send({"type": kind + "failed", **event, "error": error})
            return
        self.send({"type": kind + "delta", **event, "delta": " there"})
        usage = TRANSCRIPTION_USAGE
        if config["model"] == "whisper-1":
            usage = {"type": "duration", "seconds": 2.5}
        self.send({"type": kind + "completed", **event, "transcript": "Hi there", "usage": usage})

    def start(self, in_conversation: bool) -> dict[str, Any]:
        response = {"id": f"resp_{next(self.ids)}", "object": "realtime.response", "output": []}
        response["conversation_id"] = "conv_1" if in_conversation else None
        self.send({"type": "response.created", "response": {**response, "status": "in_progress"}})
        self.transcript(response, "Hel")
        return response

    def transcript(self, response: dict[str, Any], text: str) -> None:
        delta = {"type": "response.output_audio_transcript.delta", "response_id": response["id"]}
        self.send({**delta, "item_id": "item_out", "delta": text})

    def finish(self, request: dict[str, Any], response: dict[str, Any]) -> None:
        if request.get("instructions") == "fake-hang":
            return
        audio = {"type": "response.output_audio.delta", "response_id": response["id"]}
        self.send({**audio, "item_id": "item_out", "delta": "AAAA" * 64})
        self.transcript(response, "lo")
        done = {**response, "status": "completed", "usage": REALTIME_USAGE}
        if request.get("instructions") == "fake-tool":
            call = {"id": "item_call", "type": "function_call", "call_id": "call_1"}
            call.update(name="get_weather", arguments='{"city": "Paris"}', status="completed")
            self.send({"type": "conversation.item.added", "item": call})
            done["output"] = [call]
        elif request.get("instructions") == "fake-failed":
            error = {"type": "server_error", "code": "boom", "message": "The model crashed."}
            done.update(status="failed", status_details={"type": "failed", "error": error})
        else:
            said = "Classified" if request.get("conversation") == "none" else "Hello"
            part = {"type": "output_audio", "transcript": said}
            message = {"type": "message", "role": "assistant", "content": [part]}
            done["output"] = [{"id": "item_out", "status": "completed", **message}]
        self.send({"type": "response.done", "response": done})


class _Translation:
    """A translation session (``/v1/realtime/translations``): each appended audio chunk is
    heard as "Good " then "morning" (when the session asks for the source transcript)
    and translated as "Bon" then "jour", with an audio delta before each; ``session.close``
    gets ``session.closed``; audio ``fake-drop`` breaks the connection (1011, which the SDK
    may recover from), ``fake-bye`` closes it normally (1000) without ``session.closed``."""

    def __init__(self, ws: ServerConnection, ids: Iterator[int], model: str) -> None:
        self.ws, self.chunks = ws, 0
        session_id = f"sess_{next(ids)}"
        self.session: dict[str, Any] = {"id": session_id, "type": "translation", "model": model}
        self.session.update(expires_at=0, audio={"input": {}, "output": {"language": "es"}})
        self.send({"type": "session.created", "session": self.session})

    def send(self, event: dict[str, Any]) -> None:
        self.ws.send(json.dumps({**event, "event_id": "event_1"}))  # type first, as OpenAI does

    def answer(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "session.update":
            self.session["audio"] = {**self.session["audio"], **event["session"].get("audio", {})}
            self.send({"type": "session.updated", "session": self.session})
        elif kind == "session.input_audio_buffer.append":
            if event.get("audio") in ("fake-drop", "fake-bye"):
                bye = event["audio"] == "fake-bye"
                self.ws.close(code=1000 if bye else 1011, reason="done" if bye else "fell over")
                return
            said, heard = ("Bon", "Good ") if self.chunks % 2 == 0 else ("jour", "morning")
            self.chunks += 1
            if self.session["audio"]["input"].get("transcription"):
                self.send({"type": "session.input_transcript.delta", "delta": heard})
            self.send({"type": "session.output_audio.delta", "delta": "AAAA" * 64})
            self.send({"type": "session.output_transcript.delta", "delta": said})
        elif kind == "session.close":
            self.send({"type": "session.closed"})
            self.ws.close()


@contextmanager
def serve_responses() -> Iterator[str]:
    """Run the server on 127.0.0.1; yields the ``base_url`` for an ``openai`` client."""
    ids = itertools.count(1)
    seconds: dict[str, float] = {}  # Live audio per session

    def handle(ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else ""
        if path.startswith("/v1/live/sessions"):
            from openai_live_fake import Live  # which imports this module

            live = Live(ws, ids, path.partition("?")[0], seconds)
            for message in ws:
                live.answer(json.loads(message))
            return
        if path.startswith("/v1/realtime/translations"):
            translation = _Translation(ws, ids, path.partition("model=")[2].partition("&")[0])
            for message in ws:
                translation.answer(json.loads(message))
            return
        if ws.request is not None and ws.request.path.startswith("/v1/realtime"):
            realtime = _Realtime(ws, ids)
            for message in ws:
                realtime.answer(json.loads(message))
            return
        script = _Script(ws, ids)
        for message in ws:
            event = json.loads(message)
            if event.get("type") == "response.create":
                script.answer(event.get("response") or event)
            elif event.get("type") == "response.steer":
                script.steer()

    server = serve(handle, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.socket.getsockname()[1]}/v1"
    finally:
        server.shutdown()
        thread.join(5)


def hanging_response(url: str) -> Any:
    """A client's Responses WebSocket to the server at ``url``, its ``fake-hang`` response
    read to its first text delta, after which the server sends nothing: the response stays
    in flight while the connection returned lives."""
    import openai

    connection = openai.OpenAI(base_url=url, api_key="sk-test").responses.connect().enter()
    connection.response.create(model="fake-hang", input="Hi")
    for event in connection:
        if event.type == "response.output_text.delta":
            break
    return connection
