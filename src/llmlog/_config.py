"""Settings: the one table of ``LLMLOG_*`` variables, and reading them.

Every setting is a field of :class:`Settings`; its metadata holds the doc and
(where the values are a closed set) the allowed values. The environment
variable is ``LLMLOG_`` + the field name upper-cased; ``instrument()`` takes
the field name as a keyword. The launcher's flags and the README table are
generated from these fields, so nothing here may be declared twice.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

PREFIX = "LLMLOG_"
DEFAULT_OUTPUT = "./llm_logs/llmlog.jsonl"
MAX_RECORD_BYTES = 1024 * 1024
MIN_RECORD_BYTES = 4096  # room for a record's metadata (see llmlog._record_cap)
REDACT_LEVELS = ("off", "secrets", "pii", "ner")
REDACT_OPERATORS = ("tag", "numbered", "hash")
PROVIDERS = ("openai", "anthropic")
FREEZING_RUNTIMES = ("AWS_LAMBDA_FUNCTION_NAME", "FUNCTION_TARGET")
"""Variables set where a process is frozen as soon as its handler returns (AWS Lambda, Google
Cloud Functions): there ``sync_writes`` is on unless set."""
SIGTERM_MODES = ("flush", "default")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})
STREAMS = ("stdout", "stderr")
# ASCII only: int() and float() also take other scripts' digits ("٣") and underscores
# ("1_000"), which no other tool reading these variables would understand alike.
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_FLOAT_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# $NAME or ${...}: a shell would expand it, systemd's Environment= and many .env loaders do
# not, and the writer would create a folder literally named "$HOME".
_VARIABLE = re.compile(r"\$(?:[A-Za-z_]|\{)")


def _setting(
    default: Any,
    doc: str,
    choices: tuple[str, ...] = (),
    secret: bool = False,
    minimum: float = 0,
    maximum: float | None = None,
    label: str = "",
    zero_is_off: bool = False,
) -> Any:
    """A field of :class:`Settings`; numbers must lie in ``[minimum, maximum]`` and be finite.
    ``label``: what the values are, in the README and ``llmlog-run --help``, where the type
    does not say it. ``zero_is_off``: ``0`` (no limit) is allowed below ``minimum``."""
    metadata = {
        "doc": doc,
        "choices": choices,
        "secret": secret,
        "minimum": minimum,
        "maximum": maximum,
        "label": label,
        "zero_is_off": zero_is_off,
    }
    if isinstance(default, Mapping):  # dataclasses refuse mutable defaults
        return field(default_factory=lambda: MappingProxyType(dict(default)), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class Settings:
    """Resolved llmlog settings (keyword arguments win over the environment)."""

    enabled: bool = _setting(
        False,
        "Activate llmlog at interpreter start (the `.pth` hook); "
        "`instrument(enabled=False)` switches logging off.",
    )
    output: str = _setting(
        DEFAULT_OUTPUT,
        "Where records go: `stdout`, `stderr` (any case; `/dev/stdout` too), or a JSONL file "
        "path (not empty; `~` expanded; a directory, `logs/`, gets `llmlog.jsonl` in it).",
    )
    max_bytes: int = _setting(
        50 * 1024 * 1024, "Rotate the log file when it reaches this size (`0`: never rotate)."
    )
    backup_count: int = _setting(20, "Rotated files to keep (`0` keeps none).")
    retention_days: float = _setting(
        30.0,
        "Days a rotated file is kept after its last write; checked at start and hourly "
        "(`0`: no limit).",
    )
    capture: str = _setting(
        "full",
        "`full` logs prompts and outputs; `metadata` drops their text (also prompt text in "
        "params: `prompt.variables`, `prediction`, `suffix`, Anthropic system blocks' text, "
        "tool and schema descriptions and examples, an eval run's template; every choice's "
        "text; audio transcripts; cited text; what Anthropic's server-run tools returned; model "
        "output an error message quotes), keeps "
        "everything else (error messages, roles, tool names, citations' types, a schema "
        "property named `description`).",
        ("full", "metadata"),
    )
    max_field_chars: int = _setting(
        100_000,
        "Cut any single text longer than this, counted as the app sent it, before "
        "redaction (`truncated` gives each cut text's path and original length; `0`: no "
        "limit).",
    )
    max_record_bytes: int = _setting(
        MAX_RECORD_BYTES,
        "Longest line a record may take, in bytes (newline included). A longer record is "
        "shrunk after redaction: its longest texts (messages, tools, params, output) are cut "
        "first, then its biggest parts emptied; ids, model, usage, cost, latency, status, "
        "error and attempts are kept, and `truncated` gives `record_bytes` (its size before) "
        "and each cut path (`0`: no limit; else at least 4096).",
        minimum=MIN_RECORD_BYTES,
        zero_is_off=True,
    )
    service: str = _setting("", "Service name in `process.service` (default: the program name).")
    tags: Mapping[str, str] = _setting(
        MappingProxyType({}),
        "Tags every record gets, as comma-separated `key=value` pairs "
        "(`env=staging,team=search`; spaces around keys and values are dropped; a value "
        "holds no comma, and may hold `=`; each key once, neither part empty). Tags "
        "given to `llmlog.context()` / `bind()` are merged over them (a call's own value "
        "for a key wins).",
        label="key=value,...",
    )
    session_id: str = _setting(
        "", "`session_id` of every call not given one by `llmlog.context()` / `bind()`."
    )
    user_id: str = _setting(
        "", "`user_id` of every call not given one by `llmlog.context()` / `bind()`."
    )
    queue_size: int = _setting(
        10_000,
        "Records waiting for the writer before new ones are dropped (at least 1).",
        minimum=1,
    )
    queue_bytes: int = _setting(
        256 * 1024 * 1024,
        "Bytes of prompt and answer text the records waiting for the writer may hold before "
        "new ones are dropped and counted (measured only once the writer is behind; `0`: no "
        "limit; else at least 1 MiB). A queued record holds the whole request, images "
        "included: `LLMLOG_QUEUE_SIZE` alone would let 10,000 queued 1 MB prompts hold 10 GB.",
        minimum=1024 * 1024,
        zero_is_off=True,
    )
    disabled_providers: tuple[str, ...] = _setting(
        (), "Comma-separated providers not to instrument.", PROVIDERS
    )
    redact: str = _setting(
        "pii", "Redaction level: `off`, `secrets`, `pii` or `ner`.", REDACT_LEVELS
    )
    redact_operator: str = _setting(
        "tag",
        "`tag` (`<EMAIL_ADDRESS>`), `numbered` (`<EMAIL_ADDRESS_1>`) or `hash` (keyed).",
        REDACT_OPERATORS,
    )
    redact_key: str = _setting(
        "", "Secret (>= 16 bytes) keying `hash` redaction and `prompt_hash`.", secret=True
    )
    redact_patterns: Mapping[str, str] = _setting(
        MappingProxyType({}), 'Extra patterns as JSON, `{"ENTITY": "regex", ...}`.'
    )
    redact_deny: tuple[str, ...] = _setting((), "Comma-separated terms always redacted.")
    ner_model: str = _setting(
        "en_core_web_sm", "Installed spaCy model used by the `ner` level (never downloaded)."
    )
    flush_timeout: float = _setting(
        5.0, "Seconds (at most 3600) to drain pending records at exit.", maximum=3600
    )
    sync_writes: bool = _setting(
        False,
        "Each call returns to the app only once its record is written (at most the flush "
        "timeout). For serverless runtimes that freeze or end the process as soon as the "
        "handler returns (AWS Lambda, Cloud Functions, Cloud Run with CPU only during "
        "requests): the writer thread may not get its turn before. The call pays the "
        "writer's work (~0.1 ms; more for PII redaction at `pii`, ~1 s once while its "
        "worker starts), and in an async app its event loop waits with it. A writer that "
        "cannot write in the flush timeout (a hung disk) costs one call that wait, not "
        "each. On by default where `AWS_LAMBDA_FUNCTION_NAME` or `FUNCTION_TARGET` "
        "(Google Cloud Functions) is set.",
    )
    sigterm: str = _setting(
        "flush",
        "`flush`: on a SIGTERM the app does not handle itself (`docker stop`, Kubernetes), "
        "write pending records (for the flush timeout, at most 5 s), then die by the signal "
        "as usual; `default`: leave SIGTERM alone. Set up by `instrument()` in the main "
        "thread only; a main thread stuck in a long C call delays it. Not in a "
        "`multiprocessing` child (a `Pool` ends its workers with SIGTERM): there SIGTERM "
        "keeps its default, and each call waits for its record to be written.",
        SIGTERM_MODES,
    )
    strict: bool = _setting(
        False,
        "Exit the app (status 78) if activation fails instead of running unlogged (a bad "
        "setting, a log file that cannot be created or written); a value neither on nor off "
        "is refused and stops too.",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``LLMLOG_*`` from ``environ`` (default ``os.environ``); ``overrides`` win.

        An override of ``None`` counts as not given (``instrument(output=None)``: the
        variable, else the default). Raises ``ValueError`` naming the variable, the
        value and what is allowed.
        """
        env = os.environ if environ is None else environ
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise ValueError(
                f"unknown llmlog setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        values: dict[str, Any] = {}
        for name, f in known.items():
            var = env_name(name)
            if overrides.get(name) is not None:
                raw, where = overrides[name], f"keyword {name} (or {var} in the environment)"
            elif var in env:
                raw, where = env[var], var
            else:
                continue
            values[name] = _parse(f, raw, where)
        if "sync_writes" not in values and any(env.get(name) for name in FREEZING_RUNTIMES):
            values["sync_writes"] = True
        return cls(**values)


def absolute_output(output: str) -> str:
    """A file ``output`` made absolute against the current directory (streams unchanged).

    Resolved once, where logging starts (and by ``llmlog-run`` for the whole app), so
    that every process of the app -- whatever its working directory, and even after a
    ``chdir`` -- appends to the same file.
    """
    return output if output in STREAMS else os.path.abspath(output)


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """``LLMLOG_*`` names in ``environ`` that are no setting (a typo such as ``LLMLOG_OUPUT``
    would otherwise go unnoticed), each with the setting it may have meant."""
    known = [env_name(f.name) for f in dataclasses.fields(Settings)]
    found = []
    for name in sorted(n for n in environ if n.startswith(PREFIX) and n not in known):
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
        found.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return found


def env_name(field_name: str) -> str:
    """``max_bytes`` -> ``LLMLOG_MAX_BYTES``."""
    return PREFIX + field_name.upper()


def settings_table() -> Iterator[tuple[str, str, str, str]]:
    """(variable, type, default, doc) rows, in declaration order."""
    for f in dataclasses.fields(Settings):
        yield env_name(f.name), type_label(f), default_label(f), f.metadata["doc"]


def type_label(f: dataclasses.Field[Any]) -> str:
    choices = f.metadata["choices"]
    kind = _kind(f)
    if f.metadata["label"]:
        return str(f.metadata["label"])
    if choices:
        names = " / ".join(choices)
        return f"list of {names}" if kind == "tuple" else names
    return {"tuple": "list", "Mapping": "json", "float": "number"}.get(kind, kind)


def default_label(f: dataclasses.Field[Any]) -> str:
    value = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, Mapping):
        return json.dumps(dict(value)) if value else ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _kind(f: dataclasses.Field[Any]) -> str:
    text = str(f.type)
    return text.split("[", 1)[0]


def _parse(f: dataclasses.Field[Any], raw: Any, where: str) -> Any:
    kind, choices = _kind(f), f.metadata["choices"]
    shown = "<hidden>" if f.metadata["secret"] else repr(raw)

    def bad(expected: str) -> ValueError:
        return ValueError(f"{where}={shown} is not valid: expected {expected}")

    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise bad("one of 1, 0, true, false, yes, no, on, off")
    if kind in ("int", "float"):
        low, high = f.metadata["minimum"], f.metadata["maximum"]
        expected = _number_expected(kind, low, high)
        if f.metadata["zero_is_off"]:
            expected = f"0 (no limit) or {expected}"
        try:
            number = _number(kind, raw)
        except (TypeError, ValueError, OverflowError):
            raise bad(expected) from None
        # nan passes every comparison and inf any lower bound: both would lose records
        finite = kind == "int" or math.isfinite(number)
        if (
            isinstance(raw, bool)
            or not finite
            or (number < low and not (number == 0 and f.metadata["zero_is_off"]))
            or (high is not None and number > high)
        ):
            raise bad(expected)
        return number
    if kind == "tuple":
        if isinstance(raw, str):
            items = raw.split(",")
        elif isinstance(raw, Iterable):
            items = list(raw)
        else:  # instrument(disabled_providers=5)
            raise bad(f"a comma-separated list of {', '.join(choices)}" if choices else "a list")
        values = tuple(str(item).strip() for item in items if str(item).strip())
        if choices:  # like every choice: case and surrounding spaces do not matter
            values = tuple(item.lower() for item in values)
        for item in values:
            if choices and item not in choices:
                raise bad(f"a comma-separated list of {', '.join(choices)}")
        return values
    if f.name == "tags":
        return _tags(raw, bad)
    if kind == "Mapping":
        try:
            mapping = json.loads(raw) if isinstance(raw, str) else dict(raw)
        except (TypeError, ValueError):
            raise bad('a JSON object such as {"ENTITY": "regex"}') from None
        if not isinstance(mapping, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
        ):
            raise bad('a JSON object of strings such as {"ENTITY": "regex"}')
        for entity, regex in mapping.items():
            if not entity.strip():
                raise bad('a JSON object of non-empty names to regexes such as {"ENTITY": "regex"}')
            try:
                re.compile(regex)
            except re.error as exc:
                raise bad(f"valid regexes, but {entity!r} has {regex!r}: {exc}") from None
        return MappingProxyType(mapping)
    if f.name == "output" and isinstance(raw, os.PathLike):
        raw = os.fspath(raw)
    if not isinstance(raw, str):  # instrument(service=5): say so rather than store "5"
        raise bad("text")
    if f.metadata["secret"]:  # a key is used exactly as given: its bytes key the hashes
        return raw
    text = raw.strip()  # like every other setting: surrounding spaces do not matter
    if choices:  # like the booleans: case does not matter either
        text = text.lower()
        if text not in choices:
            raise bad(f"one of {', '.join(choices)}")
    if f.name == "output":
        if not text:  # an empty path would lose every record
            raise bad("stdout, stderr or a file path, not empty")
        if "\0" in text:  # no system call takes it: every record would be lost
            raise bad("stdout, stderr or a file path, without NUL characters")
        if _VARIABLE.search(text):
            raise bad(
                "stdout, stderr or a file path without $NAME or ${NAME}: variables are "
                "not expanded (~ is)"
            )
        return _output_path(text)
    if f.name == "ner_model" and not text:  # a template's empty value: the default model
        return str(f.default)
    return text


_TAGS_EXPECTED = "comma-separated key=value pairs such as env=staging,team=search"


def _tags(raw: Any, bad: Callable[[str], ValueError]) -> Mapping[str, Any]:
    """``LLMLOG_TAGS`` (``env=staging,team=search``) as the record's tags; the keyword
    also takes a mapping (as ``instrument()`` passes it on to child processes)."""
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            if not isinstance(key, str) or not key.strip():
                raise bad(f"{_TAGS_EXPECTED}, or a mapping of non-empty names to values")
            if not isinstance(value, (str, int, float)):  # bool is an int
                raise bad(f"{_TAGS_EXPECTED}, or a mapping of names to texts or numbers")
        return MappingProxyType({key.strip(): value for key, value in raw.items()})
    if not isinstance(raw, str):
        raise bad(_TAGS_EXPECTED)
    tags: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():  # a trailing comma, as in the list settings
            continue
        key, equals, value = (part.strip() for part in item.partition("="))
        if not equals:
            raise bad(f"{_TAGS_EXPECTED}; {item.strip()!r} has no '='")
        if not key or not value:
            raise bad(f"{_TAGS_EXPECTED}; {item.strip()!r} has an empty key or value")
        if key in tags:
            raise bad(f"{_TAGS_EXPECTED}; {key!r} is given twice")
        tags[key] = value
    return MappingProxyType(tags)


def _output_path(text: str) -> str:
    """What ``output`` names, spelled the one way the writer and the CLI both read it:
    a stream in any case (``STDOUT``, ``/dev/stdout``: a symlink the writer would refuse),
    ``~`` expanded, and a directory (``logs/``, or one that exists) holding the default
    file name."""
    stream = text.lower().removeprefix("/dev/")
    if stream in STREAMS:
        return stream
    path = os.path.expanduser(text)
    if path.endswith(("/", "\\", os.sep)) or os.path.isdir(path):  # as the CLI reads --log
        path = os.path.join(path, os.path.basename(DEFAULT_OUTPUT))
    return path


def _number(kind: str, raw: Any) -> float:
    """``raw`` as an int or float; text only in ASCII digits, ints only whole numbers."""
    if isinstance(raw, str):
        text = raw.strip()
        if not (_INT_TEXT if kind == "int" else _FLOAT_TEXT).fullmatch(text):
            raise ValueError(raw)  # "inf" and "nan" too: neither is a usable value here
        return int(text) if kind == "int" else float(text)
    if kind == "int" and isinstance(raw, float):  # max_bytes=1.5 is not silently 1
        if not raw.is_integer():
            raise ValueError(raw)
        return int(raw)
    if not isinstance(raw, (int, float)):
        raise TypeError(raw)
    return int(raw) if kind == "int" else float(raw)


def _number_expected(kind: str, low: float, high: float | None) -> str:
    """What a number setting must be, in words (for the error message)."""
    noun = "whole number" if kind == "int" else "number"
    if high is not None:
        return f"a {noun} from {low:g} to {high:g}"
    if low == 0:
        return f"a non-negative {noun}" if kind == "int" else f"a finite non-negative {noun}"
    return f"a {noun} of at least {low:g}"
