"""Redaction: secrets and PII removed from every free-text field before any sink.

Levels (``LLMLOG_REDACT``):

- ``off``: nothing is searched (llmlog says so once on stderr). Only the credential-named
  keys rule below still runs, on ``params`` alone: ``params`` never holds credentials.
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
  ``params`` and ``tags``, and the error ``message`` of each ``retried`` attempt, except
  the values of the record's own identifiers in ``messages``/``output`` when they are
  short texts or numbers (a message's ``role``, a block's ``type`` and ``id``, a tool
  call's ``tool_call_id``, a media stub's ``mime``/``sha256``...; a dict or a long text
  under such a key is searched). The dict keys of messages and output are searched too,
  but for the record's own names (``llmlog._redact_schema_keys``). A ``str`` or ``int``
  subclass (``StrEnum``, ``IntEnum``) is searched as the plain value it holds.
- App data is searched whole, its identifier-named keys included: ``params``,
  ``template``, ``tags`` and ``error`` (its body is the server's data, whose ``type``
  or ``id`` may echo a key), and inside messages and output a tool call's
  ``input``/``arguments`` and the ``parsed`` answer. There the dict keys are
  searched too (a tag is a key); keys that become equal once redacted are merged
  when their values are the same scalar, else the later get `` (2)``, `` (3)``.
- Long numbers in app data: an int, or a float that is a whole number (a pandas float64
  column's ``4155550132.0``), of 7 digits or more is searched as its digits.
- Credential-named keys: a non-empty string or a number under a key whose name, lower-cased
  with ``-`` and ``_`` removed, ends in a credential name the text rules know too
  (``llmlog._credential_names.CREDENTIAL_NAMES``: ``apikey``, ``accesskey``, ``secretkey``,
  ``privatekey``, ``subscriptionkey``, ``masterkey``, ``signingkey``, ``encryptionkey``,
  ``password``, ``passwd``, ``passphrase``, ``secret``, ``token`` (not ``tokens``, nor
  special tokens like ``eos_token``), ``authorization``, ``credential(s)``,
  ``cookie(s)``...) or their plurals but a token's (``apikeys``, ``passwords``; not
  ``max_tokens``), or whose last ``_``/``-`` part is ``pass`` (``SMTP_PASS``; not
  ``bypass``, nor ``pass`` alone), or that is ``pin``, ``cvv``, ``cvc``, ``otp`` or ``dsn``
  or ends in one after a ``_``/``-`` (``card_pin``, ``SENTRY_DSN``), is replaced whole as a
  ``SECRET``, whatever it looks like: a header, query parameter or tool argument named so
  holds a credential even when its format is unknown. A list, tuple, set or dict there has
  every string, number and object in it replaced so, at any depth. So is, in a dict under a
  key ending in ``headers`` (a request's, an MCP tool's), a header whose name holds
  ``auth``, ``key``, ``token``, ``secret``, ``cookie``, ``passw``, ``session``,
  ``signature`` or ``credential`` (``X-Auth``, ``Authentication``).
- Terminal escape sequences (``\\x1b[32m``, also JSON's ``\\u001b[32m``) are searched as
  spaces: a value right after one is at a word boundary.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any, Final

from llmlog import _guard
from llmlog._config import Settings
from llmlog._record import EVENT_DROPPED, TEXT_FIELDS
from llmlog._redact_custom import compile_patterns
from llmlog._redact_detect import (
    Detector,
    DetectorConfig,
    merge_spans,
    without_terminal_escapes,
)
from llmlog._redact_memo import SpanMemo
from llmlog._redact_operators import MIN_KEY_BYTES, operator_factory
from llmlog._redact_retried import RETRIED, retried_messages, with_messages
from llmlog._redact_secrets import Span
from llmlog._redact_walk import APP_DATA_FIELDS, TextReplacer, any_found, collect, rebuild
from llmlog._redact_worker import client
from llmlog._redact_worker_channel import NoTimeLeft, WorkerUnavailable

__all__ = ["FAILED_MARKER", "Redact", "add_recognizer", "remove_recognizer", "validate"]

FAILED_MARKER: Final = "<REDACTION_FAILED>"
"""What a field holds when redacting it failed: never its unredacted text."""

_app_recognizers: list[Any] = []
_app_recognizers_changes = 0  # what each Redact remembers was found under these recognizers


def add_recognizer(recognizer: Any) -> None:
    """Use one of your own presidio recognizers (e.g. a ``PatternRecognizer``) at every level
    but ``off``. It runs on the writer thread, for every :class:`Redact` in this process.

    What was found in a text is remembered, and adding or removing a recognizer forgets it
    all; after changing a recognizer in place (a longer deny list), remove and add it again.
    """
    global _app_recognizers_changes
    if not callable(getattr(recognizer, "analyze", None)) or not hasattr(
        recognizer, "supported_entities"
    ):
        raise TypeError(
            "add_recognizer takes a presidio recognizer (with analyze() and "
            f"supported_entities), not {type(recognizer).__name__}"
        )
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
            "redact_off",
            "LLMLOG_REDACT=off: prompts and outputs are logged unredacted "
            "(values under credential names in params are still replaced)",
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
        if event_dict.get("event") == EVENT_DROPPED:  # llmlog's count
            return event_dict
        if self.level == "off":
            return self._credentials_only(event_dict)
        # One walk collects every text; only the fields where something was found (or
        # that hold values rendered as text) are rebuilt. A record with nothing to
        # redact keeps its own field objects, the common case and the cheap one.
        fields: list[_Field] = []
        texts: list[str] = []
        any_converts = False
        for name, value in _searched_fields(event_dict):
            if value is not None:
                first, app = len(texts), name in APP_DATA_FIELDS
                converts = collect(value, app, texts)
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
            for field in fields:
                _put(out, field[0], FAILED_MARKER)
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
        replace = TextReplacer(found, self._new_replacer(), counts)
        for name, value, app, first, stop, converts in fields:
            if not converts and not any_found(texts, first, stop, found):
                continue
            try:
                _put(out, name, rebuild(value, replace, app))
            except Exception as exc:
                _put(out, name, FAILED_MARKER)
                _guard.report_internal_error(exc, f"redaction of {name}")
        out["redactions"] = dict(counts)
        return out

    def _credentials_only(self, event_dict: dict[str, Any]) -> dict[str, Any]:
        """``off``: ``params`` still never holds credentials (an MCP server's token, a tool's
        ``headers``), so values under credential names there are replaced; nothing is searched.
        A record with none (or nothing else the walk converts) is returned as it is."""
        params = event_dict.get("params")
        if not params:
            return event_dict
        counts: Counter[str] = Counter(event_dict.get("redactions") or {})
        try:
            if not collect(params, True, []):
                return event_dict
            cleaned = rebuild(params, TextReplacer({}, self._new_replacer(), counts), True)
        except Exception as exc:
            cleaned = FAILED_MARKER
            _guard.report_internal_error(exc, "redaction of params")
        return {**event_dict, "params": cleaned, "redactions": dict(counts)}

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


def _searched_fields(event_dict: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Each free-text field's name and value; of ``retried``, its error messages alone."""
    for name in TEXT_FIELDS:
        yield name, event_dict.get(name)
    yield RETRIED, retried_messages(event_dict.get(RETRIED))


def _put(out: dict[str, Any], name: str, value: Any) -> None:
    """Set a searched field, as redacted (or the failure marker), in the record ``out``."""
    if name == RETRIED:
        out[RETRIED] = with_messages(out[RETRIED], value)
    else:
        out[name] = value
