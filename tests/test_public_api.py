"""The public API is explicit: nothing leaks or vanishes by accident."""

from __future__ import annotations

from importlib import resources

import llmlog


class TestPublicAPI:
    def test_all_is_pinned_and_sorted(self) -> None:
        """`llmlog.__all__` is exactly the documented names, sorted."""
        assert llmlog.__all__ == [
            "__version__",
            "bind",
            "context",
            "flush",
            "instrument",
            "uninstrument",
        ]
        assert llmlog.__all__ == sorted(llmlog.__all__)
        for name in llmlog.__all__:
            assert getattr(llmlog, name) is not None

    def test_package_is_typed(self) -> None:
        """py.typed ships, so type checkers read our annotations."""
        assert resources.files("llmlog").joinpath("py.typed").is_file()

    def test_importing_llmlog_imports_no_sdk_and_no_presidio(self) -> None:
        """`import llmlog` stays light: no provider SDK, no presidio, no duckdb."""
        import subprocess
        import sys

        code = (
            "import sys, llmlog; "
            "heavy = [m for m in ('openai', 'anthropic', 'presidio_analyzer', 'spacy', 'duckdb') "
            "if m in sys.modules]; print(heavy)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        assert out.strip() == "[]"
