"""A Responses stream's events -> the record's fields, as the SDK rebuilds its response.

The terminal event's ``response`` when it came; the output it leaves out, or all of it for
a stream cut short, from the output items the events built (``output_item.done`` where one
came, else the ``added`` item and the deltas after it), in ``output_index`` order.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterable
from typing import Any, Final

from llmlog._record import STATUS_ERROR
from llmlog.instrumentors._openai_request import plain
from llmlog.instrumentors._openai_response import Reply, read_response
from llmlog.instrumentors._sdk_field import field

TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})
_STARTS: Final = frozenset({"response.created", "response.in_progress", "response.queued"})

_PART_DELTAS: Final = {
    "response.output_text.delta": ("message", "content", "output_text", "text"),
    "response.refusal.delta": ("message", "content", "refusal", "refusal"),
    "response.reasoning_text.delta": ("reasoning", "content", "reasoning_text", "text"),
    "response.reasoning_summary_text.delta": ("reasoning", "summary", "summary_text", "text"),
}
"""Deltas that add text to a part of an output item: (the item's type, its list of parts,
the part's type, the part's text field). The part's place is ``<list>_index``."""

_PART_ADDED: Final = {
    "response.content_part.added": ("message", "content"),
    "response.reasoning_summary_part.added": ("reasoning", "summary"),
}

_CALL_DELTAS: Final = {
    "response.function_call_arguments.delta": ("function_call", "arguments"),
    "response.custom_tool_call_input.delta": ("custom_tool_call", "input"),
    "response.mcp_call_arguments.delta": ("mcp_call", "arguments"),
    "response.code_interpreter_call_code.delta": ("code_interpreter_call", "code"),
}
"""Deltas that add to what the model asks a tool to do: (the item's type, its field)."""


def _as_dict(value: Any) -> dict[str, Any]:
    """An item or part to build on: decoded JSON as is, an SDK model as its JSON."""
    if isinstance(value, dict):
        return value
    dumped = plain(value) if value is not None else None
    return dumped if isinstance(dumped, dict) else {}


def _index_in(event: Any, name: str) -> int:
    """The event's ``output_index`` / ``content_index`` ... (-1 from a server leaving it out)."""
    index = field(event, name)
    return index if isinstance(index, int) else -1


class _Building:
    """One output item as its events built it: the ``added`` item, then its parts and deltas."""

    __slots__ = ("item", "parts", "pieces", "strings")

    def __init__(self, item: dict[str, Any]) -> None:
        self.item = item
        self.parts: dict[tuple[str, int], dict[str, Any]] = {}
        self.pieces: dict[tuple[str, int, str, str], list[str]] = {}
        self.strings: dict[str, list[str]] = {}

    def built(self) -> dict[str, Any]:
        item = dict(self.item)
        for name, pieces in self.strings.items():
            item[name] = _joined(item.get(name), pieces)
        for where in {at for at, _ in self.parts} | {key[0] for key in self.pieces}:
            item[where] = self._parts(where, item.get(where))
        return item

    def _parts(self, where: str, given: Any) -> list[dict[str, Any]]:
        parts = dict(enumerate(given)) if isinstance(given, list) else {}
        parts.update((index, part) for (at, index), part in self.parts.items() if at == where)
        for (at, index, kind, text), pieces in self.pieces.items():
            if at == where:
                part = dict(_as_dict(parts.get(index)) or {"type": kind})
                part[text] = _joined(part.get(text), pieces)
                parts[index] = part
        return [_as_dict(part) for _, part in sorted(parts.items())]


def _joined(before: Any, pieces: list[str]) -> str:
    return (before if isinstance(before, str) else "") + "".join(pieces)


class _Output:
    """A Responses stream's output items by ``output_index``, as the SDK rebuilds them:
    the ``output_item.done`` item where one came (its final text, status, annotations),
    else the ``added`` item and the deltas that followed it."""

    def __init__(self, events: Iterable[Any]) -> None:
        self.done: dict[int, Any] = {}
        self.building: dict[int, _Building] = {}
        self.response_id: Any = None
        self.model: Any = None
        for event in events:
            self._add(event)

    def items(self) -> list[Any]:
        indexes = sorted(self.done.keys() | self.building.keys())
        return [self.done[i] if i in self.done else self.building[i].built() for i in indexes]

    def _add(self, event: Any) -> None:
        kind = field(event, "type")
        if kind in _PART_DELTAS:
            self._add_piece(event, *_PART_DELTAS[kind])
        elif kind in _CALL_DELTAS:
            self._add_call_piece(event, *_CALL_DELTAS[kind])
        elif kind in _PART_ADDED:
            item_type, where = _PART_ADDED[kind]
            place = (where, _index_in(event, f"{where}_index"))
            self._item(event, item_type).parts[place] = _as_dict(field(event, "part"))
        elif kind == "response.output_item.added" and field(event, "item") is not None:
            self.building[_index_in(event, "output_index")] = _Building(
                _as_dict(field(event, "item"))
            )
        elif kind == "response.output_item.done" and field(event, "item") is not None:
            self.done[_index_in(event, "output_index")] = field(event, "item")
        elif kind in _STARTS:
            response = field(event, "response")
            self.response_id = self.response_id or field(response, "id")
            self.model = self.model or field(response, "model")

    def _item(self, event: Any, kind: str) -> _Building:
        """The item an event adds to; one of ``kind`` if its ``added`` event never came
        (a stream resumed with ``starting_after``, a server that leaves it out)."""
        index = _index_in(event, "output_index")
        building = self.building.get(index)
        if building is None:
            building = self.building[index] = _Building({"type": kind})
        return building

    def _add_piece(self, event: Any, item_type: str, where: str, kind: str, text: str) -> None:
        delta = field(event, "delta")
        if isinstance(delta, str):
            place = (where, _index_in(event, f"{where}_index"), kind, text)
            self._item(event, item_type).pieces.setdefault(place, []).append(delta)

    def _add_call_piece(self, event: Any, kind: str, name: str) -> None:
        """A call's arguments in pieces; a piece for no known call has no call to go to."""
        delta = field(event, "delta")
        building = self.building.get(_index_in(event, "output_index"))
        if building is not None and isinstance(delta, str) and building.item.get("type") == kind:
            building.strings.setdefault(name, []).append(delta)


def accumulate_responses(events: Iterable[Any]) -> Reply:
    """Responses events: the terminal event's full ``response`` when it came, else (or for
    the output it left out, as the SDK does) the output items the events built."""
    events = list(events)
    error_event = None
    for event in reversed(events):
        kind = field(event, "type")
        if kind in TERMINAL_EVENTS:
            response = field(event, "response")
            reply = read_response(response)
            if not field(response, "output"):  # left out: the items streamed before have it
                arrived = _read_items(_Output(events).items())
                reply["output"].update((k, v) for k, v in arrived.items() if v)
            break
        if kind == "error" and error_event is None:
            error_event = event
    else:
        reply = _responses_from_deltas(events)
    if error_event is not None:
        reply["status"] = STATUS_ERROR
        reply["error"] = {
            "type": field(error_event, "code") or "error",
            "message": field(error_event, "message"),
            "status_code": None,
            "body": {"code": field(error_event, "code"), "param": field(error_event, "param")},
        }
    return reply


def _read_items(items: list[Any]) -> dict[str, Any]:
    """The record's ``output`` from output items, read as a whole response's."""
    output: dict[str, Any] = read_response({"output": items})["output"]
    return output


def _responses_from_deltas(events: list[Any]) -> Reply:
    """A partial Responses stream (closed early or failed): rebuild what arrived."""
    built = _Output(events)
    return {
        "response_id": built.response_id,
        "response_model": built.model,
        "output": _read_items(built.items()),
        "usage": None,
    }


def output_items(events: list[Any]) -> list[Any]:
    """A Responses stream's output items: the terminal event's, else the ones built."""
    for event in reversed(events):
        if field(event, "type") in TERMINAL_EVENTS:
            output = field(field(event, "response"), "output")
            if output:
                return list(output)
            break
    return _Output(events).items()


def final_answers(items: list[Any]) -> list[str]:
    """The texts the SDK parses for ``output_parsed``: a message's ``output_text`` whose
    ``phase`` is ``final_answer`` or absent (commentary before the answer is not it), or,
    with an SDK that parses every message (before openai 3.14.1), each message's."""
    by_phase = _sdk_parses_by_phase()
    return [
        field(part, "text")
        for item in items
        if field(item, "type") == "message"
        and (not by_phase or field(item, "phase") in (None, "final_answer"))
        for part in field(item, "content") or ()
        if field(part, "type") == "output_text" and isinstance(field(part, "text"), str)
    ]


@functools.cache
def _sdk_parses_by_phase() -> bool:
    """Whether the installed openai SDK leaves a message's text unparsed by its ``phase``."""
    try:
        from openai.lib._parsing._responses import parse_text
    except ImportError:
        return True
    try:
        return "phase" in inspect.signature(parse_text).parameters
    except (TypeError, ValueError):
        return True
