"""The OpenAI instrumentor: what to patch in the ``openai`` SDK and how to read a call.

Patch points are methods, listed as data in :data:`TARGETS`. The
``chat.completions.stream()`` and ``responses.stream()`` helpers call
``create`` (or ``retrieve``), so they are not patched themselves (one record,
not two); ``parse()`` posts on its own, so it is. Azure, Bedrock and the
module-level client use the same resource classes, so they are covered too.

``on_result`` runs on the caller's thread and only picks a proxy or keeps a
reference; ``extract`` builds the record fields on the writer thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Final

from llmlog._record import Capture, parse_raw_json_text
from llmlog.instrumentors import _foreign_streams as foreign_streams
from llmlog.instrumentors import _openai_agent_patches as agent_sessions
from llmlog.instrumentors import _openai_background as background
from llmlog.instrumentors import _openai_request as request
from llmlog.instrumentors import _openai_session_starts as session_starts
from llmlog.instrumentors import _openai_websocket as websocket
from llmlog.instrumentors import _openai_websocket_patches as websocket_patches
from llmlog.instrumentors import _parsed_responses as parsed_responses
from llmlog.instrumentors import _retries as retries
from llmlog.instrumentors._base import CALL_FRAMES, Provider, Target, Wrapper
from llmlog.instrumentors._in_flight import finish
from llmlog.instrumentors._openai_azure import azure_deployment
from llmlog.instrumentors._openai_chunks import is_content_for
from llmlog.instrumentors._openai_live import (
    LiveForkSession,
    LiveSession,
    LiveSidebandSession,
)
from llmlog.instrumentors._openai_other_replies import READERS
from llmlog.instrumentors._openai_parse_answers import RefusedAnswer, answer_in_error
from llmlog.instrumentors._openai_realtime import RealtimeSession
from llmlog.instrumentors._openai_realtime_translation import RealtimeTranslationSession
from llmlog.instrumentors._openai_response import Reply
from llmlog.instrumentors._openai_stream_helpers import (
    CHAT_STREAMING,
    RESPONSES_STREAMING,
    STREAM_HELPERS,
)
from llmlog.instrumentors._openai_streams import stream_reply
from llmlog.instrumentors._raw_streams import proxy_parsed_stream
from llmlog.instrumentors._stream import AsyncStreamProxy, SyncStreamProxy
from llmlog.instrumentors._wire_facts import wire_fields

_HELPER_HEADER: Final = "X-Stainless-Helper-Method"
_HELPER_LABELS: Final = frozenset({"chat.completions.parse", "chat.completions.stream"})
"""The helpers that name themselves in that header (the SDK's own values; any other value
is the app's header, which must not rename the record's ``method``)."""

# (module, (sync class, async class), method names, record `method` prefix, operation)
_TABLE: Final = (
    (
        "openai.resources.chat.completions.completions",
        ("Completions", "AsyncCompletions"),
        ("create", "parse"),
        "chat.completions",
        "chat.completions",
    ),
    (
        "openai.resources.responses.responses",
        ("Responses", "AsyncResponses"),
        ("create", "parse", "retrieve", "compact", "cancel"),
        "responses",
        "responses",
    ),
    (
        "openai.resources.beta.responses.responses",
        ("Responses", "AsyncResponses"),
        ("create", "retrieve", "compact", "cancel"),
        "beta.responses",
        "responses",
    ),
    (
        "openai.resources.completions",
        ("Completions", "AsyncCompletions"),
        ("create",),
        "completions",
        "completions",
    ),
    (
        "openai.resources.embeddings",
        ("Embeddings", "AsyncEmbeddings"),
        ("create",),
        "embeddings",
        "embeddings",
    ),
    (
        "openai.resources.images",
        ("Images", "AsyncImages"),
        ("generate", "edit", "create_variation"),
        "images",
        "images",
    ),
    (
        "openai.resources.audio.transcriptions",
        ("Transcriptions", "AsyncTranscriptions"),
        ("create",),
        "audio.transcriptions",
        "audio.transcriptions",
    ),
    (
        "openai.resources.audio.translations",
        ("Translations", "AsyncTranslations"),
        ("create",),
        "audio.translations",
        "audio.translations",
    ),
    (
        "openai.resources.audio.speech",
        ("Speech", "AsyncSpeech"),
        ("create",),
        "audio.speech",
        "audio.speech",
    ),
    (
        "openai.resources.moderations",
        ("Moderations", "AsyncModerations"),
        ("create",),
        "moderations",
        "moderations",
    ),
    (
        "openai.resources.decisions",
        ("Decisions", "AsyncDecisions"),
        ("create",),
        "decisions",
        "decisions",
    ),
    (
        "openai.resources.responses.input_tokens",
        ("InputTokens", "AsyncInputTokens"),
        ("count",),
        "responses.input_tokens",
        "responses.input_tokens",
    ),
    (
        "openai.resources.beta.responses.input_tokens",
        ("InputTokens", "AsyncInputTokens"),
        ("count",),
        "beta.responses.input_tokens",
        "responses.input_tokens",
    ),
    (
        "openai.resources.batches",
        ("Batches", "AsyncBatches"),
        ("create",),
        "batches",
        "batches",
    ),
    (
        "openai.resources.live.live",
        ("Live", "AsyncLive"),
        ("create",),
        "live",
        "live.create",
    ),
)


def _streams(kwargs: Mapping[str, Any]) -> bool:
    """``retrieve`` is a model call only with ``stream=True`` (it resumes generation);
    fetching a stored response is not, and makes no record, not even when it fails
    (a background response it finds finished is one: see ``_openai_background``)."""
    return kwargs.get("stream") is True


def _never(kwargs: Mapping[str, Any]) -> bool:
    """``cancel`` is not a model call (the response it cancels may be a record)."""
    return False


_ONLY_IF: Final = {"retrieve": _streams, "cancel": _never}


# Every patched async method is an ``async def`` (behind a sync ``required_args`` shim,
# so introspection cannot tell): the table says so instead.
TARGETS: Final[tuple[Target, ...]] = (
    tuple(
        Target(
            module,
            f"{cls}.{name}",
            f"{prefix}.{name}",
            operation,
            cls == classes[1],
            only_if=_ONLY_IF.get(name),
            observe=background.seen if name in _ONLY_IF else None,
        )
        for module, classes, names, prefix, operation in _TABLE
        for name in names
        for cls in classes
    )
    + session_starts.TARGETS
)


# ---------------------------------------------------------------------------- caller thread

# What ``on_result`` does with a result, by the result's class.
_PLAIN, _STREAM, _ASYNC_STREAM, _RAW_READ, _RAW_UNREAD = range(5)


_kinds: dict[type, int] = {}


def _result_kind(cls: type) -> int:
    """Classify a result class once; later calls are a dict lookup."""
    kind = _kinds.get(cls)
    if kind is None:
        kind = _kinds[cls] = _classify(cls)
    return kind


def _classify(cls: type) -> int:
    from openai import AsyncStream, Stream

    kinds: list[tuple[tuple[type, ...], int]] = [
        ((Stream,), _STREAM),
        ((AsyncStream,), _ASYNC_STREAM),
    ]
    try:  # private modules: a future SDK may move them, then raw results stay plain
        from openai._legacy_response import LegacyAPIResponse
        from openai._response import APIResponse, AsyncAPIResponse

        kinds += [((LegacyAPIResponse,), _RAW_READ), ((APIResponse, AsyncAPIResponse), _RAW_UNREAD)]
    except ImportError:  # pragma: no cover - depends on the SDK version
        pass
    for classes, kind in kinds:
        if issubclass(cls, classes):
            return kind
    return _PLAIN


def _stream_proxy(cap: Capture, stream: Any, *, raw: bool = False) -> Any:
    proxy_class = (
        AsyncStreamProxy if _result_kind(stream.__class__) == _ASYNC_STREAM else SyncStreamProxy
    )
    return proxy_class(stream, cap, is_content_for(cap.operation), raw=raw)


def on_result(cap: Capture, result: Any) -> Any:
    """What the app gets back: the result itself, or a proxy that finishes the record later.

    Classified by ``__class__``, not ``type()``: another tool's proxy around the result
    (OpenInference, OpenTelemetry's instrumentations wrap streams with wrapt) says the
    class of what it wraps, and a stream it wraps is still read to its end."""
    kind = _result_kind(result.__class__)
    if kind in (_STREAM, _ASYNC_STREAM):
        return _stream_proxy(cap, result)
    if kind == _RAW_READ:
        if getattr(result, "_stream", False):
            if proxy_parsed_stream(result, lambda stream: _stream_proxy(cap, stream, raw=True)):
                return result
            cap.stream = True  # not swapped: a metadata record now, as for an unread body
        else:
            cap.extra["body_read"] = True
    elif kind == _RAW_UNREAD:
        cap.extra["body_read"] = False
        cap.stream = cap.kwargs.get("stream") is True  # the app reads the events itself
    else:
        noted = parsed_responses.take_noted(result)  # the response it was parsed from
        if noted is not None:
            cap.extra[parsed_responses.NOTED] = noted
        if cap.stream:
            foreign_streams.note(cap, result)
    finish(cap, result=result)
    return result


_WEBSOCKET_MODULES: Final = {
    "Responses": "openai.resources.responses.responses",
    "Realtime": "openai.resources.realtime.realtime",
    "Translations": "openai.resources.realtime.translations.translations",
    # The SDK's session helper: its ``TranslationConnection`` (cut at "Connection" below).
    "Translation": "openai.lib.realtime_translation",
    "Live": "openai.resources.live.live",
    "Forks": "openai.resources.live.forks",
    "Sideband": "openai.resources.live.sideband",
}
_WEBSOCKET_HELPERS: Final[Mapping[str, Wrapper]] = {
    **websocket_patches.wrappers("Responses", websocket.Session),
    **websocket_patches.wrappers("Realtime", RealtimeSession),
    **websocket_patches.wrappers(
        "Translations", RealtimeTranslationSession, helper="TranslationConnection"
    ),
    **websocket_patches.wrappers("Live", LiveSession),
    **websocket_patches.wrappers("Forks", LiveForkSession),
    **websocket_patches.wrappers("Sideband", LiveSidebandSession),
}
_HELPER_WRAPPERS: Final[Mapping[str, Wrapper]] = {**STREAM_HELPERS, **_WEBSOCKET_HELPERS}


def _helper_module(qualname: str) -> str:
    if qualname in _WEBSOCKET_HELPERS:
        protocol = qualname.removeprefix("Async").partition("Connection")[0]
        return _WEBSOCKET_MODULES[protocol]
    return CHAT_STREAMING if qualname.startswith(("Chat", "AsyncChat")) else RESPONSES_STREAMING


def _provider() -> Provider:
    return PROVIDER


_STARTS, _STARTS_WRAPPERS = session_starts.helpers(_provider)
_PARSES, _PARSE_WRAPPERS = parsed_responses.helpers("openai", "openai._response")
_RETRIES, _RETRY_WRAPPERS = retries.helpers("openai._base_client", CALL_FRAMES)
HELPERS: Final[tuple[Target, ...]] = (
    tuple(
        Target(_helper_module(qualname), qualname, qualname, "helper", qualname.startswith("Async"))
        for qualname in _HELPER_WRAPPERS
    )
    + _STARTS
    + agent_sessions.HELPERS
    + _PARSES
    + _RETRIES
)


# ---------------------------------------------------------------------------- writer thread


def request_fields(operation: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``model``, ``params``, ``system`` and ``messages`` from the request kwargs."""
    system: str | None = None
    messages: list[Any] | None
    if operation == "chat.completions":
        system, messages = request.chat_prompt(kwargs)
    elif operation in ("responses", "responses.input_tokens", "decisions"):
        system, messages = request.responses_prompt(kwargs)
    elif operation == "batches":
        messages = None  # the requests are in an uploaded file
    elif operation == "live.create":
        return request.live_session_fields(kwargs)
    elif operation in session_starts.OPERATIONS:
        return session_starts.request_fields(operation, kwargs)
    elif operation == "completions":
        messages = request.texts_prompt(kwargs.get("prompt"))
    elif operation in ("embeddings", "moderations", "audio.speech"):
        messages = request.texts_prompt(kwargs.get("input"))
        instructions = kwargs.get("instructions")
        system = instructions if isinstance(instructions, str) else None
    else:
        messages = request.media_prompt(kwargs, operation)
    return {
        "model": request.model_requested(kwargs),
        "params": request.params(kwargs, operation),
        "system": system,
        "messages": messages,
    }


def _body(cap: Capture) -> Any:
    """The response to read: the SDK object, or a raw response's decoded JSON body."""
    result = cap.result
    if "body_read" not in cap.extra:  # not a raw response: the SDK's own object
        return result
    if not cap.extra["body_read"]:
        return None  # with_streaming_response: the body is the app's to read
    http = result.http_response
    if cap.operation == "audio.speech" or cap.operation in session_starts.STARTED:
        return result  # its body is SDP or empty: what was started is in the headers
    text_format = cap.kwargs.get("response_format")  # (a chat call's is a dict)
    if isinstance(text_format, str) and text_format in _TEXT_FORMATS:
        return http.text  # a transcript as text: "42" or "null" would decode as JSON
    try:
        return json.loads(http.content)
    except ValueError:
        return http.text  # e.g. a transcription with response_format="text"


_TEXT_FORMATS: Final = frozenset({"text", "srt", "vtt"})  # transcripts the SDK returns as str


def _request_id(cap: Capture) -> str | None:
    result = cap.result
    request_id = getattr(result, "_request_id", None)
    if isinstance(request_id, str):
        return request_id
    if cap.error is not None:  # APIStatusError knows it; a mid-stream APIError does not
        request_id = getattr(cap.error, "request_id", None)
        if isinstance(request_id, str):
            return request_id
    if result is None:
        return None
    for name in ("http_response", "response"):
        headers = getattr(getattr(result, name, None), "headers", None)
        if headers is not None and hasattr(headers, "get"):
            found = headers.get("x-request-id")
            if isinstance(found, str):
                return found
    return None


def _helper_label(kwargs: Mapping[str, Any]) -> str | None:
    headers = kwargs.get("extra_headers")
    label = headers.get(_HELPER_HEADER) if isinstance(headers, Mapping) else None
    return label if label in _HELPER_LABELS else None


def extract(cap: Capture) -> dict[str, Any]:
    """Record fields for one call (writer thread)."""
    fields = request_fields(cap.operation, cap.kwargs)
    if (deployment := azure_deployment(cap)) is not None:
        fields["model"] = deployment
    label = _helper_label(cap.kwargs)
    if label is not None:
        fields["method"] = label
    reply: Reply | None = None
    refused: RefusedAnswer | None = None
    if cap.chunks is not None:
        reply = stream_reply(cap, label or cap.method)
    elif cap.result is not None:
        body = _body(cap)
        reply = _reader(cap.operation)(body) if body is not None else None
        if reply is not None and body is not cap.result:
            parse_raw_json_text(reply.get("output"), cap)
    elif cap.operation in session_starts.OPERATIONS and cap.error is None:
        reply = session_starts.reader(cap.operation)(None)  # an accept answers nothing
    elif (refused := answer_in_error(cap)) is not None:
        reply = READERS[cap.operation](refused.answer)
    if reply is not None:
        if fields.get("system") is not None:  # the app's own, not a stored prompt's
            reply.pop("system", None)
        fields.update(reply)
        background.mark_replay(cap, fields)
        background.fill_resumed(cap, fields)
    fields["request_id"] = _request_id(cap) or (refused.request_id if refused else None)
    fields["server_address"] = cap.extra.get("server_address")  # read when the call started
    fields.update(wire_fields(cap, _header_request_id))
    return fields


def _header_request_id(headers: Any) -> str | None:
    found = headers.get("x-request-id") if hasattr(headers, "get") else None
    return found if isinstance(found, str) else None


def _reader(operation: str) -> Callable[[Any], Reply]:
    if operation in session_starts.OPERATIONS:
        return session_starts.reader(operation)
    return READERS[operation]


PROVIDER: Final = Provider(
    name="openai",
    targets=TARGETS,
    extract=extract,
    on_result=on_result,
    helpers=HELPERS,
    helper_wrappers={
        **_HELPER_WRAPPERS,
        **_STARTS_WRAPPERS,
        **agent_sessions.HELPER_WRAPPERS,
        **_PARSE_WRAPPERS,
        **_RETRY_WRAPPERS,
    },
)
