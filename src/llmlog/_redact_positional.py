"""Secrets known by where they stand, with no credential's name beside them, for the rules of
:mod:`llmlog._redact_secrets`: every value of a Kubernetes Secret's ``data`` and
``stringData`` (``username: YWRtaW4=``, ``DATABASE_URL: cG9zdGdyZXM6...``), the value of
``gh secret set NAME --body ...``, and an auth token passed after its account's SID
(``Client(account_sid, "<token>")``).

Each is gated on a hint the lowered text's other rules look for too (``secret``, ``sid``),
so a text without one pays a look-up, not a scan.
"""

from __future__ import annotations

import bisect
import re
from typing import Final

from llmlog._redact_secret_checks import Reader
from llmlog._redact_secret_tools import WORD_START, Gate

__all__ = ["POSITIONAL_RULES"]

# `kind: Secret` in YAML, `"kind": "Secret"` in JSON (or in JSON inside a JSON string)
_SECRET_KIND: Final = (
    r"(?:(?<=kind: )|(?<=kind:\t)|(?<=kind:  )|(?<=\"kind\": \")|(?<=\"kind\":\")"
    r"|(?<=\\\"kind\\\": \\\")|(?<=\\\"kind\\\":\\\"))(?-i:Secret)(?![A-Za-z0-9_\-])"
)
_SECRET_KIND_AT: Final = re.compile(_SECRET_KIND)
# A YAML document ends at `---`, a Markdown code block at its fence.
_DOCUMENT_END: Final = re.compile("\n(?:---|```)")
_YAML_DATA: Final = re.compile(r"(?m)^(?P<indent>[ \t]*)(?:data|stringData):[ \t]*(?:#.*)?\r?$")
_YAML_LINE: Final = re.compile(
    r"(?P<indent>[ \t]*)(?:(?P<key>[^\s:#][^:\r\n]{0,252}?):(?:[ \t]+(?P<value>[^\r\n]*?))?"
    r"|(?P<more>[^\r\n]*?))[ \t]*\r?$",
    re.MULTILINE,
)
_JSON_DATA: Final = re.compile(
    r"\\?\"(?:data|stringData)\\?\"[ \t\r\n]*:[ \t\r\n]*\{(?P<body>[^{}]{0,65536})\}"
)
_JSON_VALUE: Final = re.compile(r":[ \t\r\n]*\\?\"(?P<value>(?:[^\"\\]|\\[^\"]){1,65536}?)\\?\"")
# A template's or a variable's stand-in (`{{ .Values.pw | b64enc }}`, `${PW}`), a block's start
_NO_VALUE: Final = re.compile(r"[\"']?(?:\{\{|\$\{|[|>][+\-]?$|[\"']?$)")


def _layout(text: str) -> tuple[list[int], list[int]]:
    """Where ``text``'s documents end and where its ``kind: Secret`` stand, found once per
    text: a list of 2,000 Secrets (``kubectl get secrets -o yaml``) is one document with a
    ``kind`` per item, and searching it whole for each of them took ~45 s. (Kept for the last
    text only, tested with ``is``: a function of the text, whatever scan asks.)"""
    global _last
    if _last[0] is not text:
        ends = [found.start() for found in _DOCUMENT_END.finditer(text)]
        _last = (text, ends, [found.start() for found in _SECRET_KIND_AT.finditer(text)])
    return _last[1], _last[2]


_last: tuple[str, list[int], list[int]] = ("", [], [])


def _document(text: str, at: int) -> tuple[int, int]:
    """Where the YAML document (or the fenced block) holding ``at`` starts and ends."""
    ends = _layout(text)[0]
    after = bisect.bisect_left(ends, at)
    start = ends[after - 1] + 1 if after else 0
    return start, ends[after] if after < len(ends) else len(text)


def _first_kind(text: str, at: int, start: int) -> bool:
    """Whether the ``kind`` at ``at`` is the first of its document (which starts at
    ``start``): that one's search covers the whole document."""
    kinds = _layout(text)[1]
    before = bisect.bisect_left(kinds, at)
    return before == 0 or kinds[before - 1] < start


def _quotes_off(start: int, end: int, text: str) -> tuple[int, int]:
    if end - start >= 2 and text[start] == text[end - 1] and text[start] in "\"'":
        return start + 1, end - 1
    return start, end


def _yaml_block(text: str, data: re.Match[str], end: int) -> list[tuple[int, int]]:
    """The values of the keys under ``data:`` (deeper lines: a block value's, all of it)."""
    found: list[tuple[int, int]] = []
    outer = len(data["indent"])
    at = data.end() + 1
    while at < end:
        line = _YAML_LINE.match(text, at, end)
        if line is None:
            break
        at = line.end() + 1
        if not line[0].strip() or line[0].lstrip().startswith("#"):  # blank, or a comment
            continue
        if len(line["indent"]) <= outer:
            break
        name = "value" if line["key"] is not None else "more"
        if line[name] and _NO_VALUE.match(line[name]) is None:
            found.append(_quotes_off(*line.span(name), text))
    return found


def secret_manifest_values(text: str, match: re.Match[str]) -> list[tuple[int, int]]:
    """Every value of the ``data`` and ``stringData`` of the Kubernetes Secret whose
    ``kind`` is ``match``, in YAML (the keys before or after ``kind``) or in JSON; for the
    first ``kind`` of a document only (it covers them all)."""
    start, end = _document(text, match.start())
    if not _first_kind(text, match.start(), start):
        return []
    found: list[tuple[int, int]] = []
    for data in _YAML_DATA.finditer(text, start, end):
        found += _yaml_block(text, data, end)
    for data in _JSON_DATA.finditer(text, start, end):
        found += [v.span("value") for v in _JSON_VALUE.finditer(text, *data.span("body"))]
    return found


# `gh secret set NAME --body "value"` (`-b value`, `--body=value`), in a shell or a JSON
# string (a tool call's `{"command": "..."}`); not a variable (`--body "$TOKEN"`).
_GH_SECRET_SET: Final = (
    r"(?<![A-Za-z0-9_.\-])gh[ \t]secret[ \t]{1,16}set(?=[ \t])"
    r"(?:[^\r\n;&|]|\\\r?\n){1,512}?(?<=[ \t])(?:--body(?:[ \t]{1,16}|=)|-b[ \t]{0,16})"
    r"(?:'(?P<gh_body_sq>[^'\r\n]{1,1024})'"
    r"|\\\"(?P<gh_body_eq>(?![$`])(?:[^\"\\\r\n]|\\[^\"\r\n]){1,1024})\\\""
    r"|\"(?P<gh_body_dq>(?![$`])(?:[^\"\\\r\n]|\\[^\r\n]){1,1024})\""
    r"|(?P<gh_body>(?![$<*\[{(`'\"\-])[^\s;&|<>()`'\"\\]{1,1024}+))"
)

# An auth token after its account's SID, by position (`Client(account_sid, "<32 hex>")`,
# Twilio's): the SID a variable's name here (a literal `AC...`'s is a vendor's format).
_SID_THEN_TOKEN: Final = (
    r"(?:(?<=\()|(?<=\([ \t]))(?i:[A-Za-z0-9_]{0,64}sid)[ \t]{0,16},[ \t]{0,16}"
    r"\\?[\"'](?P<sid_token>[0-9a-fA-F]{32})\\?[\"']"
)

POSITIONAL_RULES: Final[tuple[tuple[re.Pattern[str], str | Reader, Gate], ...]] = (
    (_SECRET_KIND_AT, secret_manifest_values, (":", ("secret",), True, 0)),
    # (`gh` starts three characters before its "secret")
    (re.compile(_GH_SECRET_SET), "", ("-", ("secret",), True, 3)),
    (re.compile(_SID_THEN_TOKEN), "sid_token", ("\"'", ("sid",), True, WORD_START)),
)
"""The rules of this module: each finds a ``SECRET``."""
