"""Shared test set-up: llmlog's own bugs fail the suite instead of being swallowed."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

os.environ["_LLMLOG_RAISE_INTERNAL_ERRORS"] = "1"
# Tests must never read settings from the developer's or CI's environment.
for _name in [n for n in os.environ if n.startswith("LLMLOG_")]:
    del os.environ[_name]
# Children started from another directory must import the llmlog under test, not the one
# a relative entry (PYTHONPATH=src) names there: every entry is made absolute, here.
# (An empty entry, "the current directory", keeps its meaning.)
if os.environ.get("PYTHONPATH"):
    os.environ["PYTHONPATH"] = os.pathsep.join(
        os.path.abspath(entry) if entry else entry
        for entry in os.environ["PYTHONPATH"].split(os.pathsep)
    )


@pytest.fixture
def toy() -> Iterator[object]:
    """Records of calls made through the toy SDK (``tests/support/toy_sdk.py``)."""
    from llmlog.instrumentors import _base
    from llmlog.testing import capture_records
    from support import toy_instrumentor

    with capture_records(redact="off") as cap:
        _base.install(toy_instrumentor.PROVIDER)
        yield cap
