"""An instrumentor for ``toy_sdk``: exercises ``_base`` and ``_stream`` for real."""

from __future__ import annotations

from typing import Any

from llmlog._record import Capture, empty_output, usage_record
from llmlog.instrumentors._base import Provider, Target
from llmlog.instrumentors._in_flight import finish
from llmlog.instrumentors._stream import AsyncStreamProxy, SyncStreamProxy

MODULE = "support.toy_sdk"


def extract(cap: Capture) -> dict[str, Any]:
    kwargs = cap.kwargs
    output = empty_output()
    usage = None
    if cap.stream:
        output["text"] = " ".join(cap.chunks or [])
    elif cap.result is not None:
        output["text"] = cap.result.text
        usage = usage_record(
            input_tokens=cap.result.input_tokens, output_tokens=cap.result.output_tokens
        )
    params = {k: v for k, v in kwargs.items() if k not in ("messages", "model")}
    return {
        "model": kwargs.get("model"),
        "messages": kwargs.get("messages"),
        "params": params,
        "output": output,
        "usage": usage,
    }


def on_result(cap: Capture, result: Any) -> Any:
    from support import toy_sdk

    if isinstance(result, toy_sdk.Stream):
        return SyncStreamProxy(result, cap, lambda chunk: bool(chunk))
    if isinstance(result, toy_sdk.AsyncStream):
        return AsyncStreamProxy(result, cap)
    finish(cap, result=result)
    return result


PROVIDER = Provider(
    name="toy",
    targets=(
        Target(MODULE, "Client.create", "create", "chat", is_async=False),
        Target(MODULE, "Client.acreate", "acreate", "chat", is_async=True),
    ),
    extract=extract,
    on_result=on_result,
)
