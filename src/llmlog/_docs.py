"""Generated documentation: the README's settings table comes from here.

``python -m llmlog._docs`` prints it; a test keeps the README equal to it.
"""

from __future__ import annotations

from llmlog._config import settings_table


def settings_markdown() -> str:
    """The settings table as Markdown, one row per ``LLMLOG_*`` variable."""
    rows = ["| variable | values | default | meaning |", "|---|---|---|---|"]
    for name, kind, default, doc in settings_table():
        shown = f"`{default}`" if default else "(empty)"
        rows.append(f"| `{name}` | {kind} | {shown} | {doc} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(settings_markdown(), end="")
