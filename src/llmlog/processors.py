"""Processors of llmlog's pipeline, each a plain structlog processor.

A processor is a callable ``(logger, method_name, event_dict) -> event_dict``
run on the writer thread. None of them mutates a container it was given:
event dicts may hold references to the app's own objects, so a changed field
is a new object.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, Final

import orjson

from llmlog._record import CONTENT_FIELDS, EVENT_CALL, TEXT_FIELDS, safe_repr

_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def to_jsonable(value: Any) -> Any:
    """orjson's fallback for what it cannot encode itself: never fails."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json", warnings=False)
        except Exception:
            pass
    if isinstance(value, bytes | bytearray | memoryview):
        return {"type": "bytes", "bytes": len(value)}
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return safe_repr(value)


def render(_logger: Any, _method: str, event_dict: dict[str, Any]) -> bytes:
    """Final processor: one JSON object on one line (newlines inside are escaped)."""
    return _dumps(event_dict, _JSON_OPTIONS | orjson.OPT_APPEND_NEWLINE)


def _dumps(value: Any, options: int) -> bytes:
    """orjson, never losing the record over what is in it: when orjson refuses the
    value, it is written from a copy that it accepts (see :func:`writable`)."""
    try:
        return orjson.dumps(value, default=to_jsonable, option=options)
    except orjson.JSONEncodeError:
        return orjson.dumps(writable(value), default=to_jsonable, option=options)


MAX_DEPTH: Final = 200
"""Nesting kept in a record (orjson writes at most 255 levels); deeper is cut."""
_TOO_DEEP: Final = f"<nested deeper than {MAX_DEPTH} levels>"
_INT64_MIN: Final = -(2**63)  # what orjson writes as a number
_INT64_MAX: Final = 2**64 - 1


def writable(value: Any, depth: int = 0) -> Any:
    """A copy orjson accepts: text that is not valid Unicode (a lone surrogate from a broken
    decode) with the bad code points replaced, integers beyond 64 bits (``seed=2**64``) as
    their decimal text, nesting (a deep schema, a cycle) cut at :data:`MAX_DEPTH`."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, int) and not isinstance(value, bool):  # (an IntEnum too: compare,
        return value if _INT64_MIN <= value <= _INT64_MAX else str(value)  # never `in range`)
    if value is None or isinstance(value, bool | float):
        return value
    if depth >= MAX_DEPTH:
        return _TOO_DEEP
    if isinstance(value, Mapping):
        return {_writable_key(k): writable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [writable(v, depth + 1) for v in value]
    try:  # what orjson writes itself (numpy values, dates, UUIDs) stays as it is
        orjson.dumps(value, option=_JSON_OPTIONS)
    except orjson.JSONEncodeError:
        converted = to_jsonable(value)
        return converted if isinstance(converted, str) else writable(converted, depth + 1)
    return value


def _writable_key(key: Any) -> Any:
    if isinstance(key, str | int | float | bool) or key is None:
        return writable(key)
    return writable(str(key))


class PromptHash:
    """``prompt_hash``: sha256 of the canonical, unredacted (system, messages, model).

    Identical prompts get identical hashes, so "has this happened before?" is
    a ``GROUP BY``. With ``key`` it is an HMAC, so a hash of a prompt whose redacted
    value has few possibilities cannot be reversed by guessing; the chain always
    gives one (:mod:`llmlog._hash_key`).
    """

    def __init__(self, key: str = "") -> None:
        self._key = key.encode("utf-8") if key else b""

    def __call__(self, _logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        if event_dict.get("event") != EVENT_CALL or event_dict.get("messages") is None:
            return event_dict
        prompt = [event_dict.get("system"), event_dict.get("messages"), event_dict.get("model")]
        canonical = _dumps(prompt, _JSON_OPTIONS | orjson.OPT_SORT_KEYS)  # as ``render`` writes it
        hasher = hmac.new(self._key, None, hashlib.sha256) if self._key else hashlib.sha256()
        view = memoryview(canonical)
        for start in range(0, len(view), _UNDER_GIL_RELEASE):
            hasher.update(view[start : start + _UNDER_GIL_RELEASE])
        return {**event_dict, "prompt_hash": hasher.hexdigest()}


_UNDER_GIL_RELEASE = 2047
"""hashlib releases the GIL for 2,048 bytes and more at once; the writer must not
(see ``_pipeline``), so long prompts are hashed in smaller pieces (same digest)."""


# citations: cited text, URLs; compaction: a summary of the conversation
_OUTPUT_TEXT_KEYS = ("text", "refusal", "parsed", "thinking", "citations", "compaction")
# Params that carry prompt text, and the member holding it (None: the whole param).
_PROMPT_TEXT_PARAMS: Final[dict[str, str | None]] = {
    "prompt": "variables",  # Responses reusable prompt: id and version stay
    "prediction": "content",  # chat predicted output: the draft text
    "suffix": None,  # legacy completions: the text after the insertion point
}


class MetadataOnly:
    """``LLMLOG_CAPTURE=metadata``: drop prompt and output text, keep the rest.

    Kept: message roles and counts, tool call ids/types/names, usage, latency,
    ids, errors, tags and params other than text (a decision's questions and
    answers keep their type and name; a reusable prompt its id and version).
    Dropped: system, message content, template variables, output text,
    refusal, parsed answer, thinking, tool arguments, every ``n > 1`` choice's
    text, an audio answer's transcript, and params that carry prompt text
    (``prompt.variables``, ``prediction.content``, ``suffix``, the texts of
    Anthropic's system blocks, the descriptions of tools and formats, an eval
    run's prompt template).
    """

    def __call__(self, _logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        if event_dict.get("event") != EVENT_CALL:
            return event_dict
        new = dict(event_dict)
        for name in CONTENT_FIELDS:
            if name == "messages" and isinstance(new.get("messages"), list):
                new["messages"] = [_role_only(m) for m in new["messages"]]
            elif new.get(name) is not None:
                new[name] = None
        output = new.get("output")
        if isinstance(output, Mapping):
            new["output"] = _output_labels(output)
        params = new.get("params")
        if isinstance(params, Mapping):
            new["params"] = _params_without_text(params)
        template = new.get("template")
        if isinstance(template, Mapping) and template.get("variables") is not None:
            new["template"] = {**template, "variables": None}
        return new


def _output_labels(output: Mapping[str, Any]) -> dict[str, Any]:
    stripped = {k: (None if k in _OUTPUT_TEXT_KEYS else v) for k, v in output.items()}
    for key in ("tool_calls", "answers"):  # answers: OpenAI decisions
        if isinstance(output.get(key), list):
            stripped[key] = [_labels_only(item) for item in output[key]]
    if isinstance(output.get("choices"), list):  # n > 1: every choice holds its text
        stripped["choices"] = [
            _output_labels(c) if isinstance(c, Mapping) else None for c in output["choices"]
        ]
    audio = output.get("audio")
    if isinstance(audio, Mapping) and audio.get("transcript") is not None:
        stripped["audio"] = {**audio, "transcript": None}
    return stripped


def _params_without_text(params: Mapping[str, Any]) -> Mapping[str, Any]:
    changed: dict[str, Any] = {}
    system = params.get("system")  # Anthropic's blocks (cache_control kept), a gateway's text
    if system is not None:
        blocks = system if isinstance(system, list) else ()
        changed["system"] = [_block_settings(b) for b in blocks] if blocks else None
    if isinstance(params.get("questions"), list):
        changed["questions"] = [_labels_only(q) for q in params["questions"]]
    for name in _DESCRIBED_PARAMS:  # what the app tells the model its tools and formats are
        if params.get(name) is not None:
            changed[name] = _without_descriptions(params[name])
    source = params.get("data_source")  # an eval run's prompt template
    if isinstance(source, Mapping) and isinstance(source.get("input_messages"), Mapping):
        changed["data_source"] = {**source, "input_messages": None}
    for name, member in _PROMPT_TEXT_PARAMS.items():
        value = params.get(name)
        if value is None:
            continue
        if member is None or not isinstance(value, Mapping):
            changed[name] = None
        elif value.get(member) is not None:
            changed[name] = {**value, member: None}
    return {**params, **changed} if changed else params


_DESCRIBED_PARAMS: Final = (
    *("tools", "functions", "response_format", "text", "output_format", "output_config"),
)


def _without_descriptions(value: Any) -> Any:
    """``value`` without its ``description`` texts, however deep (a tool's, its parameters'):
    prompt text the app wrote for the model; names, types and schemas stay."""
    if isinstance(value, Mapping):
        return {k: _without_descriptions(v) for k, v in value.items() if k != "description"}
    if isinstance(value, list):
        return [_without_descriptions(item) for item in value]
    return value


def _role_only(message: Any) -> Any:
    if isinstance(message, Mapping):
        return {"role": message.get("role")}
    return {"role": None}


def _block_settings(block: Any) -> Any:
    """A system block's type and ``cache_control``: no text, no cited text."""
    if isinstance(block, Mapping):
        return {k: v for k, v in block.items() if k in ("type", "cache_control")}
    return None


def _labels_only(item: Any) -> Any:
    """A tool call, a decision's question or answer: its id, type and name, no text."""
    if isinstance(item, Mapping):
        return {k: v for k, v in item.items() if k in ("id", "type", "name")}
    return None


class Truncate:
    """Cut any string longer than ``max_chars``; record each cut in ``truncated``.

    Only the free-text fields are visited. ``truncated`` maps the field's
    path (``messages[0].content``) to its original length, so a reader knows
    exactly what is missing. Containers are rebuilt only where something was cut.

    It runs twice. Before redaction (``early=True``) it cuts only what is far too long
    (past twice ``max_chars``, and at least :data:`EARLY_MARGIN` past it) with no marker,
    and notes the original lengths: redaction then never searches megabytes that will not
    be written, and a secret across the final cut is still seen whole. After redaction it
    makes the cut and says so, with the original length. A text cut early is always cut
    again, at least :data:`EARLY_GUARD` characters before its end: the early cut may have
    split a secret there, which no pattern then recognises. The early walk also notes the
    fields with nothing past ``max_chars``: unless redaction rebuilt them, the final pass
    does not walk them again (most records: one walk instead of two).
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
        lengths = event_dict.pop(_LENGTHS, None) or {}
        fits = event_dict.pop(_FITS, None) or {}
        cut_early = {path.partition(".")[0].partition("[")[0] for path in lengths}
        cuts: dict[str, int] = {}
        changed = {}
        for key in TEXT_FIELDS:
            value = event_dict.get(key)
            if value is None or fits.get(key) is value:  # walked early, not rebuilt since
                continue
            if key in cut_early or self._longest(value) > self.max_chars:
                new = self._cut(value, key, cuts, lengths)
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
        lengths: dict[str, int] = {}
        changed = {}
        fits = {}
        for key in TEXT_FIELDS:
            value = event_dict.get(key)
            if value is None:
                continue
            longest = self._longest(value)
            if longest > limit:
                changed[key] = self._shorten(value, key, limit, lengths)
            elif longest <= self.max_chars:
                fits[key] = value
        event_dict[_FITS] = fits  # the event dict is llmlog's own (its values may not be)
        if not changed:
            return event_dict
        return {**event_dict, **changed, _LENGTHS: lengths}

    @staticmethod
    def _longest(value: Any) -> int:
        """The length of the longest string in ``value`` (a loop, no recursion)."""
        longest = 0
        pending = [value]
        while pending:
            item = pending.pop()
            if isinstance(item, str):
                if len(item) > longest:
                    longest = len(item)
            elif isinstance(item, dict):
                pending.extend(item.values())
            elif isinstance(item, list):
                pending.extend(item)
        return longest

    def _shorten(self, value: Any, path: str, limit: int, lengths: dict[str, int]) -> Any:
        if isinstance(value, str):
            if len(value) <= limit:
                return value
            lengths[path] = len(value)
            return value[:limit]
        if isinstance(value, dict):
            return {k: self._shorten(v, f"{path}.{k}", limit, lengths) for k, v in value.items()}
        if isinstance(value, list):
            return [self._shorten(v, f"{path}[{i}]", limit, lengths) for i, v in enumerate(value)]
        return value

    def _cut(self, value: Any, path: str, cuts: dict[str, int], lengths: dict[str, int]) -> Any:
        if isinstance(value, str):
            early = lengths.get(path)
            if early is None and len(value) <= self.max_chars:
                return value
            keep = self.max_chars
            if early is not None:  # its end may be a split secret: never keep that
                keep = max(0, min(keep, len(value) - self.EARLY_GUARD))
            original = cuts[path] = early or len(value)
            return value[:keep] + f"…[truncated {original - keep} chars]"
        if isinstance(value, dict):
            new_items = {k: self._cut(v, f"{path}.{k}", cuts, lengths) for k, v in value.items()}
            same = all(new_items[k] is v for k, v in value.items())
            return value if same else new_items
        if isinstance(value, list):
            new_list = [self._cut(v, f"{path}[{i}]", cuts, lengths) for i, v in enumerate(value)]
            same = all(a is b for a, b in zip(new_list, value, strict=True))
            return value if same else new_list
        return value


_LENGTHS: Final = "_llmlog_lengths"
"""Private key from the early cut to the final one: original lengths by path."""
_FITS: Final = "_llmlog_fits"
"""Private key from the early cut to the final one: the fields (the objects) it found with
nothing past ``max_chars``."""
