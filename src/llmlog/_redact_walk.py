"""The walk over a record's values that redaction rebuilds: which strings are searched
(dict keys too, but the record's own; long numbers as their digits), which keys say their
value is a credential (replaced whole), and the copies made where something was found.
A subclass of ``str`` or ``int`` (a ``StrEnum``, an ``IntEnum``, a ``SafeString``) is
searched and replaced as the plain value it holds, as the record's JSON writes it.
The rules are said in :mod:`llmlog.redaction`'s docstring."""

from __future__ import annotations

from collections import Counter
from typing import Any, Final

from llmlog._credential_names import (
    CREDENTIAL_NAMES,
    CREDENTIAL_PARTS,
    CREDENTIAL_WORDS,
    QUOTED_CREDENTIAL_WORDS,
    SHORT_CREDENTIAL_WORDS,
    SPECIAL_TOKENS,
)
from llmlog._jsonable import json_data, unused_key
from llmlog._record import CREDENTIAL_NAME_PARTS
from llmlog._redact_operators import Replacer, apply_spans
from llmlog._redact_schema_keys import SCHEMA_KEYS
from llmlog._redact_secrets import SECRET, Span

# Keys whose values are identifiers the record defines, not free text, when they are a
# short text or a number (anything else under one is walked: `{"id": {"note": "..."}}`).
# Inside the app's own data (params such as `metadata`, template variables, tags) every
# key counts.
_IDENTIFIER_KEYS: Final = frozenset(
    {"type", "role", "id", "tool_call_id", "tool_use_id", "call_id", "mime", "sha256"}
    | {"bytes", "index", "finish_reason", "status_code"}
)
# `error` too: its body is the server's data, and its `type` or `id` may echo a key.
APP_DATA_FIELDS: Final = frozenset({"params", "template", "tags", "error"})
# Keys of messages and output whose values are the app's (or the model's) own data: a
# tool call's input and arguments, a parsed answer. Searched like app data.
_PAYLOAD_KEYS: Final = frozenset({"input", "arguments", "parsed"})
# Keys of messages and output that are the record's own: not searched as text.
_OWN_KEYS: Final = SCHEMA_KEYS | _IDENTIFIER_KEYS | _PAYLOAD_KEYS
# Ends of a key's name (lower-cased, `-` and `_` removed) that say its value is a credential:
# the names the text rules know (_redact_secrets), one list for both.
_CREDENTIAL_ENDINGS: Final = tuple(
    dict.fromkeys(
        [
            *("".join(words) for words in CREDENTIAL_NAMES),
            *CREDENTIAL_WORDS,
            *QUOTED_CREDENTIAL_WORDS,
        ]
    )
)
# Their plurals, but a token's (`max_tokens`, `valid_tokens` are counts): `api_keys`, `secrets`.
_CREDENTIAL_PLURALS: Final = (
    *(f"{''.join(words)}s" for words in CREDENTIAL_NAMES if words[-1] != "token"),
    "secrets",
)
# Words that say so only as the last `_`/`-` part of a name (`smtp_pass`, not `bypass`);
# short ones also alone (`pin`, `card_pin`; not `spin`).
_CREDENTIAL_LAST_PARTS: Final = tuple(
    f"{sep}{part}" for part in (*CREDENTIAL_PARTS, *SHORT_CREDENTIAL_WORDS) for sep in "_-"
)
_CREDENTIAL_WHOLE: Final = frozenset(SHORT_CREDENTIAL_WORDS)
# Names ending in "token" that hold a tokenizer's special token, not a credential.
_NOT_CREDENTIALS: Final = frozenset(f"{word}token" for word in SPECIAL_TOKENS)
_SCALARS: Final = (int, float, bool, type(None))
_EXACT_INTS: Final = frozenset({int, bool})  # not subclasses walked as the int they hold
_CONTAINERS: Final = (dict, list, tuple, set, frozenset)
_CREDENTIAL_SCALARS: Final = (str, int, float, bool, type(None))
_LONG_NUMBER: Final = 1_000_000  # 7+ digits: the shortest phone numbers; cards, SSNs
# Longest text under an identifier key left unsearched: the SDKs' ids, hashes and MIME
# types are shorter; an API key (Anthropic's 108 characters, OpenAI's project keys) longer.
_MAX_IDENTIFIER: Final = 100

# What a dict key is to the walk, cached per key (few distinct keys; bounded anyway).
# _OWN: one of the record's own names (_OWN_KEYS) and nothing more, so never searched.
_PLAIN, _IDENTIFIER, _PAYLOAD, _CREDENTIAL, _HEADERS, _SCHEMA_NAMES, _OWN = 0, 1, 2, 3, 4, 5, 6
# Keys of a JSON Schema (a tool's parameters, a response format) whose dict is keyed by the
# names of the fields it describes: `{"properties": {"new_password": {"type": "string"}}}`
# names a field, it holds no password.
_SCHEMA_NAME_KEYS: Final = frozenset({"properties", "patternProperties", "$defs", "definitions"})
# Words of JSON Schema: a dict holding one describes a field.
_SCHEMA_WORDS: Final = frozenset(
    {"type", "$ref", "anyOf", "oneOf", "allOf", "enum", "const", "items", "properties"}
    | {"description", "format", "pattern", "minLength", "maxLength", "title", "default"}
)
_key_kinds: dict[Any, int] = {}
_header_kinds: dict[Any, bool] = {}
_MAX_KEY_KINDS: Final = 4096


class TextReplacer:
    """Replaces one record's strings, counting every replacement it makes."""

    def __init__(
        self, found: dict[str, list[Span]], replacer: Replacer, counts: Counter[str]
    ) -> None:
        self._found, self._replacer, self._counts = found, replacer, counts
        self._done: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        spans = self._found.get(text)
        if not spans:
            return text
        self._counts.update(entity for _, _, entity in spans)
        if text not in self._done:
            self._done[text] = apply_spans(text, spans, self._replacer)
        return self._done[text]

    def credential(self, text: str) -> str:
        """The whole of ``text`` replaced as a found ``SECRET`` (it sits under a credential key)."""
        self._counts[SECRET] += 1
        return self._replacer(SECRET, text)


def _key_kind(key: Any) -> int:
    """What ``key`` is to the walk (:data:`_PLAIN`, :data:`_IDENTIFIER`...), cached."""
    kind = _PLAIN
    if isinstance(key, str):
        lowered = key.lower()
        name = lowered.replace("-", "").replace("_", "")
        if (
            name.endswith(_CREDENTIAL_ENDINGS)
            or name.endswith(_CREDENTIAL_PLURALS)
            or lowered.endswith(_CREDENTIAL_LAST_PARTS)
            or lowered in _CREDENTIAL_WHOLE
        ) and name not in _NOT_CREDENTIALS:
            kind = _CREDENTIAL
        elif name.endswith("headers"):
            kind = _HEADERS
        elif key in _SCHEMA_NAME_KEYS:
            kind = _SCHEMA_NAMES
        elif key in _IDENTIFIER_KEYS:
            kind = _IDENTIFIER
        elif key in _PAYLOAD_KEYS:
            kind = _PAYLOAD
        elif key in _OWN_KEYS:
            kind = _OWN
    if len(_key_kinds) < _MAX_KEY_KINDS:
        _key_kinds[key] = kind
    return kind


def _credential_header(name: Any) -> bool:
    """Whether a header named ``name`` holds a credential (see CREDENTIAL_NAME_PARTS)."""
    kind = _header_kinds.get(name)
    if kind is None:
        kind = isinstance(name, str) and any(w in name.lower() for w in CREDENTIAL_NAME_PARTS)
        if len(_header_kinds) < _MAX_KEY_KINDS:
            _header_kinds[name] = kind
    return kind


def collect(value: Any, app: bool, texts: list[str], within: int = _PLAIN) -> bool:
    """Append every string :func:`rebuild` would pass to its replacer, in its order.

    ``app``: ``value`` is app data (every key searched, identifier keys' values too; else
    neither the record's own keys nor a short id under an identifier key are searched:
    :func:`_opaque_identifier`); ``within``: the kind of the key it is under (a
    ``headers`` dict's credential headers are replaced whole; a schema's field names are
    not credentials: :func:`_is_credential_key`). Returns whether rebuilding would change
    the value even with nothing found (a set becomes a list, an object its JSON data, a
    credential its replacement): such a field is always rebuilt.
    """
    kind = type(value)
    if kind is str:
        texts.append(value)
        return False
    if kind is int and app and abs(value) >= _LONG_NUMBER:  # a phone or card as a JSON number
        texts.append(str(value))
        return False
    if kind is dict:
        converts = False
        kinds = _key_kinds
        for key, item in value.items():
            key_kind = kinds.get(key)
            if key_kind is None:
                key_kind = _key_kind(key)
            item_app = app
            if app:
                if isinstance(key, str):
                    texts.append(key)
            elif key_kind == _IDENTIFIER:
                if len(item) <= _MAX_IDENTIFIER if type(item) is str else _opaque_scalar(item):
                    continue  # an id, a type: not searched (inline: the most common keys)
            elif key_kind == _OWN:
                pass
            elif key_kind == _PAYLOAD:
                item_app = True
            elif _searched_key(key, app):
                texts.append(key)
            credential = (key_kind == _CREDENTIAL or within == _HEADERS) and _is_credential_key(
                key, key_kind, within, item
            )
            if credential and (_is_credential(item) or isinstance(item, _CONTAINERS)):
                _collect_credentials(item, app, texts)
                converts = True
            elif type(item) is str:  # the common case, without a call
                texts.append(item)
            elif item is not None and collect(item, item_app, texts, key_kind):
                converts = True
        return converts
    if kind is list or kind is tuple:
        converts = False
        for item in value:
            if type(item) is str:
                texts.append(item)
            elif item is not None and collect(item, app, texts):
                converts = True
        return converts
    if isinstance(value, float) and app and abs(value) >= _LONG_NUMBER and value.is_integer():
        texts.append(str(int(value)))  # a phone or card in a float column (pandas' float64)
        return False
    if isinstance(value, _SCALARS):
        if app and kind not in _EXACT_INTS and isinstance(value, int):  # an IntEnum
            collect(int.__int__(value), app, texts)
        return False
    if isinstance(value, str):
        texts.append(str.__str__(value))  # a StrEnum, a SafeString: the text it holds
        return False
    if isinstance(value, _CONTAINERS):
        collect(dict(value) if isinstance(value, dict) else list(value), app, texts)
    else:
        collect(json_data(value), app, texts, within)
    return True


def any_found(texts: list[str], first: int, stop: int, found: dict[str, list[Span]]) -> bool:
    if not found:
        return False
    for index in range(first, stop):  # noqa: SIM110 - a plain loop, no generator
        if texts[index] in found:
            return True
    return False


def rebuild(value: Any, replace: TextReplacer, app: bool, within: int = _PLAIN) -> Any:
    """A copy of ``value`` with every free-text string replaced; containers are new."""
    if isinstance(value, str):
        return replace(value if type(value) is str else str.__str__(value))
    if type(value) is int and app and abs(value) >= _LONG_NUMBER:
        text = str(value)
        replaced = replace(text)
        return value if replaced is text else replaced
    if isinstance(value, dict):
        return _rebuild_dict(value, replace, app, within)
    if isinstance(value, tuple):
        return tuple(rebuild(item, replace, app) for item in value)
    if isinstance(value, list | set | frozenset):
        return [rebuild(item, replace, app) for item in value]
    if isinstance(value, float) and app and abs(value) >= _LONG_NUMBER and value.is_integer():
        text = str(int(value))  # as an int is
        replaced = replace(text)
        return value if replaced is text else replaced
    if isinstance(value, _SCALARS):
        if app and type(value) not in _EXACT_INTS and isinstance(value, int):  # an IntEnum
            number = int.__int__(value)
            replaced = rebuild(number, replace, app)
            return value if replaced is number else replaced
        return value
    # An object: as the record will hold it (its JSON data: an enum's value, a dataclass's
    # fields), what it is when not redacted; never its str(), which would change its type.
    return rebuild(json_data(value), replace, app, within)


def _rebuild_dict(
    value: dict[Any, Any], replace: TextReplacer, app: bool, within: int
) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for key, item in value.items():
        key_kind = _key_kinds.get(key)
        if key_kind is None:
            key_kind = _key_kind(key)
        item_app = app
        new_key = key
        if app:
            if isinstance(key, str):
                new_key = replace(key)
        elif key_kind == _IDENTIFIER:
            if _opaque_identifier(item):
                out[key] = item
                continue
        elif key_kind == _OWN:
            pass
        elif key_kind == _PAYLOAD:
            item_app = True
        elif _searched_key(key, app):
            new_key = replace(key)
        credential = (key_kind == _CREDENTIAL or within == _HEADERS) and _is_credential_key(
            key, key_kind, within, item
        )
        if credential and (_is_credential(item) or isinstance(item, _CONTAINERS)):
            new_item: Any = _credentials_replaced(item, replace, app)
        else:
            new_item = rebuild(item, replace, item_app, key_kind)
        if new_key in out:  # an earlier key was redacted to this one
            if _same_scalar(out[new_key], new_item):
                continue  # two tags both redacted to "<EMAIL_ADDRESS>": one tag
            new_key = unused_key(new_key, out)
        out[new_key] = new_item
    return out


def _opaque_identifier(item: Any) -> bool:
    """Whether ``item``, under an identifier key of messages or output, is left unsearched:
    a short text or a number is an id, a type, a MIME type; a longer text, a container or
    an object is walked, as under any other key."""
    if type(item) is str:
        return len(item) <= _MAX_IDENTIFIER
    return _opaque_scalar(item)


def _opaque_scalar(item: Any) -> bool:
    kind = type(item)
    return kind is int or kind is float or kind is bool or item is None


def _searched_key(key: Any, app: bool) -> bool:
    """Whether the dict key ``key`` is searched: any text key of app data; in messages and
    output, one that is not the record's own (:data:`_OWN_KEYS`)."""
    return isinstance(key, str) and (app or key not in _OWN_KEYS)


def _is_credential_key(key: Any, key_kind: int, within: int, item: Any) -> bool:
    """Whether ``key`` (of kind ``key_kind``, in a dict under a key of kind ``within``)
    says ``item`` is a credential: by its name, or as a credential header; but not a
    field a schema describes (a dict in JSON Schema's words under ``properties``)."""
    if within == _HEADERS:
        return key_kind == _CREDENTIAL or _credential_header(key)
    if key_kind != _CREDENTIAL:
        return False
    return not (
        within == _SCHEMA_NAMES and type(item) is dict and not _SCHEMA_WORDS.isdisjoint(item)
    )


def _is_credential(item: Any) -> bool:
    """A value under a credential key that is replaced whole: a non-empty text, a number
    (``{"password": 12345678}``), or an object (``SecretStr``: as it would be written); a
    container has its contents so replaced."""
    if isinstance(item, str):  # a StrEnum member, a SafeString too
        return bool(item)
    return item is not None and not isinstance(item, (bool, *_CONTAINERS))


def _collect_credentials(value: Any, app: bool, texts: list[str]) -> None:
    """:func:`collect` for a value under a credential key: only the keys in it are searched
    (:func:`_credentials_replaced` replaces every value whole)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if _searched_key(key, app):
                texts.append(key)
            _collect_credentials(item, app, texts)
    elif isinstance(value, _CONTAINERS):
        for item in value:
            _collect_credentials(item, app, texts)
    elif not isinstance(value, _CREDENTIAL_SCALARS):
        _collect_credentials(json_data(value), app, texts)


def _credentials_replaced(value: Any, replace: TextReplacer, app: bool) -> Any:
    """A value under a credential key replaced whole as a ``SECRET``; a container
    (``{"password": ["x"]}``, ``{"api_key": {"value": "x"}}``) copied with every text,
    number or object in it so replaced."""
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            new_key = replace(key) if _searched_key(key, app) else key
            new_item = _credentials_replaced(item, replace, app)
            if new_key in out:
                if _same_scalar(out[new_key], new_item):
                    continue
                new_key = unused_key(new_key, out)
            out[new_key] = new_item
        return out
    if isinstance(value, tuple):
        return tuple(_credentials_replaced(item, replace, app) for item in value)
    if isinstance(value, list | set | frozenset):
        return [_credentials_replaced(item, replace, app) for item in value]
    if value is None or isinstance(value, bool):
        return value
    if not isinstance(value, _CREDENTIAL_SCALARS):  # an object: its JSON data, so replaced
        return _credentials_replaced(json_data(value), replace, app)
    text = _plain_text(value)
    return replace.credential(text) if text else text


def _plain_text(value: object) -> str:
    """A credential's text as its base type spells it (a ``StrEnum``'s value, an
    ``IntEnum``'s digits), whatever its class's ``__str__`` says."""
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__repr__(value)
    return str(value)


def _same_scalar(a: Any, b: Any) -> bool:
    return type(a) is type(b) and isinstance(a, str | int | float | bool | None) and a == b
