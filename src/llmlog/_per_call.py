"""What a call's context asks of its own record, applied on the writer: its capture
(``llmlog.context(capture="metadata")``) and the process's context defaults
(``LLMLOG_TAGS``, ``LLMLOG_SESSION_ID``, ``LLMLOG_USER_ID``) under its own values.

The app's thread only notes the values (the context snapshot a call takes as it starts);
the work is done here, once per record, as ``LLMLOG_CAPTURE`` is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from llmlog._config import Settings
from llmlog._metadata_only import MetadataOnly
from llmlog._record import EVENT_CALL

Processor = Callable[[Any, str, Any], Any]

METADATA_ASKED: Final = "_llmlog_metadata_asked"
"""The record's private mark, from :class:`~llmlog._record_builder.CaptureToRecord` to
:class:`MetadataWhereAsked` (which takes it off before anything is written, after the prompt
hash and the cost are taken from the full record): the call asked for metadata only."""


class MetadataWhereAsked:
    """:class:`~llmlog.processors.MetadataOnly` for every record (``everywhere``:
    ``LLMLOG_CAPTURE=metadata``) or for those whose call asked for it; a call's
    ``capture="full"`` never widens the setting (the stricter wins)."""

    def __init__(self, everywhere: bool) -> None:
        self._everywhere = everywhere
        self._strip = MetadataOnly()

    def __call__(self, logger: Any, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        asked = event_dict.pop(METADATA_ASKED, False)
        if asked or self._everywhere:
            return self._strip(logger, method, event_dict)
        return event_dict


class ContextDefaults:
    """The process's context values (read once, with the settings) in each record whose
    call did not give its own: a call's session and user win, its tags merge over them."""

    def __init__(self, session_id: str, user_id: str, tags: Mapping[str, Any]) -> None:
        self._session_id = session_id or None
        self._user_id = user_id or None
        self._tags = dict(tags)

    def __call__(self, _logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        if event_dict.get("event") != EVENT_CALL:
            return event_dict
        if event_dict.get("session_id") is None:
            event_dict["session_id"] = self._session_id
        if event_dict.get("user_id") is None:
            event_dict["user_id"] = self._user_id
        if self._tags:
            own = event_dict.get("tags")
            event_dict["tags"] = {**self._tags, **own} if isinstance(own, Mapping) else self._tags
        return event_dict


def context_defaults(settings: Settings) -> list[Processor]:
    """The :class:`ContextDefaults` stage, if the settings give any default (else none:
    a process without them pays nothing per record)."""
    if not (settings.session_id or settings.user_id or settings.tags):
        return []
    return [ContextDefaults(settings.session_id, settings.user_id, settings.tags)]
