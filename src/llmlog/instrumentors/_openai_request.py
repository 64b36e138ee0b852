"""OpenAI request kwargs -> record fields: ``system``, ``messages``, ``params``, ``model``.

Pure functions run on the writer thread over the kwargs snapshot taken at
call time. Inline media (data URLs, base64 audio and files) never reaches the
record: it becomes a :func:`~llmlog._record.media_stub`. Secrets in headers
never reach it either.
"""

from __future__ import annotations

import datetime
import inspect
from collections.abc import Iterable, Mapping
from typing import Any, Final

from llmlog._jsonable import key_text, unused_key
from llmlog._record import (
    class_description,
    encrypted_stub,
    is_sentinel,
    media_stub,
    safe_repr,
    without_credentials,
)
from llmlog.instrumentors._sdk_field import field

# Request kwargs that hold the prompt (per operation); they go to system/messages, not params.
PROMPT_KEYS: Final[Mapping[str, frozenset[str]]] = {
    "chat.completions": frozenset({"messages"}),
    "responses": frozenset({"input", "instructions"}),
    "completions": frozenset({"prompt"}),
    "embeddings": frozenset({"input"}),
    "images": frozenset({"prompt", "image", "mask"}),
    "audio.transcriptions": frozenset({"file", "prompt"}),
    "audio.translations": frozenset({"file", "prompt"}),
    "audio.speech": frozenset({"input", "instructions"}),
    "moderations": frozenset({"input"}),
    "decisions": frozenset({"input"}),
    "responses.input_tokens": frozenset({"input", "instructions"}),
    "batches": frozenset(),
}
# Kwargs that have their own record field.
_OWN_FIELDS: Final = frozenset({"model", "stream"})
# Request options that may carry credentials: kept without them (``without_credentials``).
_TRANSPORT_OPTIONS: Final = frozenset({"extra_headers", "extra_query"})
_SYSTEM_ROLES: Final = frozenset({"system", "developer"})
# Fields whose string value is raw base64 (no data: prefix), and the media kind it holds.
_RAW_BASE64_FIELDS: Final = {"data": "audio", "file_data": "file"}
# Fields holding the server's own encrypted state, passed back as input (reasoning and
# compaction items, and beta ``encrypted_content`` items): unreadable, resent every turn.
_ENCRYPTED_FIELDS: Final = frozenset({"encrypted_content"})


def plain(value: Any) -> Any:
    """A JSON-ready copy of a request value; sentinels inside containers are dropped."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Mapping):
        return _plain_mapping(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value if not is_sentinel(v)]
    if isinstance(value, bytes | bytearray | memoryview):
        return media_stub("bytes", None, bytes(value))
    if inspect.isclass(value):
        return class_description(value, _strict_schema)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()  # as the SDK sends it
    try:
        dump = getattr(value, "model_dump", None)
        if callable(dump):
            return dump(mode="json", exclude_unset=True, warnings=False)  # as the SDK sends
    except Exception:  # an app object whose attributes raise
        pass
    return safe_repr(value)


def _plain_mapping(value: Mapping[Any, Any]) -> dict[str, Any]:
    """A mapping's plain copy, its keys as JSON spells them (``None`` -> ``null``, as the
    SDK sends them), two keys spelled alike both kept."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        if is_sentinel(item):
            continue
        name = key if isinstance(key, str) else key_text(key)
        out[unused_key(name, out)] = plain(item)
    return out


def _strict_schema(cls: type) -> Any:
    """The schema the SDK sends for a format class (strict: every field required, no
    additional properties), not pydantic's own."""
    import pydantic
    from openai.lib._pydantic import to_strict_json_schema

    is_model = issubclass(cls, pydantic.BaseModel)
    return to_strict_json_schema(cls if is_model else pydantic.TypeAdapter(cls))


def params(kwargs: Mapping[str, Any], operation: str) -> dict[str, Any]:
    """Every request argument except the prompt, the model and ``stream``."""
    skip = PROMPT_KEYS.get(operation, frozenset()) | _OWN_FIELDS
    out: dict[str, Any] = {}
    for name, value in kwargs.items():
        if name in skip or is_sentinel(value) or (value is None and name.startswith("extra_")):
            continue
        if name in _TRANSPORT_OPTIONS:
            options = without_credentials(value, plain)
            if options:
                out[name] = options
            continue
        out[name] = stub_data_urls(plain(value))
    return out


def stub_data_urls(value: Any) -> Any:
    """``value`` with every base64 data URL in it replaced by a stub (media can hide in
    params too, e.g. an image given as a prompt template's variable)."""
    if isinstance(value, str):
        return stub_media(value) if value.startswith("data:") else value
    if isinstance(value, dict):
        return {key: stub_data_urls(item) for key, item in value.items()}
    if isinstance(value, list):
        return [stub_data_urls(item) for item in value]
    return value


def model_requested(kwargs: Mapping[str, Any]) -> str | None:
    """The ``model`` argument (an Azure deployment name on Azure)."""
    model = kwargs.get("model")
    return model if isinstance(model, str) else None


def stub_media(value: Any, key: str = "") -> Any:
    """A JSON-ready copy of message content with inline media and encrypted state replaced
    by stubs."""
    if isinstance(value, str):
        if key in _ENCRYPTED_FIELDS:
            return encrypted_stub(value)
        if value.startswith("data:") and ";base64," in value[:200] and _one_token(value):
            header, _, payload = value.partition(",")
            mime = header[5:].split(";", 1)[0] or None
            kind = mime.split("/", 1)[0] if mime else "file"
            return media_stub(_media_kind(kind), mime, payload)
        if key in _RAW_BASE64_FIELDS and len(value) > 64:
            return media_stub(_RAW_BASE64_FIELDS[key], None, value)
        return value
    if isinstance(value, Mapping):
        stubbed = {str(k): stub_media(v, str(k)) for k, v in value.items() if not is_sentinel(v)}
        if key == "input_audio" and isinstance(stubbed.get("data"), dict):
            fmt = value.get("format")
            stubbed["data"]["mime"] = f"audio/{fmt}" if isinstance(fmt, str) else None
        elif value.get("type") == "image_generation_call" and isinstance(value.get("result"), str):
            # an earlier answer's image, passed back as input: raw base64
            stubbed["result"] = media_stub("image", None, value["result"])
        return stubbed
    if isinstance(value, list | tuple):
        return [stub_media(v, key) for v in value]
    if _is_file_like(value):
        return file_stub(value)
    if hasattr(value, "model_dump"):
        return stub_media(plain(value), key)
    return plain(value)


def _one_token(text: str) -> bool:
    """A data URL has no spaces (wrapped base64 has line breaks); text that starts with
    one and goes on (a user asking about it) is the user's words, kept."""
    return " " not in text


def _media_kind(major: str) -> str:
    return major if major in ("image", "audio", "video", "text") else "file"


def _is_file_like(value: Any) -> bool:
    return hasattr(value, "read") or type(value).__name__.endswith("Path")


def _is_upload_tuple(value: Any) -> bool:
    """``(name, content[, mime])`` (the kwargs snapshot turns the tuple into a list)."""
    return (
        isinstance(value, tuple | list)
        and 2 <= len(value) <= 4
        and (value[0] is None or isinstance(value[0], str))
        and (isinstance(value[1], bytes | bytearray | memoryview) or _is_file_like(value[1]))
    )


def file_stub(value: Any) -> dict[str, Any]:
    """An uploaded file (bytes, path, open file or ``(name, content, mime)`` tuple) as a stub.

    Open files are never read here (the app owns their position); bytes are
    hashed so identical uploads group.
    """
    name: Any = None
    mime: Any = None
    content = value
    if _is_upload_tuple(value):
        name = value[0]
        content = value[1] if len(value) > 1 else None
        mime = value[2] if len(value) > 2 else None
    if isinstance(content, bytes | bytearray | memoryview):
        stub = media_stub("file", mime if isinstance(mime, str) else None, bytes(content))
    else:
        stub = {"type": "file", "mime": mime if isinstance(mime, str) else None}
        name = name or getattr(content, "name", None) or (str(content) if content else None)
    stub["name"] = str(name) if name is not None else None
    return stub


def _system_text(message: Any) -> str | None:
    """The text of a system/developer message that is text and nothing else: a string, or
    text parts joined. None when it carries more (a name, an image or file part, a part's
    own settings): such a message stays in ``messages`` whole, so nothing sent is lost."""
    if not isinstance(message, Mapping) or not _only(message, _TEXT_MESSAGE_KEYS):
        return None
    content = message.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list | tuple) or not content:
        return None
    texts = []
    for part in content:
        if not isinstance(part, Mapping) or not _only(part, _TEXT_PART_KEYS):
            return None
        text = part.get("text")
        if not isinstance(text, str) or part.get("type") not in ("text", "input_text"):
            return None
        texts.append(text)
    return "\n".join(texts)


_TEXT_MESSAGE_KEYS: Final = frozenset({"role", "content", "type"})
_TEXT_PART_KEYS: Final = frozenset({"type", "text"})


def _only(mapping: Mapping[str, Any], keys: frozenset[str]) -> bool:
    """Whether ``mapping`` has no key outside ``keys`` (keys holding null do not count)."""
    return all(key in keys or value is None for key, value in mapping.items())


def _as_message(item: Any) -> Any:
    if isinstance(item, dict):
        return item
    if hasattr(item, "model_dump"):
        return plain(item)
    return item


def split_system(items: Iterable[Any]) -> tuple[list[str], list[Any]]:
    """Leading system/developer messages -> system texts; the rest stays in place.

    Only the leading ones move, so ``system`` + ``messages`` is still the
    conversation exactly as sent; a developer message later on stays where it was.
    """
    system: list[str] = []
    rest: list[Any] = []
    leading = True
    for raw in items:
        item = _as_message(raw)
        role = field(item, "role")
        if leading and role in _SYSTEM_ROLES:
            text = _system_text(item)
            if text is not None:
                system.append(text)
                continue
        leading = False
        rest.append(item)
    return system, rest


def normalize_message(item: Any) -> Any:
    """One chat message / Responses input item, JSON-ready, media stubbed."""
    message = _as_message(item)
    if isinstance(message, Mapping):
        return stub_media(message)
    return plain(message)


def chat_prompt(kwargs: Mapping[str, Any]) -> tuple[str | None, list[Any] | None]:
    """Chat Completions: (system, messages)."""
    messages = kwargs.get("messages")
    if not isinstance(messages, list | tuple):
        return None, None
    system, rest = split_system(messages)
    return _joined(system), [normalize_message(m) for m in rest]


def responses_prompt(kwargs: Mapping[str, Any]) -> tuple[str | None, list[Any] | None]:
    """Responses: (``instructions`` + leading system/developer items, input items)."""
    system: list[str] = []
    instructions = kwargs.get("instructions")
    if isinstance(instructions, str):
        system.append(instructions)
    items = kwargs.get("input")
    if isinstance(items, str):
        return _joined(system), [{"role": "user", "content": items}]
    if not isinstance(items, list | tuple):
        return _joined(system), None
    leading, rest = split_system(items)
    return _joined(system + leading), [normalize_message(m) for m in rest]


def live_session_fields(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``live.create``: the session's settings as model, system, messages and params; of
    the transport only its type (the SDP offer holds the caller's network addresses)."""
    session = kwargs.get("session")
    session = session if isinstance(session, Mapping) else {}
    system, messages = responses_prompt(session)
    transport = kwargs.get("transport")
    settings = {
        **{k: v for k, v in kwargs.items() if k not in ("session", "transport")},
        **{k: v for k, v in session.items() if k not in ("model", "instructions", "input")},
        "transport": {"type": transport.get("type") if isinstance(transport, Mapping) else None},
    }
    return {
        "model": model_requested(session),
        "params": params(settings, "live.create"),
        "system": system,
        "messages": messages,
    }


def texts_prompt(value: Any) -> list[Any] | None:
    """A ``prompt``/``input`` of text(s) or token arrays as user messages."""
    if value is None or is_sentinel(value):
        return None
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if isinstance(value, list | tuple):
        if value and all(isinstance(v, int) for v in value):
            return [{"role": "user", "content": {"tokens": len(value)}}]
        return [
            {"role": "user", "content": v if isinstance(v, str) else _token_or_part(v)}
            for v in value
        ]
    return [{"role": "user", "content": plain(value)}]


def _token_or_part(value: Any) -> Any:
    if isinstance(value, list | tuple) and all(isinstance(v, int) for v in value):
        return {"tokens": len(value)}
    return stub_media(value)


def media_prompt(kwargs: Mapping[str, Any], operation: str) -> list[Any] | None:
    """Images / audio: the text prompt and the uploaded files (as stubs) as one user message."""
    parts: list[Any] = []
    for name in ("prompt", "input"):
        text = kwargs.get(name)
        if isinstance(text, str) and name in PROMPT_KEYS.get(operation, ()):
            parts.append({"type": "text", "text": text})
    for name in ("file", "image", "mask"):
        upload = kwargs.get(name)
        if upload is None or is_sentinel(upload) or name not in PROMPT_KEYS.get(operation, ()):
            continue
        uploads = upload if isinstance(upload, list) and not _is_upload_tuple(upload) else [upload]
        parts.extend({"type": name, name: file_stub(u)} for u in uploads)
    if not parts:
        return None
    if len(parts) == 1 and parts[0].get("type") == "text":
        return [{"role": "user", "content": parts[0]["text"]}]
    return [{"role": "user", "content": parts}]


def _joined(texts: list[str]) -> str | None:
    return "\n\n".join(texts) if texts else None
