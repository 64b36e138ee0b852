"""Processors of llmlog's pipeline, each a plain structlog processor.

A processor is a callable ``(logger, method_name, event_dict) -> event_dict``
run on the writer thread. None of them mutates a container it was given:
event dicts may hold references to the app's own objects, so a changed field
is a new object.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Collection
from typing import Any, Final

import orjson

from llmlog._jsonable import CYCLE, JSON_OPTIONS, MAX_DEPTH, dumps, to_jsonable, writable
from llmlog._metadata_only import MetadataOnly
from llmlog._record import EVENT_CALL, TEXT_FIELDS

__all__ = [
    "CYCLE",
    "MAX_DEPTH",
    "MetadataOnly",
    "PromptHash",
    "Truncate",
    "render",
    "to_jsonable",
    "writable",
]


def render(_logger: Any, _method: str, event_dict: dict[str, Any]) -> bytes:
    """Final processor: one JSON object on one line (newlines inside are escaped)."""
    return dumps(event_dict, JSON_OPTIONS | orjson.OPT_APPEND_NEWLINE)


class PromptHash:
    """``prompt_hash``: sha256 of the canonical, unredacted (system, messages, model).

    Identical prompts get identical hashes, so "has this happened before?" is
    a ``GROUP BY``. With ``key`` it is an HMAC, so a hash of a prompt whose redacted
    value has few possibilities cannot be reversed by guessing; the chain always
    gives one (:mod:`llmlog._hash_key`).
    """

    def __init__(self, key: str = "") -> None:
        encoded = key.encode("utf-8") if key else b""
        # Copied per record: the key's own hashing is done once, not for every record.
        self._empty = hmac.new(encoded, None, hashlib.sha256) if encoded else hashlib.sha256()

    def __call__(self, _logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        if event_dict.get("event") != EVENT_CALL or event_dict.get("messages") is None:
            return event_dict
        prompt = [event_dict.get("system"), event_dict.get("messages"), event_dict.get("model")]
        canonical = dumps(prompt, JSON_OPTIONS | orjson.OPT_SORT_KEYS)  # as ``render`` writes it
        hasher = self._empty.copy()
        view = memoryview(canonical)
        for start in range(0, len(view), _UNDER_GIL_RELEASE):
            hasher.update(view[start : start + _UNDER_GIL_RELEASE])
        return {**event_dict, "prompt_hash": hasher.hexdigest()}


_UNDER_GIL_RELEASE = 2047
"""hashlib releases the GIL for 2,048 bytes and more at once; the writer must not
(see ``_pipeline``), so long prompts are hashed in smaller pieces (same digest)."""


def truncation_marker(cut: int) -> str:
    """What ends a text cut short, wherever llmlog cuts one: how many characters went."""
    return f"…[truncated {cut} chars]"


class Truncate:
    """Cut any string longer than ``max_chars``; record each cut in ``truncated``.

    Only the free-text fields are visited. ``truncated`` maps the field's
    path (``messages[0].content``) to its original length, so a reader knows
    exactly what is missing. Containers are rebuilt only where something was cut.

    It runs twice. Before redaction (``early=True``) it cuts only what is far too long
    (past twice ``max_chars``, and at least :data:`EARLY_MARGIN` past it) with no marker,
    and notes the original lengths: redaction then never searches megabytes that will not
    be written, and a secret across the final cut is still seen whole. After redaction it
    makes the cut and says so. A text cut early is always cut again, at least
    :data:`EARLY_GUARD` characters before its end: the early cut may have split a secret
    there, which no pattern then recognises.

    Whether a text is cut, and the length ``truncated`` gives, are the text's as the app
    sent it, before redaction: a text that fitted is never cut for the tags redaction put in
    it, and a cut never ends inside a tag. So the final pass pairs each text with what it
    was before redaction, walking the field as redaction left it beside the field as the
    early pass left it (redaction keeps every container's order; it renames keys of the
    app's data, so a path before redaction would not find its text after it). A field with
    nothing past ``max_chars`` as sent is not walked again (most records: one walk, not two).
    """

    EARLY_MARGIN: Final = 4096
    EARLY_GUARD: Final = 1024

    def __init__(self, max_chars: int, *, early: bool = False) -> None:
        self.max_chars = max_chars
        self.early = early

    def __call__(self, _logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        if not self.max_chars:
            return event_dict
        if self.early:
            return self._early(event_dict)
        early: _Early | None = event_dict.pop(_EARLY, None)
        cuts: dict[str, int] = {}
        changed = {}
        for key in TEXT_FIELDS:
            value = event_dict.get(key)
            if value is None:
                continue
            if early is None:  # no early pass: the field is as sent
                was, lengths = value, {}
                if self._longest(value) <= self.max_chars:
                    continue
            elif key in early[0]:
                was, lengths = early[0][key], early[1]
            else:  # nothing in it was longer than max_chars as sent
                continue
            new = self._cut(value, was, key, cuts, lengths)
            if new is not value:
                changed[key] = new
        if not changed:
            return event_dict
        return {
            **event_dict,
            **changed,
            "truncated": {**(event_dict.get("truncated") or {}), **cuts},
        }

    def _early(self, event_dict: dict[str, Any]) -> dict[str, Any]:
        limit = max(2 * self.max_chars, self.max_chars + self.EARLY_MARGIN)
        lengths: dict[int, int] = {}
        before: dict[str, Any] = {}
        changed = {}
        for key in TEXT_FIELDS:
            value = event_dict.get(key)
            if value is None:
                continue
            longest = self._longest(value)
            if longest < 0:  # a cycle in the app's data (template variables, tags)
                value = changed[key] = writable(value)
                longest = self._longest(value)
            if longest > limit:
                value = changed[key] = self._shorten(value, limit, lengths)
            if longest > self.max_chars:
                before[key] = value
        if not changed:
            event_dict[_EARLY] = (before, lengths)  # the event dict is llmlog's own
            return event_dict
        return {**event_dict, **changed, _EARLY: (before, lengths)}

    @staticmethod
    def _longest(value: Any) -> int:
        """The length of the longest string in ``value`` (a loop, no recursion); -1 for a
        cycle (it would keep this loop, and every later walk, going for ever: the early pass
        has :func:`writable` copy such a value). Past :data:`_MANY_CONTAINERS` containers (a
        cycle, or a field that big) the walk starts again, noting each container it meets."""
        longest = 0
        budget = _MANY_CONTAINERS
        pending = [value]
        while pending:
            item = pending.pop()
            if isinstance(item, str):
                if len(item) > longest:
                    longest = len(item)
            elif isinstance(item, dict):
                budget -= 1
                if budget < 0:
                    return _longest_once(value)
                pending.extend(item.values())
            elif isinstance(item, list):
                budget -= 1
                if budget < 0:
                    return _longest_once(value)
                pending.extend(item)
        return longest

    @classmethod
    def _shorten(cls, value: Any, limit: int, lengths: dict[int, int]) -> Any:
        """``value`` with its texts longer than ``limit`` cut there; ``lengths``: the id of
        each cut text (a new object, kept alive until the final pass) to its length."""
        if isinstance(value, str):
            if len(value) <= limit:
                return value
            cut = value[:limit]
            lengths[id(cut)] = len(value)
            return cut
        if isinstance(value, dict):
            return {k: cls._shorten(v, limit, lengths) for k, v in value.items()}
        if isinstance(value, list):
            return [cls._shorten(v, limit, lengths) for v in value]
        return value

    def _cut(
        self, value: Any, was: Any, path: str, cuts: dict[str, int], lengths: dict[int, int]
    ) -> Any:
        """``value`` (as redaction left it) cut; ``was``: the same before redaction."""
        if isinstance(value, str):
            early = lengths.get(id(was))
            if early is not None:
                original = early
            else:
                original = len(was) if isinstance(was, str) else len(value)
            if original <= self.max_chars:
                return value
            keep = self.max_chars
            if early is not None:  # its end may be a split secret: never keep that
                keep = max(0, min(keep, len(value) - self.EARLY_GUARD))
            elif len(value) <= keep:  # redaction made it short enough
                return value
            keep = _outside_tag(value, keep)
            cuts[path] = original
            return value[:keep] + truncation_marker(original - keep)
        if isinstance(value, dict):
            olds = _values_before(value, was, lengths)
            new_items = {
                k: self._cut(v, old, f"{path}.{k}", cuts, lengths)
                for (k, v), old in zip(value.items(), olds, strict=True)
            }
            same = all(new_items[k] is v for k, v in value.items())
            return value if same else new_items
        if isinstance(value, list):
            olds = was if isinstance(was, list) and len(was) == len(value) else [None] * len(value)
            new_list = [
                self._cut(v, old, f"{path}[{i}]", cuts, lengths)
                for i, (v, old) in enumerate(zip(value, olds, strict=True))
            ]
            same = all(a is b for a, b in zip(new_list, value, strict=True))
            return value if same else new_list
        return value


_MANY_CONTAINERS: Final = 10_000


def _longest_once(value: Any) -> int:
    """:meth:`Truncate._longest`, each container met once: -1 if one is met again (a cycle;
    or a container shared, which :func:`writable` copies as a tree all the same)."""
    longest = 0
    pending = [value]
    seen: set[int] = set()
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            longest = max(longest, len(item))
        elif isinstance(item, dict | list):
            if id(item) in seen:
                return -1
            seen.add(id(item))
            pending.extend(item.values() if isinstance(item, dict) else item)
    return longest


def _values_before(value: dict[Any, Any], was: Any, lengths: dict[int, int]) -> Collection[Any]:
    """What each of ``value``'s values was before redaction, from ``was`` (the same dict
    then). Redaction keeps a dict's order, renaming keys in place; but two keys redacted
    alike whose values are the same text become one (``{"<EMAIL_ADDRESS>": "x"}``). Then
    containers, never merged, still pair in order; a text under a key redaction left alone
    pairs by it, and one under a renamed key is taken for the longest text there that was
    cut early, if any: its guard applies, whatever the pairing."""
    if not isinstance(was, dict):
        return [None] * len(value)
    if len(was) == len(value):
        return was.values()
    containers = iter([v for v in was.values() if isinstance(v, _CONTAINERS)])
    cut_early = [v for v in was.values() if id(v) in lengths]
    text = max(cut_early, key=lambda v: lengths[id(v)], default=None)
    return [
        next(containers, None) if isinstance(v, _CONTAINERS) else was.get(k, text)
        for k, v in value.items()
    ]


_CONTAINERS: Final = (dict, list, tuple, set, frozenset)  # redaction makes a set a list
_TAG: Final = re.compile(r"<[A-Za-z0-9_]+(?::[0-9a-f]+)?>")
"""A redaction tag in each operator's form: ``<EMAIL_ADDRESS>``, ``<EMAIL_ADDRESS_1>``,
``<EMAIL_ADDRESS:9f86d081884c7d65>``."""
_LONGEST_TAG: Final = 128


def _outside_tag(text: str, keep: int) -> int:
    """``keep``, or where a tag it falls inside starts: a cut tag is no tag to a reader."""
    start = text.rfind("<", max(0, keep - _LONGEST_TAG), keep)
    if start >= 0:
        tag = _TAG.match(text, start)
        if tag is not None and tag.end() > keep:
            return start
    return keep


_Early = tuple[dict[str, Any], dict[int, int]]
_EARLY: Final = "_llmlog_early"
"""Private key from the early cut to the final one: the text fields with something past
``max_chars``, as the early pass left them (what redaction got), and the original length
of each text it cut (by the id of the cut text)."""
