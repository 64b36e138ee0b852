"""The first processor: a finished :class:`~llmlog._record.Capture` becomes a record.

Generic fields (ids, times, status, error (see :mod:`._error_record`), context, process)
are filled here, the same for every provider; the provider's own ``extract`` supplies the
rest.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any, Final

from llmlog import _guard
from llmlog._config import Settings
from llmlog._error_record import completed_error, error_fields
from llmlog._per_call import METADATA_ASKED
from llmlog._record import (
    EVENT_CALL,
    FIELDS,
    SCHEMA_VERSION,
    STATUS_CANCELLED,
    STATUS_ERROR,
    Capture,
    is_cancellation,
    iso_utc,
    new_id,
)
from llmlog._version import __version__
from llmlog.processors import CYCLE, MAX_DEPTH, writable


def _status(cap: Capture) -> str:
    if cap.error is not None and cap.status != STATUS_CANCELLED:
        return STATUS_CANCELLED if is_cancellation(cap.error) else STATUS_ERROR
    return cap.status


_EXTRACTED: Final = frozenset(FIELDS) - {"event", "schema", "id", "ts", "process"}
"""What an extractor may fill; anything else it returns is left out."""


class CaptureToRecord:
    """First processor: a Capture becomes a schema-1 record, fields in order."""

    def __init__(self, settings: Settings) -> None:
        self.service = settings.service or _program_name()
        self.host = socket.gethostname()
        self._sdk_versions: dict[str, str | None] = {}

    def __call__(self, _logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        cap = event_dict.pop("_capture", None)
        if cap is None:  # llmlog's own line (llmlog.dropped): its name first, as in records
            return {"event": event_dict.pop("event", None), **event_dict}
        fields: dict[str, Any] = {}
        try:
            fields = cap.extract(cap)
        except RecursionError:  # the app's own data, not an llmlog bug
            fields = self._extract_cut(cap)
        except Exception as exc:
            _guard.report_internal_error(exc, f"{cap.provider} extraction")
        context = cap.context or {}
        record: dict[str, Any] = dict.fromkeys(FIELDS)
        record.update(
            event=EVENT_CALL,
            schema=SCHEMA_VERSION,
            id=new_id(cap.start_ns),
            ts=iso_utc(cap.start_ns),
            provider=cap.provider,
            operation=cap.operation,
            method=cap.method,
            latency_ms=cap.latency_ms,
            ttft_ms=cap.ttft_ms,
            stream=cap.stream,
            status=_status(cap),
            error=error_fields(cap.error) if cap.error is not None else None,
            session_id=context.get("session_id"),
            user_id=context.get("user_id"),
            template=_app_values(context.get("template")),
            tags=_app_values(context.get("tags")),
            redactions={},
            process=self._process(cap.provider),
        )
        if cap.trace_ids is not None:
            record["trace_id"], record["span_id"] = cap.trace_ids
        if context.get("capture") == "metadata":  # llmlog.context(capture="metadata")
            record[METADATA_ASKED] = True
        if fields.keys() <= _EXTRACTED:  # every extractor's fields (one set test, not ~30)
            record.update(fields)
        else:
            for key, value in fields.items():
                if key in _EXTRACTED:
                    record[key] = value
        if "error" in fields:  # an error object the answer or an event held
            record["error"] = completed_error(record["error"])
        return record

    @staticmethod
    def _extract_cut(cap: Capture) -> dict[str, Any]:
        """Arguments nested past Python's recursion limit (a tool schema hundreds of levels
        deep, a message that links to its own conversation): read again from a copy with
        the nesting cut as the record would cut it anyway, and each cycle closed by a
        marker (see :func:`~llmlog.processors.writable`)."""
        _guard.warn_once(
            "too_deep",
            f"a call's arguments were nested deeper than {MAX_DEPTH} levels or held "
            f"themselves; its record has them cut there, a cycle written as {CYCLE!r}",
        )
        cap.kwargs = writable(cap.kwargs)
        try:
            return cap.extract(cap)
        except Exception as exc:
            _guard.report_internal_error(exc, f"{cap.provider} extraction")
            return {}

    def _process(self, provider: str) -> dict[str, Any]:
        if provider not in self._sdk_versions:
            module = sys.modules.get(provider)
            self._sdk_versions[provider] = getattr(module, "__version__", None)
        return {
            "service": self.service,
            "pid": os.getpid(),
            "host": self.host,
            "sdk": {"name": provider, "version": self._sdk_versions[provider]},
            "llmlog": __version__,
        }


def _app_values(value: Any) -> Any:
    """Context values (tags, template variables; read as JSON data when the call started,
    see :func:`llmlog._context.snapshot`) made safe for every later walk: a value that
    holds itself becomes :data:`~llmlog.processors.CYCLE` here, also when no truncation
    pass would have copied it (``LLMLOG_MAX_FIELD_CHARS=0``)."""
    return writable(value) if value else value


def _program_name() -> str:
    """The script's name (``app.py`` -> ``app``); for ``python -m pkg`` the package's,
    not ``__main__``; ``python`` for ``-c`` and the interactive interpreter."""
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c", "-") else "python"
    name = os.path.basename(argv0)
    if name == "__main__.py":  # python -m pkg runs pkg/__main__.py
        name = os.path.basename(os.path.dirname(argv0)) or name
    return name[:-3] if name.endswith(".py") else name or "python"
