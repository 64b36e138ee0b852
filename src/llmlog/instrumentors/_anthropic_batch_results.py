"""Message batch results (``messages.batches.results(batch_id)``): each request of a batch
is a model call Anthropic ran on its side; llmlog sees it when the app reads its result.

``messages.batches.create`` is a metadata record (the requests stay the app's). Each result
the app reads is one record (``operation: messages``, ``method:
messages.batches.results``), the first time this process reads it: ``params`` name the batch
and the request's ``custom_id``; a succeeded request has the answer (text, tool calls,
thinking, stop reason), its usage and its cost at the batch price (``service_tier:
batch``); an errored one the API's error; a canceled one is ``cancelled``; an expired one
an ``error`` of type ``expired``. The prompt is not known (it went in the create's requests),
and neither is the latency (the results carry no times).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable
from typing import Any, Final

from llmlog import _guard
from llmlog._record import STATUS_CANCELLED, STATUS_ERROR, STATUS_OK, Capture
from llmlog.instrumentors import _anthropic_followed as followed
from llmlog.instrumentors import _base
from llmlog.instrumentors._anthropic_response import error_record, message_output, normalized_usage
from llmlog.instrumentors._base import Target, Wrapper
from llmlog.instrumentors._observed import RecordedOnce, finish_by_server_clock, observed_capture
from llmlog.instrumentors._sdk_field import field as field_of

_PROVIDER: Final = "anthropic"
_OPERATION: Final = "messages"
_ENDED: Final = {
    "succeeded": STATUS_OK,
    "errored": STATUS_ERROR,
    "canceled": STATUS_CANCELLED,
    "expired": STATUS_ERROR,
}
_EXPIRED: Final = {
    "type": "expired",
    "message": "the batch ended before this request was processed",
    "status_code": None,
    "body": None,
}
_MAX_RECORDED: Final = 100_000  # results remembered (recorded once each): ~20 MB at most
_DECODERS: Final = "anthropic._decoders.jsonl"

_lock = threading.Lock()
_recorded = RecordedOnce(_MAX_RECORDED)  # kept across uninstrument(): read again, not billed again


class _Results(followed.Followed):
    """``JSONLDecoder``: the results, each followed as the app reads it. A context manager
    only if the SDK's object is one (``with`` fails as on it otherwise); a copy is followed
    too."""

    __iter__ = followed.Stream.__iter__
    __next__ = followed.Stream.__next__

    def __enter__(self) -> Any:
        if not hasattr(type(self.__wrapped__), "__enter__"):
            raise TypeError(_NOT_A_CONTEXT.format(type(self.__wrapped__).__name__, ""))
        self.__wrapped__.__enter__()
        return self

    def __copy__(self) -> Any:
        return type(self)(copy.copy(self.__wrapped__), self._self_follow)


class _AsyncResults(followed.Followed):
    """``AsyncJSONLDecoder``."""

    __aiter__ = followed.AsyncStream.__aiter__
    __anext__ = followed.AsyncStream.__anext__

    async def __aenter__(self) -> Any:
        if not hasattr(type(self.__wrapped__), "__aenter__"):
            kind = type(self.__wrapped__).__name__
            raise TypeError(_NOT_A_CONTEXT.format(kind, "asynchronous "))
        await self.__wrapped__.__aenter__()
        return self

    __copy__ = _Results.__copy__


_NOT_A_CONTEXT: Final = "{!r} object does not support the {}context manager protocol"


def seen(results: Iterable[Any], batch_id: str, method: str) -> None:
    """Record each result read for the first time (caller's thread; never raises)."""
    with _guard.guarded(f"anthropic {method}"):
        for item in results:
            custom_id = field_of(item, "custom_id")
            status = _ENDED.get(field_of(field_of(item, "result"), "type"))
            if status is None or not isinstance(custom_id, str):
                continue
            with _lock:
                if not _recorded.first(f"{batch_id}\0{custom_id}"):
                    continue
            cap = observed_capture(_PROVIDER, method, _OPERATION, extract, result=item)
            cap.extra["batch_id"] = batch_id
            finish_by_server_clock(cap, None, None, status)


def extract(cap: Capture) -> dict[str, Any]:
    """Record fields for one request's result (writer thread)."""
    item = cap.result
    result = field_of(item, "result")
    fields: dict[str, Any] = {
        "params": {"batch_id": cap.extra.get("batch_id"), "custom_id": field_of(item, "custom_id")},
        "service_tier": "batch",
        "latency_ms": None,
    }
    kind = field_of(result, "type")
    message = field_of(result, "message")
    if kind == "succeeded" and message is not None:
        fields.update(
            model=field_of(message, "model"),
            response_id=field_of(message, "id"),
            response_model=field_of(message, "model"),
            output=message_output(message),
            usage=normalized_usage(field_of(message, "usage")),
        )
    elif kind == "errored":  # an ErrorResponse: {"type": "error", "error": {type, message}}
        fields["error"] = error_record(field_of(field_of(result, "error"), "error"))
    elif kind == "expired":
        fields["error"] = dict(_EXPIRED)
    return fields


def _after(method: str) -> followed.After:
    def after(result: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The results decoder, each result followed as the app reads it (never raises)."""
        with _guard.guarded(f"anthropic {method}"):
            batch_id = args[0] if args else kwargs.get("message_batch_id")
            if not isinstance(batch_id, str):
                return result

            def follow(items: Iterable[Any]) -> None:
                if _base.is_active(_PROVIDER):  # a decoder the app kept across uninstrument()
                    seen(items, batch_id, method)

            if followed.is_sdk(result, _DECODERS, "JSONLDecoder"):
                return _Results(result, follow)
            if followed.is_sdk(result, _DECODERS, "AsyncJSONLDecoder"):
                return _AsyncResults(result, follow)
        return result

    return after


def _targets() -> tuple[tuple[Target, ...], dict[str, Wrapper]]:
    targets: list[Target] = []
    wrappers: dict[str, Wrapper] = {}
    for module, label in (
        ("anthropic.resources.messages.batches", "messages.batches.results"),
        ("anthropic.resources.beta.messages.batches", "beta.messages.batches.results"),
    ):
        rows, row_wrappers = followed.helper_rows(module, "Batches", label, True, _after(label))
        targets += rows
        wrappers |= row_wrappers
    return tuple(targets), wrappers


HELPERS, HELPER_WRAPPERS = _targets()
"""Patch rows and wrappers that follow batch results (helpers: no record per call)."""
