"""Redaction: secrets and PII removed from every free-text field before any sink.

Levels (``LLMLOG_REDACT``):

- ``off``: nothing is removed (llmlog says so once on stderr).
- ``secrets``: API keys and tokens, JWTs, bearer tokens, private-key blocks,
  ``password=``/``api_key=`` assignments, passwords in URLs. Plain ``re``,
  run on the writer thread.
- ``pii`` (default): ``secrets`` plus email, phone, payment card (Luhn), IBAN,
  US SSN/ITIN, IP address and crypto wallet, through presidio with an offline
  engine and a curated recognizer set.
- ``ner``: ``pii`` plus person names, locations and nationalities/groups,
  through a spaCy model the user has installed. Nothing is ever downloaded.

For ``pii`` and ``ner`` the matching runs in a worker process, so a busy
redactor never holds the application's GIL; the writer thread waits for it, so
no record is ever written less redacted than configured.

What is searched, at every level but ``off``:

- Every string in ``system``, ``messages``, ``output``, ``error``, ``template``,
  ``params`` and ``tags``, except the values of the record's own identifiers in
  ``messages``/``output`` (a message's ``role``, a block's ``type`` and
  ``id``, a tool call's ``tool_call_id``, a media stub's ``mime``/``sha256``...).
- App data is searched whole, its identifier-named keys included: ``params``,
  ``template``, ``tags`` and ``error`` (its body is the server's data, whose ``type``
  or ``id`` may echo a key), and inside messages and output a tool call's
  ``input``/``arguments`` and the ``parsed`` answer. There the dict keys are
  searched too (a tag is a key); keys that become equal once redacted are merged
  when their values are the same scalar, else the later get `` (2)``, `` (3)``.
- Long numbers in app data: an int, or a float that is a whole number (a pandas float64
  column's ``4155550132.0``), of 7 digits or more is searched as its digits.
- Credential-named keys: a non-empty string or a number under a key whose name,
  lower-cased with ``-`` and ``_`` removed, ends in a credential name the text rules know
  too (``llmlog._redact_secrets.CREDENTIAL_NAMES``: ``apikey``, ``accesskey``,
  ``secretkey``, ``privatekey``, ``subscriptionkey``, ``masterkey``, ``signingkey``,
  ``encryptionkey``, ``password``, ``passwd``, ``passphrase``, ``secret``, ``token`` (not
  ``tokens``, nor special tokens like ``eos_token``), ``authorization``, ``credential(s)``,
  ``cookie(s)``...), or whose last ``_``/``-`` part is ``pass`` (``SMTP_PASS``; not
  ``bypass``, nor ``pass`` alone), is replaced whole as a ``SECRET``, whatever it looks
  like: a header, query parameter or tool argument named so holds a credential even when
  its format is unknown. A list, tuple, set or dict there has every string, number and
  object in it replaced so, at any depth. So is, in a dict under a key ending in
  ``headers`` (a request's, an MCP tool's), a header whose name holds ``auth``, ``key``,
  ``token``, ``secret``, ``cookie``, ``passw``, ``session``, ``signature`` or
  ``credential`` (``X-Auth``, ``Authentication``).
- Terminal escape sequences (``\\x1b[32m``, also JSON's ``\\u001b[32m``) are searched as
  spaces: a value right after one is at a word boundary.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from collections.abc import Iterable
from typing import Any, Final

from llmlog import _guard
from llmlog._config import Settings
from llmlog._record import CREDENTIAL_NAME_PARTS, EVENT_DROPPED, TEXT_FIELDS
from llmlog._redact_detect import (
    Detector,
    DetectorConfig,
    merge_spans,
    without_terminal_escapes,
)
from llmlog._redact_memo import SpanMemo
from llmlog._redact_operators import MIN_KEY_BYTES, Replacer, apply_spans, operator_factory
from llmlog._redact_secrets import (
    CREDENTIAL_NAMES,
    CREDENTIAL_PARTS,
    CREDENTIAL_WORDS,
    QUOTED_CREDENTIAL_WORDS,
    SECRET,
    Span,
    compile_patterns,
)
from llmlog._redact_worker import NoTimeLeft, WorkerUnavailable, client

__all__ = ["FAILED_MARKER", "Redact", "add_recognizer", "remove_recognizer", "validate"]

FAILED_MARKER: Final = "<REDACTION_FAILED>"
"""What a field holds when redacting it failed: never its unredacted text."""

# Keys whose values are identifiers the record defines, not free text. Inside the
# app's own data (params such as `metadata`, template variables, tags) every key counts.
_IDENTIFIER_KEYS: Final = frozenset(
    {"type", "role", "id", "tool_call_id", "tool_use_id", "call_id", "mime", "sha256"}
    | {"bytes", "index", "finish_reason", "status_code"}
)
# `error` too: its body is the server's data, and its `type` or `id` may echo a key.
_APP_DATA_FIELDS: Final = frozenset({"params", "template", "tags", "error"})
# Keys of messages and output whose values are the app's (or the model's) own data: a
# tool call's input and arguments, a parsed answer. Searched like app data.
_PAYLOAD_KEYS: Final = frozenset({"input", "arguments", "parsed"})
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
# Words that say so only as the last `_`/`-` part of a name (`smtp_pass`, not `bypass`).
_CREDENTIAL_LAST_PARTS: Final = tuple(f"{sep}{part}" for part in CREDENTIAL_PARTS for sep in "_-")
# Names ending in "token" that hold a tokenizer's special token, not a credential.
_NOT_CREDENTIALS: Final = frozenset(
    {"eostoken", "bostoken", "padtoken", "unktoken", "septoken", "clstoken", "masktoken"}
)
_SCALARS: Final = (int, float, bool, type(None))
_CONTAINERS: Final = (dict, list, tuple, set, frozenset)
_LONG_NUMBER: Final = 1_000_000  # 7+ digits: the shortest phone numbers; cards, SSNs

# What a dict key is to the walk, cached per key (few distinct keys; bounded anyway).
_PLAIN, _IDENTIFIER, _PAYLOAD, _CREDENTIAL, _HEADERS = 0, 1, 2, 3, 4
_key_kinds: dict[Any, int] = {}
_header_kinds: dict[Any, bool] = {}
_MAX_KEY_KINDS: Final = 4096

_app_recognizers: list[Any] = []
_app_recognizers_changes = 0  # what each Redact remembers was found under these recognizers


def add_recognizer(recognizer: Any) -> None:
    """Use one of your own presidio recognizers (e.g. a ``PatternRecognizer``) at every level
    but ``off``. It runs on the writer thread, for every :class:`Redact` in this process.

    What was found in a text is remembered, and adding or removing a recognizer forgets it
    all; after changing a recognizer in place (a longer deny list), remove and add it again.
    """
    global _app_recognizers_changes
    _app_recognizers.append(recognizer)
    _app_recognizers_changes += 1


def remove_recognizer(recognizer: Any) -> None:
    """Stop using a recognizer given to :func:`add_recognizer`."""
    global _app_recognizers_changes
    _app_recognizers.remove(recognizer)
    _app_recognizers_changes += 1


def validate(settings: Settings) -> None:
    """Fail fast, on the caller's thread, on settings redaction cannot honour.

    Cheap for every level but ``ner`` (which checks that the spaCy model is
    installed, without ever downloading it). Raises ``ValueError``.
    """
    _check_cheap(settings)
    if settings.redact in ("pii", "ner") and importlib.util.find_spec("presidio_analyzer") is None:
        raise ValueError(
            f"LLMLOG_REDACT={settings.redact} needs presidio-analyzer, which is not installed: "
            "pip install presidio-analyzer, or use LLMLOG_REDACT=secrets"
        )
    if settings.redact == "ner":
        from llmlog._redact_presidio import ner_model_problem

        problem = ner_model_problem(settings.ner_model)
        if problem is not None:
            raise ValueError(problem)


def _check_cheap(settings: Settings) -> None:
    if settings.redact == "off":
        _guard.warn_once(
            "redact_off", "LLMLOG_REDACT=off: prompts and outputs are logged unredacted"
        )
    key_bytes = len(settings.redact_key.encode("utf-8"))
    if settings.redact_operator == "hash" and not key_bytes:
        raise ValueError(
            "LLMLOG_REDACT_OPERATOR=hash needs a secret key: set LLMLOG_REDACT_KEY "
            f"(at least {MIN_KEY_BYTES} bytes, kept out of the logs)"
        )
    if 0 < key_bytes < MIN_KEY_BYTES:
        raise ValueError(
            f"LLMLOG_REDACT_KEY is too short ({key_bytes} bytes): "
            f"use at least {MIN_KEY_BYTES} random bytes"
        )
    compile_patterns(settings.redact_patterns)


class Redact:
    """Processor returning a new event dict whose free-text fields are redacted.

    Never mutates what it is given (those may be the app's own objects), never
    touches ids, model names, timestamps or numbers, and records
    ``redactions: {ENTITY_TYPE: count}``. Runs on the writer thread only (one
    thread at a time: it remembers what it found in each text, see ``_redact_memo``).
    """

    def __init__(
        self,
        settings: Settings,
        recognizers: Iterable[Any] = (),
        *,
        in_process: bool = False,
    ) -> None:
        """``recognizers``: your own presidio recognizers, for this processor only.

        ``in_process=True`` runs presidio on the calling thread instead of the
        worker process (for comparison in benchmarks; it costs the app GIL time).
        """
        _check_cheap(settings)
        self.level = settings.redact
        self._config = DetectorConfig(
            level=settings.redact,
            patterns=tuple(sorted(settings.redact_patterns.items())),
            deny=tuple(settings.redact_deny),
            ner_model=settings.ner_model,
        )
        self._new_replacer = operator_factory(settings.redact_operator, settings.redact_key)
        self._recognizers = list(recognizers)
        self._in_process = in_process or not self._config.uses_presidio
        self._local: Detector | None = None
        self._memo = SpanMemo()
        self._memo_changes = _app_recognizers_changes

    def warm_up(self) -> None:
        """Start the worker and build the engine now (call on the writer thread)."""
        self._find_all(["warm up"])

    def __call__(self, logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        if self.level == "off" or event_dict.get("event") == EVENT_DROPPED:  # llmlog's count
            return event_dict
        # One walk collects every text; only the fields where something was found (or
        # that hold values rendered as text) are rebuilt. A record with nothing to
        # redact keeps its own field objects, the common case and the cheap one.
        fields: list[_Field] = []
        texts: list[str] = []
        any_converts = False
        for name in TEXT_FIELDS:
            value = event_dict.get(name)
            if value is not None:
                first, app = len(texts), name in _APP_DATA_FIELDS
                converts = _collect(value, app, texts)
                any_converts = any_converts or converts
                fields.append((name, value, app, first, len(texts), converts))
        out = dict(event_dict)
        unique = list(dict.fromkeys(texts))
        try:
            found = {
                text: spans
                for text, spans in zip(unique, self._find_all(unique), strict=True)
                if spans
            }
        except Exception as exc:
            out.update(dict.fromkeys((field[0] for field in fields), FAILED_MARKER))
            out["redactions"] = dict(event_dict.get("redactions") or {})
            if isinstance(exc, NoTimeLeft):  # not a bug: the process is ending
                _guard.warn_once(
                    "redact_at_exit",
                    "records written at exit without their texts (<REDACTION_FAILED>): the "
                    "PII worker did not answer within LLMLOG_FLUSH_TIMEOUT",
                )
            else:
                _guard.report_internal_error(exc, "redaction")
            return out
        if not found and not any_converts:
            out["redactions"] = dict(event_dict.get("redactions") or {})
            return out
        counts: Counter[str] = Counter(event_dict.get("redactions") or {})
        replace = _TextReplacer(found, self._new_replacer(), counts)
        for name, value, app, first, stop, converts in fields:
            if not converts and not _any_found(texts, first, stop, found):
                continue
            try:
                out[name] = _rebuild(value, replace, app)
            except Exception as exc:
                out[name] = FAILED_MARKER
                _guard.report_internal_error(exc, f"redaction of {name}")
        out["redactions"] = dict(counts)
        return out

    def _find_all(self, texts: list[str]) -> list[list[Span]]:
        """Spans for each of ``texts`` (all different); texts seen lately are not searched again."""
        if self._memo_changes != _app_recognizers_changes:
            self._memo.clear()
            self._memo_changes = _app_recognizers_changes
        known = self._memo.get
        result = [known(text) for text in texts]
        new = [index for index, spans in enumerate(result) if spans is None]
        if new:
            remember = self._memo.remember
            for index, spans in zip(new, self._search([texts[i] for i in new]), strict=True):
                result[index] = spans
                remember(texts[index], spans)
        return result  # type: ignore[return-value]  # every None was replaced

    def _search(self, texts: list[str]) -> list[list[Span]]:
        found = self._detect(texts)
        recognizers = self._recognizers + _app_recognizers
        if recognizers:
            from llmlog._redact_presidio import recognizer_spans

            found = [
                merge_spans(spans + recognizer_spans(recognizers, without_terminal_escapes(text)))
                for spans, text in zip(found, texts, strict=True)
            ]
        return found

    def _detect(self, texts: list[str]) -> list[list[Span]]:
        if not self._in_process:
            try:
                return client().find_all(self._config, texts)
            except WorkerUnavailable as exc:
                self._in_process = True  # same redaction, paid for on this thread
                _guard.warn_once("redact_in_process", f"{exc}; redacting on the writer thread")
        if self._local is None:
            self._local = Detector(self._config)
        return self._local.find_all(texts)


# (name, value, whether it is app data, first and end index of its texts, whether it converts)
_Field = tuple[str, Any, bool, int, int, bool]


class _TextReplacer:
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
            name.endswith(_CREDENTIAL_ENDINGS) or lowered.endswith(_CREDENTIAL_LAST_PARTS)
        ) and name not in _NOT_CREDENTIALS:
            kind = _CREDENTIAL
        elif name.endswith("headers"):
            kind = _HEADERS
        elif key in _IDENTIFIER_KEYS:
            kind = _IDENTIFIER
        elif key in _PAYLOAD_KEYS:
            kind = _PAYLOAD
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


def _collect(value: Any, app: bool, texts: list[str], headers: bool = False) -> bool:
    """Append every string :func:`_rebuild` would pass to its replacer, in its order.

    ``app``: ``value`` is app data (keys searched, identifier keys too); ``headers``: it is
    a ``headers`` dict (credential headers are replaced whole). Returns whether
    rebuilding would change the value even with nothing found (a set becomes a list, an
    object its text, a credential its replacement): such a field is always rebuilt.
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
                continue
            elif key_kind == _PAYLOAD:
                item_app = True
            credential = key_kind == _CREDENTIAL or (headers and _credential_header(key))
            if credential and (_is_credential(item) or isinstance(item, _CONTAINERS)):
                _collect_credentials(item, app, texts)
                converts = True
            elif type(item) is str:  # the common case, without a call
                texts.append(item)
            elif item is not None and _collect(item, item_app, texts, key_kind == _HEADERS):
                converts = True
        return converts
    if kind is list or kind is tuple:
        converts = False
        for item in value:
            if type(item) is str:
                texts.append(item)
            elif item is not None and _collect(item, app, texts):
                converts = True
        return converts
    if isinstance(value, float) and app and abs(value) >= _LONG_NUMBER and value.is_integer():
        texts.append(str(int(value)))  # a phone or card in a float column (pandas' float64)
        return False
    if isinstance(value, _SCALARS):
        return False
    if isinstance(value, str):
        texts.append(value)
        return False
    if isinstance(value, _CONTAINERS):
        _collect(dict(value) if isinstance(value, dict) else list(value), app, texts)
    else:
        texts.append(str(value))
    return True


def _any_found(texts: list[str], first: int, stop: int, found: dict[str, list[Span]]) -> bool:
    if not found:
        return False
    for index in range(first, stop):  # noqa: SIM110 - a plain loop, no generator
        if texts[index] in found:
            return True
    return False


def _rebuild(value: Any, replace: _TextReplacer, app: bool, headers: bool = False) -> Any:
    """A copy of ``value`` with every free-text string replaced; containers are new."""
    if isinstance(value, str):
        return replace(value)
    if type(value) is int and app and abs(value) >= _LONG_NUMBER:
        text = str(value)
        replaced = replace(text)
        return value if replaced is text else replaced
    if isinstance(value, dict):
        return _rebuild_dict(value, replace, app, headers)
    if isinstance(value, tuple):
        return tuple(_rebuild(item, replace, app) for item in value)
    if isinstance(value, list | set | frozenset):
        return [_rebuild(item, replace, app) for item in value]
    if isinstance(value, float) and app and abs(value) >= _LONG_NUMBER and value.is_integer():
        text = str(int(value))  # as an int is
        replaced = replace(text)
        return value if replaced is text else replaced
    if isinstance(value, _SCALARS):
        return value
    return replace(str(value))  # an object would be rendered with str() anyway


def _rebuild_dict(
    value: dict[Any, Any], replace: _TextReplacer, app: bool, headers: bool
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
            out[key] = item
            continue
        elif key_kind == _PAYLOAD:
            item_app = True
        credential = key_kind == _CREDENTIAL or (headers and _credential_header(key))
        if credential and (_is_credential(item) or isinstance(item, _CONTAINERS)):
            new_item: Any = _credentials_replaced(item, replace, app)
        else:
            new_item = _rebuild(item, replace, item_app, key_kind == _HEADERS)
        if app and new_key in out:  # an earlier key was redacted to this one
            if _same_scalar(out[new_key], new_item):
                continue  # two tags both redacted to "<EMAIL_ADDRESS>": one tag
            new_key = _unused_key(new_key, out)
        out[new_key] = new_item
    return out


def _is_credential(item: Any) -> bool:
    """A value under a credential key that is replaced whole: a non-empty text, or a
    number (``{"password": 12345678}``); a container has its contents so replaced."""
    if type(item) is str:
        return bool(item)
    return isinstance(item, int | float) and not isinstance(item, bool)


def _collect_credentials(value: Any, app: bool, texts: list[str]) -> None:
    """:func:`_collect` for a value under a credential key: only the keys of app data in
    it are searched (:func:`_credentials_replaced` replaces every value whole)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if app and isinstance(key, str):
                texts.append(key)
            _collect_credentials(item, app, texts)
    elif isinstance(value, _CONTAINERS):
        for item in value:
            _collect_credentials(item, app, texts)


def _credentials_replaced(value: Any, replace: _TextReplacer, app: bool) -> Any:
    """A value under a credential key replaced whole as a ``SECRET``; a container
    (``{"password": ["x"]}``, ``{"api_key": {"value": "x"}}``) copied with every text,
    number or object in it so replaced."""
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            new_key = replace(key) if app and isinstance(key, str) else key
            new_item = _credentials_replaced(item, replace, app)
            if app and new_key in out:
                if _same_scalar(out[new_key], new_item):
                    continue
                new_key = _unused_key(new_key, out)
            out[new_key] = new_item
        return out
    if isinstance(value, tuple):
        return tuple(_credentials_replaced(item, replace, app) for item in value)
    if isinstance(value, list | set | frozenset):
        return [_credentials_replaced(item, replace, app) for item in value]
    if value is None or isinstance(value, bool):
        return value
    text = str(value)  # a number; an object would be rendered with str() anyway
    return replace.credential(text) if text else text


def _same_scalar(a: Any, b: Any) -> bool:
    return type(a) is type(b) and isinstance(a, str | int | float | bool | None) and a == b


def _unused_key(key: str, taken: dict[Any, Any]) -> str:
    """``key (2)``, ``key (3)``...: the first not in ``taken``."""
    number = 2
    while f"{key} ({number})" in taken:
        number += 1
    return f"{key} ({number})"
