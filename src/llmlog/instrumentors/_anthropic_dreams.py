"""Dreams (``client.beta.dreams``): a job in which a model reads past sessions and writes a
memory store, billed in tokens when it has run.

``dreams.create`` is a metadata record of what was asked (``operation: dreams.create``:
model, instructions as system, inputs and output behaviour as params, the dream's id and
status). The job itself is a record once the app sees it finished (``retrieve``,
``list``, ``cancel`` returning it ``completed``, ``failed`` or ``canceled``), the first
time this process does (``operation: dreams``): its usage (priced), latency from its
creation to its end by the server's clock, its error. A dream never seen finished gives
no job record: the job runs on Anthropic's side.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any, Final

from llmlog import _guard
from llmlog._record import (
    STATUS_CANCELLED,
    STATUS_ERROR,
    STATUS_OK,
    Capture,
    empty_output,
    string_or_none,
)
from llmlog.instrumentors import _anthropic_followed as followed
from llmlog.instrumentors import _base
from llmlog.instrumentors._anthropic_request import params_record, plain
from llmlog.instrumentors._anthropic_response import error_record, normalized_usage
from llmlog.instrumentors._base import Target, Wrapper
from llmlog.instrumentors._observed import (
    RecordedOnce,
    finish_by_server_clock,
    observed_capture,
)
from llmlog.instrumentors._sdk_field import field as field_of

OP_CREATE: Final = "dreams.create"
OP_DREAM: Final = "dreams"
_PROVIDER: Final = "anthropic"
_MODULE: Final = "anthropic.resources.beta.dreams"
_ENDED: Final = {"completed": STATUS_OK, "failed": STATUS_ERROR, "canceled": STATUS_CANCELLED}
_MAX_RECORDED: Final = 100_000  # finished dreams remembered (recorded once each)

_lock = threading.Lock()
_recorded = RecordedOnce(_MAX_RECORDED)


def _model_id(model: Any) -> str | None:
    """A model given as its id or as ``{"id": ..., "speed": ...}``."""
    model_id = model if isinstance(model, str) else field_of(model, "id")
    return model_id if isinstance(model_id, str) else None


def request_fields(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Record fields of a ``dreams.create`` call (writer thread)."""
    params = params_record(kwargs)
    params.pop("instructions", None)
    model = kwargs.get("model")
    if isinstance(model, Mapping):
        params.update((k, v) for k, v in plain(model).items() if k != "id" and v is not None)
    return {
        "model": _model_id(model),
        "params": params,
        "system": string_or_none(kwargs.get("instructions")),
    }


def answer_fields(dream: Any) -> dict[str, Any]:
    """Fields from the dream ``create`` returned: its id and status."""
    output = empty_output()
    output["dream_status"] = field_of(dream, "status")
    return {"response_id": field_of(dream, "id"), "output": output}


def seen(dreams: Iterable[Any], method: str) -> None:
    """Record each dream seen finished for the first time (caller's thread; never raises)."""
    with _guard.guarded(f"anthropic {method}"):
        for dream in dreams:
            status = _ENDED.get(field_of(dream, "status"))
            dream_id = field_of(dream, "id")
            if status is None or not isinstance(dream_id, str):
                continue
            with _lock:
                if not _recorded.first(dream_id):
                    continue
            cap = observed_capture(_PROVIDER, method, OP_DREAM, extract, result=dream)
            created, ended = field_of(dream, "created_at"), field_of(dream, "ended_at")
            finish_by_server_clock(cap, created, ended, status)


def extract(cap: Capture) -> dict[str, Any]:
    """Record fields for a finished dream (writer thread)."""
    dream = cap.result
    model = field_of(dream, "model")
    params = {
        k: plain(field_of(dream, k)) for k in ("inputs", "output_behavior", "outputs", "session_id")
    }
    speed = field_of(model, "speed")
    if speed is not None:
        params["speed"] = speed
    output = empty_output()
    output["dream_status"] = field_of(dream, "status")
    fields: dict[str, Any] = {
        "model": _model_id(model),
        "response_id": field_of(dream, "id"),
        "params": {k: v for k, v in params.items() if v is not None},
        "system": string_or_none(field_of(dream, "instructions")),
        "output": output,
        "usage": normalized_usage(field_of(dream, "usage")),
    }
    error = error_record(field_of(dream, "error"))
    if error is not None:
        fields["error"] = error
    if cap.extra.get("latency_unknown"):
        fields["latency_ms"] = None
    return fields


# ------------------------------------------------------------------ the SDK's methods


def _follow(method: str) -> followed.Follow:
    def follow(dreams: Iterable[Any]) -> None:
        if _base.is_active(_PROVIDER):  # a page the app kept across uninstrument()
            seen(dreams, method)

    return follow


def _after(method: str) -> followed.After:
    def after(result: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Follow a listing of dreams, or note one dream (never raises)."""
        with _guard.guarded(f"anthropic {method}"):
            listed = followed.listing(result, _follow(method))
            if listed is not result:
                return listed
            if field_of(result, "type") == "dream":
                seen((result,), method)
        return result

    return after


def _targets() -> tuple[tuple[Target, ...], dict[str, Wrapper]]:
    targets: list[Target] = []
    wrappers: dict[str, Wrapper] = {}
    for name, async_is_coroutine in (("retrieve", True), ("list", False), ("cancel", True)):
        label = f"beta.dreams.{name}"
        rows, row_wrappers = followed.helper_rows(
            _MODULE, "Dreams", label, async_is_coroutine, _after(label)
        )
        targets += rows
        wrappers |= row_wrappers
    return tuple(targets), wrappers


HELPERS, HELPER_WRAPPERS = _targets()
"""Patch rows and wrappers that find finished dreams (helpers: no record per call)."""

CREATE_TARGETS: Final = (
    Target(_MODULE, "Dreams.create", "beta.dreams.create", OP_CREATE, False),
    Target(_MODULE, "AsyncDreams.create", "beta.dreams.create", OP_CREATE, True),
)
