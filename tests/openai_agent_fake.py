"""A fake OpenAI Managed Agents API (``/agents/sessions``) over ``httpx2.MockTransport``:
sessions, their event stream, submitted input and turns, in the shapes the SDK parses."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import httpx2

import openai_fakes as fakes

SESSION = "asess_1"
MODEL = "gpt-5"
INSTRUCTIONS = "Answer briefly."
AGENT = {
    "id": "agent_1",
    "name": "helper",
    "model": MODEL,
    "instructions": INSTRUCTIONS,
    "multi_agent": {"enabled": False},
    "reasoning": {"effort": "low"},
    "service_tier": "auto",
    "text": {"format": {"type": "text"}},
    "tools": [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}],
}


def usage(input_tokens: int = 120, output_tokens: int = 30, cached: int = 20) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 5},
        "total_tokens": input_tokens + output_tokens,
    }


def session(status: str = "idle", session_id: str = SESSION) -> dict[str, Any]:
    return {
        "id": session_id,
        "object": "agent.session",
        "agent": AGENT,
        "created_at": 1_700_000_000,
        "environment": {"type": "none"},
        "last_active_at": 1_700_000_000,
        "metadata": {},
        "required_actions": [],
        "status": status,
        "vault_ids": [],
    }


def turn(
    turn_id: str = "turn_1",
    status: str = "completed",
    subagent: str | None = None,
    error: dict[str, Any] | None = None,
    session_id: str = SESSION,
) -> dict[str, Any]:
    ended = status in ("completed", "failed", "cancelled")
    return {
        "id": turn_id,
        "object": "agent.session.turn",
        "agent_id": "agent_1",
        "session_id": session_id,
        "status": status,
        "created_at": 1_700_000_010,
        "started_at": 1_700_000_011,
        "completed_at": 1_700_000_014 if ended else None,
        "subagent_id": subagent,
        "error": error,
        "usage": usage() if ended else None,
    }


def message_item(text: str, turn_id: str = "turn_1") -> dict[str, Any]:
    return {
        "id": f"msg_{turn_id}",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "turn_id": turn_id,
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def function_item(turn_id: str = "turn_1") -> dict[str, Any]:
    return {
        "id": "fc_1",
        "type": "function_call",
        "call_id": "call_1",
        "name": "lookup",
        "arguments": {"city": "Paris"},
        "status": "completed",
        "turn_id": turn_id,
    }


def spawn_item(call_id: str, model: str, turn_id: str = "turn_1") -> dict[str, Any]:
    """The root agent's call that creates a subagent on ``model``."""
    return {
        "id": call_id,
        "type": "create_subagent_call",
        "agent_id": "agent_1",
        "turn_id": turn_id,
        "content": [{"type": "input_text", "text": "research X"}],
        "model": model,
        "status": "completed",
    }


_EVENT_IDS = itertools.count()


class Events:
    """Events of one session, with unique ids, in the order the server sends them."""

    def __init__(self, session_id: str = SESSION) -> None:
        self.session_id = session_id
        self.items: list[dict[str, Any]] = []

    def add(self, kind: str, **fields: Any) -> Events:
        event = {"type": kind, "event_id": f"ev_{next(_EVENT_IDS)}", "session_id": self.session_id}
        self.items.append(event | fields)
        return self

    def created(self) -> Events:
        """The first event of a created session (it names the session only inside)."""
        self.add("agent.session.created", session=session("in_progress", self.session_id))
        del self.items[-1]["session_id"]
        return self

    def turn(
        self,
        turn_id: str = "turn_1",
        text: str | None = "Hello!",
        status: str = "completed",
        subagent: str | None = None,
        items: tuple[dict[str, Any], ...] = (),
        end: bool = True,
    ) -> Events:
        """A whole turn: created, text deltas, its items, its end (unless ``not end``)."""
        begun = turn(turn_id, "in_progress", subagent, session_id=self.session_id)
        self.add("agent.session.turn.created", turn_id=turn_id, turn=begun)
        if text is not None:
            for part in (text[:2], text[2:]):
                self.add(
                    "agent.session.turn.output_text.delta",
                    turn_id=turn_id,
                    item_id=f"msg_{turn_id}",
                    output_index=0,
                    content_index=0,
                    delta=part,
                )
        for index, item in enumerate(items):
            self.add("agent.session.turn.item.done", turn_id=turn_id, item=item, output_index=index)
        if end:
            error = {"code": "server_overloaded", "message": "busy"} if status == "failed" else None
            ended = turn(turn_id, status, subagent, error, self.session_id)
            self.add(
                f"agent.session.turn.{status}",
                turn_id=turn_id,
                turn=ended,
                usage=ended["usage"],
            )
        return self

    def idle(self) -> Events:
        return self.add("agent.session.idle", session=session("idle", self.session_id))


@dataclass
class FakeAgents:
    """``stream``: the events of a created-with-stream session and of ``events.stream``."""

    stream: list[dict[str, Any]] = field(default_factory=list)
    turns: list[dict[str, Any]] = field(default_factory=list)
    status: str = "idle"
    sent: list[Any] = field(default_factory=list)
    page_size: int = 0  # turns listed this many a page (0: all on one)
    send_status: int = 202  # what events.create answers

    def turns_page(self, after: str | None) -> dict[str, Any]:
        """A page of turns (``after`` the one with that id), in the server's order."""
        ids = [t["id"] for t in self.turns]
        start = ids.index(after) + 1 if after in ids else 0
        size = self.page_size or len(self.turns)
        data = self.turns[start : start + size]
        more = start + size < len(self.turns)
        last = data[-1]["id"] if data else None
        return {"object": "list", "data": data, "has_more": more, "last_id": last}

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path.removeprefix("/v1")
        body = json.loads(request.content or b"{}") if request.method == "POST" else {}
        if path == "/agents/sessions" and body.get("stream"):
            return fakes.sse_response(self.stream, named=True, done=False)
        if path == "/agents/sessions":
            return fakes.json_response(session("in_progress"))
        if path == f"/agents/sessions/{SESSION}" and request.method == "DELETE":
            deleted = {"id": SESSION, "object": "agent.session.deleted", "deleted": True}
            return fakes.json_response(deleted)
        if path == f"/agents/sessions/{SESSION}":
            return fakes.json_response(session(self.status))
        if path == f"/agents/sessions/{SESSION}/events" and request.method == "POST":
            self.sent.append(body["events"])
            if self.send_status != 202:
                return fakes.json_response({"error": {"message": "busy"}}, self.send_status)
            return httpx2.Response(202, headers={"x-request-id": "req_ev"})
        if path == f"/agents/sessions/{SESSION}/events":
            return fakes.sse_response(self.stream, named=True, done=False)
        if path == f"/agents/sessions/{SESSION}/turns":
            return fakes.json_response(self.turns_page(request.url.params.get("after")))
        if path.startswith(f"/agents/sessions/{SESSION}/turns/"):
            turn_id = path.rpartition("/")[2]
            return fakes.json_response(next(t for t in self.turns if t["id"] == turn_id))
        return fakes.json_response({"error": {"message": f"no route {path}"}}, 404)
