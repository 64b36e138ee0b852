"""Test helpers around the event texts a stream keeps (``llmlog.instrumentors._sse_tee``)."""

from __future__ import annotations

from typing import Any

import pytest

from llmlog.instrumentors import _stream
from llmlog.instrumentors._sse_tee import TeeDecoder


def spy_kept_texts(monkeypatch: pytest.MonkeyPatch) -> list[list[Any]]:
    """What each stream's tee hands to its record when the stream ends (spied, unchanged)."""
    kept: list[list[Any]] = []
    real = TeeDecoder.detach

    def spy(self: TeeDecoder) -> list[Any]:
        texts = real(self)
        kept.append(texts)
        return texts

    monkeypatch.setattr(TeeDecoder, "detach", spy)
    return kept


def keep_chunk_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    """Streams keep the SDK's chunk objects, as for a stream without a decoder."""
    monkeypatch.setattr(_stream, "tee", lambda stream, chunks, **_: None)
