"""The normalized record: field names, schema version, and the call capture.

This is the one place where record field names live. Instrumentors fill a
:class:`Capture` on the caller's thread (cheap: references, copies, clocks) and
the writer thread turns it into a record with the provider's ``extract``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

SCHEMA_VERSION: Final = 1
EVENT_CALL: Final = "llm.call"
EVENT_DROPPED: Final = "llmlog.dropped"

# Statuses of a call.
STATUS_OK: Final = "ok"
STATUS_ERROR: Final = "error"
STATUS_CANCELLED: Final = "cancelled"

# Every top-level field of a schema-1 record, in the order they are written.
FIELDS: Final[tuple[str, ...]] = (
    "event",
    "schema",
    "id",
    "ts",
    "provider",
    "operation",
    "method",
    "server_address",
    "server_port",  # only when not the scheme's default
    "request_id",
    "response_id",
    "model",
    "response_model",
    "params",
    "system",
    "messages",
    "output",
    "usage",
    "service_tier",
    "cost_usd",
    "price_source",
    "latency_ms",
    "ttft_ms",
    "attempts",  # requests the SDK sent for the call: 1 + its retries
    "retried",  # the failed attempts it retried: status_code, request_id, error
    "stream",
    "status",
    "error",
    "response_headers",  # allow-listed: rate limits, retry-after, processing time, billing
    "prompt_hash",
    "session_id",
    "user_id",
    "template",
    "tags",
    "trace_id",
    "span_id",
    "redactions",
    "truncated",
    "process",
)

# Keys of the nested objects.
OUTPUT_FIELDS: Final = ("text", "tool_calls", "finish_reason", "refusal", "parsed")
USAGE_FIELDS: Final = (
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "total_tokens",
)
ERROR_FIELDS: Final = ("type", "message", "status_code", "body")

# Free-text fields a redactor must visit (paths into the record).
TEXT_FIELDS: Final = ("system", "messages", "output", "error", "template", "params", "tags")
# Fields dropped when capture is "metadata".
CONTENT_FIELDS: Final = ("system", "messages")
CONTENT_OUTPUT_FIELDS: Final = ("text", "tool_calls", "refusal", "parsed", "thinking")


BASE_URL: Final = "base_url"
"""``cap.extra`` key: the client's base URL when the call started (its port is the
record's ``server_port``)."""

_hosts: dict[int, tuple[Any, str | None]] = {}
"""id(a client's base URL) -> (that URL, kept alive so the id stays its own; its host)."""


def server_address(client: Any) -> str | None:
    """The host an SDK ``client`` sends its calls to (OpenTelemetry's ``server.address``,
    lowercase, no port): it decides who billed the call. Read once per base URL."""
    url = getattr(client, "base_url", None)
    cached = _hosts.get(id(url))
    if cached is not None and cached[0] is url:
        return cached[1]
    host = getattr(url, "host", None)
    host = host.lower() if isinstance(host, str) and host else None
    if len(_hosts) >= 256:  # clients made per request: no end
        _hosts.clear()
    _hosts[id(url)] = (url, host)
    return host


def string_or_none(value: Any) -> str | None:
    """``value`` if it is a string (an SDK field that may be absent or of another type)."""
    return value if isinstance(value, str) else None


def empty_output() -> dict[str, Any]:
    """An ``output`` object with every key present and nothing in it."""
    return {"text": None, "tool_calls": [], "finish_reason": None, "refusal": None, "parsed": None}


def add_citations(output: dict[str, Any], citations: list[Any]) -> None:
    """``output["citations"]``: the sources the answer cites (URL, title, file, cited
    text), as the provider gave them, when there are any. Opaque fields that say nothing
    to a reader (Anthropic's ``encrypted_index``) are left out."""
    kept = [
        {k: v for k, v in c.items() if k not in _OPAQUE_CITATION_KEYS}
        for c in citations
        if isinstance(c, dict)
    ]
    if kept:
        output["citations"] = kept


_OPAQUE_CITATION_KEYS: Final = frozenset({"encrypted_index"})


_FORMAT_KWARGS: Final = ("response_format", "text_format", "output_format")
_SENTINEL_NAMES: Final = frozenset({"NotGiven", "Omit"})


CREDENTIAL_NAME_PARTS: Final = (
    *("auth", "key", "token", "secret", "cookie", "signature"),
    *("passw", "pwd", "credential", "session"),
    *("jwt", "bearer", "assertion"),
)
"""Lower-cased substrings of a header or query parameter name that say its value may be a
credential, whatever its format: gateways and proxies take keys under names of their own
(``Helicone-Auth``, ``x-portkey-api-key``, ``cf-aig-authorization``, ``?api-key=``,
``?access_token=``), MCP servers too (``X-Auth``, ``Authentication``), identity-aware
proxies' signed tokens (``X-JWT-Assertion``, ``X-Bearer``, ``?jwt=``). One rule for what
``params`` leaves out and for what redaction replaces in any ``headers`` dict."""
_CREDENTIAL_NAMES: Final = frozenset({"sig", "code"})  # an Azure SAS signature, an OAuth code
# The SDKs' own plumbing headers (the raw-response wrappers add one that holds a class).
_SDK_HEADER_PREFIXES: Final = ("x-stainless-", "____stainless")
# What a tracer puts in a call's headers (OpenLLMetry, Sentry): the record has the trace's
# ids; kept, they made params differ per call, and a replay would send a stale trace on.
_TRACE_HEADERS: Final = frozenset({"traceparent", "tracestate", "baggage", "sentry-trace", "b3"})


def without_credentials(options: Any, plain: Callable[[Any], Any]) -> dict[str, Any] | None:
    """The app's ``extra_headers`` or ``extra_query`` as ``params`` keeps them: values made
    ``plain``, without any that may be a credential, the SDK's own headers or a tracer's.

    Dropped by name, not found by redaction: a gateway key is an opaque string under a
    name of the gateway's choosing, which no pattern recognises (and ``redact=off`` runs
    no pattern), yet ``params`` must never hold credentials.
    """
    if not isinstance(options, Mapping):
        return None
    kept: dict[str, Any] = {}
    for name, value in options.items():
        lowered = str(name).lower()
        if (
            is_sentinel(value)
            or lowered.startswith(_SDK_HEADER_PREFIXES)
            or lowered in _TRACE_HEADERS
            or lowered in _CREDENTIAL_NAMES
            or any(part in lowered for part in CREDENTIAL_NAME_PARTS)
        ):
            continue
        kept[str(name)] = plain(value)
    return kept or None


def is_sentinel(value: object) -> bool:
    """The SDKs' markers for "this argument was not passed" (``not_given``, ``omit``)."""
    cls = type(value)
    package = cls.__module__.partition(".")[0]
    return cls.__name__ in _SENTINEL_NAMES and package in ("openai", "anthropic")


def parse_raw_json_text(output: Any, cap: Capture) -> None:
    """Fill ``output.parsed`` when ``cap`` is a ``.parse`` call whose raw body was read
    (``with_raw_response``).

    There the SDK parses only when the app calls ``.parse()``, which llmlog never does
    for it; the record decodes the answer's JSON text itself (the same data, before
    the app's model validates it). Left null without a format or without JSON text.
    """
    if cap.method.endswith(".parse"):
        decode_json_answer(output, cap.kwargs)


def is_cancellation(exc: BaseException) -> bool:
    """Whether ``exc`` ends a call as ``cancelled`` rather than failed: Ctrl-C, ``sys.exit()``
    (a graceful SIGTERM handler, gunicorn's QUIT/INT), a closed coroutine or generator,
    asyncio's ``CancelledError`` and trio's ``Cancelled`` (what anyio raises on each backend).
    By class name: no event-loop library is imported."""
    if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
        return True
    for cls in type(exc).__mro__:
        name = cls.__name__
        if name == "CancelledError":
            return True
        if name == "Cancelled" and cls.__module__.partition(".")[0] == "trio":
            return True
    return False


STREAM_CUT: Final = "StreamEndedEarly"
"""``error.type`` of a stream whose body ended before its last event, without an error
from the SDK (a connection or proxy that closed mid-answer): the app got part of it."""


def stream_end(cap: Capture, whole: bool, last_event: str) -> dict[str, Any]:
    """``status``/``error`` fields for how a stream ended, given whether its last event
    (``last_event``) came (``whole``); empty when the capture's own status stands.

    Closed by the app (or its block left) before the SDK read the body's end, without an
    error: ``ok`` if the answer was whole. Ended quietly by the SDK before the last event
    (a connection or proxy that closed mid-answer): ``error`` / :data:`STREAM_CUT`.
    """
    if cap.error is not None:
        return {}
    if whole:
        return {"status": STATUS_OK} if cap.status == STATUS_CANCELLED else {}
    if cap.status != STATUS_OK:
        return {}
    message = f"the stream ended before its last event ({last_event}): the answer may be partial"
    error = {"type": STREAM_CUT, "message": message, "status_code": None, "body": None}
    return {"status": STATUS_ERROR, "error": error}


def decode_json_answer(output: Any, kwargs: Mapping[str, Any]) -> None:
    """Fill ``output.parsed`` from the answer's JSON text when the call asked for a
    structured format (the stream helpers' final objects carry it parsed; the events
    carry only text). Left null without a format, without JSON text, or cut short."""
    if not isinstance(output, dict) or output.get("parsed") is not None:
        return
    text = output.get("text")
    if not isinstance(text, str) or not text.lstrip().startswith(("{", "[")):
        return
    if not _asks_for_format(kwargs):
        return
    with contextlib.suppress(ValueError, RecursionError):  # RecursionError: absurdly deep JSON
        output["parsed"] = json.loads(text)


def parsed_json(parsed: Any, plain: Callable[[Any], Any]) -> Any:
    """A parse helper's answer object as JSON data, spelled as the model wrote it: a
    pydantic model by its aliases, a dataclass or TypedDict as its fields (a stream's record
    decodes the same answer from its text: the two agree). ``plain`` for anything else."""
    import pydantic_core

    try:
        return pydantic_core.to_jsonable_python(parsed, by_alias=True)
    except (pydantic_core.PydanticSerializationError, ValueError, TypeError):
        return plain(parsed)


def _asks_for_format(kwargs: Mapping[str, Any]) -> bool:
    if any(
        kwargs.get(name) is not None and not is_sentinel(kwargs[name]) for name in _FORMAT_KWARGS
    ):
        return True
    for name in ("text", "output_config"):  # what responses.stream(text_format=...) sends;
        # Anthropic's structured output as threads and tool runners send it
        holder = kwargs.get(name)
        form = holder.get("format") if isinstance(holder, Mapping) else None
        if isinstance(form, Mapping) and form.get("type") == "json_schema":
            return True
    return False


def usage_record(
    *,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    cached_input_tokens: int | None = None,
    cache_write_tokens: int | None = None,
    reasoning_tokens: int | None = None,
    total_tokens: int | None = None,
    raw: Any = None,
) -> dict[str, Any]:
    """A normalized ``usage`` object; ``total_tokens`` is derived when absent. A count no
    server means (negative, or past 64 bits) is null: the raw usage still shows it."""
    input_tokens, output_tokens = _token_count(input_tokens), _token_count(output_tokens)
    if total_tokens is None and input_tokens is not None and output_tokens is not None:
        total_tokens = input_tokens + output_tokens
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cached_input_tokens": _token_count(cached_input_tokens),
        "cache_write_tokens": _token_count(cache_write_tokens),
        "reasoning_tokens": _token_count(reasoning_tokens),
        "total_tokens": _token_count(total_tokens),
        "raw": raw,
    }


def _token_count(value: int | None) -> int | None:
    return value if value is not None and 0 <= value < 1 << 63 else None


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = tuple(a + b for a in _CROCKFORD for b in _CROCKFORD)  # 10 bits -> 2 characters

_random = random.Random()  # seeded from os.urandom; the app's random.seed() cannot touch it
os.register_at_fork(after_in_child=_random.seed)  # a forked child must not repeat its parent


def new_id(now_ns: int | None = None) -> str:
    """A ULID: 26 characters, sortable by creation time, unique without coordination.

    48 bits of milliseconds, then 80 random bits, written ten bits at a time:
    this runs for every record. The bits come from a generator of llmlog's own
    seeded from ``os.urandom``, not from ``os.urandom`` per id: that call
    releases the GIL, and the writer must not (see ``_pipeline``).
    """
    ms = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    value = (ms << 80) | _random.getrandbits(80)
    pairs = _PAIRS
    return (
        _CROCKFORD[value >> 125]
        + "".join([pairs[(value >> shift) & 1023] for shift in range(115, 4, -10)])
        + _CROCKFORD[value & 31]
    )


_second_prefix: tuple[int, str] = (-1, "")
"""(epoch second, its ``YYYY-MM-DDTHH:MM:SS``): most records share their second's text."""


def iso_utc(epoch_ns: int) -> str:
    """UTC ISO-8601 with microseconds and a ``Z``, e.g. ``2026-01-02T03:04:05.123456Z``."""
    global _second_prefix
    seconds, ns = divmod(epoch_ns, 1_000_000_000)
    cached_second, prefix = _second_prefix
    if seconds != cached_second:
        prefix = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second_prefix = (seconds, prefix)
    return f"{prefix}.{ns // 1000:06d}Z"


@dataclass(slots=True, eq=False)
class Capture:
    """What one intercepted call leaves behind on the caller's thread.

    Everything here is cheap to fill: references to immutable SDK objects, a
    structural copy of the request kwargs, clock readings, the llmlog context.
    ``extract`` (a provider function, run on the writer thread) turns it into
    record fields.
    """

    provider: str
    method: str
    operation: str
    kwargs: dict[str, Any]
    extract: Callable[[Capture], dict[str, Any]]
    start_ns: int = field(default_factory=time.time_ns)
    start_perf: float = field(default_factory=time.perf_counter)
    end_perf: float | None = None
    first_chunk_perf: float | None = None
    read_end_perf: float | None = None  # a stream: when the app last stopped reading it
    context: Mapping[str, Any] | None = None
    trace_ids: tuple[str, str] | None = None
    result: Any = None
    error: BaseException | None = None
    chunks: list[Any] | None = None
    stream: bool = False
    status: str = STATUS_OK
    extra: dict[str, Any] = field(default_factory=dict)
    client: Any = None  # the SDK client called (a reference: e.g. which Azure deployment)
    # Set as it joins the writer's queue: a finish() cut short after that leaves it there
    # (a mark on the capture: a reference to the capture queued last kept the last call's
    # stream alive until the next call, and another thread's record made it look unqueued)
    queued: bool = False

    @property
    def latency_ms(self) -> float | None:
        if self.end_perf is None:
            return None
        return round((self.end_perf - self.start_perf) * 1000.0, 3)

    @property
    def ttft_ms(self) -> float | None:
        if self.first_chunk_perf is None:
            return None
        return round((self.first_chunk_perf - self.start_perf) * 1000.0, 3)


def safe_repr(value: object) -> str:
    """``repr(value)`` for the record; an object whose ``__repr__`` fails is named instead."""
    try:
        return repr(value)
    except Exception:
        return f"<{type(value).__name__} object: its repr() failed>"


def safe_str(value: object) -> str:
    """``str(value)``; when its ``__str__`` fails, its :func:`safe_repr` (``BadError('x')``)."""
    try:
        return str(value)
    except Exception:
        return safe_repr(value)


def class_description(
    cls: type, sent_schema: Callable[[type], Any] | None = None
) -> dict[str, Any]:
    """A format given as a class (``response_format=``, ``output_format=``): its name and the
    JSON schema the SDK sends in its place (``sent_schema``: the SDK's own conversion; else
    pydantic's schema). Built once per class, schemas being costly to generate, and kept
    only while the class lives: an app that makes its class per call
    (``pydantic.create_model``) must get them back."""
    try:
        per_class = _described.setdefault(cls, {})
    except TypeError:  # no weak reference to it
        return _describe(cls, sent_schema)
    described = per_class.get(sent_schema)
    if described is None:
        described = per_class[sent_schema] = _describe(cls, sent_schema)
    return dict(described)


_described: weakref.WeakKeyDictionary[type, dict[Any, dict[str, Any]]] = weakref.WeakKeyDictionary()


def _describe(cls: type, sent_schema: Callable[[type], Any] | None) -> dict[str, Any]:
    described: dict[str, Any] = {"class": f"{cls.__module__}.{cls.__qualname__}"}
    pydantic_schema = getattr(cls, "model_json_schema", None)
    for schema_of in (sent_schema, lambda _cls: pydantic_schema()):  # type: ignore[misc]
        if schema_of is None:
            continue
        try:
            described["json_schema"] = schema_of(cls)
            break
        except Exception:  # an SDK without that conversion, a class pydantic cannot describe
            continue
    return described


def media_stub(kind: str, mime: str | None, data: str | bytes) -> dict[str, Any]:
    """Stand-in for inline media: what it was, never the bytes themselves.

    ``data`` is the base64 text (or raw bytes) the app sent; the stub keeps the
    decoded size and a sha256 of the decoded bytes so identical images group.
    """
    import base64
    import binascii
    import hashlib

    if isinstance(data, str):
        try:
            raw = base64.b64decode(data, validate=False)
        except (binascii.Error, ValueError):
            raw = data.encode("utf-8", "replace")
    else:
        raw = data
    return {
        "type": kind,
        "mime": mime,
        "bytes": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
    }


def encrypted_stub(blob: str) -> dict[str, Any]:
    """Stand-in for an encrypted blob: a media stub of type ``encrypted`` whose size and
    sha256 are of the text as sent (it is opaque: nothing to decode), so a record stays
    small and unscanned however many turns resend it, and equal blobs still group."""
    return media_stub("encrypted", None, blob.encode("utf-8", "replace"))
