"""One record laid out for reading: facts first, then the conversation, then the rest."""

from __future__ import annotations

from typing import Any

import orjson

from llmlog.cli._format import cost, duration_ms, visible, visible_line

__all__ = ["render_record"]

# Fields shown in the sections below; everything else goes to "other fields".
_SHOWN = frozenset(
    {
        "event", "schema", "id", "ts", "provider", "operation", "method", "model",
        "response_model", "status", "latency_ms", "ttft_ms", "stream", "usage", "cost_usd",
        "price_source", "system", "messages", "output", "error", "params",
    }
)  # fmt: skip


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def _content(content: Any) -> str:
    if isinstance(content, str):
        return content
    return _json(content)


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines()) or prefix.rstrip()


def _facts(record: dict[str, Any]) -> list[str]:
    """``label     value`` lines, each value on its one line (see :func:`visible_line`)."""
    usage = record.get("usage") if isinstance(record.get("usage"), dict) else None
    model = record.get("model")
    response_model = record.get("response_model")
    if response_model and response_model != model:
        model = f"{model} -> {response_model}"
    price = record.get("cost_usd")
    call = f"{record.get('provider')} {record.get('method') or record.get('operation')}"
    if record.get("stream"):
        call += "  (stream)"
    latency = duration_ms(record.get("latency_ms"))
    if record.get("ttft_ms"):
        latency += f"  (first token {duration_ms(record['ttft_ms'])})"
    facts = [
        ("id", record.get("id")),
        ("time", record.get("ts")),
        ("call", call),
        ("model", model),
        ("status", record.get("status")),
        ("latency", latency),
    ]
    if usage:
        parts = [
            f"{usage.get(key)} {label}"
            for key, label in (
                ("input_tokens", "in"),
                ("cached_input_tokens", "cached"),
                ("cache_write_tokens", "cache write"),
                ("output_tokens", "out"),
                ("reasoning_tokens", "reasoning"),
            )
            if usage.get(key) is not None
        ]
        facts.append(("tokens", ", ".join(parts)))
    price_text = cost(price) if isinstance(price, int | float) else "unpriced"
    facts.append(("cost", f"{price_text}  ({record.get('price_source') or 'no price source'})"))
    return [f"{label:<10}{visible_line(str(value))}" for label, value in facts]


def _turn(message: dict[str, Any]) -> list[str]:
    """A message under its role; a Responses item without one (reasoning, function_call,
    function_call_output, item_reference) under its type. Keys besides the content
    (tool_calls, tool_call_id, name, call_id, arguments, ...) follow as JSON."""
    label = "role" if "role" in message else "type"
    rest = {
        k: v for k, v in message.items() if k not in (label, "content") and v not in (None, [], {})
    }
    body = []
    if message.get("content") is not None or not rest:
        body.append(_indent(_content(message.get("content"))))
    if rest:
        body.append(_indent(_json(rest)))
    return ["", visible_line(str(message.get(label, "?"))), *body]


def render_record(record: dict[str, Any]) -> str:
    """The whole record as sections a person can read top to bottom, made :func:`visible`."""
    out = _facts(record)
    if record.get("params"):
        out += ["", "params", _indent(_json(record["params"]))]
    if record.get("system"):
        out += ["", "system", _indent(_content(record["system"]))]
    messages = record.get("messages")
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict):
                out += _turn(message)
    output = record.get("output")
    if isinstance(output, dict):
        out += ["", "output"]
        if output.get("text"):
            out.append(_indent(str(output["text"])))
        rest = {k: v for k, v in output.items() if k != "text" and v not in (None, [], {})}
        if rest:
            out.append(_indent(_json(rest)))
    if record.get("error"):
        out += ["", "error", _indent(_json(record["error"]))]
    others = {k: v for k, v in record.items() if k not in _SHOWN and v not in (None, [], {})}
    if others:
        out += ["", "other fields", _indent(_json(others))]
    return visible("\n".join(out))
