"""The per-record byte cap: no line on disk is longer than ``LLMLOG_MAX_RECORD_BYTES``.

Every field has its own limit (``LLMLOG_MAX_FIELD_CHARS``), but a record of many fields,
each under it (400 messages of 14 KB, a thousand tool definitions), can still be megabytes
long: enough to fill a disk, or to be refused by a log shipper. :class:`CapRecord` is the
chain's last step, in place of :func:`~llmlog.processors.render`: it renders, and a line
no longer than the cap (nearly every one) is returned after one length check.

A longer line is shrunk from the line itself, read back: plain JSON data, after redaction
(nothing unredacted can come back), holding no object of the app's, llmlog's own to change.
Three steps, each re-rendered, the first whose line fits is written:

1. *texts*: the longest texts of the content (system, messages, params, output, template,
   tags, raw usage, error body) cut to one common length, the longest that fits, never
   below :data:`TEXT_FLOOR` characters, each ending in ``…[truncated N chars]`` as
   :class:`~llmlog.processors.Truncate` ends them;
2. *parts*: the biggest parts of the content (a message list, a param, an output part)
   emptied, biggest first;
3. *metadata*: the content dropped and every other text cut short, keeping what says what
   ran, how slow, how expensive and whether it failed (ids, model, usage, cost, latency,
   status, error, attempts, session, process).

``truncated`` then holds :data:`RECORD_BYTES` (the line's length before) and, as for any
cut, each path cut with its original length: characters for a text, items for a list or
object the cap emptied. The same record always shrinks the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

import orjson

from llmlog import _guard
from llmlog._record import EVENT_CALL
from llmlog.processors import _outside_tag, render, truncation_marker

RECORD_BYTES: Final = "record_bytes"
"""Key of ``truncated`` giving the size in bytes of a record the cap shrank."""
TEXT_FLOOR: Final = 64
"""Step 1 never cuts a text to fewer characters (an id or a finish reason is never cut)."""
_SLACK: Final = 64  # bytes for the RECORD_BYTES entry, and `{}` for a `truncated` of null
_CONTENT: Final = ("system", "messages", "params", "output", "template", "tags")
_CONTENT_INNER: Final = (("usage", "raw"), ("error", "body"))
_SMALL_PART: Final = 256
_DROPPED: Final = ("system", "messages", "params", "template")
_LAST_DROPPED: Final = ("tags", "redactions", "retried", "response_headers")
_METADATA_TEXT_CUTS: Final = (1000, 100, None, 0)  # None: drop the _LAST_DROPPED fields
_LLMLOG_TEXTS: Final = frozenset(
    {"event", "id", "ts", "provider", "operation", "method", "status", "prompt_hash"}
    | {"trace_id", "span_id"}
)  # llmlog's own, short, some with a pattern the schema checks: never cut
_MARKER: Final = re.compile(r"…\[truncated [0-9]+ chars\]\Z")
_OPTIONS: Final = orjson.OPT_APPEND_NEWLINE


class CapRecord:
    """Render a record; shrink one whose line is longer than ``max_bytes`` (``0``: never)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._limit: float = max_bytes or float("inf")

    def __call__(self, logger: Any, method: str, event_dict: dict[str, Any]) -> bytes:
        line = render(logger, method, event_dict)
        if len(line) <= self._limit:
            return line
        try:
            return shrink(line, self.max_bytes)
        except Exception as exc:  # a bug of ours: the record is written as it is
            _guard.report_internal_error(exc, "the record cap")
            return line


def shrink(line: bytes, limit: int) -> bytes:
    """``line`` (a rendered record) made at most ``limit`` bytes long, as the module says."""
    record = orjson.loads(line)
    if not isinstance(record, dict) or record.get("event") != EVENT_CALL:
        return line
    cuts = _Cuts(record, len(line))
    for step in (_cut_texts, _empty_parts, _metadata_only):
        line = step(record, cuts, limit, line)
        if len(line) <= limit:
            break
    return line


class _Cuts:
    """The ``truncated`` map being built: what was cut before, and by the cap."""

    def __init__(self, record: dict[str, Any], size: int) -> None:
        before = record.get("truncated")
        self.before: dict[str, Any] = before if isinstance(before, dict) else {}
        self.size = size
        self.paths: dict[str, int] = {}
        self.emptied: list[str] = []

    def original(self, path: str, text: str) -> tuple[str, int]:
        """``text`` without a cut marker of before, and its length as first recorded."""
        known = self.paths.get(path, self.before.get(path))
        if not isinstance(known, int):
            return text, len(text)
        marker = _MARKER.search(text)
        return (text if marker is None else text[: marker.start()]), known

    def empty(self, path: str, length: int) -> None:
        """``path`` emptied: what was cut under it no longer applies."""
        self.emptied.append(path)
        self.paths = {p: n for p, n in self.paths.items() if not _under(p, path)}
        self.paths[path] = length

    def written(self, record: dict[str, Any]) -> bytes:
        """``record`` rendered, its ``truncated`` saying what was cut, before and now."""
        kept = {
            path: length
            for path, length in self.before.items()
            if not any(_under(path, emptied) for emptied in self.emptied)
        }
        record["truncated"] = {RECORD_BYTES: self.size, **kept, **self.paths}
        return orjson.dumps(record, option=_OPTIONS)


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith((f"{parent}.", f"{parent}["))


# Step 1: the longest texts cut to one length -----------------------------------------


def _cut_texts(record: dict[str, Any], cuts: _Cuts, limit: int, line: bytes) -> bytes:
    """Cut the content's longest texts (see the module); tried again while the line shrinks
    but does not fit (a text's bytes may be more than its characters)."""
    for _ in range(3):
        texts = [t for t in _content_texts(record, cuts) if t.effective > TEXT_FLOOR]
        if not texts:
            return line
        level = _level([t.effective for t in texts], len(line) - limit + _SLACK)
        for text in texts:
            if text.effective > level:
                text.cut_to(level, cuts)
        shorter = cuts.written(record)
        if len(shorter) <= limit or len(shorter) >= len(line):
            return shorter
        line = shorter
    return line


class _Text:
    """A text of the content, where it is, and what cutting it would save."""

    def __init__(self, parent: Any, key: Any, path: str, cuts: _Cuts) -> None:
        self.parent, self.key, self.path = parent, key, path
        self.text, self.length = cuts.original(path, parent[key])
        overhead = len(truncation_marker(self.length).encode()) + len(path.encode()) + 16
        self.effective = len(self.text) - overhead

    def cut_to(self, keep: int, cuts: _Cuts) -> None:
        keep = _outside_tag(self.text, keep)
        self.parent[self.key] = self.text[:keep] + truncation_marker(self.length - keep)
        cuts.paths[self.path] = self.length


def _level(effective: list[int], excess: int) -> int:
    """The longest length to cut texts to so that ``excess`` bytes are saved: cutting
    every text whose ``effective`` length (less its marker) is past it saves the sum of
    the differences. Never below :data:`TEXT_FLOOR` (then not all can be saved)."""
    ordered = sorted(effective, reverse=True)
    total = 0
    for count, length in enumerate(ordered, 1):
        total += length
        level = (total - excess) // count
        following = ordered[count] if count < len(ordered) else TEXT_FLOOR
        if level >= following:
            return max(level, TEXT_FLOOR)
    return TEXT_FLOOR


def _content_texts(record: dict[str, Any], cuts: _Cuts) -> Iterator[_Text]:
    for parent, key, path in _content_roots(record):
        yield from _texts_in(parent, key, path, cuts)


def _content_roots(record: dict[str, Any]) -> Iterator[tuple[Any, Any, str]]:
    for key in _CONTENT:
        if record.get(key) is not None:
            yield record, key, key
    for outer, inner in _CONTENT_INNER:
        holder = record.get(outer)
        if isinstance(holder, dict) and holder.get(inner) is not None:
            yield holder, inner, f"{outer}.{inner}"


def _texts_in(parent: Any, key: Any, path: str, cuts: _Cuts) -> Iterator[_Text]:
    """Every text under ``parent[key]`` longer than :data:`TEXT_FLOOR` (a loop: no depth
    limit to reach)."""
    pending = [(parent, key, path)]
    while pending:
        holder, name, where = pending.pop()
        value = holder[name]
        if isinstance(value, str):
            if len(value) > TEXT_FLOOR:
                yield _Text(holder, name, where, cuts)
        elif isinstance(value, dict):
            pending.extend((value, k, f"{where}.{k}") for k in reversed(value))
        elif isinstance(value, list):
            pending.extend((value, i, f"{where}[{i}]") for i in reversed(range(len(value))))


# Step 2: the biggest parts emptied -----------------------------------------------------


def _empty_parts(record: dict[str, Any], cuts: _Cuts, limit: int, line: bytes) -> bytes:
    """Empty the content's biggest parts, biggest first, until the line fits."""
    parts = sorted(_parts(record), key=lambda part: -part[3])  # stable: ties in record order
    excess = len(line) - limit + _SLACK
    for parent, key, path, size in parts:
        value = parent[key]
        length = cuts.original(path, value)[1] if isinstance(value, str) else len(value)
        parent[key] = truncation_marker(length) if isinstance(value, str) else type(value)()
        cuts.empty(path, length)
        excess -= size - len(orjson.dumps(parent[key])) - len(path.encode()) - 16
        if excess <= 0:
            line = cuts.written(record)
            if len(line) <= limit:
                return line
            excess = len(line) - limit + _SLACK
    return cuts.written(record)


def _parts(record: dict[str, Any]) -> Iterator[tuple[Any, Any, str, int]]:
    """(holder, key, path, rendered size) of each part step 2 may empty: a content field,
    or a member of one that is an object (``params.tools``, ``output.tool_calls``); none
    of :data:`_SMALL_PART` bytes or less (a finish reason)."""
    for parent, key, path in _content_roots(record):
        value = parent[key]
        members = [(parent, key, path)]
        if isinstance(value, dict) and key in _CONTENT:
            members = [(value, k, f"{path}.{k}") for k in value]
        for holder, name, where in members:
            part = holder[name]
            if isinstance(part, str | list | dict):
                size = len(orjson.dumps(part))
                if size > _SMALL_PART:
                    yield holder, name, where, size


# Step 3: the metadata alone ------------------------------------------------------------


def _metadata_only(record: dict[str, Any], cuts: _Cuts, limit: int, line: bytes) -> bytes:
    """Drop the content, then cut the other texts ever shorter until the line fits."""
    for field in _DROPPED:
        _drop(record, field, field, cuts)
    output = record.get("output")
    if isinstance(output, dict):
        for key in [k for k in output if k != "finish_reason"]:
            _drop(output, key, f"output.{key}", cuts)
        record["output"] = _bare_output(output)
    for outer, inner in _CONTENT_INNER:
        holder = record.get(outer)
        if isinstance(holder, dict):
            _drop(holder, inner, f"{outer}.{inner}", cuts)
    for longest in _METADATA_TEXT_CUTS:
        if longest is None:  # the app's maps and the retries' details, before ids and model
            for field in _LAST_DROPPED:
                _drop(record, field, field, cuts)
        else:
            for field in record:
                if field not in _LLMLOG_TEXTS and field != "truncated":
                    _cut_all(record, field, field, longest, cuts)
        line = cuts.written(record)
        if len(line) <= limit:
            break
    return line


def _drop(parent: dict[str, Any], key: str, path: str, cuts: _Cuts) -> None:
    """``parent[key]`` made null, its original length in ``truncated``."""
    value = parent.get(key)
    if value is None:
        return
    if isinstance(value, str | list | dict) and value:
        length = cuts.original(path, value)[1] if isinstance(value, str) else len(value)
        cuts.empty(path, cuts.paths.get(path, length))  # (emptied before: as it was then)
    parent[key] = None


def _bare_output(output: Any) -> Any:
    """The output with only its finish reason (did the answer end or was it cut?)."""
    if not isinstance(output, dict):
        return None
    bare = dict.fromkeys(("text", "tool_calls", "finish_reason", "refusal", "parsed"))
    bare["finish_reason"] = output.get("finish_reason")
    return bare


def _cut_all(parent: Any, key: Any, path: str, longest: int, cuts: _Cuts) -> None:
    """Cut every text under ``parent[key]`` to ``longest`` characters (no marker: the
    path is in ``truncated``)."""
    value = parent[key]
    if isinstance(value, str):
        text, length = cuts.original(path, value)
        if len(text) > longest or text is not value:
            parent[key] = text[:longest]
            cuts.paths[path] = length
    elif isinstance(value, dict):
        for name in list(value):
            _cut_all(value, name, f"{path}.{name}", longest, cuts)
    elif isinstance(value, list):
        for index in range(len(value)):
            _cut_all(value, index, f"{path}[{index}]", longest, cuts)
