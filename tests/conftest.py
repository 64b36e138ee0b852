"""Shared test set-up: llmlog's own bugs fail the suite instead of being swallowed."""

from __future__ import annotations

import os

os.environ["LLMLOG_RAISE_INTERNAL_ERRORS"] = "1"
# Tests must never read settings from the developer's or CI's environment.
for _name in [n for n in os.environ if n.startswith("LLMLOG_") and n != "LLMLOG_RAISE_INTERNAL_ERRORS"]:
    del os.environ[_name]
