"""Re-scanning logged text for PII and secrets that are still there.

Uses llmlog's own redactor at the ``pii`` level (``secrets`` when presidio is
not installed), run in this process on a copy of each record: whatever it
would redact now is PII the log still holds, e.g. logs written with
``LLMLOG_REDACT=off`` or before a recognizer existed. Tags left by an earlier
redaction (``<EMAIL_ADDRESS>``) are not PII and are not found again.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

from llmlog._config import Settings

__all__ = ["PiiScanner"]


class PiiScanner:
    """Finds entity kinds in one record's free text; built once per command."""

    def __init__(self) -> None:
        level = "pii"
        if importlib.util.find_spec("presidio_analyzer") is None:
            level = "secrets"
            sys.stderr.write(
                "llmlog: warning: presidio-analyzer is not installed; "
                "checking for secrets only, not for PII\n"
            )
        from llmlog.redaction import Redact

        self.level = level
        self._redact = Redact(Settings(redact=level), in_process=True)

    def scan(self, record: dict[str, Any]) -> dict[str, int]:
        """``{ENTITY_TYPE: count}`` still present in ``record`` (empty when clean)."""
        fresh = dict(record, redactions={})
        found = self._redact(None, "scan", fresh).get("redactions") or {}
        return {kind: count for kind, count in found.items() if count}
