"""Where ``_openai_agent_sessions`` hears of a session: the SDK's session methods, each
wrapped to hand what it sent or returned over (helpers: no record of their own). The
app gets the SDK's object: a stream is the SDK's own, each event it yields followed
however it is read (``get_final_result()`` too); a listing of turns is a proxy that
follows every page the app fetches. ``with_raw_response`` / ``with_streaming_response`` are not
followed (their bodies are the app's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final

from llmlog import _guard
from llmlog._record import is_sentinel
from llmlog.instrumentors import _anthropic_followed as followed
from llmlog.instrumentors import _base
from llmlog.instrumentors import _openai_agent_sessions as sessions
from llmlog.instrumentors._arguments import read_iterators, snapshot
from llmlog.instrumentors._base import Target, Wrapper
from llmlog.instrumentors._openai_agent_records import input_messages

_PROVIDER: Final = "openai"
_Job = Callable[[Any, str, tuple[Any, ...], dict[str, Any]], Any]
"""``(result, method, args, kwargs) -> what the app gets``."""


def _given(kwargs: dict[str, Any], name: str) -> Any:
    value = kwargs.get(name)
    return None if value is None or is_sentinel(value) else value


def _create(result: Any, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    pending = input_messages(snapshot(_given(kwargs, "input"))) or []
    if followed.is_sdk(result, "openai._streaming", "Stream", "AsyncStream"):
        initial = [(snapshot(_given(kwargs, "agent")), pending)]
        return _stream(result, lambda events: _follow(events, method, initial))
    sessions.learn(result, pending)
    return result


def _follow(events: Any, method: str, initial: list[Any] | None = None) -> None:
    if _base.is_active(_PROVIDER):  # a stream the app kept across uninstrument()
        sessions.observe(events, method, initial)


def _stream(result: Any, follow: followed.Follow) -> Any:
    """The SDK's stream itself, every event it yields followed (however it is read)."""
    is_async = followed.is_sdk(result, "openai._streaming", "AsyncStream")
    return followed.tapped(result, follow, is_async)


def _watch(result: Any, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if not followed.is_sdk(result, "openai._streaming", "Stream", "AsyncStream"):
        return result
    return _stream(result, lambda events: _follow(events, method))


def _read_inputs(kwargs: dict[str, Any]) -> None:
    """Input messages given as a one-pass iterator inside an event, read into a list in
    a copy of the event (the app's stays as it is), so the record sees what was sent."""
    events = kwargs.get("events")
    if isinstance(events, list) and any(isinstance(e, dict) and _one_pass(e) for e in events):
        kwargs["events"] = [
            {**e, "input": list(e["input"])} if isinstance(e, dict) and _one_pass(e) else e
            for e in events
        ]


def _one_pass(event: dict[str, Any]) -> bool:
    return isinstance(event.get("input"), Iterator)


def _send(args: tuple[Any, ...], kwargs: dict[str, Any]) -> sessions.Sent | None:
    """Before ``events.create`` sends: its input noted (the server may start the turn,
    and a listener see it begin, before the call returns)."""
    session_id = args[0] if args else kwargs.get("session_id")
    return sessions.sent(session_id, snapshot(_given(kwargs, "events")))


def _sent(result: Any, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``events.create``'s job once it answered: none (its input was noted before)."""
    return result


def _learn(result: Any, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    sessions.learn(result)
    return result


def _delete(result: Any, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    sessions.deleted(args[0] if args else kwargs.get("session_id"))
    return result


def _turn(result: Any, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    sessions.observe_turns((result,), method)
    return result


def _turns(result: Any, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    def follow(turns: Any) -> None:
        if _base.is_active(_PROVIDER):
            sessions.observe_turns(turns, method)

    return followed.listing(result, follow)


def _wrapper(job: _Job, method: str, is_async: bool) -> Wrapper:
    """Run the SDK method (one-pass iterators among its arguments read first, so what
    was sent is known), then ``job`` while llmlog instruments openai. ``events.create``
    notes its input before it is sent, taken back if the call fails."""

    def before(args: tuple[Any, ...], kwargs: dict[str, Any]) -> sessions.Sent | None:
        read_iterators(kwargs)
        _read_inputs(kwargs)
        if job is not _sent or not _base.is_active(_PROVIDER):
            return None
        with _guard.guarded(f"openai {method}"):
            return _send(args, kwargs)
        return None  # pragma: no cover - reached only when noting failed

    def failed(noted: sessions.Sent | None) -> None:
        with _guard.guarded(f"openai {method}"):
            sessions.unsent(noted)

    def after(result: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not _base.is_active(_PROVIDER):
            return result
        with _guard.guarded(f"openai {method}"):
            return job(result, method, args, kwargs)
        return result  # pragma: no cover - reached only when the job failed

    if is_async:

        async def async_wrapper(
            wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> Any:
            noted = before(args, kwargs)
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException:
                failed(noted)
                raise
            return after(result, args, kwargs)

        return async_wrapper

    def sync_wrapper(
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        noted = before(args, kwargs)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException:
            failed(noted)
            raise
        return after(result, args, kwargs)

    return sync_wrapper


_SESSIONS: Final = "openai.resources.beta.agents.sessions"
# (module, class, record `method`, job, the async class's method is a coroutine)
_METHODS: Final = (
    (f"{_SESSIONS}.sessions", "Sessions", "beta.agents.sessions.create", _create, True),
    (f"{_SESSIONS}.sessions", "Sessions", "beta.agents.sessions.retrieve", _learn, True),
    (f"{_SESSIONS}.sessions", "Sessions", "beta.agents.sessions.update", _learn, True),
    (f"{_SESSIONS}.sessions", "Sessions", "beta.agents.sessions.delete", _delete, True),
    (f"{_SESSIONS}.events", "Events", "beta.agents.sessions.events.create", _sent, True),
    (f"{_SESSIONS}.events", "Events", "beta.agents.sessions.events.stream", _watch, True),
    (f"{_SESSIONS}.turns.turns", "Turns", "beta.agents.sessions.turns.retrieve", _turn, True),
    (f"{_SESSIONS}.turns.turns", "Turns", "beta.agents.sessions.turns.list", _turns, False),
    (
        f"{_SESSIONS}.subagents.turns.turns",
        "Turns",
        "beta.agents.sessions.subagents.turns.retrieve",
        _turn,
        True,
    ),
    (
        f"{_SESSIONS}.subagents.turns.turns",
        "Turns",
        "beta.agents.sessions.subagents.turns.list",
        _turns,
        False,
    ),
)


def _targets() -> tuple[tuple[Target, ...], dict[str, Wrapper]]:
    targets: list[Target] = []
    wrappers: dict[str, Wrapper] = {}
    for module, cls, method, job, async_is_coroutine in _METHODS:
        name = method.rpartition(".")[2]
        variants = ((f"{cls}.{name}", False), (f"Async{cls}.{name}", async_is_coroutine))
        for qualname, is_async in variants:
            targets.append(Target(module, qualname, method, "helper", is_async))
            wrappers[f"{module}:{qualname}"] = _wrapper(job, method, is_async)
    return tuple(targets), wrappers


HELPERS, HELPER_WRAPPERS = _targets()
"""Patch rows and wrappers for the ``openai`` provider (helpers: no record per call)."""
