"""How a credential's value is written beside its name, for the rules of
:mod:`llmlog._redact_secrets`: quoted (closed, or cut off by the end of a partial output),
in JSON escaped three or more times, after Ruby's and Perl's ``=>``, and the forms with no
``=`` or ``:`` between them (an XML element, a tab-separated line), which are a rule of
their own (:data:`PASSWORD_BESIDE_NAME`).

A value cut off is the start of a secret: a cancelled stream, or a tool call's arguments
stopped by ``max_tokens``, ends inside one (``{"password": "Tr0ub4do``). So each quoted
form here also takes a value that runs, unclosed, to the end of the text.
"""

from __future__ import annotations

from typing import Final

from llmlog._credential_names import name_regex

__all__ = [
    "BARE_CHARS",
    "LIKE_A_PASSWORD",
    "PASSWORD_BESIDE_NAME",
    "PASSWORD_BESIDE_NAME_HINTS",
    "closed_or_cut",
    "deeply_escaped",
    "hash_rocket",
    "quoted",
]

# The end of a text cut off inside a value; a `\` there began an escape the cut split.
_AT_CUT: Final = r"\\?\Z"
# A value cut off is at most this long: a longer run to the text's end after a quote is
# prose or code after a stray quote, no credential (and is read in bounded steps).
_LONGEST_CUT: Final = 1024


def closed_or_cut(group: str, char: str, least: int, close: str, most: int | None = None) -> str:
    """A value of ``least`` or more ``char``s (a regex of one character or escape) then
    ``close``, in group ``group``; or one of 1 to 1024 (or ``most``) that the text's end
    cuts off, in ``group + "cut"``. Possessive: no ``char`` can begin ``close``, so no
    shorter try could match."""
    bound = "" if most is None else str(most)
    cut_bound = min(most or _LONGEST_CUT, _LONGEST_CUT)
    return (
        rf"(?:(?P<{group}>{char}{{{least},{bound}}}+){close}"
        rf"|(?P<{group}cut>{char}{{1,{cut_bound}}}+){_AT_CUT})"
    )


_IN_DOUBLE: Final = r"(?:[^\"\\\n]|\\[^\n])"
_IN_SINGLE: Final = r"(?:[^'\\\n]|\\[^\n])"
_IN_ESCAPED: Final = r"(?:[^\"\\\n]|\\[^\"\n])"  # no `\"`: that closes it
_DOUBLE: Final = '"'
_SINGLE: Final = "'"
_ESCAPED: Final = r'\\"'


def quoted(name: str) -> str:
    """A quoted literal of 4 or more characters, in groups named ``<name>dq``, ``<name>sq``
    and ``<name>eq`` (``...cut`` if the text ends inside it). A value may hold escapes
    (``"Tr0ub\\"horse"`` in JSON tool arguments): all of it is taken."""
    double = closed_or_cut(name + "dq", _IN_DOUBLE, 4, _DOUBLE)
    single = closed_or_cut(name + "sq", _IN_SINGLE, 4, _SINGLE)
    # JSON inside a JSON string (a tool's result): `{\"password\": \"...\"}`
    escaped = closed_or_cut(name + "eq", _IN_ESCAPED, 4, _ESCAPED)
    return rf"\"{double}|'{single}|\\\"{escaped}"


def deeply_escaped(name: str) -> str:
    """After a name: ``\\\\\\": \\\\\\"value\\\\\\"``, JSON in JSON in a JSON string (or deeper:
    each level doubles the backslashes and adds one), in group ``<name>deep``
    (``...cut`` if the text ends inside it). Only a value without quotes is known so."""
    run = f"{name}esc"  # the backslashes before each quote, the same throughout
    return (
        rf"(?P<{run}>\\{{3,15}})\"[ \t]*:[ \t]*(?P={run})\""
        rf"(?:(?P<{name}deep>[^\"\n]{{4,1024}}?)(?<!\\)(?P={run})\""
        rf"|(?P<{name}deepcut>[^\"\n]{{0,1023}}[^\"\\\n])\\*\Z)"
    )


def hash_rocket(name: str) -> str:
    """After a name and the quote closing it: Ruby's, Perl's and PHP's ``=> 'value'``
    (``{ password => '...' }``, ``:password => "..."``, ``'password' => '...'``), quoted
    only (``=> $password`` and ``=> ENV['PW']`` are code), in the groups of :func:`quoted`."""
    return rf"=>[ \t]*(?:{quoted(name)})"


# A password's name in the forms below: every one holds "pass" (the rule's one hint).
_PASSWORD_WORD: Final = name_regex(("password", "passwd", "passphrase", "[_\\-]pass"), ())
# A bare value that looks like a password: 6 or more characters, a digit or a symbol in
# them (a schema's `password<TAB>varchar`, prose's `--password flag` hold none); not a
# variable, a placeholder, a mask, a path or the next option.
LIKE_A_PASSWORD: Final = r"(?![\-$<*\[{(`%~/])(?=[^\s]{0,255}?[0-9!@#$%^&*+=~])"
BARE_CHARS: Final = r"[^\s\"'`;|<>(){}\[\]]"

_XML_VALUE: Final = closed_or_cut("xml", r"[^\s<>]", 4, "(?=</)", 256)
_NOT_A_PLACEHOLDER: Final = r"(?![$%{*'\"`])"  # `${env.PW}`, `***`, `{{ pw }}`
_XML_ELEMENT: Final = (
    # `<password>hunter2horse</password>` (Maven's settings.xml), also with attributes
    # (`<password encrypted="false">`); not `<password/>`, `<password>${env.PW}</password>`,
    # `<password>***</password>`, nor a tag in prose (`<password> tags`, `'<password>'`)
    rf"(?<=<){_PASSWORD_WORD}(?:[ \t\r\n][^<>]{{0,256}}?)?>{_NOT_A_PLACEHOLDER}{_XML_VALUE}"
)
_XML_ATTRIBUTE_VALUE: Final = closed_or_cut("xmlattr", r"[^\"'<>\n]", 4, "[\"']", 256)
_XML_TEXT: Final = closed_or_cut("xmltext", r"[^\s<>]", 4, "(?=</)", 256)
_NAMED_BY_ATTRIBUTE: Final = (
    # the name is an attribute's value and the password the next attribute's (.NET's
    # `<add key="DbPassword" value="..."/>`, Spring's `<property name="password" value=...>`)
    # or the element's text (`<entry key="db.password">...</entry>`); not
    # `<label for="password">Password:</label>`, `<input type="password" value="">`
    rf"{_PASSWORD_WORD}[\"'](?:[ \t\r\n]+value[ \t]*=[ \t]*[\"']{_NOT_A_PLACEHOLDER}"
    rf"{LIKE_A_PASSWORD}{_XML_ATTRIBUTE_VALUE}"
    rf"|[^<>]{{0,256}}?>{_NOT_A_PLACEHOLDER}{LIKE_A_PASSWORD}{_XML_TEXT})"
)
_TAB_SEPARATED: Final = (
    # `password<TAB>hunter2horse`, a line of two columns (pasted from a table); not a
    # schema's `password<TAB>varchar(255)<TAB>NO`
    rf"(?<![^\n]){_PASSWORD_WORD}[ \t]*\t[ \t]*{LIKE_A_PASSWORD}"
    rf"(?P<tsv>{BARE_CHARS}{{6,256}}+)(?=[ \t]*(?:\r?\n|\Z))"
)
PASSWORD_BESIDE_NAME: Final = rf"(?i){_XML_ELEMENT}|{_NAMED_BY_ATTRIBUTE}|{_TAB_SEPARATED}"
"""A password's value beside its name with no ``=`` or ``:`` between: an XML element's (the
name its tag or an attribute's value) or a tab-separated line's (a command's ``--password``
flag's is in :mod:`llmlog._redact_secret_tools`). Each match starts where the name does."""
PASSWORD_BESIDE_NAME_HINTS: Final = ("pass",)
"""Every match of :data:`PASSWORD_BESIDE_NAME` holds one of these, lower-cased."""
