"""A fake Managed Agents API (``/v1/sessions``) for the real ``anthropic`` SDK, served
through ``httpx2.MockTransport``: sessions, sent events echoed with ids, the event
stream (SSE) and the paginated event list, per session and per thread.

A scenario is the list of events the server "has" for a session; the stream and the
list both serve it (the list in pages of ``page_size``), as the real API would
replay its history.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import anthropic
import httpx2

MODEL = "claude-sonnet-4-5"
SESSION = "sesn_011Test"
THREAD = "sthr_011Sub"
SYSTEM = "You are a weather agent."
_T0 = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    return (_T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def agent(model: str = MODEL, name: str = "weather") -> dict[str, Any]:
    tool = {
        "type": "custom",
        "name": "get_weather",
        "description": "Weather of a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    return {
        "type": "agent",
        "id": "agent_011Weather",
        "name": name,
        "version": 3,
        "model": {"id": model, "speed": "standard"},
        "system": SYSTEM,
        "tools": [tool],
        "mcp_servers": [],
        "skills": [],
    }


def session(session_id: str = SESSION, **fields: Any) -> dict[str, Any]:
    body = {
        "type": "session",
        "id": session_id,
        "agent": agent(),
        "status": "idle",
        "environment_id": "env_011Test",
        "metadata": {},
        "resources": [],
        "vault_ids": [],
        "outcome_evaluations": [],
        "created_at": at(0),
        "updated_at": at(0),
    }
    return body | fields


def thread(thread_id: str = THREAD, model: str = "claude-haiku-4-5") -> dict[str, Any]:
    return {
        "type": "session_thread",
        "id": thread_id,
        "session_id": SESSION,
        "agent": agent(model, name="researcher"),
        "status": "idle",
        "created_at": at(0),
        "updated_at": at(0),
    }


def event(kind: str, event_id: str, seconds: float, **fields: Any) -> dict[str, Any]:
    """One session event as the API writes it."""
    return {"type": kind, "id": event_id, **fields, "processed_at": at(seconds)}


def user_message(text: str, event_id: str = "sevt_user1", seconds: float = 0.0) -> dict[str, Any]:
    return event("user.message", event_id, seconds, content=[{"type": "text", "text": text}])


def request(
    span: str,
    start: float,
    end: float,
    *,
    output: list[dict[str, Any]] | None = None,
    usage: dict[str, Any] | None = None,
    is_error: bool = False,
) -> list[dict[str, Any]]:
    """``span.model_request_start``, the agent's events, ``span.model_request_end``."""
    model_usage = usage or {
        "input_tokens": 100,
        "output_tokens": 20,
        "cache_read_input_tokens": 50,
        "cache_creation_input_tokens": 10,
    }
    return [
        {"type": "span.model_request_start", "id": span, "processed_at": at(start)},
        *(output or []),
        {
            "type": "span.model_request_end",
            "id": f"{span}_end",
            "model_request_start_id": span,
            "model_usage": model_usage,
            "is_error": is_error,
            "processed_at": at(end),
        },
    ]


def agent_message(text: str, event_id: str, seconds: float) -> dict[str, Any]:
    return event("agent.message", event_id, seconds, content=[{"type": "text", "text": text}])


def custom_tool_use(event_id: str = "sevt_tool1", seconds: float = 1.2) -> dict[str, Any]:
    tool_input = {"city": "Paris"}
    return event("agent.custom_tool_use", event_id, seconds, name="get_weather", input=tool_input)


def tool_result(event_id: str = "sevt_result1", seconds: float = 3.0) -> dict[str, Any]:
    content = [{"type": "text", "text": "sunny, 21 C"}]
    kind = "user.custom_tool_result"
    return event(kind, event_id, seconds, custom_tool_use_id="sevt_tool1", content=content)


def idle(event_id: str, seconds: float, reason: str = "end_turn") -> dict[str, Any]:
    stop: dict[str, Any] = {"type": reason}
    if reason == "requires_action":
        stop["event_ids"] = ["sevt_tool1"]
    return event("session.status_idle", event_id, seconds, stop_reason=stop)


def weather_turns() -> list[dict[str, Any]]:
    """Two model requests: one calls the app's tool, the next answers with its result."""
    return [
        user_message("What's the weather in Paris?"),
        event("session.status_running", "sevt_run1", 0.1),
        *request(
            "span_1",
            0.2,
            1.7,
            output=[
                event("agent.thinking", "sevt_think1", 0.5),
                agent_message("Let me check.", "sevt_msg1", 1.0),
                custom_tool_use(),
            ],
        ),
        idle("sevt_idle1", 1.8, "requires_action"),
        tool_result(),
        *request(
            "span_2",
            3.1,
            3.6,
            output=[agent_message("It is sunny in Paris.", "sevt_msg2", 3.5)],
            usage={"input_tokens": 130, "output_tokens": 8},
        ),
        idle("sevt_idle2", 3.7),
    ]


def sse(events: list[dict[str, Any]]) -> bytes:
    return "".join(f"event: message\ndata: {json.dumps(e)}\n\n" for e in events).encode()


class FakeAgents:
    """The server: ``events[(session, thread)]`` is what it serves; ``sent`` what it got."""

    def __init__(self, events: list[dict[str, Any]] | None = None, *, page_size: int = 4) -> None:
        self.events: dict[tuple[str, str | None], list[dict[str, Any]]] = {
            (SESSION, None): list(events or [])
        }
        self.page_size = page_size
        self.sent: list[Any] = []
        self.session_body = session()

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        parts = request.url.path.strip("/").split("/")  # v1 sessions <id> ...
        if parts == ["v1", "sessions"]:
            return self._json(self.session_body)
        session_id, rest = parts[2], parts[3:]
        if rest == []:
            return self._json(self.session_body | {"id": session_id})
        if rest == ["events", "stream"]:
            return self._sse(self.events.get((session_id, None), []))
        if rest == ["events"] and request.method == "POST":
            return self._send(session_id, json.loads(request.content))
        if rest == ["events"]:
            return self._page(self.events.get((session_id, None), []), request)
        if rest[0] == "threads" and len(rest) == 2:
            return self._json(thread(rest[1]))
        if rest[0] == "threads" and rest[2] == "stream":
            return self._sse(self.events.get((session_id, rest[1]), []))
        if rest[0] == "threads" and rest[2] == "events":
            return self._page(self.events.get((session_id, rest[1]), []), request)
        return httpx2.Response(404, json={"type": "error", "error": {"type": "not_found_error"}})

    def _json(self, body: Any) -> httpx2.Response:
        return httpx2.Response(200, json=body, headers={"request-id": "req_agents"})

    def _sse(self, events: list[dict[str, Any]]) -> httpx2.Response:
        headers = {"content-type": "text/event-stream", "request-id": "req_stream"}
        return httpx2.Response(200, content=sse(events), headers=headers)

    def _page(self, events: list[dict[str, Any]], request: httpx2.Request) -> httpx2.Response:
        start = int(request.url.params.get("page", "0"))
        if request.url.params.get("order") == "desc":
            events = events[::-1]
        page = events[start : start + self.page_size]
        more = start + self.page_size < len(events)
        body = {"data": page, "next_page": str(start + self.page_size) if more else None}
        return self._json(body)

    def _send(self, session_id: str, body: dict[str, Any]) -> httpx2.Response:
        echoed = []
        for number, event in enumerate(body["events"]):
            self.sent.append(event)
            echoed.append({**event, "id": f"sevt_sent{len(self.sent)}_{number}"})
        return self._json({"data": echoed})


def sync_client(server: Callable[[httpx2.Request], httpx2.Response]) -> anthropic.Anthropic:
    transport = httpx2.MockTransport(server)
    return anthropic.Anthropic(
        api_key="sk-ant-test", max_retries=0, http_client=httpx2.Client(transport=transport)
    )


def async_client(server: Callable[[httpx2.Request], httpx2.Response]) -> anthropic.AsyncAnthropic:
    transport = httpx2.MockTransport(server)
    return anthropic.AsyncAnthropic(
        api_key="sk-ant-test", max_retries=0, http_client=httpx2.AsyncClient(transport=transport)
    )


def dream(
    dream_id: str = "dream_011Test", status: str = "pending", **fields: Any
) -> dict[str, Any]:
    """A dream as the API returns it; ``usage`` grows as it runs."""
    done = status in ("completed", "failed", "canceled")
    body: dict[str, Any] = {
        "type": "dream",
        "id": dream_id,
        "status": status,
        "model": {"id": MODEL, "speed": "standard"},
        "instructions": "Merge duplicate memories.",
        "inputs": [{"type": "sessions", "session_ids": [SESSION]}],
        "output_behavior": {"type": "create_new"},
        "outputs": [{"type": "memory_store", "memory_store_id": "memstore_011New"}],
        "usage": {
            "input_tokens": 1_000 if done else 0,
            "output_tokens": 200 if done else 0,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        },
        "created_at": at(0),
        "ended_at": at(90) if done else None,
    }
    return body | fields


class FakeDreams:
    """``/v1/dreams``: each retrieve answers the next of ``statuses``; the list serves
    ``listed`` in pages of two."""

    def __init__(
        self, statuses: list[str] | None = None, listed: list[dict[str, Any]] | None = None
    ):
        self.statuses = list(statuses or ["pending"])
        self.listed = listed or []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        parts = request.url.path.strip("/").split("/")
        if parts == ["v1", "dreams"] and request.method == "POST":
            return httpx2.Response(200, json=dream())
        if parts == ["v1", "dreams"]:
            start = int(request.url.params.get("page", "0"))
            more = start + 2 < len(self.listed)
            body = {
                "data": self.listed[start : start + 2],
                "next_page": str(start + 2) if more else None,
            }
            return httpx2.Response(200, json=body)
        if parts[-1] == "cancel":
            return httpx2.Response(200, json=dream(parts[2], "canceled"))
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        extra = (
            {"error": {"type": "overloaded_error", "message": "try later"}}
            if status == "failed"
            else {}
        )
        return httpx2.Response(200, json=dream(parts[2], status, **extra))
