"""The dict keys of ``messages``, ``system`` and ``output`` that are the record's own: the
names of the fields the SDKs define for messages, content blocks, tool calls and output
items, and those llmlog adds (its output object, a media stub). Redaction searches every
other key there as text (``{"annotations": {"jane@example.org": "vip"}}``); these fixed
names hold nothing to find, and skipping them keeps an ordinary record's walk as cheap as
before. A field name missing here is only searched, never kept unredacted.
"""

from __future__ import annotations

from typing import Final

from llmlog._record import ERROR_FIELDS, OUTPUT_FIELDS

_MESSAGE_KEYS: Final = (
    "role content name type id text refusal audio function_call tool_calls tool_call_id "
    "function arguments image_url url detail input_audio data format file file_data file_id "
    "filename annotations url_citation start_index end_index title"
)
_RESPONSES_KEYS: Final = (
    "call_id output status summary encrypted_content logprobs logprob token top_logprobs "
    "bytes action query queries sources results server_label approval_request_id approve "
    "reason code message phase input_image_mask file_url container_id outputs error"
)
_ANTHROPIC_KEYS: Final = (
    "cache_control ttl source media_type tool_use_id is_error input thinking signature "
    "citations cited_text document_index document_title start_char_index end_char_index "
    "start_page_number end_page_number start_block_index end_block_index "
    "search_result_index context stdout stderr return_code encrypted_stdout retrieved_at "
    "page_age error_code caller"
)
_LLMLOG_KEYS: Final = (
    "mime sha256 index token_count batch_status stop_sequence compaction tool_results "
    "redacted_thinking refusal_category container expires_at"
)

SCHEMA_KEYS: Final = frozenset(
    " ".join((_MESSAGE_KEYS, _RESPONSES_KEYS, _ANTHROPIC_KEYS, _LLMLOG_KEYS)).split()
) | frozenset((*OUTPUT_FIELDS, *ERROR_FIELDS))
"""Keys of messages and output not searched (see the module's docstring)."""
