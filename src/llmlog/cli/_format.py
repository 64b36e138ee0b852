"""Turning records and numbers into text a person reads in a terminal."""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from typing import Any

__all__ = [
    "clip",
    "cost",
    "duration_ms",
    "json_visible",
    "mapping",
    "one_line",
    "output_text",
    "prompt_text",
    "table",
    "token_counts",
    "tokens",
    "visible",
    "visible_line",
]

# Characters a terminal acts on instead of showing: C0 controls but newline and tab,
# DEL, C1 controls (0x9b is CSI), and the bidi marks, embeddings, overrides and isolates
# that reorder what follows them. Then characters that show as nothing, which can hide
# text from the reader that a model still reads: zero-width spaces and joiners, the word
# joiner and invisible operators, the byte-order mark, and Unicode tag characters (an
# instruction spelled in tags is invisible in a terminal).
_ACTING = "\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_HIDDEN = "\u200b-\u200d\u2060-\u2064\ufeff\U000e0000-\U000e007f"
_CONTROLS = f"\x00-\x08\x0b-\x1f{_ACTING}{_HIDDEN}"
_UNSAFE = re.compile(f"[{_CONTROLS}]")
# In JSON text, C0 controls are escaped by JSON itself; these are written raw by orjson.
_UNSAFE_IN_JSON = re.compile(f"[{_ACTING}{_HIDDEN}]")
# On one line, also newline, tab and the Unicode line and paragraph separators.
_UNSAFE_IN_LINE = re.compile(f"[\n\t\u2028\u2029{_CONTROLS}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    high, low = divmod(code - 0x10000, 0x400)  # JSON spells it as a UTF-16 surrogate pair
    return f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}"


def json_visible(data: bytes) -> bytes:
    """orjson's ``data`` with every character :func:`visible` spells out written as a JSON
    escape (``\\u009b``, ``\\u202e``): the same JSON value, safe to print. orjson writes
    C0 controls escaped already, but DEL, C1 controls, bidi and invisible characters raw,
    and a terminal acts on those. Outside strings JSON text is ASCII, so only strings change.
    """
    if data.isascii() and b"\x7f" not in data:
        return data
    return _UNSAFE_IN_JSON.sub(_json_escape, data.decode()).encode()


def visible(text: str) -> str:
    """``text`` safe to print: every control or bidi character spelled out (``\\x1b``).

    Logged text comes from users and models; printed raw, an escape sequence
    could retitle, clear or rewrite the reader's terminal. Newlines and tabs stay.
    """
    return _UNSAFE.sub(_escape, text)


def visible_line(text: str) -> str:
    """:func:`visible` ``text`` on one line: newlines and tabs spelled out too (``\\x0a``).

    For a table cell or a labelled value: a logged value holding a newline and
    a fake row or fact must not print as that row or fact.
    """
    return _UNSAFE_IN_LINE.sub(_escape, text)


def counted(count: int, noun: str) -> str:
    """``1 call``, ``2 calls``, ``0 calls``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def clip(text: str, width: int) -> str:
    """:func:`visible_line` text in at most ``width`` characters, ending in ``…`` when cut.

    The cut falls between characters of ``text``, never inside a spelled-out escape.
    """
    shown = visible_line(text)
    if len(shown) <= width:
        return shown
    pieces: list[str] = []
    used = 0
    for char in text[:width]:
        piece = visible_line(char)
        if used + len(piece) > width - 1:
            break
        pieces.append(piece)
        used += len(piece)
    return "".join(pieces) + "…"


def mapping(record: dict[str, Any], key: str) -> dict[str, Any]:
    """``record[key]`` when it is an object, else an empty one (absent, null, damaged)."""
    value = record.get(key)
    return value if isinstance(value, dict) else {}


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: frozenset[int]) -> str:
    """A plain-text table; columns whose index is in ``right`` are right-aligned.

    Cells are made :func:`visible_line` first, so the widths are those printed and a
    cell's own newline cannot start a row.
    """
    headers = [visible_line(h) for h in headers]
    rows = [[visible_line(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(width) if index in right else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def duration_ms(value: Any) -> str:
    """``850ms``, ``2.31s``, ``12.5s``; ``-`` when unknown (also when not a number: a
    damaged or hand-edited record must not stop a command)."""
    if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
        return "-"
    if value >= 10_000:
        return f"{value / 1000:.1f}s"
    if value >= 1000:
        return f"{value / 1000:.2f}s"
    return f"{value:.0f}ms"


def tokens(value: int, unknown: int = 0) -> str:
    """``950``, ``12.3k``, ``45.6M``; ``*``: the sum leaves out calls of unknown usage."""
    if value >= 10_000_000:
        text = f"{value / 1_000_000:.1f}M"
    elif value >= 10_000:
        text = f"{value / 1000:.1f}k"
    else:
        text = str(value)
    return text + ("*" if unknown else "")


def token_counts(record: dict[str, Any]) -> str:
    """``12>34``: the call's input and output tokens, ``?`` for a count not known (a
    cancelled stream, a failed call): no usage is not zero tokens."""
    usage = mapping(record, "usage")
    counts = (usage.get("input_tokens"), usage.get("output_tokens"))
    return ">".join("?" if count is None else str(count) for count in counts)


def cost(value: float | None, unpriced: int = 0) -> str:
    """Dollars with enough digits for tiny calls; ``*``: the total leaves out unpriced calls."""
    if value is None or value == 0:  # none billed (a refused call, a free one)
        return ("-" if unpriced else "$0") if value is None else "$0" + ("*" if unpriced else "")
    if value >= 1:
        text = f"${value:,.2f}"
    else:
        text = f"${value:.4f}" if value >= 0.01 else f"${value:.6f}"
        if value > 0 and text == "$0.000000":  # a cost, not none
            text = "<$0.000001"
    return text + ("*" if unpriced else "")


def _text_of(content: Any) -> str:
    """Readable text of a message ``content``: a string, or the text of its parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        pieces = []
        for part in content:
            if isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    pieces.append(text)
                elif part.get("type"):
                    pieces.append(f"[{part['type']}]")
            elif isinstance(part, str):
                pieces.append(part)
        return " ".join(pieces)
    return ""


def prompt_text(record: dict[str, Any]) -> str:
    """The last user turn, which is what a person recognises a call by."""
    messages = record.get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return _text_of(message.get("content"))
        if messages and isinstance(messages[-1], dict):
            return _text_of(messages[-1].get("content"))
    return ""


def output_text(record: dict[str, Any]) -> str:
    """What the model answered: its text, else its tool calls, else its refusal."""
    output = record.get("output")
    if not isinstance(output, dict):
        return ""
    text = output.get("text")
    if isinstance(text, str) and text:
        return text
    calls = output.get("tool_calls")
    if isinstance(calls, list) and calls:
        names = [str(c.get("name")) for c in calls if isinstance(c, dict)]
        return "tool calls: " + ", ".join(names)
    refusal = output.get("refusal")
    return f"refusal: {refusal}" if isinstance(refusal, str) else ""


def _squash(text: str, width: int) -> str:
    return clip(" ".join(text.split()), max(width, 0))


def one_line(record: dict[str, Any], width: int | None = None) -> str:
    """``time  id  model  status  latency  tokens  cost  prompt → output`` in ``width`` columns.

    The id is cut to 12 characters, enough for ``llmlog show``; the prompt
    (last user turn) and the answer share what room is left. Every field is
    made :func:`visible`.
    """
    width = width or shutil.get_terminal_size((120, 24)).columns
    price = record.get("cost_usd")
    status = str(record.get("status") or "?")
    error = mapping(record, "error")
    if status == "error" and error:
        status = f"error:{error.get('status_code') or error.get('type')}"
    head = visible(
        "  ".join(
            " ".join(str(part).split())  # a field's own newlines must not start a new row
            for part in [
                str(record.get("ts") or "")[5:19].replace("T", " "),
                str(record.get("id") or "")[:12],
                str(record.get("model") or record.get("response_model") or "?"),
                status,
                duration_ms(record.get("latency_ms")),
                token_counts(record),
                cost(price) if isinstance(price, float | int) else "-",
            ]
        )
    )
    room = max(width - len(head) - 5, 20)
    prompt = " ".join(prompt_text(record).split())
    answer = " ".join((str(error.get("message") or "") if error else output_text(record)).split())
    prompt_room = min(len(visible(prompt)), max(room // 2, room - len(visible(answer))))
    return f"{head}  {_squash(prompt, prompt_room)} → {_squash(answer, room - prompt_room)}"
