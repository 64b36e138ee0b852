"""Anthropic request kwargs -> the prompt side of a record (model, params, system, messages).

Runs on the writer thread over the kwargs snapshot the wrapper took on the
caller's thread. Everything returned is plain JSON data: SDK sentinels are left
out, pydantic objects (content blocks an app passes back from an earlier
response) are dumped, inline base64 media becomes a media stub, the API's own
encrypted state passed back (redacted thinking, signatures, ``encrypted_*`` fields)
becomes an ``encrypted`` stub, and headers that could carry credentials never reach
the record.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
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

# Keys that form the prompt or have their own record field; everything else is a param.
_NOT_PARAMS: Final = frozenset({"messages", "system", "model", "stream", "requests"})
# Request options that may carry credentials: kept without them (``without_credentials``).
_TRANSPORT_OPTIONS: Final = frozenset({"extra_headers", "extra_query"})
_MAX_REPR: Final = 200
# Exact types that are already JSON: checked with one set lookup (the writer's hot path).
_JSON_SCALARS: Final = frozenset({str, int, float, bool, type(None)})
# Opaque fields of blocks an app passes back verbatim (by block type), beside every
# ``encrypted_*`` field (a search result's ``encrypted_content``, a citation's
# ``encrypted_index``, ``encrypted_stdout``): the API's encrypted state, unreadable and
# resent whole on every later turn.
_OPAQUE_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "redacted_thinking": ("data",),
    "thinking": ("signature",),
    "compaction": ("signature",),
}
_ENCRYPTED_PREFIX: Final = "encrypted_"


def plain(value: Any) -> Any:
    """A JSON-safe copy of ``value`` with inline base64 media replaced by stubs.

    Never mutates ``value``: the snapshot may share leaves with the app's data.
    """
    cls = type(value)
    if cls in _JSON_SCALARS:
        return value
    if cls is dict:
        return _plain_mapping(value)
    if cls is list or cls is tuple:
        return [plain(item) for item in value]
    return _plain_other(value)


def _plain_other(value: Any) -> Any:
    if isinstance(value, str | bool | int | float):  # subclasses, e.g. str enums
        return value
    if isinstance(value, Mapping):
        return _plain_mapping(value)
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    dump = getattr(value, "model_dump", None)
    if callable(dump) and not isinstance(value, type):
        return plain(dump(mode="json", exclude_unset=True))
    to_dict = getattr(value, "to_dict", None)  # the SDK's tool objects (@beta_tool functions)
    if callable(to_dict) and not isinstance(value, type):
        return plain(to_dict())
    if isinstance(value, type):
        return class_description(value, _sent_schema)
    if isinstance(value, bytes | bytearray):
        return media_stub("binary", None, bytes(value))
    text = safe_repr(value)
    return text if len(text) <= _MAX_REPR else text[:_MAX_REPR] + "..."


def _plain_mapping(block: Mapping[Any, Any]) -> Any:
    source = block.get("source")
    if source is not None and isinstance(source, Mapping) and source.get("type") == "base64":
        return _media_block_stub(block, source)
    fields: dict[str, Any] = {}
    for key, item in block.items():
        if type(item) not in _JSON_SCALARS and is_sentinel(item):
            continue
        name = key if type(key) is str else key_text(key)  # as the SDK sends it: null, true
        fields[unused_key(name, fields)] = plain(item)
    kind = fields.get("type")
    if type(kind) is str:  # a typed block: content, a search result, a citation
        _stub_opaque(fields, _OPAQUE_FIELDS.get(kind, ()))
    return fields


def _stub_opaque(fields: dict[str, Any], opaque: tuple[str, ...]) -> None:
    """Replace a block's encrypted text by stubs, in place (``fields`` is our copy): the
    app sends the blob itself, the record keeps its size and hash."""
    for name, value in fields.items():
        if type(value) is str and (name.startswith(_ENCRYPTED_PREFIX) or name in opaque):
            fields[name] = encrypted_stub(value)


def _media_block_stub(block: Mapping[Any, Any], source: Mapping[Any, Any]) -> dict[str, Any]:
    """The block with its base64 source replaced by the stub's fields; the rest (a
    document's ``title`` and ``context``, ``citations``, ``cache_control``) kept as sent."""
    kind = str(block.get("type") or "media")
    mime = source.get("media_type")
    data = source.get("data")
    if isinstance(data, str | bytes):
        stub = media_stub(kind, mime, data)
    else:  # a file object or path (the SDK reads it while sending): described, never read
        stub = media_stub(kind, mime, b"")
        stub["bytes"] = stub["sha256"] = None
        name = _file_name(data)
        if name:  # tells one file from another, as the OpenAI file stubs' name does
            stub["name"] = name
    rest = {
        str(key): plain(item)
        for key, item in block.items()
        if key not in ("source", "type") and not is_sentinel(item)
    }
    return rest | stub if rest else stub


def _file_name(data: Any) -> str | None:
    """The base name of a path, or of an open file's ``name``; None for neither."""
    name = data if isinstance(data, os.PathLike) else getattr(data, "name", None)
    try:
        return os.path.basename(os.fsdecode(name)) if name is not None else None
    except TypeError:  # a name that is no path (an int: a file opened from a descriptor)
        return None


def system_text(system: Any) -> str | None:
    """The system prompt as one text: a string as is, a list of text blocks joined by newlines."""
    if system is None or is_sentinel(system):
        return None
    if isinstance(system, str):
        return system
    if isinstance(system, list | tuple):
        texts = [_block_text(block) for block in system]
        return "\n".join(text for text in texts if text is not None)
    return _block_text(system)


def system_blocks(system: Any) -> list[Any] | None:
    """The system blocks as sent when one carries more than its text (``cache_control``,
    ``citations``), for ``params["system"]``: the joined text alone would lose where the
    prompt cache breakpoints were. None for a string or text-only blocks."""
    if not isinstance(system, list | tuple):
        return None
    blocks = [plain(block) for block in system]
    if all(isinstance(block, dict) and _text_only(block) for block in blocks):
        return None
    return blocks


def _text_only(block: dict[str, Any]) -> bool:
    return all(key in ("type", "text") or value is None for key, value in block.items())


def _block_text(block: Any) -> str | None:
    text = block.get("text") if isinstance(block, Mapping) else getattr(block, "text", None)
    return text if isinstance(text, str) else None


def messages_record(messages: Any) -> list[Any] | None:
    """The ``messages`` list as sent, as plain data (content strings and blocks kept)."""
    if messages is None or is_sentinel(messages):
        return None
    if isinstance(messages, list | tuple):
        return [plain(message) for message in messages]
    # An iterator the SDK consumed: the snapshot cannot hold its items.
    return None


def _sent_schema(cls: type) -> Any:
    """The schema the SDK sends for ``output_format=cls`` (its transformed form)."""
    import pydantic
    from anthropic.lib._parse._transform import transform_schema

    return transform_schema(pydantic.TypeAdapter(cls).json_schema())


def params_record(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Every request argument except the prompt and fields the record holds on its own."""
    params: dict[str, Any] = {}
    for name, value in kwargs.items():
        if name in _NOT_PARAMS or is_sentinel(value):  # an explicit None is sent as null
            continue
        if name in _TRANSPORT_OPTIONS:
            options = without_credentials(value, plain)
            if options:
                params[name] = options
            continue
        params[name] = plain(value)
    return params


def batch_request_summary(requests: Any) -> tuple[str | None, dict[str, Any]]:
    """(model, params) for ``batches.create``: the shared model and a count, never the prompts."""
    if not isinstance(requests, list | tuple):
        return None, {}
    models = {_batch_model(item) for item in requests}
    model = models.pop() if len(models) == 1 else None
    return (model if isinstance(model, str) else None), {"requests": len(requests)}


def _batch_model(item: Any) -> Any:
    params = item.get("params") if isinstance(item, Mapping) else getattr(item, "params", None)
    if isinstance(params, Mapping):
        return params.get("model")
    return getattr(params, "model", None)
