"""The Anthropic instrumentor: what to patch in the ``anthropic`` SDK and how to read a call.

Patch points are methods, listed as data in :data:`TARGETS`. ``messages.stream()``
and ``messages.parse()`` do not go through ``create``, so each is patched on its
own (no call is logged twice). The Bedrock and Vertex beta resources copy the
beta functions into their class bodies at import, so their copies are separate
rows. ``on_result`` runs on the caller's thread and only picks a proxy or keeps
a reference; ``extract`` builds the record fields on the writer thread.
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Final

from llmlog._record import (
    Capture,
    decode_json_answer,
    empty_output,
    parse_raw_json_text,
    stream_end,
)
from llmlog.instrumentors import _anthropic_agent_sessions as agent_sessions
from llmlog.instrumentors import _anthropic_batch_results as batch_results
from llmlog.instrumentors import _anthropic_dreams as dreams
from llmlog.instrumentors import _anthropic_middleware as middleware
from llmlog.instrumentors import _anthropic_request_ids as request_ids
from llmlog.instrumentors import _anthropic_streams as stream_helpers
from llmlog.instrumentors import _foreign_streams as foreign_streams
from llmlog.instrumentors import _parsed_responses as parsed_responses
from llmlog.instrumentors import _retries as retries
from llmlog.instrumentors._anthropic_request import (
    batch_request_summary,
    messages_record,
    params_record,
    system_blocks,
    system_text,
)
from llmlog.instrumentors._anthropic_response import (
    TOOL_USE_BLOCKS,
    HttpFacts,
    message_output,
    normalized_usage,
    summarize_events,
)
from llmlog.instrumentors._anthropic_streams import (
    AsyncMessageStreamManagerProxy,
    MessageStreamManagerProxy,
)
from llmlog.instrumentors._base import CALL_FRAMES, Provider, Target
from llmlog.instrumentors._in_flight import finish
from llmlog.instrumentors._raw_streams import proxy_parsed_stream
from llmlog.instrumentors._sdk_field import field as field_of
from llmlog.instrumentors._sse_tee import decoded
from llmlog.instrumentors._stream import AsyncStreamProxy, SyncStreamProxy
from llmlog.instrumentors._wire_facts import wire_fields

OP_MESSAGES: Final = "messages"
OP_COUNT_TOKENS: Final = "messages.count_tokens"
OP_BATCHES: Final = "messages.batches"
_RAW_MODE_HEADER: Final = "x-stainless-raw-response"

_MESSAGES: Final = "anthropic.resources.messages.messages"
_BATCHES: Final = "anthropic.resources.messages.batches"
_BETA: Final = "anthropic.resources.beta.messages.messages"
_BETA_BATCHES: Final = "anthropic.resources.beta.messages.batches"
_BEDROCK_BETA: Final = "anthropic.lib.bedrock._beta_messages"
_VERTEX_BETA: Final = "anthropic.lib.vertex._beta_messages"

# (method, operation, async class's method is a coroutine). ``stream`` is a plain
# ``def`` on the async class too: it returns a manager, the request comes later.
_MESSAGE_METHODS: Final = (
    ("create", OP_MESSAGES, True),
    ("stream", OP_MESSAGES, False),
    ("parse", OP_MESSAGES, True),
    ("count_tokens", OP_COUNT_TOKENS, True),
)
_NO_COUNT_TOKENS: Final = _MESSAGE_METHODS[:3]


def _rows(
    module: str,
    prefix: str,
    classes: tuple[str, str],
    methods: tuple[tuple[str, str, bool], ...],
) -> tuple[Target, ...]:
    sync_class, async_class = classes
    rows = []
    for name, operation, async_is_coroutine in methods:
        method = f"{prefix}.{name}"
        manager = name == "stream"  # its request leaves when the app enters it
        for cls, is_async in ((sync_class, False), (async_class, async_is_coroutine)):
            rows.append(
                Target(
                    module, f"{cls}.{name}", method, operation, is_async, sends_when_entered=manager
                )
            )
    return tuple(rows)


_BATCH_CREATE: Final = (("create", OP_BATCHES, True),)
_MESSAGE_CLASSES: Final = ("Messages", "AsyncMessages")
_BATCH_CLASSES: Final = ("Batches", "AsyncBatches")

TARGETS: Final[tuple[Target, ...]] = (
    _rows(_MESSAGES, "messages", _MESSAGE_CLASSES, _MESSAGE_METHODS)
    + _rows(_BATCHES, "messages.batches", _BATCH_CLASSES, _BATCH_CREATE)
    + _rows(_BETA, "beta.messages", _MESSAGE_CLASSES, _MESSAGE_METHODS)
    + _rows(_BETA_BATCHES, "beta.messages.batches", _BATCH_CLASSES, _BATCH_CREATE)
    # The platform copies: Bedrock's beta has no count_tokens, Vertex's has.
    + _rows(_BEDROCK_BETA, "beta.messages", _MESSAGE_CLASSES, _NO_COUNT_TOKENS)
    + _rows(_VERTEX_BETA, "beta.messages", _MESSAGE_CLASSES, _MESSAGE_METHODS)
    + dreams.CREATE_TARGETS
)


def is_content_event(event: Any) -> bool:
    """The first content (``ttft_ms``): a ``content_block_delta``, or a block that comes
    whole in its start (a tool called without input, redacted thinking)."""
    kind = getattr(event, "type", None)
    if kind == "content_block_start":
        return getattr(getattr(event, "content_block", None), "type", None) in _WHOLE_BLOCKS
    return kind == "content_block_delta"


_WHOLE_BLOCKS: Final = TOOL_USE_BLOCKS | {"redacted_thinking"}


Handler = Callable[[Capture, Any], Any]


def _stream(cap: Capture, stream: Any) -> Any:
    cap.result = HttpFacts(stream.response.headers)
    return SyncStreamProxy(stream, cap, is_content_event, named_events=True)


def _async_stream(cap: Capture, stream: Any) -> Any:
    cap.result = HttpFacts(stream.response.headers)
    return AsyncStreamProxy(stream, cap, is_content_event, named_events=True)


def _manager(cap: Capture, manager: Any) -> Any:
    return MessageStreamManagerProxy(manager, cap, is_content_event)


def _async_manager(cap: Capture, manager: Any) -> Any:
    return AsyncMessageStreamManagerProxy(manager, cap, is_content_event)


def _raw_response(cap: Capture, response: Any) -> Any:
    """``with_raw_response`` / ``with_streaming_response``: the app gets the SDK's object.

    A raw stream's events are recorded when the app reads them from ``.parse()``;
    ``with_streaming_response`` bodies are the app's own to read (metadata only).
    """
    http = response.http_response
    streamed = cap.kwargs.get("stream") is True
    raw = _raw_mode(cap.kwargs) == "raw"
    if streamed and raw:
        cap.result = HttpFacts(http.headers)
        async_parse = inspect.iscoroutinefunction(response.parse)
        proxy_class = AsyncStreamProxy if async_parse else SyncStreamProxy
        make_proxy = partial(
            proxy_class, cap=cap, is_content=is_content_event, named_events=True, raw=True
        )
        if proxy_parsed_stream(response, make_proxy):
            return response
    body = http.content if raw and not streamed else None
    cap.stream = streamed  # an SSE body the app reads itself
    finish(cap, result=HttpFacts(http.headers, body))
    return response


def _complete(cap: Capture, result: Any) -> Any:
    noted = parsed_responses.take_noted(result)  # the response it was parsed from
    if noted is not None:
        cap.extra[parsed_responses.NOTED] = noted
    finish(cap, result=result)
    return result


# A result's class -> what on_result does with it; filled on first sight of each class.
_handler_by_class: dict[type, Handler] = {}


def _handler_for(result: Any) -> Handler:
    cls = result.__class__  # (another tool's proxy around a stream says the stream's class)
    if cls not in _handler_by_class:
        _handler_by_class[cls] = _classify(cls)
    return _handler_by_class[cls]


# Where each kind of result class lives ("module:Class"), and what on_result does with it.
# A class missing from the installed SDK version is simply not matched.
_HANDLED_CLASSES: Final[tuple[tuple[str, Handler], ...]] = (
    ("anthropic._streaming:Stream", _stream),
    ("anthropic._streaming:AsyncStream", _async_stream),
    ("anthropic.lib.streaming:MessageStreamManager", _manager),
    ("anthropic.lib.streaming:BetaMessageStreamManager", _manager),
    ("anthropic.lib.streaming:AsyncMessageStreamManager", _async_manager),
    ("anthropic.lib.streaming:BetaAsyncMessageStreamManager", _async_manager),
    ("anthropic._response:APIResponse", _raw_response),
    ("anthropic._response:AsyncAPIResponse", _raw_response),
)


def _classify(cls: type) -> Handler:
    for path, handler in _HANDLED_CLASSES:
        module_name, _, class_name = path.partition(":")
        try:
            known = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):
            continue
        if issubclass(cls, known):
            return handler
    return _complete


def on_result(cap: Capture, result: Any) -> Any:
    """What the app gets back: the result itself, or a proxy that finishes the record later."""
    handler = _handler_for(result)
    if handler is _complete and (cap.stream or cap.method.endswith("stream")):
        foreign_streams.note(cap, result)
    return handler(cap, result)


def extract(cap: Capture) -> dict[str, Any]:
    """Record fields for one call (writer thread)."""
    fields = _sent_request_fields(cap)
    response, headers = _response_of(cap)
    if cap.chunks is not None:
        summary = summarize_events(decoded(cap.chunks))
        fields.update(
            response_id=summary.response_id,
            response_model=summary.response_model,
            output=summary.output,
            usage=summary.usage,
        )
        fields.update(stream_end(cap, summary.complete, "message_stop"))
        if cap.method.endswith((".stream", "create")):  # the helper's, or one a thread parses
            decode_json_answer(summary.output, cap.kwargs)
    elif response is not None:
        fields.update(_answer_fields(cap.operation, response))
        if response is not cap.result:
            parse_raw_json_text(fields.get("output"), cap)
        elif cap.method.endswith(("create", "parse")):  # a format the SDK parses later, or not
            decode_json_answer(fields.get("output"), cap.kwargs)
    fields["request_id"] = _request_id(cap, response, headers)
    fields["server_address"] = cap.extra.get("server_address")  # read when the call started
    fields.update(wire_fields(cap, request_ids.from_headers, headers))
    raw_usage = (fields.get("usage") or {}).get("raw")
    tier = raw_usage.get("service_tier") if isinstance(raw_usage, dict) else None
    fields["service_tier"] = tier if isinstance(tier, str) else None  # standard, priority, batch
    return fields


def _sent_request_fields(cap: Capture) -> dict[str, Any]:
    """The prompt side of the record from the request sent: through a client's middleware,
    the one its chain last sent (it may differ from the app's arguments)."""
    if cap.operation not in _BODY_IS_ARGUMENTS:
        return _request_fields(cap.operation, cap.kwargs)
    return _request_fields(cap.operation, middleware.sent_arguments(cap))


_BODY_IS_ARGUMENTS: Final = frozenset({OP_MESSAGES, OP_COUNT_TOKENS, OP_BATCHES})
"""Operations whose request body holds the arguments under their own names."""


def _request_fields(operation: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    if operation == dreams.OP_CREATE:
        return dreams.request_fields(kwargs)
    params = params_record(kwargs)
    if operation == OP_BATCHES:
        model, summary = batch_request_summary(kwargs.get("requests"))
        return {"model": model, "params": summary | params}
    model = kwargs.get("model")
    if (blocks := system_blocks(kwargs.get("system"))) is not None:
        params["system"] = blocks
    return {
        "model": model if isinstance(model, str) else None,
        "params": params,
        "system": system_text(kwargs.get("system")),
        "messages": messages_record(kwargs.get("messages")),
    }


def _response_of(cap: Capture) -> tuple[Any, Any]:
    """(the response object, or the JSON body the SDK read; the response headers if kept)."""
    result = cap.result
    if not isinstance(result, HttpFacts):
        return result, None
    if result.body is not None:
        try:
            return json.loads(result.body), result.headers
        except ValueError:  # not JSON (an empty body): the SDK could not parse it either
            pass
    return None, result.headers


def _raw_mode(kwargs: Mapping[str, Any]) -> str | None:
    """ "raw" for ``with_raw_response`` (the SDK reads a plain body before returning),
    "stream" for ``with_streaming_response`` (the body is the app's to read)."""
    headers = kwargs.get("extra_headers")
    if not isinstance(headers, Mapping):
        return None
    modes = [value for name, value in headers.items() if str(name).lower() == _RAW_MODE_HEADER]
    return modes[0] if len(modes) == 1 else None


def _answer_fields(operation: str, response: Any) -> dict[str, Any]:
    if operation == OP_COUNT_TOKENS:
        output = empty_output()
        output["token_count"] = field_of(response, "input_tokens")
        return {"output": output}
    if operation == OP_BATCHES:
        output = empty_output()
        output["batch_status"] = field_of(response, "processing_status")
        return {"response_id": field_of(response, "id"), "output": output}
    if operation == dreams.OP_CREATE:
        return dreams.answer_fields(response)
    return {
        "response_id": field_of(response, "id"),
        "response_model": field_of(response, "model"),
        "output": message_output(response),
        "usage": normalized_usage(field_of(response, "usage")),
    }


def _request_id(cap: Capture, response: Any, headers: Any) -> str | None:
    """From the response headers if kept (``request-id``, Bedrock's ``x-amzn-requestid``),
    the parsed object (or the id noted for it), or the SDK's error and its headers."""
    sources = (
        lambda: request_ids.from_headers(headers),
        lambda: field_of(response, "_request_id"),
        lambda: field_of(response, "request_id"),
        lambda: request_ids.from_noted(cap),
        lambda: request_ids.from_error(cap.error),
    )
    for source in sources:  # in turn: most answers have one in the first or second
        value = source()
        if isinstance(value, str):
            return value
    return None


_CALL_FRAMES: Final = CALL_FRAMES | {
    MessageStreamManagerProxy.__enter__.__code__,
    AsyncMessageStreamManagerProxy.__aenter__.__code__,
}
"""Where a call runs: a patched method's wrapper, or the stream helper's ``__enter__``."""
_RETRIES, _RETRY_WRAPPERS = retries.helpers("anthropic._base_client", _CALL_FRAMES)

PROVIDER: Final = Provider(
    name="anthropic",
    targets=TARGETS,
    extract=extract,
    on_result=on_result,
    helpers=(
        agent_sessions.HELPERS
        + dreams.HELPERS
        + batch_results.HELPERS
        + stream_helpers.HELPERS
        + request_ids.HELPERS
        + middleware.HELPERS
        + _RETRIES
    ),
    helper_wrappers=(
        agent_sessions.HELPER_WRAPPERS
        | dreams.HELPER_WRAPPERS
        | batch_results.HELPER_WRAPPERS
        | stream_helpers.HELPER_WRAPPERS
        | request_ids.HELPER_WRAPPERS
        | middleware.HELPER_WRAPPERS
        | _RETRY_WRAPPERS
    ),
)
