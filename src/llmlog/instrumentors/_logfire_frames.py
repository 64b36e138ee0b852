"""Logfire notes on each span the app's line that made the call, skipping frames in
site-packages: llmlog installed elsewhere (``pip install -e``, ``PYTHONPATH``, a layer of
its own) made every LLM span say the call came from llmlog's wrapper. Logfire is told
llmlog's frames are not the app's (its public ``add_non_user_code_prefix``), once
imported; llmlog itself never imports it."""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import ModuleType

import wrapt

_hooked = False


def watch() -> None:
    """Tell Logfire when (if ever) the app imports it."""
    global _hooked
    if not _hooked:
        _hooked = True
        wrapt.register_post_import_hook(_not_user_code, "logfire")


def _not_user_code(logfire: ModuleType) -> None:
    add = getattr(logfire, "add_non_user_code_prefix", None)
    if callable(add):
        with contextlib.suppress(Exception):
            add(Path(__file__).resolve().parent.parent)
