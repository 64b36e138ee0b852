"""Calls that start billed work elsewhere and return before it runs: a voice call over
WebRTC (``realtime.calls.create``) or SIP (``realtime.calls.accept``,
``live.sessions.accept``), an evaluation run (``evals.runs.create``). Each is a metadata
record, like ``live.create`` and ``batches.create``: what was asked and the id of what
it started, no usage (the conversation or the run is billed where it happens).

Three of them take the id of what they act on as their first positional argument, which
the recording wrapper does not see (it snapshots keyword arguments only): those are
patched through :func:`keyword_first`, which names it before recording the call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from llmlog._record import empty_output
from llmlog.instrumentors import _base
from llmlog.instrumentors import _openai_request as request
from llmlog.instrumentors._base import Provider, Target, Wrapper
from llmlog.instrumentors._openai_response import Reply
from llmlog.instrumentors._sdk_field import field

# (module, classes, method, record `method` = operation, name of the first positional)
_TABLE: Final = (
    ("openai.resources.realtime.calls", "Calls", "create", "realtime.calls.create", None),
    ("openai.resources.realtime.calls", "Calls", "accept", "realtime.calls.accept", "call_id"),
    ("openai.resources.live.sessions", "Sessions", "accept", "live.sessions.accept", "session_id"),
    ("openai.resources.evals.runs.runs", "Runs", "create", "evals.runs.create", "eval_id"),
)
OPERATIONS: Final = frozenset(row[3] for row in _TABLE)
_ID_ARGUMENT: Final[dict[str, str | None]] = {row[3]: row[4] for row in _TABLE}
STARTED: Final = OPERATIONS - {"evals.runs.create"}
"""Operations read by :func:`read_started` (a raw response is read as it is)."""


def _rows(keyword: bool) -> tuple[Target, ...]:
    return tuple(
        Target(
            module, f"{prefix}{cls}.{name}", operation, operation, prefix == "Async", stable=True
        )
        for module, cls, name, operation, first in _TABLE
        if (first is not None) is keyword
        for prefix in ("", "Async")
    )


TARGETS: Final = _rows(keyword=False)
"""Recorded as they are (keyword-only methods)."""
_RENAMED: Final = _rows(keyword=True)


def keyword_first(target: Target, provider: Callable[[], Provider]) -> Wrapper:
    """A wrapper that passes the only positional argument by its name (what the SDK
    method accepts too), so the record sees it, then records the call as ``target``;
    other calls (more positionals: the SDK raises its own TypeError) pass as they are.
    ``provider()`` is the provider (its module imports this one)."""
    name = _ID_ARGUMENT[target.operation] or ""
    made: list[tuple[Provider, Wrapper]] = []

    def recording() -> Wrapper:
        current = provider()
        if not made or made[0][0] is not current:
            made[:] = [(current, _base.make_wrapper(current, target))]
        return made[0][1]

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if len(args) == 1 and name not in kwargs:  # else the SDK's own error, as it is
            kwargs = {name: args[0], **kwargs}
            args = ()
        return recording()(wrapped, instance, args, kwargs)

    return wrapper


def helpers(provider: Callable[[], Provider]) -> tuple[tuple[Target, ...], dict[str, Wrapper]]:
    """Patch rows and wrappers for the methods taking their id positionally."""
    return _RENAMED, {f"{t.module}:{t.qualname}": keyword_first(t, provider) for t in _RENAMED}


# ---------------------------------------------------------------------------- writer thread


def request_fields(operation: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``model``, ``params``, ``system``, ``messages`` (and the id the call acted on)."""
    if operation == "evals.runs.create":
        return _eval_run_fields(kwargs)
    settings = dict(kwargs)
    target_id = settings.pop(_ID_ARGUMENT[operation] or "", None)
    settings.pop("sdp", None)  # the WebRTC offer holds the caller's network addresses
    session = settings.pop("session", None)
    if isinstance(session, Mapping):  # create and Live's accept: settings in ``session``
        settings = {**settings, **session}
    system, messages = request.responses_prompt(settings)
    fields = {
        "model": request.model_requested(settings),
        "params": request.params(
            {k: v for k, v in settings.items() if k not in ("instructions", "input")}, operation
        ),
        "system": system,
        "messages": messages,
    }
    if isinstance(target_id, str):
        fields["response_id"] = target_id
    return fields


def _eval_run_fields(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The run's data source as params, inline dataset rows counted (they are the app's
    data, possibly large; the run's answers stay on the server)."""
    settings = dict(kwargs)
    source = settings.get("data_source")
    model = source.get("model") if isinstance(source, Mapping) else None
    if isinstance(source, Mapping):
        rows = source.get("source")
        if isinstance(rows, Mapping) and isinstance(rows.get("content"), list):
            rows = {**rows, "content": {"rows": len(rows["content"])}}
        settings["data_source"] = {**source, "source": rows} if rows is not None else source
    return {
        "model": model if isinstance(model, str) else None,
        "params": request.params(settings, "evals.runs.create"),
        "system": None,
        "messages": None,
    }


def read_started(result: Any) -> Reply:
    """What a start returns: an SDP answer (the call's id is in its ``Location``), or
    nothing (an accepted call; its id was the request's)."""
    reply: Reply = {"response_model": None, "output": empty_output(), "usage": None}
    http = getattr(result, "http_response", None) or getattr(result, "response", None)
    location = getattr(http, "headers", {}).get("location")
    if isinstance(location, str) and location.rstrip("/"):
        reply["response_id"] = location.rstrip("/").rpartition("/")[2]
    return reply


def read_eval_run(run: Any) -> Reply:
    """An evaluation run as created: its id, status and the model it samples."""
    output = empty_output()
    status = field(run, "status")
    output["run_status"] = status if isinstance(status, str) else None
    run_id, model = field(run, "id"), field(run, "model")
    return {
        "response_id": run_id if isinstance(run_id, str) else None,
        "response_model": model if isinstance(model, str) else None,
        "output": output,
        "usage": None,
    }


def reader(operation: str) -> Callable[[Any], Reply]:
    """The reader of ``operation``'s result."""
    return read_eval_run if operation == "evals.runs.create" else read_started
