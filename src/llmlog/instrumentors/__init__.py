"""Instrumentors: one module per provider SDK, sharing ``_base`` and ``_stream``."""

from __future__ import annotations

import importlib
import importlib.util
import logging

from llmlog._config import PROVIDERS
from llmlog.instrumentors import _base, _logfire_frames

log = logging.getLogger("llmlog")


def install(disabled: tuple[str, ...] = ()) -> list[str]:
    """Patch every provider not in ``disabled`` whose SDK is installed (and unpatch those
    in it, disabled since an earlier call); their names."""
    installed = []
    _logfire_frames.watch()
    for name in PROVIDERS:
        if name in disabled:
            _base.uninstall(name)
            continue
        if importlib.util.find_spec(name) is None:
            continue
        if importlib.util.find_spec(f"llmlog.instrumentors.{name}") is None:
            continue  # a partial checkout; every release ships both
        module = importlib.import_module(f"llmlog.instrumentors.{name}")
        _base.install(module.PROVIDER)
        installed.append(name)
    if not installed:
        log.debug("llmlog: no provider SDK installed; nothing to patch yet")
    return installed


def uninstall() -> None:
    """Remove every patch llmlog made."""
    _base.uninstall_all()
