"""The Live protocol for the loopback WebSocket server of ``openai_ws_fake`` (``/v1/live``).

A session starts with ``session.start`` (echoed as ``session.started`` with an id;
a fork's model is ``gpt-live-1``), or on a sideband attachment with nothing. Each
``session.input_audio.append`` is a user turn, chosen by its ``audio``:

- anything: heard as "Book a " "table", answered "Sure, " "booked." (an audio delta
  first), then ``session.usage.updated`` (1.5 more seconds)
- ``fake-delegate``: the model delegates to Responses (``session.delegation.created``),
  whose nested stream says "Found " "two." (its lifecycle snapshots without output, as
  the server sends them; the completed one with usage), then says "I found two."
- ``fake-delegate-fail``: a delegated response that fails (``response.failed``)
- ``fake-delegate-hang``: a delegated response that says "Look" and then nothing (the
  model says "One moment.")
- ``fake-decide``: a Decisions delegation, answered at once (``decision.event``)
- ``fake-trigger``: an input transcript delta that fires the session's trigger
- ``fake-drop`` / ``fake-bye``: the connection breaks (1011) / closes normally (1000)
- ``fake-error``: an ``error`` event (the session goes on)

The app's ``response.create`` gets a nested response ("Done.", no delegation id; one
whose ``event_id`` starts with "continue" continues the last delegation);
``decision.create`` a ``decision.event`` (``event_id`` "refused": an error naming it);
``session.close`` gets ``session.closed``.
On a sideband (which sends no audio), appended instructions are followed by a user
turn on the primary transport, chosen by their text as above.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from websockets.sync.server import ServerConnection

from openai_ws_fake import USAGE

DECISION = {
    "model": "gpt-6-luna",
    "answers": [{"type": "predicate", "name": "wants_booking", "probability": 0.97}],
    "usage": {"input_tokens": 30, "output_tokens": 2, "total_tokens": 32},
}


class Live:
    def __init__(
        self, ws: ServerConnection, ids: Iterator[int], path: str, totals: dict[str, float]
    ) -> None:
        """``totals``: audio seconds per session id, the server's (a sideband reattaching
        sees the session's running total)."""
        self.ws, self.ids, self.totals = ws, ids, totals
        self.session: dict[str, Any] = {"id": path.split("/")[-2], "model": "gpt-live-1"}
        self.fork, self.sideband = path.endswith("/fork"), path.endswith("/attach")
        self.delegation: str | None = None  # the last one

    @property
    def seconds(self) -> float:
        return self.totals.get(self.session["id"], 0.0)

    def send(self, event: dict[str, Any]) -> None:
        self.ws.send(json.dumps({**event, "event_id": f"evt_{next(self.ids)}"}))

    def answer(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "session.start":
            started = {"model": "gpt-live-1"} if self.fork else {}
            started |= {k: v for k, v in event["session"].items() if v is not None}
            started |= {"id": f"live_{next(self.ids)}", "expires_at": 0, "status": "active"}
            self.session = started
            self.send({"type": "session.started", "session": self.session})
        elif kind == "session.update":
            self.session |= event["session"]
            self.send({"type": "session.updated", "session": self.session})
        elif kind == "session.input_audio.append":
            self.turn(event.get("audio"))
        elif kind == "session.instructions.append":
            self.send({"type": "session.instructions.appended", "start_ms": 0, "end_ms": 0})
            if self.sideband:  # the caller on the primary transport speaks (as the text says)
                self.turn(event.get("content"))
        elif kind == "response.create":
            continued = str(event.get("event_id")).startswith("continue")
            self.delegated(self.delegation if continued else None, "Done.", "completed")
        elif kind == "decision.create" and event.get("event_id") == "refused":
            error = {"type": "invalid_request_error", "message": "No.", "code": "duplicate"}
            self.send({"type": "error", "error": {**error, "client_event_id": "refused"}})
        elif kind == "decision.create":
            self.send({"type": "decision.event", "event": self.decision()})
        elif kind == "session.close":
            usage = {"seconds": self.seconds}
            closed = {"reason": "close_requested", "session": self.session, "usage": usage}
            self.send({"type": "session.closed", **closed})
            self.ws.close()

    def turn(self, audio: Any) -> None:
        if audio in ("fake-drop", "fake-bye"):
            bye = audio == "fake-bye"
            self.ws.close(code=1000 if bye else 1011, reason="done" if bye else "fell over")
            return
        if audio == "fake-error":
            error = {"type": "invalid_request_error", "code": "bad_audio", "message": "Bad audio."}
            self.send({"type": "error", "error": error})
            return
        if audio == "fake-trigger":
            self.transcript("input", "I want to book")
            fired = {"trigger_id": "trg_1", "source_event_type": "session.input_transcript.delta"}
            self.send({"type": "decision.event", "event": self.decision(), **fired})
            return
        for piece in ("Book a ", "table"):
            self.transcript("input", piece)
        delegation = self.delegation = f"dlg_{next(self.ids)}"
        said: tuple[str, ...] = ("Sure, ", "booked.")
        if audio in ("fake-delegate", "fake-delegate-fail", "fake-delegate-hang"):
            self.delegate(delegation, "responses")
            if audio == "fake-delegate-hang":
                self.delegated(delegation, "Look", None)
                self.transcript("output", "One moment.")
                return
            failed = audio == "fake-delegate-fail"
            self.delegated(delegation, "Found two.", "failed" if failed else "completed")
            said = ("I found two.",)
        elif audio == "fake-decide":
            self.delegate(delegation, "decisions")
            decision = {"type": "decision.event", "delegation_id": delegation}
            self.send({**decision, "event": self.decision()})
        self.send({"type": "session.output_audio.delta", "delta": "AAAA" * 64})
        for piece in said:
            self.transcript("output", piece)
        self.totals[self.session["id"]] = self.seconds + 1.5
        usage = {"type": "session.usage.updated", "usage": {"seconds": self.seconds}}
        self.send({**usage, "context_window": {"usage_ratio": 0.1}})

    def transcript(self, direction: str, text: str) -> None:
        timing = {"start_ms": 0, "end_ms": 10}
        self.send({"type": f"session.{direction}_transcript.delta", "delta": text, **timing})

    def delegate(self, delegation: str, target: str) -> None:
        created = {"id": delegation, "target": target, "type": "delegation"}
        if target == "responses":
            created["response_id"] = f"resp_{delegation}"
        self.send({"type": "session.delegation.created", "delegation": created, "offset_ms": 5})

    def delegated(self, delegation: str | None, text: str, end: str | None) -> None:
        """A nested Responses stream: lifecycle snapshots carry no output (as served)."""
        config = (self.session.get("delegation") or {}).get("responses") or {}
        response = {
            "id": f"resp_{delegation or 'app'}_{next(self.ids)}",
            "object": "response",
            "model": config.get("model", "gpt-5.5"),
            "status": "in_progress",
            "output": [],
        }

        def nested(event: dict[str, Any]) -> None:
            self.send({"type": "response.event", "event": event, "delegation_id": delegation})

        nested({"type": "response.created", "response": response, "sequence_number": 0})
        first, _, rest = text.partition(" ")
        for number, piece in enumerate((first + " ", rest) if rest else (first,)):
            delta = {"type": "response.output_text.delta", "delta": piece, "item_id": "msg_1"}
            nested({**delta, "output_index": 0, "content_index": 0, "sequence_number": number})
        if end == "completed":
            done = {**response, "status": "completed", "usage": USAGE}
            nested({"type": "response.completed", "response": done, "sequence_number": 9})
        elif end == "failed":
            error = {"code": "server_error", "message": "The backend fell over."}
            failed = {**response, "status": "failed", "error": error}
            nested({"type": "response.failed", "response": failed, "sequence_number": 9})

    @staticmethod
    def decision() -> dict[str, Any]:
        return {"type": "decision.completed", "decision": DECISION}
