"""What the tools Anthropic's servers run add to an answer's ``output``.

Web search and fetch, code execution, MCP servers and the like run on Anthropic's side:
the app never sees them called, and their results (what a search found, the error it
hit, what the code printed) reach it only as content blocks of the answer. These
functions keep those results, and the code-execution container the call ran in, as
plain JSON: inline media as stubs, encrypted blobs as ``encrypted`` stubs.
"""

from __future__ import annotations

from typing import Any, Final

from llmlog._record import encrypted_stub
from llmlog.instrumentors._anthropic_request import plain

_TOOL_RESULT_SUFFIX: Final = "_tool_result"
"""Ends the type of every block that is a server-run tool's result (``web_search_tool_result``,
``code_execution_tool_result``, ``mcp_tool_result``, ...), tools added later included."""


def is_tool_result(kind: Any) -> bool:
    return isinstance(kind, str) and kind.endswith(_TOOL_RESULT_SUFFIX)


def tool_result(block: Any) -> dict[str, Any]:
    """``{tool_use_id, type, content}`` of a result block (+ ``is_error`` when the block
    has one, as MCP results do); ``tool_use_id`` matches the call in ``tool_calls``."""
    fields = plain(block)
    if not isinstance(fields, dict):
        fields = {}
    result = {
        "tool_use_id": fields.get("tool_use_id"),
        "type": fields.get("type"),
        "content": _without_encrypted(fields.get("content")),
    }
    is_error = fields.get("is_error")
    if isinstance(is_error, bool):
        result["is_error"] = is_error
    return result


def _without_encrypted(value: Any) -> Any:
    """Plain JSON with the text of every ``encrypted_*`` field stubbed (a search result's
    ``encrypted_content``, a citation's ``encrypted_index``, ``encrypted_stdout``): opaque
    to a reader, and large."""
    if isinstance(value, dict):
        return {
            key: encrypted_stub(item)
            if key.startswith("encrypted_") and isinstance(item, str)
            else _without_encrypted(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_without_encrypted(item) for item in value]
    return value


def add_server_tool_output(
    output: dict[str, Any], tool_results: list[dict[str, Any]], redacted_thinking: int
) -> None:
    """``output["tool_results"]``, and ``output["redacted_thinking"]``: how many thinking
    blocks the API sent encrypted (the model thought, though no text of it is readable).
    Each only when there is one, so plain calls' records stay as they were."""
    if tool_results:
        output["tool_results"] = tool_results
    if redacted_thinking:
        output["redacted_thinking"] = redacted_thinking


def container_record(container: Any) -> dict[str, Any] | None:
    """``{id, expires_at}`` of the code-execution container the call ran in (a later call
    reuses it by id), None without one."""
    fields = plain(container) if container is not None else None  # SDK datetimes -> ISO text
    if not isinstance(fields, dict):
        return None
    return {"id": fields.get("id"), "expires_at": fields.get("expires_at")}
