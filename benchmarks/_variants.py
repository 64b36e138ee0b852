"""How each contender is switched on, each writing locally with content capture on.

``setup(name, out_dir)`` instruments the process and returns a ``flush``
callable that blocks until everything captured so far has been written, so
that background work (llmlog's writer, the OpenTelemetry batch processor,
LangSmith's sender) is inside the measured CPU. Imported in every peer's
virtualenv: standard library only at module level.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

Flush = Callable[[], None]

OTEL_PEERS = ("openinference", "openllmetry", "otel-genai-v2")


def setup(name: str, out_dir: Path) -> Flush:
    if name == "bare":
        return lambda: None
    if name.startswith("llmlog"):
        return _llmlog(name, out_dir)
    if name == "naive":
        return _naive(out_dir)
    if name in OTEL_PEERS:
        return _otel_instrumentors(name, out_dir)
    if name == "logfire":
        return _logfire(out_dir)
    if name == "langsmith":
        return _langsmith()
    raise ValueError(f"unknown variant {name!r}")


def _llmlog(name: str, out_dir: Path) -> Flush:
    import llmlog

    redact = name.partition("-")[2] or "secrets"
    llmlog.instrument(output=str(out_dir / "llmlog.jsonl"), redact=redact)
    return lambda: None if llmlog.flush(60) else print("llmlog flush timed out")


def _span_file_exporter(out_dir: Path) -> Any:
    """A span exporter writing one JSON line per span to a local file."""
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    out = (out_dir / "spans.jsonl").open("w")
    return ConsoleSpanExporter(out=out, formatter=lambda span: span.to_json(indent=None) + "\n")


def _otel_instrumentors(name: str, out_dir: Path) -> Flush:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(_span_file_exporter(out_dir)))
    if name == "openinference":
        from openinference.instrumentation.anthropic import AnthropicInstrumentor
        from openinference.instrumentation.openai import OpenAIInstrumentor
    elif name == "openllmetry":
        os.environ.setdefault("TRACELOOP_TRACE_CONTENT", "true")
        from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor
    else:  # the OpenTelemetry contrib package; it has no Anthropic instrumentor
        os.environ.setdefault("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
        import httpx2

        httpx2.alias_httpx()  # it imports httpx, which the SDKs no longer use
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        AnthropicInstrumentor = None
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    if AnthropicInstrumentor is not None:
        AnthropicInstrumentor().instrument(tracer_provider=provider)
    return lambda: None if provider.force_flush(60_000) else print("span flush timed out")


def _logfire(out_dir: Path) -> Flush:
    import logfire
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    logfire.configure(
        send_to_logfire=False,
        console=False,
        additional_span_processors=[BatchSpanProcessor(_span_file_exporter(out_dir))],
    )
    logfire.instrument_openai()
    logfire.instrument_anthropic()
    return lambda: None if logfire.force_flush(60_000) else print("logfire flush timed out")


def _langsmith() -> Flush:
    """Real tracing to a loopback sink (``LANGSMITH_ENDPOINT``, set by the orchestrator).

    The SDK clients are wrapped in ``make_client``; the runs go out on
    LangSmith's own background sender, as in production, to a local server
    that answers 200 at once.
    """
    os.environ["LANGSMITH_TRACING"] = "true"
    os.environ.setdefault("LANGSMITH_API_KEY", "bench")
    from langsmith import run_trees

    # LangSmith 0.15's sender thread stopped mid-run in full runs (its loop ends on a
    # refcount test of the client); a later flush() then waited for it forever. The
    # client is kept alive, and the wait bounded: runs still queued after 30 s are not
    # sent, which can only make LangSmith's CPU look lower than it is.
    client = run_trees.get_cached_client()

    def flush() -> None:
        client.flush(timeout=30)

    return flush


def wrap_client(name: str, client: Any) -> Any:
    """LangSmith instruments clients rather than classes."""
    if name != "langsmith":
        return client
    from langsmith import wrappers

    if type(client).__module__.startswith("openai"):
        return wrappers.wrap_openai(client)
    return wrappers.wrap_anthropic(client)


# The naive wrapper from the blog posts: json.dumps + logging.FileHandler ----------


def _naive(out_dir: Path) -> Flush:
    import anthropic.resources.messages.messages as anthropic_messages
    import openai.resources.chat.completions.completions as openai_chat

    logger = logging.getLogger("naive_llm_log")
    handler = logging.FileHandler(out_dir / "naive.jsonl")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for cls in (openai_chat.Completions, anthropic_messages.Messages):
        cls.create = _naive_wrapper(cls.create, logger)  # type: ignore[method-assign]
    return handler.flush


def _naive_wrapper(create: Any, logger: logging.Logger) -> Any:
    def logged_create(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.time()
        response = create(self, *args, **kwargs)
        if kwargs.get("stream"):
            return _naive_stream(response, kwargs, start, logger)
        entry = {
            "ts": start,
            "request": kwargs,
            "response": response.model_dump(),
            "latency_s": time.time() - start,
        }
        logger.info(json.dumps(entry, default=str))
        return response

    return logged_create


def _naive_stream(
    stream: Any, kwargs: dict[str, Any], start: float, logger: logging.Logger
) -> Iterator[Any]:
    parts: list[str] = []
    for chunk in stream:
        text = _delta_text(chunk)
        if text:
            parts.append(text)
        yield chunk
    entry = {"ts": start, "request": kwargs, "response_text": "".join(parts)}
    entry["latency_s"] = time.time() - start
    logger.info(json.dumps(entry, default=str))


def _delta_text(chunk: Any) -> str | None:
    choices = getattr(chunk, "choices", None)
    if choices:
        return choices[0].delta.content  # type: ignore[no-any-return]
    delta = getattr(chunk, "delta", None)
    return getattr(delta, "text", None)
